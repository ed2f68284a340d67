"""What the engine hears: scripted user speech turned into timestamped VAD and STT observations.

A :class:`UserSpeech` is one utterance with its transcript. :func:`speech_events` turns a list of
them into the events LiveKit's pipeline would produce, with LiveKit's latency model:

* VAD start-of-speech ``min_speech_duration`` after the speech starts (backdated to the start),
  then an inference frame every ``interval`` (the interruption gate runs on those frames);
* VAD end-of-speech ``min_silence_duration`` after it ends (backdated to the end); utterances
  closer than that are one VAD segment, as the VAD's hysteresis would make them;
* with a :class:`ScriptedVAD` whose ``speech_duration="voiced"`` (LiveKit's test VAD), the frames
  going quiet when the speech really ends (``on_vad_silence``) and showing speech again if the
  user resumes inside the same segment (``on_vad_speech``): the speech duration the interruption
  gate reads stops growing in the silence. LiveKit's real VAD (``"span"``, the default) counts
  the whole span up to its end-of-speech, trailing silence included;
* an interim transcript (the first two words, or as :class:`UserSpeech` says) at
  ``end + stt_delay / 2`` and the final at ``end + stt_delay`` (as LiveKit's test STT does).

:func:`replay` drives a :class:`~agentlab.engine.turns.TurnEngine` through such events without
asyncio: the fast path, and what the engine's own tests use.

Example::

    events = speech_events([UserSpeech(0.5, 2.5, "Hello, how are you?", stt_delay=0.2)])
    [(t, type(a).__name__) for t, a in replay(TurnEngine(EngineConfig()), events)]
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from dataclasses import field
from typing import Any, Literal

from .._frozen import frozen
from .._utils import rounded
from .turns import Action, TurnEngine

__all__ = ["InputEvent", "ScriptedVAD", "UserSpeech", "replay", "speech_events"]


@frozen
class ScriptedVAD:
    """How the VAD hears scripted :class:`UserSpeech`: its hysteresis, frame cadence and what its
    speech duration counts (the interruption gate compares that duration with ``min_duration``).

    * ``speech_duration="span"`` (default): LiveKit's real VAD (``inference.VAD``, Silero): the
      duration grows from the speech's start to the VAD's end-of-speech, trailing silence included,
      so a 0.3 s cough under the default ``min_silence_duration`` of 0.25 s reaches a 0.5 s
      ``min_duration``; frames every 32 ms.
    * ``speech_duration="voiced"``: LiveKit's test VAD (``tests/fake_vad.py``): the duration stops
      at the speech's end; frames every ``min_speech_duration``.

    Pass it as ``AgentSession(vad=...)``; a :class:`~agentlab.audio.VADOptions` there means the
    real VAD with those settings.

    Example::

        ScriptedVAD(min_silence_duration=0.5, interval=0.05, speech_duration="voiced")  # LiveKit's tests
    """

    min_speech_duration: float = 0.05
    min_silence_duration: float = 0.25
    interval: float = 0.032
    speech_duration: Literal["span", "voiced"] = "span"

    def __post_init__(self) -> None:
        for name in ("min_speech_duration", "min_silence_duration"):
            v = getattr(self, name)
            if not isinstance(v, (int, float)) or not v >= 0:
                raise ValueError(f"ScriptedVAD.{name} must be a number of seconds >= 0, got {v!r}")
        if not isinstance(self.interval, (int, float)) or not self.interval > 0:
            raise ValueError(f"ScriptedVAD.interval must be a number of seconds > 0, got {self.interval!r}")
        if self.speech_duration not in ("span", "voiced"):
            raise ValueError(f"ScriptedVAD.speech_duration must be 'span' or 'voiced', got {self.speech_duration!r}")

    @classmethod
    def of(cls, vad: Any) -> ScriptedVAD:
        """The scripted view of a session's ``vad``: itself, or the settings it has (a
        :class:`~agentlab.audio.VADOptions`, any object with ``min_speech_duration`` and
        ``min_silence_duration``) on LiveKit's real VAD; ``None`` gives LiveKit's default VAD."""
        if isinstance(vad, cls):
            return vad
        if vad is None:
            return cls()
        return cls(
            vad.min_speech_duration, vad.min_silence_duration, getattr(vad, "interval", 0.032), getattr(vad, "speech_duration", "span")
        )


@frozen
class UserSpeech:
    """One scripted user utterance (times in seconds from session start).

    ``interim``: ``True`` (LiveKit's test STT: the first two words at ``end + stt_delay / 2``),
    ``False`` (none), a text (that interim at ``end + stt_delay / 2``), or ``(time, text)`` pairs
    (each interim at its own session time). ``final=False`` sends no final transcript. An empty
    ``transcript`` is sound without words: the VAD hears it, the STT reports nothing.

    Example::

        UserSpeech(0.5, 2.5, "book a table for two", stt_delay=0.3, interim=[(1.2, "book a"), (2.0, "book a table")])
    """

    start: float
    end: float
    transcript: str
    stt_delay: float = 0.2
    interim: bool | str | tuple[tuple[float, str], ...] = True
    confidence: float | None = None
    language: str | None = None
    final: bool = True

    def __post_init__(self) -> None:
        if not (self.start >= 0 and self.end > self.start):
            raise ValueError(f"UserSpeech: need 0 <= start < end, got start={self.start!r}, end={self.end!r}")
        if self.stt_delay < 0:
            raise ValueError(f"UserSpeech: stt_delay = {self.stt_delay!r} must be >= 0")
        if isinstance(self.interim, (list, tuple)):
            pairs = tuple(tuple(p) for p in self.interim)
            if not all(len(p) == 2 and isinstance(p[0], (int, float)) and isinstance(p[1], str) for p in pairs):
                raise ValueError(f"UserSpeech: interim = {self.interim!r}; expected True/False, a text, or (time, text) pairs")
            object.__setattr__(self, "interim", pairs)
        elif not isinstance(self.interim, (bool, str)):
            raise ValueError(f"UserSpeech: interim = {self.interim!r}; expected True/False, a text, or (time, text) pairs")

    def interims(self) -> list[tuple[float, str]]:
        """The interim transcripts as ``(session time, text)``."""
        if not self.transcript or self.interim is False:
            return []
        if self.interim is True:
            return [(self.end + self.stt_delay / 2, " ".join(self.transcript.split()[:2]))]
        if isinstance(self.interim, str):
            return [(self.end + self.stt_delay / 2, self.interim)]
        return [(float(t), text) for t, text in self.interim]  # type: ignore[union-attr]


@frozen(order=True)
class InputEvent:
    """An observation for the engine: call ``engine.<kind>(t, **data)`` at time ``t``."""

    t: float
    seq: int
    kind: str = field(compare=False)
    data: dict[str, Any] = field(compare=False, default_factory=dict)


def speech_events(
    speeches: Sequence[UserSpeech],
    vad: ScriptedVAD | None = None,
    *,
    has_vad: bool = True,
    has_stt: bool = True,
    stt_end_of_speech: bool = False,
) -> list[InputEvent]:
    """The VAD and STT events for ``speeches`` (sorted by time, ties in generation order), as
    ``vad`` hears them (default: LiveKit's real VAD, :class:`ScriptedVAD`).

    ``stt_end_of_speech`` adds the STT's own start/end-of-speech events (for ``turn_detection="stt"``):
    start when the speech starts, end when its final transcript arrives.
    """
    vad = vad or ScriptedVAD()
    voiced = vad.speech_duration == "voiced"
    ordered = sorted(speeches, key=lambda s: s.start)
    for a, b in itertools.pairwise(ordered):
        if b.start < a.end:
            raise ValueError(f"UserSpeech: utterances overlap ({a.start}-{a.end} and {b.start}-{b.end})")
    raw: list[tuple[float, str, dict[str, Any]]] = []
    if has_vad:
        segments: list[list[float]] = []
        for s in ordered:
            if segments and s.start - segments[-1][1] < vad.min_silence_duration:
                segments[-1][1] = s.end  # the VAD never saw enough silence to end the segment
                if voiced:
                    raw.append((s.start, "on_vad_speech", {}))  # ... but its frames showed the pause
            else:
                segments.append([s.start, s.end])
            # the VAD's frames go silent here: a voiced VAD stops counting speech, a span VAD only
            # starts counting silence (the reply hold-off reads it)
            raw.append((s.end, "on_vad_silence" if voiced else "on_vad_pause", {}))
        for start, end in segments:
            raw.append((start + vad.min_speech_duration, "on_vad_start", {"speech_start": start, "interval": vad.interval}))
            raw.append((end + vad.min_silence_duration, "on_vad_end", {"speech_end": end}))
    if has_stt:
        for s in ordered:
            for t, text in s.interims():
                raw.append((t, "on_transcript", {"text": text, "is_final": False, "language": s.language}))
            if s.final:
                raw.append(
                    (
                        s.end + s.stt_delay,
                        "on_transcript",
                        {"text": s.transcript, "is_final": True, "confidence": s.confidence, "word_end": s.end, "language": s.language},
                    )
                )
            if stt_end_of_speech:
                raw.append((s.start, "on_stt_start_of_speech", {}))
                raw.append((s.end + s.stt_delay, "on_stt_end_of_speech", {}))
    return [InputEvent(rounded(t), i, kind, data) for i, (t, kind, data) in enumerate(sorted(raw, key=lambda r: r[0]))]


def replay(engine: TurnEngine, events: Iterable[InputEvent]) -> list[tuple[float, Action]]:
    """Feed ``events`` to ``engine`` in time order, firing its deadlines in between; return (time, action) pairs.

    A deadline due at the same instant as an event fires first (it was scheduled earlier).
    """
    out: list[tuple[float, Action]] = []

    def fire_until(limit: float | None) -> None:
        while (d := engine.next_deadline()) is not None and (limit is None or d <= limit):
            out.extend((d, a) for a in engine.on_timer(d))

    for ev in sorted(events):
        fire_until(ev.t)
        out.extend((ev.t, a) for a in getattr(engine, ev.kind)(ev.t, **ev.data))
    fire_until(None)
    return out
