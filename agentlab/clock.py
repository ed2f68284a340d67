"""Real and virtual time.

Theory of operation
-------------------
Every session reads time from the event loop it runs on (``loop.time()``), never from the
``time`` module. Virtual time is therefore a property of the loop, not a global patch: a
:class:`VirtualClock` builds an asyncio loop whose ``time()`` is the clock's reading and whose
selector, instead of sleeping until the next timer, *jumps* the clock to it (the way trio's
``MockClock(autojump_threshold=0)`` and ``looptime`` do). A scripted ten-minute conversation is a
few thousand timers, so it simulates in milliseconds.

Determinism rests on three rules:

* the clock counts whole nanoseconds, so sums like ``0.1 + 0.2`` land on the same instant every run;
* timers due at the same instant fire in the order they were scheduled (FIFO tie-break);
* while a thread's work is awaited the caller holds the clock with :meth:`VirtualClock.hold`;
  time then stands still instead of racing past the pending work.

Real network I/O (a provider's HTTP call, when a real model is plugged in) is the one thing that
cannot be jumped over: its answer comes in real time, and jumping to the next timer would fire
the client's own timeout first. So while the loop watches any socket of its own beyond its
internal wake-up pipe, the selector lets time run at real speed (waits for real, then advances
the clock by the real time that passed). Such runs measure the provider's real latency and are
no longer deterministic; scripted runs never open sockets and stay instant.

:func:`sleep` is ``asyncio.sleep`` that, on a virtual clock, jumps the clock itself when the loop
would do nothing else before the deadline: scripted models sleep before every streamed word, and
this spares each sleep its timer and its trip through the loop without changing what runs when.

On the real clock nothing is special: the session simply runs on whatever loop is running,
including Jupyter's, so top-level ``await`` works.

Example::

    clock = VirtualClock()

    async def main():
        await asyncio.sleep(600)          # ten virtual minutes
        return asyncio.get_running_loop().time()

    assert clock.run(main) == 600.0       # returns at once
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import functools
import gc
import heapq
import itertools
import selectors
import time
import types
from collections.abc import Awaitable, Callable, Iterator
from typing import Any, Protocol, TypeVar

from ._utils import run_sync

__all__ = ["Clock", "RealClock", "VirtualClock", "VirtualClockDeadlock", "clock_for", "sleep"]

#: Cancelled timers the loop tolerates in its heap before purging (asyncio's own rule: 100, and half).
_MIN_CANCELLED_TO_PURGE = 100

#: The cyclic collector's first threshold while a virtual clock runs (Python's default: 700).
_SIMULATION_GC_THRESHOLD = 50_000

T = TypeVar("T")

#: Wall-clock stamp of virtual time 0 (2026-01-01T00:00:00Z), so virtual runs carry fixed stamps.
DEFAULT_VIRTUAL_EPOCH = 1_767_225_600.0


class Clock(Protocol):
    """What a session needs from time: a monotonic reading and its wall-clock equivalent."""

    def now(self) -> float:
        """Monotonic seconds (the loop's ``time()``)."""
        ...

    def wall_time(self, t: float) -> float:
        """The UNIX wall-clock stamp corresponding to monotonic reading ``t``."""
        ...

    def stopwatch(self, t0: float) -> Callable[[], float]:
        """A function returning the seconds from reading ``t0`` to now, rounded to the nanosecond (so
        sums compare exactly); a function rather than a method, as a session reads it dozens of times a turn."""
        ...

    @property
    def is_virtual(self) -> bool:
        """True for simulated time."""
        ...


class RealClock:
    """The real clock of a running loop: ``now()`` is ``loop.time()``; wall stamps from ``time.time()``.

    Example::

        clock = RealClock(asyncio.get_running_loop())
        stamp = clock.wall_time(clock.now())
    """

    is_virtual = False

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._mono0 = loop.time()
        self._wall0 = time.time()

    def now(self) -> float:
        return self._loop.time()

    def wall_time(self, t: float) -> float:
        return self._wall0 + (t - self._mono0)

    def stopwatch(self, t0: float) -> Callable[[], float]:
        time = self._loop.time
        return lambda: round(time() - t0, 9)

    def __repr__(self) -> str:
        return "RealClock()"


class VirtualClock:
    """Simulated time that jumps to the next deadline; pass it to code instead of patching ``time``.

    ``run(factory)`` runs ``factory()`` on a fresh loop driven by this clock and returns its
    result; it works from plain scripts and from inside Jupyter (where it uses a worker thread).

    Example::

        clock = VirtualClock()
        clock.run(lambda: asyncio.sleep(3600))   # an hour, instantly
        clock.now()                              # 3600.0
    """

    is_virtual = True

    def __init__(self, *, start: float = 0.0, epoch: float = DEFAULT_VIRTUAL_EPOCH, deadlock_timeout: float = 60.0) -> None:
        self._ns = round(start * 1e9)
        self._epoch = epoch
        self._holds = 0
        #: Real seconds to wait when nothing is scheduled before declaring the simulation stuck.
        self.deadlock_timeout = deadlock_timeout

    def now(self) -> float:
        return self._ns / 1e9

    def wall_time(self, t: float) -> float:
        return self._epoch + t

    def stopwatch(self, t0: float) -> Callable[[], float]:
        # Integer nanoseconds: the same value as rounding the float difference, without round(x, 9),
        # which formats the float to do it.
        t0_ns = round(t0 * 1e9)
        return lambda: (self._ns - t0_ns) / 1e9

    def advance(self, seconds: float) -> None:
        """Move time forward by ``seconds`` (rounded to the nanosecond)."""
        if seconds < 0:
            raise ValueError(f"VirtualClock.advance: seconds must be >= 0, got {seconds!r}")
        self._ns += round(seconds * 1e9)

    @contextlib.contextmanager
    def hold(self) -> Iterator[None]:
        """Freeze virtual time while real work (a thread, real I/O) is awaited.

        Without it the loop would jump over the pending work to the next timer, and results would
        depend on how fast the machine is.

        Only wait for *threads* (``asyncio.to_thread``) under a hold: virtual timers cannot fire
        while time stands still, so an ``asyncio.sleep`` or an async client's own timeouts and
        retry back-off inside a hold would never end.
        """
        self._holds += 1
        try:
            yield
        finally:
            self._holds -= 1

    def new_loop(self) -> asyncio.AbstractEventLoop:
        """A new asyncio loop that runs on this clock."""
        return _VirtualEventLoop(self)

    def run(self, factory: Callable[[], Awaitable[T]]) -> T:
        """Run ``factory()`` on a loop driven by this clock and return its result."""
        # A simulation allocates many short-lived objects (timer handles, events) and few cycles:
        # with the default threshold the cyclic collector ran every few hundred of them and cost a
        # quarter of a voice run (benchmarks/bench_voice_session.py). Collections are rarer meanwhile.
        threshold = gc.get_threshold()
        gc.set_threshold(max(threshold[0], _SIMULATION_GC_THRESHOLD), *threshold[1:])
        try:
            return run_sync(factory, loop_factory=self.new_loop)
        finally:
            gc.set_threshold(*threshold)

    def __repr__(self) -> str:
        return f"VirtualClock(now={self.now():.3f})"


def clock_for(loop: asyncio.AbstractEventLoop | None = None) -> Clock:
    """The clock a loop runs on: its :class:`VirtualClock`, or a :class:`RealClock` for any other loop."""
    loop = loop or asyncio.get_running_loop()
    clock = getattr(loop, "agentlab_clock", None)
    if clock is not None:
        return clock
    return RealClock(loop)


async def sleep(delay: float) -> None:
    """``asyncio.sleep(delay)``, and on a virtual clock without the round trip through the loop
    when nothing else could run before the sleep ends.

    A scripted model sleeps before each streamed word, so a spoken turn sleeps a dozen times; each
    ``asyncio.sleep`` is a future, a timer and two loop callbacks. On a virtual clock, when no
    callback is ready (after letting the ready ones run once) and no timer falls due up to the
    deadline, the loop would only jump to this timer and wake this task, with nothing running in
    between: the clock jumps here instead and the coroutine goes on. Otherwise the sleep waits on
    the timer it would have had, in the same place of the FIFO order, so what runs and in which
    order is exactly ``asyncio.sleep``'s.

    Example::

        await sleep(0.3)   # the time to first token of a scripted reply
    """
    loop = asyncio.get_running_loop()
    if type(loop) is not _VirtualEventLoop or loop._debug or delay <= 0:
        await asyncio.sleep(delay)
        return
    clock = loop.agentlab_clock
    when = clock._ns / 1e9 + delay  # as call_later computes it
    when_ns = round(when * 1e9)
    seq = next(loop._timer_seq)  # the timer's place in FIFO order, should it be needed
    if loop._ready:
        await _yield()  # the callbacks ready now run first; then see what they scheduled
    # Left to itself, would the loop's next step be to jump past the deadline? Not with a callback
    # ready, stopping, a hold, real I/O watched, or a timer due by then (a cancelled timer due
    # first counts: the sleep then waits on its own timer, exact too, and dropping cancelled
    # timers stays the loop's job).
    heap, jumper = loop._scheduled, loop._jumper
    busy = loop._ready or loop._stopping or clock._holds or jumper.registrations > jumper.own_registrations
    if not (busy or (heap and heap[0][0] <= when_ns)):
        clock._ns = when_ns
        if when > loop._time_floor:
            loop._time_floor = when
        return
    woken = loop.create_future()
    timer = loop._push_timer(when, seq, _wake, (woken,), None)
    try:
        await woken
    finally:
        timer.cancel()


def _wake(future: asyncio.Future[None]) -> None:
    if not future.done():  # a cancelled sleep leaves its future cancelled
        future.set_result(None)


@types.coroutine
def _yield() -> Iterator[None]:
    """Let the ready callbacks run (what ``asyncio.sleep(0)`` does)."""
    yield


class VirtualClockDeadlock(RuntimeError):
    """Raised when a simulation can never progress: no timer is due and nothing else can wake it."""


class _JumpingSelector(selectors.BaseSelector):
    """Wraps a real selector; where the loop would sleep until a timer, the clock jumps instead."""

    def __init__(self, clock: VirtualClock) -> None:
        self._clock = clock
        self._real = selectors.DefaultSelector()
        #: Registrations that are the loop's own (its wake-up pipe), set once the loop is built.
        self.own_registrations = 0
        #: Registrations made so far (counted here: asking the real selector's map costs a call per poll).
        self.registrations = 0

    def register(self, fileobj: Any, events: int, data: Any = None) -> selectors.SelectorKey:
        key = self._real.register(fileobj, events, data)
        self.registrations += 1
        return key

    def unregister(self, fileobj: Any) -> selectors.SelectorKey:
        key = self._real.unregister(fileobj)
        self.registrations -= 1
        return key

    def modify(self, fileobj: Any, events: int, data: Any = None) -> selectors.SelectorKey:
        return self._real.modify(fileobj, events, data)

    def get_map(self) -> Any:
        return self._real.get_map()

    def close(self) -> None:
        self._real.close()

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        if self._clock._holds:
            # Real work is pending: wait for it for real, with virtual time standing still.
            return self._real.select(timeout)
        if self.registrations > self.own_registrations:
            return self._select_real_io(timeout)
        # Only the loop's wake-up pipe is watched. Another thread's callback is already in the ready
        # queue when it writes there, so polling the pipe would find nothing to run: skip the call.
        if timeout == 0:
            return []
        if timeout is None:
            # Nothing is scheduled: only another thread can still wake us. If none does, every
            # coroutine is waiting on another one, and in virtual time that wait is forever.
            ready = self._real.select(self._clock.deadlock_timeout)
            if not ready:
                raise VirtualClockDeadlock(
                    f"VirtualClock: nothing was scheduled and nothing woke the loop for {self._clock.deadlock_timeout:g} s "
                    "of real time; every task is waiting for another (a deadlock)"
                )
            return ready
        self._clock.advance(timeout)
        return []

    def _select_real_io(self, timeout: float | None) -> list[tuple[selectors.SelectorKey, int]]:
        # Sockets are being watched: time runs at real speed until one is ready or a timer is due.
        limit = self._clock.deadlock_timeout if timeout is None else timeout
        t0 = time.monotonic()
        ready = self._real.select(limit)
        if ready:
            self._clock.advance(min(time.monotonic() - t0, limit))
            return ready
        if timeout is None:
            raise VirtualClockDeadlock(
                f"VirtualClock: a socket was watched but nothing arrived and nothing was scheduled for {limit:g} s of real time"
            )
        self._clock.advance(timeout)  # the timer is due: exactly on time, as when jumping
        return []


_new = object.__new__


class _Handle(asyncio.Handle):
    """A callback handle the loop fills in itself (``call_soon``), without ``asyncio.Handle``'s
    constructor and its debug checks: a voice turn makes dozens. Only used outside debug mode."""

    __slots__ = ()

    # Only debug mode writes these (and debug mode uses asyncio's own handles): class-level Nones
    # spare two stores per handle.
    _repr = None
    _source_traceback = None


class _TimerHandle(asyncio.TimerHandle):
    """``_Handle``'s twin for timers (filled in by ``_push_timer``)."""

    __slots__ = ()

    _repr = None
    _source_traceback = None

    def cancel(self) -> None:
        # The base class's two-step cancel (and its debug check), in one call: a voice turn
        # cancels a dozen timers (hold-offs, timeouts, every sleep's own timer once it fired).
        if not self._cancelled:
            self._cancelled = True
            self._callback = None
            self._args = None
            if self._scheduled:
                self._loop._timer_cancelled_count += 1


class _VirtualEventLoop(asyncio.SelectorEventLoop):
    """An asyncio loop whose time is a :class:`VirtualClock` and whose timers fire in FIFO order.

    Timers live in a heap of ``(when_ns, sequence, handle)`` tuples instead of asyncio's heap of
    handles: the tuples compare in C, where handles compared through a Python ``__lt__`` (the FIFO
    tie-break) on every heap step, and integer nanoseconds make "due" exact.

    ``_run_once`` runs the base loop's iterations (drop cancelled timers, poll, move due timers to
    the ready queue, run the callbacks that were ready, stop if asked) in one call until the loop
    is stopped, with the jump and each callback inlined: a simulation spends a third of its time
    in this machinery (benchmarks/bench_voice_session.py). The order of callbacks is exactly the
    base loop's. In asyncio debug mode the base methods run instead.
    """

    def __init__(self, clock: VirtualClock) -> None:
        self.agentlab_clock = clock
        self._timer_seq = itertools.count()
        #: The latest ``when`` of a timer that fired: ``time()`` never reads below it (see ``time``).
        self._time_floor = 0.0
        selector = _JumpingSelector(clock)
        super().__init__(selector)
        selector.own_registrations = selector.registrations
        self._jumper = selector
        # Every future and task asks its loop ``get_debug()`` when it is made (a dozen a turn): a C
        # partial answers without a Python frame. An instance attribute: asyncio's C code looks
        # the method up on the loop like any caller, and it reads ``_debug`` as it is at the time.
        self.get_debug = functools.partial(getattr, self, "_debug")  # type: ignore[method-assign]

    def time(self) -> float:
        # A timer fires at its whole nanosecond, which can read a hair below its float ``when``
        # (0.1 * 7 is 0.7000000000000001 s). Code that checks ``time() >= deadline`` when its timer
        # fires and re-arms it otherwise (anyio's cancel scopes, so httpx's timeouts) would then
        # re-arm at the same instant forever, and virtual time could never move on.
        t = self.agentlab_clock._ns / 1e9
        return t if t >= self._time_floor else self._time_floor

    def call_soon(self, callback: Callable[..., Any], *args: Any, context: Any = None) -> asyncio.Handle:
        if self._debug or self._closed:
            return super().call_soon(callback, *args, context=context)
        # _Handle.__init__'s work inline: a voice turn makes some forty of these, and the
        # constructor call (type call, then the __init__ frame) cost more than the stores.
        handle = _new(_Handle)
        handle._context = context if context is not None else contextvars.copy_context()
        handle._loop = self
        handle._callback = callback
        handle._args = args
        handle._cancelled = False
        self._ready.append(handle)
        return handle

    def call_later(self, delay: float, callback: Callable[..., Any], *args: Any, context: Any = None) -> asyncio.TimerHandle:
        if delay is None:
            raise TypeError("delay must not be None")
        return self._push_timer(self.agentlab_clock._ns / 1e9 + delay, next(self._timer_seq), callback, args, context)

    def call_at(self, when: float, callback: Callable[..., Any], *args: Any, context: Any = None) -> asyncio.TimerHandle:
        if when is None:
            raise TypeError("when cannot be None")
        return self._push_timer(when, next(self._timer_seq), callback, args, context)

    def _push_timer(self, when: float, seq: int, callback: Callable[..., Any], args: tuple[Any, ...], context: Any) -> asyncio.TimerHandle:
        if self._debug or self._closed:
            self._check_closed()
            timer = asyncio.TimerHandle(when, callback, args, self, context)
        else:
            # _Handle's fields, filled in here as call_soon does (a dozen timers a turn)
            timer = _new(_TimerHandle)
            timer._context = context if context is not None else contextvars.copy_context()
            timer._loop = self
            timer._callback = callback
            timer._args = args
            timer._cancelled = False
            timer._when = when
        heapq.heappush(self._scheduled, (round(when * 1e9), seq, timer))
        timer._scheduled = True
        return timer

    def _run_once(self) -> None:
        heap = self._scheduled
        ready = self._ready
        clock = self.agentlab_clock
        jumper = self._jumper
        popleft = ready.popleft
        heappop = heapq.heappop
        inline = not self._debug
        while True:
            if ready or self._stopping:
                if clock._holds or jumper.registrations > jumper.own_registrations:
                    self._process_events(jumper.select(0))
            else:
                # Nothing to run: drop cancelled timers (all of them when there are many: each reply
                # cancels its hold-off and timeouts), then jump to the next one, or poll real I/O.
                # With callbacks ready this waits; a cancelled timer that falls due is skipped anyway.
                cancelled = self._timer_cancelled_count
                if cancelled > _MIN_CANCELLED_TO_PURGE and cancelled * 2 > len(heap):
                    for entry in heap:
                        if entry[2]._cancelled:
                            entry[2]._scheduled = False
                    heap[:] = [entry for entry in heap if not entry[2]._cancelled]
                    heapq.heapify(heap)
                    self._timer_cancelled_count = 0
                else:
                    while heap and heap[0][2]._cancelled:
                        self._timer_cancelled_count -= 1
                        heappop(heap)[2]._scheduled = False
                if heap and not clock._holds and jumper.registrations <= jumper.own_registrations:
                    if heap[0][0] > clock._ns:
                        clock._ns = heap[0][0]  # the jump: exactly to the next timer
                else:
                    timeout = max(0, heap[0][0] - clock._ns) / 1e9 if heap else None
                    self._process_events(jumper.select(timeout))

            now = clock._ns
            while heap and heap[0][0] <= now:
                handle = heappop(heap)[2]
                handle._scheduled = False
                ready.append(handle)
                if handle._when > self._time_floor:
                    self._time_floor = handle._when

            # Only the callbacks ready now run; those they schedule wait for the next iteration.
            if inline:
                for _ in range(len(ready)):
                    handle = popleft()
                    if handle._cancelled:
                        continue
                    try:
                        handle._context.run(handle._callback, *handle._args)
                    except (SystemExit, KeyboardInterrupt):
                        raise
                    except BaseException as exc:
                        message = f"Exception in callback {handle._callback!r}"
                        self.call_exception_handler({"message": message, "exception": exc, "handle": handle})
            else:
                for _ in range(len(ready)):
                    handle = popleft()
                    if not handle._cancelled:
                        handle._run()
            handle = None  # breaks the cycle an exception's traceback would make
            if self._stopping:
                return
