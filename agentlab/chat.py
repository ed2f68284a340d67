"""Chat history: messages, function calls and their outputs, agent handoffs, and the context holding them.

The names and fields follow LiveKit Agents' ``llm.ChatContext`` so agent code reads the same.
Items are plain dataclasses; ``created_at`` is session time in seconds (virtual or real).

Example::

    ctx = ChatContext()
    ctx.add_message(role="system", content="You book tables.")
    ctx.add_message(role="user", content="A table for two, please.")
    ctx.items[-1].text_content   # 'A table for two, please.'
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from typing import Any, Literal, Union

from ._utils import shortuuid

__all__ = [
    "AgentHandoff",
    "ChatContext",
    "ChatItem",
    "ChatMessage",
    "ChatRole",
    "FunctionCall",
    "FunctionCallOutput",
]

ChatRole = Literal["system", "developer", "user", "assistant"]


@dataclass
class ChatMessage:
    """One message. ``content`` is a list of text parts, as in LiveKit; ``text_content`` joins them.

    Example::

        ChatMessage(role="assistant", content=["Hello!"]).text_content   # 'Hello!'
    """

    role: ChatRole
    content: list[str] = field(default_factory=list)
    id: str = field(default_factory=lambda: shortuuid("item"))
    interrupted: bool = False
    transcript_confidence: float | None = None
    #: Per-message latency report (LiveKit's ``MetricsReport``): ``started_speaking_at``,
    #: ``stopped_speaking_at``, ``e2e_latency``, ``llm_node_ttft`` ... in session seconds.
    metrics: dict[str, float] = field(default_factory=dict)
    created_at: float = 0.0
    type: Literal["message"] = "message"

    @property
    def text_content(self) -> str | None:
        """All text parts joined by newlines, or ``None`` when there is no text."""
        parts = [c for c in self.content if isinstance(c, str)]
        return "\n".join(parts) if parts else None


@dataclass
class FunctionCall:
    """A tool call the LLM made. ``arguments`` is the raw JSON string, as the model sent it."""

    call_id: str
    name: str
    arguments: str = "{}"
    id: str = field(default_factory=lambda: shortuuid("item"))
    created_at: float = 0.0
    type: Literal["function_call"] = "function_call"


@dataclass
class FunctionCallOutput:
    """A tool's result (or error) for the call with the same ``call_id``."""

    call_id: str
    name: str
    output: str
    is_error: bool = False
    id: str = field(default_factory=lambda: shortuuid("item"))
    created_at: float = 0.0
    type: Literal["function_call_output"] = "function_call_output"


@dataclass
class AgentHandoff:
    """Marks that the active agent changed (``old_agent_id`` is ``None`` at session start)."""

    new_agent_id: str
    old_agent_id: str | None = None
    id: str = field(default_factory=lambda: shortuuid("item"))
    created_at: float = 0.0
    type: Literal["agent_handoff"] = "agent_handoff"


ChatItem = Union[ChatMessage, FunctionCall, FunctionCallOutput, AgentHandoff]

_ITEM_TYPES: dict[str, type] = {
    "message": ChatMessage,
    "function_call": FunctionCall,
    "function_call_output": FunctionCallOutput,
    "agent_handoff": AgentHandoff,
}


class ChatContext:
    """An ordered list of chat items, as sent to the LLM and kept as the session history.

    Example::

        ctx = ChatContext.empty()
        ctx.add_message(role="user", content="hi")
        len(ctx.items)   # 1
    """

    def __init__(self, items: Iterable[ChatItem] | None = None) -> None:
        self._items: list[ChatItem] = list(items or [])

    @classmethod
    def empty(cls) -> ChatContext:
        """A new empty context."""
        return cls()

    @property
    def items(self) -> list[ChatItem]:
        """The items, oldest first (the live list)."""
        return self._items

    def __len__(self) -> int:
        return len(self._items)

    def __iter__(self) -> Iterator[ChatItem]:
        return iter(self._items)

    def add_message(
        self,
        *,
        role: ChatRole,
        content: str | list[str],
        id: str | None = None,
        interrupted: bool = False,
        created_at: float | None = None,
    ) -> ChatMessage:
        """Append a message and return it."""
        msg = ChatMessage(role=role, content=[content] if isinstance(content, str) else list(content), interrupted=interrupted)
        if id is not None:
            msg.id = id
        if created_at is not None:
            msg.created_at = created_at
        self._items.append(msg)
        return msg

    def insert(self, item: ChatItem | Iterable[ChatItem]) -> None:
        """Insert item(s) keeping the list ordered by ``created_at`` (ties keep insertion order)."""
        for it in [item] if isinstance(item, (ChatMessage, FunctionCall, FunctionCallOutput, AgentHandoff)) else list(item):
            pos = len(self._items)
            while pos > 0 and self._items[pos - 1].created_at > it.created_at:
                pos -= 1
            self._items.insert(pos, it)

    def get_by_id(self, item_id: str) -> ChatItem | None:
        """The item with this id, or ``None``."""
        return next((it for it in self._items if it.id == item_id), None)

    def index_by_id(self, item_id: str) -> int | None:
        """The position of the item with this id, or ``None``."""
        return next((i for i, it in enumerate(self._items) if it.id == item_id), None)

    def copy(
        self,
        *,
        exclude_function_call: bool = False,
        exclude_instructions: bool = False,
        exclude_handoff: bool = False,
    ) -> ChatContext:
        """A new context with the same items (as LiveKit: items are shared, the list is not).

        Optionally without function calls/outputs, system messages or handoffs. Adding or removing
        items in the copy leaves the original alone; editing a shared item edits both.
        """
        out = []
        for it in self._items:
            if exclude_function_call and it.type in ("function_call", "function_call_output"):
                continue
            if exclude_instructions and it.type == "message" and it.role in ("system", "developer"):
                continue
            if exclude_handoff and it.type == "agent_handoff":
                continue
            out.append(it)
        return ChatContext(out)

    def truncate(self, *, max_items: int) -> ChatContext:
        """Keep the last ``max_items`` items (plus a leading system message), never starting on a tool output."""
        head = [it for it in self._items[:1] if it.type == "message" and it.role == "system"]
        tail = self._items[len(head) :][-max_items:] if max_items > 0 else []
        while tail and tail[0].type == "function_call_output":
            tail = tail[1:]
        self._items[:] = head + tail
        return self

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serializable form (``{"items": [...]}``) that :meth:`from_dict` reads back."""
        return {"items": [asdict(it) for it in self._items]}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ChatContext:
        """Rebuild a context written by :meth:`to_dict`."""
        items: list[ChatItem] = []
        for i, raw in enumerate(data.get("items", [])):
            kind = raw.get("type")
            if kind not in _ITEM_TYPES:
                raise ValueError(f"ChatContext.from_dict: items[{i}].type is {kind!r}; expected one of {sorted(_ITEM_TYPES)}")
            items.append(_ITEM_TYPES[kind](**raw))
        return cls(items)

    def __repr__(self) -> str:
        return f"ChatContext({len(self._items)} items)"


def arguments_dict(call: FunctionCall) -> dict[str, Any]:
    """The call's arguments parsed from JSON; raises ``ValueError`` on malformed JSON."""
    if not call.arguments.strip():
        return {}
    value = json.loads(call.arguments)
    if not isinstance(value, dict):
        raise ValueError(f"arguments must be a JSON object, got {type(value).__name__}")
    return value
