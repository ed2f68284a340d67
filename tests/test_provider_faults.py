"""Provider faults never pass silently, runs fail as LiveKit's do, and sessions share one client (issue 21).

Every fault is served by the OpenAI-compatible test server on 127.0.0.1 (``tests/openai_server.py``)
and reached through the real ``openai`` client; nothing is patched. Timing tests run on a
:class:`~agentlab.VirtualClock` (time runs at real speed while a socket is open, and jumps otherwise).
"""

from __future__ import annotations

import asyncio
import dataclasses
import gc
import itertools
from collections.abc import AsyncIterator
from typing import Any

import pytest
from openai_server import (
    OpenAIServer,
    cut_stream,
    empty_choices,
    html_page,
    reply,
    stalled_stream,
    unfinished_stream,
)

import agentlab as al
from agentlab import Agent, AgentSession, VirtualClock
from agentlab.chat import ChatMessage
from agentlab.models import openai as openai_llm
from agentlab.models.llm import DEFAULT_API_CONNECT_OPTIONS, APIConnectionError, APIConnectOptions, APITimeoutError
from agentlab.models.openai import OpenAILLM, llm_from_string
from agentlab.session.events import ErrorEvent

pytestmark = pytest.mark.usefixtures("no_openai_env")

API_KEY = "test-faults-key-0123456789"
#: No run in this file may take longer than this.
RUN_TIMEOUT = 20.0


def _last_reply(result):
    """The run's last assistant text (LiveKit's final_output is an AgentTask's result, not this)."""
    return next(e.item.text_content for e in reversed(result.events) if e.type == "message" and e.item.role == "assistant")


def fast(max_retry: int = 0, *, timeout: float = 2.0, retry_interval: float = 0.05) -> APIConnectOptions:
    return APIConnectOptions(max_retry=max_retry, timeout=timeout, retry_interval=retry_interval)


def errors_of(session: AgentSession) -> list[ErrorEvent]:
    return [e for e in session.events if isinstance(e, ErrorEvent)]


def assistant_messages(session: AgentSession) -> list[ChatMessage]:
    return [it for it in session.history.items if isinstance(it, ChatMessage) and it.role == "assistant"]


async def started(server: OpenAIServer, conn_options: APIConnectOptions, **session_kwargs: Any) -> tuple[AgentSession, OpenAILLM]:
    llm = OpenAILLM(base_url=server.base_url, api_key=API_KEY, conn_options=conn_options)
    session = AgentSession(llm=llm, **session_kwargs)
    await session.start(Agent(instructions="Answer briefly."))
    return session, llm


async def run(session: AgentSession, text: str) -> Any:
    return await asyncio.wait_for(session.run(user_input=text), RUN_TIMEOUT)


# --- 1. a 200 that is not an event stream -----------------------------------------------------------


def test_html_200_is_retried_as_livekit_then_fails_the_run(server: OpenAIServer, monkeypatch: pytest.MonkeyPatch) -> None:
    """A login page instead of a completion, with the string-built LLM and LiveKit's defaults:
    attempts at 0, +0.1, +2.1, +4.1 s; three recoverable errors, one unrecoverable; run() raises."""
    monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
    monkeypatch.setenv("OPENAI_API_KEY", API_KEY)
    server.default = html_page()

    async def main() -> Any:
        session = AgentSession(llm="openai/gpt-4.1-mini")
        await session.start(Agent(instructions="Answer briefly."))
        with pytest.raises(APIConnectionError) as raised:
            await run(session, "Hello?")
        user = next(it for it in session.history.items if isinstance(it, ChatMessage) and it.role == "user")
        await session.aclose()
        await session.llm.aclose()
        return session, raised.value, user

    session, error, user = VirtualClock().run(main)
    assert server.request_count == 4
    errors = errors_of(session)
    assert [(e.source, e.recoverable) for e in errors] == [("llm", True)] * 3 + [("llm", False)]
    assert "sent no event stream (text/html)" in errors[0].message
    assert str(error).startswith("failed to generate LLM completion after 4 attempts (caused by APIConnectionError: ")
    assert errors[-1].error is error and isinstance(error.__cause__, APIConnectionError)
    # The waits between attempts are LiveKit's: 0.1 s, then 2 s, 2 s (the 200s themselves take ms).
    at = [e.created_at - user.created_at for e in errors]
    gaps = [b - a for a, b in itertools.pairwise(at)]
    assert gaps == pytest.approx([0.1, 2.0, 2.0], abs=0.15)
    assert at[-1] == pytest.approx(4.1, abs=0.3)
    assert assistant_messages(session) == [], "no reply, and the failed user message stays"


