"""OpenAI chat completions as an :class:`~agentlab.models.llm.LLM`, for OpenAI and compatible servers.

Works with api.openai.com and any server speaking the chat-completions protocol (vLLM, llama.cpp,
Ollama, LM Studio...). Retries follow LiveKit's ``APIConnectOptions`` (``conn_options``: 3 retries,
the first after 0.1 s and the others 2 s apart, 10 s per attempt), done by ``LLM.chat()``; the
``openai`` client itself does not retry. Errors come out as agentlab's
:class:`~agentlab.models.llm.APIError` family so the session can tell recoverable failures from
fatal ones; a 200 that is not an event stream, or a stream that ends before the answer is finished
(no ``finish_reason`` and no usage), is an ``APIConnectionError`` rather than an empty answer.

All ``OpenAILLM`` objects with the same key and URL share one ``openai.AsyncOpenAI`` (one HTTP
connection pool) per event loop, so a thousand sessions built from ``"openai/..."`` strings hold
one client, not a thousand; it is closed when the last of them is closed or garbage-collected.

Example::

    llm = OpenAILLM(model="gpt-4.1-mini")                         # key from OPENAI_API_KEY
    local = OpenAILLM(model="qwen3", base_url="http://127.0.0.1:8000/v1")
    same = llm_from_string("openai/gpt-4.1-mini")
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import inspect
import json
import os
import weakref
from collections.abc import AsyncIterator
from contextvars import ContextVar
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import openai

from .._secrets import register, scrub
from .._utils import shortuuid
from .llm import (
    DEFAULT_API_CONNECT_OPTIONS,
    LLM,
    APIConnectionError,
    APIConnectOptions,
    APIError,
    APIStatusError,
    APITimeoutError,
    ChatChunk,
    ChoiceDelta,
    CompletionUsage,
    FunctionToolCall,
    LLMRequest,
    ToolChoice,
    retry_observer,
)

if TYPE_CHECKING:
    from ..chat import ChatContext

__all__ = ["OpenAILLM", "llm_from_string", "parse_model_string", "to_openai_messages"]

#: Providers :func:`llm_from_string` knows.
SUPPORTED_PROVIDERS: tuple[str, ...] = ("openai",)

_NO_KEY = "no-key"
#: What the last failed attempt of the current request was (set by the response hook).
_last_failure: ContextVar[str | None] = ContextVar("agentlab_openai_last_failure", default=None)
_TOOL_CHOICE_STRINGS = ("auto", "required", "none")


class _OpenAIClient:
    """The ``openai`` plumbing shared by :class:`OpenAILLM` and the audio components.

    Resolving the key and URL, the lazy per-loop ``AsyncOpenAI``, closing it, mapping the client's
    errors to our :class:`~agentlab.models.llm.APIError` family, and keeping the key out of reprs
    and messages. Subclasses set ``model``, ``timeout`` and ``max_retries``, then call
    :meth:`_init_client`.
    """

    model: str
    base_url: str | None
    timeout: float
    max_retries: int

    def _init_client(self, api_key: str | None, base_url: str | None, client: Any, *, owner: str) -> None:
        """Take the key and URL from the arguments or ``OPENAI_API_KEY`` / ``OPENAI_BASE_URL``; ``owner`` names the class in the error."""
        self._external_client = client
        self._client: openai.AsyncOpenAI | None = None
        self._client_loop: asyncio.AbstractEventLoop | None = None
        if client is not None:
            self.base_url = base_url or str(client.base_url)
            self._api_key = ""
            register(getattr(client, "api_key", None))  # so every message of ours masks it
            return
        api_key = api_key or os.environ.get("OPENAI_API_KEY") or None
        register(api_key)
        base_url = base_url or os.environ.get("OPENAI_BASE_URL") or None
        if api_key is None and base_url is None:
            raise ValueError(
                f"{owner} needs an API key: pass api_key=... or set OPENAI_API_KEY; "
                "for a local OpenAI-compatible server that needs no key, pass base_url=... (or set OPENAI_BASE_URL)"
            )
        self.base_url = base_url
        # Local servers ignore the key, but the openai client refuses to run without one.
        self._api_key = api_key or _NO_KEY

    def __repr__(self) -> str:
        if self.base_url is None:
            return f"{type(self).__name__}(model={self.model!r})"
        return f"{type(self).__name__}(model={self.model!r}, base_url={self.base_url!r})"

    def _loop_client(self) -> openai.AsyncOpenAI:
        """Our own ``openai.AsyncOpenAI`` for the running loop (callers return an external client first)."""
        loop = asyncio.get_running_loop()
        # An httpx connection pool belongs to the loop that opened it; a notebook that re-runs
        # ``asyncio.run`` gets a fresh loop, so the old client is dropped rather than reused.
        if self._client is None or self._client_loop is not loop:
            self._client = openai.AsyncOpenAI(
                api_key=self._api_key,
                base_url=self.base_url,
                timeout=self.timeout,
                max_retries=self.max_retries,
                http_client=openai.DefaultAsyncHttpxClient(
                    timeout=self.timeout, event_hooks={"request": [self._on_request], "response": [self._on_response]}
                ),
            )
            self._client_loop = loop
        return self._client

    # The client retries by itself and says nothing about it; these hooks see each attempt, so the
    # session can report the ones that failed (``retry_observer``). Both run in the requesting task,
    # so the failure remembered by one is the one the next attempt of the same request retries.

    async def _on_response(self, response: Any) -> None:  # the client's httpx Response
        if response.status_code >= 400 and retry_observer.get() is not None:
            ms, after = response.headers.get("retry-after-ms"), response.headers.get("retry-after")
            wait = f", retry-after {ms} ms" if ms else f", retry-after {after} s" if after else ""
            _last_failure.set(f"HTTP {response.status_code}{wait}")

    async def _on_request(self, request: Any) -> None:  # the client's httpx Request
        observer = retry_observer.get()
        attempt = int(request.headers.get("x-stainless-retry-count", "0") or 0)
        failure = _last_failure.get()
        _last_failure.set(None)  # each attempt starts clean
        if observer is None or attempt == 0:
            return
        cause = failure or "no answer in time or the connection failed"
        message = f"{self._where()}: attempt {attempt} failed ({cause}); retry {attempt} of {self.max_retries}"
        observer(APIError(scrub(message), retryable=True))

    def _where(self) -> str:
        """The model and server, to begin our error messages with."""
        return f"{self.model} at {self.base_url or 'api.openai.com'}"

    async def _close_loop_client(self) -> None:
        client, self._client = self._client, None
        if client is None:
            return
        # A client from another (likely closed) loop cannot be awaited here; it is just dropped.
        if _running_loop() is self._client_loop:
            await client.close()
        self._client_loop = None

    def _api_error(self, exc: Exception, what: str | None = None, *, received: int = 0, timeout: float | None = None) -> APIError:
        """``exc`` from the openai client as our error type; the message and body are scrubbed of the key.

        ``what`` names the request in the message; ``received`` counts the stream chunks that came
        before the failure (a stream that broke off says so). Callers raise the result ``from None``:
        the openai exception (and a server's error body) may echo the key; our message keeps the
        status and detail, scrubbed, and nothing else travels with it.
        """
        where = self._where()
        if what is not None:
            where = f"{where}: {what}"
        broke_off = f"stream broke off after {received} chunks" if received else None
        if isinstance(exc, openai.APITimeoutError):
            stalled = f" (the stream stalled after {received} chunks)" if received else ""
            return APITimeoutError(scrub(f"{where}: no answer within {self.timeout if timeout is None else timeout:g}s{stalled}"))
        if isinstance(exc, openai.APIConnectionError):
            cause = exc.__cause__ or exc
            return APIConnectionError(scrub(f"{where}: {broke_off or 'connection failed'} ({type(cause).__name__}: {cause})"))
        if isinstance(exc, openai.APIStatusError):
            headers = exc.response.headers
            ms, after = headers.get("retry-after-ms"), headers.get("retry-after")
            wait = f" (retry-after {ms} ms)" if ms else f" (retry-after {after} s)" if after else ""
            return APIStatusError(
                scrub(f"{where}: HTTP {exc.status_code}: {_error_detail(exc)}{wait}"),
                status_code=exc.status_code,
                body=_scrub_body(exc.body),
            )
        if isinstance(exc, openai.APIError):
            # E.g. an ``{"error": ...}`` event inside a 200 stream: the server gave up mid-answer.
            return APIError(scrub(f"{where}: {_error_detail(exc)}"), retryable=True, body=_scrub_body(exc.body))
        return APIConnectionError(scrub(f"{where}: {broke_off or 'request failed'} ({type(exc).__name__}: {exc})"))


class OpenAILLM(_OpenAIClient, LLM):
    """An LLM served by OpenAI's chat-completions API (or a compatible server at ``base_url``).

    Args:
        model: model name sent to the server.
        api_key: API key; defaults to ``OPENAI_API_KEY``. Not needed when ``base_url`` is given.
        base_url: server URL ending in ``/v1``; defaults to ``OPENAI_BASE_URL``, else OpenAI.
        temperature: sampling temperature (server default when ``None``).
        parallel_tool_calls: allow several tool calls per response (server default when ``None``).
        conn_options: retries and per-attempt timeout, LiveKit's
            :class:`~agentlab.models.llm.APIConnectOptions` (default: 3 retries, 0.1 s then 2 s
            apart, 10 s per attempt). ``timeout`` bounds connecting and every read of the stream.
        timeout: shorthand for ``conn_options.timeout``.
        max_retries: shorthand for ``conn_options.max_retry``.
        client: an existing ``openai.AsyncOpenAI`` to use instead (never closed by us; give it
            ``max_retries=0``, or its own retries come on top of ours).

    Example::

        llm = OpenAILLM(model="gpt-4.1-mini", temperature=0.2)
        patient = OpenAILLM(model="qwen3", base_url="http://127.0.0.1:8000/v1", conn_options=APIConnectOptions(timeout=60))
        ctx = ChatContext()
        ctx.add_message(role="user", content="Say hi")
        async for chunk in llm.chat(chat_ctx=ctx):
            print(chunk.delta.content if chunk.delta else chunk.usage)
        await llm.aclose()
    """

    provider = "openai"

    def __init__(
        self,
        *,
        model: str = "gpt-4.1-mini",
        api_key: str | None = None,
        base_url: str | None = None,
        temperature: float | None = None,
        parallel_tool_calls: bool | None = None,
        conn_options: APIConnectOptions | None = None,
        timeout: float | None = None,
        max_retries: int | None = None,
        client: openai.AsyncOpenAI | None = None,
    ) -> None:
        options = DEFAULT_API_CONNECT_OPTIONS if conn_options is None else conn_options
        if not isinstance(options, APIConnectOptions):
            raise TypeError(
                f"OpenAILLM: conn_options = {options!r} must be an APIConnectOptions(max_retry=..., retry_interval=..., timeout=...)"
            )
        if timeout is not None:
            options = dataclasses.replace(options, timeout=timeout)
        if max_retries is not None:
            options = dataclasses.replace(options, max_retry=max_retries)
        self.model = model
        self.temperature = temperature
        self.parallel_tool_calls = parallel_tool_calls
        self.conn_options = options
        self._shared_key: tuple[str, str | None] | None = None
        self._release: weakref.finalize | None = None
        self._init_client(api_key, base_url, client, owner="OpenAILLM")

    @property
    def timeout(self) -> float:  # type: ignore[override]  # read by the shared plumbing's messages
        """Seconds each attempt may wait (``conn_options.timeout``)."""
        return self.conn_options.timeout

    @property
    def max_retries(self) -> int:  # type: ignore[override]
        """Retries after a failed attempt (``conn_options.max_retry``)."""
        return self.conn_options.max_retry

    @property
    def client(self) -> openai.AsyncOpenAI:
        """The ``openai.AsyncOpenAI`` in use: the one given, or the one shared per loop, key and URL.

        Example::

            models = await llm.client.models.list()
        """
        if self._external_client is not None:
            return self._external_client
        loop = asyncio.get_running_loop()
        if self._client is None or self._client_loop is not loop:
            # A notebook that re-runs ``asyncio.run`` gets a fresh loop: an httpx pool belongs to
            # the loop that opened it, so the old share is given back and the new loop's taken.
            old_loop, stale = self._client_loop, self._give_back()
            if stale is not None and old_loop is not None:
                _close_soon(old_loop, stale)
            key = (self._api_key, self.base_url)
            self._client = _SHARED.acquire(loop, key)
            self._client_loop, self._shared_key = loop, key
            self._release = weakref.finalize(self, _SHARED.release_later, weakref.ref(loop), key)
            self._release.atexit = False
        return self._client

    async def aclose(self) -> None:
        """Stop using the HTTP client; the shared one closes when its last user does.

        Example::

            await llm.aclose()
        """
        loop, client = self._client_loop, self._give_back()
        if client is None:
            return
        if _running_loop() is loop:
            await client.close()
        elif loop is not None:
            _close_soon(loop, client)

    def _give_back(self) -> openai.AsyncOpenAI | None:
        """Drop this object's share; returns the client if it was the last user (the caller closes it)."""
        release, self._release = self._release, None
        loop, key = self._client_loop, self._shared_key
        self._client = self._client_loop = self._shared_key = None
        if release is None or not release.detach() or loop is None or key is None:
            return None
        return _SHARED.release(loop, key)

    def build_params(self, request: LLMRequest) -> dict[str, Any]:
        """The keyword arguments for ``client.chat.completions.create`` for one request.

        Example::

            params = llm.build_params(LLMRequest(chat_ctx=ctx, tools=[lookup], tool_choice="auto"))
            params["tool_choice"]   # 'auto'
        """
        params: dict[str, Any] = {
            "model": self.model,
            "messages": to_openai_messages(request.chat_ctx),
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        if self.temperature is not None:
            params["temperature"] = self.temperature
        if request.tools:
            params["tools"] = [t.to_openai() for t in request.tools]
            if request.tool_choice is not None:
                params["tool_choice"] = _tool_choice_param(request.tool_choice)
            # OpenAI rejects parallel_tool_calls in a request without tools.
            if self.parallel_tool_calls is not None:
                params["parallel_tool_calls"] = self.parallel_tool_calls
        known = _create_parameters()
        extra_body: dict[str, Any] = {}
        for key, value in request.extra.items():
            # Parameters the client does not declare (``top_k`` for vLLM...) still reach the server.
            if key in known:
                params[key] = value
            else:
                extra_body[key] = value
        if extra_body:
            params["extra_body"] = {**params.get("extra_body", {}), **extra_body}
        return params

    async def _stream(self, request: LLMRequest) -> AsyncIterator[ChatChunk]:
        params = self.build_params(request)
        client = self.client
        timeout = request.conn_options.timeout
        partial: dict[int, _PartialCall] = {}
        current: int | None = None
        usage: CompletionUsage | None = None
        chunk_id = ""
        finished = False
        seen = _Received()
        async with contextlib.aclosing(self._raw_chunks(client, params, timeout, seen)) as raw:
            async for chunk in raw:
                chunk_id = chunk.id or chunk_id
                if chunk.usage is not None:
                    usage = _usage(chunk.usage)
                if not chunk.choices:
                    continue
                choice = chunk.choices[0]
                delta = choice.delta
                if delta is not None and delta.content:
                    seen.characters += len(delta.content)
                    yield ChatChunk(id=chunk_id or shortuuid("chunk"), delta=ChoiceDelta(content=delta.content))
                for tc in (delta.tool_calls if delta is not None else None) or ():
                    index = tc.index if tc.index is not None else (current if current is not None else 0)
                    same = partial.get(index)
                    # Some servers reuse index 0 for every call; a new id then means a new call.
                    if same is not None and tc.id and same.call_id and tc.id != same.call_id:
                        yield _call_chunk(chunk_id, partial.pop(index))
                    if current is not None and index != current and current in partial:
                        yield _call_chunk(chunk_id, partial.pop(current))
                    call = partial.setdefault(index, _PartialCall())
                    call.add(tc)
                    current = index
                if choice.finish_reason is not None:
                    finished = True
                    for index in sorted(partial):
                        yield _call_chunk(chunk_id, partial[index])
                    partial.clear()
                    current = None
        if not finished and usage is None:
            # The body ended cleanly but the answer did not: a proxy's HTML page, a stream of empty
            # ``choices``, or a server that closed early. Passing it on would be a mute turn, or a
            # fragment stored as a whole reply; half-built tool calls are never sent.
            raise self._unfinished(seen) from None
        for index in sorted(partial):
            yield _call_chunk(chunk_id, partial[index])
        if usage is not None:
            yield ChatChunk(id=chunk_id or shortuuid("chunk"), usage=usage)

    def _unfinished(self, seen: _Received) -> APIConnectionError:
        kind = seen.content_type or "no content-type"
        if seen.chunks == 0:
            problem = f"the server answered 200 but sent no event stream ({kind}); is base_url an OpenAI-compatible /v1 URL?"
        else:
            got = f"{seen.chunks} chunks, {seen.characters} characters of text"
            problem = f"the stream ended before the answer did (no finish_reason, usage or [DONE]; {got}; {kind})"
        return APIConnectionError(scrub(f"{self._where()}: {problem}"))

    async def _raw_chunks(self, client: openai.AsyncOpenAI, params: dict[str, Any], timeout: float, seen: _Received) -> AsyncIterator[Any]:
        # Only the network side is wrapped, so a bug in chunk handling is not reported as a connection error.
        try:
            stream = await client.chat.completions.create(**params, timeout=timeout)
            seen.content_type = stream.response.headers.get("content-type", "").split(";")[0].strip()
            async with stream:
                async for chunk in stream:
                    seen.chunks += 1
                    yield chunk
        except Exception as exc:  # every failure becomes our error type, scrubbed (see _api_error)
            error = self._api_error(exc, received=seen.chunks, timeout=timeout)
        else:
            return
        # Raised outside ``except``: the openai exception (which may echo the key, and holds the
        # request) must not travel along as ``__context__`` either.
        raise error from None


@dataclass
class _Received:
    """What one attempt's stream delivered, to word the error when it ends unfinished."""

    content_type: str = ""
    chunks: int = 0
    characters: int = 0


@dataclass
class _Share:
    client: openai.AsyncOpenAI
    users: int = 0


class _SharedClients:
    """One ``openai.AsyncOpenAI`` per event loop and (key, URL), counted by the OpenAILLMs using it.

    The client does not retry (``LLM.chat()`` does) and its timeout is set per request, so LLMs
    that differ in ``conn_options`` still share it. A loop's entries hold the loop only while
    some OpenAILLM uses them.
    """

    def __init__(self) -> None:
        self._by_loop: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[tuple[str, str | None], _Share]] = (
            weakref.WeakKeyDictionary()
        )

    def acquire(self, loop: asyncio.AbstractEventLoop, key: tuple[str, str | None]) -> openai.AsyncOpenAI:
        shares = self._by_loop.setdefault(loop, {})
        share = shares.get(key)
        if share is None:
            api_key, base_url = key
            share = shares[key] = _Share(_no_thread_hop(openai.AsyncOpenAI(api_key=api_key, base_url=base_url, max_retries=0)))
        share.users += 1
        return share.client

    def release(self, loop: asyncio.AbstractEventLoop, key: tuple[str, str | None]) -> openai.AsyncOpenAI | None:
        """One user fewer; the client when that was the last one (no longer shared: the caller closes it)."""
        shares = self._by_loop.get(loop)
        share = shares.get(key) if shares is not None else None
        if share is None:
            return None
        share.users -= 1
        if share.users > 0:
            return None
        del shares[key]
        if not shares:
            del self._by_loop[loop]
        return share.client

    def release_later(self, loop_ref: weakref.ref[asyncio.AbstractEventLoop], key: tuple[str, str | None]) -> None:
        """An OpenAILLM was garbage-collected without ``aclose()``: its share is given back, and the
        client, if it was the last user, is closed on its own loop."""
        loop = loop_ref()
        client = self.release(loop, key) if loop is not None else None
        if client is not None and loop is not None:
            _close_soon(loop, client)

    def count(self, loop: asyncio.AbstractEventLoop) -> int:
        """How many clients ``loop`` holds (for tests and benchmarks)."""
        return len(self._by_loop.get(loop, {}))


def _no_thread_hop(client: openai.AsyncOpenAI) -> openai.AsyncOpenAI:
    """Look up the OS name for the client's headers now, synchronously, once per client.

    The client otherwise does it in a worker thread on its first request, and on a
    :class:`~agentlab.VirtualClock` the loop would jump to its next timer meanwhile (a user-away
    timeout, say) before the request even left. Best effort: a client without the attribute is
    left as it is.
    """
    with contextlib.suppress(Exception):
        from openai._base_client import get_platform

        if getattr(client, "_platform", False) is None:
            client._platform = get_platform()
    return client


_SHARED = _SharedClients()
_CLOSING: set[asyncio.Future[Any]] = set()


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


def _close_soon(loop: asyncio.AbstractEventLoop, client: openai.AsyncOpenAI) -> None:
    """Close ``client`` on ``loop`` from anywhere (a finalizer, another loop); a closed loop's
    sockets are already gone with it, so there is nothing left to do then."""
    if loop.is_closed():
        return

    def start() -> None:
        task = asyncio.ensure_future(client.close(), loop=loop)
        _CLOSING.add(task)
        task.add_done_callback(_CLOSING.discard)

    with contextlib.suppress(RuntimeError):  # closed between the check and the call
        loop.call_soon_threadsafe(start)


def _scrub_body(body: Any) -> Any:
    """A server's error body (parsed JSON) without secrets (see :mod:`agentlab._secrets`)."""
    if body is None:
        return None
    return json.loads(scrub(json.dumps(body, default=str)))


def to_openai_messages(chat_ctx: ChatContext) -> list[dict[str, Any]]:
    """Convert a chat context to the chat-completions ``messages`` list.

    Consecutive function calls become one assistant message with ``tool_calls``; outputs become
    ``tool`` messages; agent handoffs and messages without text are left out.

    Example::

        ctx = ChatContext()
        ctx.add_message(role="user", content="hi")
        to_openai_messages(ctx)   # [{'role': 'user', 'content': 'hi'}]
    """
    # Runs once per LLM request over the whole conversation, so per item it does as little as it can
    # (a message of one text part, the usual case, skips ``text_content``): a long conversation's
    # per-turn cost on agentlab's side stays small (see benchmarks/bench_load.py --only openai).
    messages: list[dict[str, Any]] = []
    append = messages.append
    calls: list[dict[str, Any]] = []
    for item in chat_ctx.items:
        kind = item.type
        if kind == "function_call":
            calls.append({"id": item.call_id, "type": "function", "function": {"name": item.name, "arguments": item.arguments or "{}"}})
            continue
        if calls:
            append({"role": "assistant", "tool_calls": calls})
            calls = []
        if kind == "message":
            content = item.content
            text = content[0] if len(content) == 1 and type(content[0]) is str else item.text_content
            if text:
                append({"role": item.role, "content": text})
        elif kind == "function_call_output":
            append({"role": "tool", "tool_call_id": item.call_id, "content": item.output})
    if calls:
        append({"role": "assistant", "tool_calls": calls})
    return messages


def parse_model_string(spec: str) -> tuple[str, str]:
    """Split ``"provider/model"`` into ``(provider, model)``; the model may itself contain slashes.

    Example::

        parse_model_string("openai/gpt-4.1-mini")          # ('openai', 'gpt-4.1-mini')
        parse_model_string("openai/meta-llama/Llama-3.1")  # ('openai', 'meta-llama/Llama-3.1')
    """
    provider, sep, model = spec.strip().partition("/")
    provider, model = provider.strip().lower(), model.strip()
    if not sep or not provider or not model:
        raise ValueError(f"model string {spec!r} is not 'provider/model', e.g. 'openai/gpt-4.1-mini'")
    return provider, model


def llm_from_string(spec: str, **kwargs: Any) -> LLM:
    """Build an LLM from ``"provider/model"``; ``kwargs`` go to the provider's class.

    Example::

        llm = llm_from_string("openai/gpt-4.1-mini", temperature=0.3)
    """
    provider, model = parse_model_string(spec)
    if provider == "openai":
        return OpenAILLM(model=model, **kwargs)
    supported = ", ".join(repr(p) for p in SUPPORTED_PROVIDERS)
    raise ValueError(f"model string {spec!r}: unknown provider {provider!r}; supported providers: {supported}")


@dataclass
class _PartialCall:
    call_id: str = ""
    name: str = ""
    arguments: str = ""

    def add(self, tc: Any) -> None:
        if tc.id and not self.call_id:
            self.call_id = tc.id
        fn = tc.function
        if fn is None:
            return
        # OpenAI sends the name once; servers that repeat it in every delta must not double it.
        if fn.name and not self.name:
            self.name = fn.name
        if fn.arguments:
            self.arguments += fn.arguments


def _call_chunk(chunk_id: str, call: _PartialCall) -> ChatChunk:
    tool_call = FunctionToolCall(name=call.name, arguments=call.arguments or "{}", call_id=call.call_id or shortuuid("call"))
    return ChatChunk(id=chunk_id or shortuuid("chunk"), delta=ChoiceDelta(tool_calls=(tool_call,)))


def _usage(raw: Any) -> CompletionUsage:
    details = getattr(raw, "prompt_tokens_details", None)
    cached = getattr(details, "cached_tokens", None) if details is not None else None
    return CompletionUsage(
        completion_tokens=raw.completion_tokens or 0,
        prompt_tokens=raw.prompt_tokens or 0,
        total_tokens=raw.total_tokens or 0,
        prompt_cached_tokens=cached or 0,
    )


def _tool_choice_param(choice: ToolChoice) -> Any:
    if isinstance(choice, str):
        if choice in _TOOL_CHOICE_STRINGS:
            return choice
    elif isinstance(choice, dict):
        fn = choice.get("function")
        if choice.get("type") == "function" and isinstance(fn, dict) and isinstance(fn.get("name"), str):
            return {"type": "function", "function": {"name": fn["name"]}}
    raise ValueError(f"tool_choice {choice!r}: expected 'auto', 'required', 'none' or {{'type': 'function', 'function': {{'name': ...}}}}")


def _error_detail(exc: openai.APIError) -> str:
    body = exc.body
    if isinstance(body, dict):
        err = body.get("error", body)
        if isinstance(err, dict) and isinstance(err.get("message"), str):
            return err["message"]
        if isinstance(body.get("message"), str):
            return body["message"]
    return exc.message


_CREATE_PARAMS: frozenset[str] | None = None


def _create_parameters() -> frozenset[str]:
    global _CREATE_PARAMS
    if _CREATE_PARAMS is None:
        sig = inspect.signature(openai.resources.chat.completions.AsyncCompletions.create)
        _CREATE_PARAMS = frozenset(name for name in sig.parameters if name != "self")
    return _CREATE_PARAMS
