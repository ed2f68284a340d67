"""Loading, validating, resampling and writing audio.

Theory of operation
-------------------
Everything downstream (VAD, STT, rendering) works on one representation: an :class:`Audio`, a
read-only float32 mono array in [-1, 1] plus its sample rate, with a content hash that keys the
analysis cache. :func:`load_audio` is the one door into it. It accepts a file (anything libsndfile
decodes, through ``soundfile``: WAV, FLAC, OGG/Vorbis/Opus, MP3, AIFF, ...), a numpy array (with
its ``input_rate``) or an ``Audio``; it downmixes any channel count by the mean of the channels and
resamples to the requested rate.

Resampling is a polyphase windowed-sinc filter written in numpy (no scipy). For a rational ratio
``up/down`` (44.1 kHz -> 16 kHz is 160/441), output sample ``m`` sits at input position
``m * down / up``; its value is a Kaiser-windowed sinc interpolation over ``2 * half + 1`` input
samples around that position (32 sinc zero crossings on each side). The sinc's cutoff (-6 dB) is
92 % of the lower Nyquist frequency: the response is flat within 0.35 dB up to 87.5 % (7 kHz when
the output is 16 kHz) and at least 95 dB down from the Nyquist frequency on, so when downsampling,
content above the new Nyquist frequency is removed instead of folding back as aliases.

There are only ``up`` distinct filter phases; outputs sharing a phase are ``up`` outputs apart and
read inputs ``down`` samples apart, so each phase is a strided matrix-vector product over a view of
the input (no copies). The same streaming object resamples a whole array and a file block by block,
and both give bit-identical samples. Speed: 5 minutes of 44.1 kHz audio resample to 16 kHz in about
0.9 s on one core (48 kHz: 0.2 s, 8 kHz: 0.08 s).

Validation happens at the door, with errors that name the source (the file path or ``"array"``),
the field and the offending value: an unreadable or corrupt file, an unsupported format, empty
audio, NaN or infinite samples (how many, and the first index), audio that is silent throughout
(peak below 1e-4, i.e. -80 dBFS), non-numeric dtypes, arrays of the wrong rank. Every such error is
an :class:`AudioError` (a ``ValueError``); a missing file is a ``FileNotFoundError``. Clipped
audio is accepted as it is: real recordings clip, and a VAD or STT should see what a microphone
delivered. Float input beyond [-1, 1] is likewise kept unchanged.

Hours-long files need not fit in memory: :func:`iter_audio_blocks` decodes, downmixes and resamples
a file block by block (the VAD uses it for files longer than ``LONG_AUDIO_SECONDS``). :func:`load_audio`
must return the whole recording (230 MB per hour at 16 kHz), but holds no more than that: a file already
at the requested rate and mono is decoded in place, any other is decoded through the same blocks (its
NaN/inf errors then name the block, as :func:`iter_audio_blocks` does). A WAV file whose data is
shorter than its header promises (a recording cut off mid-write, a copy that stopped early) is an
error naming the expected and the actual duration, or, with ``allow_truncated=True``, a warning and
the samples that are there (what libsndfile and most players do silently). A streaming writer's
placeholder length (0 or 0xFFFFFFFF) promises nothing and is not flagged. A file whose content is
not audio at all (text renamed ``.mp3``, say) says so and lists the formats that are read.

Example::

    audio = load_audio("call.mp3")                 # 16 kHz mono float32
    audio.duration, audio.sha256[:12]
    tone = load_audio(np.sin(np.arange(44100) / 7), input_rate=44100)
    write_wav("out.wav", np.stack([left, right], axis=1), 16000)   # atomic
"""

from __future__ import annotations

import functools
import hashlib
import math
import os
import struct
import warnings
from collections.abc import Iterator
from dataclasses import field
from pathlib import Path
from typing import Any, Union

import numpy as np
import soundfile as sf
from numpy.lib.stride_tricks import as_strided

from .._frozen import frozen
from .._utils import atomic_write

__all__ = [
    "DEFAULT_SAMPLE_RATE",
    "LONG_AUDIO_SECONDS",
    "SILENCE_PEAK",
    "Audio",
    "AudioError",
    "AudioSource",
    "iter_audio_blocks",
    "load_audio",
    "resample",
    "write_wav",
]

