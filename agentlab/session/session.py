"""AgentSession: LiveKit Agents 1.8's session, for text (and scripted audio) conversations.

Theory of operation
-------------------
A session runs one *activity* per active agent. An activity owns a priority queue of
:class:`SpeechHandle`s and a scheduling loop that lets exactly one speech be current at a time;
that is how "at most one agent speech is audible" holds by construction.

Each ``generate_reply`` starts a *reply task* at once (so the LLM runs while the speech waits in
the queue, as in LiveKit). The reply task runs *steps*; a step is one LLM generation:

1. stream the LLM through ``Agent.llm_node``; text goes to the output, tool calls to the executor;
2. once the scheduler authorizes the speech, the text is "played": forwarded as it streams (text
   output) or synthesized by ``Agent.tts_node`` and played out frame by frame on the clock;
3. tools run concurrently with playout; when the step ends its assistant message, calls and
   outputs are committed to the history and ``function_tools_executed`` is emitted;
4. if an output asks for a reply, the next step runs on the same handle with ``tool_choice``
   ``"auto"``, or ``"none"`` once ``num_steps >= max_tool_steps + 1`` (LiveKit 1.8.9, measured:
   ``max_tool_steps=N`` allows N+1 tool rounds, then one forced text reply).

Interruption cancels the step's LLM and playout, keeps only the text that was heard (with
``interrupted=True``), lets running tools finish and commits their results without a reply.

Agent state follows LiveKit: ``listening`` → ``thinking`` when a reply is authorized → ``speaking``
at the first text (text output) or first audio frame → ``listening`` at the end, or ``thinking``
while a tool follow-up is pending. Everything is timed with the loop's clock, so the same code
runs on the real clock and, under :class:`~agentlab.clock.VirtualClock`, deterministically.

Deviations from LiveKit (also in docs/livekit-compatibility.md):

* ``generate_reply(user_input=...)`` (and so ``run()``) calls ``Agent.on_user_turn_completed``, so
  text conversations exercise the same hook as voice turns; ``StopResponse`` skips the reply.
* per-call ``instructions`` are sent as a trailing system message rather than merged into the
  agent's system prompt; ``session.history`` holds the conversation, not the system prompt.
* a tool that raises emits an ``error`` event (source ``"tool"``) besides its error output.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import heapq
import inspect
import itertools
import json
import logging
import traceback
import types
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from .._secrets import scrub
from .._utils import NOT_GIVEN, IdFactory, current_ids, is_given
from ..chat import AgentHandoff, ChatContext, ChatItem, ChatMessage, FunctionCall, FunctionCallOutput, arguments_dict
from ..clock import Clock, clock_for
from ..engine import turns as eng
from ..engine.inputs import InputEvent, UserSpeech, speech_events
from ..models.llm import LLM, APIError, ChatChunk, retry_observer
from ..models.tts import TTS, AudioFrame
from ..tools import FunctionTool, RunContext, StopResponse, ToolArgumentsError, ToolError, output_to_text
from . import events as ev
from .agent import Agent, AgentTask, ModelSettings, _current_session
from .options import DEPRECATED_KWARGS, SessionOptions, build_options
from .speech import SpeechHandle
from .transforms import apply_text_transforms

__all__ = ["AgentSession"]

logger = logging.getLogger("agentlab.session")


class AgentSession:
    """The session: runs agents, schedules their speech, emits events, keeps the history.

    Accepts LiveKit 1.8's ``turn_handling={...}`` and the older flat keywords
    (``min_endpointing_delay=...``), plus VideoSDK's ``wake_up=seconds`` with ``on_wake_up``.

    Example::

        async with AgentSession(llm=ScriptedLLM(responses=["Hi!"])) as session:
            await session.start(Agent(instructions="Be kind."))
            result = await session.run(user_input="Hello")
            result.expect.next_event().is_message(role="assistant")
    """

    def __class_getitem__(cls, userdata_type: Any) -> Any:
        # ``AgentSession[MyData](userdata=MyData())`` as in LiveKit: the type is for checkers only
        return types.GenericAlias(cls, userdata_type)

    def __init__(
        self,
        *,
        llm: LLM | str | None = NOT_GIVEN,
        tts: TTS | None = NOT_GIVEN,
        stt: Any = NOT_GIVEN,
        vad: Any = NOT_GIVEN,
        turn_handling: dict[str, Any] | None = NOT_GIVEN,
        tools: list[FunctionTool] | None = None,
        max_tool_steps: int = 3,
        userdata: Any = NOT_GIVEN,
        user_away_timeout: float | None = 15.0,
        min_consecutive_speech_delay: float = 0.0,
        tts_text_transforms: list[Any] | None = NOT_GIVEN,
        aec_warmup_duration: float | None = 3.0,
        use_tts_aligned_transcript: bool = NOT_GIVEN,
        transcription_timeout: float | None = None,
        session_close_transcript_timeout: float = 2.0,
        max_unrecoverable_errors: int = 3,
        wake_up: float | None = None,
        on_wake_up: Callable[[], Any] | None = None,
        tool_timeout: float | None = None,
        **deprecated: Any,
    ) -> None:
        unknown = set(deprecated) - set(DEPRECATED_KWARGS)
        if unknown:
            raise TypeError(f"AgentSession: unknown argument(s) {sorted(unknown)}")
        self._options = build_options(
            turn_handling,
            max_tool_steps=max_tool_steps,
            user_away_timeout=user_away_timeout,
            min_consecutive_speech_delay=min_consecutive_speech_delay,
            tts_text_transforms=tts_text_transforms,
            aec_warmup_duration=aec_warmup_duration,
            use_tts_aligned_transcript=use_tts_aligned_transcript,
            transcription_timeout=transcription_timeout,
            session_close_transcript_timeout=session_close_transcript_timeout,
            max_unrecoverable_errors=max_unrecoverable_errors,
            wake_up=wake_up,
            tool_timeout=tool_timeout,
            **deprecated,
        )
        if isinstance(llm, str):
            from ..models.openai import llm_from_string

            llm = llm_from_string(llm)
        _check_components(llm=llm, tts=tts, vad=vad, tools=tools)
        self._llm: LLM | None = llm if is_given(llm) else None
        self._tts: TTS | None = tts if is_given(tts) else None
        self._stt = stt if is_given(stt) else None
        self._vad = vad if is_given(vad) else None
        self._tools = list(tools or [])
        self._userdata = userdata
        self.on_wake_up = on_wake_up

        self._handlers: dict[str, list[Callable[[Any], Any]]] = {}
        self._events: list[ev.AgentEvent] = []
        self._history = ChatContext()
        self._agent_state: ev.AgentState = "initializing"
        self._user_state: ev.UserState = "listening"
        self._activity: _AgentActivity | None = None
        self._run_result: Any = None  # RunResult while session.run() is in progress
        self._transitions: set[asyncio.Task[Any]] = set()
        self._ids = current_ids.get() or IdFactory()
        self._clock: Clock | None = None
        self._t0 = 0.0
        self._started = False
        self._closing = False
        self._closed: asyncio.Event | None = None
        self._away_timer: asyncio.TimerHandle | None = None
        self._wake_timer: asyncio.TimerHandle | None = None
        self._wake_fired = False
        self._error_streaks: dict[str, int] = {}  # unrecoverable LLM/TTS errors in a row, per source
        self._user_turn = _UserTurn()
        self._paused: list[_AgentActivity] = []  # callers of running AgentTasks, innermost last
        # Voice input (None for text-only sessions): the turn engine and what drives it.
        self._engine: eng.TurnEngine | None = None
        self._engine_timer: asyncio.TimerHandle | None = None
        self._engine_deadline: float | None = None
        self._user_silent: asyncio.Event | None = None
        self._preemptive: _Preemptive | None = None
        self._paused_speech: SpeechHandle | None = None
        self._paused_state: ev.AgentState = "listening"
        self._turn_seq = 0  # committed user turns; a reply made for an older one is cancelled
        self._turn_task: asyncio.Task[Any] | None = None
        self._skip_next_reply = False
        self._final_arrived: asyncio.Event | None = None
        self._engine_wiring: dict[str, bool] = {}
        self._playback: list[Played] = []
        #: Where the agent's words go as they are spoken (LiveKit's ``session.output``).
        self.output = SessionOutput()
        self._input_events: list[InputEvent] = []
        self._input_pending = 0  # observations attached and not yet played
        self._input_played: asyncio.Event | None = None  # set while none is pending
        self._user_speech: list[UserSpeech] = []
        self._switch_lock: asyncio.Lock | None = None

    # --- properties -----------------------------------------------------------------------

    @property
    def options(self) -> SessionOptions:
        """The resolved, validated options."""
        return self._options

    @property
    def history(self) -> ChatContext:
        """Every message, function call, output and handoff of the session, in order."""
        return self._history

    @property
    def agent_state(self) -> ev.AgentState:
        """``initializing``, ``listening``, ``thinking`` or ``speaking``."""
        return self._agent_state

    @property
    def user_state(self) -> ev.UserState:
        """``listening``, ``speaking`` or ``away``."""
        return self._user_state

    @property
    def current_agent(self) -> Agent:
        """The active agent; raises before ``start``."""
        if self._activity is None:
            raise RuntimeError("AgentSession: no agent is running; call await session.start(agent) first")
        return self._activity.agent

    @property
    def current_speech(self) -> SpeechHandle | None:
        """The speech being played (or about to be), if any."""
        return self._activity.current if self._activity else None

    @property
    def userdata(self) -> Any:
        """The ``userdata`` given to the constructor; raises if none was given (as LiveKit does)."""
        if not is_given(self._userdata):
            raise ValueError("AgentSession: userdata was not set; pass userdata= to the constructor")
        return self._userdata

    @userdata.setter
    def userdata(self, value: Any) -> None:
        self._userdata = value

    @property
    def llm(self) -> LLM | None:
        """The session's LLM component."""
        return self._llm

    @property
    def tts(self) -> TTS | None:
        """The session's TTS component (``None``: text output)."""
        return self._tts

    @property
    def tools(self) -> list[FunctionTool]:
        """Tools available to every agent of this session."""
        return list(self._tools)

    @property
    def events(self) -> list[ev.AgentEvent]:
        """Every event emitted so far, in order (the ``events_frame`` is built from this)."""
        return list(self._events)

    @property
    def clock(self) -> Clock | None:
        """The clock the session runs on (set by ``start``)."""
        return self._clock

    def now(self) -> float:
        """Seconds since ``start``, on the session's clock (virtual or real)."""
        if self._clock is None:
            return 0.0
        return round(self._clock.now() - self._t0, 9)

    # --- frames ---------------------------------------------------------------------------

    def history_frame(self) -> Any:
        """The history as a DataFrame (see :func:`agentlab.frames.history_frame` for columns)."""
        from ..frames import history_frame

        return history_frame(self._history)

    def events_frame(self) -> Any:
        """The events as a DataFrame (see :func:`agentlab.frames.events_frame` for columns)."""
        from ..frames import events_frame

        return events_frame(self._events)

    def metrics_frame(self) -> Any:
        """The metrics as a DataFrame (see :func:`agentlab.frames.metrics_frame` for columns)."""
        from ..frames import metrics_frame

        return metrics_frame(self._events)

    def report(self) -> Any:
        """A :class:`~agentlab.report.SessionReport`: options, components, history, events, metrics (no keys).

        Example::

            session.report().save("session.json")
        """
        from ..report import session_report

        return session_report(self)

    # --- events ---------------------------------------------------------------------------

    def on(self, event: str, callback: Callable[[Any], Any] | None = None) -> Any:
        """Register ``callback(ev)`` for ``event``; usable as a decorator. Callbacks must be sync."""
        if event not in ev.EVENT_TYPES:
            raise ValueError(f"AgentSession.on: unknown event {event!r}; expected one of {list(ev.EVENT_TYPES)}")

        def register(cb: Callable[[Any], Any]) -> Callable[[Any], Any]:
            if inspect.iscoroutinefunction(cb):
                raise ValueError(
                    f"AgentSession.on({event!r}): callbacks must be synchronous; start a task inside, e.g. asyncio.create_task(...)"
                )
            self._handlers.setdefault(event, []).append(cb)
            return cb

        return register(callback) if callback is not None else register

    def off(self, event: str, callback: Callable[[Any], Any]) -> None:
        """Remove a callback registered with :meth:`on`."""
        with contextlib.suppress(ValueError):
            self._handlers.get(event, []).remove(callback)

    def once(self, event: str, callback: Callable[[Any], Any] | None = None) -> Any:
        """Like :meth:`on`, but the callback runs only the first time."""

        def register(cb: Callable[[Any], Any]) -> Callable[[Any], Any]:
            def wrapper(e: Any) -> None:
                self.off(event, wrapper)
                cb(e)

            self.on(event, wrapper)
            return cb

        return register(callback) if callback is not None else register

    def _emit(self, event_cls: type, *, at: float | None = None, **fields: Any) -> Any:
        if self._closed is not None and self._closed.is_set():
            return None  # nothing follows ``close``
        now = self.now()
        t = now if at is None else at
        event = event_cls(created_at=t, emitted_at=now, wall_time=self._clock.wall_time(self._t0 + t) if self._clock else 0.0, **fields)
        self._events.append(event)
        for cb in list(self._handlers.get(event.type, [])):
            try:
                cb(event)
            except Exception as exc:
                _log_failure(f"error in {event.type} callback", exc)
        return event

    # --- lifecycle ------------------------------------------------------------------------

    async def start(self, agent: Agent, *, capture_run: bool = False, room: Any = None, room_options: Any = None) -> Any:
        """Start the session with ``agent``: emits its handoff item and runs ``on_enter``.

        With ``capture_run=True`` returns a :class:`RunResult` of what ``on_enter`` produced.
        ``room``/``room_options`` are accepted for LiveKit compatibility and must be ``None`` (no rooms here).
        """
        if room is not None or room_options is not None:
            raise NotImplementedError(
                "AgentSession.start: rooms are not supported in agentlab; drop room= (text and simulated audio run in-process)"
            )
        if self._started:
            raise RuntimeError("AgentSession.start: the session is already started")
        if self._options.wake_up is not None and self.on_wake_up is None:
            raise ValueError("AgentSession: wake_up is set but no on_wake_up callback; set session.on_wake_up = async_fn before start()")
        if not isinstance(agent, Agent):
            raise TypeError(f"AgentSession.start: expected an Agent, got {type(agent).__name__}")
        loop = asyncio.get_running_loop()
        self._clock = clock_for(loop)
        self._t0 = self._clock.now()
        # Ids made in this task and the session's tasks (items, calls, chunks) count per session.
        current_ids.set(self._ids)
        self._closed = asyncio.Event()
        self._settle_changed = asyncio.Event()
        self._switch_lock = asyncio.Lock()
        self._started = True
        _current_session.set(self)
        run = None
        if capture_run:
            from .run_result import RunResult

            run = self._run_result = RunResult(session=self, user_input=None)
        self._set_agent_state("listening")
        self._activate(agent, old=None)
        # on_enter runs in the background, as in LiveKit, but it begins before start() returns, so
        # a greeting it schedules is queued ahead of anything the caller does next.
        task = self._track(agent.on_enter())
        await asyncio.sleep(0)
        if run is not None:
            run._watch_task(task)
            await run
            self._run_result = None
            return run
        return None

    async def __aenter__(self) -> AgentSession:
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Interrupt any speech, run ``on_exit``, emit ``close`` (reason ``user_initiated``)."""
        await self._close(reason="user_initiated")

    def shutdown(self, *, drain: bool = True) -> None:
        """Schedule closing; with ``drain`` queued speech finishes first."""
        self._track(self._close(reason="user_initiated", drain=drain))

    async def drain(self) -> None:
        """Let queued speech finish, then stop accepting new speech (``on_exit`` runs)."""
        if self._activity is not None:
            await self._activity.drain()

    async def _close(self, *, reason: ev.CloseReason, error: BaseException | None = None, drain: bool = False) -> None:
        if not self._started or self._closed is None:
            return
        if self._closing:
            await self._closed.wait()
            return
        self._closing = True
        self._cancel_idle_timers()
        me = asyncio.current_task()
        own = getattr(me, "_agentlab_speech", None)  # set when a tool closes the session
        # The active agent first, then agents paused under it by AgentTasks.
        for activity in [a for a in (self._activity, *reversed(self._paused)) if a is not None]:
            if not (drain and activity is self._activity):
                activity.interrupt(force=True)
            await activity.drain()
            await activity.aclose()
        own_task = own._task if own is not None else None
        pending = [t for t in self._transitions if t is not me and t is not own_task and not t.done()]
        for t in pending:
            t.cancel()
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)
        self._emit(ev.CloseEvent, reason=reason, error=error)
        self._closed.set()
        if self._run_result is not None:
            self._run_result._mark_done()

    # --- speech ---------------------------------------------------------------------------

    def say(
        self,
        text: str,
        *,
        audio: Any = None,
        allow_interruptions: bool = NOT_GIVEN,
        add_to_chat_ctx: bool = True,
    ) -> SpeechHandle:
        """Speak ``text`` as is (no LLM). Returns its :class:`SpeechHandle`."""
        activity = self._require_activity("say")
        handle = activity.new_handle(allow_interruptions, source="say")
        self._track(activity.run_say(handle, text, add_to_chat_ctx=add_to_chat_ctx), speech=handle)
        return handle

    def generate_reply(
        self,
        *,
        user_input: str | None = None,
        instructions: str | None = None,
        tool_choice: Any = NOT_GIVEN,
        allow_interruptions: bool = NOT_GIVEN,
        chat_ctx: ChatContext | None = None,
        input_modality: str = "text",
    ) -> SpeechHandle:
        """Ask the LLM for a reply (optionally to new ``user_input``). Queues; does not interrupt.

        Inside a tool, ``tool_choice`` defaults to ``"none"`` (as in LiveKit).
        """
        activity = self._require_activity("generate_reply")
        if not is_given(tool_choice):
            tool_choice = "none" if _in_tool.get() else None
        user_message = None
        if user_input is not None:
            self._wake_fired = False
            user_message = ChatMessage(role="user", content=[user_input], id=self._ids("item"), created_at=self.now())
            if self._user_state == "away":
                self._set_user_state("listening")
        handle = activity.new_handle(allow_interruptions, source="generate_reply")
        self._track(
            activity.run_reply(handle, user_message=user_message, instructions=instructions, tool_choice=tool_choice, chat_ctx=chat_ctx),
            speech=handle,
        )
        return handle

    async def reply(self, instructions: str, *, wait_for_playback: bool = True) -> SpeechHandle:
        """VideoSDK's ``reply()``: generate a reply from ``instructions``; wait for playback by default."""
        handle = self.generate_reply(instructions=instructions)
        if wait_for_playback:
            await handle.wait_for_playout()
        return handle

    def interrupt(self, *, force: bool = False) -> asyncio.Future[None]:
        """Interrupt the current and queued speech; the returned future resolves when they are done.

        Raises ``RuntimeError`` if the current speech does not allow interruptions (unless ``force``).
        """
        activity = self._require_activity("interrupt")
        return activity.interrupt(force=force)

    def update_agent(self, agent: Agent) -> None:
        """Hand off to ``agent``: the current one drains (``on_exit``), then ``agent.on_enter`` runs."""
        self._require_activity("update_agent")
        self._track(self._switch_activity(agent))

    async def run(self, *, user_input: str, input_modality: str = "text", output_type: Any = None) -> Any:
        """Send ``user_input`` and wait for everything it causes; returns a :class:`RunResult`.

        Example::

            result = await session.run(user_input="Book a table for two at 7")
            result.expect.next_event().is_function_call(name="check_availability")
        """
        from .run_result import RunResult

        if output_type is not None:
            raise NotImplementedError("AgentSession.run: output_type (typed final output) is not supported yet; use result.final_output")
        if self._run_result is not None and not self._run_result.done():
            raise RuntimeError("AgentSession.run: a run is already in progress (nested runs are not supported)")
        result = RunResult(session=self, user_input=user_input)
        self._run_result = result
        try:
            self.generate_reply(user_input=user_input, input_modality=input_modality)
            await result
        finally:
            self._run_result = None
        return result

    async def wait_for_idle(self) -> None:
        """Wait until no speech is queued or playing and no handoff is in progress.

        A speech whose tool waits for an ``AgentTask`` counts as idle: it waits for the user.
        """
        from .run_result import _settled

        me = asyncio.current_task()
        while True:
            pending = [t for t in self._transitions if t is not me and not _settled(t)]
            if not pending:
                return
            self._settle_changed.clear()
            changed = asyncio.ensure_future(self._settle_changed.wait())
            await asyncio.wait([*pending, changed], return_when=asyncio.FIRST_COMPLETED)
            changed.cancel()
            await asyncio.sleep(0)

    # --- user turn (filled by the voice pipeline; usable directly) --------------------------

    def commit_user_turn(self, *, transcript_timeout: float = 2.0, skip_reply: bool = False) -> asyncio.Future[str]:
        """Commit the user's pending transcript as a turn now; resolves to the committed text.

        With voice input, as in LiveKit: if speech is still being transcribed (the user is talking,
        or an interim transcript has no final yet) it waits up to ``transcript_timeout`` for the
        final, then promotes the interim text; the commit still honours ``min_delay`` after the last
        speech. ``skip_reply`` records the user message without a reply. With nothing pending the
        future resolves to ``""`` and nothing is replied.
        """
        fut: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        if self._engine is not None:
            self._track(self._commit_voice_turn(fut, transcript_timeout, skip_reply))
            return fut
        text = self._user_turn.take()
        fut.set_result(text)
        if text and not skip_reply:
            self.generate_reply(user_input=text)
        elif text:
            msg = ChatMessage(role="user", content=[text], id=self._ids("item"), created_at=self.now())
            self._add_item(msg, self._require_activity("commit_user_turn").agent)
        return fut

    def clear_user_turn(self) -> None:
        """Drop the pending (uncommitted) user transcript."""
        self._user_turn.clear()
        if self._engine is not None:
            self._engine.clear_user_turn()

    # --- internals used by activities, runs and tasks ---------------------------------------

    def _require_activity(self, what: str) -> _AgentActivity:
        if self._activity is None:
            raise RuntimeError(f"AgentSession.{what}: the session is not started; call await session.start(agent) first")
        if self._closing:
            raise RuntimeError(f"AgentSession.{what}: the session is closing")
        return self._activity

    def _track(self, coro: Any, *, speech: SpeechHandle | None = None) -> asyncio.Task[Any]:
        token = _current_session.set(self)
        try:
            task = asyncio.get_running_loop().create_task(coro)
        finally:
            _current_session.reset(token)
        if speech is not None:
            task._agentlab_speech = speech  # type: ignore[attr-defined]
            speech._task = task
        self._transitions.add(task)
        task.add_done_callback(self._transitions.discard)
        task.add_done_callback(_log_task_error)
        if self._run_result is not None:
            self._run_result._watch_task(task)
            if speech is not None:
                self._run_result._speeches.add(speech)
        return task

    def _set_agent_state(self, state: ev.AgentState) -> None:
        if state == self._agent_state:
            return
        old, self._agent_state = self._agent_state, state
        if state == "speaking":
            self._error_streaks.clear()
        self._emit(ev.AgentStateChangedEvent, old_state=old, new_state=state)
        self._update_idle_timers()
        self._notify_engine()

    def _set_user_state(self, state: ev.UserState, *, at: float | None = None) -> None:
        if state == self._user_state:
            return
        if state == "speaking":
            self._wake_fired = False
        old, self._user_state = self._user_state, state
        self._emit(ev.UserStateChangedEvent, at=at, old_state=old, new_state=state)
        self._update_idle_timers()

    def _update_idle_timers(self) -> None:
        """Arm the away and wake-up timers while user and agent are both listening; cancel otherwise."""
        loop = asyncio.get_running_loop()
        idle = self._agent_state == "listening" and self._user_state == "listening" and not self._closing
        if not idle:
            self._cancel_idle_timers()
            return
        timeout = self._options.user_away_timeout
        if timeout is not None and self._away_timer is None:
            self._away_timer = loop.call_later(timeout, self._on_away)
        if self._options.wake_up is not None and self._wake_timer is None and not self._wake_fired:
            self._wake_timer = loop.call_later(self._options.wake_up, self._on_wake_up)

    def _cancel_idle_timers(self) -> None:
        for name in ("_away_timer", "_wake_timer"):
            timer = getattr(self, name)
            if timer is not None:
                timer.cancel()
                setattr(self, name, None)

    def _on_away(self) -> None:
        self._away_timer = None
        self._set_user_state("away")

    def _on_wake_up(self) -> None:
        # Once per period of user inactivity: the agent's own wake-up speech does not re-arm it.
        self._wake_timer = None
        self._wake_fired = True
        self._emit(ev.WakeUpEvent, idle_for=self._options.wake_up)
        callback = self.on_wake_up
        if callback is not None:
            result = callback()
            if inspect.isawaitable(result):
                self._track(result)

    def _add_item(
        self, item: ChatItem, agent: Agent, *, speech: SpeechHandle | None = None, reply_ctx: ChatContext | None = None, record: bool = True
    ) -> None:
        self._history.insert(item)
        agent._chat_ctx.insert(item)
        if reply_ctx is not None:
            reply_ctx.insert(item)
        if speech is not None:
            speech._chat_items.append(item)
        if isinstance(item, (ChatMessage, AgentHandoff)):
            self._emit(ev.ConversationItemAddedEvent, item=item)
        run = self._run_result
        if record and run is not None and (speech is None or speech in run._speeches):
            run._record(item)

    def _report_error(self, error: BaseException, *, source: str, recoverable: bool = False) -> None:
        """Emit an ``error`` event. As in LiveKit, ``recoverable`` errors (an attempt the client
        retries, a tool that failed) change nothing else; an unrecoverable one ended an LLM or TTS
        request, and more than ``max_unrecoverable_errors`` of those in a row from one source
        (counters reset when the agent speaks) close the session with reason ``error``."""
        self._emit(ev.ErrorEvent, error=error, source=source, recoverable=recoverable, message=scrub(str(error)))
        if recoverable or self._closing:
            return
        self._error_streaks[source] = streak = self._error_streaks.get(source, 0) + 1
        if streak > self._options.max_unrecoverable_errors:
            self._track(self._close(reason="error", error=error))

    def _retry_reporter(self, source: str) -> Callable[[APIError], None]:
        """What the provider client calls for each attempt it retries (see ``retry_observer``)."""
        return lambda error: self._report_error(error, source=source, recoverable=True)

    def _activate(self, agent: Agent, *, old: _AgentActivity | None) -> None:
        activity = _AgentActivity(self, agent)
        self._activity = activity
        agent._session = self
        handoff = AgentHandoff(
            new_agent_id=agent.id, old_agent_id=old.agent.id if old else None, id=self._ids("item"), created_at=self.now()
        )
        self._add_item(handoff, agent)
        activity.start()
        if self._engine is not None:
            # Turn handling is resolved per agent (its turn_handling overrides the session's).
            self._engine.config = self._engine_config(**self._engine_wiring)
            self._engine.min_delay = self._engine.config.min_delay

    async def _switch_activity(self, agent: Agent) -> None:
        _in_tool.set(False)  # this task may have been started from a tool; on_enter's replies may use tools
        async with self._switch_lock:  # handoffs happen one after the other, in call order
            old = self._activity
            if old is not None:
                await old.drain()
                await old.aclose()
            if self._closing:
                return
            self._activate(agent, old=old)
        await agent.on_enter()

    async def _run_agent_task(self, task: AgentTask[Any]) -> Any:
        """Run ``task`` as the active agent until it completes; then resume the previous agent."""
        caller = self._activity
        if caller is None:
            raise RuntimeError(f"{task.label}: no agent is running")
        me = asyncio.current_task()
        speech = getattr(me, "_agentlab_speech", None)
        if speech is not None:
            speech.allow_interruptions = False  # LiveKit: a speech whose tool awaits a task cannot be interrupted
            call = getattr(me, "_agentlab_call", None)
            if call is not None and self._run_result is not None:
                self._run_result._record(call)  # the call that started the task comes before its handoff
        loop = asyncio.get_running_loop()
        task._future = loop.create_future()
        if task.done:  # completed before being awaited
            if isinstance(task._result, BaseException):
                task._future.set_exception(task._result)
            else:
                task._future.set_result(task._result)
        caller.pause()
        self._paused.append(caller)
        inner = _AgentActivity(self, task)
        self._activity = inner
        task._session = self
        self._add_item(AgentHandoff(new_agent_id=task.id, old_agent_id=caller.agent.id, id=self._ids("item"), created_at=self.now()), task)
        inner.start()
        token = _in_tool.set(False)  # the task's on_enter is not part of the caller's tool call
        try:
            await task.on_enter()
            _in_tool.reset(token)
            # From here the task waits for the user: its caller (a tool's speech, or an on_enter) counts
            # as settled for runs and wait_for_idle. Not before on_enter, whose replies must be awaited.
            task._waiter = (me, speech)
            self._set_waiting(me, speech, True)
            result = await task._future
        finally:
            self._set_waiting(me, speech, False)
            if not self._closing:
                await inner.drain()
                await inner.aclose()
            if caller in self._paused:
                self._paused.remove(caller)
            if not self._closing:
                self._activity = caller
                # The caller sees what was said during the task, but not the task's tool plumbing.
                known = {it.id for it in caller.agent._chat_ctx.items}
                for item in task._chat_ctx.copy(exclude_function_call=True, exclude_instructions=True, exclude_handoff=True).items:
                    if item.id not in known:
                        caller.agent._chat_ctx.insert(item)
                self._add_item(
                    AgentHandoff(new_agent_id=caller.agent.id, old_agent_id=task.id, id=self._ids("item"), created_at=self.now()),
                    caller.agent,
                )
                caller.resume()
        return result

    # --- voice input: the turn engine on the session's clock -------------------------------

    def attach_user_input(self, source: Any, *, pausable_output: bool = True, stt: bool = True) -> asyncio.Future[None]:
        """Feed user speech to the session: scripted :class:`~agentlab.engine.UserSpeech` or engine events.

        Times are session seconds. The turn engine decides (endpointing, interruptions, false
        interruptions, preemptive replies) with this session's options. ``pausable_output`` says
        whether the agent's audio can pause (as a LiveKit room's can); it enables false-interruption
        resume. ``stt=False`` models a VAD-only pipeline: no transcripts, turns commit on silence.
        Returns a future resolved once the last observation is played; ``await session.wait_for_input()``
        waits for the input and every decision and reply it causes.

        It may be called again to add later input, as a live feed arrives in pieces: the new
        observations must not be due before now, and ``pausable_output``/``stt`` must stay the same.
        (Utterances of different calls are never merged into one VAD segment.)

        Example::

            session.attach_user_input([UserSpeech(0.5, 2.5, "Hello, how are you?", stt_delay=0.2)])
            await session.wait_for_input()
        """
        wiring = {"pausable_output": pausable_output, "has_stt": stt}
        if self._engine is not None and wiring != self._engine_wiring:
            raise ValueError(
                f"AgentSession.attach_user_input: input is already attached with {self._engine_wiring}; "
                f"more input must use the same settings, got {wiring}"
            )
        self._require_activity("attach_user_input")
        items = list(source)
        vad = self._vad_options()
        if items and all(isinstance(i, UserSpeech) for i in items):
            events = speech_events(
                items,
                min_speech_duration=vad["min_speech_duration"],
                min_silence_duration=vad["min_silence_duration"],
                has_stt=stt,
                stt_end_of_speech=self._options.turn_detection == "stt",
            )
        elif all(isinstance(i, InputEvent) for i in items):
            events = sorted(items)
        else:
            raise TypeError("AgentSession.attach_user_input: expected a list of UserSpeech or InputEvent")
        if events and events[0].t < self.now() - 1e-9:
            raise ValueError(
                f"AgentSession.attach_user_input: input starts at {events[0].t:.3f}s but the session is already at "
                f"{self.now():.3f}s; times are session seconds (attach input before it is due)"
            )
        if items and isinstance(items[0], UserSpeech):
            self._user_speech.extend(items)
        loop = asyncio.get_running_loop()
        if self._engine is None:
            self._engine_wiring = wiring
            self._engine = eng.TurnEngine(self._engine_config(**wiring))
            self._final_arrived = asyncio.Event()
            self._user_silent = asyncio.Event()
            self._user_silent.set()
            self._input_played = asyncio.Event()
            self._input_played.set()
            self._notify_engine()
        self._input_events.extend(events)
        mine = loop.create_future()
        if not events:
            mine.set_result(None)
            return mine
        self._input_pending += len(events)
        self._input_played.clear()
        # Each observation is a timer callback (cheaper than a coroutine waking per event).
        for i, event in enumerate(events):
            loop.call_at(self._t0 + event.t, self._on_input_event, event, mine if i == len(events) - 1 else None)
        return mine

    async def _commit_voice_turn(self, fut: asyncio.Future[str], transcript_timeout: float, skip_reply: bool) -> None:
        engine = self._engine
        assert engine is not None and self._final_arrived is not None
        deadline = self.now() + transcript_timeout
        while (engine.user_speaking or engine.turn.interim) and self.now() < deadline:
            self._final_arrived.clear()
            try:
                await asyncio.wait_for(self._final_arrived.wait(), deadline - self.now())
            except asyncio.TimeoutError:
                break
        if engine.turn.interim:  # no final came: the interim text is what the user said
            engine.turn.finals.append(engine.turn.interim)
            engine.turn.interim = ""
        text = engine.turn.text
        self._skip_next_reply = skip_reply
        if not fut.done():
            fut.set_result(text)
        if text:
            self._engine_apply(engine.commit_manual(self.now()))

    async def wait_for_input(self) -> None:
        """Wait until the attached input has played and every decision and reply it caused is done."""
        if self._engine is None:
            return
        assert self._input_played is not None
        await self._input_played.wait()
        while True:
            deadline = self._engine.next_deadline()
            if deadline is not None:
                await asyncio.sleep(max(0.0, deadline - self.now()) + 1e-9)
                continue
            await self.wait_for_idle()
            if self._engine.next_deadline() is None:
                return

    def _vad_options(self) -> dict[str, float]:
        # LiveKit 1.8.9's auto VAD (silero) unless the session was given VAD settings.
        vad = self._vad
        return {
            "min_speech_duration": getattr(vad, "min_speech_duration", 0.05),
            "min_silence_duration": getattr(vad, "min_silence_duration", 0.25),
        }

    def _engine_config(self, *, pausable_output: bool, has_stt: bool) -> eng.EngineConfig:
        o = self._options
        agent = self.current_agent
        opts = o.replace(**agent._turn_handling) if is_given(agent._turn_handling) and agent._turn_handling else o
        return opts.engine_config(has_stt=has_stt, pausable=pausable_output and agent.tts is not None)

    def _on_input_event(self, event: InputEvent, last: asyncio.Future[None] | None) -> None:
        try:
            if self._engine is not None and not self._closing:
                if self._engine_timer is not None and self._engine_deadline is not None and self._engine_deadline <= self.now() + 1e-9:
                    # A deadline due at this same instant was set before this observation: it fires first.
                    self._engine_timer.cancel()
                    self._on_engine_timer()
                self._engine_apply(getattr(self._engine, event.kind)(self.now(), **event.data))
        except Exception as exc:
            self._engine_failed(exc)
        finally:
            if last is not None and not last.done():
                last.set_result(None)
            self._input_pending -= 1
            if self._input_pending == 0:
                self._input_played.set()  # type: ignore[union-attr]

    def _engine_failed(self, exc: Exception) -> None:
        """A decision raised (a turn detector's bug, say): the conversation cannot go on, so it ends.

        Timer callbacks have no caller to raise to; left to asyncio the error would only be logged
        and the run would wait forever for a decision that never comes.
        """
        if self._closing:
            return
        self._report_error(exc, source="turn_detection")
        self._track(self._close(reason="error", error=exc))

    def _rearm_engine_timer(self) -> None:
        deadline = self._engine.next_deadline() if self._engine is not None and not self._closing else None
        if self._engine_timer is not None and deadline == self._engine_deadline:
            return  # most decisions leave the next deadline where it was: keep the timer
        if self._engine_timer is not None:
            self._engine_timer.cancel()
            self._engine_timer = None
        self._engine_deadline = deadline
        if deadline is not None:
            self._engine_timer = asyncio.get_running_loop().call_at(self._t0 + deadline, self._on_engine_timer)

    def _on_engine_timer(self) -> None:
        self._engine_timer = None
        self._engine_deadline = None
        if self._engine is not None and not self._closing:
            try:
                self._engine_apply(self._engine.on_timer(self.now()))
            except Exception as exc:
                self._engine_failed(exc)

    def _notify_engine(self) -> None:
        if self._engine is None or self._closing:
            return
        cur = self.current_speech
        active = cur is not None and not cur.done() and not cur.interrupted
        playout = cur._playout if cur is not None else None
        audible = self._agent_state == "speaking" or (playout is not None and playout.paused and playout.started_at is not None)
        self._engine_apply(
            self._engine.on_agent(self.now(), active=active, audible=audible, interruptible=cur.allow_interruptions if cur else True)
        )

    def _engine_apply(self, actions: list[eng.Action]) -> None:
        """Carry out the engine's decisions (sync: called from timers and the input driver)."""
        for a in actions:
            if isinstance(a, eng.UserStateChange):
                self._set_user_state(a.state, at=a.at)
            elif isinstance(a, eng.Transcribed):
                self._emit(ev.UserInputTranscribedEvent, transcript=a.transcript, is_final=a.is_final, language=a.language)
                if a.is_final:
                    if self._final_arrived is not None:
                        self._final_arrived.set()
                    if self._user_state == "away":
                        self._set_user_state("listening")  # LiveKit: a final transcript brings the user back
                    elif self._away_timer is not None:
                        self._away_timer.cancel()  # ... and re-arms the away timer while both listen
                        self._away_timer = None
                        self._update_idle_timers()
            elif isinstance(a, eng.ReplyHold):
                if self._user_silent is not None:
                    self._user_silent.clear() if a.hold else self._user_silent.set()
            elif isinstance(a, eng.InterruptAgent):
                cur = self.current_speech
                if cur is not None and not cur.done():
                    self._resume_paused(declare=False)
                    cur._mark_interrupted()
            elif isinstance(a, eng.PauseAgent):
                self._pause_current()
            elif isinstance(a, eng.ResumeAgent):
                self._resume_paused(declare=True)
            elif isinstance(a, eng.StartPreemptive):
                self._start_preemptive(a.transcript)
            elif isinstance(a, eng.CommitTurn):
                self._turn_seq += 1
                pre, self._preemptive = self._preemptive, None  # it was made for this turn, not a later one
                skip, self._skip_next_reply = self._skip_next_reply, False
                self._turn_task = self._track(self._on_turn_committed(a, self._turn_seq, pre, self._turn_task, skip))
        self._rearm_engine_timer()

    def _pause_current(self) -> None:
        cur = self.current_speech
        if cur is None or cur.done():
            return
        cur._pause_requested = True
        if cur._playout is not None:
            cur._playout.pause()
        self._paused_speech = cur
        self._paused_state = self._agent_state
        self._set_agent_state("listening")

    def _speech_state(self, handle: SpeechHandle, state: ev.AgentState) -> None:
        """A speech's own state change; while it is paused, remember it for the resume instead."""
        if self._paused_speech is handle and state != "listening":
            self._paused_state = state
        else:
            self._set_agent_state(state)

    def _resume_paused(self, *, declare: bool) -> None:
        cur = self._paused_speech
        self._paused_speech = None
        if cur is None:
            return
        cur._pause_requested = False
        resumed = not cur.done() and not cur.interrupted
        if resumed and cur._playout is not None:
            cur._playout.resume()
        if declare:
            if resumed:
                frame_waiting = cur._playout is not None and cur._playout.frame_waiting
                if not (frame_waiting and self._paused_state == "thinking"):  # else its first frame says "speaking"
                    self._set_agent_state(self._paused_state)
            self._emit(ev.AgentFalseInterruptionEvent, resumed=resumed)

    def _start_preemptive(self, transcript: str) -> None:
        self._cancel_preemptive()
        activity = self._activity
        if activity is None or activity._draining or self._closing:
            return
        agent = activity.agent
        msg = ChatMessage(role="user", content=[transcript], id=self._ids("item"), created_at=self.now())
        handle = activity.new_handle(NOT_GIVEN, source="generate_reply", schedule=False)
        signature = _ctx_signature(agent._chat_ctx)
        tools = tuple(t.name for t in agent.tools)
        self._track(
            activity.run_reply(handle, user_message=msg, instructions=None, tool_choice=None, chat_ctx=None, preemptive=True), speech=handle
        )
        self._preemptive = _Preemptive(handle=handle, transcript=transcript, message=msg, signature=signature, tools=tools)

    def _cancel_preemptive(self) -> None:
        pre, self._preemptive = self._preemptive, None
        if pre is not None and not pre.handle.done():
            pre.handle._mark_interrupted()

    async def _on_turn_committed(
        self, c: eng.CommitTurn, seq: int, pre: _Preemptive | None, previous: asyncio.Task[Any] | None, skip_reply: bool
    ) -> None:
        """LiveKit's _user_turn_completed_task (reference §5): one at a time, and a newer turn wins."""
        if previous is not None and not previous.done():
            await asyncio.gather(previous, return_exceptions=True)  # awaited, never cancelled

        def drop(p: _Preemptive | None) -> None:
            if p is not None and not p.handle.done():
                p.handle._mark_interrupted()

        activity = self._activity
        if activity is None or self._closing:
            drop(pre)
            return
        agent = activity.agent
        cur = self.current_speech
        if not c.transcript:
            # A turn without words (VAD-only pipeline): it still takes the floor, but there is nothing to answer.
            drop(pre)
            if cur is not None and not cur.done() and cur.allow_interruptions:
                self._resume_paused(declare=False)
                cur._mark_interrupted()
            return
        if cur is not None and not cur.done() and not cur.allow_interruptions:
            logger.warning("user turn dropped: the current speech %s cannot be interrupted", cur.id)
            drop(pre)
            return
        msg = ChatMessage(
            role="user", content=[c.transcript], id=self._ids("item"), created_at=self.now(), transcript_confidence=c.confidence
        )
        msg.metrics.update(
            {
                k: round(v, 9)
                for k, v in {
                    "started_speaking_at": c.speech_start,
                    "stopped_speaking_at": c.speech_end,
                    "transcription_delay": c.transcription_delay,
                    "end_of_turn_delay": c.end_of_utterance_delay,
                }.items()
                if v is not None
            }
        )
        if cur is not None and not cur.done():
            self._resume_paused(declare=False)
            cur._mark_interrupted()
            await cur.wait_for_playout()  # the cut assistant message lands before the user's
        if self._skip_during_handoff(activity, c, pre):
            return
        if skip_reply:
            drop(pre)
            self._add_item(msg, agent)
            return
        turn_ctx = agent._chat_ctx.copy()
        hook_start = self.now()
        try:
            await agent.on_user_turn_completed(turn_ctx, msg)
        except StopResponse:
            drop(pre)
            return
        hook_delay = self.now() - hook_start
        if self._skip_during_handoff(activity, c, pre):
            return
        reuse = (
            pre is not None
            and not pre.handle.done()
            and eng.words_of(pre.transcript) == eng.words_of(c.transcript)
            and _ctx_signature(turn_ctx) == pre.signature
            and tuple(t.name for t in agent.tools) == pre.tools
        )
        if reuse:
            assert pre is not None
            pre.message.content[:] = msg.content
            pre.message.metrics.update(msg.metrics)
            pre.message.created_at, pre.message.transcript_confidence = msg.created_at, msg.transcript_confidence
            msg = pre.message
            handle = pre.handle
        else:
            drop(pre)
            handle = activity.new_handle(NOT_GIVEN, source="generate_reply", schedule=False)
        self._emit(
            ev.MetricsCollectedEvent,
            metrics=ev.EOUMetrics(
                timestamp=self.now(),
                end_of_utterance_delay=c.end_of_utterance_delay,
                transcription_delay=c.transcription_delay,
                on_user_turn_completed_delay=round(hook_delay, 9),
                speech_id=handle.id,
                model=_detector_meta(self._options.turn_detection)[0],
                provider=_detector_meta(self._options.turn_detection)[1],
            ),
        )
        if reuse:
            self._add_item(msg, agent, reply_ctx=None)
        else:
            self._track(
                activity.run_reply(handle, user_message=msg, instructions=None, tool_choice=None, chat_ctx=turn_ctx, hook_done=True),
                speech=handle,
            )
        if seq != self._turn_seq:
            handle._mark_interrupted()  # the user spoke again meanwhile: the newer turn gets the reply
        activity.schedule(handle)

    def _skip_during_handoff(self, activity: _AgentActivity, c: eng.CommitTurn, pre: _Preemptive | None) -> bool:
        """As LiveKit (end of turn while scheduling is paused): a turn that ends while the agent hands
        off is skipped with a warning, not forwarded to the next agent. The speech it cut stays cut."""
        if not (activity._draining or self._activity is not activity):
            return False
        logger.warning("user turn skipped: %s is handing off: %r", activity.agent.label, c.transcript)
        if pre is not None and not pre.handle.done():
            pre.handle._mark_interrupted()
        return True

    def _log_playback(self, playout: _Playout, start: float, duration: float, offset: float, *, cut: bool) -> None:
        if duration > 0 and playout.frame is not None:
            playout.audio_end = round(start + duration, 9)
            self._playback.append(Played(playout.speech_id, round(start, 9), round(duration, 9), playout.frame, round(offset, 9), cut))

    @property
    def playback(self) -> list[Played]:
        """Every stretch of agent audio that played: speech id, start, duration, frame, offset, cut short."""
        return list(self._playback)

    @property
    def user_speech(self) -> list[UserSpeech]:
        """The scripted user utterances attached with :meth:`attach_user_input` (empty otherwise)."""
        return list(self._user_speech)

    @property
    def input_events(self) -> list[InputEvent]:
        """The VAD and STT observations fed to the turn engine (empty for text sessions)."""
        return list(self._input_events)

    def _set_waiting(self, task: asyncio.Task[Any] | None, speech: SpeechHandle | None, waiting: bool) -> None:
        if speech is not None:
            speech._waiting_on_task = waiting
        elif task is not None:
            task._agentlab_waiting = waiting  # type: ignore[attr-defined]
        self._settle_changed.set()
        run = self._run_result
        if run is not None:
            if not waiting:
                # The caller resumes: whatever it says now belongs to the run in progress.
                owner = speech._task if speech is not None else task
                if owner is not None:
                    run._watch_task(owner)
                if speech is not None:
                    run._speeches.add(speech)
            run._recheck()

    def __repr__(self) -> str:
        agent = self._activity.agent.label if self._activity else None
        return (
            f"AgentSession(agent={agent}, agent_state={self._agent_state!r}, user_state={self._user_state!r}, "
            f"items={len(self._history)}, events={len(self._events)})"
        )

    def _repr_html_(self) -> str:
        from ..frames import session_html

        return session_html(self)


