"""AgentSession behaviour on the virtual clock: runs, tools, handoffs, tasks, states, errors."""

from __future__ import annotations

import asyncio
import json
import re

import pandas as pd
import pytest
from spy_tts import SpyTTS

import agentlab as al
from agentlab import (
    Agent,
    AgentSession,
    AgentTask,
    Rule,
    RunContext,
    ScriptedLLM,
    ScriptedResponse,
    ScriptedToolCall,
    ScriptedTTS,
    function_tool,
)
from agentlab.chat import ChatContext, ChatMessage
from agentlab.examples.restaurant import EventsDesk, Host, scripted_llm


def _last_reply(result):
    """The run's last assistant text (LiveKit's final_output is an AgentTask's result, not this)."""
    return next(e.item.text_content for e in reversed(result.events) if e.type == "message" and e.item.role == "assistant")


def test_quickstart_two_tools_and_handoff_with_expect(vrun):
    async def main():
        async with AgentSession(llm=scripted_llm(), userdata={}) as session:
            greeting = await session.start(Host(), capture_run=True)
            greeting.expect.next_event().is_agent_handoff(new_agent_type=Host)
            greeting.expect.contains_message(role="assistant")

            r1 = await session.run(user_input="Hi! Do you have a table for four at 7pm tonight?")
            r1.expect.next_event().is_function_call(name="check_availability", arguments={"party_size": 4})
            r1.expect.next_event().is_function_call_output(output="A table for 4 is available at 19:00.", is_error=False)
            r1.expect.next_event().is_message(role="assistant")
            r1.expect.no_more_events()

            r2 = await session.run(user_input="Great, it's under Rivera.")
            r2.expect.next_event().is_function_call(name="book_table", arguments={"name": "Rivera", "party_size": 4})
            out = r2.expect.next_event().is_function_call_output(is_error=False).event().item
            assert out.output.startswith("Booked a table for 4 at 19:00 under Rivera, confirmation CL-")
            r2.expect.next_event().is_message(role="assistant")
            assert session.userdata["bookings"][0]["name"] == "Rivera"

            r3 = await session.run(user_input="We want to plan a private birthday dinner.")
            r3.expect.next_event().is_function_call(name="transfer_to_events")
            r3.expect.next_event().is_function_call_output()
            r3.expect.next_event().is_message(role="assistant")  # the host's goodbye (the tool returned a value)
            r3.expect.next_event().is_agent_handoff(new_agent_type=EventsDesk)
            intro = r3.expect.next_event().is_message(role="assistant").event().item
            assert "events" in intro.text_content
            r3.expect.no_more_events()
            assert isinstance(session.current_agent, EventsDesk)
            # The events desk got the host's conversation (chat_ctx=self.chat_ctx at handoff).
            assert any(getattr(i, "text_content", None) == "Great, it's under Rivera." for i in session.current_agent.chat_ctx.items)
            return session

    session = vrun(main)
    h = session.history_frame()
    assert list(h["type"]).count("function_call") == 3
    assert list(h["type"]).count("agent_handoff") == 2
    from agentlab.session.run_result import FunctionCallEvent, RunAssert

    # assertion failures name the mismatch and list the run's events
    cursor = RunAssert([FunctionCallEvent(al.FunctionCall(call_id="c", name="check_availability"))])
    with pytest.raises(AssertionError, match=r"expected a call to 'book_table'(.|\n)*>> \[0\] function_call\(name='check_availability'"):
        cursor.next_event().is_function_call(name="book_table")


def _looping_llm() -> ScriptedLLM:
    # Always asks for the tool again, unless tools are switched off.
    return ScriptedLLM(
        rules=[Rule(tool_calls=[ScriptedToolCall("lookup", {"q": "again"})]), Rule(reply="Final answer.")], ttft=0.1, tokens_per_second=100
    )


