"""Loading, validation, resampling, block iteration and atomic writing of audio (agentlab.audio.io)."""

from __future__ import annotations

import os
import re
import tracemalloc

import numpy as np
import pytest
import soundfile as sf

from agentlab.audio import Audio, AudioError, iter_audio_blocks, load_audio, resample, write_wav


def tone(freq: float, seconds: float, rate: int, amp: float = 0.5) -> np.ndarray:
    return (amp * np.sin(2 * np.pi * freq * np.arange(round(seconds * rate)) / rate)).astype(np.float32)


def peak_frequency(x: np.ndarray, rate: int) -> float:
    """Frequency of the strongest component, refined by parabolic interpolation of the log spectrum."""
    spec = np.abs(np.fft.rfft(x * np.hanning(len(x)))) + 1e-12
    k = int(np.argmax(spec))
    a, b, c = np.log(spec[k - 1 : k + 2])
    return (k + 0.5 * (a - c) / (a - 2 * b + c)) * rate / len(x)


def rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(x, dtype=np.float64))))


# -- file formats --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ext", "subtype", "max_err"),
    [("wav", "PCM_16", 1 / 32768), ("flac", "PCM_16", 1 / 32768), ("ogg", "VORBIS", None), ("mp3", "MPEG_LAYER_III", None)],
)
def test_round_trip_formats(tmp_path, ext, subtype, max_err):
    x = tone(440, 1.0, 16000)
    path = tmp_path / f"tone.{ext}"
    sf.write(path, x, 16000, subtype=subtype)
    audio = load_audio(path)
    assert audio.sample_rate == 16000 and audio.source == str(path)
    assert audio.samples.dtype == np.float32 and audio.samples.ndim == 1
    if max_err is not None:  # lossless: the samples come back to within 16-bit quantization
        assert len(audio) == len(x)
        assert np.max(np.abs(audio.samples - x)) <= max_err
    else:  # lossy codecs (and MP3's encoder delay) change samples, not pitch or level
        assert abs(audio.duration - 1.0) < 0.1
        mid = audio.samples[2000:-2000]
        assert abs(peak_frequency(mid, 16000) - 440) < 2
        assert rms(mid) == pytest.approx(rms(x), rel=0.05)


def test_lossless_files_hash_alike_and_rate_matters(tmp_path):
    pcm = (tone(300, 0.5, 16000) * 32767).astype(np.int16)  # integer PCM: both files hold exactly these
    sf.write(tmp_path / "a.wav", pcm, 16000)
    sf.write(tmp_path / "a.flac", pcm, 16000)
    a, b = load_audio(tmp_path / "a.wav"), load_audio(tmp_path / "a.flac")
    assert a.sha256 == b.sha256 and len(a.sha256) == 64
    c = Audio(a.samples, 8000)
    assert c.sha256 != a.sha256


def test_stereo_file_and_arrays_downmix_by_mean(tmp_path):
    left, right = tone(440, 0.5, 16000, 0.6), tone(440, 0.5, 16000, 0.2)
    stereo = np.stack([left, right], axis=1)
    sf.write(tmp_path / "st.wav", stereo, 16000, subtype="FLOAT")
    expect = (left + right) / 2
    assert np.allclose(load_audio(tmp_path / "st.wav").samples, expect, atol=1e-7)
    assert np.allclose(load_audio(stereo, input_rate=16000).samples, expect, atol=1e-7)  # (frames, channels)
    assert np.allclose(load_audio(stereo.T, input_rate=16000).samples, expect, atol=1e-7)  # (channels, frames)
    six = np.tile(left[:, None], (1, 6))  # 5.1 audio: every channel the same
    assert np.allclose(load_audio(six, input_rate=16000).samples, left, atol=1e-7)


def test_integer_pcm_is_scaled_by_its_range():
    pcm = np.array([0, 16384, -32768, 32767] * 100, dtype=np.int16)
    audio = load_audio(pcm, input_rate=16000)
    assert audio.samples[:4].tolist() == pytest.approx([0.0, 0.5, -1.0, 32767 / 32768])
    u8 = np.array([128, 192, 0] * 100, dtype=np.uint8)
    assert load_audio(u8, input_rate=16000).samples[:3].tolist() == pytest.approx([0.0, 0.5, -1.0])


