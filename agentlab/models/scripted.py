"""ScriptedLLM: a deterministic language model for offline agents, tests and simulations.

Responses come from a list (used in order), then from rules, then from a default. A rule matches
the newest item of the conversation: a regex (case-insensitive) against the latest message — the
user's words, or per-reply instructions — or, with ``after_tool=``, the output of a tool; it may
also ask for the request's index (``call=``) or the tool rounds so far in the reply
(``tool_outputs=``). Replies and tool-call arguments are templates filled from the regex's named
groups and ``{output}``. A rule may answer the forced reply after the tool-step limit
(``tool_choice="none"``) with its own text (``forced_reply=``) and send its text whole.

Timing is modelled, not measured: ``ttft`` before the first token, then ``tokens_per_second``
(or a fixed ``duration`` per response, after which tool calls are sent, as LiveKit's test LLM
does). Under a :class:`~agentlab.clock.VirtualClock` that time costs nothing.

Example::

    llm = ScriptedLLM(
        rules=[
            Rule(r"table for (?P<n>\\d+)", tool_calls=[ScriptedToolCall("check_availability", {"party_size": "{n}"})]),
            Rule(after_tool="check_availability", reply="Good news: {output}"),
        ],
        default="Sorry, could you say that again?",
        ttft=0.3,
    )
"""

from __future__ import annotations

import asyncio
import collections
import functools
import json
import re
import string
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import field
from typing import Any, Union

from .._frozen import frozen
from .._utils import shortuuid
from ..chat import ChatContext, ChatMessage, FunctionCallOutput, _items_after
from ..clock import sleep
from .llm import LLM, ChatChunk, ChoiceDelta, CompletionUsage, FunctionToolCall, LLMRequest

__all__ = ["Rule", "RuleMatch", "ScriptedLLM", "ScriptedResponse", "ScriptedToolCall"]


@frozen
class RuleMatch:
    """What a rule matched: the regex match (or None), the tool output (or None), the context."""

    match: re.Match[str] | None
    output: str | None
    chat_ctx: ChatContext

    @property
    def fields(self) -> dict[str, str]:
        """Template fields: named groups, ``{0}``-style groups as ``g1``..., and ``output``."""
        out: dict[str, str] = {}
        if self.match is not None:
            out.update({k: v for k, v in self.match.groupdict().items() if v is not None})
            out.update({f"g{i}": g for i, g in enumerate(self.match.groups(), 1) if g is not None})
        if self.output is not None:
            out["output"] = self.output
        return out


Template = Union[str, Callable[[RuleMatch], str]]


@frozen
class ScriptedToolCall:
    """A tool call to emit; ``arguments`` is a dict of templates, a JSON string, or a callable."""

    name: str
    arguments: dict[str, Any] | str | Callable[[RuleMatch], dict[str, Any]] = field(default_factory=dict)

    def render(self, m: RuleMatch) -> str:
        if callable(self.arguments):
            return json.dumps(self.arguments(m))
        if isinstance(self.arguments, str):
            return self.arguments  # raw JSON, sent as is (also malformed, for tests)
        return json.dumps({k: _fill(v, m) if isinstance(v, str) else v for k, v in self.arguments.items()})


@frozen
class ScriptedResponse:
    """A fixed response: text and/or tool calls, with optional timing overrides (seconds).

    ``whole=True`` sends the text as one chunk (a provider that is not streaming); ``forced_text``
    replaces it when the request has ``tool_choice="none"`` (the forced reply after the tool-step
    limit, or a reply asked for inside a tool).
    """

    text: str = ""
    tool_calls: Sequence[ScriptedToolCall] = ()
    ttft: float | None = None
    duration: float | None = None
    whole: bool = False
    forced_text: str | None = None