@pytest.mark.parametrize("max_tool_steps", [1, 2, 3])
def test_tool_step_limit_matches_livekit(vrun, max_tool_steps):
    calls = []

    @function_tool
    async def lookup(q: str) -> str:
        """Look something up."""
        calls.append(q)
        return f"result {len(calls)}"

    llm = _looping_llm()

    async def main():
        async with AgentSession(llm=llm, max_tool_steps=max_tool_steps) as session:
            await session.start(Agent(instructions="x", tools=[lookup]))
            result = await session.run(user_input="go")
            return session, result

    session, result = vrun(main)
    # LiveKit 1.8.9 measured: N+1 tool rounds, N+2 LLM calls, the last with tool_choice="none".
    assert len(calls) == max_tool_steps + 1
    assert len(llm.requests) == max_tool_steps + 2
    assert [r.tool_choice for r in llm.requests] == [None] + ["auto"] * max_tool_steps + ["none"]
    assert _last_reply(result) == "Final answer."
    rounds = [e for e in session.events if e.type == "function_tools_executed"]
    assert len(rounds) == max_tool_steps + 1
    assert session.metrics_frame()["tool_choice"].tolist()[-1] == "none"
    handle_ids = {e.speech_handle.id for e in session.events if e.type == "speech_created"}
    assert len(handle_ids) == 1  # all steps ran on one SpeechHandle
    (limit,) = [e for e in session.events if e.type == "tool_step_limit_reached"]
    assert (limit.speech_id, limit.max_tool_steps) == (handle_ids.pop(), max_tool_steps)
    # the limit is reached after the last tool round, before the forced reply's request
    last_round = rounds[-1]
    assert last_round.emitted_at <= limit.emitted_at
    assert session.events_frame().query("type == 'tool_step_limit_reached'")["speech_id"].tolist() == [limit.speech_id]


def test_tool_errors_become_outputs_in_history(vrun):
    @function_tool
    async def fails(x: int) -> str:
        """Raises."""
        raise RuntimeError("database exploded")

    @function_tool
    async def refuses(x: int) -> str:
        """Raises a ToolError."""
        raise al.ToolError("x must be positive")

    llm = ScriptedLLM(
        responses=[
            ScriptedResponse(
                tool_calls=[
                    ScriptedToolCall("nope", {}),
                    ScriptedToolCall("fails", '{"x": '),
                    ScriptedToolCall("fails", {"x": "seven"}),
                    ScriptedToolCall("fails", {"x": 1}),
                    ScriptedToolCall("refuses", {"x": -1}),
                ]
            ),
            "Sorry about that.",
        ]
    )

    async def main():
        async with AgentSession(llm=llm) as session:
            await session.start(Agent(instructions="x", tools=[fails, refuses]))
            result = await session.run(user_input="go")
            return session, result

    session, result = vrun(main)
    outputs = [e.item for e in result.events if e.type == "function_call_output"]
    assert [o.is_error for o in outputs] == [True] * 5
    assert outputs[0].output == "Unknown function: nope"
    assert outputs[1].output.startswith("Invalid arguments for fails:")
    assert "expected an integer, got 'seven'" in outputs[2].output
    assert outputs[3].output == "An internal error occurred"  # the exception text is not shown to the model
    assert outputs[4].output == "x must be positive"
    errors = [e for e in session.events if e.type == "error"]
    assert len(errors) == 1 and errors[0].source == "tool" and "database exploded" in errors[0].message
    assert _last_reply(result) == "Sorry about that."
    assert len(session.history_frame().query("type == 'function_call_output' and is_error == True")) == 5


def test_stop_response_skips_reply_and_message(vrun):
    class Quiet(Agent):
        async def on_user_turn_completed(self, turn_ctx, new_message):
            if "shh" in new_message.text_content:
                raise al.StopResponse()
            turn_ctx.add_message(role="system", content="RAG: the kitchen closes at 23:00")

    def answer(m):
        # Like a model using retrieved context: the hook's message sits before the user's.
        rag = [i.text_content for i in m.chat_ctx.items if i.type == "message" and i.role == "system" and "RAG" in i.text_content]
        return f"We close at {rag[-1].split()[-1]}." if rag else "I don't know."

    llm = ScriptedLLM(rules=[Rule(r"close", reply=answer)])

    async def main():
        async with AgentSession(llm=llm) as session:
            await session.start(Quiet(instructions="x"))
            r1 = await session.run(user_input="shh")
            r1.expect.no_more_events()
            r2 = await session.run(user_input="When do you close?")
            return session, r2

    session, r2 = vrun(main)
    assert _last_reply(r2) == "We close at 23:00."
    texts = session.history_frame()["text"].dropna().tolist()
    assert "shh" not in texts and "When do you close?" in texts
    # the hook's extra context was for that reply only
    assert not any("RAG" in t for t in texts)


