"""Lifecycle edge cases: closing from tools, hung tools, handoff ordering, runs, AgentTask corners."""

from __future__ import annotations

import asyncio

import pandas as pd
import pytest

import agentlab as al
from agentlab import Agent, AgentSession, AgentTask, Rule, ScriptedLLM, ScriptedResponse, ScriptedToolCall, function_tool
from agentlab.clock import VirtualClockDeadlock


def _last_reply(result):
    """The run's last assistant text (LiveKit's final_output is an AgentTask's result, not this)."""
    return next(e.item.text_content for e in reversed(result.events) if e.type == "message" and e.item.role == "assistant")


def test_tool_that_replies_then_closes_the_session_does_not_deadlock(vrun):
    @function_tool
    async def goodbye(ctx: al.RunContext) -> None:
        """End the call."""
        ctx.session.generate_reply(instructions="say bye")
        await ctx.session.aclose()

    llm = ScriptedLLM(rules=[Rule(r"bye$", tool_calls=[ScriptedToolCall("goodbye")]), Rule(reply="Bye!")], ttft=0.1)

    async def main():
        session = AgentSession(llm=llm, tools=[goodbye])
        await session.start(Agent(instructions="x"))
        session.generate_reply(user_input="bye")
        await asyncio.wait_for(session._closed.wait(), timeout=30)
        return session

    s = vrun(main)
    assert s.events[-1].type == "close" and s.events[-1].reason == "user_initiated"


def test_hung_tool_is_cancelled_five_seconds_after_an_interrupt(vrun):
    @function_tool
    async def hang() -> str:
        """Never returns."""
        await asyncio.Event().wait()
        return "never"

    async def main():
        session = AgentSession(llm=ScriptedLLM(responses=[ScriptedResponse(tool_calls=[ScriptedToolCall("hang")])], ttft=0), tools=[hang])
        await session.start(Agent(instructions="x"))
        handle = session.generate_reply(user_input="go")
        await asyncio.sleep(1)
        await session.interrupt()  # resolves once the watchdog has cancelled the hung tool
        t = session.now()
        await session.aclose()
        return handle, t

    handle, t = vrun(main)
    assert handle.done() and handle.interrupted
    assert t == 6.0  # interrupted at 1 s + LiveKit's 5 s watchdog


def test_tool_timeout_turns_a_hung_tool_into_an_error_output_and_the_reply_goes_on(vrun):
    cancelled = []

    @function_tool
    async def hang() -> str:
        """Never returns."""
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.append(asyncio.get_running_loop().time())
            raise
        return "never"

    @function_tool
    async def own_timeout() -> str:
        """Raises TimeoutError itself: a tool bug, not our timeout."""
        raise TimeoutError("upstream took too long")

    llm = ScriptedLLM(
        responses=[
            ScriptedResponse(tool_calls=[ScriptedToolCall("hang"), ScriptedToolCall("own_timeout")]),
            ScriptedResponse(text="Sorry, that took too long."),
        ],
        ttft=0,
    )

    async def main():
        session = AgentSession(llm=llm, tools=[hang, own_timeout], tool_timeout=2.5)
        await session.start(Agent(instructions="x"))
        result = await session.run(user_input="go")
        await session.aclose()
        return session, result

    session, result = vrun(main)
    assert cancelled == [2.5], "the hung tool was cancelled at the timeout"
    outputs = {e.item.name: e.item for e in result.events if e.type == "function_call_output"}
    assert (outputs["hang"].output, outputs["hang"].is_error) == ("hang did not finish within 2.5 seconds", True)
    assert (outputs["own_timeout"].output, outputs["own_timeout"].is_error) == ("An internal error occurred", True)
    assert _last_reply(result) == "Sorry, that took too long."
    errors = [(e.source, e.recoverable, type(e.error).__name__) for e in session.events if e.type == "error"]
    assert sorted(errors) == [("tool", True, "TimeoutError"), ("tool", True, "_ToolTimeout")]
    timed_out = next(e for e in session.events if e.type == "error" and type(e.error).__name__ == "_ToolTimeout")
    assert timed_out.message == "tool hang did not finish within 2.5s (tool_timeout) and was cancelled"
    assert session.events[-1].type == "close" and session.events[-1].reason == "user_initiated"


