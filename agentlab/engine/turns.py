"""The turn engine: LiveKit 1.8.9's turn-taking decisions as a pure state machine.

Theory of operation
-------------------
The engine knows nothing of asyncio, audio or clocks. It is fed *timestamped* observations —
the VAD's start/end of speech, transcripts, the agent's speech starting, stopping and becoming
(un)interruptible, manual commits — and answers each with a list of :class:`Action`s for the
session to carry out (commit a user turn, interrupt or pause the agent, start a preemptive
reply...). It also names its next *deadline*; the driver calls :meth:`TurnEngine.on_timer` then.
The same engine is driven by the asyncio session (real or virtual clock) and can be driven by a
plain loop for fast replays. Times are seconds on one clock, chosen by the driver.

The user side is a small state machine over the turn being built:

================  ==========================================================================
``idle``          no user speech since the last commit
``speaking``      the VAD hears speech
``waiting_stt``   speech ended, but an STT is configured and no final transcript came yet
``endpointing``   the end-of-turn timer runs; the turn commits at ``deadline`` unless the
                  user speaks again
================  ==========================================================================

Transitions are in :data:`USER_TRANSITIONS` (state, event) → state; the guards and the timing
rule live in the handlers. The timing rule is LiveKit's (reference §4.3, verified by sweep)::

    commit = max(VAD end-of-speech, last final transcript, detector prediction,
                 speech_end + (max_delay if P(end of turn) < threshold else min_delay))

Interruption (reference §7) is a gate, checked when the user's VAD speech reaches
``min_duration``, on every final transcript (which bypasses the duration), and on interim
transcripts when there is no VAD. It does nothing in manual mode, during AEC warm-up, when
``min_words`` is not reached, or when the current speech does not allow interruptions. With a
pausable output and ``resume_false_interruption`` the agent is *paused*; if no turn commits within
``false_interruption_timeout`` after the user stops, it *resumes*. Otherwise it is stopped.

Deviations (documented in docs/livekit-compatibility.md): the VAD is event-driven (segments with
their detection times, not 32 ms frames), so the reply hold-off is set at end-of-speech detection
and cleared at start-of-speech detection; there is no "accumulated silence <= min_delay/2"
refinement inside a segment because segments have no inner silences.

Example::

    engine = TurnEngine(EngineConfig(min_delay=0.5, has_stt=True))
    engine.on_vad_start(0.55, speech_start=0.5)
    engine.on_vad_end(2.75, speech_end=2.5)
    engine.on_transcript(2.7, "Hello, how are you?", is_final=True)
    engine.next_deadline()          # 3.0 = max(2.75, 2.7, 2.5 + 0.5)
    engine.on_timer(3.0)            # [CommitTurn(transcript='Hello, how are you?', ...)]
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Literal, Protocol, Union

from .._frozen import frozen
from .._utils import rounded

__all__ = [
    "USER_TRANSITIONS",
    "Action",
    "CancelPreemptive",
    "CommitTurn",
    "EngineConfig",
    "InterruptAgent",
    "PauseAgent",
    "ReplyHold",
    "ResumeAgent",
    "StartPreemptive",
    "Transcribed",
    "TranscriptDiscarded",
    "TurnDetectorModel",
    "TurnEngine",
    "UserStateChange",
    "words_of",
]

UserTurnState = Literal["idle", "speaking", "waiting_stt", "endpointing"]
Event = Literal["vad_start", "vad_end", "eou_armed", "commit", "refused", "clear"]

#: (state, event) -> new state. Events not listed leave the state unchanged.
USER_TRANSITIONS: dict[tuple[UserTurnState, Event], UserTurnState] = {
    ("idle", "vad_start"): "speaking",
    ("waiting_stt", "vad_start"): "speaking",
    ("endpointing", "vad_start"): "speaking",  # the user kept talking: the pending commit is cancelled
    ("speaking", "vad_end"): "waiting_stt",  # until the end-of-turn rule says otherwise
    ("waiting_stt", "eou_armed"): "endpointing",
    ("idle", "eou_armed"): "endpointing",  # a transcript without VAD speech (or manual commit)
    ("endpointing", "eou_armed"): "endpointing",  # re-armed by a later final transcript
    ("endpointing", "commit"): "idle",
    ("endpointing", "refused"): "idle",  # min_words refused it; the transcript is kept for the next turn
    ("waiting_stt", "clear"): "idle",
    ("endpointing", "clear"): "idle",
}


# --- actions -------------------------------------------------------------------------------


@frozen
class UserStateChange:
    """The user started or stopped speaking; ``at`` is the backdated speech edge."""

    state: Literal["speaking", "listening"]
    at: float


@frozen
class Transcribed:
    """Emit ``user_input_transcribed``."""

    transcript: str
    is_final: bool
    language: str | None = None


@frozen
class TranscriptDiscarded:
    """Words the STT never heard: it was fed silence while they were spoken (LiveKit's echo guard).

    ``reason`` is ``"aec_warmup"`` (the agent was speaking during its echo-cancellation warm-up) or
    ``"uninterruptible"`` (uninterruptible agent speech with ``discard_audio_if_uninterruptible``);
    ``spoken_at`` is when the (last) discarded word was spoken. The session has no transcript to
    emit for them; sweeps report them (a turn lost this way is not a missed end of turn).
    """

    transcript: str
    reason: Literal["aec_warmup", "uninterruptible"]
    spoken_at: float


@frozen
class CommitTurn:
    """The user's turn is over: reply to ``transcript``.

    ``speech_start``/``speech_end`` are the turn's first and last speech edges;
    ``end_of_utterance_delay`` = commit time − speech end; ``transcription_delay`` = last final
    transcript − speech end (LiveKit's EOUMetrics).
    """

    transcript: str
    speech_start: float | None
    speech_end: float | None
    end_of_utterance_delay: float
    transcription_delay: float
    confidence: float | None = None
    probability: float | None = None


@frozen
class InterruptAgent:
    """Stop the current speech (hard stop)."""

    reason: Literal["vad", "transcript", "false_interruption_confirmed"]


@frozen
class PauseAgent:
    """Pause the current speech's audio (a possible false interruption). ``listening``: the agent
    state becomes listening (LiveKit: a pause by the interruption gate does; the pause at the
    user's first sound, before the reply is audible, leaves the state as it is)."""

    listening: bool = True


@frozen
class ResumeAgent:
    """The pause was a false interruption: resume the audio (``agent_false_interruption``)."""

    resumed: bool = True


@frozen
class StartPreemptive:
    """Start generating a reply to ``transcript`` before the turn is committed (cancels any previous one)."""

    transcript: str


@frozen
class CancelPreemptive:
    """Cancel the running preemptive reply (a newer final transcript made it stale)."""


@frozen
class ReplyHold:
    """Replies may start only while ``hold`` is False (the user is silent)."""

    hold: bool


Action = Union[
    UserStateChange,
    Transcribed,
    TranscriptDiscarded,
    CommitTurn,
    InterruptAgent,
    PauseAgent,
    ResumeAgent,
    StartPreemptive,
    CancelPreemptive,
    ReplyHold,
]


class TurnDetectorModel(Protocol):
    """An end-of-turn model: ``predict`` gives P(turn is over) when the user stops.

    Text models read ``transcript``; audio models (analysed once per recording) look up their
    probability for the speech that ended at ``speech_end``. ``latency`` is the modelled inference
    time in seconds (real threads are not on the virtual clock, so it is explicit);
    ``unlikely_threshold(language)`` is the per-language cut (``None``: no opinion, use min_delay).
    """

    latency: float

    def predict(self, transcript: str, *, language: str | None = None, speech_end: float | None = None) -> float: ...

    def unlikely_threshold(self, language: str | None) -> float | None: ...


@frozen
class EngineConfig:
    """The options the engine decides with (a flat view of :class:`SessionOptions` plus the wiring)."""

    mode: Literal["vad", "stt", "manual"] | None = None  # None: VAD-based with an optional detector
    min_delay: float = 0.5
    max_delay: float = 3.0
    dynamic: bool = False
    alpha: float = 0.9
    interruptions: bool = True
    min_duration: float = 0.5
    min_words: int = 0
    resume_false_interruption: bool = True
    false_interruption_timeout: float | None = 2.0
    discard_audio_if_uninterruptible: bool = True
    preemptive: bool = True
    preemptive_max_speech_duration: float = 10.0
    preemptive_max_retries: int = 3
    aec_warmup_duration: float | None = None
    has_vad: bool = True
    has_stt: bool = True
    pausable: bool = False
    detector: TurnDetectorModel | None = None


def words_of(text: str) -> list[str]:
    """Words of a transcript, as the min_words rule and the preemptive reuse check count them."""
    return re.findall(r"[\w']+", text.lower())


@dataclass
class _Turn:
    finals: list[str] = field(default_factory=list)
    interim: str = ""
    confidences: list[float] = field(default_factory=list)
    speech_start: float | None = None
    last_speaking: float | None = None  # the end-of-turn anchor (true end of the last speech)
    last_final_at: float | None = None
    language: str | None = None

    @property
    def text(self) -> str:
        return " ".join(self.finals).strip()

    def words(self) -> int:
        return len(words_of(" ".join([*self.finals, self.interim])))


@dataclass
class _Agent:
    active: bool = False  # a current speech exists (thinking or speaking) and is not interrupted
    audible: bool = False  # it is playing audio (speaking)
    interruptible: bool = True
    paused: bool = False
    paused_before_audible: bool = False  # paused while still thinking: resumes right at the end of the noise
    first_speaking_at: float | None = None
    last_started_at: float | None = None
    # When the agent was audible / active and uninterruptible: [start, end) with end None while open.
    # Transcripts are judged at the time their words were spoken, which is in the past.
    audible_spans: list[list[float | None]] = field(default_factory=list)
    uninterruptible_spans: list[list[float | None]] = field(default_factory=list)


def _within(spans: list[list[float | None]], t: float) -> bool:
    return any(s <= t and (e is None or t < e) for s, e in spans)  # type: ignore[operator]


#: Spans that ended longer ago than this are dropped: no transcript arrives 5 minutes after its
#: words, and an 8-hour conversation must not keep (and scan) every span it ever had.
SPAN_HORIZON = 300.0


def _track(spans: list[list[float | None]], on: bool, t: float) -> None:
    open_ = bool(spans) and spans[-1][1] is None
    if on and not open_:
        while spans and spans[0][1] is not None and spans[0][1] < t - SPAN_HORIZON:  # type: ignore[operator]
            spans.pop(0)
        spans.append([t, None])
    elif not on and open_:
        spans[-1][1] = t


#: The method that handles each deadline when it falls due.
_DEADLINE_HANDLERS = {
    "interrupt_check": "_on_interrupt_check",
    "eou": "_on_eou_deadline",
    "false_interruption": "_on_false_interruption_timeout",
    "hold_release": "_on_hold_release",
}


class TurnEngine:
    """LiveKit's endpointing, interruption, false-interruption, preemption and hold-off rules.

    Feed observations with the ``on_*`` methods (each returns the actions to take, in order) and
    call :meth:`on_timer` at :meth:`next_deadline`. See the module docstring for the rules.
    """

    def __init__(self, config: EngineConfig) -> None:
        self.config = config
        self.state: UserTurnState = "idle"
        self.turn = _Turn()
        self.agent = _Agent()
        self.user_speaking = False  # inside a VAD segment (start detected, end not yet declared)
        self.speech_present = False  # the VAD counts speech duration now (a "voiced" VAD: not in the silence tail)
        self._speech_accum = 0.0  # speech seconds so far in this segment, before the current stretch
        self._present_since = 0.0
        self._frames: tuple[float, float] | None = None  # (time of the span's first frame, frame interval)
        self.vad_speech_start: float | None = None
        self._hold_released = False  # the reply hold-off lifted during the current VAD span (its silence)
        self.min_delay = config.min_delay  # the learned value in dynamic mode
        self._deadlines: dict[str, float] = {}
        self._probability: float | None = None
        self._preemptive_attempts = 0
        self._preemptive_running = False  # a preemptive reply was started for this turn and not yet cancelled
        self._prev_speech_end: float | None = None
        self._agent_spoke_since_user = False

    # --- bookkeeping --------------------------------------------------------------------

    def _go(self, event: Event) -> None:
        self.state = USER_TRANSITIONS.get((self.state, event), self.state)

    def next_deadline(self) -> float | None:
        """The earliest time :meth:`on_timer` must be called, or ``None``."""
        return min(self._deadlines.values()) if self._deadlines else None

    def on_timer(self, t: float) -> list[Action]:
        """Fire every deadline due at ``t`` (earliest first)."""
        actions: list[Action] = []
        deadlines = self._deadlines
        while deadlines:
            due = [(when, name) for name, when in deadlines.items() if when <= t + 1e-9]
            if not due:
                break
            when, name = min(due)
            del deadlines[name]
            actions += getattr(self, _DEADLINE_HANDLERS[name])(max(t, when))
        return actions

    # --- user speech ----------------------------------------------------------------------

    def on_vad_start(self, t: float, *, speech_start: float, interval: float | None = None) -> list[Action]:
        """The VAD detected speech at ``t`` that began at ``speech_start``.

        ``interval`` is the VAD's frame interval (Silero: 32 ms): LiveKit runs the interruption
        gate on the VAD's frames, every ``interval`` from ``t`` until the span ends. Without it the
        engine checks at the exact instant a condition changes.
        """
        c = self.config
        actions: list[Action] = [UserStateChange("speaking", at=speech_start), ReplyHold(True)]
        if c.dynamic and self._prev_speech_end is not None and not self._agent_spoke_since_user:
            self._learn_pause(speech_start - self._prev_speech_end)
        elif c.dynamic and self.agent.last_started_at is not None and self._prev_speech_end is not None:
            # An "immediate interruption": the agent started soon after the user stopped and the
            # user resumed within the current min delay of it, so the pause was a premature end.
            started = self.agent.last_started_at
            if started - self._prev_speech_end <= c.max_delay and speech_start - started <= self.min_delay:
                self._learn_pause(speech_start - self._prev_speech_end)
        self.user_speaking = True
        self.speech_present = True
        self._hold_released = False
        self._deadlines.pop("hold_release", None)
        self._speech_accum, self._present_since = 0.0, speech_start
        self._frames = (t, interval) if interval else None
        self.vad_speech_start = speech_start
        if self.turn.speech_start is None:
            # LiveKit: a turn starts at its first VAD speech since the last commit, even a sound that
            # never became words (a cough, then the real words: the turn starts at the cough).
            self.turn.speech_start = speech_start
        self._deadlines.pop("eou", None)
        self._deadlines.pop("false_interruption", None)
        self._probability = None
        self._go("vad_start")
        if self.agent.active and not self.agent.audible and self._can_pause() and self.agent.interruptible and not self.agent.paused:
            # LiveKit: any speech while an interruptible reply is pending but not yet audible pauses it at once,
            # with a zero timeout (it resumes at the end of the noise) until the speech reaches min_duration.
            self.agent.paused = True
            self.agent.paused_before_audible = True
            actions.append(PauseAgent(listening=False))
        # Without agent speech there is nothing to interrupt; on_agent arms the check if speech starts.
        self._arm_interrupt_check(speech_start)
        return actions + self.on_timer(t)

    def on_vad_end(self, t: float, *, speech_end: float) -> list[Action]:
        """The VAD detected at ``t`` that speech stopped at ``speech_end``."""
        if not self.user_speaking:
            return []  # already flushed by the STT's end of speech (stt mode)
        actions: list[Action] = [UserStateChange("listening", at=speech_end)]
        if not self._hold_released:
            actions.append(ReplyHold(False))
        self._hold_released = False
        self._deadlines.pop("hold_release", None)
        self.user_speaking = False
        self.speech_present = False
        self._deadlines.pop("interrupt_check", None)
        self.turn.last_speaking = speech_end
        self._prev_speech_end = speech_end
        self._agent_spoke_since_user = False
        self._go("vad_end")
        if self.agent.paused and self.config.false_interruption_timeout is not None:
            timeout = 0.0 if self.agent.paused_before_audible else self.config.false_interruption_timeout
            self._deadlines["false_interruption"] = t + timeout
        if self.config.mode in (None, "vad"):
            actions += self._run_eou(t)
        return actions

    def on_vad_silence(self, t: float) -> list[Action]:
        """A "voiced" VAD (LiveKit's test VAD) stopped counting speech at ``t``: its speech duration
        stays where it is through the silence tail (LiveKit's real VAD counts the whole span and
        sends no such event)."""
        if self.user_speaking:
            self._arm_hold_release(t)
        if self.speech_present:
            self._speech_accum += t - self._present_since
            self.speech_present = False
            if self._speech_accum < self.config.min_duration:
                self._deadlines.pop("interrupt_check", None)  # it will not reach min_duration in this silence
        return []

    def on_vad_pause(self, t: float) -> list[Action]:
        """A VAD that counts the whole span as speech (LiveKit's real one) heard silence from ``t``:
        its speech duration goes on, but its silence counter starts (see :meth:`_arm_hold_release`)."""
        if self.user_speaking:
            self._arm_hold_release(t)
        return []

    def _arm_hold_release(self, silence_from: float) -> None:
        # LiveKit's reply hold-off (reference §8): on each VAD frame while the user speaks, a reply
        # may start once the frame's accumulated silence exceeds half the endpointing min delay, so
        # a pending reply (a tool follow-up, a say) need not wait for the VAD's end of speech.
        self._deadlines["hold_release"] = self._at_frame(silence_from + self.min_delay / 2, after=True)

    def _on_hold_release(self, t: float) -> list[Action]:
        if not self.user_speaking or self._hold_released:
            return []
        self._hold_released = True
        return [ReplyHold(False)]

    def on_vad_speech(self, t: float) -> list[Action]:
        """Speech again inside the same VAD segment (a pause shorter than ``min_silence_duration``)."""
        actions: list[Action] = []
        self._deadlines.pop("hold_release", None)
        if self._hold_released:
            self._hold_released = False
            actions.append(ReplyHold(True))  # the silence counter is back to zero
        if self.user_speaking and not self.speech_present:
            self.speech_present = True
            self._present_since = t
            self._arm_interrupt_check(t)
        return actions

    def _speech_duration(self, t: float) -> float:
        return self._speech_accum + (t - self._present_since if self.speech_present else 0.0)

    def _at_frame(self, t: float, *, after: bool = False) -> float:
        """The VAD frame at ``t`` or the first one later (strictly later with ``after``); ``t`` itself without frames."""
        if self._frames is None:
            return t
        first, interval = self._frames
        tk = first + math.ceil((t - first) / interval - 1e-9) * interval
        if after and tk <= t + 1e-9:
            tk += interval
        return rounded(tk)

    def _arm_interrupt_check(self, t: float, *, after: bool = False) -> None:
        """LiveKit runs the interruption gate on every VAD frame of the span whose speech duration has
        reached ``min_duration``. The gate's answer only changes when something it reads changes, so
        one check is armed for the first frame where it could act: when the duration gets there, or,
        after a change (a transcript, the agent's speech, the warm-up's end), the next frame."""
        if self.config.mode == "manual" or not self.agent.active or not self.user_speaking:
            return
        d = self._speech_duration(t)
        if d >= self.config.min_duration - 1e-9:
            due = self._at_frame(t, after=after)  # frames run on through the silence tail
        elif self.speech_present:
            due = self._at_frame(t + self.config.min_duration - d)
        else:
            return
        current = self._deadlines.get("interrupt_check")
        if current is None or due < current:
            self._deadlines["interrupt_check"] = due

    def on_transcript(
        self,
        t: float,
        text: str,
        *,
        is_final: bool,
        confidence: float | None = None,
        word_end: float | None = None,
        language: str | None = None,
        words: tuple[tuple[str, float, float], ...] | None = None,
    ) -> list[Action]:
        """An interim or final transcript arrived at ``t``.

        ``words`` (``(word, start, end)``, optional) lets the echo guard drop just the words spoken
        while the STT was fed silence; without them the whole transcript is judged at ``word_end``.
        """
        c = self.config
        actions: list[Action] = []
        if words and self._may_discard(words[0][1], words[-1][2]):
            heard, dropped, reason = [], [], None
            for w in words:
                why = self._unheard((w[1] + w[2]) / 2)
                if why is None:
                    heard.append(w)
                else:
                    dropped.append(w)
                    reason = reason or why
            if dropped:
                if is_final:
                    assert reason is not None
                    actions.append(TranscriptDiscarded(" ".join(w[0] for w in dropped), reason, dropped[-1][2]))
                if not heard:
                    return actions
                text, word_end = " ".join(w[0] for w in heard), heard[-1][2]
        else:
            spoken = min(word_end, t) if word_end is not None else t
            reason = self._unheard(spoken)
            if reason is not None:  # the STT heard silence then: uninterruptible speech, or echo-cancellation warm-up
                return [TranscriptDiscarded(text, reason, spoken)] if is_final and text.strip() else []
        if is_final and not text.strip():
            return actions  # an empty final (noise, a cough) is no transcript at all
        actions.append(Transcribed(text, is_final, language))
        if not is_final:
            self.turn.interim = text
            if not c.has_vad and text.strip():
                actions += self._interrupt_gate(t, "transcript")
            elif c.min_words:
                self._arm_interrupt_check(t, after=True)  # the next VAD frame sees the new words
            return actions
        words_before = self.turn.words()  # LiveKit gates a final before adding it (§19): finals so far + interim
        self.turn.interim = ""
        self.turn.finals.append(text.strip())
        self.turn.language = language or self.turn.language
        if confidence is not None:
            self.turn.confidences.append(confidence)
        self.turn.last_final_at = t
        if not c.has_vad or (self.turn.last_speaking is None and not self.user_speaking) or (c.mode == "stt" and word_end is not None):
            # No VAD, the VAD missed it, or stt mode with word times (LiveKit 1.8.9): the transcript anchors the end of turn.
            self.turn.last_speaking = min(word_end, t) if word_end is not None else t
            if self.turn.speech_start is None:
                self.turn.speech_start = self.turn.last_speaking
        if self.agent.paused:
            # Words were said: the pause was a real interruption.
            self.agent.paused = False
            self._deadlines.pop("false_interruption", None)
            actions.append(InterruptAgent("false_interruption_confirmed"))
        else:
            actions += self._interrupt_gate(t, "transcript", words=words_before)
            if c.min_words:
                self._arm_interrupt_check(t, after=True)
        if c.mode != "stt":  # in stt mode the STT's end of speech commits first (LiveKit)
            actions += self._maybe_preempt(t)
        if not self.user_speaking and c.mode in (None, "vad"):
            actions += self._run_eou(t)
        return actions

    def on_stt_end_of_speech(self, t: float) -> list[Action]:
        """STT mode: the STT says the user stopped (drives endpointing)."""
        if self.config.mode != "stt":
            return []
        if self.turn.last_speaking is None:
            self.turn.last_speaking = t
        actions: list[Action] = []
        if self.user_speaking:
            # LiveKit flushes a VAD still mid-segment: the STT has the last word on when speech ended.
            self.user_speaking = False
            self._deadlines.pop("interrupt_check", None)
            self._deadlines.pop("hold_release", None)
            self._prev_speech_end = self.turn.last_speaking
            self._go("vad_end")
            actions.append(UserStateChange("listening", at=self.turn.last_speaking))
            if not self._hold_released:
                actions.append(ReplyHold(False))
            self._hold_released = False
        return actions + self._maybe_preempt(t) + self._run_eou(t)

    def on_stt_start_of_speech(self, t: float) -> list[Action]:
        """STT mode: the STT heard speech again; a pending commit is cancelled."""
        if self.config.mode == "stt":
            self._deadlines.pop("eou", None)
        return []

    def commit_manual(self, t: float) -> list[Action]:
        """``commit_user_turn()``: commit now (still honouring min_delay since the last speech)."""
        self._go("eou_armed")
        anchor = self.turn.last_speaking if self.turn.last_speaking is not None else t
        self._deadlines["eou"] = max(t, anchor + self.min_delay) if not self.user_speaking else t
        return self.on_timer(t)

    def clear_user_turn(self) -> None:
        """``clear_user_turn()``: drop the transcript and anchors."""
        self.turn = _Turn()
        self._deadlines.pop("eou", None)
        self._go("clear")

    # --- agent speech -------------------------------------------------------------------

    def on_agent(self, t: float, *, active: bool, audible: bool, interruptible: bool) -> list[Action]:
        """The session's current speech changed (``active``: exists and not interrupted)."""
        started = audible and not self.agent.audible
        if started:
            self.agent.last_started_at = t
            self._agent_spoke_since_user = True
            if self.agent.first_speaking_at is None:
                self.agent.first_speaking_at = t
        self.agent.active, self.agent.audible, self.agent.interruptible = active, audible, interruptible
        _track(self.agent.audible_spans, audible, t)
        _track(self.agent.uninterruptible_spans, active and not interruptible, t)
        if not active:
            self.agent.paused = False
            self._deadlines.pop("false_interruption", None)
        if active:
            self._arm_interrupt_check(t)  # the user may already be talking: the gate runs on the next frame
        return self.on_timer(t)

    # --- rules --------------------------------------------------------------------------

    def _can_pause(self) -> bool:
        c = self.config
        return c.pausable and c.resume_false_interruption and c.false_interruption_timeout is not None

    def _unheard(self, t: float) -> Literal["aec_warmup", "uninterruptible"] | None:
        """Why the STT got silence at ``t``, or ``None`` if it heard the user.

        LiveKit (``AgentActivity.push_audio``) feeds the STT silence while uninterruptible speech
        plays (with ``discard_audio_if_uninterruptible``) and while the agent is *speaking* during
        its echo-cancellation warm-up: the one-shot timer of ``aec_warmup_duration`` started by its
        first ``speaking`` state.
        """
        c, a = self.config, self.agent
        if c.discard_audio_if_uninterruptible and a.uninterruptible_spans and _within(a.uninterruptible_spans, t):
            return "uninterruptible"
        if self._aec_warming(t) and _within(a.audible_spans, t):
            return "aec_warmup"
        return None

    def _may_discard(self, lo: float, hi: float) -> bool:
        """Could any moment of ``[lo, hi]`` be unheard? (Most transcripts: no, without a word-by-word look.)"""
        c, a = self.config, self.agent
        if c.discard_audio_if_uninterruptible and a.uninterruptible_spans:
            return True
        return c.aec_warmup_duration is not None and a.first_speaking_at is not None and lo < a.first_speaking_at + c.aec_warmup_duration

    def _aec_warming(self, t: float) -> bool:
        """Is the warm-up timer running at ``t``? LiveKit then ignores audio-activity interruptions,
        whether or not the agent is still speaking (``_interrupt_by_audio_activity``)."""
        c, a = self.config, self.agent
        return (
            c.aec_warmup_duration is not None
            and a.first_speaking_at is not None
            and a.first_speaking_at <= t < a.first_speaking_at + c.aec_warmup_duration
        )

    def _interrupt_gate(self, t: float, via: Literal["vad", "transcript"], *, words: int | None = None) -> list[Action]:
        """LiveKit's ``_interrupt_by_audio_activity``; ``words`` overrides the transcript's word count."""
        c, a = self.config, self.agent
        if c.mode == "manual" or not c.interruptions:
            return []
        if self._aec_warming(t):
            return []
        if not a.active or not a.interruptible:
            return []
        if c.min_words > 0 and c.has_stt and (self.turn.words() if words is None else words) < c.min_words:
            return []
        if self._can_pause():
            # LiveKit pauses (again, if need be) with the full timeout, audible or not, and the agent is listening.
            changed = not a.paused or a.paused_before_audible
            a.paused, a.paused_before_audible = True, False
            self._deadlines.pop("false_interruption", None)
            if not self.user_speaking and c.false_interruption_timeout is not None:
                self._deadlines["false_interruption"] = t + c.false_interruption_timeout
            return [PauseAgent()] if changed else []
        a.active = False
        return [InterruptAgent(via)]

    def _on_interrupt_check(self, t: float) -> list[Action]:
        if not self.user_speaking or self._speech_duration(t) < self.config.min_duration - 1e-9:
            return []
        if self._aec_warming(t):
            # LiveKit checks on every VAD frame; the first check after the warm-up may interrupt.
            assert self.agent.first_speaking_at is not None and self.config.aec_warmup_duration is not None
            self._deadlines["interrupt_check"] = self._at_frame(self.agent.first_speaking_at + self.config.aec_warmup_duration)
            return []
        return self._interrupt_gate(t, "vad")

    def _maybe_preempt(self, t: float) -> list[Action]:
        """A new final transcript (LiveKit's ``on_preemptive_generation``, reference §6 and §19).

        The running preemptive reply is cancelled first, whatever follows: a reply for an older
        transcript is never kept, even when no new attempt may start (``max_retries`` used up, or
        the user has spoken for longer than ``max_speech_duration``, counted to now).
        """
        c = self.config
        if not c.preemptive or c.mode == "manual" or self.agent.paused or self.agent.active:
            return []
        actions: list[Action] = []
        if self._preemptive_running:
            self._preemptive_running = False
            actions.append(CancelPreemptive())
        start = self.turn.speech_start
        if start is not None and t - start > c.preemptive_max_speech_duration:
            return actions
        if self._preemptive_attempts >= c.preemptive_max_retries:
            return actions
        self._preemptive_attempts += 1
        self._preemptive_running = True
        return [StartPreemptive(self.turn.text)]  # (starting one cancels the previous: no CancelPreemptive needed)

    def _run_eou(self, t: float) -> list[Action]:
        c = self.config
        if c.mode == "manual":
            return []
        if c.has_stt and not self.turn.finals:
            return []  # wait for the STT; its final transcript runs this again
        if self.turn.last_speaking is None:
            return []
        delay = self.min_delay
        ready = t
        self._probability = None
        if c.detector is not None and self.turn.finals:
            threshold = c.detector.unlikely_threshold(self.turn.language)
            if threshold is not None:
                p = c.detector.predict(self.turn.text, language=self.turn.language, speech_end=self.turn.last_speaking)
                self._probability = p
                ready = t + c.detector.latency
                if p < threshold:
                    delay = c.max_delay
        self._deadlines["eou"] = max(ready, self.turn.last_speaking + delay)
        self._go("eou_armed")
        return []

    def _on_eou_deadline(self, t: float) -> list[Action]:
        c, a = self.config, self.agent
        turn = self.turn
        if c.min_words > 0 and c.has_stt and a.active and a.interruptible and turn.words() < c.min_words:
            self._go("refused")  # LiveKit: silently not committed; the words join the next utterance
            return []
        self._go("commit")
        end = turn.last_speaking
        commit = CommitTurn(
            transcript=turn.text,
            speech_start=turn.speech_start,
            speech_end=end,
            end_of_utterance_delay=rounded(t - end) if end is not None else 0.0,
            transcription_delay=rounded(turn.last_final_at - end) if (turn.last_final_at is not None and end is not None) else 0.0,
            confidence=sum(turn.confidences) / len(turn.confidences) if turn.confidences else None,
            probability=self._probability,
        )
        self.turn = _Turn()
        self._preemptive_attempts = 0
        self._preemptive_running = False  # the commit takes it (reused or dropped by the session)
        if a.paused:
            # A turn followed the pause: it was a real interruption.
            a.paused = False
            self._deadlines.pop("false_interruption", None)
        return [commit]

    def _on_false_interruption_timeout(self, t: float) -> list[Action]:
        a = self.agent
        if not a.paused:
            return []
        if "eou" in self._deadlines:
            # An end-of-turn decision is open: wait for it (it either commits or lets us resume).
            self._deadlines["false_interruption"] = self._deadlines["eou"] + 1e-6
            return []
        a.paused = False
        a.paused_before_audible = False
        return [ResumeAgent(resumed=a.active)]

    def _learn_pause(self, pause: float) -> None:
        c = self.config
        value = c.alpha * self.min_delay + (1 - c.alpha) * pause
        self.min_delay = min(max(value, c.min_delay), c.max_delay)
