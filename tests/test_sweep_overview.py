"""SweepResult.overview and the reprs: the grid's parameters first, then the figures that matter for the dataset's kind."""

from __future__ import annotations

import re

import pytest

import agentlab.datasets as ads
from agentlab.sweeps import sweep

TURNS = ["false_cutoff_rate", "missed_turn_rate", "eot_latency_p50", "eot_latency_p90", "response_latency_p50"]
TASKS = ["task_success_rate", "tool_call_recall", "forced_reply_rate", "tool_rounds_per_turn", "llm_requests_per_turn"]


def _few(name, n):
    return ads.Dataset(name, {"name": name}, ads.load(name).conversations[:n])


@pytest.fixture(scope="module")
def turns():
    grid = {"endpointing.min_delay": [0.3, 1.0], "vad.min_silence_duration": [0.3, 0.6]}
    return sweep(None, _few("dictation", 2), grid, progress=False)


@pytest.fixture(scope="module")
def tasks():
    return sweep(None, _few("tasks", 4), {"max_tool_steps": [0, 2]}, progress=False)


def _in_order(text, names):
    at = [text.index(n) for n in names]
    return at == sorted(at)


def _html_columns(page):
    return [re.sub("<[^>]+>", "", h) for h in re.findall(r"<th[^>]*>(.*?)</th>", page)]


def test_turn_dataset_shows_grid_then_cutoffs_missed_latency(turns):
    want = ["endpointing.min_delay", "vad.min_silence_duration", *TURNS]
    assert list(turns.overview().columns) == want
    text = repr(turns)
    assert text.startswith("SweepResult(4 settings × 2 conversations, 8 cells; grid: endpointing.min_delay, vad.min_silence_duration)")
    assert _in_order(text, want)
    # the other 40-odd summary columns stay out, and so do the ids
    table = text.split("\n", 1)[1]
    for other in ("hold_cutoffs", "task_success_rate", "barge_in_recall", "eot_latency_p99", "setting", turns.summary["setting"][0]):
        assert other not in table
    assert max(len(line) for line in text.splitlines()[1:]) <= 120
    assert _html_columns(turns._repr_html_()) == want


def test_values_are_rounded(turns):
    s = turns.summary
    row = s.iloc[0]
    assert turns.overview()["eot_latency_p50"].iloc[0] == round(row["eot_latency_p50"], 3)
    assert f"{round(row['eot_latency_p50'], 3):g}" in repr(turns)
    assert not re.search(r"\d\.\d{4,}", repr(turns))


def test_task_dataset_shows_grid_then_task_success_and_tool_steps(tasks):
    want = ["max_tool_steps", *TASKS, "response_latency_p50"]
    assert list(tasks.overview().columns) == want
    text = repr(tasks)
    assert _in_order(text, want) and "false_cutoff_rate" not in text and "eot_latency" not in text
    assert _html_columns(tasks._repr_html_()) == want


def test_overlaps_and_preemptive_bring_their_figures():
    res = sweep(None, _few("overlaps", 2), {"preemptive_generation.enabled": [False, True]}, progress=False)
    cols = list(res.overview().columns)
    assert cols[0] == "preemptive_generation.enabled"
    assert cols[1:6] == TURNS
    assert cols[6:8] == ["barge_in_recall", "false_interruption_rate"]
    assert cols[8:10] == ["llm_requests_per_turn", "preemptive_wasted_rate"]


def test_long_sweeps_are_cut_in_the_text_repr():
    res = sweep(None, _few("dictation", 1), {"endpointing.min_delay": [round(0.1 + 0.05 * i, 2) for i in range(25)]}, progress=False)
    text = repr(res)
    assert "… 5 more settings" in text
    assert len(text.splitlines()) == 1 + 1 + 20 + 1  # headline, header, 20 rows, the note
    assert _html_columns(res._repr_html_())[0] == "endpointing.min_delay" and res._repr_html_().count("<tr>") == 26