async def test_stream_of_empty_choices_is_an_error_not_a_mute_turn(server: OpenAIServer) -> None:
    server.enqueue(empty_choices(4))
    session, llm = await started(server, fast())
    with pytest.raises(APIConnectionError, match=r"stream ended before the answer did .*4 chunks, 0 characters"):
        await run(session, "Hello?")
    (err,) = errors_of(session)
    assert (err.source, err.recoverable) == ("llm", False)
    await session.aclose()
    await llm.aclose()


async def test_mute_turns_in_a_row_count_and_close_the_session(server: OpenAIServer) -> None:
    """The issue's six mute turns: now the 4th failure in a row (> max_unrecoverable_errors) closes."""
    server.default = html_page()
    session, llm = await started(server, fast())
    closed = asyncio.Event()
    session.on("close", lambda _: closed.set())
    for n in range(4):
        with pytest.raises(APIConnectionError):
            await run(session, f"turn {n}")
    await asyncio.wait_for(closed.wait(), RUN_TIMEOUT)
    close = session.events[-1]
    assert close.type == "close" and close.reason == "error" and isinstance(close.error, APIConnectionError)
    assert [e.recoverable for e in errors_of(session)] == [False] * 4
    with pytest.raises(RuntimeError, match="closing"):
        session.generate_reply(user_input="turn 5")
    await llm.aclose()


# --- 2. a stream that ends without finish_reason, usage or [DONE] -------------------------------------


async def test_unfinished_stream_is_a_connection_error_and_its_text_is_marked(server: OpenAIServer) -> None:
    server.enqueue(unfinished_stream("Hello wor"), reply("Fine, thanks."))
    session, llm = await started(server, fast())
    with pytest.raises(APIConnectionError, match=r"no finish_reason, usage or \[DONE\]"):
        await run(session, "Hello?")
    (msg,) = assistant_messages(session)
    assert (msg.text_content, msg.incomplete, msg.interrupted) == ("Hello wor", True, False)
    (err,) = errors_of(session)
    assert (err.source, err.recoverable) == ("llm", False)
    # As LiveKit, the fragment stays in the conversation (and a speaking turn resets the error count).
    result = await run(session, "How are you?")
    assert _last_reply(result) == "Fine, thanks."
    sent = server.last_body["messages"]
    assert {"role": "assistant", "content": "Hello wor"} in sent
    await session.aclose()
    await llm.aclose()


# --- 3. a reply that broke off is marked; a retry drops the failed attempt's text -------------------------


async def test_retry_after_partial_output_drops_the_partial_text(server: OpenAIServer) -> None:
    """LiveKit stores "Hello worHello world." here (reference §20.5); agentlab keeps only the retry's answer."""
    broken = dataclasses.replace(cut_stream("Hello world.", after_chunks=4), chunk_chars=3)  # role, "Hel", "lo ", "wor"
    server.enqueue(broken, reply("Hello world."))
    session, llm = await started(server, fast(max_retry=1))
    shown: list[str] = []
    session.on("conversation_item_added", lambda e: shown.append(e.item.text_content or ""))
    result = await run(session, "Say hello")
    assert _last_reply(result) == "Hello world."
    (msg,) = assistant_messages(session)
    assert (msg.text_content, msg.incomplete) == ("Hello world.", False)
    (err,) = errors_of(session)
    assert err.recoverable and "stream broke off after 4 chunks" in err.message and "attempt 1 of 2 failed" in err.message
    assert "Hello worHello" not in " ".join(shown)
    await session.aclose()
    await llm.aclose()


