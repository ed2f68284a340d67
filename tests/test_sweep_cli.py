"""``agentlab sweep CONFIG``: a headless, resumable sweep from a YAML/JSON config, run as a subprocess."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

import agentlab.datasets as ads
from agentlab.cli import main

CONFIG = """
dataset: tiny
grid:
  endpointing.min_delay: [0.2, 1.0]
  interruption.min_duration: [0.5]
base_options:
  preemptive_generation: false
timeout: 3.0
executor: processes
"""


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    root = tmp_path_factory.mktemp("cli")
    a, b = ads.load("dictation"), ads.load("overlaps")
    convs = a.conversations[:2] + b.conversations[:1]
    manifest = {k: v for k, v in a.manifest.items() if k != "generator"}
    manifest.update(name="tiny", description="two dictation and one overlap conversation", conversations=[c.id for c in convs])
    ads.Dataset("tiny", manifest, convs).save(root / "tiny")
    return root


def _summary_table(stdout: str) -> list[str]:
    """The first block of the printed summary table: its header line, then one line per setting."""
    after = stdout.split("every figure is in summary.csv):\n", 1)[1]
    return after.split("\n\n", 1)[0].splitlines()


def _run(*args, cwd=None):
    return subprocess.run(
        [sys.executable, "-m", "agentlab.cli", "sweep", *map(str, args)], capture_output=True, text=True, timeout=120, cwd=cwd
    )


def test_sweep_from_yaml(folder):
    cfg = folder / "cfg.yaml"
    cfg.write_text(CONFIG)
    out = folder / "out"
    p = _run(cfg, "--out", out, "--no-progress")
    assert p.returncode == 0, p.stderr
    summary = pd.read_csv(out / "summary.csv")
    turns = pd.read_csv(out / "turns.csv")
    assert list(summary["endpointing.min_delay"]) == [0.2, 1.0] and (summary.n_cells == 3).all() and (summary.n_failed == 0).all()
    assert len(turns) > 0 and set(turns.conversation) == {c.id for c in ads.load(folder / "tiny")}
    assert len(list((out / "cells").iterdir())) == 6
    assert "summary (2 settings" in p.stdout
    header, *rows = _summary_table(p.stdout)
    # the grid's parameters and the voice figures, not the summary's 40 columns; floats rounded
    assert header.split()[:2] == ["endpointing.min_delay", "interruption.min_duration"] and "false_cutoff_rate" in header
    assert "task_success_rate" not in header and "hold_cutoffs" not in header and "n_cells" not in header
    assert len(rows) == 2 and all(len(line) <= 150 for line in [header, *rows])
    decimals = [len(v.split(".")[1]) for line in rows for v in line.split()[2:] if "." in v]
    assert decimals and max(decimals) <= 3, rows
    assert "best with at most 5% cut-offs" in p.stdout and "best with at most 10% cut-offs" in p.stdout
    assert "recommended by task success" not in p.stdout
    assert (out / "tradeoff.png").is_file() and (out / "tradeoff.png").stat().st_size > 1000
    assert not (out / "tool_steps.png").exists()
    # resumable: run again, nothing recomputed, the same tables
    again = _run(cfg, "--out", out, "--no-progress")
    assert again.returncode == 0, again.stderr
    pd.testing.assert_frame_equal(pd.read_csv(out / "summary.csv"), summary)


def test_json_config_default_out(folder):
    cfg = folder / "small.json"
    cfg.write_text(json.dumps({"dataset": str(folder / "tiny"), "grid": {"vad.min_silence_duration": [0.3]}}))
    p = _run(cfg, "--no-progress")
    assert p.returncode == 0, p.stderr
    assert (folder / "sweep-small" / "summary.csv").is_file() and (folder / "sweep-small" / "turns.csv").is_file()


@pytest.mark.parametrize(
    ("text", "field", "value"),
    [
        ("dataset: tiny\ngrid:\n  endpointng.min_delay: [0.2]\n", "grid.endpointng.min_delay", "[0.2]"),
        ("dataset: tiny\ngrid:\n  endpointing.min_delay: [-1]\n", "grid.endpointing.min_delay", "[-1]"),
        ("dataset: nowhere\ngrid: {endpointing.min_delay: [0.2]}\n", "dataset", "'nowhere'"),
        ("dataset: tiny\ngrid: {endpointing.min_delay: [0.2]}\ntimeout: -3\n", "timeout", "-3"),
        ("dataset: tiny\ngrid: {endpointing.min_delay: [0.2]}\nexecutor: threads\n", "executor", "'threads'"),
        ("dataset: tiny\ngrid: {endpointing.min_delay: [0.2]}\nvad: {min_silence: 1}\n", "vad", "min_silence"),
        ("dataset: tiny\ngrid: {endpointing.min_delay: 0.2}\n", "grid.endpointing.min_delay", "0.2"),
        ("dataset: tiny\ngrids: {endpointing.min_delay: [0.2]}\n", "grids", "endpointing.min_delay"),
        ("grid: {endpointing.min_delay: [0.2]}\n", "dataset", "missing"),
        ("dataset: tiny\ngrid: {max_tool_steps: [1]}\nagent: no_such_module:make\n", "agent", "no_such_module"),
        ("dataset: tiny\ngrid: {max_tool_steps: [1]}\nagent: make_agent\n", "agent", "module:factory"),
        ("dataset: tiny\ngrid: {max_tool_steps: [1]}\nllm_ttft: -0.1\n", "llm_ttft", "-0.1"),
    ],
)
def test_bad_config(folder, text, field, value, capsys):
    cfg = folder / "bad.yaml"
    cfg.write_text(text)
    assert main(["sweep", str(cfg), "--out", str(folder / "bad-out"), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert str(cfg) in err and f"'{field}'" in err and value in err, err
    assert not (folder / "bad-out").exists()


def test_bad_config_subprocess(folder):
    cfg = folder / "bad-sub.yaml"
    cfg.write_text("dataset: tiny\ngrid:\n  endpointing.min_delay: [0.2, fast]\n")
    p = _run(cfg, "--no-progress")
    assert p.returncode == 2, (p.stdout, p.stderr)
    assert "Traceback" not in p.stderr
    assert str(cfg) in p.stderr and "'grid.endpointing.min_delay'" in p.stderr and "fast" in p.stderr, p.stderr


def test_task_sweep_with_an_agent_factory(folder):
    """``agent: module:name`` loads the user's factory from next to the config; task cells use it."""
    convs = [c for c in ads.load("tasks") if c.metadata["domain"] == "order"][:2]
    tasks = ads.load("tasks")
    manifest = {k: v for k, v in tasks.manifest.items() if k != "generator"}
    manifest.update(name="two-tasks", conversations=[c.id for c in convs])
    ads.Dataset("two-tasks", manifest, convs).save(folder / "two-tasks")
    (folder / "my_agents.py").write_text(
        "from agentlab.sweeps import reference_agent\n"
        "made = []\n"
        "def make_agent(conv):\n"
        "    made.append(conv.id)\n"
        "    print('made agent for', conv.id)\n"
        "    return reference_agent(conv)\n"
    )
    cfg = folder / "tasks.yaml"
    cfg.write_text("dataset: two-tasks\ngrid:\n  max_tool_steps: [0, 2]\nagent: my_agents:make_agent\n")
    p = _run(cfg, "--out", folder / "tasks-out", "--no-progress")
    assert p.returncode == 0, p.stderr
    assert p.stdout.count("made agent for") == 4  # a fresh agent per cell
    summary = pd.read_csv(folder / "tasks-out" / "summary.csv")
    assert summary.task_success_rate.tolist() == [0.0, 1.0] and summary.forced_replies.iloc[0] > 0
    # a task dataset: recommended by task success, the tool-steps figure, nothing about cut-offs or end-of-turn latency
    assert "recommended by task success: max_tool_steps=2 (task_success_rate 1.000" in p.stdout
    assert "cut-offs" not in p.stdout and "no setting qualifies" not in p.stdout
    assert (folder / "tasks-out" / "tool_steps.png").stat().st_size > 1000
    pngs = {f.name for f in (folder / "tasks-out").glob("*.png")}
    assert pngs == {"tool_steps.png"}, pngs  # no empty trade-off or latency plots
    assert "skipped" not in p.stderr, p.stderr


