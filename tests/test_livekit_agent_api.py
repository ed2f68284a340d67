"""Agent and session API details as in LiveKit 1.8.9 (reference §20.6, §20.7): AgentTask.done(),
user_turn_limit and on_user_turn_exceeded, agent ids and labels, handoff events, and the LiveKit
session options agentlab accepts without modelling them."""

from __future__ import annotations

import asyncio

import pytest

import agentlab as al
from agentlab import Agent, AgentSession, AgentTask, ScriptedLLM, ScriptedToolCall, UserSpeech, VirtualClock, function_tool
from agentlab.session.options import IgnoredOptionWarning


def test_agent_task_done_is_a_method_and_completes_once():
    class AskName(AgentTask[str]):
        def __init__(self) -> None:
            super().__init__(instructions="Ask for the name.")

    task = AskName()
    assert task.done() is False
    task.complete("Ada")
    assert task.done() is True
    with pytest.raises(RuntimeError, match="AskName is already done"):
        task.complete("again")


def test_agent_ids_and_labels_follow_livekits_rule():
    class Weather(Agent):
        pass

    class GetName(Agent):
        pass

    assert Agent(instructions="x").id == "default_agent"
    assert Agent(instructions="x", id="mine").id == "default_agent"  # a plain Agent ignores id= (LiveKit)
    assert Weather(instructions="x").id == "weather" == Weather(instructions="x").label
    assert GetName(instructions="x").id == "get_name"
    assert GetName(instructions="x", id="asker").label == "asker"


def test_handoff_events_carry_the_old_agent():
    class Sales(Agent):
        def __init__(self) -> None:
            super().__init__(instructions="sales")

    class Front(Agent):
        def __init__(self) -> None:
            super().__init__(instructions="front")

        @function_tool
        async def to_sales(self) -> Agent:
            """Transfer to sales."""
            return Sales()

    llm = ScriptedLLM(rules=[al.Rule(r"buy", tool_calls=[ScriptedToolCall("to_sales", {})])], default="ok")

    async def main():
        session = AgentSession(llm=llm)
        front = Front()
        await session.start(front)
        result = await session.run(user_input="I want to buy")
        handoff = result.expect.next_event(type="agent_handoff")
        await session.aclose()
        return front, handoff.event()

    front, event = VirtualClock().run(main)
    assert event.old_agent is front and isinstance(event.new_agent, Sales)
    assert (event.item.old_agent_id, event.item.new_agent_id) == ("front", "sales")


def test_a_custom_on_user_turn_exceeded_gets_the_event():
    seen = []

    class Patient(Agent):
        async def on_user_turn_exceeded(self, ev):
            seen.append(ev)
            await self.session.say("Let me stop you there.", allow_interruptions=False)  # else the commit cuts it

    speech = [UserSpeech(0.5, 1.5, "one two three"), UserSpeech(3.0, 4.0, "four five six")]

    async def main():
        session = AgentSession(
            llm=ScriptedLLM(default=""),
            tts=al.ScriptedTTS(ttfb=0.1),
            vad=al.ScriptedVAD(),
            turn_handling={"user_turn_limit": {"max_words": 5}},
            aec_warmup_duration=None,
        )
        await session.start(Patient(instructions="x"))
        session.attach_user_input(speech)
        await session.wait_for_input()
        await asyncio.sleep(2.0)  # the commit, then the cut-in
        await session.wait_for_idle()
        await session.aclose()
        return session

    session = VirtualClock().run(main)
    assert len(seen) == 1
    ev = seen[0]
    assert (ev.transcript, ev.accumulated_transcript, ev.accumulated_word_count) == ("four five six", "one two three four five six", 6)
    assert ev.duration == pytest.approx(4.2 - 0.5)  # from the first turn's speech start to the final that crossed the limit
    assert [e.type for e in session.events].count("user_turn_exceeded") == 1
    assert "user_turn_exceeded" in set(session.events_frame()["type"])
    said = [i.text_content for i in session.history.items if i.type == "message" and i.role == "assistant"]
    assert said == ["Let me stop you there."]


