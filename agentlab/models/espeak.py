"""Offline speech synthesis with espeak-ng, from the ``espeakng-loader`` wheel (no system package).

The wheel bundles ``libespeak-ng`` and its voice data; we drive its C API through ctypes in
retrieval mode (the library hands PCM to a callback instead of playing it). espeak-ng is global
state, so calls are serialized by a lock.

espeak-ng is *not* bit-deterministic: the same text can come out a few samples longer or shorter
from one call to the next (its seed API does not change that). So nothing in agentlab takes timing
from espeak: :class:`~agentlab.ScriptedTTS` times frames with its duration model and fits the
espeak audio to that duration (:func:`fit`).

Install with ``pip install 'agentlab-voice[voice]'``.

Example::

    samples = synthesize("Your table is booked.", wpm=170)      # float32, 16 kHz, trimmed
    ScriptedTTS(audio=True)                                       # agent audio in simulations
"""

from __future__ import annotations

import ctypes
import functools
import threading
from typing import Any

import numpy as np

__all__ = ["available", "fit", "synthesize", "voice_exists"]

_AUDIO_OUTPUT_RETRIEVAL = 1
_ESPEAK_RATE = 1
_ESPEAK_PITCH = 3
_POS_CHARACTER = 1
_CHARS_UTF8 = 1
_CALLBACK = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.c_void_p)
_lock = threading.Lock()


def available() -> bool:
    """True when ``espeakng-loader`` is installed."""
    try:
        import espeakng_loader  # noqa: F401
    except ImportError:
        return False
    return True


@functools.lru_cache(maxsize=1)
def _engine() -> tuple[Any, int, list[np.ndarray], Any]:
    try:
        import espeakng_loader
    except ImportError:
        raise ImportError("espeak synthesis needs espeakng-loader: pip install 'agentlab-voice[voice]'") from None
    lib = ctypes.CDLL(espeakng_loader.get_library_path())
    lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
    lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
    lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
    lib.espeak_Synth.argtypes = [
        ctypes.c_char_p,
        ctypes.c_size_t,
        ctypes.c_uint,
        ctypes.c_int,
        ctypes.c_uint,
        ctypes.c_uint,
        ctypes.c_void_p,
        ctypes.c_void_p,
    ]
    rate = lib.espeak_Initialize(_AUDIO_OUTPUT_RETRIEVAL, 0, espeakng_loader.get_data_path().encode(), 0)
    if rate <= 0:
        raise RuntimeError(f"espeak-ng failed to initialize (code {rate})")
    chunks: list[np.ndarray] = []

    def on_audio(wav: Any, n: int, _events: Any) -> int:
        if wav and n > 0:
            chunks.append(np.ctypeslib.as_array(wav, shape=(n,)).copy())
        return 0

    callback = _CALLBACK(on_audio)  # kept alive by the cache: espeak holds a raw pointer to it
    lib.espeak_SetSynthCallback(callback)
    return lib, rate, chunks, callback


def synthesize(
    text: str, *, voice: str = "en-us", wpm: int = 175, pitch: int | None = None, sample_rate: int = 16000, trim: bool = True
) -> np.ndarray:
    """Speak ``text``; float32 mono samples at ``sample_rate``, trimmed to the audible part by default.

    ``voice`` is an espeak-ng 1.52 voice name (``en-us``, ``en``, ``en-GB-x-rp``, ``en-US+Annie``...);
    an unknown one raises ``ValueError`` naming it.
    """
    from ..audio.io import resample

    if not voice_exists(voice):
        raise ValueError(f"espeak: voice {voice!r} not found (try 'en-us', 'en', 'en-GB-x-rp', 'en-US+Annie')")
    with _lock:
        lib, rate, chunks, callback = _engine()
        lib.espeak_SetSynthCallback(callback)  # process-wide in espeak: claim it for this call
        lib.espeak_SetVoiceByName(voice.encode())
        chunks.clear()
        lib.espeak_SetParameter(_ESPEAK_RATE, int(wpm), 0)
        if pitch is not None:
            lib.espeak_SetParameter(_ESPEAK_PITCH, int(pitch), 0)
        data = text.encode() + b"\0"
        lib.espeak_Synth(data, len(data), 0, _POS_CHARACTER, 0, _CHARS_UTF8, None, None)
        lib.espeak_Synchronize()
        pcm = (np.concatenate(chunks) if chunks else np.zeros(0, np.int16)).astype(np.float32) / 32768.0
    samples = resample(pcm, rate, sample_rate) if rate != sample_rate and len(pcm) else pcm
    if trim and len(samples):
        loud = np.flatnonzero(np.abs(samples) > 0.01)
        samples = samples[loud[0] : loud[-1] + 1] if len(loud) else samples[:0]
    return np.ascontiguousarray(samples, dtype=np.float32)


@functools.lru_cache(maxsize=256)
def voice_exists(voice: str) -> bool:
    """True if ``voice`` (``language[+variant]``) is in the bundled espeak-ng data.

    espeak_SetVoiceByName accepts unknown names silently, so names are checked against the files.
    """
    import os

    try:
        import espeakng_loader
    except ImportError:
        return False
    data = espeakng_loader.get_data_path()
    base, _, variant = voice.partition("+")
    names = set()
    for _root, _dirs, files in os.walk(os.path.join(data, "lang")):
        names.update(f.lower() for f in files)
    if base.lower() not in names:
        return False
    return not variant or variant.lower() in {f.lower() for f in os.listdir(os.path.join(data, "voices", "!v"))}


def fit(samples: np.ndarray, duration: float, *, sample_rate: int = 16000) -> np.ndarray:
    """Stretch or squeeze ``samples`` to exactly ``duration`` seconds (linear interpolation).

    The duration model and espeak's own pace are close (both follow the words-per-minute rate),
    so the change of pace is small.
    """
    n = max(1, round(duration * sample_rate))
    if len(samples) == 0:
        return np.zeros(n, np.float32)
    positions = np.linspace(0, len(samples) - 1, n)
    return np.interp(positions, np.arange(len(samples)), samples).astype(np.float32)
