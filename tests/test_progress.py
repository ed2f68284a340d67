"""Progress bars (``tqdm.auto``): shown on work that lasts, never on quick work, never with ``progress=False``,
and never twice (the analyses inside a sweep, its worker processes)."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np
import pytest

import agentlab._progress as progress
import agentlab.datasets as ads
from agentlab.audio import analyze_vad
from agentlab.datasets.generate import generate_dataset
from agentlab.sweeps import sweep


@pytest.fixture
def at_once(monkeypatch):
    """Bars from the first moment, so quick test work stands in for work over the 2 s threshold."""
    monkeypatch.setattr(progress, "DELAY", 0.0)


@pytest.fixture(scope="module")
def two_tasks():
    tasks = ads.load("tasks")
    manifest = {k: v for k, v in tasks.manifest.items() if k != "generator"}
    manifest.update(name="two-tasks", conversations=[c.id for c in tasks.conversations[:2]])
    return ads.Dataset("two-tasks", manifest, tasks.conversations[:2])


def _noise(seconds: float) -> np.ndarray:
    return (0.1 * np.random.default_rng(0).standard_normal(round(16000 * seconds))).astype(np.float32)


def test_sweep_shows_a_bar_unless_progress_false(at_once, two_tasks, capsys):
    sweep(None, two_tasks, {"max_tool_steps": [0, 2]})
    err = capsys.readouterr().err
    assert "sweep: 100%" in err and "4/4" in err and "cell" in err, err
    sweep(None, two_tasks, {"max_tool_steps": [0, 2]}, progress=False)
    assert capsys.readouterr().err == ""


def test_quick_work_shows_no_bar(two_tasks, capsys):
    assert progress.DELAY == 2.0
    sweep(None, two_tasks, {"max_tool_steps": [0, 2]})  # a few milliseconds
    analyze_vad(_noise(3), input_rate=16000, backend="energy", cache=False)
    assert capsys.readouterr().err == ""


def test_vad_analysis_shows_a_bar_unless_progress_false(at_once, capsys):
    analyze_vad(_noise(3), input_rate=16000, backend="energy", cache=False)
    err = capsys.readouterr().err
    assert "VAD" in err and "100%" in err and "3.0/3.0" in err, err
    analyze_vad(_noise(3), input_rate=16000, backend="energy", cache=False, progress=False)
    assert capsys.readouterr().err == ""


def test_dataset_generation_shows_a_bar_unless_progress_false(at_once, tmp_path, capsys):
    assert generate_dataset("tasks", tmp_path, scale=0.1)["conversations"] == 4
    err = capsys.readouterr().err
    assert "tasks: 100%" in err and "4/4" in err and "conversation" in err, err
    generate_dataset("tasks", tmp_path, scale=0.1, progress=False)
    assert capsys.readouterr().err == ""


def test_a_sweep_shows_one_bar_not_its_analyses_too():
    """In-process (analyses on a thread pool, or in this thread for one conversation) and on worker
    processes, the recordings a sweep analyses show no bar of their own; alone, the same analysis does."""
    script = textwrap.dedent(
        """
        import sys
        import agentlab._progress as progress
        import agentlab.datasets as ads
        from agentlab.audio import analyze_vad
        from agentlab.sweeps import sweep

        progress.DELAY = 0.0
        data = ads.load("dictation")

        def part(i, j):
            convs = data.conversations[i:j]
            manifest = {k: v for k, v in data.manifest.items() if k != "generator"}
            manifest.update(name=f"part-{i}", conversations=[c.id for c in convs])
            return ads.Dataset(f"part-{i}", manifest, convs)

        grid = {"endpointing.min_delay": [0.3, 0.6]}
        sweep(None, part(0, 3), grid)                     # a thread pool analyses
        sweep(None, part(3, 4), grid)                     # one conversation: analysed in this thread
        sweep(None, part(4, 6), grid, executor=2)         # worker processes
        print("--- alone", file=sys.stderr, flush=True)
        analyze_vad(data.conversations[6].analysis_audio(), cache=False)
        """
    )
    p = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    sweeps, alone = p.stderr.split("--- alone")
    assert sweeps.count("sweep: 100%") == 3 and all(f"{n}/{n}" in sweeps for n in (6, 2, 4)), sweeps
    assert "VAD" not in sweeps, sweeps
    assert "VAD" in alone and "100%" in alone, alone
