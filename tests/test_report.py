"""Session reports: JSON, saved and loaded back into identical frames, never holding a key."""

from __future__ import annotations

import json

import pandas as pd
import pytest

import agentlab
from agentlab import AgentSession, OpenAILLM, SessionReport
from agentlab.examples.restaurant import QUICKSTART_SCRIPT, Host, scripted_llm


def _same(report: SessionReport, run) -> None:
    pd.testing.assert_frame_equal(report.history, run.history)
    pd.testing.assert_frame_equal(report.events, run.events)
    pd.testing.assert_frame_equal(report.metrics, run.metrics)


def test_text_run_round_trip(tmp_path):
    run = agentlab.simulate(Host, {"llm": scripted_llm(), "max_tool_steps": 2}, QUICKSTART_SCRIPT)
    report = run.report()
    text = json.dumps(report.to_dict(), allow_nan=False)  # plain JSON
    assert json.loads(text)["options"]["max_tool_steps"] == 2
    assert report.agent == "events_desk"  # the agent at the end, after the handoff (its id, as LiveKit labels agents)
    assert report.components["llm"] == {"class": "ScriptedLLM", "model": "scripted"}
    back = SessionReport.load(report.save(tmp_path / "r.json"))
    _same(back, run)
    assert back.duration == run.duration and back.options == report.options


def test_voice_run_round_trip(tmp_path):
    run = agentlab.load_scenario("agentlab/examples/scenarios/weather_barge_in.yaml").run()
    back = SessionReport.load(run.report().save(tmp_path / "voice.json"))
    _same(back, run)
    assert (back.events.type == "agent_false_interruption").any()


async def test_report_never_holds_the_key(tmp_path):
    key = "agentlab-planted-report-0000"
    session = AgentSession(llm=OpenAILLM(model="gpt-4.1-mini", api_key=key, base_url="http://127.0.0.1:9/v1", max_retries=0, timeout=2))
    await session.start(agentlab.Agent(instructions="hi"))
    handle = session.generate_reply(user_input="hello")  # fails: nothing listens on port 9
    await handle.wait_for_playout()
    report = session.report()
    path = report.save(tmp_path / "r.json")
    assert key not in path.read_text() and key not in repr(report)
    assert (report.events.type == "error").any() and report.components["llm"]["model"] == "gpt-4.1-mini"
    await session.aclose()


def test_bad_report_files(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(ValueError, match="not a readable session report"):
        SessionReport.load(bad)
    bad.write_text(json.dumps({"format": "other/1"}))
    with pytest.raises(ValueError, match="field 'format' = 'other/1'"):
        SessionReport.load(bad)
    bad.write_text(json.dumps({"format": "agentlab.session_report/1", "history": [], "events": "x", "metrics": []}))
    with pytest.raises(ValueError, match="field 'events'"):
        SessionReport.load(bad)