def test_clipped_audio_is_accepted_unchanged():
    x = np.clip(tone(200, 0.5, 16000, amp=3.0), -1, 1)  # hard-clipped square-ish wave
    audio = load_audio(x, input_rate=16000)
    assert audio.peak == 1.0 and np.array_equal(audio.samples, x)


def test_audio_is_read_only_and_keeps_callers_array_writable():
    x = tone(200, 0.1, 16000)
    audio = Audio(x, 16000)
    with pytest.raises(ValueError):
        audio.samples[0] = 1.0
    x[0] = 0.25  # the caller's own array is untouched by Audio's read-only view
    assert "Audio(0.100 s at 16000 Hz)" == repr(audio)
    with pytest.raises(TypeError, match="float32"):
        Audio(x.astype(np.float64), 16000)


def test_loading_an_audio_resamples_or_returns_it():
    a = load_audio(tone(1000, 1.0, 48000), input_rate=48000, sample_rate=48000)
    assert load_audio(a, sample_rate=48000) is a
    b = load_audio(a)
    assert b.sample_rate == 16000 and len(b) == 16000


# -- resampling ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rate", "freq"), [(44100, 1000.0), (48000, 1000.0), (8000, 1000.0), (22050, 3000.0), (8000, 3300.0), (48000, 6000.0), (96000, 7000.0)]
)
def test_resampling_keeps_frequency_and_energy(rate, freq):
    x = tone(freq, 2.0, rate)
    y = load_audio(x, input_rate=rate).samples
    assert len(y) == round(len(x) * 16000 / rate)
    mid = y[4000:-4000]  # away from the zero-padded edges
    assert abs(peak_frequency(mid, 16000) - freq) < 0.5
    # energy: flat passband (within 0.35 dB = 4 %) up to 87.5 % of the lower Nyquist frequency
    assert rms(mid) == pytest.approx(rms(x), rel=0.001 if freq <= 6000 else 0.05)


def test_resampling_suppresses_aliases():
    for freq in (9000.0, 12000.0, 20000.0):  # above 16 kHz's Nyquist frequency: would fold to 7, 4 and 4 kHz
        y = resample(tone(freq, 1.0, 48000), 48000, 16000)[2000:-2000]
        assert 20 * np.log10(rms(y) / (0.5 / np.sqrt(2))) < -60


def test_resampling_in_blocks_equals_whole(tmp_path):
    rng = np.random.default_rng(1)
    stereo = (rng.standard_normal((44100 * 3, 2)) * 0.1).astype(np.float32)
    path = tmp_path / "long.flac"
    sf.write(path, stereo, 44100)
    whole = load_audio(path).samples
    blocks = list(iter_audio_blocks(path, block_seconds=0.37))
    assert len(blocks) >= 8
    assert all(len(b) <= 0.37 * 16000 + 200 for b in blocks)
    assert np.array_equal(np.concatenate(blocks), whole)  # bit-identical, not just close


def test_iter_audio_blocks_is_memory_bounded(tmp_path):
    rate, seconds = 16000, 120
    path = tmp_path / "two_minutes.wav"
    with sf.SoundFile(path, "w", rate, 1, subtype="PCM_16") as f:
        for i in range(seconds // 10):
            f.write(tone(220 + i, 10.0, rate, 0.3))
    full_bytes = rate * seconds * 4  # 7.7 MB as float32 if loaded whole
    tracemalloc.start()
    try:
        total = sum(len(b) for b in iter_audio_blocks(path, block_seconds=2.0))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert total == rate * seconds
    assert peak < full_bytes / 8


# -- validation ----------------------------------------------------------------------------------


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"nothere\.wav"):
        load_audio(tmp_path / "nothere.wav")


def test_unsupported_format_names_file_and_extension(tmp_path):
    path = tmp_path / "notes.xyz"
    path.write_text("not audio at all")
    with pytest.raises(AudioError, match=r"notes\.xyz: format: unsupported audio format '\.xyz'") as e:
        load_audio(path)
    assert e.value.field == "format" and e.value.value == ".xyz"