#: The rate every built-in analysis runs at (Silero and WebRTC VAD, Whisper all take 16 kHz).
DEFAULT_SAMPLE_RATE = 16000
#: Files longer than this (seconds) are analysed block by block instead of loaded whole.
LONG_AUDIO_SECONDS = 600.0
#: Audio whose peak stays below this (-80 dBFS) is rejected as silent: almost surely a wrong file or a muted mic.
SILENCE_PEAK = 1e-4
#: Extensions libsndfile (bundled in the soundfile wheel) decodes; used only to word error messages.
SUPPORTED_EXTENSIONS = (".wav", ".flac", ".ogg", ".oga", ".opus", ".mp3", ".aiff", ".aif", ".aifc", ".caf", ".w64", ".rf64", ".au")
#: The same formats by name, for messages about a file's content.
_FORMATS_READ = "WAV, FLAC, OGG (Vorbis, Opus), MP3, AIFF, CAF, W64, RF64, AU"
#: How the files of those formats begin (MP3 may also begin with a bare frame sync, checked apart).
_AUDIO_SIGNATURES = (b"RIFF", b"RIFX", b"RF64", b"BW64", b"riff", b"fLaC", b"OggS", b"ID3", b"FORM", b"caff", b".snd")
#: Bytes read from a file's start to recognise its kind and walk a WAV header to its data chunk.
_HEAD_BYTES = 512

# Resampler design: 32 zero crossings of the sinc on each side and a Kaiser window (beta 8.6, side
# lobes near -90 dB) make the transition band narrow enough to sit entirely below the Nyquist
# frequency with a cutoff at 92 % of it. Losing the top 1 kHz (7-8 kHz at 16 kHz) costs VAD and STT
# nothing; letting it alias back into the speech band would. Measured (48k/44.1k -> 16k): 0.0 dB to
# 6 kHz, -0.35 dB at 7 kHz, -6 dB at 7.36 kHz, below -95 dB from 8 kHz on.
_ZERO_CROSSINGS = 32
_KAISER_BETA = 8.6
_ROLLOFF = 0.92
_CHUNK = 4096  # outputs per matrix-vector product

AudioSource = Union["Audio", str, os.PathLike, np.ndarray]


class AudioError(ValueError):
    """Invalid or unreadable audio; the message names the source, the field and the value.

    Attributes ``source`` (a path or ``"array"``), ``field`` and ``value`` carry the same facts for code.

    Example::

        try:
            load_audio("broken.wav")
        except AudioError as e:
            print(e.source, e.field, e.value)
    """

    def __init__(self, source: str, field: str, problem: str, value: Any = None) -> None:
        self.source, self.field, self.value = source, field, value
        super().__init__(f"{source}: {field}: {problem}")


@frozen(eq=False, repr=False)
class Audio:
    """Mono float32 samples at a known rate; the samples array is read-only.

    Build one with :func:`load_audio` (which validates, resamples and always copies). Built directly,
    ``Audio(array, rate)`` shares memory with ``array``: do not modify that array afterwards, or the
    content would drift from its cached hash. Equality is by content: compare ``a.sha256 == b.sha256``.
    ``sha256`` hashes the sample rate and the float32 bytes, so the same sound from a WAV and a FLAC
    file (lossless) hashes the same.

    Example::

        audio = load_audio("hello.wav")
        audio.duration          # seconds
        audio.samples[:160]     # the first 10 ms at 16 kHz
    """

    samples: np.ndarray
    sample_rate: int
    source: str | None = field(default=None)

    def __post_init__(self) -> None:
        samples = self.samples
        if not isinstance(samples, np.ndarray) or samples.dtype != np.float32 or samples.ndim != 1:
            raise TypeError("Audio.samples must be a 1-D float32 numpy array; use load_audio() to convert")
        if not isinstance(self.sample_rate, (int, np.integer)) or self.sample_rate <= 0:
            raise ValueError(f"Audio.sample_rate must be a positive integer, got {self.sample_rate!r}")
        if samples.flags.writeable:
            # A read-only *view*: the Audio cannot change under its cached hash, and the caller's own
            # array stays writable.
            samples = samples.view()
            samples.flags.writeable = False
            object.__setattr__(self, "samples", samples)
        object.__setattr__(self, "sample_rate", int(self.sample_rate))

    @property
    def duration(self) -> float:
        """Length in seconds."""
        return len(self.samples) / self.sample_rate

    @property
    def num_samples(self) -> int:
        """Number of samples."""
        return len(self.samples)

    @functools.cached_property
    def sha256(self) -> str:
        """Hex SHA-256 of the sample rate and the little-endian float32 samples (the cache key)."""
        h = hashlib.sha256(b"agentlab.Audio/1\0")
        h.update(self.sample_rate.to_bytes(8, "little"))
        h.update(np.ascontiguousarray(self.samples, dtype="<f4").data)
        return h.hexdigest()

    @property
    def peak(self) -> float:
        """Largest absolute sample value."""
        return max(float(self.samples.max()), -float(self.samples.min())) if len(self.samples) else 0.0

    def __len__(self) -> int:
        return len(self.samples)

    def __repr__(self) -> str:
        src = f", source={self.source!r}" if self.source else ""
        return f"Audio({self.duration:.3f} s at {self.sample_rate} Hz{src})"