def test_agent_task_from_tool_resumes_caller(vrun):
    class AskName(AgentTask[str]):
        def __init__(self):
            super().__init__(instructions="Ask for the name.")

        async def on_enter(self):
            self.session.generate_reply(instructions="ask name")

        @function_tool
        async def record_name(self, name: str) -> None:
            """Record it."""
            self.complete(name)

    class Front(Agent):
        @function_tool
        async def start_booking(self, ctx: RunContext) -> str:
            """Start a booking."""
            name = await AskName()
            return f"booking for {name}"

    llm = ScriptedLLM(
        rules=[
            Rule(r"book", tool_calls=[ScriptedToolCall("start_booking")]),
            Rule(r"ask name", reply="What's your name?"),
            Rule(r"I'm (?P<n>\w+)", tool_calls=[ScriptedToolCall("record_name", {"name": "{n}"})]),
            Rule(after_tool="start_booking", reply="Done: {output}."),
        ]
    )

    async def main():
        async with AgentSession(llm=llm) as session:
            await session.start(Front(instructions="front"))
            r1 = await session.run(user_input="I'd like to book")
            r1.expect.next_event().is_function_call(name="start_booking")
            r1.expect.next_event().is_agent_handoff(new_agent_type=AskName)
            assert r1.expect.next_event().is_message(role="assistant").event().item.text_content == "What's your name?"
            caller = next(e.speech_handle for e in session.events if e.type == "speech_created")
            assert not caller.done() and not caller.allow_interruptions  # paused in its tool, uninterruptible
            r2 = await session.run(user_input="I'm Ada")
            r2.expect.contains_function_call(name="record_name", arguments={"name": "Ada"})
            r2.expect.contains_agent_handoff(new_agent_type=Front)
            r2.expect.contains_function_call_output(output="booking for Ada")
            assert _last_reply(r2) == "Done: booking for Ada."
            front = session.current_agent
            return front

    front = vrun(main)
    assert isinstance(front, Front)
    # the task's conversation (not its tool calls) was merged into the caller's
    texts = [i.text_content for i in front.chat_ctx.items if i.type == "message"]
    assert "I'm Ada" in texts
    assert not any(i.type == "function_call" and i.name == "record_name" for i in front.chat_ctx.items)


def test_agent_task_awaited_in_on_enter(vrun):
    class Consent(AgentTask[bool]):
        async def on_enter(self):
            self.session.generate_reply(instructions="ask consent")

        @function_tool
        async def consent(self, given: bool) -> None:
            """Record consent."""
            self.complete(given)

    class Main(Agent):
        async def on_enter(self):
            ok = await Consent(instructions="consent")
            self.session.generate_reply(instructions=f"consent {'given' if ok else 'refused'}")

    llm = ScriptedLLM(
        rules=[
            Rule(r"ask consent", reply="May we record this call?"),
            Rule(r"^yes", tool_calls=[ScriptedToolCall("consent", {"given": True})]),
            Rule(r"consent given", reply="Thanks, let's start."),
        ]
    )

    async def main():
        async with AgentSession(llm=llm) as session:
            await session.start(Main(instructions="m"))
            await session.wait_for_idle()
            r = await session.run(user_input="yes")
            return r

    r = vrun(main)
    assert _last_reply(r) == "Thanks, let's start."


def test_mock_tools_replaces_tool_for_agent_class(vrun):
    async def main():
        with al.mock_tools(Host, {"check_availability": lambda party_size: f"Fully booked for {party_size}."}):
            async with AgentSession(llm=scripted_llm()) as session:
                await session.start(Host())
                await session.wait_for_idle()
                return await session.run(user_input="A table for two at 8pm please")

    r = vrun(main)
    r.expect.next_event().is_function_call(name="check_availability")
    r.expect.next_event().is_function_call_output(output="Fully booked for 2.")
    assert _last_reply(r) == "Fully booked for 2. Would that work instead?"


