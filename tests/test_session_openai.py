"""AgentSession driven by the real ``openai`` client (through OpenAILLM) against the local scripted server.

Everything runs on the real clock with plain ``async def`` tests: the HTTP traffic is real
(127.0.0.1), the client is never patched, and faults are injected by the server.
"""

from __future__ import annotations

import asyncio
import json
import time
import traceback
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from openai_server import (
    OpenAIServer,
    ToolCall,
    cut_stream,
    delay_fault,
    empty_reply,
    malformed_tool_call,
    reply,
    status_fault,
)

from agentlab import Agent, AgentSession, OpenAILLM, function_tool
from agentlab.chat import ChatMessage, FunctionCall, FunctionCallOutput
from agentlab.models.llm import APIConnectionError, APIConnectOptions, APIStatusError, APITimeoutError
from agentlab.session.events import CloseEvent, ErrorEvent

#: A recognizable fake key: it must never show up in reprs, frames or error messages.
pytestmark = pytest.mark.usefixtures("no_openai_env")  # keys and URLs come from the tests

API_KEY = "test-PLANTED0123456789abcdef"
INSTRUCTIONS = "You are a weather assistant."
#: No ``run()`` in this file may take longer than this (a hang fails fast instead of blocking CI).
RUN_TIMEOUT = 5.0


def _last_reply(result):
    """The run's last assistant text (LiveKit's final_output is an AgentTask's result, not this)."""
    return next(e.item.text_content for e in reversed(result.events) if e.type == "message" and e.item.role == "assistant")


@function_tool
async def get_weather(city: str) -> str:
    """Current weather for a city."""
    return f"sunny in {city}"


MakeSession = Callable[..., Awaitable[tuple[AgentSession, OpenAILLM]]]


@pytest.fixture
async def make_session(server: OpenAIServer) -> AsyncIterator[MakeSession]:
    """``await make_session(max_retries=..., timeout=..., retry_interval=..., **session_kwargs)`` -> a started (session, llm)."""
    made: list[tuple[AgentSession, OpenAILLM]] = []

    async def make(
        *, max_retries: int = 0, timeout: float = 2.0, retry_interval: float = 2.0, agent: Agent | None = None, **session_kwargs: Any
    ) -> Any:
        options = APIConnectOptions(max_retry=max_retries, timeout=timeout, retry_interval=retry_interval)
        llm = OpenAILLM(base_url=server.base_url, api_key=API_KEY, conn_options=options)
        session = AgentSession(llm=llm, **session_kwargs)
        made.append((session, llm))
        await session.start(agent or Agent(instructions=INSTRUCTIONS, tools=[get_weather]))
        return session, llm

    yield make
    for session, llm in made:
        await asyncio.wait_for(session.aclose(), RUN_TIMEOUT)
        await llm.aclose()


async def run(session: AgentSession, text: str) -> Any:
    return await asyncio.wait_for(session.run(user_input=text), RUN_TIMEOUT)


def assistant_texts(session: AgentSession) -> list[str]:
    return [it.text_content or "" for it in session.history.items if isinstance(it, ChatMessage) and it.role == "assistant"]


def errors_of(session: AgentSession) -> list[ErrorEvent]:
    return [e for e in session.events if isinstance(e, ErrorEvent)]


# --- a normal tool-using turn ----------------------------------------------------------------------


