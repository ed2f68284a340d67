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
from typing import TYPE_CHECKING, Any, Literal

from .._frozen import frozen
from .._utils import rounded
from ..engine.inputs import InputEvent

if TYPE_CHECKING:
    from ..audio.io import Audio
    from ..audio.vad import VADTrack

__all__ = ["STT", "AlignedSTT", "ModelledSTT", "STTOptions", "Utterance", "recording_events", "stt_events"]


@frozen
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

    def transcript_events(self, utterances: Sequence[Utterance], *, end_of_speech: bool = False) -> list[tuple[float, str, dict[str, Any]]]:
        """When each utterance's transcripts reach the session, as ``(time, engine method, arguments)``.

        The interim (the first two words, for utterances of more than two) comes ``interim_delay``
        after the utterance ends and the final ``final_delay`` after it, with the word times when
        known. ``end_of_speech`` adds the STT's own start/end-of-speech events (``turn_detection="stt"``):
        start at the utterance's start, end with its final.
        """
        raw: list[tuple[float, str, dict[str, Any]]] = []
        for u in utterances:
            words = u.text.split()
            if self.interim_delay is not None and len(words) > 2:
                raw.append(
                    (u.end + self.interim_delay, "on_transcript", {"text": " ".join(words[:2]), "is_final": False, "language": u.language})
                )
            raw.append((u.end + self.final_delay, "on_transcript", _final(u)))
            if end_of_speech:
                raw.append((u.start, "on_stt_start_of_speech", {}))
                raw.append((u.end + self.final_delay, "on_stt_end_of_speech", {}))
        return raw


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


def _final(u: Utterance) -> dict[str, Any]:
    """The engine arguments of ``u``'s final transcript."""
    data: dict[str, Any] = {"text": u.text, "is_final": True, "confidence": u.confidence, "word_end": u.end, "language": u.language}
    if u.words:
        data["words"] = u.words
        data["word_end"] = u.words[-1][2]
    return data


#: What a word error turns into: substitutions take a short common word, insertions add a filler.
_SUBSTITUTES = ("a", "the", "and", "to", "in", "it", "is", "that", "of", "on", "so", "an")
_INSERTIONS = ("uh", "the", "a", "and", "um")
#: Shares of substitutions, deletions and insertions in a word error rate (typical of streaming ASR).
ERROR_MIX = (0.6, 0.25, 0.15)


