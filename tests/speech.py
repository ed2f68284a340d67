"""Real synthesized speech for audio tests, offline: espeak-ng through the ``espeakng-loader`` wheel.

The wheel bundles ``libespeak-ng`` and its voice data, so no system package is needed. We drive the
C API through ctypes (retrieval mode: the library hands us PCM through a callback instead of playing
it), trim each utterance to its audible part, and lay the utterances out with known pauses over a
faint noise floor. The trimmed edges are the ground truth the VAD tests compare against.

Example::

    from speech import conversation
    samples, truth = conversation(["Hello there", "How are you today"], gaps=[1.0])
    # samples: float32 at 16 kHz; truth: [(start, end), ...] in seconds
"""

from __future__ import annotations

import ctypes
import functools
import threading

import numpy as np

from agentlab.audio import load_audio

__all__ = ["SENTENCES", "conversation", "synthesize"]

SENTENCES = [
    "Hello there, I would like to book a table.",
    "Tomorrow evening at seven would be perfect.",
    "We are four people including two children.",
    "Could you also tell me about parking nearby?",
    "Thank you very much for your help today.",
    "My name is Alex and my number is five five five.",
    "Is there a vegetarian menu available?",
    "Please send me a confirmation by email.",
]

_AUDIO_OUTPUT_RETRIEVAL = 1
_ESPEAK_RATE = 1
_POS_CHARACTER = 1
_CHARS_UTF8 = 1
_CALLBACK = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.c_void_p)
_lock = threading.Lock()


@functools.lru_cache(maxsize=1)
def _engine() -> tuple[ctypes.CDLL, int, list[np.ndarray], object]:
    import espeakng_loader

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
        raise RuntimeError(f"espeak_Initialize failed ({rate})")
    chunks: list[np.ndarray] = []

    def on_audio(wav, n, _events):  # called from inside espeak_Synth/Synchronize
        if wav and n > 0:
            chunks.append(np.ctypeslib.as_array(wav, shape=(n,)).copy())
        return 0

    callback = _CALLBACK(on_audio)  # kept alive by the cache: espeak holds a raw pointer to it
    lib.espeak_SetSynthCallback(callback)
    if lib.espeak_SetVoiceByName(b"en-us") != 0:
        raise RuntimeError("espeak voice en-us not found")
    return lib, rate, chunks, callback


def synthesize(text: str, *, wpm: int = 175, sample_rate: int = 16000) -> np.ndarray:
    """Speak ``text`` and return float32 mono samples at ``sample_rate``, trimmed to the audible part."""
    with _lock:
        lib, rate, chunks, _ = _engine()
        chunks.clear()
        lib.espeak_SetParameter(_ESPEAK_RATE, wpm, 0)
        data = text.encode() + b"\0"
        lib.espeak_Synth(data, len(data), 0, _POS_CHARACTER, 0, _CHARS_UTF8, None, None)
        lib.espeak_Synchronize()
        pcm = np.concatenate(chunks).astype(np.float32) / 32768.0
    samples = load_audio(pcm, input_rate=rate, sample_rate=sample_rate).samples
    loud = np.flatnonzero(np.abs(samples) > 0.01)
    return samples[loud[0] : loud[-1] + 1].copy()


def conversation(
    texts: list[str],
    gaps: list[float],
    *,
    lead: float = 0.5,
    tail: float = 1.0,
    noise_db: float = -60.0,
    sample_rate: int = 16000,
    seed: int = 0,
) -> tuple[np.ndarray, list[tuple[float, float]]]:
    """Utterances separated by ``gaps`` seconds of faint noise; returns (samples, true (start, end) list)."""
    if len(gaps) != len(texts) - 1:
        raise ValueError("need one gap between each pair of utterances")
    pieces, truth, t = [np.zeros(round(lead * sample_rate), np.float32)], [], lead
    for i, text in enumerate(texts):
        speech = synthesize(text, sample_rate=sample_rate)
        truth.append((t, t + len(speech) / sample_rate))
        pieces.append(speech)
        t += len(speech) / sample_rate
        pause = gaps[i] if i < len(gaps) else tail
        pieces.append(np.zeros(round(pause * sample_rate), np.float32))
        t += round(pause * sample_rate) / sample_rate
    samples = np.concatenate(pieces)
    noise = np.random.default_rng(seed).standard_normal(len(samples)).astype(np.float32)
    samples += noise * np.float32(10 ** (noise_db / 20))
    return samples, truth
