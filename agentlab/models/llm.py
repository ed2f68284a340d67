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
from collections.abc import AsyncIterator, Callable, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Union

from .._utils import shortuuid

if TYPE_CHECKING:
    from ..chat import ChatContext
    from ..tools import FunctionTool

__all__ = [
    "LLM",
    "APIConnectionError",
    "APIError",
    "APIStatusError",
    "APITimeoutError",
    "ChatChunk",
    "ChoiceDelta",
    "CompletionUsage",
    "FunctionToolCall",
    "LLMRequest",
    "ToolChoice",
    "retry_observer",
]

#: ``"auto"``, ``"required"``, ``"none"``, or ``{"type": "function", "function": {"name": ...}}``.
ToolChoice = Union[Literal["auto", "required", "none"], dict[str, Any]]


@dataclass(frozen=True)
class FunctionToolCall:
    """A complete tool call in a chunk (arguments as a JSON string)."""

    name: str
    arguments: str
    call_id: str
    type: Literal["function"] = "function"


@dataclass(frozen=True)
class ChoiceDelta:
    """The new text and/or tool calls in one chunk."""

    content: str | None = None
    tool_calls: tuple[FunctionToolCall, ...] = ()
    role: Literal["assistant"] = "assistant"


@dataclass(frozen=True)
class CompletionUsage:
    """Token counts for one request, usually in the last chunk."""

    completion_tokens: int = 0
    prompt_tokens: int = 0
    total_tokens: int = 0
    prompt_cached_tokens: int = 0


@dataclass(frozen=True)
class ChatChunk:
    """One streamed piece of an LLM response."""

    delta: ChoiceDelta | None = None
    usage: CompletionUsage | None = None
    id: str = field(default_factory=lambda: shortuuid("chunk"))


@dataclass(frozen=True)
class LLMRequest:
    """Everything one LLM call receives."""

    chat_ctx: ChatContext
    tools: Sequence[FunctionTool] = ()
    tool_choice: ToolChoice | None = None
    request_id: str = ""
    #: Provider options forwarded as-is (temperature, ...).
    extra: dict[str, Any] = field(default_factory=dict)


class LLM(abc.ABC):
    """Base class of language-model components. Subclasses implement :meth:`_stream`.

    ``chat()`` returns an async iterator of :class:`ChatChunk`. Errors are raised as
    :class:`APIError` subclasses, whose ``retryable`` flag the session reports as ``recoverable``.
    """

    #: Model name, e.g. ``"gpt-4.1-mini"``.
    model: str = "unknown"
    #: Provider name, e.g. ``"openai"``; shown in metrics.
    provider: str = "unknown"

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
        **extra: Any,
    ) -> AsyncIterator[ChatChunk]:
        """Stream a response to ``chat_ctx`` offering ``tools``."""
        request = LLMRequest(chat_ctx=chat_ctx, tools=tuple(tools), tool_choice=tool_choice, request_id=request_id, extra=extra)
        return self._stream(request)

    @abc.abstractmethod
    def _stream(self, request: LLMRequest) -> AsyncIterator[ChatChunk]:
        """Yield the chunks of one response (an async generator)."""

    async def aclose(self) -> None:  # noqa: B027 - optional hook, not abstract
        """Release connections; the default does nothing."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}(model={self.model!r})"


class APIError(Exception):
    """A provider call failed. ``retryable`` tells whether trying again may succeed."""

    def __init__(self, message: str, *, retryable: bool = True, body: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.retryable = retryable
        self.body = body


#: Told about every failed attempt a provider client is about to retry by itself (the ``openai``
#: client's own retries): called with a retryable :class:`APIError`. The session sets it around each
#: LLM and TTS request so such attempts become ``error`` events with ``recoverable=True``, as
#: LiveKit's retrying streams emit them; ``None`` (the default) ignores them.
retry_observer: ContextVar[Callable[[APIError], None] | None] = ContextVar("agentlab_retry_observer", default=None)


class APIStatusError(APIError):
    """The provider answered with an HTTP error status."""

    def __init__(self, message: str, *, status_code: int, retryable: bool | None = None, body: Any = None) -> None:
        if retryable is None:
            retryable = status_code in (408, 409, 429) or status_code >= 500
        super().__init__(message, retryable=retryable, body=body)
        self.status_code = status_code


class APIConnectionError(APIError):
    """The provider could not be reached, or the stream broke off."""


class APITimeoutError(APIConnectionError):
    """The provider did not answer in time."""
