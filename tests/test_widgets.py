"""The widgets as Python objects (the browser test in test_browser.py drives them in JupyterLab)."""

from __future__ import annotations

import asyncio
import re

import ipywidgets as w
import pytest

import agentlab
import agentlab.datasets as ads
from agentlab import Agent, AgentSession, ScriptedLLM, ScriptedTTS
from agentlab.examples.restaurant import Host, scripted_llm
from agentlab.widgets import ChatWidget, ConversationWidget, Param, SweepWidget


async def _settle(chat: ChatWidget) -> None:
    for _ in range(400):
        if not chat._tasks:
            break
        await asyncio.sleep(0.02)
    else:
        raise AssertionError("the chat did not settle")
    if chat.session._started:
        await asyncio.wait_for(chat.session.wait_for_idle(), 10)


async def test_chat_round_trip_with_tools_states_and_events():
    session = AgentSession(llm=scripted_llm())
    chat = ChatWidget(session, agent=Host())
    await _settle(chat)
    assert "Welcome to Chez Lab" in chat.transcript.value  # on_enter's greeting
    chat.input.value = "Hi! Do you have a table for four at 7pm?"  # what Enter does
    assert chat.input.value == ""  # the box is cleared at once
    await _settle(chat)
    html = chat.transcript.value
    assert html.index("table for four") < html.index("check_availability") < html.index("Good news")
    assert "party_size=4" in html and "A table for 4 is available" in html
    assert "agent: <b>listening</b>" in chat.states.value and "user: <b>listening</b>" in chat.states.value
    assert chat.events.layout.display == "none"
    chat.events_toggle.value = True
    assert chat.events.layout.display == "block" and "function_tools_executed" in chat.events.value
    assert chat.audio.layout.display == "none"  # a text-only agent has no audio to play
    await session.aclose()


async def test_chat_streams_and_shows_states_while_thinking():
    llm = ScriptedLLM(responses=["one two three four five six seven eight"], ttft=0.3, tokens_per_second=10)
    session = AgentSession(llm=llm)
    await session.start(Agent(instructions="count"))
    chat = ChatWidget(session)
    chat._submit("count please")
    await asyncio.sleep(0.15)
    assert "agent: <b>thinking</b>" in chat.states.value
    await asyncio.sleep(0.45)  # ttft 0.3 s, then 10 tokens a second: a few words in
    live = chat.transcript.value
    assert "one two" in live and "seven eight" not in live and "▍" in live  # streaming, with a cursor
    assert "agent: <b>speaking</b>" in chat.states.value
    await _settle(chat)
    assert "one two three four five six seven eight" in chat.transcript.value and "▍" not in chat.transcript.value
    await session.aclose()


async def test_chat_plays_tts_audio_and_reports_errors():
    session = AgentSession(llm=ScriptedLLM(responses=["Hello there."], ttft=0.05), tts=ScriptedTTS(audio=True, ttfb=0.05))
    chat = ChatWidget(session, agent=Agent(instructions="greet"))
    await chat.say("hi")
    assert chat.audio.layout.display == "block" and chat.audio.value[:4] == b"RIFF"
    await session.aclose()

    broken = AgentSession()  # no LLM: the reply fails, the widget says so instead of hanging
    chat = ChatWidget(broken, agent=Agent(instructions="x"))
    chat._submit("hello?")
    await _settle(chat)
    assert "error" in chat.transcript.value.lower()
    await broken.aclose()


async def test_chat_messages_from_another_thread_run_on_the_session_loop():
    """JupyterLab can deliver widget messages on a kernel subshell: another thread with its own loop."""
    session = AgentSession(llm=scripted_llm())
    chat = ChatWidget(session, agent=Host())
    await _settle(chat)

    def subshell() -> None:
        async def deliver() -> None:
            chat.input.value = "A table for 2 at 8pm?"

        asyncio.run(deliver())  # this loop ends at once: work scheduled on it would never run

    await asyncio.to_thread(subshell)
    await asyncio.sleep(0.05)
    await _settle(chat)
    assert "check_availability" in chat.transcript.value and "fully booked" in chat.transcript.value
    await session.aclose()


def test_chat_needs_a_session():
    with pytest.raises(TypeError, match="AgentSession"):
        ChatWidget("session")  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def overlaps():
    return ads.Dataset("few", {"name": "few"}, ads.load("overlaps").conversations[:2])