def test_tool_timeout_is_validated():
    with pytest.raises(ValueError, match="tool_timeout"):
        AgentSession(tool_timeout=0)


def test_aclose_runs_on_exit_and_drain_lets_on_exit_speak(vrun):
    log = []

    class Polite(Agent):
        async def on_exit(self):
            log.append(self.session.now())

    async def main():
        s1 = AgentSession(llm=ScriptedLLM())
        await s1.start(Polite(instructions="x"))
        await s1.aclose()

        class Farewell(Agent):
            async def on_exit(self):
                self.session.say("Goodbye!")  # speech scheduled from on_exit still plays when handing off

        s2 = AgentSession(llm=ScriptedLLM())
        await s2.start(Farewell(instructions="x"))
        s2.update_agent(Agent(instructions="next"))
        await s2.wait_for_idle()
        await s2.aclose()
        return s2

    s2 = vrun(main)
    assert log == [0.0]
    texts = [i.text_content for i in s2.history.items if i.type == "message"]
    assert texts == ["Goodbye!"]


def test_start_queues_on_enter_greeting_before_the_first_run(vrun):
    from agentlab.examples.restaurant import Host, scripted_llm

    async def main():
        async with AgentSession(llm=scripted_llm()) as session:
            await session.start(Host())
            r = await session.run(user_input="A table for 2 at 9pm?")
            return session, r

    s, r = vrun(main)
    spoken = [i.text_content for i in s.history.items if i.type == "message" and i.role == "assistant"]
    assert spoken[0].startswith("Welcome to Chez Lab")  # the greeting was queued, and spoken, first
    assert [e.type for e in r.events] == ["function_call", "function_call_output", "message"]  # not the greeting


def test_run_collects_only_its_own_speeches(vrun):
    async def main():
        session = AgentSession(llm=ScriptedLLM(responses=["Answer."]), tts=al.ScriptedTTS(words_per_minute=60, ttfb=0))
        await session.start(Agent(instructions="x"))
        session.say("a long announcement of several words")
        r = await session.run(user_input="question")
        await session.aclose()
        return r

    r = vrun(main)
    assert [(e.type, e.item.text_content) for e in r.events] == [("message", "Answer.")]


def test_two_update_agent_calls_hand_off_in_order(vrun):
    log = []

    def agent(name):
        class A(Agent):
            async def on_enter(self):
                log.append(("enter", name))

            async def on_exit(self):
                log.append(("exit", name))

        return A(instructions=name, id=name)

    async def main():
        session = AgentSession(llm=ScriptedLLM(responses=["hello there friend"], tokens_per_second=3))
        await session.start(agent("a"))
        session.generate_reply(user_input="hi")
        session.update_agent(agent("b"))
        session.update_agent(agent("c"))
        await session.wait_for_idle()
        await session.aclose()
        return session

    s = vrun(main)
    assert log == [("enter", "a"), ("exit", "a"), ("enter", "b"), ("exit", "b"), ("enter", "c"), ("exit", "c")]
    handoffs = [(i.old_agent_id, i.new_agent_id) for i in s.history.items if i.type == "agent_handoff"]
    assert handoffs == [(None, "a"), ("a", "b"), ("b", "c")]
    assert "hello there friend" in [i.text_content for i in s.history.items if i.type == "message"]  # a's speech was not cut


def test_speech_is_refused_while_an_agent_drains(vrun):
    async def main():
        session = AgentSession(llm=ScriptedLLM(responses=["one two three"], tokens_per_second=1))
        await session.start(Agent(instructions="x"))
        session.generate_reply(user_input="hi")
        session.update_agent(Agent(instructions="y", id="next"))
        await asyncio.sleep(0.5)
        with pytest.raises(RuntimeError, match="draining"):
            session.generate_reply(user_input="too early")
        await session.wait_for_idle()
        await session.aclose()

    vrun(main)


