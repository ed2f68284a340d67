"""Voice input: the turn engine on the session's clock, and its decisions carried out.

Theory of operation
-------------------
A session with voice input (``attach_user_input``) gets one :class:`_VoiceInput`. It owns the
sans-I/O :class:`~agentlab.engine.TurnEngine` and is the only code that talks to it:

* **In**: each observation (VAD start and end, transcripts, the STT's end of speech) is a timer
  callback at its time; the engine's own next deadline is one more timer, re-armed after every
  decision. What the agent is doing goes in too (:meth:`_VoiceInput.notify`: is a speech current,
  audible, interruptible), whenever the session's speech or state changes.
* **Out**: :meth:`_VoiceInput.apply` carries out the engine's actions on the session: user state
  changes, ``user_input_transcribed`` events, the reply hold-off, interruptions and pauses of the
  current speech, false-interruption resumes, preemptive replies, and committed turns.
* **A committed turn** runs LiveKit's ``_user_turn_completed_task`` (reference §5): one at a time,
  the current speech interrupted first, ``on_user_turn_completed``, then the preemptive reply
  reused when it is still valid, else a fresh one; a newer turn wins.

The session stays the owner of speech and history; this module only decides *when*.

Example::

    session.attach_user_input([UserSpeech(0.5, 2.5, "Hello, how are you?", stt_delay=0.2)])
    await session.wait_for_input()
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .._utils import NOT_GIVEN, is_given, rounded
from ..chat import ChatContext, ChatMessage
from ..engine import turns as eng
from ..engine.inputs import InputEvent, ScriptedVAD, UserSpeech, speech_events
from ..tools import StopResponse
from . import events as ev
from . import presence
from .speech import SpeechHandle

if TYPE_CHECKING:
    from .activity import _AgentActivity
    from .session import AgentSession

logger = logging.getLogger("agentlab.session")


@dataclass
class _Preemptive:
    """A reply generated before the turn was committed, and what it was generated from."""

    handle: SpeechHandle
    transcript: str
    message: ChatMessage
    chat_ctx: ChatContext  # the agent's context when it started (a copy)
    tools: tuple[str, ...]


def _drop(pre: _Preemptive | None) -> None:
    """A preemptive reply that will not be used: stop it (if there is one, still running)."""
    if pre is not None and not pre.handle.done():
        pre.handle._mark_interrupted()


def _detector_meta(turn_detection: Any) -> tuple[str, str]:
    """EOU metrics' model and provider (LiveKit: a mode string gives model "unknown", provider = the mode)."""
    if turn_detection is None or isinstance(turn_detection, str):
        return "unknown", turn_detection or "vad"
    return getattr(turn_detection, "model", type(turn_detection).__name__), getattr(turn_detection, "provider", "unknown")


@dataclass
class _TurnLimitTracker:
    """Words and time since the agent last started speaking (reset then, and by clear_user_turn)."""

    started_at: float | None = None
    words: int = 0
    transcript: str = ""


def _word_count(text: str) -> int:
    # LiveKit's basic word tokenizer: whitespace-separated words, punctuation dropped ("five-six" is one)
    return sum(1 for w in text.split() if re.search(r"\w", w))