@frozen
class Rule:
    """Answer when ``pattern`` matches the latest message, or after ``after_tool`` returned.

    A rule with neither matches anything (put it last, as a fallback that may call tools).

    More conditions, all optional: ``call`` is the index of the request (0 for the LLM's first);
    ``tool_outputs`` the number of tool outputs since the last user message (0 for the first step
    of a reply, 1 after one tool round...); ``when(chat_ctx)`` any predicate. ``reply`` and
    ``tool_calls`` may use template fields (see :class:`RuleMatch`).

    Under ``tool_choice="none"`` a rule that calls tools is skipped unless it has a
    ``forced_reply``: then that text is the answer (the forced reply after the tool-step limit).
    ``whole=True`` sends the reply as one chunk instead of token by token.

    Example::

        Rule(call=0, tool_calls=[ScriptedToolCall("lookup")], forced_reply="I can't look that up now.")
        Rule(tool_outputs=2, reply="Done, after two rounds.", whole=True)
    """

    pattern: str | None = None
    reply: Template | None = None
    tool_calls: Sequence[ScriptedToolCall] = ()
    after_tool: str | None = None
    when: Callable[[ChatContext], bool] | None = None
    ttft: float | None = None
    duration: float | None = None
    call: int | None = None
    tool_outputs: int | None = None
    whole: bool = False
    forced_reply: Template | None = None

    def match(self, ctx: ChatContext, *, call: int | None = None) -> RuleMatch | None:
        last = ctx.items[-1] if ctx.items else None
        output = None
        if self.after_tool is not None:
            if not isinstance(last, FunctionCallOutput) or last.name != self.after_tool:
                return None
            output = last.output
            subject = last.output
        elif self.pattern is None:
            subject = ""  # no pattern and no tool: a catch-all, whatever came last
        else:
            if not isinstance(last, ChatMessage):
                return None
            subject = last.text_content or ""
        m = None
        if self.pattern is not None:
            m = re.search(self.pattern, subject, re.IGNORECASE)
            if m is None:
                return None
        if self.call is not None and call != self.call:
            return None
        if self.tool_outputs is not None and _tool_outputs_since_user(ctx) != self.tool_outputs:
            return None
        if self.when is not None and not self.when(ctx):
            return None
        return RuleMatch(match=m, output=output, chat_ctx=ctx)


def _tool_outputs_since_user(ctx: ChatContext) -> int:
    n = 0
    for item in reversed(ctx.items):
        if isinstance(item, ChatMessage) and item.role == "user":
            break
        n += isinstance(item, FunctionCallOutput)
    return n


class _Formatter(string.Formatter):
    def get_value(self, key: Any, args: Any, kwargs: Any) -> Any:
        return kwargs.get(key, "{" + str(key) + "}") if isinstance(key, str) else super().get_value(key, args, kwargs)


def _fill(template: Template, m: RuleMatch) -> str:
    if callable(template):
        return template(m)
    return _Formatter().vformat(template, (), m.fields)


_TOKEN = re.compile(r"\s*\S+")


@functools.lru_cache(maxsize=1024)
def _tokens(text: str) -> tuple[str, ...]:
    """A reply's tokens (each word with the space before it); a script repeats its replies."""
    return tuple(_TOKEN.findall(text))