def test_agent_task_on_enter_from_a_tool_may_use_tools_and_followup_sees_its_messages(vrun):
    class AskName(AgentTask[str]):
        async def on_enter(self):
            self.session.generate_reply(instructions="ask name")

        @function_tool
        async def record_name(self, name: str) -> None:
            """Record."""
            self.complete(name)

    class Main(Agent):
        @function_tool
        async def collect(self) -> str:
            """Collect the name."""
            return await AskName(instructions="ask")

    def thanks(m):
        said = [i.text_content for i in m.chat_ctx.items if i.type == "message" and i.role == "user"]
        return f"Thanks {m.fields['output']} (heard: {said[-1]})"

    llm = ScriptedLLM(
        rules=[
            Rule(r"^start", tool_calls=[ScriptedToolCall("collect")]),
            Rule(r"ask name", reply="What's your name?"),
            Rule(r"I'm (?P<n>\w+)", tool_calls=[ScriptedToolCall("record_name", {"name": "{n}"})]),
            Rule(after_tool="collect", reply=thanks),
        ]
    )

    async def main():
        async with AgentSession(llm=llm) as session:
            await session.start(Main(instructions="m"))
            await session.run(user_input="start")
            r = await session.run(user_input="I'm Bo")
            return r

    r = vrun(main)
    choices = [req.tool_choice for req in llm.requests]
    assert choices[1] is None  # the task's on_enter reply was not forced to tool_choice="none"
    assert _last_reply(r) == "Thanks Bo (heard: I'm Bo)"  # the follow-up saw what was said during the task


def test_agent_task_completed_with_an_exception_raises_in_caller(vrun):
    class Failing(AgentTask[str]):
        async def on_enter(self):
            self.complete(ValueError("no consent"))

    caught = []

    class Main(Agent):
        async def on_enter(self):
            try:
                await Failing(instructions="f")
            except ValueError as exc:
                caught.append(str(exc))

    async def main():
        async with AgentSession(llm=ScriptedLLM()) as session:
            await session.start(Main(instructions="m"))
            await session.wait_for_idle()

    vrun(main)
    assert caught == ["no consent"]


def test_empty_chat_ctx_is_used_as_given(vrun):
    llm = ScriptedLLM(responses=["ok"])

    async def main():
        async with AgentSession(llm=llm) as session:
            await session.start(Agent(instructions="x"))
            await session.run(user_input="remember me")
            await session.generate_reply(instructions="greet", chat_ctx=al.ChatContext())

    vrun(main)
    sent = [(i.role, i.text_content) for i in llm.requests[-1].chat_ctx.items]
    assert sent == [("system", "x"), ("system", "greet")]


def test_ids_repeat_across_identical_sessions_outside_simulate():
    def once():
        async def main():
            llm = ScriptedLLM(responses=[ScriptedResponse(tool_calls=[ScriptedToolCall("t")]), "done"])

            @function_tool
            async def t() -> str:
                """T."""
                return "x"

            async with AgentSession(llm=llm, tools=[t]) as session:
                await session.start(Agent(instructions="x"))
                await session.run(user_input="go")
            return session.history_frame(), session.events_frame()

        return al.VirtualClock().run(main)

    (h1, e1), (h2, e2) = once(), once()
    pd.testing.assert_frame_equal(h1, h2)
    pd.testing.assert_frame_equal(e1, e2)
    assert h1["call_id"].dropna().tolist() == ["call_1", "call_1"]


def test_two_agents_returned_in_one_step_make_no_handoff(vrun):
    class Main(Agent):
        @function_tool
        async def to_a(self) -> Agent:
            """A."""
            return Agent(instructions="a", id="a")

        @function_tool
        async def to_b(self) -> Agent:
            """B."""
            return Agent(instructions="b", id="b")

    llm = ScriptedLLM(responses=[ScriptedResponse(tool_calls=[ScriptedToolCall("to_a"), ScriptedToolCall("to_b")])])

    async def main():
        async with AgentSession(llm=llm) as session:
            await session.start(Main(instructions="m"))
            await session.run(user_input="go")
            return session

    s = vrun(main)
    assert s.current_agent.id == "main"
    assert any(e.type == "error" and "no handoff" in e.message for e in s.events)


