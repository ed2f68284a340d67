"""LiveKit agent files of today's kind (AgentServer, @rtc_session, inference models) run unchanged.

``tests/livekit_agents/server_agent.py`` imports ``livekit.agents`` and is never edited: agentlab reads
those imports through its import hook (``agentlab.livekit``). The same file imports with the real
livekit-agents 1.8.9, so it is genuine LiveKit code.
"""

from __future__ import annotations

import importlib.util
import logging
import re
import sys
from pathlib import Path

import pytest
from spy_tts import SpyTTS

from agentlab import Rule, ScriptedLLM, ScriptedToolCall, VirtualClock
from agentlab.livekit import AgentFileError, Unsupported, load_agent_file
from agentlab.livekit._server import AgentServer, JobContext, get_job_context

FILE = Path(__file__).parent / "livekit_agents" / "server_agent.py"


def _llm(*rules: Rule) -> ScriptedLLM:
    return ScriptedLLM(rules=[Rule(r"Greet", reply="Welcome, how can I help?"), *rules], default="Certainly.")


def test_the_file_is_genuine_livekit_code():
    agents = pytest.importorskip("livekit.agents", reason="the livekit-agents test extra")
    spec = importlib.util.spec_from_file_location("_lk_server_agent_real", FILE)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    assert isinstance(module.server, agents.AgentServer)
    assert module.Concierge.__mro__[1] is agents.Agent


def test_the_entrypoint_builds_the_files_own_session_and_runs_offline(caplog):
    spy = SpyTTS()
    app = load_agent_file(FILE)
    llm = _llm(
        Rule(r"table for (?P<n>\d+) at (?P<t>\w+)", tool_calls=[ScriptedToolCall("book_table", {"guests": "{n}", "time": "{t}"})]),
        Rule(after_tool="book_table", reply="Done: {output} Enjoy the **Grand Hotel**."),
    )

    async def main():
        ctx = await app.start(llm=llm, tts=spy)
        session = ctx.primary_session
        await session.wait_for_idle()  # the greeting from on_enter
        result = await session.run(user_input="A table for 2 at 8pm please")
        result.expect.next_event().is_function_call(name="book_table", arguments={"guests": "2", "time": "8pm"})
        result.expect.next_event().is_function_call_output()
        result.expect.next_event().is_message(role="assistant")
        options, userdata, job = session.options, session.userdata, get_job_context(required=False)
        await ctx.aclose()
        return ctx, options, userdata, job

    with caplog.at_level(logging.INFO, logger="livekit.agents"):
        ctx, options, userdata, job = VirtualClock().run(main)
    # the file's own options, userdata, prewarm and handlers
    assert options.endpointing.min_delay == 0.4 and options.max_tool_steps == 2
    assert options.preemptive_generation.enabled and options.interruption.false_interruption_timeout == 1.0
    assert userdata == {"greeting": "Welcome to the Grand Hotel.", "booked": (2, "8pm")}
    assert ctx.log_context_fields == {"room": "console-room"} and ctx.job.agent_name == "concierge"
    assert job is ctx  # the one running job, found outside its own tasks too (as in a LiveKit job process)
    # its text transforms: markdown filtered, the replacement made, in what the TTS heard only
    heard = "".join(spy.heard)
    assert "Grand Hotél" in heard and "**" not in heard
    # its metrics handler ran (metrics.log_metrics logged) and its shutdown callback saw the usage
    assert any(r.getMessage().startswith("LLM metrics: ttft=") for r in caplog.records)
    report = ctx.proc.userdata["report"]
    assert report["metrics"] > 0
    llm_usage = [u for u in report["usage"].model_usage if u.type == "llm_usage"]
    assert llm_usage and llm_usage[0].output_tokens > 0


def test_end_call_tool_says_goodbye_then_ends_the_session():
    app = load_agent_file(FILE)
    llm = _llm(
        Rule(r"bye", tool_calls=[ScriptedToolCall("end_call", {})]),
        Rule(after_tool="end_call", reply="Thank you, goodbye!"),
    )
    closes = []

    async def main():
        ctx = await app.start(llm=llm, tts=None)
        session = ctx.primary_session
        session.on("close", closes.append)
        await session.wait_for_idle()
        await session.run(user_input="That's all, bye")
        await session.wait_for_idle()
        messages = [m.text_content for m in session.history.items if m.type == "message"]
        await ctx.aclose()
        return messages

    messages = VirtualClock().run(main)
    assert messages[-1] == "Thank you, goodbye!"
    assert [c.reason for c in closes] == ["user_initiated"]
    tool = app.agent_classes[0]().tools
    assert [t.name for t in tool] == ["book_table", "end_call"]


