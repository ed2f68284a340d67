"""The bundled datasets: each loads, validates, and runs through a simulation offline."""

from __future__ import annotations

import pytest

import agentlab as al
from agentlab import datasets
from agentlab.datasets.convert import simulate_conversation

BUNDLED = ["conversational", "dictation", "overlaps", "real", "tasks"]


def test_bundled_datasets_are_listed():
    assert sorted(datasets.list()) == BUNDLED


@pytest.mark.parametrize("name", BUNDLED)
def test_bundled_dataset_loads_validates_and_simulates(name):
    ds = datasets.load(name)  # validates every rule, audio headers included
    assert len(ds) > 0
    ds.validate()  # raises DatasetError listing every problem
    frame = ds.frame()
    assert list(frame.columns) == ["conversation", "kind", "start", "end", "duration", "turn", "agent", "transcript"]
    conv = ds[0]
    llm = al.ScriptedLLM(rules=[al.Rule(reply="Okay.", ttft=0.3)])
    run = simulate_conversation(conv, lambda: al.Agent(instructions="x"), {"llm": llm})
    users = run.history[run.history.role == "user"]
    assert len(users) >= 1, f"{name}/{conv.id}: no user turn was committed"
    if conv.audio is not None:
        # real audio went through the VAD: the engine heard speech where the labels say
        starts = [e.data["speech_start"] for e in run.session.input_events if e.kind == "on_vad_start"]
        assert starts and abs(starts[0] - conv.turns[0].start) < 0.3


def test_bundled_counts_meet_the_targets():
    counts = {name: datasets.load(name).summary() for name in BUNDLED}
    spans = sum(c["hold"] + c["eot"] for c in counts.values())
    overlaps = sum(c["barge_in"] + c["backchannel"] + c["noise"] for c in counts.values())
    assert spans >= 400 and overlaps >= 100
    assert counts["tasks"]["conversations"] >= 30


def test_datasets_root_is_the_env_then_the_wheels_copy_then_the_checkout(tmp_path, monkeypatch):
    from agentlab.datasets import io

    module = tmp_path / "site" / "agentlab" / "datasets" / "io.py"
    module.parent.mkdir(parents=True)
    monkeypatch.delenv(io.ENV_VAR, raising=False)
    monkeypatch.setattr(io, "__file__", str(module))
    assert io.datasets_root() == tmp_path / "site" / "datasets"  # a checkout: the top-level folder
    (module.parent / "bundled").mkdir()
    assert io.datasets_root() == module.parent / "bundled"  # a wheel: the copy inside the package
    monkeypatch.setenv(io.ENV_VAR, str(tmp_path / "mine"))
    assert io.datasets_root() == tmp_path / "mine"


def test_no_bundled_datasets_is_one_line_that_says_how_to_get_them(tmp_path, monkeypatch):
    from agentlab.datasets import io

    monkeypatch.delenv(io.ENV_VAR, raising=False)
    monkeypatch.setattr(io, "__file__", str(tmp_path / "agentlab" / "datasets" / "io.py"))
    with pytest.raises(FileNotFoundError) as err:
        datasets.load("dictation")
    assert "\n" not in str(err.value) and "pip install --force-reinstall agentlab-voice" in str(err.value)
    monkeypatch.setenv(io.ENV_VAR, str(tmp_path))
    with pytest.raises(FileNotFoundError) as err:
        datasets.load("dictation")
    assert "\n" not in str(err.value) and f"$AGENTLAB_DATASETS points to {tmp_path}" in str(err.value)
    monkeypatch.undo()  # the real datasets: an unknown name lists them
    with pytest.raises(FileNotFoundError, match=r"no dataset 'nope'.*bundled in .*: conversational, dictation"):
        datasets.load("nope")
