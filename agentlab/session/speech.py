"""SpeechHandle: one agent utterance (a ``say`` or a whole LLM reply including its tool steps).

Example::

    handle = session.generate_reply(instructions="Greet the user.")
    await handle              # same as await handle.wait_for_playout()
    handle.interrupted, handle.num_steps, [i.type for i in handle.chat_items]
"""

from __future__ import annotations

import asyncio
import collections
import itertools
from collections.abc import AsyncIterator, Callable, Generator
from typing import TYPE_CHECKING, Any, Generic, TypeVar

if TYPE_CHECKING:
    from ..chat import ChatItem

__all__ = ["SpeechHandle"]

T = TypeVar("T")

#: Seconds after an interruption before a speech's remaining work is force-cancelled (LiveKit: 5 s).
INTERRUPT_WATCHDOG = 5.0

#: Creation order of handles (a run re-raises the error of the latest one that failed).
_order = itertools.count()


class SpeechHandle:
    """A handle on one scheduled agent speech.

    ``await handle`` waits until it has played out (all tool steps included). ``interrupt()`` stops
    it; ``interrupted`` tells whether that happened. ``num_steps`` counts LLM generations,
    ``chat_items`` the history items it produced.
    """

    SPEECH_PRIORITY_LOW = 0
    SPEECH_PRIORITY_NORMAL = 5
    SPEECH_PRIORITY_HIGH = 10

    def __init__(
        self, *, speech_id: str, allow_interruptions: bool, priority: int = SPEECH_PRIORITY_NORMAL, source: str = "generate_reply"
    ) -> None:
        self._id = speech_id
        self._allow_interruptions = allow_interruptions
        self._priority = priority
        self._source = source
        self._interrupted = False
        self._num_steps = 1
        self._chat_items: list[ChatItem] = []
        self._loop = asyncio.get_running_loop()
        self._done_fut: asyncio.Future[None] = self._loop.create_future()
        self._interrupt_fut: asyncio.Future[None] = self._loop.create_future()
        self._authorized: asyncio.Future[None] = self._loop.create_future()  # the scheduler let this step play
        # This step's generation is over (played, or given up): the scheduler may authorize the next
        # speech, even while this one's tools still run (LiveKit's _wait_for_generation).
        self._generation_done: asyncio.Future[None] = self._loop.create_future()
        self._queued: asyncio.Future[None] = self._loop.create_future()  # in the queue (a preemptive reply waits for it)
        self._step_played = asyncio.Event()
        self._in_tools = False  # between steps, its tools running (not the current speech for LiveKit)
        # Set while a tool of this speech waits for an AgentTask: a run counts it as settled.
        self._waiting_on_task = False
        self._task: asyncio.Task[Any] | None = None  # the reply or say task playing this speech
        self._watchdog: asyncio.TimerHandle | None = None
        self._playout: Any = None  # the step being played (pause/resume for false interruptions)
        self._pause_requested = False
        self._error: BaseException | None = None  # why the reply failed (LLM or llm_node), if it did
        self._seq = next(_order)

    @property
    def id(self) -> str:
        """``speech_1``, ``speech_2`` ... (deterministic per session)."""
        return self._id

    @property
    def source(self) -> str:
        """``"say"`` or ``"generate_reply"``."""
        return self._source

    @property
    def priority(self) -> int:
        """LOW 0, NORMAL 5, HIGH 10; higher speaks first, FIFO within a priority."""
        return self._priority

    @property
    def scheduled(self) -> bool:
        """True once the scheduler has queued it."""
        return self._queued.done()

    @property
    def interrupted(self) -> bool:
        """True once interrupted (by the user, ``interrupt()``, or the session closing)."""
        return self._interrupted

    @property
    def allow_interruptions(self) -> bool:
        """Whether user speech or ``interrupt()`` may stop it. Cannot become False once interrupted."""
        return self._allow_interruptions

    @allow_interruptions.setter
    def allow_interruptions(self, value: bool) -> None:
        if self._interrupted and not value:
            raise RuntimeError(f"{self._id}: cannot disallow interruptions, the speech was already interrupted")
        self._allow_interruptions = value

    @property
    def num_steps(self) -> int:
        """How many LLM generations this speech has run (1 + tool follow-ups)."""
        return self._num_steps

    @property
    def chat_items(self) -> list[ChatItem]:
        """Items this speech added to the history (assistant messages, calls, outputs)."""
        return list(self._chat_items)

    def done(self) -> bool:
        """True when it finished playing out or was interrupted and cleaned up."""
        return self._done_fut.done()

    def exception(self) -> BaseException | None:
        """Why the reply failed, once the speech is done: the LLM's final error (e.g.
        ``APIConnectionError: failed to generate LLM completion after 4 attempts``) or what an
        ``llm_node`` override raised; ``None`` if it did not fail. Before it is done, raises
        ``asyncio.InvalidStateError`` (as LiveKit). Awaiting the handle never raises.

        Example::

            handle = session.generate_reply(user_input="Hi")
            await handle
            if handle.exception() is not None:
                print("the reply failed:", handle.exception())
        """
        if not self.done():
            raise asyncio.InvalidStateError(f"{self._id} is not done yet; await it before asking for its exception()")
        return self._error

    def interrupt(self, *, force: bool = False) -> SpeechHandle:
        """Stop this speech. Raises ``RuntimeError`` if it does not allow interruptions (unless ``force``)."""
        if not force and not self._allow_interruptions:
            raise RuntimeError(f"{self._id} does not allow interruptions; pass force=True to stop it anyway")
        self._mark_interrupted()
        return self

    async def wait_for_playout(self) -> None:
        """Wait until the speech has played out, tool steps included."""
        task = asyncio.current_task()
        if getattr(task, "_agentlab_call", None) is not None and getattr(task, "_agentlab_speech", None) is self:
            raise RuntimeError(
                f"{self._id}: wait_for_playout() called from one of its own tools would wait forever; "
                "use RunContext.wait_for_playout() to wait for the current step"
            )
        await asyncio.shield(self._done_fut)

    def __await__(self) -> Generator[Any, None, SpeechHandle]:
        async def _wait() -> SpeechHandle:
            await self.wait_for_playout()
            return self

        return _wait().__await__()

    def add_done_callback(self, callback: Callable[[SpeechHandle], Any]) -> None:
        """Call ``callback(handle)`` when the speech is done."""
        self._done_fut.add_done_callback(lambda _: callback(self))

    def __repr__(self) -> str:
        state = "done" if self.done() else "active"
        flag = ", interrupted" if self._interrupted else ""
        return f"SpeechHandle({self._id!r}, {self._source}, steps={self._num_steps}, {state}{flag})"

    # --- used by the session ---

    def _mark_interrupted(self) -> None:
        if self.done():
            return
        self._interrupted = True
        if not self._interrupt_fut.done():
            self._interrupt_fut.set_result(None)
            # LiveKit's watchdog: whatever still runs 5 s after an interruption (a hung tool) is cancelled.
            self._watchdog = self._loop.call_later(INTERRUPT_WATCHDOG, self._force_cancel)

    def _set_error(self, error: BaseException) -> None:
        self._error = error

    def _force_cancel(self) -> None:
        if not self.done() and self._task is not None:
            self._task.cancel()

    def _mark_done(self) -> None:
        if self._watchdog is not None:
            self._watchdog.cancel()
        self._end_generation()
        # A finished task keeps its context, which holds the session: dropping it here lets a closed
        # session be freed by reference counting (a cyclic collection of a long run costs milliseconds).
        self._task = None
        if not self._done_fut.done():
            self._done_fut.set_result(None)

    def _end_generation(self) -> None:
        if not self._generation_done.done():
            self._generation_done.set_result(None)

    def _next_step(self) -> None:
        """A tool follow-up: the speech goes back in the queue and waits to be authorized again (LiveKit)."""
        self._authorized = self._loop.create_future()
        self._generation_done = self._loop.create_future()

    async def _wait_for_step_playout(self) -> None:
        await self._step_played.wait()

    async def _wait_if_not_interrupted(self, aw: asyncio.Future[Any] | asyncio.Task[Any]) -> bool:
        """Wait for ``aw`` unless the speech is interrupted first; True when ``aw`` finished.
        ``aw`` is left as it is either way (it may be shared)."""
        if not (aw.done() or self._interrupt_fut.done()):
            await _first_of(aw, self._interrupt_fut)
        return aw.done()


