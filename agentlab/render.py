"""What was heard, as stereo audio: the user on the left, the agent on the right.

The left channel is the recording the run was fed, or — for scripted speech — each utterance's
transcript spoken by espeak-ng and fitted to its start and end. The right channel is the agent's
audio exactly as it played (:attr:`AgentSession.playback`): paused stretches are silent, cut
replies stop mid-word. Frames without samples (a TTS without audio) are spoken by espeak-ng;
without espeak-ng installed they become a quiet tone, so timing still shows.

Example::

    stereo = render_stereo(run.session)           # float32 (samples, 2) at 16 kHz
    run.write_audio("heard.wav")
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

import numpy as np

from .models import espeak

if TYPE_CHECKING:
    from .audio.io import Audio
    from .session.session import AgentSession

__all__ = ["render_stereo"]


def render_stereo(session: AgentSession, *, user_audio: Audio | None = None, sample_rate: int = 16000, voice: str = "en-us") -> np.ndarray:
    """Render ``session``'s conversation as float32 stereo samples (see the module docstring)."""
    length = session.now()
    if user_audio is not None:
        length = max(length, user_audio.duration)
    out = np.zeros((round(length * sample_rate) + 1, 2), np.float32)

    if user_audio is not None:
        samples = user_audio.samples if user_audio.sample_rate == sample_rate else _resampled(user_audio, sample_rate)
        out[: len(samples), 0] = samples[: len(out)]
    else:
        for u in session.user_speech:
            if u.transcript.strip():
                _place(out[:, 0], _spoken(u.transcript, round(u.end - u.start, 6), sample_rate, voice), u.start, sample_rate)

    for piece in session.playback:
        frame = piece.frame
        if frame.data is not None:
            audio = frame.data if frame.sample_rate == sample_rate else _resample(frame.data, frame.sample_rate, sample_rate)
        else:
            audio = _spoken(frame.text, round(frame.duration, 6), sample_rate, voice)
        a = round(piece.offset * sample_rate)
        b = a + round(piece.duration * sample_rate)
        _place(out[:, 1], audio[a:b], piece.start, sample_rate)
    return np.clip(out, -1.0, 1.0)


def _place(channel: np.ndarray, samples: np.ndarray, start: float, sample_rate: int) -> None:
    i = round(start * sample_rate)
    n = max(0, min(len(samples), len(channel) - i))
    channel[i : i + n] += samples[:n]


@functools.lru_cache(maxsize=512)
def _spoken(text: str, duration: float, sample_rate: int, voice: str) -> np.ndarray:
    if espeak.available() and text.strip():
        return espeak.fit(espeak.synthesize(text, voice=voice, sample_rate=sample_rate), duration, sample_rate=sample_rate)
    t = np.arange(round(duration * sample_rate)) / sample_rate
    return (0.05 * np.sin(2 * np.pi * 220 * t)).astype(np.float32)


def _resampled(audio: Audio, sample_rate: int) -> np.ndarray:
    return _resample(audio.samples, audio.sample_rate, sample_rate)


def _resample(samples: np.ndarray, rate: int, sample_rate: int) -> np.ndarray:
    from .audio.io import resample

    return resample(samples, rate, sample_rate)