# --------------------------------------------------------------------------------------------------
# loading


def load_audio(
    src: AudioSource,
    *,
    sample_rate: int = DEFAULT_SAMPLE_RATE,
    input_rate: int | None = None,
    allow_silent: bool = False,
    channel: int | None = None,
    allow_truncated: bool = False,
) -> Audio:
    """Load a file, array or :class:`Audio` as mono float32 at ``sample_rate``.

    * a path (str or ``PathLike``): any format libsndfile decodes (WAV, FLAC, OGG, MP3, ...);
    * a numpy array: ``input_rate`` is required. 1-D is mono; 2-D is ``(frames, channels)``, or
      ``(channels, frames)`` when the first axis is the short one (at most 16 channels). Integer PCM is
      scaled by its type's full range (int16 / 32768); float is taken as is;
    * an ``Audio``: resampled if its rate differs, otherwise returned unchanged.

    Channels are averaged, unless ``channel`` picks one (0 is the first, the left of a stereo
    file): a two-channel call keeps the user on one side and the agent on the other, and averaging
    would put the agent's voice into the user's. ``allow_silent=True`` accepts audio whose peak is below :data:`SILENCE_PEAK`.
    A WAV file cut short (its header promises more than it holds) is an error naming the expected
    and actual duration; ``allow_truncated=True`` loads what is there, with a warning.
    A file is held in memory once, at ``sample_rate`` (see the module docstring); for bounded memory
    whatever the length, use :func:`iter_audio_blocks`.
    Raises :class:`AudioError` (a ``ValueError``) naming source, field and value for any invalid input,
    and ``FileNotFoundError`` for a missing file.

    Example::

        load_audio("call.flac").duration
        load_audio("cut_off.wav", allow_truncated=True)  # a warning, and the part that is there
        load_audio(pcm_int16, input_rate=8000)          # -> 16 kHz float32
        load_audio(stereo_48k, input_rate=48000, sample_rate=24000)
    """
    _check_rate("load_audio", "sample_rate", sample_rate)
    if isinstance(src, Audio):
        if input_rate is not None and input_rate != src.sample_rate:
            raise AudioError(_name(src), "input_rate", f"{input_rate} contradicts the Audio's own rate {src.sample_rate}", input_rate)
        _check_samples(src.samples, src.sample_rate, src.source or "Audio", allow_silent)
        if src.sample_rate == sample_rate:
            return src
        return Audio(resample(src.samples, src.sample_rate, sample_rate), sample_rate, src.source)
    if channel is not None and not isinstance(src, (str, os.PathLike, np.ndarray)):
        raise AudioError(
            _name(src) if isinstance(src, Audio) else "load_audio", "channel", "applies to files and arrays (an Audio is mono)", channel
        )
    if isinstance(src, np.ndarray):
        if input_rate is None:
            raise AudioError("array", "input_rate", "required when loading a numpy array (got None)", None)
        _check_rate("array", "input_rate", input_rate)
        mono = _to_mono(_as_float(src, "array"), "array", channel)
        _check_samples(mono, input_rate, "array", allow_silent)
        return Audio(resample(mono, input_rate, sample_rate), sample_rate, None)
    if isinstance(src, (str, os.PathLike)):
        if input_rate is not None:
            raise AudioError(str(src), "input_rate", "only for numpy arrays; a file carries its own rate", input_rate)
        name = str(src)
        with _open(src, allow_truncated=allow_truncated) as f:
            rate, channels = f.samplerate, f.channels
            _check_channel(name, channel, channels)
            if rate == sample_rate and channels == 1:
                # Already what we want: the decoded buffer is ours, so keep it instead of copying it
                # (a 2-hour 16 kHz file then costs 460 MB at peak, not 920 MB).
                try:
                    data = f.read(dtype="float32", always_2d=True)
                except (sf.SoundFileError, RuntimeError, ValueError) as e:
                    raise AudioError(name, "contents", f"cannot decode audio (corrupt or truncated file?): {e}", str(e)) from None
                mono = data[:, 0]
                _check_samples(mono, rate, name, allow_silent)
                return Audio(mono, sample_rate, name)
        # Another rate or several channels: decoding whole would hold the file's rate x channels in
        # float32 (1.3 GB per hour of 44.1 kHz stereo) next to the result; in blocks, only the result
        # is held whole. Same samples, bit for bit.
        blocks = iter_audio_blocks(
            src, block_seconds=10.0, sample_rate=sample_rate, allow_silent=allow_silent, channel=channel, _checked=True
        )
        return Audio(np.concatenate(list(blocks)), sample_rate, name if channel is None else f"{name}[channel {channel}]")
    raise TypeError(f"load_audio: expected a path, a numpy array or an Audio, got {type(src).__name__}")


