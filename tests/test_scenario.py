"""Scenario files: loading, validation that reports every problem, and replay."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

import agentlab as al
from agentlab.scenario import ScenarioError, load_scenario

EXAMPLE = Path(al.__file__).parent / "examples" / "scenarios" / "weather_barge_in.yaml"


def test_example_scenario_replays_its_story():
    run = load_scenario(EXAMPLE).run()
    h = run.history
    assert h[h.type == "function_call"]["arguments"].tolist() == ['{"city": "Paris"}']
    assert h[h.type == "function_call_output"]["output"].tolist() == ["sunny"]
    fi = run.events[run.events.type == "agent_false_interruption"]
    assert fi.resumed.tolist() == [True]  # the cough paused the answer, which resumed
    said = h[(h.type == "message") & (h.role == "assistant")][["text", "interrupted"]].values.tolist()
    assert said[1][0].startswith("It is sunny in Paris") and said[1][1] is True  # "And tomorrow?" cut it
    assert said[-1] == ["Tomorrow looks cloudy with a chance of rain in the afternoon.", False]


def test_json_and_yaml_round_trip_replay_identically(tmp_path):
    scenario = load_scenario(EXAMPLE)
    as_json = tmp_path / "s.json"
    scenario.save(as_json)
    again = load_scenario(as_json)
    a, b = scenario.run(), again.run()
    pd.testing.assert_frame_equal(a.events, b.events)
    assert json.loads(as_json.read_text())["name"] == "weather with a cough and a barge-in"


def test_every_problem_is_reported_with_file_field_and_value(tmp_path):
    bad = {
        "user": [
            {"start": 1.0, "end": 0.5, "transcript": "hi"},
            {"start": -1, "end": 2.0, "transcript": 3},
            {"start": 3.0, "end": 4.0, "transcript": "ok", "stt_dealy": 0.1},
        ],
        "llm": [{"match": "(", "reply": "x"}, {"reply": "y", "tool_calls": [{"name": "missing_tool"}], "ttft": -2}],
        "tools": {"t": {"output": 1, "parameters": {"x": "float"}}},
        "session": {"turn_handling": {"endpointing": {"min_delay": -1}}},
        "tts": {"ttfb": "fast"},
        "colour": "blue",
    }
    path = tmp_path / "broken.json"
    path.write_text(json.dumps(bad))
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    text = str(info.value)
    fields = [w for w, _ in info.value.problems]
    for expected in [
        "colour",
        "user[0].end",
        "user[1].start",
        "user[1].transcript",
        "user[2].stt_dealy",
        "llm[0].match",
        "llm[1].ttft",
        "tools.t.parameters",
        "tts.ttfb",
        "session",
        "llm",
    ]:
        assert expected in fields, expected
    assert str(path) in text and "-1" in text and "'missing_tool'" in text and "endpointing.min_delay = -1" in text


def test_unreadable_and_malformed_files(tmp_path):
    with pytest.raises(ScenarioError, match="cannot be read"):
        load_scenario(tmp_path / "nope.yaml")
    broken = tmp_path / "b.yaml"
    broken.write_text("user: [ {start: 1\n")
    with pytest.raises(ScenarioError, match=r"b\.yaml: line \d+, column \d+: invalid YAML"):
        load_scenario(broken)
    j = tmp_path / "b.json"
    j.write_text("{ 'single': quotes }")
    with pytest.raises(ScenarioError, match=r"b\.json: line 1, column 3: invalid JSON"):
        load_scenario(j)
    t = tmp_path / "s.txt"
    t.write_text("{}")
    with pytest.raises(ScenarioError, match=r"unsupported extension '\.txt'"):
        load_scenario(t)


def test_run_summary_shows_the_voice_figures():
    run = load_scenario(EXAMPLE).run()
    assert run.summary() == {
        "user turns": "2",
        "LLM calls": "3",
        "TTFT": "300 ms",
        "end of utterance": "500 ms",
        "e2e": "900 ms",
        "interrupted replies": "1",
        "false interruptions (resumed)": "1 (1)",
    }
    assert "false interruptions (resumed) 1 (1)" in run._repr_html_()
