"""Speech-to-text for recordings: what the user said, when, and when the transcript arrives.

An STT turns a recording (and its VAD track) into :class:`Utterance`s — text with the speech's start
and end, optionally word times. Arrival is modelled, not measured: each utterance's interim
transcript comes ``interim_delay`` after it ends and the final one ``final_delay`` after it ends,
so simulations are deterministic. Analysis runs once per recording; replays reuse it.

:class:`AlignedSTT` is the default for labelled data: it replays the labels (a perfect STT with a
realistic delay). Real recognizers (local Whisper, OpenAI) implement the same protocol.

Example::

    stt = AlignedSTT([(0.5, 2.3, "What's the weather in Paris?"), (6.1, 7.0, "And tomorrow?")], final_delay=0.25)
    run = simulate(agent, {"llm": llm, "stt": stt}, "call.wav")
"""

from __future__ import annotations

import abc
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..engine.inputs import InputEvent

if TYPE_CHECKING:
    from ..audio.io import Audio
    from ..audio.vad import VADTrack

__all__ = ["STT", "AlignedSTT", "Utterance", "recording_events", "stt_events"]


@dataclass(frozen=True)
class Utterance:
    """A stretch of user speech and its text; ``words`` are ``(word, start, end)`` if known."""

    start: float
    end: float
    text: str
    words: tuple[tuple[str, float, float], ...] = ()
    confidence: float | None = None
    language: str | None = None


class STT(abc.ABC):
    """Base class of speech-to-text components for recordings."""

    model: str = "unknown"
    provider: str = "unknown"
    #: Seconds after an utterance ends that its interim (``None``: no interims) and final transcripts arrive.
    interim_delay: float | None = 0.1
    final_delay: float = 0.2

    @abc.abstractmethod
    def transcribe(self, audio: Audio | None, track: VADTrack | None) -> list[Utterance]:
        """The utterances in ``audio`` (the VAD track says where speech is)."""


class AlignedSTT(STT):
    """Replays labelled utterances: a perfect recognizer with modelled delays.

    ``labels`` are :class:`Utterance`, ``(start, end, text)`` tuples or mappings with those keys
    (and optionally ``words``). Bad labels raise ``ValueError`` naming the index and value.
    """

    model = "aligned"
    provider = "agentlab"

    def __init__(self, labels: Sequence[Any], *, final_delay: float = 0.2, interim_delay: float | None = 0.1) -> None:
        if final_delay < 0 or (interim_delay is not None and not 0 <= interim_delay <= final_delay):
            raise ValueError(f"AlignedSTT: need 0 <= interim_delay <= final_delay, got {interim_delay!r} and {final_delay!r}")
        self.final_delay = final_delay
        self.interim_delay = interim_delay
        self.utterances = [_utterance(i, label) for i, label in enumerate(labels)]
        for i, (a, b) in enumerate(zip(self.utterances, self.utterances[1:], strict=False)):
            if b.start < a.end:
                raise ValueError(f"AlignedSTT: labels[{i + 1}] starts at {b.start} before labels[{i}] ends at {a.end}")

    def transcribe(self, audio: Audio | None, track: VADTrack | None) -> list[Utterance]:
        return list(self.utterances)

    def __repr__(self) -> str:
        return f"AlignedSTT({len(self.utterances)} utterances, final_delay={self.final_delay})"


def _utterance(i: int, label: Any) -> Utterance:
    if isinstance(label, Utterance):
        u = label
    elif isinstance(label, Mapping):
        try:
            u = Utterance(
                float(label["start"]),
                float(label["end"]),
                str(label.get("text", label.get("transcript", ""))),
                tuple(tuple(w) for w in label.get("words", ())),
                label.get("confidence"),
                label.get("language"),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"AlignedSTT: labels[{i}] = {label!r} is not a valid utterance ({exc})") from None
    elif isinstance(label, (tuple, list)) and len(label) == 3:
        u = Utterance(float(label[0]), float(label[1]), str(label[2]))
    else:
        raise ValueError(f"AlignedSTT: labels[{i}] = {label!r}; expected (start, end, text), a mapping or an Utterance")
    if not (u.start >= 0 and u.end > u.start):
        raise ValueError(f"AlignedSTT: labels[{i}] needs 0 <= start < end, got start={u.start}, end={u.end}")
    return u


def stt_events(utterances: Sequence[Utterance], stt: STT) -> list[tuple[float, str, dict[str, Any]]]:
    """The transcript observations for ``utterances`` as ``(time, engine method, arguments)``."""
    raw: list[tuple[float, str, dict[str, Any]]] = []
    for u in utterances:
        words = u.text.split()
        if stt.interim_delay is not None and len(words) > 2:
            interim = {"text": " ".join(words[:2]), "is_final": False, "language": u.language}
            raw.append((u.end + stt.interim_delay, "on_transcript", interim))
        final = {"text": u.text, "is_final": True, "confidence": u.confidence, "word_end": u.end, "language": u.language}
        raw.append((u.end + stt.final_delay, "on_transcript", final))
    return raw


def recording_events(track: VADTrack, utterances: Sequence[Utterance], stt: STT, *, stt_end_of_speech: bool = False) -> list[InputEvent]:
    """VAD events from ``track`` and transcript events from ``utterances``, merged in time order.

    ``stt_end_of_speech`` adds the STT's own start/end-of-speech events (``turn_detection="stt"``).
    """
    raw: list[tuple[float, str, dict[str, Any]]] = []
    for seg in track.segments:
        raw.append((seg.start_detected, "on_vad_start", {"speech_start": seg.start}))
        raw.append((seg.end, "on_vad_silence", {}))
        raw.append((seg.end_detected, "on_vad_end", {"speech_end": seg.end}))
    raw += stt_events(utterances, stt)
    if stt_end_of_speech:
        for u in utterances:
            raw.append((u.start, "on_stt_start_of_speech", {}))
            raw.append((u.end + stt.final_delay, "on_stt_end_of_speech", {}))
    return [InputEvent(round(t, 9), i, kind, data) for i, (t, kind, data) in enumerate(sorted(raw, key=lambda r: r[0]))]