class ModelledSTT(STT):
    """A streaming STT modelled from published figures, over labelled words: not an oracle.

    It hears the labels' words (``labels`` as for :class:`AlignedSTT`) and gets them wrong and late
    the way a real streaming recognizer does, deterministically for a given ``seed``:

    * **Word errors** at rate ``wer``, split :data:`ERROR_MIX` (60 % substitutions by a short common
      word, 25 % deletions, 15 % inserted fillers).
    * **Word times** off by ``timing_jitter`` seconds (normal, kept in order and inside the utterance);
      the final transcript carries the last heard word's end, which anchors the end of turn in
      ``turn_detection="stt"`` mode.
    * **Final delay** drawn per utterance from a log-normal with median ``final_delay`` and 90th
      percentile ``final_delay_p90`` (default ``2 × final_delay``); a final never overtakes the
      previous one (streams are in order).
    * **Interims** every ``interim_interval`` seconds while the user speaks (the words spoken so far),
      and one ``interim_interval`` after the end unless the final came first; ``None`` for no interims.

    Example::

        stt = ModelledSTT([(0.5, 2.3, "What's the weather in Paris?")], wer=0.1, final_delay=0.25, seed=1)
        stt.transcribe(None, None)          # the utterance as recognized (errors, jittered words)
    """

    model = "modelled"
    provider = "agentlab"

    def __init__(
        self,
        labels: Sequence[Any],
        *,
        final_delay: float = 0.25,
        final_delay_p90: float | None = None,
        interim_interval: float | None = 0.3,
        wer: float = 0.0,
        timing_jitter: float = 0.0,
        seed: int = 0,
    ) -> None:
        p90 = 2 * final_delay if final_delay_p90 is None else final_delay_p90
        checks = [
            ("final_delay", final_delay, _is_seconds(final_delay)),
            ("final_delay_p90", final_delay_p90, _is_seconds(p90) and p90 >= final_delay),
            ("interim_interval", interim_interval, interim_interval is None or (_is_seconds(interim_interval) and interim_interval > 0)),
            ("wer", wer, _is_seconds(wer) and wer <= 1),
            ("timing_jitter", timing_jitter, _is_seconds(timing_jitter)),
            ("seed", seed, isinstance(seed, int) and not isinstance(seed, bool)),
        ]
        for name, value, ok in checks:
            if not ok:
                raise ValueError(f"ModelledSTT: {name} = {value!r} is out of range (see the class docstring)")
        self.labels = AlignedSTT(labels, final_delay=final_delay, interim_delay=None).utterances
        self.final_delay, self.final_delay_p90 = float(final_delay), float(p90)
        self.interim_delay = None
        self.interim_interval, self.wer, self.timing_jitter, self.seed = interim_interval, float(wer), float(timing_jitter), seed

    def __repr__(self) -> str:
        return (
            f"ModelledSTT({len(self.labels)} utterances, wer={self.wer:g}, final_delay={self.final_delay:g}/{self.final_delay_p90:g} "
            f"(p50/p90), interim_interval={self.interim_interval}, timing_jitter={self.timing_jitter:g}, seed={self.seed})"
        )

    def _rng(self, i: int, u: Utterance, what: str) -> Any:
        import zlib

        import numpy as np

        return np.random.default_rng([self.seed, i, zlib.crc32(f"{what}|{u.start:.6f}|{u.text}".encode())])

    def transcribe(self, audio: Audio | None, track: VADTrack | None) -> list[Utterance]:
        return [self._recognize(i, u) for i, u in enumerate(self.labels)]

    def _recognize(self, i: int, u: Utterance) -> Utterance:
        rng = self._rng(i, u, "words")
        words = list(u.words) or _even_words(u)
        out: list[tuple[str, float, float]] = []
        sub, dele, _ = ERROR_MIX
        for w, ws, we in words:
            if self.timing_jitter:
                ws, we = ws + rng.normal(0, self.timing_jitter), we + rng.normal(0, self.timing_jitter)
            r = rng.random()
            if r < self.wer * sub:
                w = _SUBSTITUTES[int(rng.integers(len(_SUBSTITUTES)))]
            elif r < self.wer * (sub + dele):
                continue
            elif r < self.wer:
                out.append((_INSERTIONS[int(rng.integers(len(_INSERTIONS)))], ws, ws))
            out.append((w, ws, we))
        # keep times in order and inside the utterance (jitter must not move speech the VAD placed)
        fixed, prev = [], u.start
        for w, ws, we in out:
            ws = min(max(ws, prev), u.end)
            we = min(max(we, ws), u.end)
            fixed.append((w, round(ws, 6), round(we, 6)))
            prev = ws
        text = " ".join(w for w, _, _ in fixed)
        return Utterance(u.start, u.end, text, tuple(fixed), u.confidence, u.language)

    def transcript_events(self, utterances: Sequence[Utterance], *, end_of_speech: bool = False) -> list[tuple[float, str, dict[str, Any]]]:
        import math

        sigma = math.log(self.final_delay_p90 / self.final_delay) / 1.2815515655446004 if self.final_delay > 0 else 0.0
        raw: list[tuple[float, str, dict[str, Any]]] = []
        last_final = -math.inf
        for i, u in enumerate(utterances):
            rng = self._rng(i, u, "delay")
            delay = self.final_delay * math.exp(sigma * rng.standard_normal()) if self.final_delay > 0 else 0.0
            final_at = max(u.end + delay, last_final)
            last_final = final_at
            if self.interim_interval is not None and u.words:
                shown = ""
                t = u.start + self.interim_interval
                while t < final_at - 1e-9:
                    text = " ".join(w for w, ws, we in u.words if we <= t + 1e-9)
                    if text and text != shown:
                        raw.append((rounded(t), "on_transcript", {"text": text, "is_final": False, "language": u.language}))
                        shown = text
                    t += self.interim_interval
            raw.append((rounded(final_at), "on_transcript", _final(u)))
            if end_of_speech:
                raw.append((u.start, "on_stt_start_of_speech", {}))
                raw.append((rounded(final_at), "on_stt_end_of_speech", {}))
        return raw