# ---------------------------------------------------------------------------------------------


class TextOutput(Protocol):
    """A sink for the agent's words as they are spoken (LiveKit's ``io.TextOutput``).

    Example::

        class Printer:
            async def capture_text(self, text: str) -> None:
                print(text, end="")

            def flush(self) -> None:
                print()

        session.output.transcription = Printer()
    """

    async def capture_text(self, text: str) -> None:
        """One more piece of the reply being spoken (text as it streams, or each audio frame's words)."""
        ...

    def flush(self) -> None:
        """The reply ended (finished or interrupted)."""
        ...


@dataclass
class SessionOutput:
    """``session.output``: ``transcription``, a :class:`TextOutput` or ``None`` (the default)."""

    transcription: TextOutput | None = None


@dataclass(frozen=True)
class Played:
    """A stretch of agent audio that was heard: ``duration`` seconds of ``frame`` from ``offset``, at ``start``."""

    speech_id: str
    start: float
    duration: float
    frame: AudioFrame
    offset: float
    cut: bool


@dataclass
class _Preemptive:
    """A reply generated before the turn was committed, and what it was generated from."""

    handle: SpeechHandle
    transcript: str
    message: ChatMessage
    signature: tuple[Any, ...]
    tools: tuple[str, ...]


def _detector_meta(turn_detection: Any) -> tuple[str, str]:
    """EOU metrics' model and provider (LiveKit: a mode string gives model "unknown", provider = the mode)."""
    if turn_detection is None or isinstance(turn_detection, str):
        return "unknown", turn_detection or "vad"
    return getattr(turn_detection, "model", type(turn_detection).__name__), getattr(turn_detection, "provider", "unknown")


