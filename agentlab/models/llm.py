"""The LLM component protocol: what the session asks of any language model.

An LLM turns a :class:`~agentlab.chat.ChatContext` plus tools into a stream of
:class:`ChatChunk` (text deltas, tool-call deltas, and usage at the end). Names follow LiveKit
(``llm.ChatChunk``, ``ChoiceDelta``, ``FunctionToolCall``, ``CompletionUsage``) so ``llm_node``
overrides written for LiveKit read the same.

Timing is not the component's business: the session measures time to first token and duration on
its own clock, so scripted and real models are measured the same way.

Example::

    class EchoLLM(LLM):
        model = "echo"
        async def _stream(self, request):
            yield ChatChunk(delta=ChoiceDelta(content=request.chat_ctx.items[-1].text_content))

    session = AgentSession(llm=EchoLLM())
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import math
from collections.abc import AsyncIterator, Callable, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Union

from .._frozen import frozen
from .._utils import shortuuid

if TYPE_CHECKING:
    from ..chat import ChatContext
    from ..tools import FunctionTool

__all__ = [
    "DEFAULT_API_CONNECT_OPTIONS",
    "LLM",
    "APIConnectOptions",
    "APIConnectionError",
    "APIError",
    "APIStatusError",
    "APITimeoutError",
    "ChatChunk",
    "ChoiceDelta",
    "CompletionUsage",
    "FlushSentinel",
    "FunctionToolCall",
    "LLMRequest",
    "LLMStream",
    "ToolChoice",
    "error_observer",
    "retry_observer",
]

#: ``"auto"``, ``"required"``, ``"none"``, or ``{"type": "function", "function": {"name": ...}}``.
ToolChoice = Union[Literal["auto", "required", "none"], dict[str, Any]]


@frozen
class FunctionToolCall:
    """A complete tool call in a chunk (arguments as a JSON string)."""

    name: str
    arguments: str
    call_id: str
    type: Literal["function"] = "function"


@dataclass
class ChoiceDelta:
    """The new text and/or tool calls in one chunk (mutable, as LiveKit's: an ``llm_node`` may edit it)."""

    content: str | None = None
    tool_calls: tuple[FunctionToolCall, ...] = ()
    role: Literal["assistant"] = "assistant"


@frozen
class CompletionUsage:
    """Token counts for one request, usually in the last chunk."""

    completion_tokens: int = 0
    prompt_tokens: int = 0
    total_tokens: int = 0
    prompt_cached_tokens: int = 0


@dataclass
class ChatChunk:
    """One streamed piece of an LLM response (mutable, as LiveKit's)."""

    delta: ChoiceDelta | None = None
    usage: CompletionUsage | None = None
    id: str = field(default_factory=lambda: shortuuid("chunk"))


class FlushSentinel:
    """Yielded by an ``llm_node`` to end the current spoken segment (LiveKit's); agentlab plays on."""


class LLMStream:
    """What :meth:`LLM.chat` returns: an async iterator of :class:`ChatChunk`, and an async context
    manager that closes the request on exit (``async with llm.chat(...) as stream``, as in LiveKit).

    Example::

        async with llm.chat(chat_ctx=ctx) as stream:
            async for chunk in stream:
                ...
    """

    def __init__(self, chunks: AsyncIterator[ChatChunk]) -> None:
        self._chunks = chunks

    def __aiter__(self) -> AsyncIterator[ChatChunk]:
        return self._chunks  # iterate the stream itself: no extra step per chunk

    async def __anext__(self) -> ChatChunk:
        return await self._chunks.__anext__()

    async def __aenter__(self) -> LLMStream:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Stop the request (a generator's ``aclose``)."""
        aclose = getattr(self._chunks, "aclose", None)
        if aclose is not None:
            await aclose()


@frozen
class APIConnectOptions:
    """How a request is retried and how long each attempt may wait (LiveKit's ``APIConnectOptions``).

    The defaults are LiveKit 1.8.9's: ``max_retry=3`` retries after the first attempt (4 attempts),
    the first retry 0.1 s after a failure and the later ones ``retry_interval`` (2 s) after theirs;
    ``timeout`` (10 s) bounds each wait for the provider (connecting, and every read of the stream),
    enforced by the component (:class:`~agentlab.models.openai.OpenAILLM`). A provider that never
    answers therefore fails a request after ``(max_retry + 1) * timeout`` plus the waits between
    attempts: 4 x 10 + 0.1 + 2 + 2 = 44.1 s with the defaults.

    Example::

        fast = APIConnectOptions(max_retry=1, timeout=5.0)
        llm = OpenAILLM(model="gpt-4.1-mini", conn_options=fast)
        ctx.add_message(role="user", content="hi")
        stream = llm.chat(chat_ctx=ctx, conn_options=APIConnectOptions(max_retry=0))   # per call
    """

    max_retry: int = 3
    retry_interval: float = 2.0
    timeout: float = 10.0

    def __post_init__(self) -> None:
        if isinstance(self.max_retry, bool) or not isinstance(self.max_retry, int) or self.max_retry < 0:
            raise ValueError(f"APIConnectOptions: max_retry = {self.max_retry!r} must be an integer >= 0")
        if not _non_negative(self.retry_interval):
            raise ValueError(f"APIConnectOptions: retry_interval = {self.retry_interval!r} must be a finite number of seconds >= 0")
        if not _non_negative(self.timeout) or self.timeout == 0:
            raise ValueError(f"APIConnectOptions: timeout = {self.timeout!r} must be a finite number of seconds > 0")

    def _interval_for_retry(self, num_retries: int) -> float:
        """Seconds to wait before retry number ``num_retries + 1`` (LiveKit: 0.1 s, then ``retry_interval``)."""
        return 0.1 if num_retries == 0 else self.retry_interval


def _non_negative(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) and value >= 0


#: LiveKit's defaults: 3 retries, 2 s apart (the first after 0.1 s), 10 s per attempt.
DEFAULT_API_CONNECT_OPTIONS = APIConnectOptions()


@frozen
class LLMRequest:
    """Everything one LLM call receives."""

    chat_ctx: ChatContext
    tools: Sequence[FunctionTool] = ()
    tool_choice: ToolChoice | None = None
    request_id: str = ""
    #: Provider options forwarded as-is (temperature, ...).
    extra: dict[str, Any] = field(default_factory=dict)
    #: Retries and timeout of this call (the component enforces ``timeout``; ``chat()`` retries).
    conn_options: APIConnectOptions = DEFAULT_API_CONNECT_OPTIONS


class LLM(abc.ABC):
    """Base class of language-model components. Subclasses implement :meth:`_stream`.

    ``chat()`` returns an async iterator of :class:`ChatChunk`. Errors are raised as
    :class:`APIError` subclasses. As LiveKit's ``LLMStream`` does, ``chat()`` retries an attempt
    that failed with a retryable ``APIError`` (also after part of the answer was streamed) according
    to ``conn_options``, and tells :data:`error_observer` about every failure.
    """

    #: Model name, e.g. ``"gpt-4.1-mini"``.
    model: str = "unknown"
    #: Provider name, e.g. ``"openai"``; shown in metrics.
    provider: str = "unknown"
    #: How ``chat()`` retries (LiveKit's defaults); one call may pass its own ``conn_options``.
    conn_options: APIConnectOptions = DEFAULT_API_CONNECT_OPTIONS

    @property
    def label(self) -> str:
        """``module.ClassName``, as LiveKit labels metrics."""
        return f"{type(self).__module__}.{type(self).__name__}"

    def chat(
        self,
        *,
        chat_ctx: ChatContext,
        tools: Sequence[FunctionTool] = (),
        tool_choice: ToolChoice | None = None,
        request_id: str = "",
        conn_options: APIConnectOptions | None = None,
        **extra: Any,
    ) -> AsyncIterator[ChatChunk]:
        """Stream a response to ``chat_ctx`` offering ``tools``, retrying as ``conn_options`` says.

        A retry starts the answer over: chunks of the failed attempt were already yielded, so a
        consumer that keeps text should drop it when :data:`error_observer` reports a recoverable
        failure (the session does). When every attempt failed, raises
        ``APIConnectionError("failed to generate LLM completion after N attempts ...")`` with the
        last error as ``__cause__``; a non-retryable error (a 400, say) is raised as it is, at once.

        Example::

            async for chunk in llm.chat(chat_ctx=ctx, conn_options=APIConnectOptions(max_retry=1)):
                print(chunk.delta.content if chunk.delta else chunk.usage)
        """
        options = self.conn_options if conn_options is None else conn_options
        request = LLMRequest(
            chat_ctx=chat_ctx, tools=tuple(tools), tool_choice=tool_choice, request_id=request_id, extra=extra, conn_options=options
        )
        return LLMStream(_retrying(self, request))

    @abc.abstractmethod
    def _stream(self, request: LLMRequest) -> AsyncIterator[ChatChunk]:
        """Yield the chunks of one response (an async generator)."""

    async def aclose(self) -> None:  # noqa: B027 - optional hook, not abstract
        """Release connections; the default does nothing."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}(model={self.model!r})"


async def _retrying(llm: LLM, request: LLMRequest) -> AsyncIterator[ChatChunk]:
    """LiveKit's ``LLMStream._main_task``: attempts, waits between them, and what is reported."""
    options = request.conn_options
    attempts = options.max_retry + 1
    for attempt in range(attempts):
        try:
            async with contextlib.aclosing(llm._stream(request)) as stream:
                async for chunk in stream:
                    yield chunk
            return
        except APIError as exc:
            error = exc
        except Exception as exc:  # a bug in the component, not a provider failure: not retried (LiveKit)
            _tell(exc, recoverable=False)
            raise
        if not error.retryable or options.max_retry == 0:
            _tell(error, recoverable=False)
            raise error
        if attempt + 1 == attempts:
            final = APIConnectionError(
                f"failed to generate LLM completion after {attempts} attempts (caused by {type(error).__name__}: {error})"
            )
            _tell(final, recoverable=False)
            raise final from error
        wait = options._interval_for_retry(attempt)
        error._retry_note = f"attempt {attempt + 1} of {attempts} failed; retrying in {wait:g} s"
        _tell(error, recoverable=True)
        await asyncio.sleep(wait)


def _tell(error: BaseException, *, recoverable: bool) -> None:
    observer = error_observer.get()
    if observer is not None:
        observer(error, recoverable)


class APIError(Exception):
    """A provider call failed. ``retryable`` tells whether trying again may succeed."""

    def __init__(self, message: str, *, retryable: bool = True, body: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.retryable = retryable
        self.body = body
        #: Set by ``LLM.chat()`` on an attempt it retries ("attempt 1 of 4 failed; retrying in 0.1 s").
        self._retry_note = ""

    def __str__(self) -> str:
        note = getattr(self, "_retry_note", "")
        return f"{super().__str__()} ({note})" if note else super().__str__()


#: Told about every failed attempt a provider client is about to retry by itself (the ``openai``
#: client's own retries, used by the audio components): called with a retryable :class:`APIError`.
#: The session sets it around each LLM and TTS request so such attempts become ``error`` events
#: with ``recoverable=True``; ``None`` (the default) ignores them.
retry_observer: ContextVar[Callable[[APIError], None] | None] = ContextVar("agentlab_retry_observer", default=None)

#: Told about every failure inside ``LLM.chat()``, as LiveKit's LLM emits ``error`` events:
#: ``observer(error, recoverable)``. ``recoverable=True``: the attempt is retried (the chunks it
#: streamed are void); ``False``: the request failed for good and ``error`` is raised next. The
#: session sets it around each LLM step, so these become ``error`` events (source ``"llm"``) and
#: the unrecoverable ones count toward ``max_unrecoverable_errors``. An exception raised by an
#: ``llm_node`` override itself never passes here (as in LiveKit: no ``error`` event).
#:
#: Example::
#:
#:     token = error_observer.set(lambda err, recoverable: print(recoverable, err))
#:     async for chunk in llm.chat(chat_ctx=ctx):
#:         ...
#:     error_observer.reset(token)
error_observer: ContextVar[Callable[[BaseException, bool], None] | None] = ContextVar("agentlab_llm_error_observer", default=None)


class APIStatusError(APIError):
    """The provider answered with an HTTP error status."""

    def __init__(self, message: str, *, status_code: int, retryable: bool | None = None, body: Any = None) -> None:
        if retryable is None:
            # LiveKit's rule: client errors are final, except timeouts, rate limits and 499.
            retryable = status_code in (408, 429, 499) or status_code >= 500
        super().__init__(message, retryable=retryable, body=body)
        self.status_code = status_code


class APIConnectionError(APIError):
    """The provider could not be reached, or the stream broke off."""


class APITimeoutError(APIConnectionError):
    """The provider did not answer in time."""