class ScriptedLLM(LLM):
    """A deterministic LLM: scripted responses, rules and a default, with modelled timing.

    ``requests`` records the last ``keep_requests`` :class:`~agentlab.models.llm.LLMRequest`
    objects received (oldest first), so tests can check what the session sent (tools, ``tool_choice``).
    Each request holds its copy of the conversation, so an unbounded log would grow with the
    square of a long conversation's length.

    Example::

        llm = ScriptedLLM(responses=["Hello! How can I help?"], ttft=0.2, tokens_per_second=40)
    """

    model = "scripted"
    provider = "agentlab"

    def __init__(
        self,
        responses: Sequence[str | ScriptedResponse] | None = None,
        *,
        rules: Sequence[Rule] | None = None,
        default: str | None = "I'm sorry, I didn't catch that.",
        ttft: float = 0.3,
        tokens_per_second: float = 50.0,
        keep_requests: int = 100,
    ) -> None:
        if ttft < 0:
            raise ValueError(f"ScriptedLLM: ttft = {ttft!r} must be >= 0 seconds")
        if tokens_per_second <= 0:
            raise ValueError(f"ScriptedLLM: tokens_per_second = {tokens_per_second!r} must be > 0")
        self._responses = [ScriptedResponse(text=r) if isinstance(r, str) else r for r in (responses or [])]
        self._next = 0
        self.rules = list(rules or [])
        self.default = default
        self.ttft = ttft
        self.tokens_per_second = tokens_per_second
        self.requests: collections.deque[LLMRequest] = collections.deque(maxlen=keep_requests)
        self._calls = 0  # requests received so far (a rule's ``call`` index)
        self._char_counts: dict[str, int] = {}
        #: The last request's items after the first, with their characters (see ``_prompt_chars``).
        self._prefix: tuple[list[Any], int] = ([], 0)

    def _pick(self, request: LLMRequest, call: int) -> tuple[ScriptedResponse, RuleMatch]:
        ctx = request.chat_ctx
        empty = RuleMatch(match=None, output=None, chat_ctx=ctx)
        no_tools = request.tool_choice == "none"
        if self._next < len(self._responses):
            response = self._responses[self._next]
            self._next += 1
            if no_tools and (response.tool_calls or response.forced_text is not None):
                text = response.text if response.forced_text is None else response.forced_text
                response = ScriptedResponse(text=text, ttft=response.ttft, duration=response.duration, whole=response.whole)
            return response, empty
        for rule in self.rules:
            if no_tools and rule.tool_calls and rule.forced_reply is None:
                continue
            m = rule.match(ctx, call=call)
            if m is None:
                continue
            if no_tools and rule.forced_reply is not None:
                return ScriptedResponse(text=_fill(rule.forced_reply, m), ttft=rule.ttft, duration=rule.duration, whole=rule.whole), m
            text = _fill(rule.reply, m) if rule.reply is not None else ""
            return ScriptedResponse(
                text=text, tool_calls=tuple(rule.tool_calls), ttft=rule.ttft, duration=rule.duration, whole=rule.whole
            ), m
        return ScriptedResponse(text=self.default or ""), empty

    async def _stream(self, request: LLMRequest) -> AsyncIterator[ChatChunk]:
        self.requests.append(request)
        call, self._calls = self._calls, self._calls + 1
        response, m = self._pick(request, call)
        ttft = self.ttft if response.ttft is None else response.ttft
        tokens = (response.text,) if response.whole and response.text else _tokens(response.text)
        chunk_id = shortuuid("chunk")  # one id for the response's chunks, as a provider's completion id
        calls = [FunctionToolCall(name=c.name, arguments=c.render(m), call_id=shortuuid("call")) for c in response.tool_calls]
        if response.duration is not None:
            # The first token at ``ttft``, the last one at ``duration`` (LiveKit's test LLM).
            per_token = max(0.0, response.duration - ttft) / max(1, len(tokens) - 1)
        else:
            per_token = 1.0 / self.tokens_per_second
        start = asyncio.get_running_loop().time()
        await sleep(ttft)
        for i, tok in enumerate(tokens):
            if i:
                await sleep(per_token)
            yield ChatChunk(id=chunk_id, delta=ChoiceDelta(content=tok))
        if response.duration is not None:
            # LiveKit's test LLM ends its stream at ``duration`` (and sends its tool calls then),
            # however early its text came: the TTS is flushed only when the stream ends.
            rest = start + response.duration - asyncio.get_running_loop().time()
            if rest > 0:
                await sleep(rest)
        if calls:
            yield ChatChunk(id=chunk_id, delta=ChoiceDelta(tool_calls=tuple(calls)))
        prompt = self._prompt_chars(request.chat_ctx.items) // 4 + 1
        completion = len(tokens) + sum(len(c.arguments) // 4 + 1 for c in calls)
        usage = CompletionUsage(completion_tokens=completion, prompt_tokens=prompt, total_tokens=prompt + completion)
        yield ChatChunk(id=chunk_id, usage=usage)

    def _prompt_chars(self, items: list[Any]) -> int:
        # Prompt tokens are estimated at 4 characters each; items are counted once and remembered
        # by id (the instructions can change, so never them). Only the items after the previous
        # request's history are counted here (``_items_after``).
        prefix, prefix_chars = self._prefix
        head, rest = items[:1], items[1:]
        new = _items_after(rest, prefix)
        total, new = (0, rest) if new is None else (prefix_chars, new)
        cacheable = True
        for item in new:
            n, remembered = self._item_chars(item)
            total += n
            cacheable = cacheable and remembered
        self._prefix = (rest, total) if cacheable else ([], 0)
        return total + sum(self._item_chars(item)[0] for item in head)

    def _item_chars(self, item: Any) -> tuple[int, bool]:
        """An item's characters, and whether they are remembered (all but the instructions)."""
        n = self._char_counts.get(item.id)
        if n is not None:
            return n, True
        n = len(getattr(item, "text_content", None) or getattr(item, "output", "") or "")
        if item.id in ("instructions", "reply_instructions"):
            return n, False
        self._char_counts[item.id] = n
        return n, True

    def __repr__(self) -> str:
        return f"ScriptedLLM(responses={len(self._responses)}, rules={len(self.rules)}, ttft={self.ttft})"
