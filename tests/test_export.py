"""agentlab.export: LiveKit (round-tripped through the real livekit-agents), SignalWire SWML, VideoSDK."""

from __future__ import annotations

import ast
import json
import sys
import types
import warnings

import pytest

from agentlab import AgentSession, ExportWarning, OpenAILLM, export
from agentlab.examples.restaurant import Host, scripted_llm
from agentlab.export import PLATFORMS, validate_swml
from agentlab.session.options import build_options

TUNED = {
    "turn_handling": {
        "endpointing": {"min_delay": 0.35, "max_delay": 2.5},
        "interruption": {"min_duration": 0.8, "min_words": 2, "false_interruption_timeout": 1.5},
        "preemptive_generation": {"enabled": False},
    },
    "max_tool_steps": 2,
    "user_away_timeout": 20.0,
}


def _quiet(fn, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ExportWarning)
        return fn(*args, **kwargs)


async def test_livekit_export_round_trips_through_livekit_agents():  # LiveKit builds sessions inside a loop
    pytest.importorskip("livekit.agents", reason="the livekit-agents test extra")
    code = _quiet(export, TUNED, "livekit", agent=Host())
    ns: dict = {}
    exec(compile(code, "exported_livekit.py", "exec"), ns)  # the real livekit.agents imports
    session = ns["build_session"]()
    theirs = session.options
    ours = build_options(**TUNED)
    th = theirs.turn_handling
    for group in ("endpointing", "interruption", "preemptive_generation", "user_turn_limit"):
        mine = {k: v for k, v in vars(getattr(ours, group)).items() if v is not None or k != "mode"}
        for key, value in mine.items():
            got = th[group][key]
            assert (tuple(got) if isinstance(got, list) else got) == value, (group, key, got, value)
    assert th["turn_detection"] == "vad"
    assert theirs.max_tool_steps == 2 and theirs.user_away_timeout == 20.0
    assert theirs.min_consecutive_speech_delay == ours.min_consecutive_speech_delay
    agent = ns["Host"]()
    from livekit.agents.llm.tool_context import RawFunctionTool

    tools = {t.info.name: t.info.raw_schema for t in agent.tools if isinstance(t, RawFunctionTool)}
    assert set(tools) == {t.name for t in Host().tools}
    assert tools["check_availability"]["parameters"] == next(t.parameters for t in Host().tools if t.name == "check_availability")
    assert agent.instructions == Host().instructions


def test_swml_export_maps_timing_and_tools():
    text = _quiet(export, TUNED, "signalwire", agent=Host(), webhook_url="https://tools.invalid/swaig")
    doc = json.loads(text)
    assert validate_swml(doc) == []
    ai = doc["sections"]["main"][1]["ai"]
    assert ai["params"]["end_of_speech_timeout"] == 350
    assert ai["params"]["attention_timeout"] == 20_000  # user_away_timeout, not max_delay
    assert ai["params"]["barge_min_words"] == 2
    assert ai["prompt"]["text"] == Host().instructions
    functions = {f["function"]: f for f in ai["SWAIG"]["functions"]}
    assert set(functions) == {"book_table", "check_availability", "transfer_to_events"}
    assert functions["book_table"]["parameters"]["required"] == ["name", "party_size", "time"]
    assert ai["SWAIG"]["defaults"]["web_hook_url"] == "https://tools.invalid/swaig"


def test_swml_respects_documented_ranges_and_warns():
    opts = {
        "turn_handling": {"endpointing": {"min_delay": 0.1, "mode": "dynamic"}, "interruption": {"enabled": False}},
        "user_away_timeout": 3,
    }
    with pytest.warns(ExportWarning) as caught:
        doc = json.loads(export(opts, "signalwire"))
    messages = [str(w.message) for w in caught]
    ai = doc["sections"]["main"][1]["ai"]
    assert ai["params"]["end_of_speech_timeout"] == 250 and any("end_of_speech_timeout=100" in m for m in messages)
    assert ai["params"]["attention_timeout"] == 10_000 and any("attention_timeout=3000" in m for m in messages)
    assert ai["prompt"]["barge_confidence"] == 1.0 and "barge_confidence" not in ai["params"]  # where SignalWire's docs put it
    assert any("endpointing.mode='dynamic'" in m for m in messages)
    assert any("preemptive_generation.enabled" in m for m in messages)
    assert validate_swml(doc) == []
    no_away = json.loads(_quiet(export, {"user_away_timeout": None}, "signalwire"))
    assert no_away["sections"]["main"][1]["ai"]["params"]["attention_timeout"] == 0  # disabled is allowed
    # every unmapped, non-default setting gets its own warning
    with pytest.warns(ExportWarning) as caught:
        export({"turn_handling": {"interruption": {"min_duration": 0.9}}, "max_tool_steps": 5}, "signalwire")
    text = " ".join(str(w.message) for w in caught)
    assert "interruption.min_duration=0.9" in text and "max_tool_steps=5" in text


