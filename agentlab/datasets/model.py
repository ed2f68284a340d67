"""Labelled turn datasets: the in-memory model (the on-disk format is in ``datasets/README.md``).

A :class:`Dataset` is a folder with a ``manifest.json`` and, per conversation, a labels file
(``<id>.json``) and optionally the user channel's audio (``<id>.flac``). A :class:`Conversation`
holds the user's turns with words, the labelled pauses (eot-bench convention: inside a turn every
silence of at least 100 ms is a **hold**; the silence after the turn's last word is its **eot**),
the agent's speech, labelled overlaps during agent speech (**barge_in**, **backchannel**,
**noise**), the tool calls a task expects, and metadata.

Example::

    ds = agentlab.datasets.load("dictation")
    conv = ds[0]
    conv.spans[:3]          # (Span(kind='hold', ...), ...)
    ds.frame()              # one row per labelled span
"""

from __future__ import annotations

from dataclasses import field
from pathlib import Path
from typing import Any, Literal

from .._frozen import frozen

__all__ = [
    "HOLD_MIN_SILENCE",
    "SPAN_KINDS",
    "AgentSpeech",
    "Conversation",
    "ExpectedToolCall",
    "Overlap",
    "Span",
    "Turn",
    "Word",
]

#: eot-bench: a silence inside a turn counts as a hold span from this length (seconds).
HOLD_MIN_SILENCE = 0.1

SpanKind = Literal["hold", "eot"]
OverlapKind = Literal["barge_in", "backchannel", "noise"]
SPAN_KINDS: tuple[str, ...] = ("hold", "eot", "barge_in", "backchannel", "noise")


@frozen
class Word:
    """A word of a user turn, with its time in the conversation (seconds)."""

    text: str
    start: float
    end: float


@frozen
class Turn:
    """One user turn: from its first word to its last, with the transcript and words."""

    start: float
    end: float
    transcript: str
    words: tuple[Word, ...] = ()


@frozen
class Span:
    """A labelled pause: ``hold`` (mid-turn) or ``eot`` (after the turn's last word), of turn ``turn``."""

    kind: SpanKind
    start: float
    end: float
    turn: int

    @property
    def duration(self) -> float:
        """Seconds."""
        return self.end - self.start


@frozen
class AgentSpeech:
    """An interval where the agent is talking in the recorded scenario."""

    start: float
    end: float
    text: str = ""


@frozen
class Overlap:
    """User sound during agent speech ``agent``: a real ``barge_in``, a ``backchannel`` or ``noise``."""

    kind: OverlapKind
    start: float
    end: float
    agent: int
    transcript: str | None = None


@frozen
class ExpectedToolCall:
    """A tool call a task conversation should produce (arguments compared as a subset).

    ``turn``, when given, is the index of the text turn after which the call is due (the user has
    then said everything it needs); ``None`` when unlabelled.
    """

    name: str
    arguments: dict[str, Any] = field(default_factory=dict)
    turn: int | None = None


@frozen
class Conversation:
    """One labelled conversation (see the module docstring).

    ``audio`` is the path of the user channel's recording, or ``None`` for a scripted (text-only
    or speech-script) conversation; ``text_turns`` are the user's messages for text-only tasks.
    ``channel`` is the user's channel of a multi-channel ``audio`` (``None``: the file is mono);
    ``mask`` lists ``(start, end)`` stretches of the audio to silence before it is analysed: the
    other speakers of a mono mix, so that only the user's voice reaches the VAD and STT.
    """

    id: str
    duration: float
    turns: tuple[Turn, ...] = ()
    spans: tuple[Span, ...] = ()
    agent: tuple[AgentSpeech, ...] = ()
    overlaps: tuple[Overlap, ...] = ()
    expected_tools: tuple[ExpectedToolCall, ...] = ()
    text_turns: tuple[str, ...] = ()
    audio: Path | None = None
    sample_rate: int = 16000
    metadata: dict[str, Any] = field(default_factory=dict)
    channel: int | None = None
    mask: tuple[tuple[float, float], ...] = ()

    def __repr__(self) -> str:
        kinds: dict[str, int] = {}
        for s in self.spans:
            kinds[s.kind] = kinds.get(s.kind, 0) + 1
        for o in self.overlaps:
            kinds[o.kind] = kinds.get(o.kind, 0) + 1
        what = ", ".join(f"{v} {k}" for k, v in kinds.items()) or "no spans"
        return f"Conversation({self.id!r}, {len(self.turns)} turns, {what}, {self.duration:.1f}s{', audio' if self.audio else ''})"

    # --- helpers (defined in io.py / convert.py; imported lazily to keep this module dependency-free) ---

    def load_audio(self) -> Any:
        """Decode the user's voice: an :class:`~agentlab.audio.Audio` at ``sample_rate``.

        That is ``channel`` of the recording (all of it when mono), with the ``mask`` stretches
        silenced. Raises ``ValueError`` for a scripted conversation (no audio).
        """
        if self.audio is None:
            raise ValueError(f"conversation {self.id!r} is scripted: it has no audio")
        from ..audio.io import Audio, load_audio

        audio = load_audio(self.audio, sample_rate=self.sample_rate, allow_silent=True, channel=self.channel)
        if not self.mask:
            return audio
        samples = audio.samples.copy()
        rate = audio.sample_rate
        for start, end in self.mask:
            samples[max(0, round(start * rate)) : max(0, round(end * rate))] = 0.0
        return Audio(samples, rate, f"{audio.source} (masked: {len(self.mask)} stretches of other speakers)")

    def analysis_audio(self) -> Any:
        """What the VAD and STT analyse: the file's path when it is the user's voice as is (streamed,
        cached by content), else :meth:`load_audio` (a channel picked, other speakers masked)."""
        if self.audio is None:
            raise ValueError(f"conversation {self.id!r} is scripted: it has no audio")
        return self.audio if self.channel is None and not self.mask else self.load_audio()

    def to_dict(self) -> dict[str, Any]:
        """The ``<id>.json`` data of this conversation (see ``datasets/README.md``)."""
        from .io import conversation_to_dict

        return conversation_to_dict(self)

    def utterances(self, *, split_pause: float = 0.3) -> list[Any]:
        """The user's speech as STT utterances (see :func:`agentlab.datasets.convert.utterances`)."""
        from .convert import utterances

        return utterances(self, split_pause=split_pause)

    def user_speech(self, *, stt_delay: float = 0.2, split_pause: float = 0.3) -> list[Any]:
        """The user's speech as a spoken script (see :func:`agentlab.datasets.convert.user_speech`)."""
        from .convert import user_speech

        return user_speech(self, stt_delay=stt_delay, split_pause=split_pause)

    def aligned_stt(self, *, final_delay: float = 0.2, interim_delay: float | None = 0.1, split_pause: float = 0.3) -> Any:
        """A perfect STT replaying this conversation's labels (see :func:`agentlab.datasets.convert.aligned_stt`)."""
        from .convert import aligned_stt

        return aligned_stt(self, final_delay=final_delay, interim_delay=interim_delay, split_pause=split_pause)
