"""AgentSession: LiveKit Agents 1.8's session, for text and voice conversations.

Theory of operation
-------------------
The session is the public face: options, lifecycle (``start``, ``drain``, ``aclose``), events
(``on``/``emit``), the history, the user and agent states and their idle timers, and the IO. The
work is done by three parts, each in its own module, that the session wires together:

.. code-block:: text

    AgentSession (session.py) ── options, lifecycle, events, history, states, IO
      ├─ _AgentActivity (activity.py)  one per active agent: speech queue and scheduler,
      │     │                          reply steps (LLM → playout → tools → follow-up)
      │     └─ _Playout, _TTSPipe (playout.py)  words to the text output or TTS audio on the clock,
      │                                         pauses, cuts, what was heard
      └─ _VoiceInput (voice.py)        the turn engine on the session's clock: observations in,
                                       decisions out (interruptions, pauses, preemptive replies,
                                       committed turns)

Imports run one way (session → activity → playout; session → voice); the back references are
for type checkers only. Everything is timed with the loop's clock, so the same code runs on the
real clock and, under :class:`~agentlab.clock.VirtualClock`, deterministically.

Agent state follows LiveKit: ``listening`` → ``thinking`` when a reply is authorized → ``speaking``
at the first text (text output) or first audio frame → ``listening`` at the end, or ``thinking``
while a tool follow-up is pending.

Deviations from LiveKit (also in docs/livekit-compatibility.md):

* ``generate_reply(user_input=...)`` (and so ``run()``) calls ``Agent.on_user_turn_completed``, so
  text conversations exercise the same hook as voice turns; ``StopResponse`` skips the reply.
* per-call ``instructions`` are sent as a trailing system message rather than merged into the
  agent's system prompt; ``session.history`` holds the conversation, not the system prompt.
* a tool that raises emits an ``error`` event (source ``"tool"``) besides its error output.
"""

from __future__ import annotations

import asyncio
import sys
import types
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .._secrets import scrub
from .._utils import NOT_GIVEN, IdFactory, current_ids, is_given, rounded
from ..chat import AgentHandoff, ChatContext, ChatItem, ChatMessage
from ..clock import Clock, clock_for
from ..engine.inputs import InputEvent, UserSpeech
from ..models.llm import LLM, APIError
from ..models.offline import named_components
from ..models.tts import TTS
from ..tools import FunctionTool, flatten_tools
from . import events as ev
from . import presence
from .activity import _AgentActivity, _log_task_error, run_agent_task, switch_activity
from .agent import Agent, AgentTask, _current_session
from .emitter import _EventEmitter
from .options import DEPRECATED_KWARGS, IgnoredOptionWarning, SessionOptions, build_options, check_components, warn_ignored
from .playout import Played, SessionOutput, _Playout
from .speech import SpeechHandle
from .tool_calls import _in_tool
from .voice import _VoiceInput

__all__ = ["AgentSession"]


