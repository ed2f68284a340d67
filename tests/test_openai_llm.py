"""OpenAILLM against a scripted OpenAI-compatible server, through the real ``openai`` client."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from openai_server import (
    OpenAIServer,
    ToolCall,
    Usage,
    cut_stream,
    delay_fault,
    empty_reply,
    malformed_tool_call,
    reply,
    status_fault,
    stream_error,
)

from agentlab.chat import AgentHandoff, ChatContext, FunctionCall, FunctionCallOutput
from agentlab.models.llm import (
    APIConnectionError,
    APIConnectOptions,
    APIError,
    APIStatusError,
    APITimeoutError,
    CompletionUsage,
    FunctionToolCall,
)
from agentlab.models.openai import OpenAILLM, llm_from_string, parse_model_string, to_openai_messages
from agentlab.tools import function_tool

pytestmark = pytest.mark.usefixtures("no_openai_env")  # keys and URLs come from the tests

API_KEY = "test-secret-1234"


@pytest.fixture
async def make_llm(server: OpenAIServer) -> AsyncIterator[Callable[..., OpenAILLM]]:
    made: list[OpenAILLM] = []

    def make(**kwargs: Any) -> OpenAILLM:
        kwargs.setdefault("base_url", server.base_url)
        kwargs.setdefault("api_key", API_KEY)
        kwargs.setdefault("timeout", 2.0)
        kwargs.setdefault("max_retries", 0)
        llm = OpenAILLM(**kwargs)
        made.append(llm)
        return llm

    yield make
    for llm in made:
        await llm.aclose()


@function_tool
async def get_weather(city: str) -> str:
    """Current weather for a city."""
    return "sunny"


@function_tool
async def get_time(city: str) -> str:
    """Local time in a city."""
    return "12:00"


def user_ctx(text: str = "Hello?") -> ChatContext:
    ctx = ChatContext()
    ctx.add_message(role="user", content=text)
    return ctx


Collected = tuple[list[str], list[FunctionToolCall], list[CompletionUsage]]


async def collect(llm: OpenAILLM, ctx: ChatContext | None = None, **kwargs: Any) -> Collected:
    """Drain one response into (text pieces, tool calls, usages)."""
    texts: list[str] = []
    calls: list[FunctionToolCall] = []
    usages: list[CompletionUsage] = []
    async for chunk in llm.chat(chat_ctx=ctx or user_ctx(), **kwargs):
        if chunk.delta is not None:
            if chunk.delta.content:
                texts.append(chunk.delta.content)
            calls.extend(chunk.delta.tool_calls)
        if chunk.usage is not None:
            usages.append(chunk.usage)
    return texts, calls, usages


# --- streaming ---------------------------------------------------------------------------------


async def test_streamed_text_is_reassembled(server: OpenAIServer, make_llm: Callable[..., OpenAILLM]) -> None:
    text = "The weather in Paris is sunny and mild today."
    server.enqueue(reply(text))
    texts, calls, _ = await collect(make_llm())
    assert len(texts) > 3, "the server streams text in several chunks"
    assert "".join(texts) == text
    assert calls == []


async def test_tool_call_arguments_reassembled_from_fragments(server: OpenAIServer, make_llm: Callable[..., OpenAILLM]) -> None:
    args = '{"city": "Paris", "unit": "celsius"}'
    server.enqueue(reply(tool_calls=[ToolCall("get_weather", args, call_id="call_abc")]))
    texts, calls, _ = await collect(make_llm(), tools=[get_weather])
    assert texts == []
    assert calls == [FunctionToolCall(name="get_weather", arguments=args, call_id="call_abc")]


async def test_two_parallel_tool_calls(server: OpenAIServer, make_llm: Callable[..., OpenAILLM]) -> None:
    server.enqueue(
        reply(
            "Let me check.",
            tool_calls=[ToolCall("get_weather", '{"city": "Paris"}', "call_1"), ToolCall("get_time", '{"city": "Tokyo"}', "call_2")],
        )
    )
    texts, calls, _ = await collect(make_llm(parallel_tool_calls=True), tools=[get_weather, get_time])
    assert "".join(texts) == "Let me check."
    assert [(c.name, json.loads(c.arguments), c.call_id) for c in calls] == [
        ("get_weather", {"city": "Paris"}, "call_1"),
        ("get_time", {"city": "Tokyo"}, "call_2"),
    ]
    assert server.last_body["parallel_tool_calls"] is True


async def test_malformed_tool_arguments_are_passed_through(server: OpenAIServer, make_llm: Callable[..., OpenAILLM]) -> None:
    server.enqueue(malformed_tool_call("get_weather", '{"city": "Par'))
    _, calls, _ = await collect(make_llm(), tools=[get_weather])
    assert len(calls) == 1
    assert calls[0].arguments == '{"city": "Par'
    assert calls[0].call_id, "the server's call id is kept"


async def test_empty_completion_yields_only_usage(server: OpenAIServer, make_llm: Callable[..., OpenAILLM]) -> None:
    server.enqueue(empty_reply())
    texts, calls, usages = await collect(make_llm())
    assert (texts, calls) == ([], [])
    assert usages == [CompletionUsage(completion_tokens=0, prompt_tokens=10, total_tokens=10)]


async def test_usage_reported_with_cached_tokens(server: OpenAIServer, make_llm: Callable[..., OpenAILLM]) -> None:
    server.enqueue(reply("ok", usage=Usage(prompt_tokens=120, completion_tokens=7, cached_tokens=64)))
    _, _, usages = await collect(make_llm())
    assert usages == [CompletionUsage(completion_tokens=7, prompt_tokens=120, total_tokens=127, prompt_cached_tokens=64)]
    assert server.last_body["stream"] is True
    assert server.last_body["stream_options"] == {"include_usage": True}


# --- request contents --------------------------------------------------------------------------


async def test_tools_in_request_and_no_tool_keys_without_tools(server: OpenAIServer, make_llm: Callable[..., OpenAILLM]) -> None:
    llm = make_llm(parallel_tool_calls=False)
    await collect(llm, tools=[get_weather], tool_choice="auto")
    body = server.last_body
    assert body["tools"] == [get_weather.to_openai()]
    assert body["tools"][0]["function"]["parameters"]["required"] == ["city"]
    assert body["tool_choice"] == "auto"
    assert body["parallel_tool_calls"] is False

    await collect(llm, tool_choice="required")
    body = server.last_body
    assert "tools" not in body and "tool_choice" not in body and "parallel_tool_calls" not in body


@pytest.mark.parametrize(
    "choice",
    ["auto", "none", "required", {"type": "function", "function": {"name": "get_time"}}],
    ids=["auto", "none", "required", "named"],
)
async def test_tool_choice_forwarded(server: OpenAIServer, make_llm: Callable[..., OpenAILLM], choice: Any) -> None:
    await collect(make_llm(), tools=[get_weather, get_time], tool_choice=choice)
    assert server.last_body["tool_choice"] == choice
    assert [t["function"]["name"] for t in server.last_body["tools"]] == ["get_weather", "get_time"]


async def test_invalid_tool_choice_is_a_value_error(make_llm: Callable[..., OpenAILLM]) -> None:
    with pytest.raises(ValueError, match="tool_choice"):
        await collect(make_llm(), tools=[get_weather], tool_choice="sometimes")  # type: ignore[arg-type]


async def test_chat_context_conversion(server: OpenAIServer, make_llm: Callable[..., OpenAILLM]) -> None:
    ctx = ChatContext()
    ctx.add_message(role="system", content="You are a weather bot.")
    ctx.items.append(AgentHandoff(new_agent_id="weather"))
    ctx.add_message(role="user", content="Weather in Paris and time in Tokyo?")
    ctx.add_message(role="assistant", content="Checking.")
    ctx.items.append(FunctionCall(call_id="call_1", name="get_weather", arguments='{"city": "Paris"}'))
    ctx.items.append(FunctionCall(call_id="call_2", name="get_time", arguments='{"city": "Tokyo"}'))
    ctx.items.append(FunctionCallOutput(call_id="call_1", name="get_weather", output="sunny"))
    ctx.items.append(FunctionCallOutput(call_id="call_2", name="get_time", output="12:00"))
    ctx.add_message(role="assistant", content=[])  # no text: left out
    ctx.add_message(role="user", content=["two", "parts"])
    expected = [
        {"role": "system", "content": "You are a weather bot."},
        {"role": "user", "content": "Weather in Paris and time in Tokyo?"},
        {"role": "assistant", "content": "Checking."},
        {
            "role": "assistant",
            "tool_calls": [
                {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'}},
                {"id": "call_2", "type": "function", "function": {"name": "get_time", "arguments": '{"city": "Tokyo"}'}},
            ],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": "sunny"},
        {"role": "tool", "tool_call_id": "call_2", "content": "12:00"},
        {"role": "user", "content": "two\nparts"},
    ]
    assert to_openai_messages(ctx) == expected
    await collect(make_llm(model="test-model"), ctx)
    body = server.last_body
    assert body["messages"] == expected
    assert body["model"] == "test-model"


async def test_temperature_and_extra_options_forwarded(server: OpenAIServer, make_llm: Callable[..., OpenAILLM]) -> None:
    await collect(make_llm(temperature=0.3))
    assert server.last_body["temperature"] == 0.3
    # Per-request options win; ones the client does not know still reach the server.
    await collect(make_llm(temperature=0.3), temperature=0.9, top_k=5)
    assert server.last_body["temperature"] == 0.9
    assert server.last_body["top_k"] == 5


# --- configuration -----------------------------------------------------------------------------


def test_parse_model_string() -> None:
    assert parse_model_string("openai/gpt-4.1-mini") == ("openai", "gpt-4.1-mini")
    assert parse_model_string(" OpenAI/meta-llama/Llama-3.1-8B ") == ("openai", "meta-llama/Llama-3.1-8B")
    for bad in ("gpt-4.1-mini", "openai/", "/gpt-4.1-mini", ""):
        with pytest.raises(ValueError, match="provider/model"):
            parse_model_string(bad)


def test_llm_from_string(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", API_KEY)
    llm = llm_from_string("openai/gpt-4.1-nano", temperature=0.1)
    assert isinstance(llm, OpenAILLM)
    assert (llm.model, llm.provider, llm.temperature) == ("gpt-4.1-nano", "openai", 0.1)
    with pytest.raises(ValueError, match=r"'anthropic/claude'.*supported providers: 'openai'"):
        llm_from_string("anthropic/claude")
    with pytest.raises(ValueError, match="provider/model"):
        llm_from_string("gpt-4.1-mini")


def test_missing_key_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match=r"OPENAI_API_KEY.*base_url"):
        OpenAILLM()


async def test_base_url_and_api_key_used(server: OpenAIServer, make_llm: Callable[..., OpenAILLM]) -> None:
    await collect(make_llm())
    assert server.completions[0].headers["authorization"] == f"Bearer {API_KEY}"
    assert server.completions[0].path == "/v1/chat/completions"


async def test_environment_fallback_and_keyless_local_server(server: OpenAIServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "test-from-env")
    monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
    llm = OpenAILLM(max_retries=0)
    try:
        await collect(llm)
    finally:
        await llm.aclose()
    assert server.completions[-1].headers["authorization"] == "Bearer test-from-env"

    monkeypatch.delenv("OPENAI_API_KEY")
    keyless = OpenAILLM(base_url=server.base_url, max_retries=0)
    try:
        texts, _, _ = await collect(keyless)
    finally:
        await keyless.aclose()
    assert "".join(texts) == "Hello from the test server."
    assert server.completions[-1].headers["authorization"] == "Bearer no-key"


async def test_existing_client_is_used_and_not_closed(server: OpenAIServer) -> None:
    import openai

    client = openai.AsyncOpenAI(api_key=API_KEY, base_url=server.base_url, max_retries=0)
    llm = OpenAILLM(client=client)
    assert llm.client is client
    await collect(llm)
    await llm.aclose()
    assert not client.is_closed()
    await collect(llm)
    assert server.request_count == 2
    await client.close()


async def test_client_is_created_lazily_and_closed(make_llm: Callable[..., OpenAILLM]) -> None:
    llm = make_llm()
    assert llm._client is None
    await collect(llm)
    client = llm._client
    assert client is not None and not client.is_closed()
    await llm.aclose()
    assert client.is_closed() and llm._client is None


def test_repr_hides_key() -> None:
    llm = OpenAILLM(api_key=API_KEY, base_url="http://127.0.0.1:1234/v1")
    assert repr(llm) == "OpenAILLM(model='gpt-4.1-mini', base_url='http://127.0.0.1:1234/v1')"
    assert API_KEY not in repr(llm) and API_KEY not in str(vars(llm).get("base_url"))
    assert repr(OpenAILLM(api_key=API_KEY)) == "OpenAILLM(model='gpt-4.1-mini')"


# --- errors and retries ------------------------------------------------------------------------


async def test_429_then_success_is_retried_by_chat_after_a_tenth_of_a_second(
    server: OpenAIServer, make_llm: Callable[..., OpenAILLM]
) -> None:
    server.enqueue(status_fault(429, retry_after=0.01), reply("after retry"))
    start = time.monotonic()
    texts, _, _ = await collect(make_llm(max_retries=2))
    assert "".join(texts) == "after retry"
    assert server.request_count == 2
    assert 0.1 <= time.monotonic() - start < 1.0, "LiveKit's first retry comes after 0.1 s"
    # chat() retries (LiveKit's loop); the openai client itself never does.
    assert [r.headers.get("x-stainless-retry-count") for r in server.completions] == ["0", "0"]


async def test_429_without_retries_raises_retryable_status_error(server: OpenAIServer, make_llm: Callable[..., OpenAILLM]) -> None:
    server.enqueue(status_fault(429, message="Rate limit reached", retry_after=0.01))
    with pytest.raises(APIStatusError) as info:
        await collect(make_llm(max_retries=0))
    assert info.value.status_code == 429
    assert info.value.retryable is True
    assert "Rate limit reached" in str(info.value)
    assert API_KEY not in str(info.value)
    assert server.request_count == 1


async def test_persistent_500_fails_after_every_attempt_with_the_last_error_as_cause(
    server: OpenAIServer, make_llm: Callable[..., OpenAILLM]
) -> None:
    server.default = status_fault(500, retry_after=0.01)
    llm = make_llm(max_retries=2, conn_options=APIConnectOptions(retry_interval=0.05))
    with pytest.raises(
        APIConnectionError, match=r"^failed to generate LLM completion after 3 attempts \(caused by APIStatusError: "
    ) as info:
        await collect(llm)
    cause = info.value.__cause__
    assert isinstance(cause, APIStatusError) and cause.status_code == 500 and cause.retryable
    assert server.request_count == 3, "one try and two retries"


async def test_503_then_success(server: OpenAIServer, make_llm: Callable[..., OpenAILLM]) -> None:
    server.enqueue(status_fault(503, retry_after=0.01), reply("back"))
    texts, _, _ = await collect(make_llm(max_retries=1))
    assert "".join(texts) == "back"


async def test_400_is_not_retryable(server: OpenAIServer, make_llm: Callable[..., OpenAILLM]) -> None:
    server.enqueue(status_fault(400, message="bad tools"))
    with pytest.raises(APIStatusError) as info:
        await collect(make_llm(max_retries=2))
    assert (info.value.status_code, info.value.retryable) == (400, False)
    assert server.request_count == 1


async def test_timeout_raises_api_timeout_error_quickly(server: OpenAIServer, make_llm: Callable[..., OpenAILLM]) -> None:
    server.enqueue(delay_fault(5.0))
    start = time.monotonic()
    with pytest.raises(APITimeoutError) as info:
        await collect(make_llm(timeout=0.5, max_retries=0))
    assert time.monotonic() - start < 2.0
    assert info.value.retryable is True
    assert isinstance(info.value, APIConnectionError)


async def test_stream_cut_midway_is_connection_error(server: OpenAIServer, make_llm: Callable[..., OpenAILLM]) -> None:
    server.enqueue(cut_stream("one two three four five six seven eight", after_chunks=3))
    texts: list[str] = []
    with pytest.raises(APIConnectionError) as info:
        async for chunk in make_llm().chat(chat_ctx=user_ctx()):
            if chunk.delta and chunk.delta.content:
                texts.append(chunk.delta.content)
    assert not isinstance(info.value, APITimeoutError)
    assert texts, "the chunks before the cut were delivered"
    assert "stream broke off" in str(info.value)
    assert info.value.retryable is True
    assert API_KEY not in str(info.value)


async def test_error_event_in_stream_is_api_error(server: OpenAIServer, make_llm: Callable[..., OpenAILLM]) -> None:
    server.enqueue(stream_error("model overloaded"))
    with pytest.raises(APIError, match="model overloaded") as info:
        await collect(make_llm())
    assert info.value.retryable is True


async def test_unreachable_server_is_connection_error(make_llm: Callable[..., OpenAILLM]) -> None:
    with OpenAIServer() as gone:
        url = gone.base_url
    with pytest.raises(APIConnectionError) as info:
        await collect(make_llm(base_url=url, max_retries=0))
    assert not isinstance(info.value, APITimeoutError)


async def test_consumer_stopping_early_leaves_llm_usable(server: OpenAIServer, make_llm: Callable[..., OpenAILLM]) -> None:
    server.enqueue(reply("a long answer that the consumer abandons after the first chunk"), reply("second"))
    llm = make_llm()
    stream = llm.chat(chat_ctx=user_ctx())
    async for _ in stream:
        break
    await stream.aclose()  # type: ignore[attr-defined]
    texts, _, _ = await collect(llm)
    assert "".join(texts) == "second"


# --- the test server itself ----------------------------------------------------------------------


async def test_server_models_and_non_streaming(server: OpenAIServer) -> None:
    import openai

    server.enqueue(reply("plain", tool_calls=[ToolCall("get_weather", '{"city": "Oslo"}', "call_9")]))
    async with openai.AsyncOpenAI(api_key=API_KEY, base_url=server.base_url, max_retries=0) as client:
        models = await client.models.list()
        assert [m.id for m in models.data] == ["gpt-4.1-mini"]
        completion = await client.chat.completions.create(model="m", messages=[{"role": "user", "content": "hi"}])
    message = completion.choices[0].message
    assert message.content == "plain"
    assert message.tool_calls is not None and message.tool_calls[0].function.arguments == '{"city": "Oslo"}'
    assert completion.usage is not None and completion.usage.total_tokens == 15
    assert server.request_count == 1 and len(server.requests) == 2
