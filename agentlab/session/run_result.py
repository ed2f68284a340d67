"""Testing helpers as in LiveKit: ``RunResult``, its ``expect`` assertions, ``mock_tools`` and ``judge``.

``result = await session.run(user_input=...)`` collects what that input caused (assistant
messages, function calls and outputs, handoffs, including replies from an agent handed off to) and
``result.expect`` walks through them.

Example::

    result = await session.run(user_input="A table for 2 at 19:00 please")
    result.expect.next_event().is_function_call(name="check_availability", arguments={"party_size": 2})
    result.expect.next_event().is_function_call_output()
    await result.expect.next_event().is_message(role="assistant").judge(llm, intent="offers the table")
    result.expect.no_more_events()
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Callable, Generator, Iterator
from typing import TYPE_CHECKING, Any, Literal, Union

from .._frozen import frozen
from .._utils import NOT_GIVEN
from ..chat import AgentHandoff, ChatContext, ChatItem, ChatMessage, FunctionCall, FunctionCallOutput
from ..tools import function_tool

if TYPE_CHECKING:
    from ..models.llm import LLM
    from .agent import Agent
    from .session import AgentSession
    from .speech import SpeechHandle

__all__ = [
    "AgentHandoffEvent",
    "ChatMessageEvent",
    "FunctionCallEvent",
    "FunctionCallOutputEvent",
    "RunAssert",
    "RunResult",
    "mock_tools",
]


@frozen
class ChatMessageEvent:
    """A message produced during the run."""

    item: ChatMessage
    type: Literal["message"] = "message"


@frozen
class FunctionCallEvent:
    """A tool call made during the run."""

    item: FunctionCall
    type: Literal["function_call"] = "function_call"


@frozen
class FunctionCallOutputEvent:
    """A tool output produced during the run."""

    item: FunctionCallOutput
    type: Literal["function_call_output"] = "function_call_output"


@frozen
class AgentHandoffEvent:
    """The active agent changed during the run."""

    item: AgentHandoff
    old_agent: Agent | None
    new_agent: Agent
    type: Literal["agent_handoff"] = "agent_handoff"


RunEvent = Union[ChatMessageEvent, FunctionCallEvent, FunctionCallOutputEvent, AgentHandoffEvent]


class RunResult:
    """What one ``session.run()`` produced; awaitable until everything it caused has settled.

    A run has settled when every speech it started has played out (a speech whose tool is waiting
    for an ``AgentTask`` counts as settled: it waits for the user's next input) and every handoff
    it caused has entered its new agent. If a reply of the run failed for good, awaiting it raises
    that reply's error, as LiveKit's does: ``APIConnectionError: failed to generate LLM completion
    after 4 attempts ...`` (the last attempt's error as ``__cause__``), a non-retryable provider
    error as it is, or the exception an ``llm_node`` override raised.
    """

    def __init__(self, *, session: AgentSession, user_input: str | None) -> None:
        self._session = session
        self._user_input = user_input
        self._events: list[RunEvent] = []
        self._done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._skipped_input = user_input is None
        self._expect: RunAssert | None = None
        #: Speeches started during the run: only their items are the run's events (as LiveKit's _watch_handle).
        self._speeches: set[Any] = set()
        self._final_output: Any = NOT_GIVEN  # an AgentTask's result, when one completes during the run

    @property
    def events(self) -> list[RunEvent]:
        """The run's events, in the order they were added to the history."""
        return list(self._events)

    @property
    def expect(self) -> RunAssert:
        """The run's assertion cursor (the same object each time, so ``next_event()`` advances)."""
        if self._expect is None:
            self._expect = RunAssert(self._events)
        return self._expect

    @property
    def final_output(self) -> Any:
        """The result of the ``AgentTask`` completed during the run (LiveKit's typed output).

        Raises ``RuntimeError`` before the run is done, or when no task completed in it (a plain
        reply has no final output, as in LiveKit; read its message from :attr:`events`).
        """
        if not self.done():
            raise RuntimeError("cannot retrieve final_output, RunResult is not done")
        if self._final_output is NOT_GIVEN:
            raise RuntimeError("no final output")
        return self._final_output

    def done(self) -> bool:
        """True once the run has settled."""
        return self._done.done()

    def __await__(self) -> Generator[Any, None, RunResult]:
        async def _wait() -> RunResult:
            self._recheck()
            await asyncio.shield(self._done)
            error = self._error()
            if error is not None:
                raise error
            return self

        return _wait().__await__()

    def _error(self) -> BaseException | None:
        """As LiveKit's run: the error of the latest of the run's speeches whose reply failed for
        good, raised as it is (the LLM's ``APIConnectionError`` with its ``__cause__``, or an
        ``llm_node``'s own exception). Its items stay in ``events`` and the session history."""
        failed = [h for h in self._speeches if getattr(h, "_error", None) is not None]
        return max(failed, key=lambda h: h._seq)._error if failed else None

    def __repr__(self) -> str:
        return f"RunResult(user_input={self._user_input!r}, events={len(self._events)}, done={self.done()})"

    # --- fed by the session ---

    def _record(self, item: ChatItem) -> None:
        if any(e.item is item for e in self._events):
            return
        if not self._skipped_input and isinstance(item, ChatMessage) and item.role == "user":
            self._skipped_input = True  # the input itself is not an event of its own run
            return
        if isinstance(item, ChatMessage):
            self._events.append(ChatMessageEvent(item))
        elif isinstance(item, FunctionCall):
            self._events.append(FunctionCallEvent(item))
        elif isinstance(item, FunctionCallOutput):
            self._events.append(FunctionCallOutputEvent(item))
        elif isinstance(item, AgentHandoff):
            activity = self._session._activity
            new_agent = activity.agent if activity is not None else None
            old = self._session._handoff_from
            self._events.append(AgentHandoffEvent(item, old_agent=old, new_agent=new_agent))  # type: ignore[arg-type]

    def _watch_task(self, task: asyncio.Task[Any]) -> None:
        self._tasks.add(task)
        task.add_done_callback(lambda _: self._recheck())

    def _recheck(self) -> None:
        if self._done.done():
            return
        if all(_settled(t) for t in self._tasks):
            self._mark_done()

    def _mark_done(self) -> None:
        if not self._done.done():
            self._done.set_result(None)


def _settled(task: asyncio.Task[Any]) -> bool:
    if task.done() or getattr(task, "_agentlab_waiting", False):
        return True
    speech = getattr(task, "_agentlab_speech", None)
    return speech is not None and speech._waiting_on_task


def set_waiting(session: AgentSession, task: asyncio.Task[Any] | None, speech: SpeechHandle | None, waiting: bool) -> None:
    """A speech (or task) starts or stops waiting for an ``AgentTask``: while it waits it counts as
    settled (runs and ``wait_for_idle`` do not wait for the user); once it resumes, what it says
    belongs to the run in progress."""
    if speech is not None:
        speech._waiting_on_task = waiting
    elif task is not None:
        task._agentlab_waiting = waiting  # type: ignore[attr-defined]
    session._settle_changed.set()
    run = session._run_result
    if run is not None:
        if not waiting:
            owner = speech._task if speech is not None else task
            if owner is not None:
                run._watch_task(owner)
            if speech is not None:
                run._speeches.add(speech)
        run._recheck()


# --- assertions ------------------------------------------------------------------------------


def _describe(e: RunEvent) -> str:
    item = e.item
    if isinstance(item, ChatMessage):
        return f"message(role={item.role!r}, text={item.text_content!r})"
    if isinstance(item, FunctionCall):
        return f"function_call(name={item.name!r}, arguments={item.arguments})"
    if isinstance(item, FunctionCallOutput):
        return f"function_call_output(name={item.name!r}, output={item.output!r}, is_error={item.is_error})"
    return f"agent_handoff({item.old_agent_id!r} -> {item.new_agent_id!r})"


def _fail(message: str, events: list[RunEvent], index: int | None) -> AssertionError:
    lines = [message, "Run events:"]
    for i, e in enumerate(events):
        marker = ">>" if i == index else "  "
        lines.append(f"{marker} [{i}] {_describe(e)}")
    if not events:
        lines.append("   (none)")
    return AssertionError("\n".join(lines))


class RunAssert:
    """A cursor over a run's events.

    Example::

        result.expect.next_event().is_message(role="assistant")
        result.expect.contains_function_call(name="book_table")
    """

    def __init__(self, events: list[RunEvent]) -> None:
        self._events = events
        self._cursor = 0

    def __getitem__(self, index: int | slice) -> Any:
        if isinstance(index, slice):
            return _RangeAssert(self._events, index)
        try:
            self._events[index]
        except IndexError:
            raise _fail(f"expect[{index}]: no event at that index", self._events, None) from None
        return EventAssert(self._events, index if index >= 0 else len(self._events) + index)

    def next_event(self, *, type: str | None = None) -> EventAssert:
        """The next event (of ``type``, skipping others, if given)."""
        while True:
            if self._cursor >= len(self._events):
                wanted = f" of type {type!r}" if type else ""
                raise _fail(f"next_event(): expected another event{wanted}, but the run has no more", self._events, None)
            i = self._cursor
            self._cursor += 1
            if type is None or self._events[i].type == type:
                return EventAssert(self._events, i)

    def skip_next(self, count: int = 1) -> RunAssert:
        """Skip ``count`` events."""
        for _ in range(count):
            self.next_event()
        return self

    def skip_next_event_if(
        self,
        *,
        type: str,
        role: str | None = None,
        name: str | None = None,
        arguments: dict[str, Any] | None = None,
        output: str | None = None,
        is_error: bool | None = None,
        new_agent_type: type | None = None,
    ) -> EventAssert | None:
        """Skip the next event if it matches (``arguments`` as a subset); returns it, or ``None``."""
        if self._cursor >= len(self._events):
            return None
        e = self._events[self._cursor]
        item = getattr(e, "item", None)
        if e.type != type:
            return None
        if role is not None and getattr(item, "role", None) != role:
            return None
        if name is not None and getattr(item, "name", None) != name:
            return None
        if arguments is not None:
            try:
                actual = json.loads(getattr(item, "arguments", "") or "{}")
            except ValueError:
                return None
            if any(k not in actual or actual[k] != v for k, v in arguments.items()):
                return None
        if output is not None and getattr(item, "output", None) != output:
            return None
        if is_error is not None and getattr(item, "is_error", None) != is_error:
            return None
        if new_agent_type is not None and not isinstance(getattr(e, "new_agent", None), new_agent_type):
            return None
        self._cursor += 1
        return EventAssert(self._events, self._cursor - 1)

    def no_more_events(self) -> None:
        """Assert that every event has been consumed."""
        if self._cursor < len(self._events):
            raise _fail(f"no_more_events(): {len(self._events) - self._cursor} event(s) left", self._events, self._cursor)

    def _find(self, check: Callable[[EventAssert], Any], what: str) -> Any:
        for i in range(len(self._events)):
            try:
                return check(EventAssert(self._events, i))
            except AssertionError:
                continue
        raise _fail(f"contains_{what}: no matching event", self._events, None)

    def contains_message(self, *, role: str | None = None) -> ChatMessageAssert:
        """Assert that some event is a message (with ``role``)."""
        return self._find(lambda e: e.is_message(role=role), f"message(role={role!r})")

    def contains_function_call(self, *, name: str | None = None, arguments: dict[str, Any] | None = None) -> FunctionCallAssert:
        """Assert that some event is a matching function call."""
        return self._find(lambda e: e.is_function_call(name=name, arguments=arguments), f"function_call(name={name!r})")

    def contains_function_call_output(self, *, output: str | None = None, is_error: bool | None = None) -> FunctionCallOutputAssert:
        """Assert that some event is a matching function output."""
        return self._find(lambda e: e.is_function_call_output(output=output, is_error=is_error), "function_call_output")

    def contains_agent_handoff(self, *, new_agent_type: type | None = None) -> AgentHandoffAssert:
        """Assert that some event is a handoff (to an agent of ``new_agent_type``)."""
        return self._find(lambda e: e.is_agent_handoff(new_agent_type=new_agent_type), "agent_handoff")


class _RangeAssert(RunAssert):
    """``expect[i:j]``: ``contains_*`` over a slice of the events."""

    def __init__(self, events: list[RunEvent], sl: slice) -> None:
        super().__init__(events[sl])


class EventAssert:
    """One event, to be checked with ``is_*``."""

    def __init__(self, events: list[RunEvent], index: int) -> None:
        self._events = events
        self._index = index

    def event(self) -> RunEvent:
        """The event itself."""
        return self._events[self._index]

    def _expect_type(self, kind: str) -> Any:
        e = self.event()
        if e.type != kind:
            raise _fail(f"event [{self._index}]: expected {kind}, got {_describe(e)}", self._events, self._index)
        return e

    def is_message(self, *, role: str | None = None) -> ChatMessageAssert:
        """Assert a message (with ``role``)."""
        e = self._expect_type("message")
        if role is not None and e.item.role != role:
            raise _fail(f"event [{self._index}]: expected a {role} message, got role {e.item.role!r}", self._events, self._index)
        return ChatMessageAssert(self._events, self._index)

    def is_function_call(self, *, name: str | None = None, arguments: dict[str, Any] | None = None) -> FunctionCallAssert:
        """Assert a function call; ``arguments`` must be a subset of the call's parsed arguments."""
        e = self._expect_type("function_call")
        if name is not None and e.item.name != name:
            raise _fail(f"event [{self._index}]: expected a call to {name!r}, got {e.item.name!r}", self._events, self._index)
        if arguments is not None:
            try:
                actual = json.loads(e.item.arguments or "{}")
            except ValueError:
                raise _fail(f"event [{self._index}]: arguments are not valid JSON", self._events, self._index) from None
            for key, value in arguments.items():
                if key not in actual or actual[key] != value:
                    raise _fail(
                        f"event [{self._index}]: argument {key!r} expected {value!r}, got {actual.get(key, '<missing>')!r}",
                        self._events,
                        self._index,
                    )
        return FunctionCallAssert(self._events, self._index)

    def is_function_call_output(self, *, output: str | None = None, is_error: bool | None = None) -> FunctionCallOutputAssert:
        """Assert a function output (with exact ``output`` text / ``is_error`` flag, if given)."""
        e = self._expect_type("function_call_output")
        if output is not None and e.item.output != output:
            raise _fail(f"event [{self._index}]: expected output {output!r}, got {e.item.output!r}", self._events, self._index)
        if is_error is not None and e.item.is_error != is_error:
            raise _fail(f"event [{self._index}]: expected is_error={is_error}, got {e.item.is_error}", self._events, self._index)
        return FunctionCallOutputAssert(self._events, self._index)

    def is_agent_handoff(self, *, new_agent_type: type | None = None) -> AgentHandoffAssert:
        """Assert a handoff (to an agent of ``new_agent_type``)."""
        e = self._expect_type("agent_handoff")
        if new_agent_type is not None and not isinstance(e.new_agent, new_agent_type):
            got = type(e.new_agent).__name__
            raise _fail(f"event [{self._index}]: expected a handoff to {new_agent_type.__name__}, got {got}", self._events, self._index)
        return AgentHandoffAssert(self._events, self._index)


class ChatMessageAssert(EventAssert):
    """A message event; ``judge`` asks an LLM whether it fits an intent."""

    async def judge(self, llm: LLM, *, intent: str) -> ChatMessageAssert:
        """Ask ``llm`` (forced to call ``check_intent``) whether the message satisfies ``intent``.

        Works with any LLM component; with :class:`~agentlab.ScriptedLLM`, add a rule that calls
        ``check_intent``. Raises ``AssertionError`` with the judge's reason on failure.
        """
        msg = self.event().item
        verdict: dict[str, Any] = {}

        @function_tool
        async def check_intent(success: bool, reason: str) -> None:
            """Report whether the message satisfies the intent.

            Args:
                success: True if the message satisfies the intent
                reason: one sentence explaining the verdict
            """

        ctx = ChatContext()
        ctx.add_message(
            role="system",
            content=(
                "You are a strict evaluator of a conversational agent. Decide whether the agent's message satisfies "
                "the intent. Answer only by calling check_intent."
            ),
        )
        ctx.add_message(role="user", content=f"Intent: {intent}\n\nAgent message: {msg.text_content or ''}")
        async for chunk in llm.chat(
            chat_ctx=ctx, tools=[check_intent], tool_choice={"type": "function", "function": {"name": "check_intent"}}
        ):
            if chunk.delta is None:
                continue
            for call in chunk.delta.tool_calls:
                if call.name == "check_intent":
                    with contextlib.suppress(ValueError):
                        verdict = json.loads(call.arguments or "{}")
        if "success" not in verdict:
            raise _fail(f"judge: the LLM gave no check_intent verdict for intent {intent!r}", self._events, self._index)
        success = check_intent.prepare_arguments(verdict)["success"]
        if not success:
            raise _fail(f"judge: message does not satisfy intent {intent!r}: {verdict.get('reason', '')}", self._events, self._index)
        return self


class FunctionCallAssert(EventAssert):
    """A function-call event."""


class FunctionCallOutputAssert(EventAssert):
    """A function-output event."""


class AgentHandoffAssert(EventAssert):
    """A handoff event."""


# --- mock_tools ------------------------------------------------------------------------------

_MOCKS: list[tuple[type, dict[str, Callable[..., Any]]]] = []


def mock_tools(agent_type: type, mocks: dict[str, Callable[..., Any]], *, session: AgentSession | None = None) -> Any:
    """Replace tools of agents of ``agent_type`` by the given functions.

    Without ``session``, a context manager: the mocks hold while the block runs. With ``session``,
    they hold on that session from now on (call again to replace them, ``{}`` to drop them); the
    block's mocks win over the session's, as in LiveKit. A mock receives the arguments it names (and
    the ``RunContext``, if the tool takes one).

    Example::

        with mock_tools(Host, {"check_availability": lambda party_size: "fully booked"}):
            result = await session.run(user_input="Table for 4?")
        mock_tools(Host, {"book_table": lambda: "booked"}, session=session)
    """
    if session is not None:
        session._mock_tools[agent_type] = dict(mocks)
        return None
    return _mock_block(agent_type, mocks)


@contextlib.contextmanager
def _mock_block(agent_type: type, mocks: dict[str, Callable[..., Any]]) -> Iterator[None]:
    entry = (agent_type, dict(mocks))
    _MOCKS.append(entry)
    try:
        yield
    finally:
        _MOCKS.remove(entry)


def _mock_for(agent: Agent, name: str) -> Callable[..., Any] | None:
    for klass, mocks in reversed(_MOCKS):
        if isinstance(agent, klass) and name in mocks:
            return mocks[name]
    session = agent._session
    for klass, mocks in session._mock_tools.items() if session is not None else ():
        if isinstance(agent, klass) and name in mocks:
            return mocks[name]
    return None