def test_livekit_options_without_an_offline_meaning_are_accepted_with_a_warning():
    with pytest.warns(IgnoredOptionWarning, match=r"stt_context_options has no effect in agentlab \(agentlab's STTs take no keyterms"):
        AgentSession(llm=ScriptedLLM(default="x"), stt_context_options={"keyterms": ["LiveKit"]})
    with pytest.warns(IgnoredOptionWarning, match="mcp_servers"):
        AgentSession(llm=ScriptedLLM(default="x"), mcp_servers=[object()])
    with pytest.raises(TypeError, match="unknown argument"):
        AgentSession(llm=ScriptedLLM(default="x"), stt_context_option={})  # a typo still fails


def _calls_ctx():
    from agentlab.chat import ChatContext, FunctionCall, FunctionCallOutput

    ctx = ChatContext()
    ctx.add_message(role="user", content="weather?")
    ctx.items.append(FunctionCall(call_id="c1", name="weather", arguments="{}"))
    ctx.items.append(FunctionCallOutput(call_id="c1", name="weather", output="sunny"))
    ctx.items.append(FunctionCall(call_id="c2", name="book", arguments="{}"))
    ctx.items.append(FunctionCallOutput(call_id="c2", name="book", output="booked"))
    ctx.add_message(role="assistant", content="It is sunny.", extra={"source": "test"})
    return ctx


def test_chat_context_api():
    from agentlab.chat import ChatContext

    ctx = _calls_ctx()
    assert [m.text_content for m in ctx.messages()] == ["weather?", "It is sunny."]
    assert ctx.messages()[1].extra == {"source": "test"}
    kept = ctx.copy(tools=["weather"])
    assert [(i.type, getattr(i, "name", None)) for i in kept.items] == [
        ("message", None),
        ("function_call", "weather"),
        ("function_call_output", "weather"),
        ("message", None),
    ]
    other = ChatContext()
    other.add_message(role="system", content="be brief")
    other.add_message(role="user", content="later", created_at=5.0)
    ctx.merge(other, exclude_instructions=True)
    assert ctx.items[-1].text_content == "later" and "be brief" not in [m.text_content for m in ctx.messages()]
    ctx.remove(ctx.items[-1])
    with pytest.raises(ValueError, match="no item with id 'nope'"):
        ctx.remove("nope")
    ctx.items = ctx.items[:1]
    assert len(ctx) == 1
    assert ctx.to_provider_format() == [{"role": "user", "content": "weather?"}]
    with pytest.raises(ValueError, match="format 'google'"):
        ctx.to_provider_format("google")


def test_a_new_agents_context_keeps_only_calls_of_its_own_tools():
    @function_tool
    async def weather() -> str:
        """Weather."""
        return "sunny"

    agent = Agent(instructions="x", tools=[weather], chat_ctx=_calls_ctx())
    assert [getattr(i, "name", None) for i in agent.chat_ctx.items if i.type != "message"] == ["weather", "weather"]

    async def update():
        await agent.update_chat_ctx(_calls_ctx())
        dropped = [getattr(i, "name", None) for i in agent.chat_ctx.items if i.type != "message"]
        await agent.update_chat_ctx(_calls_ctx(), exclude_invalid_function_calls=False)
        kept = [getattr(i, "name", None) for i in agent.chat_ctx.items if i.type != "message"]
        return dropped, kept

    dropped, kept = VirtualClock().run(update)
    assert dropped == ["weather", "weather"] and kept == ["weather", "weather", "book", "book"]