def _is_seconds(v: Any) -> bool:
    import math

    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) and v >= 0


def _even_words(u: Utterance) -> list[tuple[str, float, float]]:
    """Word times for an utterance labelled without them: its words spread evenly."""
    words = u.text.split()
    if not words:
        return []
    step = (u.end - u.start) / len(words)
    return [(w, u.start + k * step, u.start + (k + 1) * step) for k, w in enumerate(words)]


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


def stt_events(utterances: Sequence[Utterance], stt: STT, *, end_of_speech: bool = False) -> list[tuple[float, str, dict[str, Any]]]:
    """The transcript observations of ``utterances`` as ``(time, engine method, arguments)``: ``stt.transcript_events``."""
    return stt.transcript_events(utterances, end_of_speech=end_of_speech)


def recording_events(track: VADTrack, utterances: Sequence[Utterance], stt: STT, *, stt_end_of_speech: bool = False) -> list[InputEvent]:
    """VAD events from ``track`` and transcript events from ``utterances``, merged in time order.

    The VAD is LiveKit's real one: its speech duration spans each segment to its end-of-speech
    (trailing silence included), on frames of ``track.frame_duration``. ``stt_end_of_speech`` adds
    the STT's own start/end-of-speech events (``turn_detection="stt"``).
    """
    raw: list[tuple[float, str, dict[str, Any]]] = []
    for seg in track.segments:
        raw.append((seg.start_detected, "on_vad_start", {"speech_start": seg.start, "interval": track.frame_duration or None}))
        raw.append((seg.end, "on_vad_pause", {}))  # the trailing silence starts (pauses inside a segment are not seen)
        raw.append((seg.end_detected, "on_vad_end", {"speech_end": seg.end}))
    raw += stt.transcript_events(utterances, end_of_speech=stt_end_of_speech)
    return [InputEvent(rounded(t), i, kind, data) for i, (t, kind, data) in enumerate(sorted(raw, key=lambda r: r[0]))]


