"""Bad audio files say what is wrong with them (issue 21): a WAV cut short, a text file renamed ``.mp3``."""

from __future__ import annotations

import struct
import warnings
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from agentlab.audio import AudioError, iter_audio_blocks, load_audio


def tone(seconds: float, rate: int = 16000) -> np.ndarray:
    return (0.3 * np.sin(2 * np.pi * 220 * np.arange(int(seconds * rate)) / rate)).astype(np.float32)


@pytest.fixture
def cut_wav(tmp_path: Path) -> Path:
    """A 2 s stereo 44.1 kHz WAV of which 0.5 s of data remains; the header still says 2 s."""
    good = tmp_path / "good.wav"
    sf.write(good, np.stack([tone(2.0, 44100)] * 2, axis=1), 44100, subtype="PCM_16")
    data = good.read_bytes()
    cut = tmp_path / "call.wav"
    cut.write_bytes(data[: 44 + 44100 * 4 // 2])  # header + 0.5 s of 16-bit stereo frames
    return cut


def test_wav_cut_short_names_the_file_and_the_expected_and_actual_durations(cut_wav: Path) -> None:
    for read in (lambda: load_audio(cut_wav), lambda: list(iter_audio_blocks(cut_wav))):
        with pytest.raises(AudioError) as info:
            read()
        message = str(info.value)
        assert message.startswith(f"{cut_wav}: duration: the file is cut short: ")
        assert "promises 2.000 s (88200 frames) but it holds 0.500 s (22050 frames)" in message
        assert "allow_truncated=True" in message
        assert (info.value.field, info.value.value) == ("duration", (88200, 22050))


def test_wav_cut_short_allowed_is_one_warning_and_loads_what_is_there(cut_wav: Path) -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        audio = load_audio(cut_wav, allow_truncated=True)  # another rate and two channels: the block path
        blocks = list(iter_audio_blocks(cut_wav, allow_truncated=True, sample_rate=44100))
    assert [str(w.message).split(": ", 1)[0] for w in caught] == [str(cut_wav)] * 2, "one warning per read"
    assert all("promises 2.000 s" in str(w.message) and w.filename == __file__ for w in caught)
    assert audio.duration == pytest.approx(0.5, abs=1e-3)
    assert sum(len(b) for b in blocks) == 22050


def test_a_streaming_writers_placeholder_length_is_not_a_cut(tmp_path: Path) -> None:
    """0xFFFFFFFF (or 0) in the data chunk means "length unknown", not a promise."""
    path = tmp_path / "stream.wav"
    sf.write(path, tone(0.5), 16000, subtype="PCM_16")
    data = bytearray(path.read_bytes())
    at = data.index(b"data") + 4
    data[at : at + 4] = struct.pack("<I", 0xFFFFFFFF)
    path.write_bytes(bytes(data))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert load_audio(path).duration == pytest.approx(0.5)


def test_whole_wav_files_are_not_flagged(tmp_path: Path) -> None:
    for subtype in ("PCM_16", "PCM_24", "FLOAT"):
        path = tmp_path / f"{subtype}.wav"
        sf.write(path, np.stack([tone(1.0)] * 2, axis=1), 16000, subtype=subtype)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            assert load_audio(path).duration == pytest.approx(1.0)


@pytest.mark.parametrize("ext", ["mp3", "wav", "flac", "ogg"])
def test_text_renamed_to_audio_says_its_content_is_not_audio(tmp_path: Path, ext: str, capfd: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / f"notes.{ext}"
    path.write_text("Meeting notes\nCall the caterer on Monday.\n")
    with pytest.raises(AudioError) as info:
        load_audio(path)
    message = str(info.value)
    assert message.startswith(f"{path}: contents: the file's content is not audio: it holds text ('Meeting notes Call the caterer")
    assert message.endswith("formats read: WAV, FLAC, OGG (Vorbis, Opus), MP3, AIFF, CAF, W64, RF64, AU")
    assert "regular file" not in message
    assert "MPEG" not in capfd.readouterr().err, "said before the decoder tried (and printed resync notes)"


def test_binary_that_is_no_audio_says_so_too(tmp_path: Path) -> None:
    path = tmp_path / "photo.mp3"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4)
    with pytest.raises(AudioError, match=r"content is not audio: it begins with bytes 89 50 4e 47 0d 0a 1a 0a.*formats read: WAV"):
        load_audio(path)


def test_a_damaged_real_audio_file_is_still_reported_as_corrupt(tmp_path: Path) -> None:
    good = tmp_path / "good.flac"
    sf.write(good, tone(1.0), 16000)
    bad = tmp_path / "broken.flac"
    bad.write_bytes(good.read_bytes()[:40])
    with pytest.raises(AudioError, match=r"broken\.flac: contents: cannot decode audio \(corrupt or truncated file\?\)"):
        load_audio(bad)
