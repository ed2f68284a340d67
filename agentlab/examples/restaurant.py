"""The quickstart agent: a restaurant host with two tools and a handoff to the events desk.

It runs offline on :class:`~agentlab.ScriptedLLM` rules that read the guest's words, call the
tools with the details they heard and phrase replies from the tools' outputs, so it behaves like
a small real agent. Give it an OpenAI LLM instead and the same agent runs on a real model.

Example::

    from agentlab.examples.restaurant import Host, scripted_llm
    run = agentlab.simulate(Host, {"llm": scripted_llm()}, ["A table for 4 at 7pm?", "Under Rivera"])
"""

from __future__ import annotations

import json
import re
import zlib
from typing import Annotated, Any

from ..chat import ChatContext, FunctionCall
from ..models.scripted import Rule, RuleMatch, ScriptedLLM, ScriptedToolCall
from ..session.agent import Agent
from ..tools import RunContext, ToolError, function_tool

__all__ = ["QUICKSTART_SCRIPT", "EventsDesk", "Host", "scripted_llm"]

#: Times the kitchen is full (24-hour "HH:MM").
FULLY_BOOKED = {"20:00", "20:30"}

_NUMBERS = {
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
}


def normalize_time(text: str) -> str:
    """``"7pm"`` / ``"7:30 pm"`` / ``"19:30"`` → ``"19:00"`` / ``"19:30"``; raises ``ToolError`` if unreadable."""
    m = re.fullmatch(r"\s*(\d{1,2})(?::(\d{2}))?\s*(am|pm)?\s*", text.lower())
    if not m:
        raise ToolError(f"I could not read the time {text!r}; please give it like 19:30 or 7:30pm.")
    hour, minute, half = int(m.group(1)), int(m.group(2) or 0), m.group(3)
    if half == "pm" and hour < 12:
        hour += 12
    if half is None and hour < 11:
        hour += 12  # "at 7" at a restaurant means the evening
    if not (0 <= hour < 24 and 0 <= minute < 60):
        raise ToolError(f"{text!r} is not a valid time.")
    return f"{hour:02d}:{minute:02d}"


class EventsDesk(Agent):
    """Handles private events and large groups."""

    def __init__(self, chat_ctx: ChatContext | None = None) -> None:
        super().__init__(instructions="You are Sam, the events coordinator at Chez Lab. Plan private events.", chat_ctx=chat_ctx)

    async def on_enter(self) -> None:
        self.session.generate_reply(instructions="Introduce yourself as the events coordinator and ask how many guests.")


class Host(Agent):
    """The front-of-house agent: checks availability, books tables, hands events to the events desk."""

    def __init__(self) -> None:
        super().__init__(
            instructions=(
                "You are the host at Chez Lab, a small restaurant. Help guests book a table: check availability first, "
                "then book under the guest's name. Hand private events and groups over 8 to the events desk. Be brief."
            )
        )

    async def on_enter(self) -> None:
        self.session.generate_reply(instructions="Greet the guest and offer to help with a booking.")

    @function_tool
    async def check_availability(
        self,
        party_size: Annotated[int, "number of guests"],
        time: Annotated[str, "time, like 19:30 or 7:30pm"],
    ) -> str:
        """Check whether a table is free for a party at a time tonight."""
        slot = normalize_time(time)
        if party_size < 1:
            raise ToolError("The party size must be at least 1.")
        if party_size > 8:
            return f"Tables seat at most 8; a party of {party_size} needs the events desk."
        if slot in FULLY_BOOKED:
            return f"We are fully booked at {slot}. The nearest free time is 21:00."
        return f"A table for {party_size} is available at {slot}."

    @function_tool
    async def book_table(self, ctx: RunContext, name: str, party_size: int, time: str) -> str:
        """Book a table under the guest's name.

        Args:
            name: the guest's last name
            party_size: number of guests
            time: time of the booking
        """
        slot = normalize_time(time)
        if slot in FULLY_BOOKED:
            raise ToolError(f"{slot} is fully booked.")
        code = f"CL-{zlib.crc32(f'{name}|{party_size}|{slot}'.encode()) % 10000:04d}"
        try:
            userdata = ctx.userdata
        except ValueError:  # the session was started without userdata: nothing to record into
            userdata = None
        if isinstance(userdata, dict):
            userdata.setdefault("bookings", []).append({"name": name, "party_size": party_size, "time": slot, "code": code})
        return f"Booked a table for {party_size} at {slot} under {name}, confirmation {code}."

    @function_tool
    async def transfer_to_events(self) -> tuple[Agent, str]:
        """Hand the guest to the events desk for private events or groups over 8."""
        return EventsDesk(chat_ctx=self.chat_ctx), "Transferring to the events desk."