@pytest.mark.parametrize("ext", ["wav", "flac", "ogg", "mp3"])
def test_corrupt_file_is_a_clear_error(tmp_path, ext):
    good = tmp_path / f"good.{ext}"
    sf.write(good, tone(300, 1.0, 16000), 16000)
    bad = tmp_path / f"broken.{ext}"
    bad.write_bytes(good.read_bytes()[:40])  # header cut short
    with pytest.raises(AudioError, match=rf"broken\.{ext}: contents: cannot decode audio") as e:
        load_audio(bad)
    assert isinstance(e.value, ValueError) and e.value.__cause__ is None  # no soundfile traceback chained


def test_truncated_flac_mid_stream(tmp_path):
    good = tmp_path / "good.flac"
    sf.write(good, tone(300, 2.0, 16000), 16000)
    bad = tmp_path / "cut.flac"
    bad.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(AudioError, match=r"cut\.flac: contents"):
        load_audio(bad)
    with pytest.raises(AudioError, match=r"cut\.flac: contents"):
        list(iter_audio_blocks(bad, block_seconds=0.25))


def test_directory_is_not_audio(tmp_path):
    with pytest.raises(AudioError, match="is a directory"):
        load_audio(tmp_path)


def test_empty_file_and_array(tmp_path):
    sf.write(tmp_path / "empty.wav", np.zeros(0, np.float32), 16000)
    with pytest.raises(AudioError, match=r"empty\.wav: samples: audio is empty \(0 samples\)"):
        load_audio(tmp_path / "empty.wav")
    with pytest.raises(AudioError, match=r"empty\.wav: samples: audio is empty"):
        list(iter_audio_blocks(tmp_path / "empty.wav"))
    with pytest.raises(AudioError, match=r"array: samples: audio is empty \(0 samples\)"):
        load_audio(np.zeros(0, np.float32), input_rate=16000)


def test_nan_and_inf_report_count_and_first_index(tmp_path):
    x = tone(300, 1.0, 16000)
    x[[1600, 3200]] = np.nan
    x[4800] = np.inf
    with pytest.raises(AudioError, match=r"array: samples: 3 non-finite value\(s\) \(NaN or inf\), first at sample 1600 \(0\.100 s\)") as e:
        load_audio(x, input_rate=16000)
    assert e.value.value == 1600
    path = tmp_path / "nan.wav"
    sf.write(path, x, 16000, subtype="FLOAT")
    with pytest.raises(AudioError, match=r"nan\.wav: samples: 3 non-finite value\(s\).*first at sample 1600"):
        load_audio(path)
    with pytest.raises(
        AudioError, match=r"nan\.wav: samples: 2 non-finite value\(s\) \(NaN or inf\) in samples 0-3999, first at sample 1600"
    ):
        list(iter_audio_blocks(path, block_seconds=0.25))
    x[[1600, 3200]] = 0.0
    sf.write(path, x, 16000, subtype="FLOAT")
    with pytest.raises(AudioError, match=r"1 non-finite value\(s\) \(NaN or inf\) in samples 4000-7999, first at sample 4800 \(0\.300 s\)"):
        list(iter_audio_blocks(path, block_seconds=0.25))  # block-wise: the index is still absolute


def test_silent_audio_reports_its_peak(tmp_path):
    quiet = np.full(16000, 3e-5, np.float32)
    with pytest.raises(AudioError, match=r"array: samples: audio is silent \(peak \|x\| = 3e-05, below 0\.0001\)"):
        load_audio(quiet, input_rate=16000)
    assert len(load_audio(quiet, input_rate=16000, allow_silent=True)) == 16000
    sf.write(tmp_path / "zeros.wav", np.zeros(16000, np.float32), 16000)
    with pytest.raises(AudioError, match=r"zeros\.wav: samples: audio is silent \(peak \|x\| = 0"):
        load_audio(tmp_path / "zeros.wav")
    with pytest.raises(AudioError, match=r"zeros\.wav: samples: audio is silent"):
        list(iter_audio_blocks(tmp_path / "zeros.wav"))


@pytest.mark.parametrize(
    ("arr", "pattern"),
    [
        (np.array(["a", "b"]), r"array: dtype: expected numeric samples .* got dtype <U1"),
        (np.ones(10, dtype=complex), r"array: dtype: .* got dtype complex128"),
        (np.ones(10, dtype=bool), r"array: dtype: .* got dtype bool"),
        (np.ones(10, dtype=object), r"array: dtype: .* got dtype object"),
    ],
)
def test_non_numeric_dtypes(arr, pattern):
    with pytest.raises(AudioError, match=pattern):
        load_audio(arr, input_rate=16000)