def test_conversation_widget_browses_a_dataset(overlaps):
    cw = ConversationWidget.browse(overlaps)
    first = cw.header.value
    assert cw.picker.options == tuple(c.id for c in overlaps)
    assert cw.audio.value[:4] == b"RIFF" and cw.figure.value[:4] == b"\x89PNG"
    assert "<table" in cw.tables["History"].value and "agent_state_changed" in cw.tables["Events"].value
    assert cw.tabs.titles == ("History", "Events", "Metrics")
    cw.picker.value = overlaps[1].id
    assert cw.header.value != first and overlaps[1].id in cw.header.value
    with pytest.raises(ValueError, match="no conversation"):
        ConversationWidget.browse(overlaps, conversation="nope")
    with pytest.raises(TypeError, match="expected a Run"):
        ConversationWidget().show("run")  # type: ignore[arg-type]


def test_conversation_widget_shows_a_run():
    run = agentlab.simulate(Host, {"llm": scripted_llm()}, ["A table for 2 at 8pm?"])
    cw = ConversationWidget(run, title="quickstart")
    assert "quickstart" in cw.header.value and "1 user turns" in cw.header.value and "1 tool calls" in cw.header.value


def test_sweep_widget_grid_run_and_pick(overlaps):
    sw = SweepWidget(overlaps)
    assert sw.grid() == {"endpointing.min_delay": [0.2, 0.45, 0.7, 0.95, 1.2]}
    row = next(r for r in sw.rows if r.param.name == "endpointing.min_delay")
    row.range.value, row.points.value = (0.3, 0.9), 3
    sw.rows[2].enabled.value = True  # interruption.min_duration, one point
    sw.preemptive.value = True
    assert sw.grid() == {
        "endpointing.min_delay": [0.3, 0.6, 0.9],
        "interruption.min_duration": [0.5],
        "preemptive_generation.enabled": [False, True],
    }
    seen = []
    sw.progress.observe(lambda c: seen.append(c["new"]), names="value")
    res = sw.run()
    assert res is sw.result and len(res.settings) == 6
    assert seen[-1] == sw.progress.max == 6 * len(overlaps) and len(seen) > 1
    assert sw.plot.value[:4] == b"\x89PNG" and sw.plot.layout.display == "block"
    assert "Recommended" in sw.best.value or "No setting" in sw.best.value
    # the table: the grid's parameters, then the figures that matter (SweepResult.overview), names breakable
    heads = [re.sub("<[^>]+>", "", h) for h in re.findall(r"<th[^>]*>(.*?)</th>", sw.summary.value)]
    assert heads == list(res.overview().columns)
    assert heads[:3] == ["endpointing.min_delay", "interruption.min_duration", "preemptive_generation.enabled"]
    assert "false_<wbr>cutoff_<wbr>rate" in sw.summary.value
    assert len(sw.picker.options) == 6
    worst = max(res.settings, key=lambda sid: res.summary.set_index("setting").loc[sid, "turn_cutoffs"])
    sw.picker.value = worst
    assert any(isinstance(c, ConversationWidget) for c in sw.details.children)


def test_sweep_widget_on_tasks_and_errors():
    sw = SweepWidget("tasks", params=(Param("max_tool_steps", 0, 3, (0, 2), integer=True, step=1),))
    assert sw.grid() == {"max_tool_steps": [0, 1, 2]} and sw.preemptive.layout.display == "none"
    sw._data["tasks"] = ads.Dataset("t", {"name": "t"}, ads.load("tasks").conversations[:4])
    sw.run()
    assert "task success" in sw.best.value and sw.plot.value[:4] == b"\x89PNG"
    bad = SweepWidget("dictation", params=(Param("endpointing.min_delay", -1.0, 1.0, (-1.0, -0.5), points=2),))
    assert bad.run() is None and "ValueError" in bad.status.value and not bad.run_button.disabled
    with pytest.raises(ValueError, match="min_delay"):
        SweepWidget("dictation", base_options={"turn_handling": {"endpointing": {"min_delay": -3}}})


def test_widgets_are_ipywidgets():
    assert issubclass(ChatWidget, w.VBox) and issubclass(ConversationWidget, w.VBox) and issubclass(SweepWidget, w.VBox)


async def test_chat_goes_on_with_the_new_agent_after_a_handoff():
    session = AgentSession(llm=scripted_llm(), userdata={})
    chat = ChatWidget(session, agent=Host())
    await _settle(chat)
    await chat.say("We'd like a private event for 30")  # Host hands off to the events desk
    await chat.say("About 30 guests")  # right away: it is the events desk's turn, not an error
    await _settle(chat)
    assert session.current_agent.id == "events_desk"
    assert "send you our event menus" in chat.transcript.value and "draining" not in chat.transcript.value
    await session.aclose()