def _ctx_signature(ctx: ChatContext) -> tuple[str, ...]:
    """What makes two contexts equivalent for the preemptive reuse check.

    Contexts are shallow copies sharing their items, so an item edited in place is edited in both;
    what a hook can change is which items there are, hence the ids.
    """
    return tuple(it.id for it in ctx.items)


@dataclass
class _UserTurn:
    """The user's transcript not yet committed as a turn (finals joined, plus the latest interim)."""

    finals: list[str] = field(default_factory=list)
    interim: str = ""

    def push(self, text: str, *, is_final: bool) -> None:
        if is_final:
            if text.strip():
                self.finals.append(text.strip())
            self.interim = ""
        else:
            self.interim = text

    def text(self) -> str:
        return " ".join([*self.finals, self.interim.strip()]).strip()

    def take(self) -> str:
        text = self.text()
        self.clear()
        return text

    def clear(self) -> None:
        self.finals.clear()
        self.interim = ""


#: True inside a tool call (``generate_reply`` then defaults to ``tool_choice="none"``).
_in_tool: contextvars.ContextVar[bool] = contextvars.ContextVar("agentlab_in_tool", default=False)


def _check_components(*, llm: Any, tts: Any, vad: Any, tools: Any) -> None:
    """Refuse what would fail only later, inside a reply (and quietly: a run with no replies)."""
    for name, value, method in (("llm", llm, "chat"), ("tts", tts, "stream")):
        if is_given(value) and value is not None and not callable(getattr(value, method, None)):
            raise TypeError(f"AgentSession: {name} = {value!r} is not an agentlab {name.upper()} (no {method}() method)")
    if isinstance(vad, dict):
        raise TypeError(f"AgentSession: vad = {vad!r} is a dict; pass agentlab.audio.VADOptions(**{vad!r})")
    if is_given(vad) and vad is not None and not all(hasattr(vad, a) for a in ("min_speech_duration", "min_silence_duration")):
        raise TypeError(f"AgentSession: vad = {vad!r} has no min_speech_duration/min_silence_duration; pass agentlab.audio.VADOptions(...)")
    if tools is not None and (not isinstance(tools, (list, tuple)) or not all(isinstance(t, FunctionTool) for t in tools)):
        raise TypeError(f"AgentSession: tools = {tools!r} must be a list of @function_tool functions")