@frozen
class STTOptions:
    """Which STT a sweep hears the user through: the STT counterpart of :class:`~agentlab.audio.VADOptions`.

    ``model``:

    * ``"aligned"``: the labels' words, each stretch final ``final_delay`` after it ends
      (:class:`AlignedSTT`). Exact words and timing: an oracle for the words, fine for VAD-driven
      endpointing, flattering for ``turn_detection="stt"``.
    * ``"modelled"``: :class:`ModelledSTT` over the labels: ``wer``, ``timing_jitter``, final delays
      with median ``final_delay`` and 90th percentile ``final_delay_p90``, interims every
      ``interim_interval``.
    * ``"whisper"``: a real recognizer, :class:`~agentlab.models.whisper.WhisperSTT` (Whisper tiny.en,
      offline; ``pip install 'agentlab-voice[whisper]'``), one utterance per VAD segment, final
      ``final_delay`` after it. Needs audio; computed once per recording and cached like the VAD.

    ``interim_delay`` (aligned and whisper): the interim's delay after each stretch; ``None`` means
    half the final delay (LiveKit's test STT). ``split_pause``: the labelled pauses at which a
    streaming STT finalizes a stretch (aligned and modelled). ``seed``: the modelled STT's draws.
    Bad values raise ``ValueError`` naming the field.

    Example::

        STTOptions(model="modelled", wer=0.1, final_delay=0.25, final_delay_p90=0.6)
        sweep(None, "real", {"stt.model": ["aligned", "modelled"], "endpointing.min_delay": [0.3, 0.6]})
    """

    model: Literal["aligned", "modelled", "whisper"] = "aligned"
    final_delay: float = 0.2
    final_delay_p90: float | None = None
    interim_delay: float | None = None
    interim_interval: float | None = 0.3
    wer: float = 0.0
    timing_jitter: float = 0.0
    split_pause: float = 0.3
    seed: int = 0

    def __post_init__(self) -> None:
        if self.model not in ("aligned", "modelled", "whisper"):
            raise ValueError(f"STTOptions.model = {self.model!r}; expected 'aligned', 'modelled' or 'whisper'")
        for name in ("final_delay", "wer", "timing_jitter", "split_pause"):
            if not _is_seconds(getattr(self, name)):
                raise ValueError(f"STTOptions.{name} = {getattr(self, name)!r} must be a finite number >= 0")
        if self.wer > 1:
            raise ValueError(f"STTOptions.wer = {self.wer!r} must be between 0 and 1")
        if self.split_pause <= 0:
            raise ValueError(f"STTOptions.split_pause = {self.split_pause!r} must be > 0 seconds")
        if self.final_delay_p90 is not None and not (_is_seconds(self.final_delay_p90) and self.final_delay_p90 >= self.final_delay):
            raise ValueError(f"STTOptions.final_delay_p90 = {self.final_delay_p90!r} must be a number >= final_delay ({self.final_delay})")
        if self.interim_delay is not None and not (_is_seconds(self.interim_delay) and self.interim_delay <= self.final_delay):
            raise ValueError(
                f"STTOptions.interim_delay = {self.interim_delay!r} must be None or between 0 and final_delay ({self.final_delay})"
            )
        if self.interim_interval is not None and not (_is_seconds(self.interim_interval) and self.interim_interval > 0):
            raise ValueError(f"STTOptions.interim_interval = {self.interim_interval!r} must be None or a number of seconds > 0")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int):
            raise ValueError(f"STTOptions.seed = {self.seed!r} must be an integer")

    def describe(self) -> str:
        """A short account of the STT, recorded with every sweep cell (which STT produced its words).

        Example::

            STTOptions(model="modelled", wer=0.1).describe()   # 'modelled: WER 10%, final 0.2 s p50 / 0.4 s p90, ...'
        """
        if self.model == "aligned":
            return f"aligned: labelled words, final +{self.final_delay:g} s"
        if self.model == "whisper":
            return f"whisper: Whisper tiny.en on the audio, final +{self.final_delay:g} s"
        p90 = 2 * self.final_delay if self.final_delay_p90 is None else self.final_delay_p90
        interims = "no interims" if self.interim_interval is None else f"interims every {self.interim_interval:g} s"
        return (
            f"modelled: WER {self.wer:.0%}, final {self.final_delay:g} s p50 / {p90:g} s p90, "
            f"word times ±{self.timing_jitter:g} s, {interims}, seed {self.seed}"
        )

    def build(self, labels: Sequence[Any], audio: Audio | None = None, track: VADTrack | None = None) -> tuple[STT, list[Utterance]]:
        """The STT and the utterances it hears: ``labels`` (for aligned and modelled) or ``audio`` (whisper).

        Example::

            stt, heard = STTOptions(model="modelled", wer=0.2).build(conv.utterances())
            stt.transcript_events(heard)
        """
        interim = self.final_delay / 2 if self.interim_delay is None else self.interim_delay
        if self.model == "aligned":
            stt: STT = AlignedSTT(labels, final_delay=self.final_delay, interim_delay=interim)
            return stt, list(stt.utterances)  # type: ignore[attr-defined]
        if self.model == "modelled":
            stt = ModelledSTT(
                labels,
                final_delay=self.final_delay,
                final_delay_p90=self.final_delay_p90,
                interim_interval=self.interim_interval,
                wer=self.wer,
                timing_jitter=self.timing_jitter,
                seed=self.seed,
            )
            return stt, stt.transcribe(None, None)
        if audio is None:
            raise ValueError("STTOptions(model='whisper') needs the conversation's audio; scripted conversations have none")
        from .whisper import WhisperSTT

        stt = WhisperSTT(final_delay=self.final_delay, interim_delay=interim)
        return stt, stt.transcribe(audio, track)
