"""How fast a 100-turn scripted *voice* conversation simulates, side by side with LiveKit's own
AgentSession on the same script, in the same run.

Per turn: the user speaks 2.0 s, the final transcript comes 0.2 s after, the LLM answers with TTFT
0.3 s and lasts 0.6 s, the TTS plays 3.0 s of audio after 0.2 s, then 1 s of silence. Both sessions
make every decision themselves (VAD end of speech, endpointing, preemptive generation, reply
hold-off, transcript sync). LiveKit runs unmodified in ``tests/livekit_harness.py`` (virtual time,
fake VAD/STT/LLM/TTS at the edges) in a subprocess that times only the session run; agentlab runs
the same spec (``tests/lk_scenarios.py``) and, as a user would, through ``agentlab.simulate``.

Targets (issue 13): >= 20,000x real time and >= 25x LiveKit's speed.

Wall time on a shared machine varies by a fifth from run to run; ``--instructions`` also counts the
CPU instructions one agentlab run takes, under valgrind (repeatable to about half a percent, so a
change of 1 % shows).

Run:  python benchmarks/bench_voice_session.py [--turns 100] [--repeat 5] [--no-livekit] [--profile] [--instructions]
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import pstats
import re
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import agentlab as al
from agentlab.engine import UserSpeech

TESTS = Path(__file__).resolve().parents[1] / "tests"
sys.path.insert(0, str(TESTS))
from lk_scenarios import decisions, diff, run_agentlab  # noqa: E402

REPLY = "Sure, here is a short answer to that question."
PERIOD = 2.0 + 0.5 + 0.3 + 0.2 + 3.0 + 1.0  # speech, endpointing (min_delay), LLM TTFT, TTS TTFB, audio, gap


def spec(turns: int) -> dict:
    """The conversation as a harness spec (both sessions run exactly this)."""
    user = [{"start": 1.0 + i * PERIOD, "end": 3.0 + i * PERIOD, "transcript": f"Question number {i}, please?"} for i in range(turns)]
    llm = [{"input": u["transcript"], "content": REPLY, "ttft": 0.3, "duration": 0.6} for u in user]
    return {"user": user, "llm": llm, "tts": [{"input": REPLY, "audio_duration": 3.0, "ttfb": 0.2}], "until": turns * PERIOD + 2.0}


def simulate_run(turns: int) -> al.Run:
    """The same conversation through ``agentlab.simulate`` (the product's path)."""
    llm = al.ScriptedLLM(rules=[al.Rule(reply=REPLY, ttft=0.3, duration=0.6)])
    tts = al.ScriptedTTS(ttfb=0.2, durations={REPLY: 3.0})
    script = [UserSpeech(1.0 + i * PERIOD, 3.0 + i * PERIOD, f"Question number {i}, please?", stt_delay=0.2) for i in range(turns)]
    return al.simulate(lambda: al.Agent(instructions="Answer briefly."), {"llm": llm, "tts": tts}, script)


_LIVEKIT_DRIVER = """
import json, sys
sys.path.insert(0, sys.argv[1])
import livekit_harness as h  # before livekit.agents: it installs the virtual clocks
spec, repeat = json.loads(sys.stdin.read()), int(sys.argv[2])
clock = h._REAL["perf_counter"]
h.run_scenario(spec)  # warm-up: imports, first-call costs
walls, out = [], None
for _ in range(repeat):
    t0 = clock()
    out = h.run_scenario(spec)
    walls.append(clock() - t0)
print(json.dumps({"walls": walls, "out": out}))
"""


def livekit_runs(s: dict, repeat: int) -> tuple[list[float], dict]:
    proc = subprocess.run(
        [sys.executable, "-c", _LIVEKIT_DRIVER, str(TESTS), str(repeat)], input=json.dumps(s), capture_output=True, text=True, check=False
    )
    if proc.returncode != 0:
        raise SystemExit(f"LiveKit harness failed (is livekit-agents==1.8.9 installed? pip install -e '.[test]'):\n{proc.stderr[-2000:]}")
    res = json.loads(proc.stdout)
    return res["walls"], res["out"]


def timed(fn, repeat: int) -> tuple[list[float], object]:
    walls, out = [], None
    fn()  # warm-up
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        walls.append(time.perf_counter() - t0)
    return walls, out


def _path(name: str, turns: int):
    return (lambda: run_agentlab(spec(turns))) if name == "same spec" else (lambda: simulate_run(turns))


def instructions(name: str, turns: int, extra: int = 3) -> float:
    """Millions of CPU instructions one run of ``name`` takes: valgrind's count for ``1 + extra`` runs
    in one process, minus its count for 1 run (imports, first-call costs), over ``extra``."""

    # A fixed hash seed (string hashes steer dict probing) and one BLAS thread (numpy's idle
    # threads spin, and valgrind counts them). What still varies, about half a percent, follows
    # memory addresses (the order of sets of tasks).
    env = {**os.environ, "PYTHONHASHSEED": "0", "OPENBLAS_NUM_THREADS": "1"}

    def count(runs: int) -> int:
        cmd = ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", sys.executable, __file__]
        out = subprocess.run(
            [*cmd, "--only-run", name, str(runs), "--turns", str(turns)], capture_output=True, text=True, check=True, env=env
        )
        return int(re.search(r"refs:\s+([\d,]+)", out.stderr).group(1).replace(",", ""))  # type: ignore[union-attr]

    return (count(1 + extra) - count(1)) / extra / 1e6


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--turns", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--no-livekit", action="store_true", help="skip the LiveKit side")
    parser.add_argument("--profile", action="store_true", help="profile agentlab's run and print the top functions")
    parser.add_argument("--instructions", action="store_true", help="count instructions per run under valgrind (about a minute)")
    parser.add_argument("--only-run", nargs=2, metavar=("PATH", "N"), help=argparse.SUPPRESS)  # what --instructions counts
    args = parser.parse_args()
    if args.only_run:
        fn = _path(args.only_run[0], args.turns)
        for _ in range(int(args.only_run[1])):
            fn()
        return
    s = spec(args.turns)
    simulated = s["until"]

    ours_walls, ours = timed(_path("same spec", args.turns), args.repeat)
    sim_walls, run = timed(_path("simulate", args.turns), args.repeat)
    rows = [("agentlab (same spec)", statistics.median(ours_walls)), ("agentlab.simulate", statistics.median(sim_walls))]
    same = None
    if not args.no_livekit:
        lk_walls, lk = livekit_runs(s, args.repeat)
        rows.append(("LiveKit 1.8.9", statistics.median(lk_walls)))
        same = not diff(decisions(ours), decisions(lk))  # type: ignore[arg-type]

    replies = int((run.history["role"] == "assistant").sum())  # type: ignore[attr-defined]
    print(f"{args.turns}-turn scripted voice conversation ({simulated:.0f} s simulated, {replies} replies), median of {args.repeat} runs")
    if same is not None:
        print(f"  identical decisions, agentlab vs LiveKit: {same}")
    lk_wall = rows[2][1] if len(rows) > 2 else None
    print(f"{'':4}{'session':24}{'wall ms':>10}{'x real time':>14}{'x LiveKit':>11}{'/ 20,000x':>11}")
    for name, wall in rows:
        speed = simulated / wall
        vs_lk = f"{lk_wall / wall:10.1f}x" if lk_wall else f"{'-':>11}"
        print(f"{'':4}{name:24}{wall * 1000:10.1f}{speed:13,.0f}x{vs_lk}{speed / 20000:10.2f}x")

    if args.instructions:
        if shutil.which("valgrind") is None:
            raise SystemExit("--instructions needs valgrind (apt-get install valgrind)")
        for name in ("same spec", "simulate"):
            print(f"    agentlab ({name}): {instructions(name, args.turns):,.0f} M instructions per run")

    if args.profile:
        prof = cProfile.Profile()
        prof.enable()
        run_agentlab(s)
        prof.disable()
        pstats.Stats(prof).sort_stats("tottime").print_stats(18)


if __name__ == "__main__":
    main()