def _log_task_error(task: asyncio.Task[Any]) -> None:
    if not task.cancelled() and task.exception() is not None:
        _log_failure("agentlab session task failed", task.exception())


def _log_failure(what: str, exc: BaseException) -> None:
    """Log ``exc`` with its traceback, as text scrubbed of secrets (an exception may quote a key)."""
    logger.error("%s\n%s", what, scrub("".join(traceback.format_exception(exc))).rstrip())


@dataclass
class _Playout:
    """What one step has played so far, so an interruption keeps exactly the heard text.

    Audio plays frame by frame on the clock; :meth:`pause` and :meth:`resume` (false
    interruptions) stop and restart the current frame where it was.
    """

    def __init__(self, speech_id: str = "") -> None:
        self.speech_id = speech_id
        self.parts: list[str] = []
        self.started_at: float | None = None
        self.frame: AudioFrame | None = None
        self.frame_played = 0.0
        self.audio_duration = 0.0
        self.ttfb: float | None = None
        self.audio_end: float | None = None  # when the last audio heard stopped (pauses and cuts included)
        self.frame_waiting = False  # a frame is synthesized and waits for a paused playout to resume
        self.paused = False
        self._frame_done: asyncio.Future[str] | None = None
        self._playing = asyncio.Event()
        self._playing.set()

    def pause(self) -> None:
        self.paused = True
        self._playing.clear()
        if self._frame_done is not None:
            _resolve(self._frame_done, "paused")

    def resume(self) -> None:
        self.paused = False
        self._playing.set()

    async def wait_playing(self) -> None:
        await self._playing.wait()

    async def play_for(self, seconds: float, session: AgentSession) -> None:
        remaining = seconds
        loop = asyncio.get_running_loop()
        while remaining > 1e-9:
            await self._playing.wait()
            start = session.now()
            # One future per frame: finished by a timer (played out) or by pause() (cut short).
            self._frame_done = done = loop.create_future()
            timer = loop.call_later(remaining, _resolve, done, "played")
            offset = self.frame_played
            try:
                outcome = await done
            except asyncio.CancelledError:
                timer.cancel()
                self.frame_played += session.now() - start  # interrupted mid-frame: this much was heard
                session._log_playback(self, start, self.frame_played - offset, offset, cut=True)
                raise
            finally:
                self._frame_done = None
            if outcome == "played":
                self.frame_played += remaining
                session._log_playback(self, start, remaining, offset, cut=False)
                return
            timer.cancel()
            played = session.now() - start
            self.frame_played += played
            session._log_playback(self, start, played, offset, cut=True)
            remaining -= played

    def heard_text(self) -> str:
        text = "".join(self.parts)
        if self.frame is not None and self.frame.duration > 0:
            # Words of the frame being played are paced evenly over its duration.
            words = self.frame.text.split()
            fraction = min(1.0, max(0.0, self.frame_played / self.frame.duration))
            text += " ".join(words[: int(len(words) * fraction)])
        return text.strip()


