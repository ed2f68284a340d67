"""What the engine hears: scripted user speech turned into timestamped VAD and STT observations.

A :class:`UserSpeech` is one utterance with its transcript. :func:`speech_events` turns a list of
them into the events LiveKit's pipeline would produce, with LiveKit's latency model:

* VAD start-of-speech ``min_speech_duration`` after the speech starts (backdated to the start);
* the VAD's frames going quiet when the speech really ends (``on_vad_silence``) and showing speech
  again if the user resumes inside the same segment (``on_vad_speech``): interruptions count
  speech duration only while speech is present, as LiveKit's per-frame check does;
* VAD end-of-speech ``min_silence_duration`` after it ends (backdated to the end); utterances
  closer than that are one VAD segment, as the VAD's hysteresis would make them;
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
from dataclasses import dataclass, field
from typing import Any

from .turns import Action, TurnEngine

__all__ = ["InputEvent", "UserSpeech", "replay", "speech_events"]


@dataclass(frozen=True)
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


@dataclass(frozen=True, order=True)
class InputEvent:
    """An observation for the engine: call ``engine.<kind>(t, **data)`` at time ``t``."""

    t: float
    seq: int
    kind: str = field(compare=False)
    data: dict[str, Any] = field(compare=False, default_factory=dict)


def speech_events(
    speeches: Sequence[UserSpeech],
    *,
    min_speech_duration: float = 0.05,
    min_silence_duration: float = 0.25,
    has_vad: bool = True,
    has_stt: bool = True,
    stt_end_of_speech: bool = False,
) -> list[InputEvent]:
    """The VAD and STT events for ``speeches`` (sorted by time, ties in generation order).

    ``stt_end_of_speech`` adds the STT's own start/end-of-speech events (for ``turn_detection="stt"``):
    start when the speech starts, end when its final transcript arrives.
    """
    ordered = sorted(speeches, key=lambda s: s.start)
    for a, b in itertools.pairwise(ordered):
        if b.start < a.end:
            raise ValueError(f"UserSpeech: utterances overlap ({a.start}-{a.end} and {b.start}-{b.end})")
    raw: list[tuple[float, str, dict[str, Any]]] = []
    if has_vad:
        segments: list[list[float]] = []
        for s in ordered:
            if segments and s.start - segments[-1][1] < min_silence_duration:
                segments[-1][1] = s.end  # the VAD never saw enough silence to end the segment
                raw.append((s.start, "on_vad_speech", {}))  # ... but its frames showed the pause
            else:
                segments.append([s.start, s.end])
            raw.append((s.end, "on_vad_silence", {}))
        for start, end in segments:
            raw.append((start + min_speech_duration, "on_vad_start", {"speech_start": start}))
            raw.append((end + min_silence_duration, "on_vad_end", {"speech_end": end}))
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
    return [InputEvent(round(t, 9), i, kind, data) for i, (t, kind, data) in enumerate(sorted(raw, key=lambda r: r[0]))]


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