def iter_audio_blocks(
    path: str | os.PathLike,
    *,
    block_seconds: float = 60.0,
    sample_rate: int = DEFAULT_SAMPLE_RATE,
    allow_silent: bool = False,
    channel: int | None = None,
    allow_truncated: bool = False,
    _checked: bool = False,
) -> Iterator[np.ndarray]:
    """Decode a file block by block: yields float32 mono arrays at ``sample_rate``, in bounded memory.

    ``channel`` picks one channel (as in :func:`load_audio`); by default the channels are averaged.
    ``allow_truncated`` as in :func:`load_audio`.

    Each block is about ``block_seconds`` long (the resampler holds back a few samples at block edges
    and releases them with the next block). Concatenated, the blocks equal
    ``load_audio(path, sample_rate=...).samples`` bit for bit. The same validation applies; NaN/inf
    errors give the absolute sample index, and the silence check happens after the last block.

    Example::

        total = sum(len(b) for b in iter_audio_blocks("meeting.flac", block_seconds=30))
    """
    _check_rate("iter_audio_blocks", "sample_rate", sample_rate)
    if not (isinstance(block_seconds, (int, float)) and math.isfinite(block_seconds) and block_seconds > 0):
        raise ValueError(f"iter_audio_blocks: block_seconds must be a positive number, got {block_seconds!r}")
    name = str(path)
    # ``_checked``: load_audio opened the file a moment ago and already checked (and warned about) it.
    with _open(path, allow_truncated=allow_truncated or _checked, warn=not _checked) as f:
        rate = f.samplerate
        _check_channel(name, channel, f.channels)
        if f.frames == 0:
            raise AudioError(name, "samples", "audio is empty (0 samples)", 0)
        resampler = _StreamResampler(rate, sample_rate)
        block_frames = max(1, round(block_seconds * rate))
        offset, peak = 0, 0.0
        while True:
            try:
                data = f.read(block_frames, dtype="float32", always_2d=True)
            except (sf.SoundFileError, RuntimeError, ValueError) as e:
                raise AudioError(name, "contents", f"cannot decode audio (corrupt or truncated file?): {e}", str(e)) from None
            if len(data) == 0:
                break
            mono = _downmix(data) if channel is None else np.ascontiguousarray(data[:, channel])
            _check_finite(mono, rate, name, offset)
            if len(mono):
                peak = max(peak, float(mono.max()), -float(mono.min()))
            offset += len(mono)
            out = resampler.push(mono)
            if len(out):
                yield out
    if offset == 0:
        raise AudioError(name, "samples", "audio is empty (0 samples)", 0)
    tail = resampler.push(np.empty(0, np.float32), final=True)
    if len(tail):
        yield tail
    if not allow_silent and peak < SILENCE_PEAK:
        raise AudioError(name, "samples", f"audio is silent (peak |x| = {peak:.3g}, below {SILENCE_PEAK:g})", peak)


