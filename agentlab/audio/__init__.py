"""Audio in agentlab: loading and resampling, VAD tracks, and the analysis cache.

Recordings enter through :func:`load_audio` (any file libsndfile reads, or a numpy array) as a
read-only 16 kHz mono :class:`Audio`; :func:`analyze_vad` turns one into a :class:`VADTrack` of
speech segments with LiveKit's VAD semantics, once per content and settings (cached by
:class:`AnalysisCache`); :meth:`VADTrack.from_segments` gives scripted users the same latency model
without audio.

Example::

    from agentlab.audio import analyze_vad, load_audio

    audio = load_audio("call.mp3")
    track = analyze_vad(audio)              # Silero, LiveKit 1.8.9 auto-VAD defaults
    track.frame()
"""

from .cache import AnalysisCache, CacheKey, CacheStats, default_cache
from .io import (
    DEFAULT_SAMPLE_RATE,
    LONG_AUDIO_SECONDS,
    SILENCE_PEAK,
    Audio,
    AudioError,
    iter_audio_blocks,
    load_audio,
    resample,
    write_wav,
)
from .vad import (
    BACKENDS,
    SEGMENT_COLUMNS,
    EnergyBackend,
    SileroBackend,
    SpeechSegment,
    VADBackend,
    VADEvent,
    VADOptions,
    VADTrack,
    WebRTCBackend,
    analyze_vad,
)

__all__ = [
    "BACKENDS",
    "DEFAULT_SAMPLE_RATE",
    "LONG_AUDIO_SECONDS",
    "SEGMENT_COLUMNS",
    "SILENCE_PEAK",
    "AnalysisCache",
    "Audio",
    "AudioError",
    "CacheKey",
    "CacheStats",
    "EnergyBackend",
    "SileroBackend",
    "SpeechSegment",
    "VADBackend",
    "VADEvent",
    "VADOptions",
    "VADTrack",
    "WebRTCBackend",
    "analyze_vad",
    "default_cache",
    "iter_audio_blocks",
    "load_audio",
    "resample",
    "write_wav",
]
