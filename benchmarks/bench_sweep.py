"""What a 100-setting sweep over the bundled labelled audio costs (issue target: 100 settings over one
hour of audio within 60 s on this 2-core machine).

Prints, side by side: the one-off analysis time (VAD over every recording, cached afterwards), the
marginal time per setting per hour of audio on the fast path (the turn engine replayed over cached
tracks), the projected time for 100 settings over one hour, and the ratio to running the same settings
in real time. Then the full simulation path: the task conversations run through the whole session
(10 tool-step limits), per cell and against real time (their nominal speaking time).

Run:  python benchmarks/bench_sweep.py [--side 10]
"""

from __future__ import annotations

import argparse
import time

from agentlab import datasets
from agentlab.audio import AnalysisCache
from agentlab.sweeps import sweep

NAMES = ["dictation", "conversational", "overlaps"]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--side", type=int, default=10, help="grid is side x side (10 -> 100 settings)")
    args = parser.parse_args()
    n = args.side
    grid = {
        "endpointing.min_delay": [round(0.1 * i, 2) for i in range(1, n + 1)],
        "interruption.min_duration": [round(0.1 * i, 2) for i in range(1, n + 1)],
    }
    audio_s = sum(datasets.load(name).summary()["audio_seconds"] for name in NAMES)
    hours = audio_s / 3600

    import agentlab.audio.cache as cache_module

    cache_module._default = AnalysisCache()  # a cold cache: the analysis is measured too
    t0 = time.perf_counter()
    for name in NAMES:
        sweep(None, name, {"endpointing.min_delay": [0.5]}, progress=False)
    analysis = time.perf_counter() - t0

    t0 = time.perf_counter()
    for name in NAMES:
        result = sweep(None, name, grid, progress=False)
        assert result.failed.empty
    settings_time = time.perf_counter() - t0
    per_setting_hour = settings_time / (n * n) / hours
    projected = analysis / hours + 100 * per_setting_hour
    realtime = n * n * audio_s

    print(f"{n * n} settings over {audio_s / 60:.1f} min of labelled audio ({len(NAMES)} datasets)")
    print(f"{'analysis (once)':>30} {'per setting per hour':>22} {'100 settings x 1 h':>20} {'vs real time':>14}")
    print(f"{analysis:29.2f}s {per_setting_hour * 1000:20.0f}ms {projected:19.1f}s {realtime / (analysis + settings_time):13,.0f}x")
    print(f"target: 100 settings over one hour within 60 s -> {'met' if projected <= 60 else 'not met'}")

    # The full simulation path: every task conversation runs the whole session (reference agent).
    tasks = datasets.load("tasks")
    typed_s = sum(c.duration for c in tasks)
    steps = {"max_tool_steps": list(range(10))}
    t0 = time.perf_counter()
    result = sweep(None, tasks, steps, progress=False)
    task_time = time.perf_counter() - t0
    assert result.failed.empty
    cells = len(result.cells)
    print(f"\ntask conversations (full simulation path): {len(steps['max_tool_steps'])} settings x {len(tasks)} conversations")
    print(f"{'wall':>30} {'per cell':>22} {'vs real time':>20}")
    print(f"{task_time:29.2f}s {task_time / cells * 1000:20.1f}ms {cells / len(tasks) * typed_s / task_time:19,.0f}x")


if __name__ == "__main__":
    main()