class _TTSPipe:
    """A step's TTS running in the background, its frames queued until they are played."""

    def __init__(self, activity: _AgentActivity, handle: SpeechHandle, text: Any) -> None:
        self.session = activity.session
        self.activity = activity
        self.handle = handle
        self.queue: asyncio.Queue[AudioFrame | None] = asyncio.Queue()
        self.ttfb = -1.0
        self.error: BaseException | None = None
        self.task = asyncio.get_running_loop().create_task(self._run(text))

    async def _run(self, text: Any) -> None:
        s = self.session
        tts = self.activity.agent.tts
        started = s.now()
        first_text: float | None = None
        chars = 0
        audio = 0.0
        cancelled = False

        async def tts_input() -> Any:
            nonlocal chars, first_text
            async for chunk in apply_text_transforms(text, s.options.tts_text_transforms):
                if first_text is None:
                    first_text = s.now()
                chars += len(chunk)
                yield chunk

        retry_observer.set(s._retry_reporter("tts"))
        try:
            async for frame in self.activity.agent.tts_node(tts_input(), ModelSettings()):
                if self.ttfb < 0:
                    # From the first text the TTS received: upstream LLM latency is not the TTS's (LiveKit #6300).
                    self.ttfb = s.now() - (first_text if first_text is not None else started)
                audio += frame.duration
                self.queue.put_nowait(frame)
        except asyncio.CancelledError:
            cancelled = True
            raise
        except Exception as exc:
            self.error = exc
        finally:
            self.queue.put_nowait(None)
            s._emit(
                ev.MetricsCollectedEvent,
                metrics=ev.TTSMetrics(
                    label=getattr(tts, "label", type(tts).__name__),
                    request_id=s._ids("tts_req"),
                    timestamp=s.now(),
                    ttfb=self.ttfb,
                    duration=s.now() - started,
                    audio_duration=audio,
                    cancelled=cancelled,
                    characters_count=chars,
                    streamed=True,
                    speech_id=self.handle.id,
                    model=getattr(tts, "model", "unknown"),
                    provider=getattr(tts, "provider", "unknown"),
                ),
            )

    async def frames(self) -> Any:
        while (frame := await self.queue.get()) is not None:
            yield frame

    async def cancel(self) -> None:
        self.task.cancel()
        await asyncio.gather(self.task, return_exceptions=True)