def test_judge_with_scripted_llm(vrun):
    judge = ScriptedLLM(
        rules=[
            Rule(
                r"Intent: .*greets.*\n\nAgent message: .*welcome",
                tool_calls=[ScriptedToolCall("check_intent", {"success": True, "reason": "ok"})],
            ),
            Rule(r"Intent:", tool_calls=[ScriptedToolCall("check_intent", {"success": False, "reason": "no greeting"})]),
        ]
    )

    async def main():
        async with AgentSession(llm=ScriptedLLM(responses=["Welcome in!", "Bye."])) as session:
            await session.start(Agent(instructions="x"))
            r = await session.run(user_input="hi")
            await r.expect.next_event().is_message(role="assistant").judge(judge, intent="greets the guest")
            r2 = await session.run(user_input="hi again")
            with pytest.raises(AssertionError, match="no greeting"):
                await r2.expect.next_event().is_message(role="assistant").judge(judge, intent="greets the guest")

    vrun(main)
    assert judge.requests[0].tool_choice == {"type": "function", "function": {"name": "check_intent"}}


def test_states_and_event_order_for_one_text_turn(vrun):
    llm = ScriptedLLM(responses=["Hello there friend."], ttft=0.2, tokens_per_second=10)

    async def main():
        session = AgentSession(llm=llm)
        await session.start(Agent(instructions="x"))
        await asyncio.sleep(1.0)
        await session.run(user_input="hi")
        await session.aclose()
        return session

    s = vrun(main)
    ev = s.events_frame()
    states = ev[ev.type == "agent_state_changed"][["created_at", "old_state", "new_state"]].values.tolist()
    # ttft 0.2 then 3 tokens at 0.1 s each: speaking from 1.2 s to 1.4 s
    assert states == [
        [0.0, "initializing", "listening"],
        [1.0, "listening", "thinking"],
        [1.2, "thinking", "speaking"],
        [1.4, "speaking", "listening"],
    ]
    assert ev.type.iloc[-1] == "close"
    assert (ev.created_at.diff().dropna() >= 0).all()
    msg = s.history.items[-1]
    assert msg.metrics["e2e_latency"] == pytest.approx(0.2)
    assert msg.metrics["llm_node_ttft"] == pytest.approx(0.2)
    m = s.metrics_frame().iloc[0]
    assert m.type == "llm_metrics" and m.ttft == pytest.approx(0.2) and m.duration == pytest.approx(0.4)
    assert m.completion_tokens == 3 and not m.cancelled
    assert ev.wall_time.iloc[0] == al.clock.DEFAULT_VIRTUAL_EPOCH


def test_interrupt_keeps_heard_text_with_tts(vrun):
    llm = ScriptedLLM(responses=["one two three four five six seven eight nine ten."], ttft=0.1, tokens_per_second=1000)
    tts = al.ScriptedTTS(words_per_minute=60, ttfb=0.5)  # one word per second

    async def main():
        session = AgentSession(llm=llm, tts=tts)
        await session.start(Agent(instructions="x"))
        handle = session.generate_reply(user_input="count")
        await asyncio.sleep(0.1 + 0.5 + 4.5)  # ttft + ttfb + four and a half words
        await session.interrupt()
        assert handle.interrupted and handle.done()
        await session.aclose()
        return session

    s = vrun(main)
    msg = s.history.items[-1]
    assert msg.role == "assistant" and msg.interrupted
    assert msg.text_content == "one two three four"
    tts_m = s.metrics_frame().query("type == 'tts_metrics'").iloc[0]
    # ttfb counts from the TTS's first text, not from the LLM request; synthesis ran ahead of playback,
    # so the TTS request itself completed (only the playback was cut)
    assert tts_m.ttfb == pytest.approx(0.5) and not tts_m.cancelled and tts_m.audio_duration == pytest.approx(10.0)
    assert msg.metrics["tts_node_ttfb"] == pytest.approx(0.5)


def test_uninterruptible_speech(vrun):
    async def main():
        session = AgentSession(llm=ScriptedLLM(responses=["a b c d e f g h"], tokens_per_second=2))
        await session.start(Agent(instructions="x"))
        handle = session.generate_reply(user_input="go", allow_interruptions=False)
        await asyncio.sleep(1.0)
        with pytest.raises(RuntimeError, match="does not allow interruptions"):
            session.interrupt()
        with pytest.raises(RuntimeError):
            handle.interrupt()
        await handle
        assert not handle.interrupted
        await session.aclose()

    vrun(main)