def test_the_documented_example_config_runs(tmp_path):
    """agentlab/examples/sweep.yaml (shipped, linked from docs/sweeps.md), with a smaller grid: hearing
    (vad_backend, stt) comes from the config."""
    import yaml

    example = Path(__file__).parents[1] / "agentlab" / "examples" / "sweep.yaml"
    assert "(../agentlab/examples/sweep.yaml)" in (Path(__file__).parents[1] / "docs" / "sweeps.md").read_text()
    printed = _run("--example")
    assert printed.returncode == 0 and printed.stdout == example.read_text()  # agentlab sweep --example > sweep.yaml
    cfg = yaml.safe_load(example.read_text())
    assert cfg["dataset"] == "real" and cfg["stt"]["wer"] == 0.1
    cfg["grid"] = {"endpointing.min_delay": [0.5], "stt.model": ["aligned", "modelled"]}
    path = tmp_path / "sweep.yaml"
    path.write_text(yaml.safe_dump(cfg))
    p = _run(path, "--out", tmp_path / "out", "--no-progress")
    assert p.returncode == 0, p.stderr
    summary = pd.read_csv(tmp_path / "out" / "summary.csv")
    assert summary["stt"].tolist()[0].startswith("aligned") and "WER 10%" in summary["stt"].tolist()[1]
    assert summary["vad"].str.startswith("silero").all()
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({**cfg, "stt": {"wer": 2}}))
    p = _run(bad, "--no-progress")
    assert p.returncode == 2 and "field 'stt'" in p.stderr and "wer" in p.stderr