@pytest.mark.parametrize(
    ("fault", "error_type", "words"),
    [
        (cut_stream("one two three four five six", after_chunks=3), APIConnectionError, "stream broke off after 3 chunks"),
        (stalled_stream("one two three four five six", after_chunks=3, seconds=30), APITimeoutError, "stalled after 3 chunks"),
    ],
    ids=["dropped-connection", "stall"],
)
async def test_hard_stream_error_keeps_the_partial_text_marked_incomplete(
    server: OpenAIServer, fault: Any, error_type: type, words: str
) -> None:
    server.enqueue(fault)
    session, llm = await started(server, fast(timeout=0.4))
    with pytest.raises(error_type, match=words):
        await run(session, "Count")
    (msg,) = assistant_messages(session)
    assert "one two three four five six".startswith(msg.text_content or "-") and msg.incomplete and not msg.interrupted
    history = session.history_frame()
    assert history.loc[history["role"] == "assistant", "incomplete"].tolist() == [True]
    assert history.loc[history["role"] == "user", "incomplete"].tolist() == [False]
    events = session.events_frame()
    added = events[(events["type"] == "conversation_item_added") & (events["role"] == "assistant")]
    assert added["incomplete"].tolist() == [True], "the conversation_item_added event carries the flag"
    assert "[incomplete]" in session._repr_html_()
    await session.aclose()
    await llm.aclose()


async def test_provider_that_always_cuts_its_streams_never_closes_the_session(server: OpenAIServer) -> None:
    """LiveKit's rule, kept: text was spoken before each cut, and speaking resets the error count."""
    server.default = cut_stream("Partial answer that never ends", after_chunks=3)
    session, llm = await started(server, fast())
    for n in range(6):
        with pytest.raises(APIConnectionError):
            await run(session, f"turn {n}")
    assert [e.recoverable for e in errors_of(session)] == [False] * 6
    assert not any(e.type == "close" for e in session.events)
    assert all(m.incomplete for m in assistant_messages(session)) and len(assistant_messages(session)) == 6
    await session.aclose()
    await llm.aclose()


# --- 4. run() raises as LiveKit's; SpeechHandle.exception() ---------------------------------------------


def test_llm_node_exception_is_raised_by_run_unwrapped(vrun: Any) -> None:
    """LiveKit (§20.4): the node's own exception, no error event, nothing counted, the session goes on."""
    boom = ValueError("my node broke")

    class Fragile(Agent):
        async def llm_node(self, chat_ctx: Any, tools: Any, model_settings: Any) -> AsyncIterator[str]:
            yield "Half a "
            raise boom

    async def main() -> Any:
        session = AgentSession(llm=al.ScriptedLLM(responses=["unused"]), max_unrecoverable_errors=0)
        await session.start(Fragile(instructions="x"))
        handles = []
        session.on("speech_created", lambda e: handles.append(e.speech_handle))
        with pytest.raises(ValueError) as raised:
            await session.run(user_input="hi")
        await session.aclose()
        return session, raised.value, handles

    session, raised, handles = vrun(main)
    assert raised is boom, "unwrapped"
    assert handles[-1].exception() is boom
    assert errors_of(session) == [], "no error event for a node's own exception"
    assert session.events[-1].reason == "user_initiated", "not closed by the error (max_unrecoverable_errors=0)"
    (msg,) = assistant_messages(session)
    assert (msg.text_content, msg.incomplete, msg.interrupted) == ("Half a", True, False)


