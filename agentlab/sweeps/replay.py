"""The fast path: a labelled conversation's turn-taking decisions, without asyncio.

A sweep asks the same question thousands of times: *with these session options, when would the
agent have committed each user turn, and when would it have stopped for user speech?* The answer
depends only on the :class:`~agentlab.engine.TurnEngine` and what it observes, so this module
feeds the engine directly:

* :func:`conversation_events` builds the observations once per conversation: the user side from
  the recording (VAD segments from :func:`~agentlab.audio.analyze_vad`, cached, over the user's
  voice: :meth:`~agentlab.datasets.Conversation.analysis_audio` picks the channel and masks other
  speakers) and the transcripts of the chosen STT (:class:`~agentlab.models.stt.STTOptions`: the
  labels, a modelled STT or Whisper), exactly as :func:`agentlab.simulate` plays a recording; or,
  for a scripted conversation, the VAD of :meth:`~agentlab.datasets.Conversation.user_speech` (as
  ``simulate`` plays a spoken script); plus the agent side from the labelled agent speech
  (``conv.agent``): the agent starts speaking (``on_agent(active=True, audible=True,
  interruptible=True)``) at each labelled start and stops at its end.
* :func:`replay_conversation` drives a fresh engine through them with
  :func:`agentlab.engine.replay`'s semantics (a deadline due at the same instant as an event fires
  first) and closes the agent-side feedback loop: when the engine interrupts the agent
  (:class:`~agentlab.engine.InterruptAgent`) or commits a turn spoken *during* the agent's speech,
  the agent stops there, and the rest of that labelled interval is not audible. A pause
  (:class:`~agentlab.engine.PauseAgent`) keeps the agent active and audible (as the session reports
  a paused playout); a resume changes nothing. The labelled timeline is not shifted: a pause does
  not delay the end of the agent's speech.
* It returns a frozen :class:`Decisions`: commits, interruptions (hard or pause), resumes,
  preemptive starts, transcripts the echo guard discarded and the agent's actual playback, all
  with times.

What is held fixed and what is simulated (a counterfactual replay):

* **Held fixed: the user.** Their audio, and so their words and pauses, are the recording's. A real
  user might have reacted to the simulated agent (stopped talking when it cut in, repeated
  themselves when it was slow); the replay cannot know, so it plays them as recorded.
* **Simulated: the agent's turn-taking.** Commits, interruptions, pauses, resumes and preemptive
  starts are the engine's, under the setting being scored. The agent's *speech* follows the
  recording's agent labels (it starts where the recorded agent started), except that the engine's
  decisions cut it short. So scoring never credits a decision the simulated agent could not have
  taken: barge-ins, backchannels and noise are scored only where the simulated agent is speaking,
  and a commit after the recorded agent already answered is *late*, not detected
  (:mod:`agentlab.sweeps.score`).
* **Not simulated: replies.** No LLM or TTS runs; a commit is the reply start (response latency is
  modelled from ``llm_ttft`` and ``tts_ttfb``). Commit times agree with :func:`agentlab.simulate`
  whenever the agent's own speech does not change what the engine hears.

Example::

    conv = agentlab.datasets.load("dictation")[0]
    events = conversation_events(conv)                 # once per conversation (VAD is cached)
    for min_delay in (0.2, 0.5, 1.0):
        d = replay_conversation(conv, build_options(turn_handling={"endpointing": {"min_delay": min_delay}}), events)
        d.frame()
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Mapping, Sequence
from typing import Any, Literal

from .._frozen import frozen
from ..audio import VADOptions, analyze_vad
from ..datasets.model import Conversation
from ..engine.inputs import InputEvent, ScriptedVAD, speech_events
from ..engine.turns import (
    CancelPreemptive,
    CommitTurn,
    EngineConfig,
    InterruptAgent,
    PauseAgent,
    ResumeAgent,
    StartPreemptive,
    TranscriptDiscarded,
    TurnEngine,
)
from ..models.stt import STTOptions, recording_events
from ..session.options import SessionOptions, build_options

__all__ = [
    "AgentPlayback",
    "Commit",
    "Decisions",
    "Discarded",
    "Interruption",
    "Preemptive",
    "Resume",
    "conversation_events",
    "engine_config",
    "replay_conversation",
]


# --- the decisions ---------------------------------------------------------------------------


@frozen
class Commit:
    """A committed user turn: at ``time``; ``eou_delay`` = ``time - speech_end`` (LiveKit's end_of_utterance_delay)."""

    time: float
    transcript: str
    speech_start: float | None
    speech_end: float | None
    eou_delay: float
    transcription_delay: float


@frozen
class Interruption:
    """The engine stopped (``"hard"``) or paused (``"pause"``) the agent at ``time``; ``reason`` for hard stops."""

    time: float
    kind: Literal["hard", "pause"]
    reason: str | None = None


@frozen
class Resume:
    """A pause was a false interruption: the agent resumed at ``time`` (``resumed`` False if its speech was already over)."""

    time: float
    resumed: bool


@frozen
class Preemptive:
    """A preemptive reply was started at ``time`` for ``transcript`` (it cancels any previous one)."""

    time: float
    transcript: str


@frozen
class Discarded:
    """Words the STT never heard (fed silence by the echo guard): ``reason`` is ``"aec_warmup"`` or ``"uninterruptible"``."""

    time: float
    transcript: str
    reason: str
    spoken_at: float


@frozen
class AgentPlayback:
    """Labelled agent speech ``index`` as it actually played: ``[start, end)``; ``stopped`` if the engine cut it short."""

    index: int
    start: float
    end: float
    stopped: bool


@frozen
class Decisions:
    """Everything the turn engine decided for one conversation (times in conversation seconds).

    ``replies`` are times the agent's reply audio started, when known (empty from the replay: the
    fast path runs no LLM or TTS, so a commit is the reply start). ``preemptive_cancels`` are times
    a running preemptive reply was cancelled without a new one (a newer final, no retries left).
    """

    conversation: str
    commits: tuple[Commit, ...] = ()
    interruptions: tuple[Interruption, ...] = ()
    resumes: tuple[Resume, ...] = ()
    preemptive: tuple[Preemptive, ...] = ()
    agent: tuple[AgentPlayback, ...] = ()
    replies: tuple[float, ...] = ()
    discarded: tuple[Discarded, ...] = ()
    preemptive_cancels: tuple[float, ...] = ()

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
        for x in self.discarded:
            rows.append({"time": x.time, "decision": "discarded", "detail": f"{x.reason}: {x.transcript}"})
        for t in self.preemptive_cancels:
            rows.append({"time": t, "decision": "preemptive cancelled", "detail": ""})
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
    options: SessionOptions | Mapping[str, Any] | EngineConfig | None = None, *, pausable: bool = True, has_stt: bool = True
) -> EngineConfig:
    """The :class:`~agentlab.engine.EngineConfig` a session with ``options`` gives its engine.

    :meth:`SessionOptions.engine_config`, wired as in a session (an agent with a TTS on a pausable output,
    with an STT). ``options`` is a :class:`~agentlab.session.options.SessionOptions`, a dict of
    ``AgentSession`` keyword arguments (``{"turn_handling": {...}}`` or the flat keywords), or
    ``None`` for the defaults.

    Example::

        engine_config({"turn_handling": {"endpointing": {"min_delay": 0.3}}}).min_delay   # 0.3
    """
    if isinstance(options, EngineConfig):
        return options  # already resolved (a sweep resolves each setting once)
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
    stt: STTOptions = STTOptions(),
    stt_end_of_speech: bool = False,
    agent_speech: bool = True,
    cache: Any = None,
) -> list[InputEvent]:
    """The engine's observations for ``conv``, sorted by time (ties in generation order).

    User side: with audio, the VAD segments of :func:`~agentlab.audio.analyze_vad` (``vad_backend``,
    ``vad_options``, analysis ``cache`` — ``None`` is the process-wide cache) over the user's voice
    (:meth:`~agentlab.datasets.Conversation.analysis_audio`), and the transcripts of ``stt``
    (:class:`~agentlab.models.stt.STTOptions`; the labels' :meth:`~agentlab.datasets.Conversation.utterances`
    for the aligned and modelled STTs, Whisper on the audio for ``"whisper"``), as
    :func:`agentlab.simulate` plays a recording. Without audio, the VAD events of
    :meth:`~agentlab.datasets.Conversation.user_speech` through :func:`~agentlab.engine.speech_events`
    with the VAD's ``min_speech_duration`` and ``min_silence_duration``, and the same STT.
    ``stt_end_of_speech`` adds the STT's end-of-speech events (needed for ``turn_detection="stt"``).

    Agent side (``agent_speech``): ``on_agent`` with ``active=audible=interruptible=True`` at each
    labelled agent speech start and ``active=audible=False`` at its end. An agent start at the same
    instant as a user event comes after it.

    Raises ``ValueError`` when the aligned or modelled STT would hear nothing of a turn that has no
    transcript (an RTTM imported without STM): use ``STTOptions(model="whisper")`` or add transcripts.

    Example::

        events = conversation_events(conv, vad_options=VADOptions(min_silence_duration=0.4))
        events = conversation_events(conv, stt=STTOptions(model="modelled", wer=0.1))
    """
    if stt.model != "whisper":
        blank = [i for i, t in enumerate(conv.turns) if not t.transcript.strip()]
        if blank:
            raise ValueError(
                f"conversation {conv.id!r}: turn(s) {blank[:5]} have no transcript, so the {stt.model} STT would hear nothing "
                "and no turn would ever commit; add transcripts (an STM) or use STTOptions(model='whisper')"
            )
    labels = conv.utterances(split_pause=stt.split_pause) if stt.model != "whisper" else []
    if conv.audio is not None:
        audio = conv.analysis_audio()
        track = analyze_vad(audio, backend=vad_backend, options=vad_options, cache=cache)
        heard_audio = None
        if stt.model == "whisper":  # Whisper needs the samples; the VAD streams a plain file instead
            heard_audio = audio if not isinstance(audio, os.PathLike | str) else conv.load_audio()
        model, heard = stt.build(labels, heard_audio, track)
        user = recording_events(track, heard, model, stt_end_of_speech=stt_end_of_speech)
    else:
        if stt.model == "whisper":
            raise ValueError(f"conversation {conv.id!r} is scripted (no audio): the whisper STT needs a recording")
        speech = conv.user_speech(stt_delay=stt.final_delay, split_pause=stt.split_pause)
        vad = speech_events(speech, ScriptedVAD.of(vad_options), has_stt=False)
        model, heard = stt.build(labels)
        raw = [(e.t, e.kind, e.data) for e in vad] + model.transcript_events(heard, end_of_speech=stt_end_of_speech)
        user = [InputEvent(round(t, 9), i, kind, data) for i, (t, kind, data) in enumerate(sorted(raw, key=lambda r: r[0]))]
    raw = [(e.t, e.kind, e.data) for e in user]
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
        self.discarded: list[Discarded] = []
        self.preemptive_cancels: list[float] = []
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
            tp = type(a)
            if tp is CommitTurn:
                self.commits.append(Commit(t, a.transcript, a.speech_start, a.speech_end, a.end_of_utterance_delay, a.transcription_delay))
                # A turn spoken over the agent ends the agent's speech (the reply to it takes over);
                # a turn that ended before the agent began is the one that speech answers.
                if self._playing is not None and a.speech_end is not None and a.speech_end > self._playing[1]:
                    self._stop_agent(t)
            elif tp is InterruptAgent:
                self.interruptions.append(Interruption(t, "hard", a.reason))
                if self._playing is not None:
                    self._stop_agent(t)
            elif tp is PauseAgent:
                self.interruptions.append(Interruption(t, "pause"))
            elif tp is ResumeAgent:
                self.resumes.append(Resume(t, a.resumed))
            elif tp is StartPreemptive:
                self.preemptive.append(Preemptive(t, a.transcript))
            elif tp is TranscriptDiscarded:
                self.discarded.append(Discarded(t, a.transcript, a.reason, a.spoken_at))
            elif tp is CancelPreemptive:
                self.preemptive_cancels.append(t)

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
    options: SessionOptions | Mapping[str, Any] | EngineConfig | None = None,
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
    engine = r.engine
    in_order = all(a.t < b.t or (a.t == b.t and a.seq < b.seq) for a, b in itertools.pairwise(events))
    ordered = events if in_order else sorted(events)  # conversation_events' are; sorting them per setting costs
    methods: dict[str, Any] = {}
    for ev in ordered:
        t = ev.t
        while (d := engine.next_deadline()) is not None and d <= t:
            r.apply(d, engine.on_timer(d))
        if ev.kind == "on_agent":
            r.observe(ev)
            continue
        method = methods.get(ev.kind)
        if method is None:
            method = methods[ev.kind] = getattr(engine, ev.kind)
        r.apply(t, method(t, **ev.data))
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
        discarded=tuple(r.discarded),
        preemptive_cancels=tuple(r.preemptive_cancels),
    )