async def _first_of(*futures: asyncio.Future[Any]) -> None:
    """Wait until one of ``futures`` is done, without touching them (cheaper than ``asyncio.wait``
    or ``shield``, which a voice run needs a few times per turn)."""
    woken = asyncio.get_running_loop().create_future()

    def wake(_: Any) -> None:
        if not woken.done():
            woken.set_result(None)

    for f in futures:
        f.add_done_callback(wake)
    try:
        await woken
    finally:
        for f in futures:
            f.remove_done_callback(wake)


class _Channel(Generic[T]):
    """A queue with one reader, ended by ``None``: what a step's text, tool calls and audio frames
    pass through. It wakes its reader exactly as ``asyncio.Queue`` would (one future, one callback),
    with a fraction of the Python calls per item; a voice turn passes a few dozen items.
    """

    __slots__ = ("_items", "_listener", "_loop", "_waiter")

    def __init__(self) -> None:
        self._items: collections.deque[T | None] = collections.deque()
        self._loop = asyncio.get_running_loop()
        self._waiter: asyncio.Future[None] | None = None
        #: Takes each item as it is put instead of queueing it, while set (and while it returns True).
        self._listener: Callable[[T | None], bool] | None = None

    def __aiter__(self) -> AsyncIterator[T]:
        return self.items()

    def put_nowait(self, item: T | None) -> None:
        listener = self._listener
        if listener is not None and listener(item):
            return
        self._items.append(item)
        waiter = self._waiter
        if waiter is not None:
            self._waiter = None
            if not waiter.done():
                waiter.set_result(None)

    async def items(self) -> AsyncIterator[T]:
        """Every item up to the ending ``None``."""
        items = self._items
        while True:
            while not items:
                self._waiter = waiter = self._loop.create_future()
                await waiter
            item = items.popleft()
            if item is None:
                return
            yield item