def test_interrupt_stops_at_first_uninterruptible_queued_speech(vrun):
    async def main():
        session = AgentSession(llm=ScriptedLLM(), tts=al.ScriptedTTS(words_per_minute=60, ttfb=0))
        await session.start(Agent(instructions="x"))
        h1 = session.say("one two three")
        h2 = session.say("must be heard", allow_interruptions=False)
        h3 = session.say("behind it")
        await asyncio.sleep(1)
        await session.interrupt()
        await session.wait_for_idle()
        await session.aclose()
        return h1, h2, h3

    h1, h2, h3 = vrun(main)
    assert (h1.interrupted, h2.interrupted, h3.interrupted) == (True, False, False)


def test_function_tools_executed_handler_can_cancel_the_reply(vrun):
    llm = ScriptedLLM(responses=[ScriptedResponse(tool_calls=[ScriptedToolCall("t")]), "SHOULD NOT BE SAID"])

    @function_tool
    async def t() -> str:
        """T."""
        return "result"

    async def main():
        async with AgentSession(llm=llm, tools=[t]) as session:
            session.on("function_tools_executed", lambda ev: ev.cancel_tool_reply())
            await session.start(Agent(instructions="x"))
            return await session.run(user_input="go")

    r = vrun(main)
    assert [e.type for e in r.events] == ["function_call", "function_call_output"]
    assert len(llm.requests) == 1


def test_virtual_clock_reports_a_deadlock_instead_of_hanging():
    clock = al.VirtualClock(deadlock_timeout=0.2)

    async def main():
        await asyncio.get_running_loop().create_future()  # nothing will ever resolve it

    with pytest.raises(VirtualClockDeadlock, match="deadlock"):
        clock.run(main)


def test_closing_during_an_agent_task_closes_every_agent(vrun):
    log = []

    class Task(AgentTask[str]):
        async def on_exit(self):
            log.append("task exit")

    class Main(Agent):
        async def on_exit(self):
            log.append("main exit")

        async def on_enter(self):
            await Task(instructions="t")

    async def main():
        session = AgentSession(llm=ScriptedLLM())
        await session.start(Main(instructions="m"))
        await session.wait_for_idle()
        await session.aclose()
        pending = [t for t in asyncio.all_tasks() if t is not asyncio.current_task() and not t.done()]
        return session, pending

    s, pending = vrun(main)
    assert log == ["task exit", "main exit"]
    assert pending == []
    assert s.events[-1].type == "close"


@pytest.mark.parametrize("voice", [False, True], ids=["text-tools-handoff", "voice"])
def test_a_dropped_run_is_freed_at_once_without_the_cyclic_collector(voice):
    """A closed session lets go of its helpers and agents, so dropping the run frees it by reference
    counting; before, every session was a cycle and waited (events, history and all) for the
    cyclic collector, whose passes cost a 100-turn simulation a tenth of its time."""
    import gc
    import weakref

    from agentlab.engine import UserSpeech
    from agentlab.examples.restaurant import QUICKSTART_SCRIPT, Host, scripted_llm

    def run() -> al.Run:
        if voice:
            script = [UserSpeech(1.0 + 6 * i, 2.5 + 6 * i, f"Question {i}?", stt_delay=0.2) for i in range(3)]
            return al.simulate(lambda: Agent(instructions="x"), {"llm": ScriptedLLM(rules=[Rule(reply="Sure.")])}, script)
        return al.simulate(Host, {"llm": scripted_llm(), "userdata": {}}, QUICKSTART_SCRIPT)

    run()  # first-run imports and caches
    gc.collect()
    gc.disable()
    try:
        r = run()
        agents = {e.item.new_agent_id for e in r.session.events if e.type == "conversation_item_added" and e.item.type == "agent_handoff"}
        assert voice or len(agents) == 2  # a handoff: the agent handed off from must be let go too
        with pytest.raises(RuntimeError, match="not running in a session"):
            _ = r.session.current_agent.session  # as LiveKit: an agent's session ends with the session
        session = weakref.ref(r.session)
        del r
        assert session() is None
    finally:
        gc.enable()
