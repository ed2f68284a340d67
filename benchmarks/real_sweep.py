"""The min_delay sweep on real human speech (the bundled `real` dataset), with its independent checks.

Prints, per min_delay: holds and their cut-off rate next to the rate the labels predict
(``expected_hold_cutoffs``, single speakers and all), turns and the per-turn cut-off rate, commits
that cut a turn outside any hold, the figure recommendations use (the worse of the two rates), ends
of turn detected / late / missed / lost to the echo guard, end-of-turn latency, and barge-ins
scored. Then the recommendation under 5 % and 10 % cut-offs.

Run:  python benchmarks/real_sweep.py [--markdown]
"""

from __future__ import annotations

import argparse

import pandas as pd

from agentlab import datasets
from agentlab.sweeps import expected_hold_cutoffs, sweep

DELAYS = [0.2, 0.3, 0.4, 0.5, 0.6, 0.8, 1.0, 1.2, 1.6, 2.0, 2.5]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--markdown", action="store_true", help="print a Markdown table")
    args = parser.parse_args()
    ds = datasets.load("real")
    res = sweep(None, ds, {"endpointing.min_delay": DELAYS}, progress=False)
    assert res.failed.empty, res.failed
    s = res.summary
    table = pd.DataFrame(
        {
            "min_delay": s["endpointing.min_delay"],
            "hold cut-offs": [f"{r:.1%} of {n}" for r, n in zip(s["hold_cutoff_rate"], s["holds"], strict=True)],
            "expected": [f"{expected_hold_cutoffs(ds, d)['rate']:.1%}" for d in s["endpointing.min_delay"]],
            "turn cut-offs": [f"{r:.1%} of {n}" for r, n in zip(s["turn_cutoff_rate"], s["turns"], strict=True)],
            "mid-speech": s["cutoffs_mid_speech"],
            "false_cutoff_rate": [f"{r:.1%}" for r in s["false_cutoff_rate"]],
            "eot det/late/miss/aec": [
                f"{d}/{la}/{m}/{a}" for d, la, m, a in zip(s["detected"], s["late"], s["missed"], s["aec_warmup_losses"], strict=True)
            ],
            "eot p50": s["eot_latency_p50"].round(3),
            "eot p90": s["eot_latency_p90"].round(3),
            "barge-ins scored": [f"{a}/{b}" for a, b in zip(s["barge_ins_scored"], s["barge_ins_labelled"], strict=True)],
        }
    )
    if args.markdown:
        print("| " + " | ".join(table.columns) + " |")
        print("|" + "---|" * len(table.columns))
        for row in table.itertuples(index=False):
            print("| " + " | ".join(str(v) for v in row) + " |")
    else:
        print(table.to_string(index=False))
    print()
    for budget in (0.05, 0.10):
        try:
            row = res.best(max_cutoff_rate=budget)
        except ValueError as e:
            print(f"at most {budget:.0%} cut-offs: no setting qualifies ({e})")
            continue
        print(
            f"at most {budget:.0%} cut-offs: min_delay {row['endpointing.min_delay']} s "
            f"(holds {row['hold_cutoff_rate']:.1%}, turns {row['turn_cutoff_rate']:.1%}, p50 {row['eot_latency_p50']:.2f} s, "
            f"missed {row['missed_turn_rate']:.1%})"
        )


if __name__ == "__main__":
    main()