async def test_speech_handle_exception_as_livekit(server: OpenAIServer) -> None:
    server.default = html_page()
    session, llm = await started(server, fast(max_retry=1))
    handle = session.generate_reply(user_input="Hello?")
    with pytest.raises(asyncio.InvalidStateError):
        handle.exception()
    await asyncio.wait_for(handle, RUN_TIMEOUT)  # awaiting a handle never raises
    error = handle.exception()
    assert isinstance(error, APIConnectionError) and str(error).startswith("failed to generate LLM completion after 2 attempts")
    assert isinstance(error.__cause__, APIConnectionError) and "no event stream" in str(error.__cause__)
    server.default = reply("Hi!")
    ok = session.generate_reply(user_input="Again?")
    await asyncio.wait_for(ok, RUN_TIMEOUT)
    assert ok.exception() is None
    await session.aclose()
    await llm.aclose()


# --- 5. LiveKit's connection options; the worst case time to the error event --------------------------------


def test_string_built_llm_has_livekit_conn_options_and_accepts_others(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", API_KEY)
    session = AgentSession(llm="openai/gpt-4.1-mini")
    assert isinstance(session.llm, OpenAILLM)
    assert session.llm.conn_options == APIConnectOptions(max_retry=3, retry_interval=2.0, timeout=10.0) == DEFAULT_API_CONNECT_OPTIONS
    assert DEFAULT_API_CONNECT_OPTIONS._interval_for_retry(0) == 0.1 and DEFAULT_API_CONNECT_OPTIONS._interval_for_retry(1) == 2.0
    custom = llm_from_string("openai/gpt-4.1-mini", conn_options=APIConnectOptions(max_retry=1, timeout=3.0))
    assert (custom.conn_options.max_retry, custom.conn_options.retry_interval, custom.conn_options.timeout) == (1, 2.0, 3.0)
    assert OpenAILLM(max_retries=0, timeout=5.0).conn_options == APIConnectOptions(max_retry=0, timeout=5.0)
    for bad in ({"max_retry": -1}, {"retry_interval": -0.5}, {"timeout": 0}, {"max_retry": True}, {"timeout": float("nan")}):
        with pytest.raises(ValueError, match=f"APIConnectOptions: {next(iter(bad))} = "):
            APIConnectOptions(**bad)
    with pytest.raises(TypeError, match="conn_options"):
        OpenAILLM(conn_options={"max_retry": 1})  # type: ignore[arg-type]


def test_stalled_provider_reaches_the_error_event_at_the_documented_worst_case(server: OpenAIServer) -> None:
    """Every attempt waits ``timeout``; the waits between are 0.1 s then ``retry_interval``:
    (max_retry + 1) * timeout + 0.1 + (max_retry - 1) * retry_interval, measured on the session clock."""
    server.default = stalled_stream(after_chunks=0, seconds=30)
    options = APIConnectOptions(max_retry=2, retry_interval=0.5, timeout=0.3)
    worst = (options.max_retry + 1) * options.timeout + 0.1 + (options.max_retry - 1) * options.retry_interval

    async def main() -> Any:
        session, llm = await started(server, options)
        with pytest.raises(APIConnectionError, match="after 3 attempts"):
            await run(session, "Anyone there?")
        user = next(it for it in session.history.items if isinstance(it, ChatMessage) and it.role == "user")
        await session.aclose()
        await llm.aclose()
        return session, user

    session, user = VirtualClock().run(main)
    errors = errors_of(session)
    assert [e.recoverable for e in errors] == [True, True, False]
    assert all(isinstance(e.error, APITimeoutError) for e in errors[:2])
    assert errors[-1].created_at - user.created_at == pytest.approx(worst, abs=0.25)
    assert worst == pytest.approx(1.5)
    # With LiveKit's defaults the same formula gives 44.1 s (docs/reliability.md).
    d = DEFAULT_API_CONNECT_OPTIONS
    assert (d.max_retry + 1) * d.timeout + 0.1 + (d.max_retry - 1) * d.retry_interval == pytest.approx(44.1)


# --- 6. one client per loop and configuration ------------------------------------------------------------


async def test_string_built_sessions_share_one_client_per_loop_and_configuration(
    server: OpenAIServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
    monkeypatch.setenv("OPENAI_API_KEY", API_KEY)
    server.default = reply("Hi!")
    loop = asyncio.get_running_loop()
    sessions = [AgentSession(llm="openai/gpt-4.1-mini") for _ in range(50)]
    for s in sessions:
        await s.start(Agent(instructions="x"))
    results = await asyncio.gather(*(run(s, "Hello?") for s in sessions))
    assert all(_last_reply(r) == "Hi!" for r in results)
    clients = {id(s.llm.client) for s in sessions}
    assert len(clients) == 1 and openai_llm._SHARED.count(loop) == 1, "50 sessions, one client"
    other = OpenAILLM(api_key="another-key", base_url=server.base_url)
    assert other.client is not sessions[0].llm.client, "another key is another configuration"
    patient = OpenAILLM(api_key=API_KEY, base_url=server.base_url, conn_options=APIConnectOptions(timeout=60))
    assert patient.client is sessions[0].llm.client, "the timeout is per request: still shared"
    shared = sessions[0].llm.client
    for s in sessions:
        await s.aclose()
    for s in sessions[:-1]:
        await s.llm.aclose()
    await patient.aclose()
    assert not shared.is_closed(), "closed only with its last user"
    await sessions[-1].llm.aclose()
    assert shared.is_closed()
    await other.aclose()
    assert openai_llm._SHARED.count(loop) == 0


async def test_shared_client_is_closed_when_its_last_llm_is_garbage_collected(server: OpenAIServer) -> None:
    server.default = reply("Hi!")
    llms = [OpenAILLM(base_url=server.base_url, api_key=API_KEY) for _ in range(3)]
    ctx = al.ChatContext()
    ctx.add_message(role="user", content="hi")
    for llm in llms:
        async for _ in llm.chat(chat_ctx=ctx):
            pass
    client = llms[0].client
    del llm
    llms.pop()
    gc.collect()
    assert not client.is_closed()
    llms.clear()
    gc.collect()
    for _ in range(20):  # closing is scheduled on the loop
        await asyncio.sleep(0.01)
        if client.is_closed():
            break
    assert client.is_closed()
    assert openai_llm._SHARED.count(asyncio.get_running_loop()) == 0


def test_a_new_event_loop_gets_its_own_client(server: OpenAIServer) -> None:
    llm = OpenAILLM(base_url=server.base_url, api_key=API_KEY)
    ctx = al.ChatContext()
    ctx.add_message(role="user", content="hi")

    async def once() -> Any:
        async for _ in llm.chat(chat_ctx=ctx):
            pass
        return llm.client

    first = asyncio.run(once())
    second = asyncio.run(once())  # a notebook re-running asyncio.run: the old pool belongs to a closed loop
    assert first is not second and server.request_count == 2
    asyncio.run(llm.aclose())


# --- 7. long conversations: the client's share, agentlab's own, and how to bound the request ---------------


async def test_a_context_window_bounds_the_request(server: OpenAIServer) -> None:
    """docs/reliability.md's recipe: an ``llm_node`` that sends the last 20 items (and the system prompt)."""

    class Windowed(Agent):
        def llm_node(self, chat_ctx: Any, tools: Any, model_settings: Any) -> Any:
            return Agent.default.llm_node(self, chat_ctx.copy().truncate(max_items=20), tools, model_settings)

    server.default = reply("Noted.")
    llm = OpenAILLM(base_url=server.base_url, api_key=API_KEY, conn_options=fast())
    session = AgentSession(llm=llm)
    await session.start(Windowed(instructions="Answer briefly."))
    for n in range(30):
        await run(session, f"Fact number {n}.")
    sent = server.last_body["messages"]
    assert len(sent) == 21 and sent[0] == {"role": "system", "content": "Answer briefly."}
    assert sent[-1] == {"role": "user", "content": "Fact number 29."}
    assert len(session.history.items) == 61, "the history itself keeps everything"
    await session.aclose()
    await llm.aclose()