def test_agent_keywords_and_update_options():
    agent = Agent(instructions="x", min_endpointing_delay=0.9, max_endpointing_delay=4.0, turn_detection="vad")
    assert agent._turn_handling == {"turn_detection": "vad", "endpointing": {"min_delay": 0.9, "max_delay": 4.0}}
    llm = ScriptedLLM(default="hi")
    agent.update_options(llm=llm)
    assert agent.llm is llm
    with pytest.warns(IgnoredOptionWarning, match="Agent: expressive has no effect"):
        Agent(instructions="x", expressive=True)


def test_an_agent_task_can_preserve_its_function_calls():
    @function_tool
    async def note(text: str) -> str:
        """Take a note."""
        return "noted"

    class Ask(AgentTask[str]):
        def __init__(self, preserve: bool) -> None:
            super().__init__(instructions="ask", tools=[note], preserve_function_call_history=preserve)

        async def on_enter(self) -> None:
            self.session.generate_reply()

        @function_tool
        async def done_asking(self, name: str) -> None:
            """Finish."""
            self.complete(name)

    def run(preserve: bool):
        class Main(Agent):
            @function_tool
            async def ask(self) -> str:
                """Ask the name."""
                return await Ask(preserve)

        rules = [
            al.Rule(call=1, tool_calls=[ScriptedToolCall("note", {"text": "x"})]),
            al.Rule(after_tool="note", tool_calls=[ScriptedToolCall("done_asking", {"name": "Ada"})]),
            al.Rule(after_tool="ask", reply="Hello Ada."),
            al.Rule(r"hi", tool_calls=[ScriptedToolCall("ask", {})]),
        ]

        async def main():
            session = AgentSession(llm=ScriptedLLM(rules=rules))
            main_agent = Main(instructions="main")
            await session.start(main_agent)
            await session.run(user_input="hi")
            await session.aclose()
            return [i.name for i in main_agent.chat_ctx.items if i.type == "function_call"]

        return VirtualClock().run(main)

    assert "note" in run(True) and "note" not in run(False)


def test_on_exit_may_still_say_goodbye_while_the_session_closes():
    class Polite(Agent):
        async def on_exit(self) -> None:
            self.session.say("Goodbye!")

    async def main():
        session = AgentSession(llm=ScriptedLLM(default="hi"), tts=al.ScriptedTTS())
        await session.start(Polite(instructions="x"))
        await session.run(user_input="hello")
        await session.aclose()
        with pytest.raises(RuntimeError, match=r"closing|not started"):
            session.say("too late")
        return session

    session = VirtualClock().run(main)
    said = [(i.text_content, i.interrupted) for i in session.history.items if i.type == "message" and i.role == "assistant"]
    assert said == [("hi", False), ("Goodbye!", False)]
    assert session.events[-1].type == "close"


def test_final_output_is_a_tasks_result_and_raises_without_one():
    class Ask(AgentTask[str]):
        def __init__(self) -> None:
            super().__init__(instructions="ask")

        async def on_enter(self) -> None:
            self.complete("Ada")

    class Main(Agent):
        @function_tool
        async def ask(self) -> str:
            """Ask the name."""
            return await Ask()

    rules = [al.Rule(r"name", tool_calls=[ScriptedToolCall("ask", {})]), al.Rule(after_tool="ask", reply="Hi {output}.")]

    async def main():
        session = AgentSession(llm=ScriptedLLM(rules=rules, default="ok"))
        await session.start(Main(instructions="main"))
        plain = await session.run(user_input="hello")
        with pytest.raises(RuntimeError, match="no final output"):
            plain.final_output  # noqa: B018
        typed = await session.run(user_input="my name")
        await session.aclose()
        return typed.final_output

    assert VirtualClock().run(main) == "Ada"


