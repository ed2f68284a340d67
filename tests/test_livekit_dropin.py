"""LiveKit agent code runs in agentlab once ``livekit.agents`` becomes ``agentlab.livekit`` in its imports.

The three modules in ``tests/livekit_agents/`` are written for livekit-agents 1.8 (a tool agent, a
multi-agent handoff with userdata, an agent using ``on_user_turn_completed``). Each is imported as
is with the real ``livekit.agents`` when that package is installed (so they are genuine LiveKit
code), then with only its imports rewritten, and driven through agentlab's session with a scripted
LLM in place of the cloud model.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

from agentlab import Rule, ScriptedLLM, ScriptedToolCall, VirtualClock
from agentlab._unsupported import Unsupported

HERE = Path(__file__).parent / "livekit_agents"
MODULES = ("tool_agent", "handoff_agent", "rag_agent")


def _load(name: str, *, rewrite: bool):
    source = (HERE / f"{name}.py").read_text()
    if rewrite:
        source = source.replace("livekit.agents", "agentlab.livekit")  # the only change
    module_name = f"_lk_{name}_{'agentlab' if rewrite else 'livekit'}"
    spec = importlib.util.spec_from_loader(module_name, loader=None)
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module  # dataclasses look their module up
    exec(compile(source, str(HERE / f"{name}.py"), "exec"), module.__dict__)
    return module


@pytest.mark.parametrize("name", MODULES)
def test_modules_are_genuine_livekit_code(name):
    pytest.importorskip("livekit.agents", reason="the livekit-agents test extra")
    module = _load(name, rewrite=False)
    agents = [v for v in vars(module).values() if isinstance(v, type) and v.__module__ == module.__name__ and hasattr(v, "on_enter")]
    for cls in agents:
        cls()  # LiveKit builds their tools from the same signatures and docstrings


def _run(main):
    return VirtualClock().run(main)


def test_tool_agent():
    m = _load("tool_agent", rewrite=True)
    llm = ScriptedLLM(
        rules=[
            Rule(r"weather in (?P<city>\w+)", tool_calls=[ScriptedToolCall("lookup_weather", {"location": "{city}"})]),
            Rule(after_tool="lookup_weather", reply="It is {output}."),
        ]
    )
    seen = []

    async def main():
        session = m.AgentSession(llm=llm, turn_handling={"endpointing": {"min_delay": 0.4}}, max_tool_steps=2)
        session.on("function_tools_executed", lambda ev: seen.append([c.name for c in ev.function_calls]))
        await session.start(agent=m.WeatherAgent())
        result = await session.run(user_input="What's the weather in Paris?")
        result.expect.next_event().is_function_call(name="lookup_weather", arguments={"location": "Paris"})
        result.expect.next_event().is_function_call_output(output="sunny, 21 degrees celsius in Paris")
        result.expect.next_event().is_message(role="assistant")
        await session.aclose()
        return session.options

    options = _run(main)
    assert seen == [["lookup_weather"]] and options.endpointing.min_delay == 0.4 and options.max_tool_steps == 2
    tool = m.WeatherAgent().tools[0]
    assert tool.parameters["properties"]["location"]["description"] == "the city or place to look up"
    assert tool.parameters["required"] == ["location"]


def test_handoff_agent_with_userdata():
    m = _load("handoff_agent", rewrite=True)
    llm = ScriptedLLM(
        rules=[
            Rule(r"my name is (?P<name>\w+)", tool_calls=[ScriptedToolCall("transfer_to_billing", {"name": "{name}"})]),
            Rule(r"Say hello to (?P<name>\w+)", reply="Hello {name}, what about your bill?"),
        ],
        default="Hello, who is calling?",
    )

    async def main():
        session = m.AgentSession[m.CallData](userdata=m.CallData(), llm=llm)
        await session.start(agent=m.Receptionist())
        await session.wait_for_idle()
        await session.run(user_input="Hi, my name is Ada and I have a billing question")
        await session.wait_for_idle()
        data, agent, history = session.userdata, session.current_agent, session.history_frame()
        await session.aclose()
        return data, agent, history

    data, agent, history = _run(main)
    assert (data.name, data.topic) == ("Ada", "billing")
    assert type(agent).__name__ == "BillingAgent"
    said = history[history.role == "assistant"].text.tolist()
    assert said[0] == "Hello, who is calling?" and said[-1] == "Hello Ada, what about your bill?"
    assert (history.type == "agent_handoff").sum() == 2  # start, then the transfer


def test_rag_agent_on_user_turn_completed():
    m = _load("rag_agent", rewrite=True)
    llm = ScriptedLLM(rules=[Rule(reply=lambda match: "Noted: " + next(
        (it.text_content for it in reversed(match.chat_ctx.items) if getattr(it, "role", None) == "assistant"
         and (it.text_content or "").startswith("Relevant facts")), "no facts"))])  # fmt: skip

    async def main():
        session = m.AgentSession(llm=llm, turn_handling={"preemptive_generation": {"enabled": False}})
        await session.start(agent=m.FaqAgent())
        answered = await session.run(user_input="What are your opening hours?")
        silent = await session.run(user_input="um")
        await session.aclose()
        return answered, silent, len(llm.requests)

    answered, silent, requests = _run(main)
    reply = answered.expect.next_event().is_message(role="assistant").event().item.text_content
    assert reply == "Noted: Relevant facts: We are open 9:00 to 17:00, Monday to Friday."
    silent.expect.no_more_events()  # StopResponse: no reply
    assert requests == 1


@pytest.mark.parametrize("name", MODULES)
def test_livekit_cli_runs_offline_commands_and_refuses_server_ones(name, capsys):
    m = _load(name, rewrite=True)
    options = m.WorkerOptions(entrypoint_fnc=m.entrypoint)
    assert m.cli.run_app(options, argv=["dev"]) == 2
    assert "registers a worker with a LiveKit server" in capsys.readouterr().err
    assert m.cli.run_app(options, argv=["download-files"]) == 0
    with pytest.raises(Unsupported, match=r"JobContext.api is not supported by agentlab.*LiveKit server"):
        m.JobContext(proc=None, room=None).api  # noqa: B018
