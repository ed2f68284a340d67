"""The fast replay path: determinism, speed, the expected trade-offs, and agreement with simulate()."""

from __future__ import annotations

import dataclasses
import time

import pandas as pd
import pytest

import agentlab as al
import agentlab.datasets as ads
from agentlab.datasets.convert import simulate_conversation
from agentlab.datasets.model import AgentSpeech, Conversation, Turn, Word
from agentlab.session.options import build_options
from agentlab.sweeps import (
    AgentPlayback,
    conversation_events,
    engine_config,
    replay_conversation,
    span_outcomes,
    summarize,
)


@pytest.fixture(scope="module")
def dictation():
    ds = ads.load("dictation")
    return ds, {c.id: conversation_events(c) for c in ds}  # the VAD analysis runs once (cached)


@pytest.fixture(scope="module")
def overlaps():
    ds = ads.load("overlaps")
    return ds, {c.id: conversation_events(c) for c in ds}


def _summary(data, **turn_handling):
    ds, events = data
    opts = build_options(turn_handling=turn_handling)
    return summarize(pd.concat([span_outcomes(c, replay_conversation(c, opts, events[c.id])) for c in ds]))


def test_engine_config_maps_session_options():
    c = engine_config(
        {"turn_handling": {"endpointing": {"min_delay": 0.3, "max_delay": 2.0}, "interruption": {"min_duration": 0.8, "min_words": 2}}}
    )
    assert (c.min_delay, c.max_delay, c.min_duration, c.min_words) == (0.3, 2.0, 0.8, 2)
    assert c.pausable and c.has_stt and c.has_vad and c.mode is None
    assert c.aec_warmup_duration == build_options().aec_warmup_duration
    assert engine_config(build_options(turn_handling={"turn_detection": "stt"})).mode == "stt"
    with pytest.raises(TypeError):
        engine_config(42)  # type: ignore[arg-type]


def test_replay_is_deterministic_and_fast(dictation, overlaps):
    ds, events = overlaps
    conv = ds[0]
    a = replay_conversation(conv, None, conversation_events(conv))
    b = replay_conversation(conv, None, conversation_events(conv))
    assert a == b and a.commits and a.interruptions
    assert replay_conversation(conv, None) == a
    ds, events = dictation
    t = time.perf_counter()
    decisions = [replay_conversation(c, None, events[c.id]) for c in ds]
    elapsed = time.perf_counter() - t
    assert sum(len(d.commits) for d in decisions) >= len(ds)
    assert elapsed < 1.0, f"replaying {len(ds)} dictation conversations took {elapsed:.3f}s"


def test_min_delay_trades_cutoffs_for_latency(dictation):
    short = _summary(dictation, endpointing={"min_delay": 0.2})
    long = _summary(dictation, endpointing={"min_delay": 1.0})
    assert short["holds"] == long["holds"] > 200
    assert short["false_cutoff_rate"] > long["false_cutoff_rate"]
    assert short["eot_latency_p50"] < long["eot_latency_p50"]
    assert short["eot_latency_mean"] < long["eot_latency_mean"]
    assert short["missed_turn_rate"] == long["missed_turn_rate"] == 0.0


def test_min_duration_trades_recall_for_false_interruptions(overlaps):
    eager = _summary(overlaps, interruption={"min_duration": 0.3})
    patient = _summary(overlaps, interruption={"min_duration": 1.0})
    assert eager["barge_ins_scored"] > 0 and eager["backchannels_noise_scored"] > 0
    assert eager["barge_in_recall"] > patient["barge_in_recall"]
    assert eager["false_interruption_rate"] > patient["false_interruption_rate"]


def test_interrupting_the_agent_stops_its_labelled_speech():
    """The agent-side loop: a barge-in stops the labelled agent speech; its labelled end is not heard."""
    conv = Conversation(
        id="barge",
        duration=8.0,
        turns=(
            Turn(
                2.0,
                3.5,
                "stop please wait now",
                tuple(Word(w, 2.0 + 0.4 * i, 2.3 + 0.4 * i) for i, w in enumerate(["stop", "please", "wait", "now"])),
            ),
        ),
        agent=(AgentSpeech(1.0, 5.0, "a long answer"),),
    )
    opts = build_options(turn_handling={"interruption": {"min_duration": 0.5}}, aec_warmup_duration=None)
    d = replay_conversation(conv, opts)
    # the VAD's first 32 ms frame with 0.5 s of speech: 2.05 + 15 x 0.032
    assert [(i.time, i.kind) for i in d.interruptions] == [(2.53, "pause"), (3.7, "hard")]
    assert d.agent == (AgentPlayback(0, 1.0, 3.7, stopped=True),)
    assert [c.transcript for c in d.commits] == ["stop please wait now"]
    # Without the labelled agent speech nothing is interrupted.
    quiet = replay_conversation(conv, opts, conversation_events(conv, agent_speech=False))
    assert quiet.interruptions == () and quiet.agent == () and [c.time for c in quiet.commits] == [c.time for c in d.commits]


@pytest.mark.parametrize(("name", "index"), [("dictation", 0), ("dictation", 3), ("overlaps", 2)])
def test_replay_agrees_with_simulate(name, index):
    conv = dataclasses.replace(ads.load(name)[index], audio=None)  # scripted: the spoken-script path
    run = simulate_conversation(conv, lambda: al.Agent(instructions="x"), {"llm": al.ScriptedLLM(default="OK.")}, mode="speech")
    added = run.events[run.events.type == "conversation_item_added"].set_index("item_id")["emitted_at"]
    slow = [(added[r.item_id], r.text) for r in run.history.itertuples() if r.role == "user"]  # when each turn committed
    fast = [(c.time, c.transcript) for c in replay_conversation(conv, None).commits]
    assert len(slow) == len(fast) > 1
    for (ts, xs), (tf, xf) in zip(slow, fast, strict=True):
        assert xs == xf
        assert abs(ts - tf) < 1e-3