def test_session_mocks_and_skipping_by_arguments():
    from agentlab import mock_tools
    from agentlab.examples.restaurant import Host, scripted_llm

    async def main():
        session = AgentSession(llm=scripted_llm(), userdata={})
        await session.start(Host())
        mock_tools(Host, {"check_availability": lambda party_size: "fully booked"}, session=session)
        r1 = await session.run(user_input="Do you have a table for 4 at 7pm?")
        with mock_tools(Host, {"check_availability": lambda: "one table left"}):  # the block's mocks win
            r2 = await session.run(user_input="Do you have a table for 2 at 8pm?")
        await session.aclose()
        return r1, r2

    r1, r2 = VirtualClock().run(main)
    assert r1.expect.skip_next_event_if(type="function_call", arguments={"party_size": "5"}) is None
    assert r1.expect.skip_next_event_if(type="function_call", arguments={"party_size": "4"}) is not None
    assert r1.expect.skip_next_event_if(type="function_call_output", output="fully booked") is not None
    r2.expect.next_event(type="function_call")
    r2.expect.next_event(type="function_call_output").is_function_call_output(output="one table left")


def test_a_handoff_waits_for_a_reply_whose_tools_still_run():
    """Review finding: the draining agent's scheduler must outlive a reply that re-queues its follow-up."""

    class Sales(Agent):
        def __init__(self) -> None:
            super().__init__(instructions="sales")

    class Front(Agent):
        @function_tool
        async def slow_lookup(self) -> str:
            """Look something up slowly."""
            await asyncio.sleep(1.0)
            return "found"

        @function_tool
        async def to_sales(self) -> Agent:
            """Transfer to sales."""
            return Sales()

    rules = [
        al.Rule(r"look", tool_calls=[ScriptedToolCall("slow_lookup", {})]),
        al.Rule(r"sales", tool_calls=[ScriptedToolCall("to_sales", {})]),
        al.Rule(after_tool="slow_lookup", reply="Here it is."),
    ]

    async def main():
        session = AgentSession(llm=ScriptedLLM(rules=rules, default="ok"))
        await session.start(Front(instructions="front"))
        h1 = session.generate_reply(user_input="look it up")
        await asyncio.sleep(0.5)  # its tool is running
        session.generate_reply(user_input="sales please")
        await asyncio.wait_for(session.wait_for_idle(), 30)
        texts = [i.text_content for i in session.history.items if i.type == "message" and i.role == "assistant"]
        agent = session.current_agent.id
        await session.aclose()
        return h1.done(), texts, agent

    done, texts, agent = VirtualClock().run(main)
    assert done and "Here it is." in texts and agent == "sales"


def test_usage_collectors_total_the_metrics_per_model_and_overall():
    from agentlab.livekit.metrics import ModelUsageCollector, UsageCollector
    from agentlab.session.events import LLMMetrics, STTMetrics, TTSMetrics

    def llm(model, prompt, completion, cached=0):
        return LLMMetrics(label="l", request_id="r", timestamp=0, duration=1, ttft=0.1, cancelled=False, model=model,
                          prompt_tokens=prompt, completion_tokens=completion, prompt_cached_tokens=cached)  # fmt: skip

    metrics = [
        llm("a", 10, 5, cached=2),
        llm("b", 3, 1),
        TTSMetrics(label="t", request_id="r", timestamp=0, ttfb=0.1, duration=1, audio_duration=2.5, cancelled=False, characters_count=30),
        STTMetrics(label="s", request_id="r", timestamp=0, duration=1, audio_duration=4.0, streamed=True),
    ]
    per_model, overall = ModelUsageCollector(), UsageCollector()
    for m in metrics:
        per_model.collect(m)
        overall.collect(m)
    assert [(u.type, u.model) for u in per_model.flatten()] == [
        ("llm_usage", "a"),
        ("llm_usage", "b"),
        ("tts_usage", "unknown"),
        ("stt_usage", "unknown"),
    ]
    s = overall.get_summary()
    assert (s.llm_prompt_tokens, s.llm_prompt_cached_tokens, s.llm_completion_tokens) == (13, 2, 6)
    assert (s.llm_input_text_tokens, s.llm_output_text_tokens) == (13, 6)
    assert (s.tts_characters_count, s.tts_audio_duration, s.stt_audio_duration) == (30, 2.5, 4.0)
