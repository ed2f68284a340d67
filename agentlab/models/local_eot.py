"""LiveKit's local *audio* end-of-turn model (``livekit-local-inference``'s ``EOT``) as a turn detector.

Theory of operation
-------------------
LiveKit 1.8.9's default turn detector off the cloud is ``v1-mini``, an audio model that runs on
device: when the user has been silent for about 0.2 s it looks at the last (at most) 1.2 s of
audio and answers P(the turn is over) (reference §3, §4.2). The session then waits ``max_delay``
instead of ``min_delay`` when that probability is below the language's *unlikely* threshold.

In a simulation the model cannot run on the virtual clock, so the work is split in two:

* :meth:`LocalAudioTurnDetector.analyze` runs once per recording (``simulate`` calls it next to the
  VAD and the STT, in a worker thread while virtual time is held). For every VAD segment it takes
  the audio up to ``segment.end + ask_after`` (0.2 s: when LiveKit asks), keeps the last
  ``context`` seconds (at most 1.2 s = 19 200 samples, the model's receptive field; shorter audio
  is left-padded with silence by the model), converts it to int16 and stores
  ``{segment end: probability}``. The table is cached in an
  :class:`~agentlab.audio.AnalysisCache` under the audio's content hash, the model version, these
  settings and the segment ends.
* :meth:`LocalAudioTurnDetector.predict` is what the turn engine calls when the user stops: it looks
  up the probability stored for ``speech_end`` (the nearest end within 1e-6 s) and returns 0.5
  (no opinion: above every threshold, so ``min_delay``) for speech it has not analysed.

Inference time is modelled, not measured: ``latency`` (default 0.037 s, the measured 36.9 ms per
``predict`` on a 2-core x86-64) delays the engine's decision exactly as a slow model would, and the
result never depends on the machine. Thresholds are LiveKit's v1-mini table
(:data:`~agentlab.models.turn_detector.UNLIKELY_THRESHOLDS`; unknown languages use English).

Measured quality (shared reference, components §1): the model separates turn ends from pauses only
weakly on synthetic speech (Piper: mean P(end) 0.47 after ends vs 0.35 mid-utterance; espeak: no
real separation). Expect many ``max_delay`` waits on espeak test audio.

``model`` may be any object with ``predict(int16 array) -> float`` (useful for tests and for other
audio end-of-turn models); by default it is ``livekit.local_inference.EOT()``, created on first use
(the native model singleton is about 108 MB and takes ~0.3 s to load).

**Licence.** The model weights in ``livekit-local-inference`` are under the *LiveKit Model License*
(the wheel's ``MODEL_LICENSE``), which allows their use only together with the LiveKit Agents
framework, not standalone or with other frameworks. agentlab does not ship or depend on the package
(the ``local-eot`` extra is opt-in); check that your use complies before installing it.

Install with ``pip install 'agentlab-voice[local-eot]'`` (one 35 MB wheel, no dependencies besides numpy).

Example::

    from agentlab.models.local_eot import LocalAudioTurnDetector

    detector = LocalAudioTurnDetector()
    run = simulate(Host, {"llm": llm, "stt": stt, "turn_handling": {"turn_detection": detector}}, "call.wav")
    detector.probabilities          # {segment end: P(end of turn)} of the last analysed recording
"""

from __future__ import annotations

import bisect
import hashlib
import importlib.util
import json
import threading
from importlib import metadata
from typing import TYPE_CHECKING, Any

import numpy as np

from ..audio.cache import AnalysisCache, CacheKey, default_cache
from .turn_detector import UNLIKELY_THRESHOLDS

if TYPE_CHECKING:
    from ..audio.io import Audio
    from ..audio.vad import VADTrack

__all__ = ["EOT_MAX_SAMPLES", "LocalAudioTurnDetector", "available"]

_INSTALL_HINT = "pip install 'agentlab-voice[local-eot]'"
_SAMPLE_RATE = 16000
#: The model's receptive field: 1.2 s at 16 kHz (``livekit.local_inference.EOT_MAX_SAMPLES``).
EOT_MAX_SAMPLES = 19200
_MATCH_TOLERANCE = 1e-6
_CACHE_VERSION = "v1"

_eot: Any = None
_eot_lock = threading.Lock()


