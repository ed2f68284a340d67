"""OpenAI chat completions as an :class:`~agentlab.models.llm.LLM`, for OpenAI and compatible servers.

Works with api.openai.com and any server speaking the chat-completions protocol (vLLM, llama.cpp,
Ollama, LM Studio...). Retries with backoff are the ``openai`` client's own (``max_retries``);
errors come out as agentlab's :class:`~agentlab.models.llm.APIError` family so the session can
tell recoverable failures from fatal ones.

Example::

    llm = OpenAILLM(model="gpt-4.1-mini")                         # key from OPENAI_API_KEY
    local = OpenAILLM(model="qwen3", base_url="http://127.0.0.1:8000/v1")
    same = llm_from_string("openai/gpt-4.1-mini")
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import json
import os
from collections.abc import AsyncIterator
from contextvars import ContextVar
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import openai

from .._secrets import register, scrub
from .._utils import shortuuid
from .llm import (
    LLM,
    APIConnectionError,
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
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        # A client from another (likely closed) loop cannot be awaited here; it is just dropped.
        if running is self._client_loop:
            await client.close()
        self._client_loop = None

    def _api_error(self, exc: Exception, what: str | None = None, *, received: int = 0) -> APIError:
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
            return APITimeoutError(scrub(f"{where}: no answer within {self.timeout:g}s"))
        if isinstance(exc, openai.APIConnectionError):
            cause = exc.__cause__ or exc
            return APIConnectionError(scrub(f"{where}: {broke_off or 'connection failed'} ({type(cause).__name__}: {cause})"))
        if isinstance(exc, openai.APIStatusError):
            return APIStatusError(
                scrub(f"{where}: HTTP {exc.status_code}: {_error_detail(exc)}"),
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
        timeout: seconds the client waits to connect and between reads.
        max_retries: retries the ``openai`` client makes itself on 408/409/429/5xx and
            connection errors, honouring ``retry-after`` headers.
        client: an existing ``openai.AsyncOpenAI`` to use instead (never closed by us).

    Example::

        llm = OpenAILLM(model="gpt-4.1-mini", temperature=0.2)
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
        timeout: float = 30.0,
        max_retries: int = 2,
        client: openai.AsyncOpenAI | None = None,
    ) -> None:
        self.model = model
        self.temperature = temperature
        self.parallel_tool_calls = parallel_tool_calls
        self.timeout = timeout
        self.max_retries = max_retries
        self._init_client(api_key, base_url, client, owner="OpenAILLM")

    @property
    def client(self) -> openai.AsyncOpenAI:
        """The ``openai.AsyncOpenAI`` in use, created on first access inside the running loop.

        Example::

            models = await llm.client.models.list()
        """
        if self._external_client is not None:
            return self._external_client
        return self._loop_client()

    async def aclose(self) -> None:
        """Close the HTTP client if this object created it.

        Example::

            await llm.aclose()
        """
        await self._close_loop_client()

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
        partial: dict[int, _PartialCall] = {}
        current: int | None = None
        usage: CompletionUsage | None = None
        chunk_id = ""
        async with contextlib.aclosing(self._raw_chunks(client, params)) as raw:
            async for chunk in raw:
                chunk_id = chunk.id or chunk_id
                if chunk.usage is not None:
                    usage = _usage(chunk.usage)
                if not chunk.choices:
                    continue
                choice = chunk.choices[0]
                delta = choice.delta
                if delta is not None and delta.content:
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
                    for index in sorted(partial):
                        yield _call_chunk(chunk_id, partial[index])
                    partial.clear()
                    current = None
        for index in sorted(partial):
            yield _call_chunk(chunk_id, partial[index])
        if usage is not None:
            yield ChatChunk(id=chunk_id or shortuuid("chunk"), usage=usage)

    async def _raw_chunks(self, client: openai.AsyncOpenAI, params: dict[str, Any]) -> AsyncIterator[Any]:
        # Only the network side is wrapped, so a bug in chunk handling is not reported as a connection error.
        received = 0
        try:
            stream = await client.chat.completions.create(**params)
            async with stream:
                async for chunk in stream:
                    received += 1
                    yield chunk
        except Exception as exc:  # every failure becomes our error type, scrubbed (see _api_error)
            error = self._api_error(exc, received=received)
        else:
            return
        # Raised outside ``except``: the openai exception (which may echo the key, and holds the
        # request) must not travel along as ``__context__`` either.
        raise error from None


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
    messages: list[dict[str, Any]] = []
    pending_calls: list[dict[str, Any]] = []

    def flush_calls() -> None:
        if pending_calls:
            messages.append({"role": "assistant", "tool_calls": list(pending_calls)})
            pending_calls.clear()

    for item in chat_ctx.items:
        if item.type == "function_call":
            pending_calls.append(
                {"id": item.call_id, "type": "function", "function": {"name": item.name, "arguments": item.arguments or "{}"}}
            )
            continue
        flush_calls()
        if item.type == "message":
            text = item.text_content
            if text:
                messages.append({"role": item.role, "content": text})
        elif item.type == "function_call_output":
            messages.append({"role": "tool", "tool_call_id": item.call_id, "content": item.output})
    flush_calls()
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