class AgentSession(_EventEmitter):
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
        stt_context_options: Any = NOT_GIVEN,
        keyterms_options: Any = NOT_GIVEN,
        tool_handling: Any = NOT_GIVEN,
        expressive: Any = False,
        video_sampler: Any = NOT_GIVEN,
        ivr_detection: bool = False,
        conn_options: Any = NOT_GIVEN,
        mcp_servers: Any = NOT_GIVEN,
        loop: Any = None,
        **deprecated: Any,
    ) -> None:
        unknown = set(deprecated) - set(DEPRECATED_KWARGS)
        if unknown:
            raise TypeError(f"AgentSession: unknown argument(s) {sorted(unknown)}")
        if is_given(conn_options) and hasattr(conn_options, "max_unrecoverable_errors"):
            max_unrecoverable_errors = conn_options.max_unrecoverable_errors  # LiveKit's SessionConnectOptions
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
        warn_ignored(
            "AgentSession",
            stt_context_options=stt_context_options,
            keyterms_options=keyterms_options,
            tool_handling=tool_handling,
            expressive=expressive,
            video_sampler=video_sampler,
            ivr_detection=ivr_detection,
            mcp_servers=mcp_servers,
            use_tts_aligned_transcript=use_tts_aligned_transcript if use_tts_aligned_transcript is True else NOT_GIVEN,
            transcription_timeout=transcription_timeout,
        )
        llm, stt, tts = named_components(llm=llm, stt=stt, tts=tts)  # LiveKit's model names
        check_components(llm=llm, tts=tts, vad=vad, tools=tools)
        self._llm: LLM | None = llm if is_given(llm) else None
        self._tts: TTS | None = tts if is_given(tts) else None
        self._stt = stt if is_given(stt) else None
        self._vad = vad if is_given(vad) else None
        self._tools = flatten_tools(tools, owner="AgentSession")
        self._userdata = userdata
        self.on_wake_up = on_wake_up

        _EventEmitter.__init__(self)
        self._events: list[ev.AgentEvent] = []
        self._history = ChatContext()
        self._agent_state: ev.AgentState = "initializing"
        self._user_state: ev.UserState = "listening"
        self._activity: _AgentActivity | None = None
        self._handoff_from: Agent | None = None  # the agent the latest handoff item left
        self._agents: list[Agent] = []  # every agent that ran here (let go of at close)
        self._switches: set[asyncio.Task[Any]] = set()  # handoffs in progress
        self._mock_tools: dict[type, dict[str, Any]] = {}  # mock_tools(..., session=self)
        self._run_result: Any = None  # RunResult while session.run() is in progress
        self._transitions: set[asyncio.Task[Any]] = set()
        self._ids = current_ids.get() or IdFactory()
        self._clock: Clock | None = None
        self._t0 = 0.0
        self._elapsed: Callable[[], float] = lambda: 0.0  # seconds since start: the clock's stopwatch once started
        self._started = False
        self._closing = False
        self._closed: asyncio.Event | None = None
        self._ended = False  # ``_closed`` is set (a flag: every event checks it)
        self._away_timer: asyncio.TimerHandle | None = None
        self._wake_timer: asyncio.TimerHandle | None = None
        self._wake_fired = False
        self._error_streaks: dict[str, int] = {}  # unrecoverable LLM/TTS errors in a row, per source
        self._user_turn = _UserTurn()
        self._paused: list[_AgentActivity] = []  # callers of running AgentTasks, innermost last
        self._voice: _VoiceInput | None = None  # the turn engine and its input (voice sessions only)
        self._playback: list[Played] = []
        #: Where the agent's words go as they are spoken (LiveKit's ``session.output``).
        self.output = SessionOutput()
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
    def stt(self) -> Any:
        """The session's STT component (``None``: transcripts come with the simulated speech)."""
        return self._stt

    @property
    def vad(self) -> Any:
        """The session's VAD options or component (``None``: the defaults)."""
        return self._vad

    @property
    def usage(self) -> Any:
        """What the session used so far, per model (LiveKit's ``AgentSessionUsage``: ``model_usage``)."""
        from ..livekit.metrics import session_usage

        return session_usage(self._events)

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
        return self._elapsed()

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

    # --- events (on/off/once: emitter.py) -------------------------------------------------

    def _emit(self, event_cls: type, *, at: float | None = None, **fields: Any) -> Any:
        if self._ended:
            return None  # nothing follows ``close``
        now = self._elapsed()
        t = now if at is None else at
        event = event_cls(created_at=t, emitted_at=now, wall_time=self._clock.wall_time(self._t0 + t) if self._clock else 0.0, **fields)
        self._events.append(event)
        handlers = self._handlers.get(event.type)
        if handlers:
            self._dispatch(event, handlers)
        return event

    # --- lifecycle ------------------------------------------------------------------------

    async def start(
        self,
        agent: Agent,
        *,
        capture_run: bool = False,
        room: Any = NOT_GIVEN,
        room_options: Any = NOT_GIVEN,
        session_host: Any = NOT_GIVEN,
        record: Any = NOT_GIVEN,
        room_input_options: Any = NOT_GIVEN,
        room_output_options: Any = NOT_GIVEN,
    ) -> Any:
        """Start the session with ``agent``: emits its handoff item and runs ``on_enter``.

        With ``capture_run=True`` returns a :class:`RunResult` of what ``on_enter`` produced.
        ``room`` (a job's offline room), ``room_options`` and the other LiveKit room keywords are
        accepted and change nothing: audio and text run in-process. Inside a job
        (:mod:`agentlab.livekit`), the first session started is the job's ``primary_session``.
        """
        self.room_options = room_options if is_given(room_options) else None
        if self._started:
            raise RuntimeError("AgentSession.start: the session is already started")
        if self._options.wake_up is not None and self.on_wake_up is None:
            raise ValueError("AgentSession: wake_up is set but no on_wake_up callback; set session.on_wake_up = async_fn before start()")
        if not isinstance(agent, Agent):
            raise TypeError(f"AgentSession.start: expected an Agent, got {type(agent).__name__}")
        loop = asyncio.get_running_loop()
        self._clock = clock_for(loop)
        self._t0 = self._clock.now()
        self._elapsed = self._clock.stopwatch(self._t0)
        # Ids made in this task and the session's tasks (items, calls, chunks) count per session.
        current_ids.set(self._ids)
        self._closed = asyncio.Event()
        self._ended = False
        self._settle_changed = asyncio.Event()
        self._switch_lock = asyncio.Lock()
        self._started = True
        _current_session.set(self)
        job_module = sys.modules.get("agentlab.livekit._server")  # a job is only possible once it is loaded
        job = job_module.get_job_context(required=False) if job_module is not None else None
        if job is not None:
            job._register_session(self)
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
        presence.cancel(self)
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
        self._ended = True
        if self._run_result is not None:
            self._run_result._mark_done()
        if own_task is None or own_task.done():
            self._release()
        else:  # a tool closed the session: its reply still winds down
            own_task.add_done_callback(lambda _: self._release())

    def _release(self) -> None:
        """Cut the closed session's helpers and agents loose from it.

        They point back at the session, which points at them: every closed session was a cycle, so
        a dropped run (its events, history, handles) waited for the cyclic collector, whose passes
        took a tenth of a 100-turn simulation (benchmarks/bench_voice_session.py). Without the
        back-references, dropping a run frees it at once. Nothing of theirs runs after the close.
        """
        for activity in (self._activity, *self._paused):
            if activity is not None:
                activity.session = None  # type: ignore[assignment]
        for agent in self._agents:
            if agent._session is self:
                agent._session = None  # as LiveKit: ``agent.session`` raises once the session is over
        if self._voice is not None:
            self._voice.session = None  # type: ignore[assignment]
            self._voice.turn_task = None

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
        task = self._track(self._switch_activity(agent))
        self._switches.add(task)
        task.add_done_callback(self._switches.discard)

    async def _handoffs_done(self) -> None:
        """Wait for handoffs in progress (the old agent draining, the new one starting)."""
        while self._switches:
            await asyncio.wait(list(self._switches))

    async def run(self, *, user_input: str, input_modality: str = "text", output_type: Any = None) -> Any:
        """Send ``user_input`` and wait for everything it causes; returns a :class:`RunResult`.

        Example::

            result = await session.run(user_input="Book a table for two at 7")
            result.expect.next_event().is_function_call(name="check_availability")
        """
        from .run_result import RunResult

        if output_type is not None:
            raise NotImplementedError(
                "AgentSession.run: output_type (a typed final output) is not supported; an AgentTask's result is result.final_output"
            )
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
        if self._voice is not None:
            self._track(self._voice.commit_turn(fut, transcript_timeout, skip_reply))
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
        if self._voice is not None:
            self._voice.engine.clear_user_turn()
            self._voice.reset_turn_limit()

    # --- internals used by activities, runs and tasks ---------------------------------------

    def _require_activity(self, what: str) -> _AgentActivity:
        if self._activity is None:
            raise RuntimeError(f"AgentSession.{what}: the session is not started; call await session.start(agent) first")
        if self._closing and (self._activity._draining or self._activity._closed):
            # While closing, on_exit may still speak (LiveKit plays a goodbye said there); after it, nothing.
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
        task.add_done_callback(self._task_done)
        if self._run_result is not None:
            self._run_result._watch_task(task)
            if speech is not None:
                self._run_result._speeches.add(speech)
        return task

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._transitions.discard(task)
        _log_task_error(task)

    def _set_agent_state(self, state: ev.AgentState) -> None:
        if state == self._agent_state:
            return
        old, self._agent_state = self._agent_state, state
        if state == "speaking":
            self._error_streaks.clear()
            if self._voice is not None:
                self._voice.reset_turn_limit()  # user_turn_limit counts from the agent's last output
        self._emit(ev.AgentStateChangedEvent, old_state=old, new_state=state)
        presence.update(self)
        self._notify_engine()

    def _set_user_state(self, state: ev.UserState, *, at: float | None = None) -> None:
        if state == self._user_state:
            return
        if state == "speaking":
            self._wake_fired = False
        old, self._user_state = self._user_state, state
        self._emit(ev.UserStateChangedEvent, at=at, old_state=old, new_state=state)
        presence.update(self)

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

    def _adopt(self, agent: Agent) -> None:
        """``agent`` runs in this session now (its ``session`` property, until the session closes)."""
        agent._session = self
        self._agents.append(agent)

    def _retry_reporter(self, source: str) -> Callable[[APIError], None]:
        """What the provider client calls for each attempt it retries (see ``retry_observer``)."""
        return lambda error: self._report_error(error, source=source, recoverable=True)

    def _activate(self, agent: Agent, *, old: _AgentActivity | None) -> None:
        for node in ("stt_node", "realtime_audio_output_node"):
            if callable(getattr(type(agent), node, None)):
                warnings.warn(
                    f"{type(agent).__name__}.{node} is never called in agentlab (transcripts come from the inputs, "
                    "realtime models are not simulated)",
                    IgnoredOptionWarning,
                    stacklevel=3,
                )
        activity = _AgentActivity(self, agent)
        self._activity = activity
        self._adopt(agent)
        self._handoff_from = old.agent if old else None  # AgentHandoffEvent.old_agent of the item added now
        handoff = AgentHandoff(
            new_agent_id=agent.id, old_agent_id=old.agent.id if old else None, id=self._ids("item"), created_at=self.now()
        )
        self._add_item(handoff, agent)
        activity.start()
        if self._voice is not None:
            self._voice.reconfigure()  # turn handling is resolved per agent

    async def _switch_activity(self, agent: Agent) -> None:
        await switch_activity(self, agent)

    async def _run_agent_task(self, task: AgentTask[Any]) -> Any:
        return await run_agent_task(self, task)

    # --- voice input: the turn engine on the session's clock (voice.py) -------------------

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
        if self._voice is not None and wiring != self._voice.wiring:
            raise ValueError(
                f"AgentSession.attach_user_input: input is already attached with {self._voice.wiring}; "
                f"more input must use the same settings, got {wiring}"
            )
        self._require_activity("attach_user_input")
        if self._voice is None:
            self._voice = _VoiceInput(self, pausable_output=pausable_output, has_stt=stt)
            self._voice.notify()
        return self._voice.attach(source)

    async def wait_for_input(self) -> None:
        """Wait until the attached input has played and every decision and reply it caused is done."""
        if self._voice is not None:
            await self._voice.wait_for_input()

    def _notify_engine(self) -> None:
        """The current speech or the agent's state changed: the turn engine must know (voice only)."""
        if self._voice is not None:
            self._voice.notify()

    def _speech_state(self, handle: SpeechHandle, state: ev.AgentState) -> None:
        """A speech's own state change (a paused speech's is remembered for its resume)."""
        if self._voice is not None:
            self._voice.speech_state(handle, state)
        else:
            self._set_agent_state(state)

    def _log_playback(self, playout: _Playout, start: float, duration: float, offset: float, *, cut: bool) -> None:
        if duration > 0 and playout.frame is not None:
            self._playback.append(Played(playout.speech_id, rounded(start), rounded(duration), playout.frame, rounded(offset), cut))

    @property
    def playback(self) -> list[Played]:
        """Every stretch of agent audio that played: speech id, start, duration, frame, offset, cut short."""
        return list(self._playback)

    @property
    def user_speech(self) -> list[UserSpeech]:
        """The scripted user utterances attached with :meth:`attach_user_input` (empty otherwise)."""
        return list(self._voice.user_speech) if self._voice is not None else []

    @property
    def input_events(self) -> list[InputEvent]:
        """The VAD and STT observations fed to the turn engine (empty for text sessions)."""
        return list(self._voice.input_events) if self._voice is not None else []

    def __repr__(self) -> str:
        agent = self._activity.agent.label if self._activity else None
        return (
            f"AgentSession(agent={agent}, agent_state={self._agent_state!r}, user_state={self._user_state!r}, "
            f"items={len(self._history)}, events={len(self._events)})"
        )

    def _repr_html_(self) -> str:
        from ..frames import session_html

        return session_html(self)


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