def _default_model() -> Any:
    """The process-wide ``EOT()`` (created on first use, thread-safe)."""
    global _eot
    with _eot_lock:
        if _eot is None:
            try:
                from livekit.local_inference import EOT
            except ImportError as e:
                raise ImportError(f"LocalAudioTurnDetector needs the 'livekit-local-inference' package: {_INSTALL_HINT}") from e
            _eot = EOT()
        return _eot


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "unknown"


class LocalAudioTurnDetector:
    """LiveKit's local audio end-of-turn model, analysed once per recording (see the module docstring).

    ``latency`` is the modelled inference time in seconds; ``thresholds`` overrides per-language
    unlikely thresholds; ``context`` is how much audio the model sees (seconds, at most 1.2);
    ``ask_after`` is how long after the speech end the model is asked; ``model`` replaces the
    livekit model (any object with ``predict(int16 array) -> float``; its results are cached only
    if it has a ``cache_id`` string naming its weights and version); ``cache`` is an
    :class:`AnalysisCache`, ``None`` for :func:`default_cache` or ``False`` for none.

    Implements :class:`~agentlab.engine.turns.TurnDetectorModel`. One instance holds the table of
    the last analysed recording: share it between simulations of one recording, not between
    concurrent simulations of different recordings.

    Example::

        detector = LocalAudioTurnDetector()
        detector.analyze(audio, track)          # {2.848: 0.31, 6.432: 0.12, ...}
        detector.predict("", speech_end=2.848)  # 0.31
        detector.unlikely_threshold("en")       # 0.36
    """

    model = "v1-mini"
    provider = "livekit-local-inference"
    #: A streaming audio detector (LiveKit uses min_delay 0.3 s / max_delay 2.5 s by default with one).
    streaming = True

    def __init__(
        self,
        *,
        latency: float = 0.037,
        thresholds: dict[str, float] | None = None,
        context: float = EOT_MAX_SAMPLES / _SAMPLE_RATE,
        ask_after: float = 0.2,
        model: Any = None,
        cache: AnalysisCache | bool | None = None,
        accept_livekit_model_license: bool = False,
    ) -> None:
        if not (latency >= 0):
            raise ValueError(f"LocalAudioTurnDetector: latency = {latency!r} must be >= 0 seconds")
        if not (0 < context <= EOT_MAX_SAMPLES / _SAMPLE_RATE):
            raise ValueError(f"LocalAudioTurnDetector: context = {context!r} must be in (0, 1.2] seconds")
        if not (ask_after >= 0):
            raise ValueError(f"LocalAudioTurnDetector: ask_after = {ask_after!r} must be >= 0 seconds")
        if cache is not None and not isinstance(cache, (bool, AnalysisCache)):
            raise TypeError(f"LocalAudioTurnDetector: cache must be an AnalysisCache, None or False, got {cache!r}")
        if model is None and not accept_livekit_model_license:
            # The model's licence (MODEL_LICENSE in the wheel) allows it only inside LiveKit Agents.
            raise ValueError(
                "LocalAudioTurnDetector: LiveKit's end-of-turn model is licensed for use with LiveKit Agents only "
                "(see MODEL_LICENSE in the livekit-local-inference wheel). Read it, and pass "
                "accept_livekit_model_license=True only if your use complies; or pass model= your own audio model."
            )
        if model is None and not available():
            raise ImportError(f"LocalAudioTurnDetector needs the 'livekit-local-inference' package: {_INSTALL_HINT}")
        if model is not None and not callable(getattr(model, "predict", None)):
            raise TypeError(f"LocalAudioTurnDetector: model must have a predict(int16 array) method, got {model!r}")
        self.latency = latency
        self.thresholds = {**UNLIKELY_THRESHOLDS, **(thresholds or {})}
        self.context = context
        self.ask_after = ask_after
        self._model = model
        self._cache = cache
        self._ends: list[float] = []
        self._probs: list[float] = []
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        who = "livekit EOT" if self._model is None else type(self._model).__name__
        return f"LocalAudioTurnDetector({who}, latency={self.latency}, {len(self._ends)} segments analysed)"

    @property
    def cache(self) -> AnalysisCache | None:
        """The cache analyses go to (``None`` when caching is off)."""
        if self._cache is False:
            return None
        return default_cache() if self._cache is None or self._cache is True else self._cache

    @property
    def probabilities(self) -> dict[float, float]:
        """``{segment end: P(end of turn)}`` of the last analysed recording."""
        with self._lock:
            return dict(zip(self._ends, self._probs, strict=True))

    # -- TurnDetectorModel ------------------------------------------------------------------------

    def unlikely_threshold(self, language: str | None) -> float | None:
        """The v1-mini cut for ``language`` (``"en-US"`` → ``"en"``); English when unknown."""
        base = (language or "en").split("-")[0].lower()
        return self.thresholds.get(base, self.thresholds["en"])

    def predict(self, transcript: str, *, language: str | None = None, speech_end: float | None = None) -> float:
        """The probability analysed for the speech that ended at ``speech_end``; 0.5 if unknown.

        ``transcript`` and ``language`` are not used: the model listens, it does not read.
        """
        if speech_end is None:
            return 0.5
        with self._lock:
            ends, probs = self._ends, self._probs
            i = bisect.bisect_left(ends, speech_end)
            best = None
            for j in (i - 1, i):
                if 0 <= j < len(ends) and abs(ends[j] - speech_end) <= _MATCH_TOLERANCE:
                    if best is None or abs(ends[j] - speech_end) < abs(ends[best] - speech_end):
                        best = j
            return probs[best] if best is not None else 0.5

    # -- analysis ------------------------------------------------------------------------------

    def analyze(self, audio: Audio, track: VADTrack) -> dict[float, float]:
        """Run the model at every VAD segment end of ``audio``; keep and return ``{end: probability}``."""
        from ..audio.io import Audio, load_audio

        if not isinstance(audio, Audio):
            raise ValueError(
                f"LocalAudioTurnDetector.analyze needs the recording as an Audio (see agentlab.audio.load_audio), got {audio!r}"
            )
        ends = sorted({float(s.end) for s in track.segments})
        store = self.cache
        key = self._cache_key(audio, ends)
        probs: list[float] | None = None
        if store is not None and key is not None:
            hit = store.get(key)
            if hit is not None:
                try:
                    cached = [float(p) for p in hit["probabilities"]]
                    if [float(e) for e in hit["ends"]] == ends and len(cached) == len(ends):
                        probs = cached
                except (KeyError, TypeError, ValueError):
                    probs = None  # an unreadable entry: recompute and overwrite it
        if probs is None:
            samples = audio.samples if audio.sample_rate == _SAMPLE_RATE else load_audio(audio, sample_rate=_SAMPLE_RATE).samples
            probs = self._run(samples, ends)
            if store is not None and key is not None:
                store.put(key, {"ends": ends, "probabilities": probs})
        with self._lock:
            self._ends, self._probs = ends, probs
        return dict(zip(ends, probs, strict=True))

    def window(self, samples: np.ndarray, end: float) -> np.ndarray:
        """The int16 audio the model hears for speech ending at ``end`` (16 kHz ``samples``)."""
        b = min(len(samples), max(0, round((end + self.ask_after) * _SAMPLE_RATE)))
        a = max(0, b - round(self.context * _SAMPLE_RATE))
        pcm = np.clip(np.asarray(samples[a:b], dtype=np.float32), -1.0, 1.0) * 32767.0
        return np.ascontiguousarray(np.round(pcm).astype(np.int16))

    def _run(self, samples: np.ndarray, ends: list[float]) -> list[float]:
        model = self._model if self._model is not None else _default_model()
        out = []
        for end in ends:
            p = float(model.predict(self.window(samples, end)))
            if not np.isfinite(p):
                raise ValueError(f"LocalAudioTurnDetector: the model returned {p!r} for the speech ending at {end:.3f} s")
            out.append(min(1.0, max(0.0, p)))
        return out

    def _cache_key(self, audio: Audio, ends: list[float]) -> CacheKey | None:
        if self._model is None:
            backend = f"livekit-local-inference=={_version('livekit-local-inference')}"
        else:
            ident = getattr(self._model, "cache_id", None)
            if ident is None:
                return None  # a custom model without a stable ``cache_id`` string: never cached
            backend = f"custom:{ident}"
        settings = json.dumps({"context": float(self.context), "ask_after": float(self.ask_after)}, sort_keys=True)
        ends_hash = hashlib.sha256(json.dumps(ends).encode()).hexdigest()
        return CacheKey(f"audio-sha256:{audio.sha256}", "eot-probabilities", backend, f"{settings}|ends:{ends_hash}|{_CACHE_VERSION}")


def available() -> bool:
    """True when ``livekit-local-inference`` is installed (without importing it)."""
    try:
        return importlib.util.find_spec("livekit.local_inference") is not None
    except (ImportError, ValueError):
        return False