def _resolve(fut: asyncio.Future[Any], value: Any) -> None:
    if not fut.done():
        fut.set_result(value)


@dataclass
class _ToolResult:
    call: FunctionCall
    output: FunctionCallOutput | None
    reply_required: bool
    handoff: Agent | None = None


class _Generation:
    """One LLM step streaming in the background: text to a queue, tool calls to another."""

    def __init__(
        self, session: AgentSession, handle: SpeechHandle, agent: Agent, chat_ctx: ChatContext, tools: list[FunctionTool], tool_choice: Any
    ) -> None:
        self.session = session
        self.handle = handle
        self.text_queue: asyncio.Queue[str | None] = asyncio.Queue()
        self.tool_queue: asyncio.Queue[FunctionCall | None] = asyncio.Queue()
        self.text = ""
        self.calls: list[FunctionCall] = []
        self.error: BaseException | None = None
        self.ttft = -1.0
        self.tool_choice = tool_choice
        self.task = asyncio.get_running_loop().create_task(self._run(agent, chat_ctx, tools))

    async def _run(self, agent: Agent, chat_ctx: ChatContext, tools: list[FunctionTool]) -> None:
        s = self.session
        start = s.now()
        request_id = s._ids("llm_req")
        usage = None
        cancelled = False
        retry_observer.set(s._retry_reporter("llm"))  # this task's own context: only this request's retries
        try:
            async for chunk in agent.llm_node(chat_ctx, tools, ModelSettings(tool_choice=self.tool_choice)):
                text, calls = (chunk, ()) if isinstance(chunk, str) else _unpack(chunk)
                if isinstance(chunk, ChatChunk) and chunk.usage is not None:
                    usage = chunk.usage
                if (text or calls) and self.ttft < 0:
                    self.ttft = s.now() - start
                if text:
                    self.text += text
                    self.text_queue.put_nowait(text)
                for call in calls:
                    if self.tool_choice == "none":
                        continue  # LiveKit ignores tool calls made under tool_choice="none"
                    fc = FunctionCall(call_id=call.call_id or s._ids("call"), name=call.name, arguments=call.arguments, id=s._ids("item"))
                    self.calls.append(fc)
                    self.tool_queue.put_nowait(fc)
            if usage is not None or self.text or self.calls:
                s._error_streaks.pop("llm", None)
        except asyncio.CancelledError:
            cancelled = True
            raise
        except Exception as exc:
            self.error = exc
        finally:
            self.text_queue.put_nowait(None)
            self.tool_queue.put_nowait(None)
            duration = s.now() - start
            llm = agent.llm
            completion = usage.completion_tokens if usage else 0
            tc = self.tool_choice if isinstance(self.tool_choice, str) or self.tool_choice is None else json.dumps(self.tool_choice)
            s._emit(
                ev.MetricsCollectedEvent,
                metrics=ev.LLMMetrics(
                    label=getattr(llm, "label", type(llm).__name__),
                    request_id=request_id,
                    timestamp=s.now(),
                    duration=duration,
                    ttft=self.ttft,
                    cancelled=cancelled,
                    completion_tokens=completion,
                    prompt_tokens=usage.prompt_tokens if usage else 0,
                    prompt_cached_tokens=usage.prompt_cached_tokens if usage else 0,
                    total_tokens=usage.total_tokens if usage else 0,
                    tokens_per_second=completion / duration if duration > 0 else 0.0,
                    speech_id=self.handle.id,
                    model=getattr(llm, "model", "unknown"),
                    provider=getattr(llm, "provider", "unknown"),
                    tool_choice=tc,
                ),
            )
            if self.error is not None:
                s._report_error(self.error, source="llm")

    async def text_stream(self) -> Any:
        while True:
            chunk = await self.text_queue.get()
            if chunk is None:
                return
            yield chunk


