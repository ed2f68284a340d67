"""sweep(): grid expansion, the expected trade-offs, choosing settings, resuming, failures."""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
import time

import pandas as pd
import pytest

import agentlab.datasets as ads
import agentlab.sweeps.run as run_mod
from agentlab.datasets.model import Conversation
from agentlab.sweeps import SweepResult, expand_grid, sweep

GRID = {"endpointing.min_delay": [0.2, 1.0], "interruption.min_duration": [0.2, 1.0]}

# Also run verbatim in a subprocess (the real-kill test), so it must be self-contained.
MAKE_DATA = """
import agentlab.datasets as ads
def make_data(n):
    a, b = ads.load("dictation"), ads.load("overlaps")
    return ads.Dataset("mixed", {"name": "mixed"}, a.conversations[:n] + b.conversations[:n])
"""
_ns: dict = {}
exec(MAKE_DATA, _ns)
make_data = _ns["make_data"]


@pytest.fixture(scope="module")
def small():
    return make_data(4)


@pytest.fixture(scope="module")
def result(small):
    return sweep(None, small, GRID, progress=False)


def _counting(monkeypatch):
    calls = []
    real = run_mod.replay_conversation

    def counted(conv, options, events):
        calls.append(conv.id)
        return real(conv, options, events)

    monkeypatch.setattr(run_mod, "replay_conversation", counted)
    return calls


def test_expand_grid_order_and_ids():
    a = expand_grid(GRID)
    assert [tuple(s.values.values()) for s in a] == [(0.2, 0.2), (0.2, 1.0), (1.0, 0.2), (1.0, 1.0)]
    b = expand_grid(dict(reversed(list(GRID.items()))))
    assert {s.id for s in a} == {s.id for s in b}  # the id does not depend on key order
    assert len({s.id for s in a}) == 4
    assert [s.values for s in expand_grid({})] == [{}]
    with pytest.raises(ValueError, match="non-empty list"):
        expand_grid({"endpointing.min_delay": 0.5})


def test_bad_option_names_fail_before_running(small):
    with pytest.raises(ValueError, match="unknown option group"):
        sweep(None, small, {"endpointng.min_delay": [0.5]}, progress=False)
    with pytest.raises(ValueError, match=r"unknown VAD option 'vad\.min_silence'"):
        sweep(None, small, {"vad.min_silence": [0.5]}, progress=False)


def test_tables_and_tradeoff(result, small):
    assert len(result.cells) == 4 * len(small) and (result.cells.status == "ok").all()
    assert list(result.turns.columns[:3]) == ["setting", "endpointing.min_delay", "interruption.min_duration"]
    s = result.summary.set_index(["endpointing.min_delay", "interruption.min_duration"])
    assert len(s) == 4 and (s.n_cells == len(small)).all() and (s.n_failed == 0).all()
    for dur in (0.2, 1.0):
        short, long = s.loc[(0.2, dur)], s.loc[(1.0, dur)]
        assert short.false_cutoff_rate > long.false_cutoff_rate  # shorter delay → more cut-offs
        assert short.eot_latency_p50 < long.eot_latency_p50  # ... and lower latency
    for delay in (0.2, 1.0):
        quick, slow = s.loc[(delay, 0.2)], s.loc[(delay, 1.0)]
        assert quick.barge_in_recall > slow.barge_in_recall  # a short min_duration stops for barge-ins
        assert quick.false_interruption_rate >= slow.false_interruption_rate
    assert "SweepResult(4 settings × 8 conversations" in repr(result)
    assert "<table" in result._repr_html_()