def _last_call(ctx: ChatContext, name: str) -> dict[str, Any]:
    for item in reversed(ctx.items):
        if isinstance(item, FunctionCall) and item.name == name:
            return json.loads(item.arguments)
    return {}


def _party(m: RuleMatch) -> dict[str, Any]:
    size = m.fields["n"].lower()
    return {"party_size": _NUMBERS.get(size, size), "time": m.fields["time"]}


def _booking(m: RuleMatch) -> dict[str, Any]:
    return {"name": m.fields["name"], **_last_call(m.chat_ctx, "check_availability")}


_NUM = r"(?P<n>\d+|" + "|".join(_NUMBERS) + r")"


def scripted_llm(*, ttft: float = 0.35, tokens_per_second: float = 40.0) -> ScriptedLLM:
    """The offline brain of :class:`Host` and :class:`EventsDesk`: rules that read like a small real agent."""
    return ScriptedLLM(
        rules=[
            Rule(r"greet the guest", reply="Welcome to Chez Lab! Would you like to book a table?"),
            Rule(r"introduce yourself as the events coordinator", reply="Hi, I'm Sam from events. How many guests are you expecting?"),
            Rule(r"private|event|birthday|wedding|party of (?:9|\d\d)", tool_calls=[ScriptedToolCall("transfer_to_events")]),
            Rule(after_tool="transfer_to_events", reply="Of course, I'll put you through to our events desk."),
            Rule(
                rf"(?:table|book|reservation|seat)\D*?(?:for|of)\s+{_NUM}\b.*?\bat\s+(?P<time>\d{{1,2}}(?::\d{{2}})?\s*(?:am|pm)?)",
                tool_calls=[ScriptedToolCall("check_availability", _party)],
            ),
            Rule(after_tool="check_availability", pattern=r"available", reply="Good news: {output} May I have a name for the booking?"),
            Rule(after_tool="check_availability", reply="{output} Would that work instead?"),
            Rule(
                r"(?:name is|under|it's|it is)\s+(?:under\s+)?(?P<name>(?-i:[A-Z][a-z]+))",
                tool_calls=[ScriptedToolCall("book_table", _booking)],
            ),
            Rule(after_tool="book_table", reply="You're all set. {output} Anything else?"),
            Rule(r"\b(?:\d{2,3}|twenty|thirty|forty|fifty)\b.*guests?", reply="Lovely. I'll send you our event menus by email."),
            Rule(r"thank|bye|that's all|no,? that's it", reply="My pleasure. See you soon at Chez Lab!"),
        ],
        default="Sorry, I can help with table bookings and events. What would you like?",
        ttft=ttft,
        tokens_per_second=tokens_per_second,
    )


#: The quickstart conversation: a booking (two tools) and a handoff to the events desk.
QUICKSTART_SCRIPT = [
    "Hi! Do you have a table for four at 7pm tonight?",
    "Great, it's under Rivera.",
    "Also, we want to plan a private birthday dinner next month.",
    "Around 30 guests.",
    "Thanks, that's all!",
]
