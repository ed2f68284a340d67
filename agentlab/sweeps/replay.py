"""The fast path: a labelled conversation's turn-taking decisions, without asyncio.

A sweep asks the same question thousands of times: *with these session options, when would the
agent have committed each user turn, and when would it have stopped for user speech?* The answer
depends only on the :class:`~agentlab.engine.TurnEngine` and what it observes, so this module
feeds the engine directly:

* :func:`conversation_events` builds the observations once per conversation: the user side from
  the recording (VAD segments from :func:`~agentlab.audio.analyze_vad`, cached, plus the labels'
  transcripts through an :class:`~agentlab.models.stt.AlignedSTT`, exactly as
  :func:`agentlab.simulate` plays a recording) or, for a scripted conversation, from
  :meth:`~agentlab.datasets.Conversation.user_speech` (as ``simulate`` plays a spoken script);
  plus the agent side from the labelled agent speech (``conv.agent``): the agent starts speaking
  (``on_agent(active=True, audible=True, interruptible=True)``) at each labelled start and stops
  at its end.
* :func:`replay_conversation` drives a fresh engine through them with
  :func:`agentlab.engine.replay`'s semantics (a deadline due at the same instant as an event fires
  first) and closes the agent-side feedback loop: when the engine interrupts the agent
  (:class:`~agentlab.engine.InterruptAgent`) or commits a turn spoken *during* the agent's speech,
  the agent stops there, and the rest of that labelled interval is not audible. A pause
  (:class:`~agentlab.engine.PauseAgent`) keeps the agent active and audible (as the session reports
  a paused playout); a resume changes nothing. The labelled timeline is not shifted: a pause does
  not delay the end of the agent's speech.
* It returns a frozen :class:`Decisions`: commits, interruptions (hard or pause), resumes,
  preemptive starts and the agent's actual playback, all with times.

Deviations from the full session (documented, by design): there are no replies (the LLM and TTS
are not run), so agent speech is the recorded scenario's, not the simulated agent's; a commit is
the only "reply start" signal. Commit times agree with :func:`agentlab.simulate` whenever the
agent's own speech does not change what the engine hears (e.g. no AEC warm-up or uninterruptible
speech over the user's words).

Example::

    conv = agentlab.datasets.load("dictation")[0]
    events = conversation_events(conv)                 # once per conversation (VAD is cached)
    for min_delay in (0.2, 0.5, 1.0):
        d = replay_conversation(conv, build_options(turn_handling={"endpointing": {"min_delay": min_delay}}), events)
        d.frame()
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from ..audio import VADOptions, analyze_vad
from ..datasets.model import Conversation
from ..engine.inputs import InputEvent, speech_events
from ..engine.turns import CommitTurn, EngineConfig, InterruptAgent, PauseAgent, ResumeAgent, StartPreemptive, TurnEngine
from ..models.stt import AlignedSTT, recording_events
from ..session.options import SessionOptions, build_options

__all__ = [
    "AgentPlayback",
    "Commit",
    "Decisions",
    "Interruption",
    "Preemptive",
    "Resume",
    "conversation_events",
    "engine_config",
    "replay_conversation",
]


# --- the decisions ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Commit:
    """A committed user turn: at ``time``; ``eou_delay`` = ``time - speech_end`` (LiveKit's end_of_utterance_delay)."""

    time: float
    transcript: str
    speech_start: float | None
    speech_end: float | None
    eou_delay: float
    transcription_delay: float


@dataclass(frozen=True)
class Interruption:
    """The engine stopped (``"hard"``) or paused (``"pause"``) the agent at ``time``; ``reason`` for hard stops."""

    time: float
    kind: Literal["hard", "pause"]
    reason: str | None = None


@dataclass(frozen=True)
class Resume:
    """A pause was a false interruption: the agent resumed at ``time`` (``resumed`` False if its speech was already over)."""

    time: float
    resumed: bool


@dataclass(frozen=True)
class Preemptive:
    """A preemptive reply was started at ``time`` for ``transcript`` (it cancels any previous one)."""

    time: float
    transcript: str


@dataclass(frozen=True)
class AgentPlayback:
    """Labelled agent speech ``index`` as it actually played: ``[start, end)``; ``stopped`` if the engine cut it short."""

    index: int
    start: float
    end: float
    stopped: bool


@dataclass(frozen=True)
class Decisions:
    """Everything the turn engine decided for one conversation (times in conversation seconds).

    ``replies`` are times the agent's reply audio started, when known (empty from the replay: the
    fast path runs no LLM or TTS, so a commit is the reply start).
    """

    conversation: str
    commits: tuple[Commit, ...] = ()
    interruptions: tuple[Interruption, ...] = ()
    resumes: tuple[Resume, ...] = ()
    preemptive: tuple[Preemptive, ...] = ()
    agent: tuple[AgentPlayback, ...] = ()
    replies: tuple[float, ...] = ()

    def frame(self) -> Any:
        """One row per decision, in time order: ``conversation, time, decision, detail``."""
        import pandas as pd

        rows: list[dict[str, Any]] = []
        for c in self.commits:
            rows.append({"time": c.time, "decision": "commit", "detail": c.transcript})
        for i in self.interruptions:
            rows.append({"time": i.time, "decision": "interrupt" if i.kind == "hard" else "pause", "detail": i.reason or ""})
        for r in self.resumes:
            rows.append({"time": r.time, "decision": "resume", "detail": "" if r.resumed else "speech over"})
        for p in self.preemptive:
            rows.append({"time": p.time, "decision": "preemptive", "detail": p.transcript})
        for t in self.replies:
            rows.append({"time": t, "decision": "reply", "detail": ""})
        df = pd.DataFrame(rows, columns=["time", "decision", "detail"])
        df.insert(0, "conversation", self.conversation)
        return df.sort_values("time", kind="stable").reset_index(drop=True)

    def __repr__(self) -> str:
        return (
            f"Decisions({self.conversation!r}: {len(self.commits)} commits, {len(self.interruptions)} interruptions, "
            f"{len(self.resumes)} resumes, {len(self.preemptive)} preemptive)"
        )


# --- inputs ----------------------------------------------------------------------------------


def engine_config(
    options: SessionOptions | Mapping[str, Any] | None = None, *, pausable: bool = True, has_stt: bool = True
) -> EngineConfig:
    """The :class:`~agentlab.engine.EngineConfig` a session with ``options`` gives its engine.

    :meth:`SessionOptions.engine_config`, wired as in a session (an agent with a TTS on a pausable output,
    with an STT). ``options`` is a :class:`~agentlab.session.options.SessionOptions`, a dict of
    ``AgentSession`` keyword arguments (``{"turn_handling": {...}}`` or the flat keywords), or
    ``None`` for the defaults.

    Example::

        engine_config({"turn_handling": {"endpointing": {"min_delay": 0.3}}}).min_delay   # 0.3
    """
    if options is None:
        opts = build_options()
    elif isinstance(options, SessionOptions):
        opts = options
    elif isinstance(options, Mapping):
        opts = build_options(**dict(options))
    else:
        raise TypeError(f"engine_config: options must be SessionOptions, a dict or None, got {type(options).__name__}")
    return opts.engine_config(has_stt=has_stt, pausable=pausable)


def conversation_events(
    conv: Conversation,
    *,
    vad_backend: str = "silero",
    vad_options: VADOptions = VADOptions(),
    stt_final_delay: float = 0.2,
    stt_interim_delay: float | None = 0.1,
    split_pause: float = 0.3,
    stt_end_of_speech: bool = False,
    agent_speech: bool = True,
    cache: Any = None,
) -> list[InputEvent]:
    """The engine's observations for ``conv``, sorted by time (ties in generation order).

    User side: with audio, the VAD segments of :func:`~agentlab.audio.analyze_vad` (``vad_backend``,
    ``vad_options``, analysis ``cache`` — ``None`` is the process-wide cache) and the transcripts
    of :meth:`~agentlab.datasets.Conversation.utterances` (``split_pause``) arriving
    ``stt_interim_delay``/``stt_final_delay`` after each stretch (as :func:`agentlab.simulate`
    with :meth:`~agentlab.datasets.Conversation.aligned_stt`). Without audio,
    :meth:`~agentlab.datasets.Conversation.user_speech` through
    :func:`~agentlab.engine.speech_events` with the VAD's ``min_speech_duration`` and
    ``min_silence_duration`` (the interim then comes at half the final delay, as the session does).
    ``stt_end_of_speech`` adds the STT's end-of-speech events (needed for ``turn_detection="stt"``).

    Agent side (``agent_speech``): ``on_agent`` with ``active=audible=interruptible=True`` at each
    labelled agent speech start and ``active=audible=False`` at its end. An agent start at the same
    instant as a user event comes after it.

    Example::

        events = conversation_events(conv, vad_options=VADOptions(min_silence_duration=0.4))
    """
    if conv.audio is not None:
        track = analyze_vad(conv.audio, backend=vad_backend, options=vad_options, cache=cache)
        stt = AlignedSTT(conv.utterances(split_pause=split_pause), final_delay=stt_final_delay, interim_delay=stt_interim_delay)
        user = recording_events(track, stt.utterances, stt, stt_end_of_speech=stt_end_of_speech)
    else:
        speech = conv.user_speech(stt_delay=stt_final_delay, split_pause=split_pause)
        user = speech_events(
            speech,
            min_speech_duration=vad_options.min_speech_duration,
            min_silence_duration=vad_options.min_silence_duration,
            has_stt=True,
            stt_end_of_speech=stt_end_of_speech,
        )
    raw: list[tuple[float, str, dict[str, Any]]] = [(e.t, e.kind, e.data) for e in user]
    if agent_speech:
        for a in conv.agent:
            raw.append((round(a.start, 9), "on_agent", {"active": True, "audible": True, "interruptible": True}))
            raw.append((round(a.end, 9), "on_agent", {"active": False, "audible": False, "interruptible": True}))
    ordered = sorted(raw, key=lambda r: r[0])  # stable: user events first at equal times
    return [InputEvent(t, i, kind, data) for i, (t, kind, data) in enumerate(ordered)]


# --- the replay ------------------------------------------------------------------------------


class _Replay:
    """One replay: the engine plus the agent-side feedback loop and the decision log."""

    def __init__(self, config: EngineConfig) -> None:
        self.engine = TurnEngine(config)
        self.commits: list[Commit] = []
        self.interruptions: list[Interruption] = []
        self.resumes: list[Resume] = []
        self.preemptive: list[Preemptive] = []
        self.playback: list[AgentPlayback] = []
        self._agent_index = -1
        self._playing: tuple[int, float] | None = None  # (index, start) of the agent speech now audible

    def _stop_agent(self, t: float) -> None:
        assert self._playing is not None
        index, start = self._playing
        self._playing = None
        self.playback.append(AgentPlayback(index, start, t, stopped=True))
        self.apply(t, self.engine.on_agent(t, active=False, audible=False, interruptible=True))

    def apply(self, t: float, actions: Sequence[Any]) -> None:
        for a in actions:
            if isinstance(a, CommitTurn):
                self.commits.append(Commit(t, a.transcript, a.speech_start, a.speech_end, a.end_of_utterance_delay, a.transcription_delay))
                # A turn spoken over the agent ends the agent's speech (the reply to it takes over);
                # a turn that ended before the agent began is the one that speech answers.
                if self._playing is not None and a.speech_end is not None and a.speech_end > self._playing[1]:
                    self._stop_agent(t)
            elif isinstance(a, InterruptAgent):
                self.interruptions.append(Interruption(t, "hard", a.reason))
                if self._playing is not None:
                    self._stop_agent(t)
            elif isinstance(a, PauseAgent):
                self.interruptions.append(Interruption(t, "pause"))
            elif isinstance(a, ResumeAgent):
                self.resumes.append(Resume(t, a.resumed))
            elif isinstance(a, StartPreemptive):
                self.preemptive.append(Preemptive(t, a.transcript))

    def observe(self, ev: InputEvent) -> None:
        if ev.kind == "on_agent":
            if ev.data.get("audible"):
                self._agent_index += 1
                self._playing = (self._agent_index, ev.t)
            elif self._playing is None:
                return  # the engine already stopped this speech: its labelled end is not heard
            else:
                index, start = self._playing
                self._playing = None
                self.playback.append(AgentPlayback(index, start, ev.t, stopped=False))
        self.apply(ev.t, getattr(self.engine, ev.kind)(ev.t, **ev.data))

    def fire_until(self, limit: float | None) -> None:
        engine = self.engine
        while (d := engine.next_deadline()) is not None and (limit is None or d <= limit):
            self.apply(d, engine.on_timer(d))


def replay_conversation(
    conv: Conversation,
    options: SessionOptions | Mapping[str, Any] | None = None,
    events: Sequence[InputEvent] | None = None,
    **event_options: Any,
) -> Decisions:
    """The turn engine's decisions on ``conv`` with session ``options``, on a plain loop (no asyncio).

    ``events`` are :func:`conversation_events` (computed here, with ``event_options``, when not
    given: pass them to replay one conversation under many settings). Deterministic: the same
    inputs give equal :class:`Decisions`. See the module docstring for the agent-side model.

    Example::

        d = replay_conversation(conv, {"turn_handling": {"interruption": {"min_duration": 0.8}}})
        [(c.time, c.transcript) for c in d.commits]
    """
    config = engine_config(options)
    if events is None:
        events = conversation_events(conv, stt_end_of_speech=config.mode == "stt", **event_options)
    elif event_options:
        raise TypeError(f"replay_conversation: event options {sorted(event_options)} are only used when events is None")
    r = _Replay(config)
    for ev in sorted(events):
        r.fire_until(ev.t)
        r.observe(ev)
    r.fire_until(None)
    if r._playing is not None:  # a labelled speech without its end event (hand-built events)
        index, start = r._playing
        r.playback.append(AgentPlayback(index, start, max(start, conv.duration), stopped=False))
    return Decisions(
        conversation=conv.id,
        commits=tuple(r.commits),
        interruptions=tuple(r.interruptions),
        resumes=tuple(r.resumes),
        preemptive=tuple(r.preemptive),
        agent=tuple(r.playback),
    )