def test_best_and_pareto(result):
    s = result.summary
    best = result.best(max_cutoff_rate=0.5)
    assert best["endpointing.min_delay"] == 1.0 and best["false_cutoff_rate"] <= 0.5
    fast = result.best(max_p50_latency=0.6)
    assert fast["endpointing.min_delay"] == 0.2
    assert result.best(by="false_cutoff_rate")["false_cutoff_rate"] == s.false_cutoff_rate.min()
    with pytest.raises(ValueError, match=r"max_cutoff_rate=0\.01"):
        result.best(max_cutoff_rate=0.01)
    front = result.pareto()
    assert set(front["endpointing.min_delay"]) == {0.2, 1.0}
    assert list(front.false_cutoff_rate) == sorted(front.false_cutoff_rate)


def test_csv_round_trip(result, tmp_path):
    result.to_csv(tmp_path / "r.csv")
    back = SweepResult.from_csv(tmp_path / "r.csv")
    assert back.params == result.params
    pd.testing.assert_frame_equal(back.summary, result.summary)
    assert len(back.turns) == len(result.turns)


def test_parquet_round_trip_matches_csv(result, tmp_path):
    result.to_parquet(tmp_path / "r.parquet")
    back = SweepResult.from_parquet(tmp_path / "r.parquet")
    assert back.params == result.params
    pd.testing.assert_frame_equal(back.summary, result.summary)
    pd.testing.assert_frame_equal(back.turns.reset_index(drop=True), result.turns.reset_index(drop=True), check_dtype=False)
    assert back.cells["status"].tolist() == result.cells["status"].tolist()


def test_resume_computes_only_missing_cells(small, result, tmp_path, monkeypatch):
    out = tmp_path / "out"
    first = sweep(None, small, GRID, out=out, progress=False)
    pd.testing.assert_frame_equal(first.summary, result.summary)
    files = sorted((out / "cells").glob("*.json"))
    assert len(files) == 4 * len(small) and (out / "sweep.json").is_file()
    for f in files[::3]:  # a kill loses the cells not yet written
        f.unlink()
    calls = _counting(monkeypatch)
    again = sweep(None, small, GRID, out=out, progress=False)
    assert len(calls) == len(files[::3])
    pd.testing.assert_frame_equal(again.summary, result.summary)
    pd.testing.assert_frame_equal(again.turns, result.turns)
    calls.clear()
    sweep(None, small, GRID, out=out, progress=False)
    assert calls == []  # everything on disk: nothing recomputed


def _cell_files(out):
    return list((out / "cells").glob("*.json")) if (out / "cells").is_dir() else []


