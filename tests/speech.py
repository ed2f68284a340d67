"""Real synthesized speech for audio tests, offline: espeak-ng through ``agentlab.models.espeak``.

Each utterance is trimmed to its audible part, and lay the utterances out with known pauses over a
faint noise floor. The trimmed edges are the ground truth the VAD tests compare against.

Example::

    from speech import conversation
    samples, truth = conversation(["Hello there", "How are you today"], gaps=[1.0])
    # samples: float32 at 16 kHz; truth: [(start, end), ...] in seconds
"""

from __future__ import annotations

import numpy as np

from agentlab.models import espeak

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


def synthesize(text: str, *, wpm: int = 175, sample_rate: int = 16000) -> np.ndarray:
    """Speak ``text``: float32 mono samples at ``sample_rate``, trimmed to the audible part."""
    return espeak.synthesize(text, wpm=wpm, sample_rate=sample_rate)


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