def _open(path: str | os.PathLike, *, allow_truncated: bool = False, warn: bool = True) -> sf.SoundFile:
    name = str(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"{name}: no such audio file")
    if os.path.isdir(path):
        raise AudioError(name, "path", "is a directory, not an audio file", name)
    ext = Path(name).suffix.lower()
    head = _read_head(path)
    if ext in SUPPORTED_EXTENSIONS and head and not _has_audio_signature(head) and _looks_like_text(head):
        # Said before libsndfile is asked: its decoders would only report "not a regular file" (and
        # mpg123 prints resync notes on stderr while trying).
        raise _not_audio(name, head)
    try:
        f = sf.SoundFile(path)
    except (sf.SoundFileError, RuntimeError, TypeError, ValueError) as e:
        if ext not in SUPPORTED_EXTENSIONS:
            supported = ", ".join(SUPPORTED_EXTENSIONS)
            raise AudioError(
                name, "format", f"unsupported audio format {ext or '(no extension)'!r} (supported: {supported})", ext
            ) from None
        if head and not _has_audio_signature(head):
            raise _not_audio(name, head) from None
        raise AudioError(name, "contents", f"cannot decode audio (corrupt or truncated file?): {e}", str(e)) from None
    try:
        _check_wav_length(name, path, head, f, allow_truncated=allow_truncated, warn=warn)
    except BaseException:
        f.close()
        raise
    return f


def _read_head(path: str | os.PathLike) -> bytes:
    try:
        with open(path, "rb") as fh:
            return fh.read(_HEAD_BYTES)
    except OSError:
        return b""  # unreadable: libsndfile's own error says why


def _has_audio_signature(head: bytes) -> bool:
    if head.startswith(_AUDIO_SIGNATURES):
        return True
    return len(head) >= 2 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0  # an MPEG audio frame


def _looks_like_text(head: bytes) -> bool:
    for cut in range(4):  # the read may end inside a multi-byte character
        try:
            text = head[: len(head) - cut].decode("utf-8")
            break
        except UnicodeDecodeError:
            continue
    else:
        return False
    printable = sum(ch.isprintable() or ch in "\t\r\n" for ch in text)
    return bool(text) and printable >= 0.95 * len(text)


def _not_audio(name: str, head: bytes) -> AudioError:
    if _looks_like_text(head):
        start = " ".join(head.decode("utf-8", "replace").split())[:40]
        what = f"it holds text ({start!r}...)"
    else:
        what = f"it begins with bytes {head[:8].hex(' ')}, the signature of no audio format read"
    return AudioError(name, "contents", f"the file's content is not audio: {what}; formats read: {_FORMATS_READ}", head[:8].hex())


def _check_wav_length(name: str, path: str | os.PathLike, head: bytes, f: sf.SoundFile, *, allow_truncated: bool, warn: bool) -> None:
    """A RIFF/WAVE file whose ``data`` chunk is shorter than its header says: an error, or a warning."""
    if not (head[:4] == b"RIFF" and head[8:12] == b"WAVE"):
        return
    declared, offset, block_align = _wav_data_chunk(path)
    # 0 and 0xFFFFFFFF are what streaming writers put before they know the length: no promise made.
    if declared is None or declared in (0, 0xFFFFFFFF) or not block_align or f.samplerate <= 0:
        return
    available = os.path.getsize(path) - offset
    if declared <= available:
        return
    expected, actual = declared // block_align, f.frames
    problem = (
        f"the file is cut short: its header promises {expected / f.samplerate:.3f} s ({expected} frames) "
        f"but it holds {actual / f.samplerate:.3f} s ({actual} frames)"
    )
    if not allow_truncated:
        raise AudioError(name, "duration", f"{problem}; load_audio(..., allow_truncated=True) reads what is there", (expected, actual))
    if warn:
        warnings.warn(f"{name}: duration: {problem}; loading what is there (allow_truncated=True)", stacklevel=4)