def test_without_a_key_the_cloud_llm_says_how_to_run_offline(monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    app = load_agent_file(FILE)

    async def main():
        await app.start()

    with pytest.raises(
        AgentFileError, match=r"server_agent.py: its entrypoint failed: .*inference.LLM\('openai/gpt-4.1-mini'\).*agentlab console"
    ):
        VirtualClock().run(main)


def test_server_rules():
    server = AgentServer()

    @server.rtc_session
    async def one(ctx: JobContext) -> None: ...

    with pytest.raises(RuntimeError, match="already registered"):
        server.rtc_session(one)
    with pytest.raises(TypeError, match="setup_fnc must be callable"):
        server.setup_fnc = 3
    with pytest.raises(Unsupported, match=re.escape("AgentServer.run")):
        server.run()
    with pytest.raises(RuntimeError, match="no job context"):
        get_job_context()
    assert get_job_context(required=False) is None


def test_job_context_offline_room_and_shutdown_order():
    order = []
    server = AgentServer()

    @server.rtc_session(on_session_end=lambda ctx: order.append("session_end"))
    async def entry(ctx: JobContext) -> None:
        from agentlab import Agent, AgentSession

        assert get_job_context() is ctx
        await ctx.connect()
        user = await ctx.wait_for_participant()
        assert user.identity == "mock_user" and ctx.room.isconnected()
        ctx.add_shutdown_callback(lambda reason: order.append(f"callback:{reason}"))
        session = AgentSession(llm=ScriptedLLM(default="hi"))
        session.on("close", lambda e: order.append("close"))
        await session.start(agent=Agent(instructions="x"), room=ctx.room)

    async def main():
        ctx = await server.start_job()
        with pytest.raises(Unsupported, match="publish_data"):
            ctx.room.local_participant.publish_data(b"x")
        with pytest.raises(Unsupported, match=re.escape("JobContext.api")):
            ctx.api  # noqa: B018
        await ctx.aclose(reason="done")
        await ctx.aclose()  # idempotent
        return ctx

    ctx = VirtualClock().run(main)
    assert order == ["close", "session_end", "callback:done"]
    assert not ctx.room.isconnected()


def test_a_file_that_starts_no_session_or_fails_to_import_is_a_clear_error(tmp_path):
    quiet = tmp_path / "quiet.py"
    quiet.write_text(
        "from livekit.agents import AgentServer, JobContext\nserver = AgentServer()\n\n"
        "@server.rtc_session()\nasync def e(ctx: JobContext):\n    pass\n"
    )
    with pytest.raises(AgentFileError, match=re.escape("quiet.py: its entrypoint returned without starting an AgentSession")):
        VirtualClock().run(lambda: load_agent_file(quiet).start())
    broken = tmp_path / "broken.py"
    broken.write_text("from livekit.agents import NoSuchName\n")
    with pytest.raises(AgentFileError, match=re.escape("broken.py: importing it failed: ImportError")):
        load_agent_file(broken)
    with pytest.raises(AgentFileError, match=re.escape("missing.py: no such agent file")):
        load_agent_file(tmp_path / "missing.py")


def test_plugins_and_deep_import_paths_map_to_offline_components():
    from agentlab.livekit.plugins import OfflinePluginWarning

    app = load_agent_file(Path(__file__).parent / "livekit_agents" / "plugin_agent.py")

    async def main():
        with pytest.warns(OfflinePluginWarning, match=r"turn_detector.multilingual.MultilingualModel has no offline equivalent"):
            ctx = await app.start(llm=ScriptedLLM(default="Hello, how can I help?"))
        session = ctx.primary_session
        await session.wait_for_idle()
        texts = [i.text_content for i in session.history.items if i.type == "message"]
        tools = [t.name for t in session.current_agent.tools]
        components = (session.stt, session.vad, type(session.tts).__name__, session.options.turn_detection)
        await ctx.aclose()
        return texts, tools, components

    texts, tools, components = VirtualClock().run(main)
    assert texts == ["Hello, how can I help?"] and tools == ["end_call"]
    assert components == (None, None, "ScriptedTTS", None)  # offline: scripted transcripts, the session's VAD, VAD endpointing


def test_a_realtime_plugin_says_it_is_not_simulated(tmp_path):
    f = tmp_path / "rt.py"
    f.write_text(
        "from livekit.agents import Agent, AgentServer, AgentSession, JobContext\nfrom livekit.plugins import openai\n"
        "server = AgentServer()\n\n@server.rtc_session()\nasync def e(ctx: JobContext):\n"
        "    session = AgentSession(llm=openai.realtime.RealtimeModel())\n    await session.start(agent=Agent(instructions='x'))\n"
    )
    with pytest.raises(AgentFileError, match=r"RealtimeModel is not supported by agentlab: speech-to-speech"):
        VirtualClock().run(lambda: load_agent_file(f).start())