def _unpack(chunk: ChatChunk) -> tuple[str, tuple[Any, ...]]:
    if chunk.delta is None:
        return "", ()
    return chunk.delta.content or "", tuple(chunk.delta.tool_calls)


class _AgentActivity:
    """One agent's turn at being active: its speech queue, scheduler and reply tasks."""

    def __init__(self, session: AgentSession, agent: Agent) -> None:
        self.session = session
        self.agent = agent
        self.current: SpeechHandle | None = None
        self._queue: list[tuple[int, int, SpeechHandle]] = []
        self._seq = itertools.count()
        self._wake = asyncio.Event()
        self._paused = False
        self._draining = False
        self._drained: asyncio.Future[None] | None = None
        self._closed = False
        self._last_end: float | None = None
        self._scheduler: asyncio.Task[None] | None = None
        self._handles: list[SpeechHandle] = []

    def start(self) -> None:
        self._scheduler = asyncio.get_running_loop().create_task(self._schedule_loop())

    def pause(self) -> None:
        self._paused = True

    def resume(self) -> None:
        self._paused = False
        self._wake.set()

    def new_handle(self, allow_interruptions: Any, *, source: str, schedule: bool = True) -> SpeechHandle:
        s = self.session
        if self._draining:
            raise RuntimeError(f"AgentSession: {self.agent.label} is handing off (draining); it cannot schedule new speech")
        if not is_given(allow_interruptions):
            allow_interruptions = (
                self.agent._allow_interruptions if is_given(self.agent._allow_interruptions) else s.options.interruption.enabled
            )
        handle = SpeechHandle(speech_id=s._ids("speech"), allow_interruptions=bool(allow_interruptions), source=source)
        self._handles.append(handle)
        handle.add_done_callback(lambda h: self._handles.remove(h) if h in self._handles else None)
        s._emit(ev.SpeechCreatedEvent, speech_handle=handle, user_initiated=True, source=source)
        if schedule:
            self.schedule(handle)
        return handle

    def schedule(self, handle: SpeechHandle) -> None:
        """Queue a speech for playing (preemptive replies are created first and queued at commit)."""
        heapq.heappush(self._queue, (-handle.priority, next(self._seq), handle))
        handle._scheduled = True
        self._wake.set()

    async def _schedule_loop(self) -> None:
        s = self.session
        delay = self.agent._min_consecutive_speech_delay
        if not is_given(delay):
            delay = s.options.min_consecutive_speech_delay
        while not self._closed:
            await self._wake.wait()
            self._wake.clear()
            while self._queue and not self._paused and not self._closed:
                _, _, handle = heapq.heappop(self._queue)
                if handle.done():
                    continue
                if delay and self._last_end is not None:
                    wait = self._last_end + delay - s.now()
                    if wait > 0:
                        await asyncio.sleep(wait)
                self.current = handle
                handle._authorized.set()
                s._notify_engine()
                await asyncio.shield(handle._done_fut)
                self.current = None
                s._notify_engine()
                self._last_end = s.now()
            if self._draining and not self._queue and self.current is None:
                return

    def interrupt(self, *, force: bool) -> asyncio.Future[None]:
        current = self.current
        if current is not None and not current.allow_interruptions and not force:
            raise RuntimeError(f"AgentSession.interrupt: the current speech {current.id} does not allow interruptions; pass force=True")
        queued = [h for _, _, h in sorted(self._queue)]
        targets = []
        for h in [current, *queued] if current is not None else queued:
            if h.done():
                continue
            if not force and not h.allow_interruptions:
                break  # as LiveKit: the queue is interrupted up to the first speech that refuses it
            targets.append(h)
        for h in targets:
            h._mark_interrupted()
        return asyncio.ensure_future(asyncio.gather(*(h.wait_for_playout() for h in targets)))

    async def drain(self) -> None:
        """Run ``on_exit`` (it may still speak), then let every queued speech finish; new speech is refused after."""
        if self._drained is not None:
            await asyncio.shield(self._drained)  # a second drain waits for the first
            return
        self._drained = asyncio.get_running_loop().create_future()
        try:
            try:
                await self.agent.on_exit()
            except Exception as exc:
                _log_failure(f"{self.agent.label}.on_exit failed", exc)
            self._draining = True
            # A preemptive reply not yet queued was made for a turn this agent will never take.
            for h in [h for h in self._handles if not h._scheduled]:
                h._mark_interrupted()
            me = getattr(asyncio.current_task(), "_agentlab_speech", None)
            while pending := [h._done_fut for h in self._handles if not h.done() and h is not me]:
                await asyncio.wait(pending)
        finally:
            self._drained.set_result(None)

    async def aclose(self) -> None:
        for h in list(self._handles):
            h._mark_interrupted()
        for h in list(self._handles):
            if h is not getattr(asyncio.current_task(), "_agentlab_speech", None):
                await h.wait_for_playout()
        self._closed = True
        self._wake.set()
        if self._scheduler is not None:
            self._scheduler.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._scheduler

    # --- speech tasks ---------------------------------------------------------------------

    async def _wait_user_silent(self, handle: SpeechHandle) -> bool:
        """LiveKit's reply hold-off: an interruptible reply does not start while the user is speaking."""
        silent = self.session._user_silent
        if silent is None or silent.is_set() or not handle.allow_interruptions:
            return not handle.interrupted
        waiter = asyncio.ensure_future(silent.wait())
        ok = await handle._wait_if_not_interrupted(waiter)
        if not ok:
            waiter.cancel()
        return ok and not handle.interrupted

    async def _wait_authorized(self, handle: SpeechHandle) -> bool:
        waiter = asyncio.ensure_future(handle._authorized.wait())
        ok = await handle._wait_if_not_interrupted(waiter)
        if not ok:
            waiter.cancel()
        return ok and not handle.interrupted

    async def run_say(self, handle: SpeechHandle, text: str, *, add_to_chat_ctx: bool) -> None:
        s = self.session
        try:
            if not await self._wait_authorized(handle):
                return
            s._set_agent_state("thinking")

            async def source() -> Any:
                yield text

            playout, interrupted = await self._play(handle, source())
            heard = playout.heard_text() if interrupted else text
            if add_to_chat_ctx and heard:
                msg = ChatMessage(
                    role="assistant",
                    content=[heard],
                    id=s._ids("item"),
                    interrupted=interrupted,
                    created_at=playout.started_at if playout.started_at is not None else s.now(),
                )
                msg.metrics.update(_speaking_metrics(playout, s.now()))
                s._add_item(msg, self.agent, speech=handle)
        finally:
            self._finish(handle)

    async def run_reply(
        self,
        handle: SpeechHandle,
        *,
        user_message: ChatMessage | None,
        instructions: str | None,
        tool_choice: Any,
        chat_ctx: ChatContext | None,
        preemptive: bool = False,
        hook_done: bool = False,
    ) -> None:
        """A reply: the user-turn hook (unless done), then the LLM steps.

        ``preemptive``: generated before the turn is committed; the user message joins the history
        only if the session reuses it at commit (it then adds it).
        """
        s = self.session
        agent = self.agent
        try:
            reply_ctx = (chat_ctx if chat_ctx is not None else agent._chat_ctx).copy()
            if user_message is not None:
                if preemptive:
                    reply_ctx.items.append(user_message)
                else:
                    if not hook_done:
                        try:
                            await agent.on_user_turn_completed(reply_ctx, user_message)
                        except StopResponse:
                            return
                    s._add_item(user_message, agent, reply_ctx=reply_ctx)
            await self._run_steps(
                handle, reply_ctx, instructions=instructions, tool_choice=tool_choice, user_message=user_message, preemptive=preemptive
            )
        finally:
            self._finish(handle)

    def _finish(self, handle: SpeechHandle) -> None:
        handle._mark_done()
        if self.current is handle:
            self.session._set_agent_state("listening")

    def _llm_ctx(self, reply_ctx: ChatContext, instructions: str | None) -> ChatContext:
        items: list[ChatItem] = [ChatMessage(role="system", content=[self.agent.instructions], id="instructions")]
        items += [it for it in reply_ctx.items if it.type != "agent_handoff"]
        if instructions:
            items.append(ChatMessage(role="system", content=[instructions], id="reply_instructions"))
        return ChatContext(items)

    async def _run_steps(
        self,
        handle: SpeechHandle,
        reply_ctx: ChatContext,
        *,
        instructions: str | None,
        tool_choice: Any,
        user_message: ChatMessage | None,
        preemptive: bool = False,
    ) -> None:
        s = self.session
        agent = self.agent
        max_steps = s.options.max_tool_steps
        while True:
            tools = agent.tools + [t for t in s.tools if t.name not in {a.name for a in agent.tools}]
            gen = _Generation(s, handle, agent, self._llm_ctx(reply_ctx, instructions), tools, tool_choice)
            pipe = None
            if handle.num_steps == 1:
                if preemptive and s.options.preemptive_generation.preemptive_tts and agent.tts is not None:
                    pipe = _TTSPipe(self, handle, gen.text_stream())  # synthesize before the turn is even committed
                if not await self._wait_authorized(handle) or not await self._wait_user_silent(handle):
                    gen.task.cancel()
                    if pipe is not None:
                        await pipe.cancel()
                    await asyncio.gather(gen.task, return_exceptions=True)
                    return
                s._speech_state(handle, "thinking")
            elif not await self._wait_user_silent(handle):
                # A tool follow-up is a scheduled reply too: it waits for the user to be silent (§8).
                gen.task.cancel()
                await asyncio.gather(gen.task, return_exceptions=True)
                return
            handle._step_played.clear()
            # No tools offered, no executor: a step without tools costs one task less.
            executor = asyncio.get_running_loop().create_task(self._execute_tools(handle, gen, tools)) if tools else None
            playout, interrupted = await self._play(handle, gen.text_stream(), pipe)
            handle._step_played.set()
            if interrupted:
                gen.task.cancel()
            await asyncio.gather(gen.task, return_exceptions=True)
            now = s.now()
            text = playout.heard_text() if interrupted else gen.text.strip()
            if text:
                msg = ChatMessage(
                    role="assistant",
                    content=[text],
                    id=s._ids("item"),
                    interrupted=interrupted,
                    created_at=playout.started_at if playout.started_at is not None else now,
                )
                msg.metrics.update(_speaking_metrics(playout, now))
                if gen.ttft >= 0:
                    msg.metrics["llm_node_ttft"] = round(gen.ttft, 9)
                if user_message is not None and playout.started_at is not None and handle.num_steps == 1:
                    # From the user's end of speech (voice) or the message (text) to the agent's first sound.
                    stopped = user_message.metrics.get("stopped_speaking_at", user_message.created_at)
                    msg.metrics["e2e_latency"] = round(playout.started_at - stopped, 9)
                s._add_item(msg, agent, speech=handle, reply_ctx=reply_ctx)
            if gen.calls and not interrupted:
                s._speech_state(handle, "thinking")
            if executor is None and gen.calls:
                # A model that calls a tool it was not offered still gets an (error) output.
                executor = asyncio.get_running_loop().create_task(self._execute_tools(handle, gen, tools))
            results: list[_ToolResult] = await executor if executor is not None else []
            if not results:
                return
            # Tools may have changed the agent's conversation (an AgentTask merges its messages back):
            # the follow-up must see that, as well as this reply's own context.
            known = {it.id for it in reply_ctx.items}
            reply_ctx.insert([it for it in agent._chat_ctx.items if it.id not in known])
            # Emitted before the results are committed, so handlers can cancel the reply or the handoff.
            tools_event = s._emit(
                ev.FunctionToolsExecutedEvent,
                function_calls=tuple(r.call for r in results),
                function_call_outputs=tuple(r.output for r in results),
                speech_id=handle.id,
            )
            for r in results:
                r.call.created_at = s.now()
                s._add_item(r.call, agent, speech=handle, reply_ctx=reply_ctx)
            for r in results:
                if r.output is not None:
                    r.output.created_at = s.now()
                    s._add_item(r.output, agent, speech=handle, reply_ctx=reply_ctx)
            cancel_reply = tools_event is not None and tools_event.cancelled_reply
            handoffs = [r.handoff for r in results if r.handoff is not None]
            if len(handoffs) > 1:
                # As LiveKit: ambiguous, so no handoff at all.
                s._report_error(
                    RuntimeError(f"{len(handoffs)} tools returned an agent in one step; no handoff made"), source="tool", recoverable=True
                )
                handoffs = []
            if tools_event is not None and tools_event.cancelled_handoff:
                handoffs = []
            if handoffs and s._closing:
                logger.warning("handoff to %s skipped: the session is closing", handoffs[0].label)
            elif handoffs:
                s.update_agent(handoffs[0])
            # Interrupted during playout or while the tools ran: results are kept, no follow-up reply.
            if interrupted or handle.interrupted or cancel_reply or not any(r.reply_required for r in results):
                return
            if tool_choice == "none" or handle.num_steps >= max_steps + 1 or handoffs:
                if handle.num_steps >= max_steps + 1:
                    logger.warning("maximum number of tool steps reached (max_tool_steps=%d); forcing a final reply", max_steps)
                tool_choice = "none"
            else:
                tool_choice = "auto"
            handle._num_steps += 1

    async def _play(self, handle: SpeechHandle, text: Any, pipe: _TTSPipe | None = None) -> tuple[_Playout, bool]:
        """Play a step's text (or its audio through ``tts_node``) until done or interrupted.

        ``pipe`` is a TTS already running (``preemptive_tts``); otherwise one starts now.
        """
        s = self.session
        playout = _Playout(handle.id)
        handle._playout = playout
        if handle._pause_requested:
            playout.pause()  # a user spoke while the reply was still thinking

        sink = s.output.transcription

        async def forward_text() -> None:
            async for chunk in text:
                if playout.started_at is None:
                    playout.started_at = s.now()
                    s._speech_state(handle, "speaking")
                playout.parts.append(chunk)
                if sink is not None:
                    await sink.capture_text(chunk)

        async def forward_audio(p: _TTSPipe) -> None:
            async for frame in p.frames():
                playout.frame_waiting = True
                await playout.wait_playing()
                playout.frame_waiting = False
                if playout.started_at is None:
                    playout.ttfb = p.ttfb
                    playout.started_at = s.now()
                    s._set_agent_state("speaking")
                playout.frame, playout.frame_played = frame, 0.0
                if sink is not None:
                    await sink.capture_text(frame.text)  # shown as the frame starts playing
                await playout.play_for(frame.duration, s)
                playout.parts.append(frame.text)
                playout.audio_duration += frame.duration
                playout.frame = None

        if self.agent.tts is not None and pipe is None:
            pipe = _TTSPipe(self, handle, text)
        task = asyncio.get_running_loop().create_task(forward_audio(pipe) if pipe is not None else forward_text())
        try:
            finished = await handle._wait_if_not_interrupted(task)
        finally:
            if sink is not None and playout.started_at is not None:
                sink.flush()
        if not finished:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            if pipe is not None:
                await pipe.cancel()
            return playout, True
        exc = task.exception() or (pipe.error if pipe is not None else None)
        if exc is not None:
            s._report_error(exc, source="tts")
        return playout, False

    async def _execute_tools(self, handle: SpeechHandle, gen: _Generation, tools: list[FunctionTool]) -> list[_ToolResult]:
        running: list[asyncio.Task[_ToolResult]] = []
        while True:
            call = await gen.tool_queue.get()
            if call is None:
                break
            token = _in_tool.set(True)
            try:
                task = asyncio.get_running_loop().create_task(self._run_tool(handle, call, tools))
            finally:
                _in_tool.reset(token)
            task._agentlab_speech = handle  # type: ignore[attr-defined]
            task._agentlab_call = call  # type: ignore[attr-defined]
            running.append(task)
        return list(await asyncio.gather(*running))

    async def _run_tool(self, handle: SpeechHandle, call: FunctionCall, tools: list[FunctionTool]) -> _ToolResult:
        s = self.session
        from .run_result import _mock_for

        def result(text: str, *, is_error: bool = False, reply: bool = True, handoff: Agent | None = None) -> _ToolResult:
            out = FunctionCallOutput(call_id=call.call_id, name=call.name, output=text, is_error=is_error, id=s._ids("item"))
            return _ToolResult(call=call, output=out, reply_required=reply, handoff=handoff)

        tool = next((t for t in tools if t.name == call.name), None)
        if tool is None:
            return result(f"Unknown function: {call.name}", is_error=True)
        try:
            args = arguments_dict(call)
        except ValueError as exc:
            return result(f"Invalid arguments for {call.name}: {exc}", is_error=True)
        try:
            mock = _mock_for(self.agent, call.name)
            ctx = RunContext(session=s, speech_handle=handle, function_call=call)
            running = _call_mock(mock, tool, args, ctx) if mock is not None else tool.invoke(args, ctx)
            value = await _within(running, s.options.tool_timeout, call.name)
        except _ToolTimeout as exc:
            s._report_error(exc, source="tool", recoverable=True)
            return result(f"{call.name} did not finish within {exc.seconds:g} seconds", is_error=True)
        except ToolArgumentsError as exc:
            return result(f"Invalid arguments for {call.name}: {exc}", is_error=True)
        except ToolError as exc:
            return result(exc.message, is_error=True)
        except StopResponse:
            return _ToolResult(call=call, output=None, reply_required=False)
        except Exception as exc:
            s._report_error(exc, source="tool", recoverable=True)
            return result("An internal error occurred", is_error=True)
        handoff = None
        if isinstance(value, Agent):
            handoff, value = value, None
        elif isinstance(value, tuple) and any(isinstance(v, Agent) for v in value):
            agents = [v for v in value if isinstance(v, Agent)]
            rest = [v for v in value if not isinstance(v, Agent)]
            handoff = agents[0]
            value = rest[0] if len(rest) == 1 else (tuple(rest) if rest else None)
        if value is None:
            return result("", reply=False, handoff=handoff)
        return result(output_to_text(value), handoff=handoff)