def _wav_data_chunk(path: str | os.PathLike) -> tuple[int | None, int, int]:
    """The ``data`` chunk's declared size, where its bytes begin, and the bytes per frame of PCM or
    float samples (0 for compressed WAV, whose frames have no fixed size): ``(None, 0, 0)`` if not found."""
    block_align = 0
    with open(path, "rb") as fh:
        fh.seek(12)
        while True:
            header = fh.read(8)
            if len(header) < 8:
                return None, 0, 0
            chunk, size = header[:4], struct.unpack("<I", header[4:])[0]
            if chunk == b"data":
                return size, fh.tell(), block_align
            if chunk == b"fmt " and size >= 16:
                fmt = fh.read(16)
                tag, align = struct.unpack("<H", fmt[:2])[0], struct.unpack("<H", fmt[12:14])[0]
                block_align = align if tag in (1, 3, 0xFFFE) else 0  # PCM, IEEE float, extensible
                size -= 16
            fh.seek(size + (size & 1), os.SEEK_CUR)  # chunks are padded to an even length


def _check_channel(source: str, channel: int | None, channels: int) -> None:
    if channel is None:
        return
    if isinstance(channel, bool) or not isinstance(channel, (int, np.integer)) or not 0 <= channel < channels:
        raise AudioError(source, "channel", f"must be a channel index 0..{channels - 1} (the audio has {channels} channel(s))", channel)


def _name(audio: Audio) -> str:
    return audio.source or "Audio"


def _check_rate(source: str, field: str, rate: Any) -> None:
    if isinstance(rate, bool) or not isinstance(rate, (int, np.integer)) or rate <= 0:
        raise AudioError(source, field, f"must be a positive integer number of Hz, got {rate!r}", rate)