class _VoiceInput:
    """A session's voice input: the turn engine, the observations fed to it, and what its decisions did."""

    def __init__(self, session: AgentSession, *, pausable_output: bool, has_stt: bool) -> None:
        self.session = session
        self.wiring = {"pausable_output": pausable_output, "has_stt": has_stt}
        self.engine = eng.TurnEngine(self.engine_config())
        self.timer: asyncio.TimerHandle | None = None
        self.deadline: float | None = None
        self.final_arrived = asyncio.Event()
        self.user_silent = asyncio.Event()  # the reply hold-off: cleared while the user speaks
        self.user_silent.set()
        self.played = asyncio.Event()  # set while no attached observation is pending
        self.played.set()
        self.pending = 0
        self.preemptive: _Preemptive | None = None
        self.paused_speech: SpeechHandle | None = None
        self.paused_state: ev.AgentState = "listening"
        self.turn_seq = 0  # committed user turns; a reply made for an older one is cancelled
        self.turn_task: asyncio.Task[Any] | None = None
        self.skip_next_reply = False
        self.input_events: list[InputEvent] = []
        self.user_speech: list[UserSpeech] = []
        self.limit = _TurnLimitTracker()

    # --- configuration ------------------------------------------------------------------------

    def options(self) -> Any:
        """The current agent's turn handling (its ``turn_handling`` overrides the session's)."""
        o = self.session._options
        agent = self.session.current_agent
        return o.replace(**agent._turn_handling) if is_given(agent._turn_handling) and agent._turn_handling else o

    def engine_config(self) -> eng.EngineConfig:
        """The engine's configuration from :meth:`options`."""
        agent = self.session.current_agent
        return self.options().engine_config(
            has_stt=self.wiring["has_stt"], pausable=self.wiring["pausable_output"] and agent.tts is not None
        )

    def reconfigure(self) -> None:
        """A new agent is active: the engine decides with its options from now on."""
        self.engine.config = self.engine_config()
        self.engine.min_delay = self.engine.config.min_delay

    # --- observations in ------------------------------------------------------------------

    def attach(self, source: Any) -> asyncio.Future[None]:
        """``AgentSession.attach_user_input``'s work: schedule the observations of ``source``."""
        s = self.session
        items = list(source)
        if items and all(isinstance(i, UserSpeech) for i in items):
            events = speech_events(
                items,
                ScriptedVAD.of(s._vad),  # LiveKit 1.8.9's auto VAD (silero) unless the session was given one
                has_stt=self.wiring["has_stt"],
                stt_end_of_speech=s._options.turn_detection == "stt",
            )
        elif all(isinstance(i, InputEvent) for i in items):
            events = sorted(items)
        else:
            raise TypeError("AgentSession.attach_user_input: expected a list of UserSpeech or InputEvent")
        if events and events[0].t < s.now() - 1e-9:
            raise ValueError(
                f"AgentSession.attach_user_input: input starts at {events[0].t:.3f}s but the session is already at "
                f"{s.now():.3f}s; times are session seconds (attach input before it is due)"
            )
        if items and isinstance(items[0], UserSpeech):
            self.user_speech.extend(items)
        loop = asyncio.get_running_loop()
        self.input_events.extend(events)
        mine = loop.create_future()
        if not events:
            mine.set_result(None)
            return mine
        self.pending += len(events)
        self.played.clear()
        # Each observation is a timer callback (cheaper than a coroutine waking per event).
        for i, event in enumerate(events):
            loop.call_at(s._t0 + event.t, self.on_input_event, event, mine if i == len(events) - 1 else None)
        return mine

    def on_input_event(self, event: InputEvent, last: asyncio.Future[None] | None) -> None:
        s = self.session
        try:
            if s is not None and not s._closing:  # None: the session closed and let go of its input
                if self.timer is not None and self.deadline is not None and self.deadline <= s.now() + 1e-9:
                    # A deadline due at this same instant was set before this observation: it fires first.
                    self.timer.cancel()
                    self.on_timer()
                self.apply(getattr(self.engine, event.kind)(s.now(), **event.data))
        except Exception as exc:
            self.failed(exc)
        finally:
            if last is not None and not last.done():
                last.set_result(None)
            self.pending -= 1
            if self.pending == 0:
                self.played.set()

    def failed(self, exc: Exception) -> None:
        """A decision raised (a turn detector's bug, say): the conversation cannot go on, so it ends.

        Timer callbacks have no caller to raise to; left to asyncio the error would only be logged
        and the run would wait forever for a decision that never comes.
        """
        s = self.session
        if s._closing:
            return
        s._report_error(exc, source="turn_detection")
        s._track(s._close(reason="error", error=exc))

    def rearm(self) -> None:
        s = self.session
        deadline = self.engine.next_deadline() if not s._closing else None
        if self.timer is not None and deadline == self.deadline:
            return  # most decisions leave the next deadline where it was: keep the timer
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        self.deadline = deadline
        if deadline is not None:
            self.timer = asyncio.get_running_loop().call_at(s._t0 + deadline, self.on_timer)

    def on_timer(self) -> None:
        self.timer = None
        self.deadline = None
        if self.session is not None and not self.session._closing:
            try:
                self.apply(self.engine.on_timer(self.session.now()))
            except Exception as exc:
                self.failed(exc)

    def notify(self) -> None:
        """Tell the engine what the agent is doing now (a speech current, audible, interruptible)."""
        s = self.session
        if s._closing:
            return
        cur = s.current_speech
        active = cur is not None and not cur.done() and not cur.interrupted and not cur._in_tools
        playout = cur._playout if cur is not None else None
        audible = s._agent_state == "speaking" or (playout is not None and playout.paused and playout.started_at is not None)
        self.apply(self.engine.on_agent(s.now(), active=active, audible=audible, interruptible=cur.allow_interruptions if cur else True))

    # --- decisions out --------------------------------------------------------------------

    def apply(self, actions: list[eng.Action]) -> None:
        """Carry out the engine's decisions (sync: called from timers and the input driver)."""
        for a in actions:
            handler = _APPLY.get(type(a))
            if handler is not None:  # TranscriptDiscarded is only logged by the engine
                handler(self, a)
        self.rearm()

    def _user_state(self, a: eng.UserStateChange) -> None:
        self.session._set_user_state(a.state, at=a.at)

    def _transcribed(self, a: eng.Transcribed) -> None:
        s = self.session
        s._emit(ev.UserInputTranscribedEvent, transcript=a.transcript, is_final=a.is_final, language=a.language)
        if a.is_final:
            self.final_arrived.set()
            self.check_turn_limit(a.transcript)
            if s._user_state == "away":
                s._set_user_state("listening")  # LiveKit: a final transcript brings the user back
            else:
                presence.restart_away(s)  # ... and re-arms the away timer while both listen

    def _reply_hold(self, a: eng.ReplyHold) -> None:
        self.user_silent.clear() if a.hold else self.user_silent.set()

    def _commit(self, a: eng.CommitTurn) -> None:
        self.turn_seq += 1
        pre, self.preemptive = self.preemptive, None  # it was made for this turn, not a later one
        skip, self.skip_next_reply = self.skip_next_reply, False
        self.turn_task = self.session._track(self.on_turn_committed(a, self.turn_seq, pre, self.turn_task, skip))

    def reset_turn_limit(self) -> None:
        """The agent started speaking, or the user turn was cleared: user_turn_limit counts afresh."""
        self.limit = _TurnLimitTracker()

    def check_turn_limit(self, transcript: str) -> None:
        """LiveKit's ``user_turn_limit`` (reference §20.6): on every final transcript, the words and
        time since the agent last spoke; past a limit, the agent's ``on_user_turn_exceeded``."""
        s = self.session
        opts = self.options().user_turn_limit
        if opts.max_words is None and opts.max_duration is None:
            return
        now = s.now()
        t = self.limit
        if t.started_at is None:
            t.started_at = self.engine.vad_speech_start if self.engine.user_speaking and self.engine.vad_speech_start is not None else now
        t.words += _word_count(transcript)
        t.transcript = f"{t.transcript} {transcript}".strip()
        duration = now - t.started_at
        if (opts.max_duration is not None and duration >= opts.max_duration) or (opts.max_words is not None and t.words >= opts.max_words):
            current = " ".join([*self.engine.turn.finals, self.engine.turn.interim]).strip()
            event = s._emit(
                ev.UserTurnExceededEvent,
                transcript=current,
                accumulated_transcript=t.transcript,
                accumulated_word_count=t.words,
                duration=rounded(duration),
            )
            if event is not None and s._activity is not None:
                s._activity.on_user_turn_exceeded(event)

    def interrupt_current(self) -> None:
        """Interrupt the current speech and forget its pause. Interrupted first, so a paused
        playout is not resumed, not even for an instant."""
        cur = self.session.current_speech
        if cur is not None and not cur.done():
            cur._mark_interrupted()
            self.resume_paused(declare=False)

    def pause_current(self, *, listening: bool = True) -> None:
        s = self.session
        cur = s.current_speech
        if cur is None or cur.done():
            return
        cur._pause_requested = True
        if cur._playout is not None:
            cur._playout.pause()
        if self.paused_speech is not cur:  # a second pause keeps the state the first one saw (LiveKit)
            self.paused_speech = cur
            self.paused_state = s._agent_state
        if listening:
            s._set_agent_state("listening")

    def speech_state(self, handle: SpeechHandle, state: ev.AgentState) -> None:
        """A speech's own state change; while it is paused, remember it for the resume instead."""
        if self.paused_speech is handle and state != "listening":
            self.paused_state = state
        else:
            self.session._set_agent_state(state)

    def resume_paused(self, *, declare: bool) -> None:
        s = self.session
        cur = self.paused_speech
        self.paused_speech = None
        if cur is None:
            return
        cur._pause_requested = False
        resumed = not cur.done() and not cur.interrupted
        if resumed and cur._playout is not None:
            cur._playout.resume()
        if declare:
            if resumed:
                frame_waiting = cur._playout is not None and cur._playout.frame_waiting
                if not (frame_waiting and self.paused_state == "thinking"):  # else its first frame says "speaking"
                    s._set_agent_state(self.paused_state)
            s._emit(ev.AgentFalseInterruptionEvent, resumed=resumed)

    def start_preemptive(self, transcript: str) -> None:
        s = self.session
        self.cancel_preemptive()
        activity = s._activity
        if activity is None or activity._draining or s._closing:
            return
        agent = activity.agent
        msg = ChatMessage(role="user", content=[transcript], id=s._ids("item"), created_at=s.now())
        handle = activity.new_handle(NOT_GIVEN, source="generate_reply", schedule=False)
        chat_ctx = agent._chat_ctx.copy()
        tools = tuple(t.name for t in agent.tools)
        s._track(
            activity.run_reply(handle, user_message=msg, instructions=None, tool_choice=None, chat_ctx=None, preemptive=True), speech=handle
        )
        self.preemptive = _Preemptive(handle=handle, transcript=transcript, message=msg, chat_ctx=chat_ctx, tools=tools)

    def cancel_preemptive(self) -> None:
        pre, self.preemptive = self.preemptive, None
        _drop(pre)

    # --- committed turns ------------------------------------------------------------------

    async def on_turn_committed(
        self, c: eng.CommitTurn, seq: int, pre: _Preemptive | None, previous: asyncio.Task[Any] | None, skip_reply: bool
    ) -> None:
        """LiveKit's _user_turn_completed_task (reference §5): one at a time, and a newer turn wins."""
        s = self.session
        if previous is not None and not previous.done():
            await asyncio.gather(previous, return_exceptions=True)  # awaited, never cancelled

        activity = s._activity
        if activity is None or s._closing:
            _drop(pre)
            return
        agent = activity.agent
        cur = s.current_speech
        if not c.transcript:
            # A turn without words (VAD-only pipeline): it still takes the floor, but there is nothing to answer.
            _drop(pre)
            if cur is not None and cur.allow_interruptions:
                self.interrupt_current()
            return
        if cur is not None and not cur.done() and not cur.allow_interruptions:
            logger.warning("user turn dropped: the current speech %s cannot be interrupted", cur.id)
            s._emit(ev.UserTurnDroppedEvent, transcript=c.transcript, reason="uninterruptible", speech_id=cur.id)
            _drop(pre)
            return
        msg = ChatMessage(role="user", content=[c.transcript], id=s._ids("item"), created_at=s.now(), transcript_confidence=c.confidence)
        msg.metrics.update(
            {
                k: rounded(v)
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
            self.interrupt_current()
            await cur.wait_for_playout()  # the cut assistant message lands before the user's
        if self.skip_during_handoff(activity, c, pre):
            return
        if skip_reply:
            _drop(pre)
            s._add_item(msg, agent)
            return
        turn_ctx = agent._chat_ctx.copy()
        hook_start = s.now()
        try:
            await agent.on_user_turn_completed(turn_ctx, msg)
        except StopResponse:
            _drop(pre)
            return
        hook_delay = s.now() - hook_start
        if self.skip_during_handoff(activity, c, pre):
            return
        reuse = (
            pre is not None
            and not pre.handle.done()
            and eng.words_of(pre.transcript) == eng.words_of(c.transcript)
            and turn_ctx.is_equivalent(pre.chat_ctx)
            and tuple(t.name for t in agent.tools) == pre.tools
        )
        if reuse:
            assert pre is not None
            pre.message.content[:] = msg.content
            pre.message.metrics.update(msg.metrics)
            pre.message.transcript_confidence = msg.transcript_confidence  # created_at stays: LiveKit keeps the preemptive's message
            msg = pre.message
            handle = pre.handle
        else:
            _drop(pre)
            handle = activity.new_handle(NOT_GIVEN, source="generate_reply", schedule=False)
        model, provider = _detector_meta(s._options.turn_detection)
        s._emit(
            ev.MetricsCollectedEvent,
            metrics=ev.EOUMetrics(
                timestamp=s.now(),
                end_of_utterance_delay=c.end_of_utterance_delay,
                transcription_delay=c.transcription_delay,
                on_user_turn_completed_delay=rounded(hook_delay),
                speech_id=handle.id,
                model=model,
                provider=provider,
            ),
        )
        if reuse:
            s._add_item(msg, agent, reply_ctx=None)
        else:
            s._track(
                activity.run_reply(handle, user_message=msg, instructions=None, tool_choice=None, chat_ctx=turn_ctx, hook_done=True),
                speech=handle,
            )
        if seq != self.turn_seq:
            handle._mark_interrupted()  # the user spoke again meanwhile: the newer turn gets the reply
        activity.schedule(handle)

    def skip_during_handoff(self, activity: _AgentActivity, c: eng.CommitTurn, pre: _Preemptive | None) -> bool:
        """As LiveKit (end of turn while scheduling is paused): a turn that ends while the agent hands
        off is skipped with a warning, not forwarded to the next agent. The speech it cut stays cut."""
        if not (activity._draining or self.session._activity is not activity):
            return False
        logger.warning("user turn skipped: %s is handing off: %r", activity.agent.label, c.transcript)
        self.session._emit(ev.UserTurnDroppedEvent, transcript=c.transcript, reason="handoff")
        _drop(pre)
        return True

    async def commit_turn(self, fut: asyncio.Future[str], transcript_timeout: float, skip_reply: bool) -> None:
        """``commit_user_turn`` with voice input: wait for a final (or promote the interim), then commit."""
        s = self.session
        engine = self.engine
        deadline = s.now() + transcript_timeout
        while (engine.user_speaking or engine.turn.interim) and s.now() < deadline:
            self.final_arrived.clear()
            try:
                await asyncio.wait_for(self.final_arrived.wait(), deadline - s.now())
            except asyncio.TimeoutError:
                break
        if engine.turn.interim:  # no final came: the interim text is what the user said
            engine.turn.finals.append(engine.turn.interim)
            engine.turn.interim = ""
        text = engine.turn.text
        self.skip_next_reply = skip_reply
        if not fut.done():
            fut.set_result(text)
        if text:
            self.apply(engine.commit_manual(s.now()))

    async def wait_for_input(self) -> None:
        """Until the attached input has played and every decision and reply it caused is done."""
        s = self.session
        await self.played.wait()
        while True:
            deadline = self.engine.next_deadline()
            if deadline is not None:
                await asyncio.sleep(max(0.0, deadline - s.now()) + 1e-9)
                continue
            await s.wait_for_idle()
            if self.engine.next_deadline() is None:
                return


#: What the session does with each of the engine's decisions (see :meth:`_VoiceInput.apply`).
_APPLY: dict[type, Callable[[_VoiceInput, Any], None]] = {
    eng.UserStateChange: _VoiceInput._user_state,
    eng.Transcribed: _VoiceInput._transcribed,
    eng.ReplyHold: _VoiceInput._reply_hold,
    eng.InterruptAgent: lambda v, a: v.interrupt_current(),
    eng.PauseAgent: lambda v, a: v.pause_current(listening=a.listening),
    eng.ResumeAgent: lambda v, a: v.resume_paused(declare=True),
    eng.StartPreemptive: lambda v, a: v.start_preemptive(a.transcript),
    eng.CancelPreemptive: lambda v, a: v.cancel_preemptive(),
    eng.CommitTurn: _VoiceInput._commit,
}
