"""What a sweep costs, per setting and per hour of audio, for short and long conversations.

Issue targets (2-core machine): replaying one setting over one hour of audio takes at most 36 ms,
whatever the conversations' length; 100 settings over one hour of audio, the VAD analysis included,
take at most 15 s.

The hour of audio is the bundled recordings (dictation, conversational, overlaps, real), laid end
to end and cut into conversations of 10 s and of 5 minutes, with their labels; repeated copies get
a different faint noise floor so that the VAD analyses each one (its cache is keyed by content).
Printed side by side, for each length: the one-off analysis of the hour (Silero VAD, cold cache),
the marginal cost per setting per hour of audio, the projected 100 settings x 1 hour, and the ratio
to running those settings in real time. Then the full simulation path (task conversations).

Run:  python benchmarks/bench_sweep.py [--settings 100] [--hours 1.0]
"""

from __future__ import annotations

import argparse
import dataclasses
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf

from agentlab import datasets
from agentlab.audio import AnalysisCache
from agentlab.datasets import AgentSpeech, Conversation, Dataset, Overlap, Span, Turn, Word
from agentlab.sweeps import sweep

SOURCES = ["dictation", "conversational", "overlaps", "real"]
RATE = 16000


def _shift(conv: Conversation, dt: float, turn0: int, agent0: int) -> tuple[list, list, list, list]:
    turns = [
        Turn(t.start + dt, t.end + dt, t.transcript, tuple(Word(w.text, w.start + dt, w.end + dt) for w in t.words)) for t in conv.turns
    ]
    spans = [Span(s.kind, s.start + dt, s.end + dt, s.turn + turn0) for s in conv.spans]
    agent = [AgentSpeech(a.start + dt, a.end + dt, a.text) for a in conv.agent]
    overlaps = [Overlap(o.kind, o.start + dt, o.end + dt, o.agent + agent0, o.transcript) for o in conv.overlaps]
    return turns, spans, agent, overlaps


def timeline(seconds: float) -> tuple[np.ndarray, Conversation]:
    """The bundled recordings end to end (the user's voice, masks applied), repeated to ``seconds``."""
    convs = [c for name in SOURCES if name in datasets.list() for c in datasets.load(name) if c.audio is not None]
    pieces, turns, spans, agent, overlaps = [], [], [], [], []
    t, copy = 0.0, 0
    rng = np.random.default_rng(0)
    while t < seconds:
        for c in convs:
            audio = c.load_audio().samples
            floor = rng.standard_normal(len(audio)).astype(np.float32) * np.float32(10 ** ((-70 + copy) / 20))
            pieces.append(audio + floor)
            tr, sp, ag, ov = _shift(c, t, len(turns), len(agent))
            turns += tr
            spans += sp
            agent += ag
            overlaps += ov
            t += len(audio) / RATE
            if t >= seconds:
                break
        copy += 1
    samples = np.concatenate(pieces)[: round(seconds * RATE)]
    long = Conversation("timeline", seconds, tuple(turns), tuple(spans), tuple(agent), tuple(overlaps))
    return samples, long


def cut(long: Conversation, a: float, b: float, cid: str) -> Conversation:
    """The labels of ``long`` that lie wholly in ``[a, b)``, shifted to start at 0 (eots and agent speech clipped)."""
    keep_turns = [i for i, t in enumerate(long.turns) if t.start >= a and t.end <= b]
    tmap = {old: new for new, old in enumerate(keep_turns)}
    keep_agent = [i for i, x in enumerate(long.agent) if x.start >= a and x.start < b]
    amap = {old: new for new, old in enumerate(keep_agent)}
    turns = [long.turns[i] for i in keep_turns]
    spans = [
        dataclasses.replace(s, end=min(s.end, b), turn=tmap[s.turn])
        for s in long.spans
        if s.turn in tmap and s.start >= a and s.start < b and (s.kind == "eot" or s.end <= b)
    ]
    agent = [dataclasses.replace(long.agent[i], end=min(long.agent[i].end, b)) for i in keep_agent]
    overlaps = [dataclasses.replace(o, agent=amap[o.agent]) for o in long.overlaps if o.agent in amap and o.start >= a and o.end <= b]
    shifted = Conversation(cid, b - a, tuple(turns), tuple(spans), tuple(agent), tuple(overlaps))
    tr, sp, ag, ov = _shift(shifted, -a, 0, 0)
    return Conversation(cid, round(b - a, 6), tuple(tr), tuple(sp), tuple(ag), tuple(ov))


def conversations(samples: np.ndarray, long: Conversation, length: float, folder: Path) -> Dataset:
    convs = []
    n = int(long.duration // length)
    for k in range(n):
        a, b = k * length, (k + 1) * length
        cid = f"w{length:g}-{k:04d}"
        path = folder / f"{cid}.flac"
        sf.write(str(path), samples[round(a * RATE) : round(b * RATE)], RATE, subtype="PCM_16")
        convs.append(dataclasses.replace(cut(long, a, b, cid), audio=path))
    manifest = {"name": f"bench-{length:g}s", "version": "1", "description": "benchmark", "license": "CC-BY-4.0", "source": "generated"}
    return Dataset(manifest["name"], {**manifest, "sample_rate": RATE, "conversations": [c.id for c in convs]}, convs)


def grid(n: int) -> dict[str, list[float]]:
    side = max(1, round(n**0.5))
    return {
        "endpointing.min_delay": [round(0.1 * i, 2) for i in range(1, side + 1)],
        "interruption.min_duration": [round(0.1 * i, 2) for i in range(1, max(1, n // side) + 1)],
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--settings", type=int, default=100, help="settings in the grid (about; a square grid)")
    parser.add_argument("--hours", type=float, default=1.0, help="hours of audio")
    args = parser.parse_args()
    g = grid(args.settings)
    n_settings = len(g["endpointing.min_delay"]) * len(g["interruption.min_duration"])
    samples, long = timeline(args.hours * 3600)
    hours = len(samples) / RATE / 3600

    import agentlab.audio.cache as cache_module

    print(f"{n_settings} settings over {hours:.2f} h of labelled audio (bundled recordings laid end to end)")
    print(f"{'conversations':>16} {'analysis (once)':>16} {'per setting-hour':>18} {'100 settings x 1 h':>20} {'vs real time':>14}")
    with tempfile.TemporaryDirectory() as tmp:
        for length in (10.0, 300.0):
            folder = Path(tmp) / f"{length:g}"
            folder.mkdir()
            data = conversations(samples, long, length, folder)
            audio_h = len(data) * length / 3600
            cache_module._default = AnalysisCache()  # cold: the analysis is measured too
            t0 = time.perf_counter()
            sweep(None, data, {"endpointing.min_delay": [0.5]}, progress=False)
            analysis = time.perf_counter() - t0
            t0 = time.perf_counter()
            result = sweep(None, data, g, progress=False)
            settings_time = time.perf_counter() - t0
            assert result.failed.empty, result.failed.head()
            per = settings_time / n_settings / audio_h
            projected = analysis / audio_h + 100 * per
            realtime = n_settings * audio_h * 3600 / (analysis + settings_time)
            label = f"{len(data)} x {length:g} s"
            print(f"{label:>16} {analysis / audio_h:15.1f}s {per * 1000:16.1f}ms {projected:19.1f}s {realtime:13,.0f}x")
    print("targets: per setting-hour <= 36 ms; 100 settings x 1 h <= 15 s")

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