def test_say_and_reply_and_queueing(vrun):
    async def main():
        session = AgentSession(
            llm=ScriptedLLM(responses=["From the LLM."], ttft=0.5),
            min_consecutive_speech_delay=0.25,
            tts=al.ScriptedTTS(words_per_minute=60, ttfb=0.0),
        )
        await session.start(Agent(instructions="x"))
        h1 = session.say("Hello **there** 👋")  # two words: 2 s of audio
        h2 = await session.reply("say something")  # VideoSDK: waits for playback
        assert h1.done() and h2.done() and h2.source == "generate_reply" and h1.source == "say"
        await session.aclose()
        return session

    s = vrun(main)
    msgs = [i for i in s.history.items if i.type == "message"]
    assert [m.text_content for m in msgs] == ["Hello **there** 👋", "From the LLM."]
    states = [(e.created_at, e.new_state) for e in s.events if e.type == "agent_state_changed"]
    # the say plays 0-2 s; the reply, queued at 0, says "thinking" then (LiveKit) and its LLM and TTS
    # run meanwhile; it starts 0.25 s after the say (min_consecutive_speech_delay)
    assert states[1:] == [
        (0.0, "thinking"),
        (0.0, "speaking"),
        (2.0, "listening"),
        (2.25, "speaking"),
        (5.25, "listening"),
    ]


def test_tts_text_transforms_change_what_is_spoken_only(vrun):
    spy = SpyTTS()

    async def main():
        session = AgentSession(llm=ScriptedLLM(responses=["**Great** choice 🎉. See `you`."]), tts=spy)
        await session.start(Agent(instructions="x"))
        await session.run(user_input="hi")
        await session.aclose()
        return session

    s = vrun(main)
    assert "".join(spy.heard) == "Great choice . See you."
    assert s.history.items[-1].text_content == "**Great** choice 🎉. See `you`."


def test_builtin_transforms_inline_speak_exactly_as_the_stream_chain(vrun):
    """Built-in transforms run inline in the TTS pipe; with a stream transform among them the general
    chain runs. Markup split across chunks (the link's text has a space) is held until whole either way."""
    reply = "Read **the menu** at [our site](http://x.example/menu) 🎉 or `ask` me."

    def spoken(transforms):
        spy = SpyTTS()

        async def main():
            session = AgentSession(llm=ScriptedLLM(responses=[reply]), tts=spy, tts_text_transforms=transforms)
            await session.start(Agent(instructions="x"))
            await session.run(user_input="hi")
            await session.aclose()
            return session

        s = vrun(main)
        tts = [e.metrics for e in s.events if e.type == "metrics_collected" and e.metrics.type == "tts_metrics"]
        return spy.heard, tts[0].characters_count, tts[0].ttfb

    def identity(text):
        return text

    inline = spoken(["filter_markdown", "filter_emoji"])
    chained = spoken(["filter_markdown", "filter_emoji", identity])
    assert inline == chained
    assert "".join(inline[0]) == "Read the menu at our site  or ask me."
    assert "[our" not in inline[0] and any("our site" in chunk for chunk in inline[0])  # held until the link closed


def test_llm_node_and_tts_node_overrides(vrun):
    frames = []

    class Loud(Agent):
        async def llm_node(self, chat_ctx, tools, model_settings):
            async for chunk in Agent.default.llm_node(self, chat_ctx, tools, model_settings):
                if chunk.delta and chunk.delta.content:
                    yield chunk.delta.content.upper()

        async def tts_node(self, text, model_settings):
            async for frame in Agent.default.tts_node(self, text, model_settings):
                frames.append(frame)
                yield frame

    async def main():
        session = AgentSession(llm=ScriptedLLM(responses=["quiet words"]), tts=al.ScriptedTTS())
        await session.start(Loud(instructions="x"))
        r = await session.run(user_input="hi")
        await session.aclose()
        return r

    r = vrun(main)
    assert _last_reply(r) == "QUIET WORDS"
    assert frames and frames[0].text.strip() == "QUIET WORDS"


def test_run_context_fields(vrun):
    seen = {}

    @function_tool
    async def probe(ctx: RunContext, n: int) -> str:
        """Probe."""
        seen.update(session=ctx.session, userdata=ctx.userdata, speech=ctx.speech_handle.id, call=ctx.function_call.name)
        return "ok"

    async def main():
        session = AgentSession(
            llm=ScriptedLLM(responses=[ScriptedResponse(tool_calls=[ScriptedToolCall("probe", {"n": 1})]), "done"]),
            userdata={"k": 1},
            tools=[probe],
        )
        await session.start(Agent(instructions="x"))
        await session.run(user_input="go")
        await session.aclose()
        return session

    s = vrun(main)
    assert seen == {"session": s, "userdata": {"k": 1}, "speech": "speech_1", "call": "probe"}