def test_real_kill_then_resume(tmp_path):
    out = tmp_path / "out"
    data = make_data(2)
    # each cell made slow so the kill lands mid-sweep
    script = (
        MAKE_DATA
        + f"""
import time, agentlab.sweeps.run as m
real = m.replay_conversation
def slow(*a):
    time.sleep(0.4)
    return real(*a)
m.replay_conversation = slow
m.sweep(None, make_data(2), {GRID!r}, out={str(out)!r}, progress=False)
"""
    )
    proc = subprocess.Popen([sys.executable, "-c", script], start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while not _cell_files(out):
            assert proc.poll() is None, "the sweep ended before a cell was written"
            assert time.monotonic() < deadline
            time.sleep(0.02)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
    done = list((out / "cells").glob("*.json"))
    assert 1 <= len(done) < 4 * len(data)
    assert not list((out / "cells").glob(".*.tmp"))  # no half-written cell is left visible
    resumed = sweep(None, data, GRID, out=out, progress=False)
    clean = sweep(None, data, GRID, progress=False)
    pd.testing.assert_frame_equal(resumed.summary, clean.summary)


def test_failing_and_text_only_cells(small, tmp_path):
    broken_audio = tmp_path / "broken.flac"
    broken_audio.write_bytes(b"not a flac file")
    broken = dataclasses.replace(small[0], id="broken", audio=broken_audio)
    text = Conversation(id="text-only", duration=1.0, text_turns=("book a table",))
    data = ads.Dataset("with-broken", {"name": "with-broken"}, [broken, text, *small.conversations[1:3]])
    res = sweep(None, data, GRID, progress=False, out=tmp_path / "out")
    assert len(res.failed) == 4 and set(res.failed.conversation) == {"broken"}
    assert res.failed.error.str.len().min() > 0
    ok = res.cells[res.cells.status == "ok"]
    assert len(ok) == 12 and set(res.turns.conversation) == {"text-only", *(c.id for c in small.conversations[1:3])}
    typed = res.turns[res.turns.conversation == "text-only"]
    assert list(typed.kind) == ["user_turn"] * 4 and (typed.outcome == "replied").all()  # full path, no task to score
    s = res.summary
    assert (s.n_failed == 1).all() and (s.n_cells == 4).all()
    cell = json.loads(next((tmp_path / "out" / "cells").glob("*--broken.json")).read_text())
    assert cell["status"] == "failed" and cell["error"]


def test_mismatched_arguments_in_out_folder(small, tmp_path):
    out = tmp_path / "out"
    sweep(None, small, {"endpointing.min_delay": [0.5]}, out=out, progress=False)
    with pytest.raises(ValueError, match=r"out.*holds a different sweep.*grid"):
        sweep(None, small, {"endpointing.min_delay": [0.6]}, out=out, progress=False)
    with pytest.raises(ValueError, match="different sweep"):
        sweep(None, small, {"endpointing.min_delay": [0.5]}, out=out, progress=False, timeout=2.0)
    other = tmp_path / "other"
    other.mkdir()
    (other / "notes.txt").write_text("x")
    with pytest.raises(ValueError, match=r"no sweep\.json"):
        sweep(None, small, {"endpointing.min_delay": [0.5]}, out=other, progress=False)


def test_bundled_datasets_show_the_expected_tradeoffs():
    """The issue's done-when: min delay, max delay, interruption min_duration and preemptive generation
    on the bundled conversational + overlaps data, with the text turn detector (so max_delay matters)."""
    import itertools

    from agentlab import TextTurnDetector

    data = ads.Dataset("mix", {"name": "mix"}, [*ads.load("conversational").conversations, *ads.load("overlaps").conversations])
    grid = {
        "endpointing.min_delay": [0.2, 1.0],
        "endpointing.max_delay": [1.0, 2.5],
        "interruption.min_duration": [0.3, 1.0],
        "preemptive_generation.enabled": [False, True],
    }
    res = sweep(None, data, grid, base_options={"turn_handling": {"turn_detection": TextTurnDetector()}}, progress=False)
    assert (res.cells.status == "ok").all()
    s = res.summary.set_index(list(grid))
    names = list(grid)

    def pairs(param):
        """(low, high) summary rows differing only in ``param``."""
        i = names.index(param)
        others = [grid[n] for n in names if n != param]
        for rest in itertools.product(*others):
            lo, hi = ((*rest[:i], v, *rest[i:]) for v in grid[param])
            yield s.loc[lo], s.loc[hi]

    for short, long in pairs("endpointing.min_delay"):
        assert short.false_cutoff_rate > long.false_cutoff_rate
        assert short.eot_latency_p50 < long.eot_latency_p50 and short.response_latency_p50 < long.response_latency_p50
    for short, long in pairs("endpointing.max_delay"):
        assert short.false_cutoff_rate > long.false_cutoff_rate  # waiting out "unlikely" ends spares holds...
        assert short.eot_latency_p99 < long.eot_latency_p99  # ... and makes the slowest turns slower
    for eager, patient in pairs("interruption.min_duration"):
        assert eager.barge_in_recall > patient.barge_in_recall
        assert eager.false_interruption_rate >= patient.false_interruption_rate
    for off, on in pairs("preemptive_generation.enabled"):
        assert off.preemptive_per_turn == 0 < on.preemptive_per_turn
        assert on.response_latency_p50 < off.response_latency_p50  # latency saved...
        assert on.llm_requests_per_turn > off.llm_requests_per_turn == 1.0  # ... for extra LLM requests
        assert on.false_cutoff_rate == off.false_cutoff_rate  # and turn decisions do not change
