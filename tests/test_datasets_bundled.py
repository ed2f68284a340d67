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