def _as_float(arr: np.ndarray, source: str) -> np.ndarray:
    """Numeric array -> float32, integer PCM scaled to [-1, 1) by its type's range."""
    kind = arr.dtype.kind
    if kind == "f":
        return arr.astype(np.float32, copy=False)
    if kind == "i":
        return (arr.astype(np.float64) / -float(np.iinfo(arr.dtype).min)).astype(np.float32)
    if kind == "u":
        half = float(np.iinfo(arr.dtype).max // 2 + 1)
        return ((arr.astype(np.float64) - half) / half).astype(np.float32)
    raise AudioError(source, "dtype", f"expected numeric samples (float or integer PCM), got dtype {arr.dtype}", str(arr.dtype))


def _to_mono(arr: np.ndarray, source: str, channel: int | None = None) -> np.ndarray:
    """1-D, (frames, channels) or (channels, frames) -> 1-D float32 (``channel``: that one, else the mean)."""
    if arr.ndim == 1:
        _check_channel(source, channel, 1)
        return np.ascontiguousarray(arr, dtype=np.float32)
    if arr.ndim != 2:
        raise AudioError(source, "shape", f"expected 1-D (samples) or 2-D (frames, channels) audio, got shape {arr.shape}", arr.shape)
    if arr.shape[0] < arr.shape[1]:
        if arr.shape[0] > 16:
            # Neither reading is plausible: silently averaging hundreds of "channels" into a few samples
            # would hand the VAD nonsense.
            raise AudioError(
                source,
                "shape",
                f"{arr.shape} is ambiguous: {arr.shape[0]} channels of {arr.shape[1]} frames, or {arr.shape[0]} frames of "
                f"{arr.shape[1]} channels? Pass (channels, frames) with at most 16 channels, (frames, channels) with more frames "
                "than channels, or downmix first",
                arr.shape,
            )
        arr = arr.T  # (channels, frames), as librosa and torchaudio lay it out
    _check_channel(source, channel, arr.shape[1])
    return _downmix(arr) if channel is None else np.ascontiguousarray(arr[:, channel], dtype=np.float32)


def _downmix(frames: np.ndarray) -> np.ndarray:
    """(frames, channels) -> mono float32 by the mean of the channels."""
    if frames.shape[1] == 1 or frames.shape[0] == 0:
        return np.ascontiguousarray(frames[:, 0] if frames.shape[1] else np.empty(0), dtype=np.float32)
    if frames.shape[1] == 0:
        return np.empty(0, np.float32)
    return frames.mean(axis=1, dtype=np.float64).astype(np.float32)


def _check_finite(mono: np.ndarray, rate: int, source: str, offset: int | None = None) -> None:
    """Raise on NaN/inf; ``offset`` (block-wise reading) is the absolute index of ``mono[0]``."""
    # min/max propagate NaN and show inf, without the sample-sized temporaries of np.isfinite (115 MB
    # per 2 hours at 16 kHz); only bad audio pays for locating the values.
    if len(mono) == 0 or (math.isfinite(mono.min()) and math.isfinite(mono.max())):
        return
    bad = ~np.isfinite(mono)
    if bad.any():
        idx = np.flatnonzero(bad)
        first = (offset or 0) + int(idx[0])
        where = "" if offset is None else f" in samples {offset}-{offset + len(mono) - 1}"
        raise AudioError(
            source,
            "samples",
            f"{len(idx)} non-finite value(s) (NaN or inf){where}, first at sample {first} ({first / rate:.3f} s)",
            first,
        )


def _check_samples(mono: np.ndarray, rate: int, source: str, allow_silent: bool) -> None:
    if len(mono) == 0:
        raise AudioError(source, "samples", "audio is empty (0 samples)", 0)
    _check_finite(mono, rate, source)
    peak = max(float(mono.max()), -float(mono.min()))  # np.abs would copy the whole recording
    if not allow_silent and peak < SILENCE_PEAK:
        raise AudioError(source, "samples", f"audio is silent (peak |x| = {peak:.3g}, below {SILENCE_PEAK:g})", peak)


# --------------------------------------------------------------------------------------------------
# resampling


def resample(samples: np.ndarray, input_rate: int, output_rate: int) -> np.ndarray:
    """Band-limited resampling of float32 mono samples (polyphase Kaiser-windowed sinc).

    Output length is ``round(len(samples) * output_rate / input_rate)``; a tone keeps its frequency and
    its level (unit DC gain, flat within 0.35 dB up to 87.5 % of the lower Nyquist frequency); content
    above the new Nyquist frequency is attenuated by at least 95 dB instead of aliasing.

    Example::

        y = resample(x, 44100, 16000)
    """
    samples = np.ascontiguousarray(samples, dtype=np.float32)
    if input_rate == output_rate:
        return samples.copy()
    return _StreamResampler(input_rate, output_rate).push(samples, final=True)


@functools.lru_cache(maxsize=16)
def _filter_bank(up: int, down: int) -> tuple[np.ndarray, int]:
    """Polyphase taps ``h[phase, j]`` for input offsets ``j - half``, and ``half``."""
    cutoff = 0.5 * min(1.0, up / down) * _ROLLOFF  # cycles per input sample
    half = math.ceil(_ZERO_CROSSINGS / (2 * cutoff))
    width = half + 1  # the window reaches zero just beyond the outermost tap
    offsets = np.arange(-half, half + 1, dtype=np.float64)
    t = offsets[None, :] - (np.arange(up, dtype=np.float64) / up)[:, None]  # tap time minus output time
    window = np.i0(_KAISER_BETA * np.sqrt(np.clip(1.0 - (t / width) ** 2, 0.0, 1.0))) / np.i0(_KAISER_BETA)
    bank = 2 * cutoff * np.sinc(2 * cutoff * t) * window
    bank /= bank.sum(axis=1, keepdims=True)  # exact unit DC gain for every phase
    return bank.astype(np.float32), half


class _StreamResampler:
    """Resample a stream pushed in pieces; pushing everything at once gives the same samples."""

    def __init__(self, input_rate: int, output_rate: int) -> None:
        g = math.gcd(input_rate, output_rate)
        self.up, self.down = output_rate // g, input_rate // g
        self.identity = self.up == self.down
        self.bank, self.half = _filter_bank(self.up, self.down) if not self.identity else (np.ones((1, 1), np.float32), 0)
        self._buf = np.zeros(self.half, np.float32)  # left zero padding before the signal
        self._x0 = -self.half  # absolute input index of _buf[0]
        self._n_in = 0
        self._m = 0  # next output index

    def push(self, x: np.ndarray, final: bool = False) -> np.ndarray:
        if self.identity:
            return np.array(x, dtype=np.float32)
        self._n_in += len(x)
        parts = [self._buf, np.asarray(x, dtype=np.float32)]
        if final:
            n_out = (self._n_in * self.up + self.down // 2) // self.down
            parts.append(np.zeros(self.half + self.down // self.up + 2, np.float32))
            m_stop = n_out
        else:
            # output m needs input up to (m*down)//up + half, which must already have arrived
            m_stop = max(self._m, -(-(self._n_in - self.half) * self.up // self.down))
        buf = np.concatenate(parts)
        out = self._compute(buf, self._m, m_stop)
        self._m = m_stop
        keep_from = (m_stop * self.down) // self.up - self.half  # first input the next output needs
        cut = max(0, min(keep_from - self._x0, len(buf)))
        self._buf = buf[cut:].copy() if not final else np.zeros(0, np.float32)
        self._x0 += cut
        return out

    def _compute(self, buf: np.ndarray, m0: int, m1: int) -> np.ndarray:
        n = max(m1 - m0, 0)
        out = np.empty(n, np.float32)
        up, down, half, bank = self.up, self.down, self.half, self.bank
        ntaps = 2 * half + 1
        item = buf.itemsize
        for r in range(min(up, n)):
            m = m0 + r
            count = (n - r + up - 1) // up
            start = (m * down) // up - half - self._x0  # buffer index of the first tap of output m
            # Outputs m, m+up, m+2up... share one phase and read inputs `down` apart: a strided
            # (count x ntaps) view of the buffer times the phase's taps is a matrix-vector product,
            # with no copy of the input. einsum, not BLAS: BLAS kernels sum a row differently
            # depending on its position in the call (and on the thread count), so results would
            # change with block boundaries and machines; einsum sums every row the same way.
            if start < 0 or start + (count - 1) * down + ntaps > len(buf):
                raise AssertionError("resampler buffer underrun")  # an invariant, never user input
            taps = bank[(m * down) % up]
            res = np.empty(count, np.float32)
            for q in range(0, count, _CHUNK):
                c = min(_CHUNK, count - q)
                view = as_strided(buf[start + q * down :], shape=(c, ntaps), strides=(down * item, item), writeable=False)
                np.einsum("ij,j->i", view, taps, out=res[q : q + c])
            out[r::up] = res
        return out


# --------------------------------------------------------------------------------------------------
# writing


def write_wav(path: str | os.PathLike, samples: np.ndarray | Audio, sample_rate: int | None = None, *, subtype: str = "PCM_16") -> Path:
    """Write mono (1-D) or multichannel (2-D ``(frames, channels)``) samples to a WAV file, atomically.

    The data goes to a temporary file in the same folder, then ``os.replace`` moves it into place, so a
    reader never sees a half-written file and an interrupted write leaves the old file intact. Float
    samples are clipped to [-1, 1] for integer subtypes (libsndfile would otherwise wrap around).
    Pass an :class:`Audio` to use its rate. Returns the path.

    Example::

        write_wav("heard.wav", np.stack([user, agent], axis=1), 16000)
        write_wav("user.wav", load_audio("user.mp3"))
    """
    if isinstance(samples, Audio):
        sample_rate = samples.sample_rate if sample_rate is None else sample_rate
        samples = samples.samples
    if sample_rate is None:
        raise ValueError("write_wav: sample_rate is required for a numpy array")
    _check_rate(str(path), "sample_rate", sample_rate)
    arr = np.asarray(samples)
    data = _as_float(arr, "array") if arr.dtype.kind != "f" else arr.astype(np.float32, copy=False)
    if data.ndim == 2 and data.shape[0] < data.shape[1] and data.shape[0] <= 16:
        data = data.T
    if data.ndim not in (1, 2):
        raise AudioError("array", "shape", f"expected 1-D (samples) or 2-D (frames, channels) audio, got shape {data.shape}", data.shape)
    if not np.isfinite(data).all():
        bad = np.flatnonzero(~np.isfinite(data.reshape(len(data), -1)).all(axis=1))
        raise AudioError("array", "samples", f"{len(bad)} frame(s) with NaN or inf, first at frame {int(bad[0])}", int(bad[0]))
    if not subtype.startswith("FLOAT") and not subtype.startswith("DOUBLE"):
        data = np.clip(data, -1.0, 1.0)
    return atomic_write(path, lambda tmp: sf.write(tmp, data, sample_rate, subtype=subtype, format="WAV"))
