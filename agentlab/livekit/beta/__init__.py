"""``livekit.agents.beta``: ``EndCallTool`` (real), the prebuilt workflows and translation (stand-ins).

Example::

    Agent(instructions="...", tools=[EndCallTool()])   # the model may end the call; the agent says goodbye first
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from ..._frozen import frozen
from ...tools import RunContext, Toolset, function_tool
from .._table import module_getattr, names

__all__ = list(names()["livekit.agents.beta"])

_DESCRIPTION = (
    "End the call. Use it only when the user says goodbye or clearly wants to hang up, "
    "or when the conversation has reached its natural end."
)


@frozen
class EndCallEvent:
    """What ``on_tool_called`` / ``on_tool_completed`` receive: the tool's context and output."""

    ctx: RunContext
    output: Any = None


class Instructions(str):
    """Instructions with modality-specific additions (LiveKit's ``beta.Instructions``).

    agentlab's agents speak, so the instructions are ``common`` plus the ``audio`` addition and the
    ``dynamic`` context; ``text`` is kept (``.text``) but not used. As a ``str`` it goes wherever
    instructions do.

    Example::

        Agent(instructions=Instructions("You are a concierge.", audio="Keep it short.", text="Use markdown."))
    """

    def __new__(cls, common: str = "", *, audio: str | None = None, text: str | None = None, dynamic: str | None = None) -> Instructions:
        spoken = "\n".join(part for part in (common, audio, dynamic) if part)
        self = super().__new__(cls, spoken)
        self.common, self.audio, self.text, self.dynamic = common, audio, text, dynamic
        return self

    def render(self, modality: str = "audio") -> str:
        """The instructions for ``"audio"`` (common + audio) or ``"text"`` (common + text), with ``dynamic``."""
        extra = self.audio if modality == "audio" else self.text
        return "\n".join(part for part in (self.common, extra, self.dynamic) if part)


class EndCallTool(Toolset):
    """A toolset with one tool, ``end_call``: the model calls it to end the conversation.

    Its output is ``end_instructions`` (default "say goodbye to the user"), so the model replies
    once more; when that turn has played the session shuts down (``session.shutdown()``). With
    ``end_instructions=None`` there is no reply and the session ends after the current turn.
    ``delete_room`` has no effect offline (there is no room), and ``ignore_on_enter`` is kept but
    not applied (agentlab offers the tool during ``on_enter`` too).

    Example::

        Agent(instructions="...", tools=[EndCallTool(extra_description="Also when the order is placed.")])
    """

    def __init__(
        self,
        *,
        extra_description: str = "",
        delete_room: bool = True,
        end_instructions: str | None = "say goodbye to the user",
        ignore_on_enter: bool = False,
        on_tool_called: Callable[[EndCallEvent], Awaitable[None]] | None = None,
        on_tool_completed: Callable[[EndCallEvent], Awaitable[None]] | None = None,
    ) -> None:
        self.delete_room = delete_room
        self.end_instructions = end_instructions
        self.ignore_on_enter = ignore_on_enter
        self._on_tool_called = on_tool_called
        self._on_tool_completed = on_tool_completed
        description = f"{_DESCRIPTION}\n{extra_description}".strip()
        super().__init__(id="end_call", tools=[function_tool(self._end_call, name="end_call", description=description)])

    async def _end_call(self, ctx: RunContext) -> Any:
        if self._on_tool_called is not None:
            await self._on_tool_called(EndCallEvent(ctx=ctx))
        # The follow-up reply (the goodbye) plays on this same speech: shut down once it is done.
        ctx.speech_handle.add_done_callback(lambda _: ctx.session.shutdown())
        if self._on_tool_completed is not None:
            await self._on_tool_completed(EndCallEvent(ctx=ctx, output=self.end_instructions))
        return self.end_instructions


__getattr__ = module_getattr("livekit.agents.beta")