def test_away_timer_and_wake_up(vrun):
    woke = []

    async def main():
        session = AgentSession(llm=ScriptedLLM(responses=["hi", "Still there?"]), user_away_timeout=5.0, wake_up=3.0)

        async def on_wake_up():
            woke.append(session.now())
            await session.say("Are you still there?")

        session.on_wake_up = on_wake_up
        await session.start(Agent(instructions="x"))
        await asyncio.sleep(20)
        session.generate_reply(user_input="yes")
        await session.wait_for_idle()
        await session.aclose()
        return session

    s = vrun(main)
    user_states = [(e.created_at, e.new_state) for e in s.events if e.type == "user_state_changed"]
    assert woke == [3.0]
    # the wake-up speech reset idleness; away came 5 s after it ended, and text input brought the user back
    assert user_states[0] == (8.0, "away")
    assert user_states[1] == (20.0, "listening")


def test_wake_up_without_callback_is_a_clear_error(vrun):
    async def main():
        session = AgentSession(llm=ScriptedLLM(), wake_up=10)
        await session.start(Agent(instructions="x"))

    with pytest.raises(ValueError, match="wake_up is set but no on_wake_up callback"):
        vrun(main)


def test_virtual_runs_are_identical():
    from agentlab.examples.restaurant import QUICKSTART_SCRIPT

    a = al.simulate(Host, {"llm": scripted_llm(), "userdata": {}}, QUICKSTART_SCRIPT)
    b = al.simulate(Host, {"llm": scripted_llm(), "userdata": {}}, QUICKSTART_SCRIPT)
    pd.testing.assert_frame_equal(a.history, b.history)
    pd.testing.assert_frame_equal(a.events, b.events)
    pd.testing.assert_frame_equal(a.metrics, b.metrics)
    assert len(a.events) > 40 and a.duration > 10


def test_ten_minute_conversation_simulates_fast():
    turns = [al.UserTurn(f"question {i}", delay=10.0) for i in range(60)]
    run = al.simulate(
        lambda: Agent(instructions="x"), {"llm": ScriptedLLM(rules=[Rule(reply="An answer of eight words for you here.")])}, turns
    )
    assert run.duration > 600
    assert run.wall_seconds < 1.0


def test_text_barge_in_interrupts_and_orders_history():
    llm = ScriptedLLM(responses=["a " * 40, "Okay."], tokens_per_second=10)
    run = al.simulate(lambda: Agent(instructions="x"), {"llm": llm}, [al.UserTurn("start"), al.UserTurn("stop!", at=3.0, interrupt=True)])
    msgs = run.history[run.history.type == "message"][["role", "text", "interrupted"]].values.tolist()
    assert msgs[0][:2] == ["user", "start"]
    assert msgs[1][0] == "assistant" and msgs[1][2] is True and len(msgs[1][1].split()) < 40
    assert msgs[2][:2] == ["user", "stop!"]  # the cut reply comes before the message that cut it
    assert msgs[3][1] == "Okay."


def test_session_repr_and_html(vrun):
    async def main():
        session = AgentSession(llm=ScriptedLLM(responses=["<b>hi</b>"]))
        await session.start(Agent(instructions="x"))
        await session.run(user_input="hello & welcome")
        return session

    s = vrun(main)
    assert "AgentSession(agent=default_agent" in repr(s)  # a plain Agent is "default_agent" (LiveKit)
    html = s._repr_html_()
    assert "&lt;b&gt;hi&lt;/b&gt;" in html and "hello &amp; welcome" in html


def test_frames_have_documented_columns(vrun):
    from agentlab import frames

    async def main():
        session = AgentSession(llm=ScriptedLLM(responses=["x"]))
        await session.start(Agent(instructions="x"))
        await session.run(user_input="y")
        await session.aclose()
        return session

    s = vrun(main)
    assert list(s.history_frame().columns) == frames.HISTORY_COLUMNS
    assert list(s.events_frame().columns) == frames.EVENT_COLUMNS
    assert list(s.metrics_frame().columns) == frames.METRICS_COLUMNS
    for col in frames.HISTORY_COLUMNS + frames.EVENT_COLUMNS + frames.METRICS_COLUMNS:
        assert f"``{col}``" in frames.__doc__ or col in frames.__doc__, col
    assert s.events_frame()["created_at"].dtype == "float64"