class _ToolTimeout(TimeoutError):
    """A tool ran past ``tool_timeout`` and was cancelled."""

    def __init__(self, name: str, seconds: float) -> None:
        super().__init__(f"tool {name} did not finish within {seconds:g}s (tool_timeout) and was cancelled")
        self.seconds = seconds


async def _within(coro: Any, seconds: float | None, name: str) -> Any:
    """Await ``coro``, cancelling it after ``seconds`` (a TimeoutError the tool raises itself stays its own)."""
    if seconds is None:
        return await coro
    task = asyncio.ensure_future(coro)
    # The tool now runs in this inner task: it must still know its speech and call (wait_for_playout, aclose, AgentTask).
    outer = asyncio.current_task()
    for attr in ("_agentlab_speech", "_agentlab_call"):
        if hasattr(outer, attr):
            setattr(task, attr, getattr(outer, attr))
    try:
        done, _ = await asyncio.wait({task}, timeout=seconds)
    except asyncio.CancelledError:
        task.cancel()
        raise
    if not done:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        raise _ToolTimeout(name, seconds)
    return task.result()


async def _call_mock(mock: Callable[..., Any], tool: FunctionTool, args: dict[str, Any], ctx: RunContext) -> Any:
    kwargs = tool.prepare_arguments(args)
    params = inspect.signature(mock).parameters
    if tool.context_param is not None:
        kwargs[tool.context_param] = ctx
    if not any(p.kind == p.VAR_KEYWORD for p in params.values()):
        kwargs = {k: v for k, v in kwargs.items() if k in params}
    value = mock(**kwargs)
    if inspect.isawaitable(value):
        value = await value
    return value


def _speaking_metrics(playout: _Playout, now: float) -> dict[str, float]:
    if playout.started_at is None:
        return {}
    stopped = playout.audio_end if playout.audio_end is not None else now
    out = {"started_speaking_at": round(playout.started_at, 9), "stopped_speaking_at": round(stopped, 9)}
    if playout.ttfb is not None:
        out["tts_node_ttfb"] = round(playout.ttfb, 9)
    return out