@pytest.mark.parametrize("shape", [(2, 3, 4), ()])
def test_wrong_rank(shape):
    expected = rf"array: shape: expected 1-D \(samples\) or 2-D \(frames, channels\) audio, got shape {re.escape(str(shape))}"
    with pytest.raises(AudioError, match=expected):
        load_audio(np.ones(shape, np.float32), input_rate=16000)


def test_rates_are_validated():
    x = tone(300, 0.1, 16000)
    with pytest.raises(AudioError, match=r"array: input_rate: required when loading a numpy array \(got None\)"):
        load_audio(x)
    with pytest.raises(AudioError, match=r"array: input_rate: must be a positive integer number of Hz, got -5"):
        load_audio(x, input_rate=-5)
    with pytest.raises(AudioError, match=r"load_audio: sample_rate: must be a positive integer number of Hz, got 16000\.0"):
        load_audio(x, input_rate=16000, sample_rate=16000.0)
    with pytest.raises(AudioError, match=r"input_rate: 8000 contradicts the Audio's own rate 16000"):
        load_audio(Audio(x, 16000), input_rate=8000)
    with pytest.raises(TypeError, match="expected a path, a numpy array or an Audio"):
        load_audio([0.1, 0.2])


# -- writing -------------------------------------------------------------------------------------


def test_write_wav_mono_stereo_and_audio(tmp_path):
    x = tone(440, 0.5, 16000)
    out = write_wav(tmp_path / "mono.wav", x, 16000)
    assert out == tmp_path / "mono.wav"
    assert np.max(np.abs(sf.read(out, dtype="float32")[0] - x)) <= 1 / 32768
    stereo = np.stack([x, -x], axis=1)
    write_wav(tmp_path / "st.wav", stereo, 16000)
    data, rate = sf.read(tmp_path / "st.wav", dtype="float32")
    assert rate == 16000 and data.shape == (8000, 2)
    write_wav(tmp_path / "st2.wav", stereo.T, 16000)  # (channels, frames) also works
    assert sf.read(tmp_path / "st2.wav")[0].shape == (8000, 2)
    write_wav(tmp_path / "a.wav", load_audio(x, input_rate=16000, sample_rate=8000))
    assert sf.info(tmp_path / "a.wav").samplerate == 8000


def test_write_wav_clips_instead_of_wrapping(tmp_path):
    write_wav(tmp_path / "loud.wav", np.array([2.0, -3.0, 0.5], np.float32), 16000)
    assert sf.read(tmp_path / "loud.wav", dtype="float32")[0].tolist() == pytest.approx([32767 / 32768, -1.0, 0.5])


def test_write_wav_is_atomic(tmp_path, monkeypatch):
    target = tmp_path / "keep.wav"
    write_wav(target, tone(440, 0.2, 16000), 16000)
    before = target.read_bytes()

    def failing_write(path, data, *args, **kwargs):
        with open(path, "wb") as f:
            f.write(b"RIFF partial")  # a crash halfway through writing
        raise OSError("disk full")

    monkeypatch.setattr(sf, "write", failing_write)
    with pytest.raises(OSError, match="disk full"):
        write_wav(target, tone(880, 0.2, 16000), 16000)
    assert target.read_bytes() == before  # the old file is intact
    assert os.listdir(tmp_path) == ["keep.wav"]  # and no temporary file is left behind


def test_write_wav_validates(tmp_path):
    with pytest.raises(ValueError, match="sample_rate is required"):
        write_wav(tmp_path / "x.wav", np.zeros(10, np.float32))
    with pytest.raises(AudioError, match=r"samples: 1 frame\(s\) with NaN or inf, first at frame 2"):
        write_wav(tmp_path / "x.wav", np.array([0, 0, np.nan], np.float32), 16000)
    with pytest.raises(AudioError, match=r"shape"):
        write_wav(tmp_path / "x.wav", np.zeros((2, 2, 2), np.float32), 16000)
    assert not (tmp_path / "x.wav").exists()