def test_no_event_after_close_and_closed_session_refuses_work(vrun):
    async def main():
        session = AgentSession(llm=ScriptedLLM())
        await session.start(Agent(instructions="x"))
        await session.aclose()
        n = len(session.events)
        with pytest.raises(RuntimeError, match="closing"):
            session.generate_reply(user_input="hi")
        session._set_agent_state("thinking")
        assert len(session.events) == n
        return session

    s = vrun(main)
    assert s.events[-1].type == "close" and s.events[-1].reason == "user_initiated"


def test_commit_and_clear_user_turn(vrun):
    async def main():
        session = AgentSession(llm=ScriptedLLM(rules=[Rule(r"(?P<t>.+)", reply="you said: {t}")]))
        await session.start(Agent(instructions="x"))
        session._user_turn.push("book a", is_final=True)
        session._user_turn.push("table", is_final=False)
        text = await session.commit_user_turn()
        await session.wait_for_idle()
        session._user_turn.push("ignored", is_final=True)
        session.clear_user_turn()
        assert await session.commit_user_turn() == ""
        await session.aclose()
        return session, text

    s, text = vrun(main)
    assert text == "book a table"
    assert [i.text_content for i in s.history.items if i.type == "message"] == ["book a table", "you said: book a table"]


def test_session_rejects_bad_arguments():
    with pytest.raises(TypeError, match="unknown argument"):
        AgentSession(min_endpoint_delay=0.3)
    with pytest.raises(ValueError, match=r"interruption.min_duration = -0.1 is out of range"):
        AgentSession(turn_handling={"interruption": {"min_duration": -0.1}})
    with pytest.raises(ValueError, match="turn_detection = 'vda'"), pytest.warns(DeprecationWarning):
        AgentSession(turn_detection="vda")


def test_callbacks_must_be_sync_and_known():
    s = AgentSession()
    with pytest.raises(ValueError, match="unknown event"):
        s.on("agent_state_change", print)

    async def cb(e):
        pass

    with pytest.raises(ValueError, match="synchronous"):
        s.on("close", cb)


def test_history_to_dict_round_trip(vrun):
    async def main():
        session = AgentSession(llm=scripted_llm())
        await session.start(Host())
        await session.run(user_input="A table for 2 at 9pm?")
        await session.aclose()
        return session

    s = vrun(main)
    data = json.loads(json.dumps(s.history.to_dict()))
    back = al.ChatContext.from_dict(data)
    pd.testing.assert_frame_equal(al.history_frame(back), s.history_frame())


def test_handoff_without_value_has_no_old_agent_reply_and_speech_fields(vrun):
    class Second(Agent):
        async def on_enter(self):
            self.session.generate_reply(instructions="hello from second")

    class First(Agent):
        @function_tool
        async def go_second(self) -> Agent:
            """Hand off."""
            return Second(instructions="second")

    llm = ScriptedLLM(
        rules=[
            Rule(r"switch", tool_calls=[ScriptedToolCall("go_second")]),
            Rule(r"hello from second", reply="Second here."),
            Rule(after_tool="go_second", reply="SHOULD NOT BE SAID"),
        ]
    )
    exits = []

    async def main():
        async with AgentSession(llm=llm) as session:
            first = First(instructions="first")
            first.on_exit = lambda: _record(exits, "first")  # type: ignore[method-assign]
            await session.start(first)
            handle_events = []
            session.on("speech_created", lambda e: handle_events.append(e.speech_handle))
            r = await session.run(user_input="switch please")
            return r, handle_events

    r, handles = vrun(main)
    assert [e.type for e in r.events] == ["function_call", "function_call_output", "agent_handoff", "message"]
    assert _last_reply(r) == "Second here."
    assert exits == ["first"]
    h = handles[0]
    assert h.num_steps == 1 and [i.type for i in h.chat_items] == ["function_call", "function_call_output"]
    assert h.done() and not h.interrupted


async def _record(log, name):
    log.append(name)


