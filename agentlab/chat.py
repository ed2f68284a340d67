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
import operator
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

    ``interrupted``: cut by the user or ``interrupt()``; ``incomplete``: cut by a failure.

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
    #: agentlab's: the reply broke off (the LLM failed for good, or ``llm_node`` raised) and this
    #: is the text that came before. Kept in the history as LiveKit keeps it, but marked.
    incomplete: bool = False
    #: Anything an application attaches to the message (LiveKit's ``extra``); never sent to the LLM.
    extra: dict[str, Any] = field(default_factory=dict)

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
        """The items, oldest first (the live list; assigning replaces them)."""
        return self._items

    @items.setter
    def items(self, items: Iterable[ChatItem]) -> None:
        self._items = list(items)

    def messages(self) -> list[ChatMessage]:
        """The messages only (no calls, outputs or handoffs), oldest first."""
        return [it for it in self._items if isinstance(it, ChatMessage)]

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
        extra: dict[str, Any] | None = None,
    ) -> ChatMessage:
        """Append a message and return it."""
        msg = ChatMessage(
            role=role, content=[content] if isinstance(content, str) else list(content), interrupted=interrupted, extra=dict(extra or {})
        )
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

    def remove(self, item: ChatItem | str) -> None:
        """Remove an item (or the item with this id); ``ValueError`` if it is not there."""
        item_id = item if isinstance(item, str) else item.id
        index = self.index_by_id(item_id)
        if index is None:
            raise ValueError(f"ChatContext.remove: no item with id {item_id!r}")
        del self._items[index]

    def merge(self, other: ChatContext, *, exclude_function_call: bool = False, exclude_instructions: bool = False) -> ChatContext:
        """Insert ``other``'s items that this context lacks (by id), in time order; returns ``self``.

        Example::

            ctx.merge(task_ctx, exclude_instructions=True)
        """
        known = {it.id for it in self._items}
        extra = other.copy(exclude_function_call=exclude_function_call, exclude_instructions=exclude_instructions)
        self.insert([it for it in extra.items if it.id not in known])
        return self

    def to_provider_format(self, format: str = "openai") -> list[dict[str, Any]]:
        """The messages as a provider's API takes them (``"openai"``: chat-completions messages)."""
        if format != "openai":
            raise ValueError(f"ChatContext.to_provider_format: format {format!r} is not supported; agentlab speaks 'openai'")
        from .models.openai import to_openai_messages

        return to_openai_messages(self)

    def get_by_id(self, item_id: str) -> ChatItem | None:
        """The item with this id, or ``None``."""
        return next((it for it in self._items if it.id == item_id), None)

    def index_by_id(self, item_id: str) -> int | None:
        """The position of the item with this id, or ``None``."""
        return next((i for i, it in enumerate(self._items) if it.id == item_id), None)

    def is_equivalent(self, other: ChatContext) -> bool:
        """True when ``other`` holds the same items in the same order: the same ids and types, and
        the same essential fields (a message's role, ``interrupted`` and content; a call's name,
        call id and arguments; an output's name, call id, output and ``is_error``). Timestamps and
        metrics do not count. LiveKit reuses a preemptive reply only when the context it was
        generated from is equivalent to the committed turn's.

        Example::

            ctx.copy().is_equivalent(ctx)   # True
        """
        if self is other:
            return True
        mine, theirs = self._items, other._items
        if len(mine) != len(theirs):
            return False
        # Copies share their items, so the usual answer is "all the same objects", found in C.
        if all(map(operator.is_, mine, theirs)):
            return True
        pairs = zip(mine, theirs, strict=True)
        return all(a is b or (a.id == b.id and a.type == b.type and _essential(a) == _essential(b)) for a, b in pairs)

    def copy(
        self,
        *,
        exclude_function_call: bool = False,
        exclude_instructions: bool = False,
        exclude_handoff: bool = False,
        tools: Iterable[Any] | None = None,
    ) -> ChatContext:
        """A new context with the same items (as LiveKit: items are shared, the list is not).

        Optionally without function calls/outputs, system messages or handoffs. With ``tools``
        (tools or their names), only the calls of those tools are kept, and only outputs that
        answer a kept call. Adding or removing items in the copy leaves the original alone;
        editing a shared item edits both.
        """
        if not (exclude_function_call or exclude_instructions or exclude_handoff) and tools is None:
            return ChatContext(self._items)  # (a new list) every reply copies the history: no test per item
        known: set[str] | None = None
        if tools is not None:
            names = {t if isinstance(t, str) else t.name for t in tools}
            known = {it.call_id for it in self._items if it.type == "function_call" and it.name in names}
        out = []
        for it in self._items:
            if exclude_function_call and it.type in ("function_call", "function_call_output"):
                continue
            if known is not None and it.type in ("function_call", "function_call_output") and it.call_id not in known:
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


def _items_after(items: list[Any], prefix: list[Any]) -> list[Any] | None:
    """The items that follow ``prefix`` when ``items`` starts with it, else ``None``.

    Each reply's context repeats the previous one's history, the same item objects: the list
    comparison finds that in C (identity first), so per-reply work on the history (the prompt's
    size, the items the LLM gets) can look at the new items only, not at all of them every time.
    """
    n = len(prefix)
    return items[n:] if items[:n] == prefix else None


def _essential(item: ChatItem) -> tuple[Any, ...]:
    """What :meth:`ChatContext.is_equivalent` compares beyond id and type (LiveKit's ``_essential_fields``)."""
    if isinstance(item, ChatMessage):
        return (item.role, item.interrupted, item.content)
    if isinstance(item, FunctionCall):
        return (item.name, item.call_id, item.arguments)
    if isinstance(item, FunctionCallOutput):
        return (item.name, item.call_id, item.output, item.is_error)
    return ()


def arguments_dict(call: FunctionCall) -> dict[str, Any]:
    """The call's arguments parsed from JSON; raises ``ValueError`` on malformed JSON."""
    if not call.arguments.strip():
        return {}
    value = json.loads(call.arguments)
    if not isinstance(value, dict):
        raise ValueError(f"arguments must be a JSON object, got {type(value).__name__}")
    return value