async def test_tool_turn_through_the_openai_client(server: OpenAIServer, make_session: MakeSession) -> None:
    server.enqueue(
        reply(tool_calls=[ToolCall("get_weather", '{"city": "Paris"}', call_id="call_w1")]),
        reply("It is sunny in Paris today."),
    )
    session, _ = await make_session()
    result = await run(session, "What's the weather in Paris?")

    ex = result.expect
    ex.next_event().is_function_call(name="get_weather", arguments={"city": "Paris"})
    ex.next_event().is_function_call_output(output="sunny in Paris", is_error=False)
    ex.next_event().is_message(role="assistant")
    ex.no_more_events()
    assert _last_reply(result) == "It is sunny in Paris today."
    assert result.expect[0].event().item.call_id == "call_w1", "the server's call id is kept"

    assert server.request_count == 2
    first, second = (r.body for r in server.completions)
    assert [m["role"] for m in first["messages"]] == ["system", "user"]
    assert first["messages"][0]["content"] == INSTRUCTIONS
    assert first["tools"] == [get_weather.to_openai()]
    assert "tool_choice" not in first, "the first step leaves tool_choice to the server"

    assert second["messages"][:2] == first["messages"]
    assert second["messages"][2:] == [
        {
            "role": "assistant",
            "tool_calls": [{"id": "call_w1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'}}],
        },
        {"role": "tool", "tool_call_id": "call_w1", "content": "sunny in Paris"},
    ]
    assert second["tool_choice"] == "auto", "tool follow-ups are sent with tool_choice='auto'"
    assert server.completions[0].headers["authorization"] == f"Bearer {API_KEY}"

    llm_metrics = session.metrics_frame().query("type == 'llm_metrics'")
    assert len(llm_metrics) == 2
    assert llm_metrics["provider"].tolist() == ["openai", "openai"]
    assert (llm_metrics["ttft"] > 0).all()
    assert llm_metrics["prompt_tokens"].tolist() == [10, 10]
    assert errors_of(session) == []


async def test_max_tool_steps_forces_a_final_text_reply(server: OpenAIServer, make_session: MakeSession) -> None:
    # The model always answers with a tool call; the third answer also carries text.
    call = ToolCall("get_weather", '{"city": "Oslo"}')
    server.default = reply(tool_calls=[call])
    server.enqueue(reply(tool_calls=[call]), reply(tool_calls=[call]), reply("Final answer: sunny in Oslo.", tool_calls=[call]))
    session, _ = await make_session(max_tool_steps=1)
    result = await run(session, "Weather in Oslo?")

    # LiveKit 1.8.9: max_tool_steps=N allows N+1 tool rounds, then one request with tool_choice="none".
    assert server.request_count == 3
    assert [r.body.get("tool_choice") for r in server.completions] == [None, "auto", "none"]
    assert server.last_body["tool_choice"] == "none"
    assert _last_reply(result) == "Final answer: sunny in Oslo."
    assert assistant_texts(session) == ["Final answer: sunny in Oslo."]
    calls = [it for it in session.history.items if isinstance(it, FunctionCall)]
    assert len(calls) == 2, "the tool call made under tool_choice='none' is ignored"
    await asyncio.sleep(0.05)
    assert server.request_count == 3, "nothing is requested after the forced final reply"


# --- provider faults at session level --------------------------------------------------------------


async def test_429_then_success_is_retried(server: OpenAIServer, make_session: MakeSession) -> None:
    server.enqueue(status_fault(429, retry_after=0.01), reply("Back after a short wait."))
    session, _ = await make_session(max_retries=2)
    started = time.monotonic()
    result = await run(session, "Hello?")
    assert time.monotonic() - started < 1.5, "LiveKit's first retry comes after 0.1 s"
    assert _last_reply(result) == "Back after a short wait."
    assert server.request_count == 2
    # The failed attempt is reported, as LiveKit's retrying streams do: recoverable, nothing else changes.
    (err,) = errors_of(session)
    assert (err.source, err.recoverable) == ("llm", True)
    assert err.message.endswith("HTTP 429: scripted HTTP 429 (retry-after 10 ms) (attempt 1 of 3 failed; retrying in 0.1 s)")
    assert session.agent_state == "listening" and not any(e.type == "close" for e in session.events)


async def test_persistent_500_emits_unrecoverable_llm_error_and_run_raises(server: OpenAIServer, make_session: MakeSession) -> None:
    server.default = status_fault(500, message="upstream exploded", retry_after=0.01)
    session, _ = await make_session(max_retries=0)
    seen: list[ErrorEvent] = []
    session.on("error", seen.append)

    # max_retry=0: LiveKit re-raises the provider's own error.
    with pytest.raises(APIStatusError, match="upstream exploded") as info:
        await run(session, "Hello?")

    assert server.request_count == 1, "max_retries=0: no retry"
    assert len(seen) == 1
    err = seen[0]
    assert err.error is info.value
    assert (err.source, err.recoverable) == ("llm", False), "the request failed for good"
    assert isinstance(err.error, APIStatusError) and err.error.status_code == 500
    assert "upstream exploded" in err.message
    assert errors_of(session) == seen
    assert assistant_texts(session) == []
    assert [it.role for it in session.history.items if isinstance(it, ChatMessage)] == ["user"], "the user message stays"
    assert session.agent_state == "listening"
    frame = session.events_frame()
    row = frame[frame["type"] == "error"].iloc[0]
    assert (row["source"], bool(row["recoverable"])) == ("llm", False)


async def test_timeout_fault_emits_error_without_hanging(server: OpenAIServer, make_session: MakeSession) -> None:
    server.enqueue(delay_fault(5.0))
    session, _ = await make_session(max_retries=0, timeout=0.3)
    started = time.monotonic()
    with pytest.raises(APITimeoutError):
        await run(session, "Hello?")
    assert time.monotonic() - started < 2.0
    (err,) = errors_of(session)
    assert isinstance(err.error, APITimeoutError)
    assert (err.source, err.recoverable) == ("llm", False)
    assert assistant_texts(session) == []


async def test_retried_attempts_are_recoverable_and_the_final_failure_is_not(server: OpenAIServer, make_session: MakeSession) -> None:
    server.enqueue(status_fault(503, retry_after=0.01), delay_fault(5.0))
    server.default = status_fault(500, retry_after=0.01)
    session, _ = await make_session(max_retries=2, timeout=0.3, retry_interval=0.05)
    with pytest.raises(APIConnectionError, match="after 3 attempts") as info:
        await run(session, "Hello?")
    assert server.request_count == 3
    got = [(e.recoverable, e.message.split("/v1: ", 1)[-1]) for e in errors_of(session)]
    assert got == [
        (True, "HTTP 503: scripted HTTP 503 (retry-after 10 ms) (attempt 1 of 3 failed; retrying in 0.1 s)"),
        (True, "no answer within 0.3s (attempt 2 of 3 failed; retrying in 0.05 s)"),
        (False, "HTTP 500: scripted HTTP 500 (retry-after 10 ms))"),
    ]
    assert errors_of(session)[-1].message.startswith("failed to generate LLM completion after 3 attempts (caused by APIStatusError: ")
    assert errors_of(session)[-1].error is info.value and isinstance(info.value.__cause__, APIStatusError)
    assert [e.source for e in errors_of(session)] == ["llm"] * 3
    assert session.agent_state == "listening"


async def test_stream_cut_midway_emits_error(server: OpenAIServer, make_session: MakeSession) -> None:
    text = "one two three four five six seven eight nine ten"
    server.enqueue(cut_stream(text, after_chunks=3))
    session, _ = await make_session(max_retries=0)
    with pytest.raises(APIConnectionError, match="stream broke off"):
        await run(session, "Count for me")
    (err,) = errors_of(session)
    assert isinstance(err.error, APIConnectionError) and not isinstance(err.error, APITimeoutError)
    assert (err.source, err.recoverable) == ("llm", False)
    assert "stream broke off" in err.message
    # What was streamed before the cut was shown; that prefix is kept, marked incomplete.
    (said,) = [it for it in session.history.items if isinstance(it, ChatMessage) and it.role == "assistant"]
    assert text.startswith(said.text_content or "") and said.text_content != text
    assert said.incomplete and not said.interrupted


async def test_malformed_tool_arguments_become_an_error_output(server: OpenAIServer, make_session: MakeSession) -> None:
    server.enqueue(malformed_tool_call("get_weather", '{"city": "Par'), reply("Sorry, which city did you mean?"))
    session, _ = await make_session()
    result = await run(session, "Weather in Paris?")

    ex = result.expect
    ex.next_event().is_function_call(name="get_weather")
    out = ex.next_event().is_function_call_output(is_error=True).event().item
    assert "invalid arguments" in out.output.lower()
    assert "get_weather" in out.output
    ex.next_event().is_message(role="assistant")
    ex.no_more_events()
    kept = [it for it in session.history.items if isinstance(it, FunctionCallOutput)]
    assert kept == [out], "the error output stays in history"
    # ... and is what the model sees on the follow-up.
    tool_msgs = [m for m in server.last_body["messages"] if m["role"] == "tool"]
    assert [m["content"] for m in tool_msgs] == [out.output]
    assert server.last_body["messages"][-2]["tool_calls"][0]["function"]["arguments"] == '{"city": "Par'


async def test_unknown_tool_becomes_an_error_output(server: OpenAIServer, make_session: MakeSession) -> None:
    server.enqueue(reply(tool_calls=[ToolCall("launch_rockets", '{"count": 3}')]), reply("I can't do that."))
    session, _ = await make_session()
    result = await run(session, "Launch the rockets")
    result.expect.next_event().is_function_call(name="launch_rockets", arguments={"count": 3})
    result.expect[1].is_function_call_output(output="Unknown function: launch_rockets", is_error=True)
    assert _last_reply(result) == "I can't do that."
    assert server.request_count == 2
    assert errors_of(session) == []


async def test_empty_completion_adds_no_message(server: OpenAIServer, make_session: MakeSession) -> None:
    server.enqueue(empty_reply())
    session, _ = await make_session()
    result = await run(session, "Hello?")
    assert result.events == []
    assert assistant_texts(session) == []
    assert [it.role for it in session.history.items if isinstance(it, ChatMessage)] == ["user"]
    assert errors_of(session) == []
    assert session.agent_state == "listening"
    # The session is still usable.
    server.enqueue(reply("Now I have something to say."))
    result = await run(session, "Still there?")
    assert _last_reply(result) == "Now I have something to say."


# --- too many failures in a row close the session -----------------------------------------------------


async def test_consecutive_llm_failures_close_the_session(server: OpenAIServer, make_session: MakeSession) -> None:
    server.default = status_fault(500, retry_after=0.01)
    session, _ = await make_session(max_retries=0)
    assert session.options.max_unrecoverable_errors == 3
    closes: list[CloseEvent] = []
    closed = asyncio.Event()

    @session.on("close")
    def _on_close(ev: CloseEvent) -> None:
        closes.append(ev)
        closed.set()

    for n in range(1, 4):
        with pytest.raises(APIStatusError):
            await run(session, f"attempt {n}")
        assert len(errors_of(session)) == n
        assert closes == [], f"still open after {n} failures"
    with pytest.raises(APIStatusError):
        await run(session, "attempt 4")  # the 4th failure in a row (> max_unrecoverable_errors)
    await asyncio.wait_for(closed.wait(), RUN_TIMEOUT)

    assert server.request_count == 4
    assert len(closes) == 1
    assert closes[0].reason == "error"
    assert isinstance(closes[0].error, APIStatusError)
    events = session.events
    assert events[-1] is closes[0], "close is the last event"
    assert sum(e.type == "close" for e in events) == 1
    assert [e.type for e in events].count("error") == 4
    with pytest.raises(RuntimeError, match="closing"):
        session.generate_reply(user_input="anyone?")
    await session.aclose()
    await asyncio.sleep(0.05)
    assert session.events == events, "no event follows close"
    assert server.request_count == 4


# --- judge() with a real client ------------------------------------------------------------------------


async def test_judge_with_openai_llm(server: OpenAIServer, make_session: MakeSession) -> None:
    server.enqueue(reply("It is sunny in Paris."))
    session, llm = await make_session()
    result = await run(session, "Weather in Paris?")
    msg = result.expect.next_event().is_message(role="assistant")

    verdict = {"success": True, "reason": "It states the weather in Paris."}
    server.enqueue(reply(tool_calls=[ToolCall("check_intent", json.dumps(verdict))]))
    assert await msg.judge(llm, intent="tells the weather in Paris") is msg
    body = server.last_body
    assert body["tool_choice"] == {"type": "function", "function": {"name": "check_intent"}}
    assert [t["function"]["name"] for t in body["tools"]] == ["check_intent"]
    assert "tells the weather in Paris" in body["messages"][-1]["content"]
    assert "It is sunny in Paris." in body["messages"][-1]["content"]

    verdict = {"success": False, "reason": "It talks about Paris but BLUE-HERON-REASON."}
    server.enqueue(reply(tool_calls=[ToolCall("check_intent", json.dumps(verdict))]))
    with pytest.raises(AssertionError, match="BLUE-HERON-REASON") as info:
        await msg.judge(llm, intent="offers to book a flight")
    assert "offers to book a flight" in str(info.value)
    assert server.last_body["tool_choice"] == {"type": "function", "function": {"name": "check_intent"}}


# --- the API key never leaks --------------------------------------------------------------------------


async def test_api_key_never_leaks(server: OpenAIServer, make_session: MakeSession) -> None:
    # A server that echoes the key back in its error, as some proxies do.
    server.enqueue(
        status_fault(500, message=f"Incorrect API key provided: {API_KEY}"),
        reply(tool_calls=[ToolCall("get_weather", '{"city": "Rome"}')]),
        reply("Sunny in Rome."),
    )
    session, llm = await make_session(max_retries=0)
    with pytest.raises(APIStatusError) as raised:
        await run(session, "Hello?")
    await run(session, "Weather in Rome?")
    assert server.completions[0].headers["authorization"] == f"Bearer {API_KEY}", "the planted key is the one in use"

    (err,) = errors_of(session)
    assert "Incorrect API key provided" in err.message, "the error is still informative"
    texts = {
        "repr(session)": repr(session),
        "repr(llm)": repr(llm),
        "events_frame": session.events_frame().to_string(),
        "events_frame cells": " ".join(map(str, session.events_frame().to_numpy().ravel())),
        "history_frame": session.history_frame().to_string(),
        "metrics_frame": session.metrics_frame().to_string(),
        "error message": err.message,
        "str(error)": str(err.error),
        "repr(error)": repr(err.error),
        "html": session._repr_html_(),
        "traceback": "".join(traceback.format_exception(err.error)),
        "raised by run()": "".join(traceback.format_exception(raised.value)),
        "error body": repr(getattr(err.error, "body", None)),
    }
    for where, text in texts.items():
        assert API_KEY not in text, f"API key leaked in {where}"
        assert "PLANTED0123456789" not in text, f"part of the API key leaked in {where}"


# --- start() then run() at once -------------------------------------------------------------------------


async def test_run_right_after_start(server: OpenAIServer) -> None:
    # The AgentSession docstring example: ``await session.start(agent)`` then at once ``await session.run(...)``
    # (start() must return with the agent's activity in place, as in LiveKit).
    server.enqueue(reply("Hi!"))
    llm = OpenAILLM(base_url=server.base_url, api_key=API_KEY, max_retries=0, timeout=2.0)
    try:
        async with AgentSession(llm=llm) as session:
            await session.start(Agent(instructions=INSTRUCTIONS))
            result = await run(session, "Hello")
            assert _last_reply(result) == "Hi!"
    finally:
        await llm.aclose()