def test_validate_swml_catches_what_livewire_gets_wrong():
    doc = json.loads(_quiet(export, {}, "signalwire"))
    ai = doc["sections"]["main"][1]["ai"]
    ai["params"]["attention_timeout"] = 3000  # LiveWire's max_endpointing_delay mapping
    ai["params"]["barge_confidence"] = 1.0  # LiveWire's placement
    problems = validate_swml(doc)
    assert any("attention_timeout" in p for p in problems) and any("barge_confidence" in p for p in problems)
    assert validate_swml({"version": "1.0.0", "sections": {"main": [{"answer": {}}]}}) == ["sections.main has no ai verb"]


def test_videosdk_export_builds_its_configs():
    captured = {}

    def recorder(name):
        def make(**kwargs):
            captured[name] = kwargs
            return kwargs

        return make

    class FakeAgent:
        def __init__(self, instructions):
            self.instructions = instructions

    fake = types.ModuleType("videosdk.agents")
    fake.EOUConfig, fake.InterruptConfig = recorder("eou"), recorder("interrupt")
    fake.Agent, fake.function_tool = FakeAgent, lambda f: f
    sys.modules["videosdk"], sys.modules["videosdk.agents"] = types.ModuleType("videosdk"), fake
    try:
        with pytest.warns(ExportWarning, match="max_tool_steps=2"):
            code = export({**TUNED, "wake_up": 12.0}, "videosdk", agent=Host())
        ast.parse(code)
        ns: dict = {}
        exec(code, ns)
    finally:
        del sys.modules["videosdk"], sys.modules["videosdk.agents"]
    assert captured["eou"] == {"mode": "DEFAULT", "min_max_speech_wait_timeout": [0.35, 2.5]}
    assert captured["interrupt"] == {
        "mode": "HYBRID",
        "interrupt_min_duration": 0.8,
        "interrupt_min_words": 2,
        "false_interrupt_pause_duration": 1.5,
        "resume_on_false_interrupt": True,
    }
    assert ns["WAKE_UP"] == 12.0 and ns["Host"]().instructions == Host().instructions


def test_export_never_writes_the_api_key(tmp_path):
    key = "agentlab-planted-export-0000"
    session = AgentSession(llm=OpenAILLM(model="gpt-4.1-mini", api_key=key, base_url="http://127.0.0.1:9/v1"))
    for platform in PLATFORMS:
        out = _quiet(export, session, platform, agent=Host(), path=tmp_path / f"out.{platform}")
        assert key not in out and (tmp_path / f"out.{platform}").read_text() == out
        assert "gpt-4.1-mini" in out


async def test_export_takes_the_running_agent():
    session = AgentSession(llm=scripted_llm())
    await session.start(Host())
    code = _quiet(export, session, "livekit")
    assert "class Host(Agent)" in code and "async def book_table" in code
    await session.aclose()


def test_bad_platform_and_source():
    with pytest.raises(ValueError, match="unknown platform 'twilio'"):
        export({}, "twilio")
    with pytest.raises(TypeError, match="AgentSession, SessionOptions or a dict"):
        export(42, "livekit")
    with pytest.raises(ValueError, match="min_delay"):
        export({"turn_handling": {"endpointing": {"min_delay": -1}}}, "livekit")


@pytest.mark.parametrize("platform", PLATFORMS)
def test_tool_timeout_is_not_exported_and_says_so(platform):
    with pytest.warns(ExportWarning, match="tool_timeout=4") as caught:
        text = export({"tool_timeout": 4.0}, platform)
    assert "tool_timeout" not in text
    assert sum("tool_timeout" in str(w.message) for w in caught) == 1
    with warnings.catch_warnings():
        warnings.simplefilter("error", ExportWarning)
        export({}, "livekit")  # the default (none) is silent