def test_update_agent_drain_and_shutdown(vrun):
    log = []

    class A(Agent):
        async def on_exit(self):
            log.append(("exit", self.id, self.session.now()))

    class B(Agent):
        async def on_enter(self):
            log.append(("enter", self.id, self.session.now()))

    async def main():
        session = AgentSession(llm=ScriptedLLM(responses=["one two three four"], tokens_per_second=1, ttft=0))
        await session.start(A(instructions="a"))
        h = session.generate_reply(user_input="talk")
        session.update_agent(B(instructions="b"))  # waits for A's speech to finish
        await session.wait_for_idle()
        assert h.done() and not h.interrupted
        assert isinstance(session.current_agent, B)
        session.say("bye bye")
        session.shutdown(drain=True)  # lets the queued say finish, then closes
        await session._closed.wait()
        return session

    s = vrun(main)
    assert log == [("exit", "a", 0.0), ("enter", "b", 3.0)]  # on_exit first, then A's speech drains (LiveKit)
    msgs = [i.text_content for i in s.history.items if i.type == "message"]
    assert msgs == ["talk", "one two three four", "bye bye"]
    assert s.events[-1].type == "close"


def test_aclose_interrupts_speech_and_waits_for_running_tool(vrun):
    done = []

    @function_tool
    async def slow() -> str:
        """Slow."""
        await asyncio.sleep(5)
        done.append(True)
        return "finished"

    llm = ScriptedLLM(responses=[ScriptedResponse(tool_calls=[ScriptedToolCall("slow")]), "SHOULD NOT BE SAID"], ttft=0.0)

    async def main():
        session = AgentSession(llm=llm, tools=[slow])
        await session.start(Agent(instructions="x"))
        session.generate_reply(user_input="go")
        await asyncio.sleep(1.5)
        await session.aclose()
        return session

    s = vrun(main)
    assert done == [True]  # the tool was allowed to finish (LiveKit awaits running tools)
    h = s.history_frame()
    assert h[h.type == "function_call_output"]["output"].tolist() == ["finished"]
    assert "SHOULD NOT BE SAID" not in h["text"].tolist()  # no follow-up step after the interruption
    assert len(llm.requests) == 1
    assert s.events[-1].type == "close" and s.now() == 5.0


def test_tool_call_without_any_tools_offered_gets_an_error_output(vrun):
    llm = ScriptedLLM(responses=[ScriptedResponse(tool_calls=[ScriptedToolCall("ghost", {})]), "Sorry."])

    async def main():
        async with AgentSession(llm=llm) as session:
            await session.start(Agent(instructions="x"))
            return await session.run(user_input="go")

    r = vrun(main)
    r.expect.next_event().is_function_call(name="ghost")
    r.expect.next_event().is_function_call_output(output="Unknown function: ghost", is_error=True)


def test_chat_context_is_equivalent_as_livekit():
    ctx = ChatContext()
    ctx.add_message(role="user", content="hi", id="u1")
    ctx.add_message(role="assistant", content="hello", id="a1")
    copy = ctx.copy()
    assert copy.is_equivalent(ctx) and ctx.is_equivalent(ctx)
    twin = ChatContext([ChatMessage(role=m.role, content=list(m.content), id=m.id, created_at=m.created_at + 1) for m in ctx.items])
    assert twin.is_equivalent(ctx)  # timestamps and metrics do not count
    twin.items[1].content[:] = ["hello!"]
    assert not twin.is_equivalent(ctx)  # different words under the same id
    copy.add_message(role="user", content="more")
    assert not copy.is_equivalent(ctx)
    other_id = ChatContext([ctx.items[0], ChatMessage(role="assistant", content=["hello"], id="a2")])
    assert not other_id.is_equivalent(ctx)


@pytest.mark.parametrize(
    "chunks",
    [
        ["Hi there.", " How are", " you? Fine", " thanks."],
        ["Hi there", ".", " How are you?", " ", "Fine thanks."],
        ["One! Two", "? Three.", "  Four"],
        ["no sentence end at all"],
    ],
)
def test_scripted_tts_speaks_sentence_by_sentence_however_the_text_is_cut(vrun, chunks):
    tts = ScriptedTTS(ttfb=0.0)

    async def main():
        async def text():
            for c in chunks:
                yield c

        return [f.text async for f in tts.stream(text())]

    spoken = vrun(main)
    whole = "".join(chunks)
    sentences = [s + " " for s in re.split(r"(?<=[.!?])\s+", whole)[:-1]] + [re.split(r"(?<=[.!?])\s+", whole)[-1]]
    assert spoken == [s for s in sentences if s.strip()]
