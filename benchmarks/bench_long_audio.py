"""Peak memory of the long-audio paths: iter_audio_blocks, analyze_vad, load_audio, simulate.

Each path runs in a fresh subprocess (ru_maxrss is a high-water mark), on a generated recording:
two seconds of tone every five, quiet noise between, written a minute at a time so making it is
cheap too. Prints the peak above the process after ``import agentlab`` and the time.

    python benchmarks/bench_long_audio.py                      # 2 h at 16 kHz mono
    python benchmarks/bench_long_audio.py --hours 1 --rate 44100 --channels 2 --modes vad-energy load
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf

MODES = ("blocks", "vad-energy", "vad-silero", "load", "simulate")

_CHILD = """
import resource, sys, time
def rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
mode, path = sys.argv[1:3]
import agentlab as al
from agentlab.audio import analyze_vad, iter_audio_blocks, load_audio
base, t0 = rss_mb(), time.perf_counter()
if mode == "blocks":
    sum(len(b) for b in iter_audio_blocks(path))
elif mode.startswith("vad-"):
    analyze_vad(path, backend=mode[4:], cache=False)
elif mode == "load":
    load_audio(path)
elif mode == "simulate":
    from agentlab.examples.restaurant import Host, scripted_llm
    from agentlab.models.stt import AlignedSTT
    al.simulate(Host, {"llm": scripted_llm(), "stt": AlignedSTT([(0.1, 1.9, "hello")])}, path, vad_backend="energy")
print(f"{time.perf_counter() - t0:.1f} {rss_mb() - base:.0f} {base:.0f}")
"""


def make_recording(path: Path, hours: float, rate: int, channels: int) -> None:
    t, rng = np.arange(60 * rate) / rate, np.random.default_rng(0)
    with sf.SoundFile(path, "w", rate, channels, format="FLAC") as f:
        for _ in range(round(hours * 60)):
            x = np.where(t % 5 < 2, 0.3 * np.sin(2 * np.pi * 220 * t), 0.001 * rng.standard_normal(len(t))).astype(np.float32)
            f.write(np.stack([x] * channels, 1) if channels > 1 else x)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--hours", type=float, default=2.0)
    ap.add_argument("--rate", type=int, default=16000)
    ap.add_argument("--channels", type=int, default=1)
    ap.add_argument("--modes", nargs="+", choices=MODES, default=list(MODES))
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "long.flac"
        make_recording(path, args.hours, args.rate, args.channels)
        result_mb = args.hours * 3600 * 16000 * 4 / 2**20
        print(f"{args.hours:g} h, {args.rate} Hz, {args.channels} channel(s): {path.stat().st_size / 2**20:.0f} MB FLAC; "
              f"the whole recording at 16 kHz float32 is {result_mb:.0f} MB")  # fmt: skip
        print(f"{'path':<12} {'seconds':>8} {'peak MB':>8}  (above {'import agentlab'})")
        for mode in args.modes:
            out = subprocess.run([sys.executable, "-c", _CHILD, mode, str(path)], capture_output=True, text=True, check=True)
            seconds, peak, _base = out.stdout.split()
            print(f"{mode:<12} {float(seconds):8.1f} {'+' + peak:>8}")


if __name__ == "__main__":
    main()
