"""The full simulation path for task conversations: tool rounds, forced replies, task success.

A task conversation (``text_turns`` and ``expected_tools``, no audio) cannot be replayed through
the turn engine alone: what it measures is what the *agent* does — which tools it calls, how
many LLM rounds a turn takes, whether ``max_tool_steps`` cut a chain of calls short. So each cell
runs the whole session on the virtual clock (:func:`agentlab.simulate`) with a fresh agent and
the setting's options, then :func:`task_outcomes` reads the run's history, events and metrics.

The agent comes from the sweep's ``agent_or_factory`` (:func:`make_agent`): a function (or an
``Agent`` subclass) called once per cell — with the conversation if it takes one required
argument — so every cell starts from a fresh agent and fresh model state. With ``None`` the
offline :func:`reference_agent` plays the conversation: a scripted model that makes the labelled
calls, one per LLM round, as soon as the user has given what each needs. It is an oracle for the
*calls*, not for the limits: it shows what ``max_tool_steps`` and the session's loop do to a task
that is otherwise solved; plug in a real model (``Agent(llm=OpenAILLM(...))``) to score the model.

Definitions (one row each, :data:`~agentlab.sweeps.score.ROW_COLUMNS`):

* ``user_turn`` (text turn ``i``): ``start`` when the user's message was added, ``end`` when the
  next one was (or the run ended); ``llm_requests`` LLM requests and ``tool_rounds`` tool rounds
  (``function_tools_executed`` events) in that window; outcome ``"forced_reply"`` if one of its
  replies was forced — a request with ``tool_choice="none"`` at step ``max_tool_steps + 1`` of its
  speech (LiveKit's limit; a handoff's ``"none"`` comes earlier and does not count) —,
  ``"replied"`` if the agent spoke, else ``"no_reply"``. ``time`` is when the agent first started
  speaking in the window and ``latency`` = ``response_latency`` = ``time - start`` (the response
  latency of a typed turn, measured: LLM rounds and tool calls included).
* ``tool_call`` (expected call ``i``): matched in order against the calls the agent made (a
  subsequence: extra calls are allowed). ``"called"`` when a later call has the same name and
  every expected argument equal (a subset: extra arguments are allowed; strings compare
  case-insensitively with spaces collapsed, numbers numerically, ``"4"`` equals ``4``),
  ``"tool_error"`` when such a call was made but the tool raised (its output is an error),
  ``"wrong_arguments"`` when only the name matches, ``"not_called"`` otherwise. ``time`` is the
  matched call's, ``turn`` the user turn it was made in, ``transcript`` the call as made.
* ``task``: ``"success"`` when every expected call is ``"called"``, else ``"failure"``.

Example::

    conv = agentlab.datasets.load("tasks")[0]
    run = run_task(conv, None, build_options(max_tool_steps=0))
    task_outcomes(conv, run, max_tool_steps=0)[["kind", "outcome", "latency", "tool_rounds"]]
"""

from __future__ import annotations

import inspect
import itertools
import json
import logging
import math
import re
from collections.abc import Callable, Mapping
from typing import Any

from ..chat import ChatContext, ChatMessage, FunctionCall, FunctionCallOutput
from ..datasets.model import Conversation
from ..models.scripted import Rule, ScriptedLLM, ScriptedToolCall
from ..session.agent import Agent
from ..session.options import SessionOptions
from ..tools import FunctionTool, function_tool

__all__ = ["check_factory", "make_agent", "reference_agent", "run_task", "task_outcomes"]

_NAN = float("nan")


# --- the agent -------------------------------------------------------------------------------


def make_agent(agent_or_factory: Any, conv: Conversation) -> Agent:
    """A fresh agent for one cell: ``None`` → :func:`reference_agent`; a factory → called.

    A factory with one required positional parameter gets the conversation (so it can read
    ``conv.metadata``); an ``Agent`` subclass or a function of no arguments is called bare. An
    ``Agent`` *instance* is refused: it keeps its conversation (and its model its state) from one
    cell to the next, so cells would not be independent.

    Example::

        make_agent(None, conv)                         # the offline reference agent
        make_agent(lambda c: MyAgent(llm=OpenAILLM()), conv)
    """
    check_factory(agent_or_factory)
    if agent_or_factory is None:
        return reference_agent(conv)
    made = agent_or_factory(conv) if _wants_conversation(agent_or_factory) else agent_or_factory()
    if not isinstance(made, Agent):
        raise TypeError(f"sweep: the agent factory returned {type(made).__name__}, expected an Agent")
    return made


def check_factory(agent_or_factory: Any) -> None:
    """Raise ``TypeError`` unless ``agent_or_factory`` is ``None`` or a factory (see :func:`make_agent`).

    Example::

        check_factory(MyAgent)          # fine: a class makes a fresh agent per call
        check_factory(MyAgent())        # TypeError: an instance would carry state between cells
    """
    if agent_or_factory is None:
        return
    if isinstance(agent_or_factory, Agent):
        raise TypeError(
            "sweep: task conversations need a fresh agent per cell; pass a factory (the Agent subclass, or a "
            "function returning a new Agent), not an Agent instance"
        )
    if not callable(agent_or_factory):
        raise TypeError(f"sweep: agent_or_factory must be None, an Agent subclass or a function, got {type(agent_or_factory).__name__}")


def _wants_conversation(factory: Callable[..., Any]) -> bool:
    if isinstance(factory, type):  # an Agent subclass: LiveKit agents take keyword arguments only
        return False
    try:
        params = list(inspect.signature(factory).parameters.values())
    except (TypeError, ValueError):  # builtins without a signature
        return False
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    return len(positional) >= 1 and positional[0].default is inspect.Parameter.empty


def reference_agent(conv: Conversation, *, ttft: float = 0.3, tokens_per_second: float = 50.0) -> Agent:
    """An offline agent that solves ``conv``'s task: the labelled calls, one per LLM round.

    Its tools are the conversation's (``metadata["tools"]``: name → parameter names, ``"?"``
    marking optional ones; without it, the expected calls' names and argument keys), each
    answering ``"ok: <name> done"``. Its :class:`~agentlab.ScriptedLLM` makes expected call ``k``
    once the user has sent message ``expected_tools[k].turn`` (when unlabelled: message ``k``,
    or the last one) and calls ``0..k-1`` were made — so a turn that needs two calls takes two
    tool rounds — then replies in text. Under ``tool_choice="none"`` (a forced final reply) it
    replies without calling, and catches up on the next turn.

    Example::

        run = agentlab.simulate(lambda: reference_agent(conv), None, list(conv.text_turns))
    """
    expected = list(conv.expected_tools)
    last = max(len(conv.text_turns) - 1, 0)
    due = [c.turn if c.turn is not None else min(k, last) for k, c in enumerate(expected)]

    def when(k: int) -> Callable[[ChatContext], bool]:
        def check(ctx: ChatContext) -> bool:
            users = sum(1 for it in ctx.items if isinstance(it, ChatMessage) and it.role == "user")
            made = sum(1 for it in ctx.items if isinstance(it, FunctionCall))
            return made == k and users - 1 >= due[k]

        return check

    rules = [Rule(tool_calls=[ScriptedToolCall(c.name, dict(c.arguments))], when=when(k)) for k, c in enumerate(expected)]
    rules.append(Rule(reply=lambda m: "Done." if isinstance(m.chat_ctx.items[-1], FunctionCallOutput) else "Sure, go on."))
    llm = ScriptedLLM(rules=rules, default="Sure, go on.", ttft=ttft, tokens_per_second=tokens_per_second)
    tools = [_tool(name, params) for name, params in _tool_specs(conv).items()]
    domain = conv.metadata.get("domain") or "booking"
    return Agent(instructions=f"You are a {domain} assistant. Use the tools to do what the user asks.", tools=tools, llm=llm)


def _tool_specs(conv: Conversation) -> dict[str, list[str]]:
    specs = conv.metadata.get("tools")
    if isinstance(specs, Mapping) and all(isinstance(v, list) for v in specs.values()):
        return {str(k): [str(p) for p in v] for k, v in specs.items()}
    out: dict[str, list[str]] = {}
    for c in conv.expected_tools:
        out.setdefault(c.name, [])
        out[c.name] += [a for a in c.arguments if a not in out[c.name]]
    return out


def _tool(name: str, params: list[str]) -> FunctionTool:
    props = {p.rstrip("?"): {"type": ["string", "number", "integer", "boolean"]} for p in params}
    required = [p for p in params if not p.endswith("?")]
    parameters = {"type": "object", "properties": props, "required": required}
    schema = {"name": name, "description": name.replace("_", " "), "parameters": parameters}

    async def call(raw_arguments: dict[str, Any]) -> str:
        return f"ok: {name} done"

    return function_tool(call, raw_schema=schema)


# --- running and scoring ---------------------------------------------------------------------


def run_task(conv: Conversation, agent_or_factory: Any, options: SessionOptions) -> Any:
    """Play ``conv.text_turns`` to a fresh agent under ``options`` on the virtual clock; the :class:`~agentlab.Run`.

    Example::

        run = run_task(conv, None, build_options(max_tool_steps=1))
        run.history
    """
    from ..sim import simulate

    if not conv.text_turns:
        raise ValueError(f"run_task: conversation {conv.id!r} has no text_turns")
    agent = make_agent(agent_or_factory, conv)
    session_log = logging.getLogger("agentlab.session")
    session_log.addFilter(_drop_tool_step_warnings)
    try:
        return simulate(lambda: agent, options, list(conv.text_turns))
    finally:
        session_log.removeFilter(_drop_tool_step_warnings)


def _drop_tool_step_warnings(record: logging.LogRecord) -> bool:
    # The session warns at every forced reply, as LiveKit does; a sweep counts them instead
    # (``forced_replies``), so hundreds of cells do not flood the notebook.
    return not record.getMessage().startswith("maximum number of tool steps reached")


def task_outcomes(conv: Conversation, run: Any, *, max_tool_steps: int) -> Any:
    """One row per user turn, per expected tool call and one for the task (definitions in the module docstring).

    Example::

        rows = task_outcomes(conv, run_task(conv, None, opts), max_tool_steps=opts.max_tool_steps)
        rows[rows.kind == "task"].outcome.item()      # 'success'
    """
    import pandas as pd

    from .score import ROW_COLUMNS

    h, ev, m = run.history, run.events, run.metrics
    users = h[(h["type"] == "message") & (h["role"] == "user")]
    starts = [float(t) for t in users["created_at"]]
    texts = [str(t) for t in users["text"]]
    bounds = [*starts, max(float(run.duration), starts[-1] if starts else 0.0) + 1e-9]

    def turn_of(t: float) -> int:
        return max((i for i, s in enumerate(starts) if s <= t + 1e-9), default=-1)

    speaking = [float(t) for t in ev.loc[(ev["type"] == "agent_state_changed") & (ev["new_state"] == "speaking"), "created_at"]]
    executed = [float(t) for t in ev.loc[ev["type"] == "function_tools_executed", "created_at"]]
    llm = m[m["type"] == "llm_metrics"]
    forced_at: list[float] = []
    for _, reqs in llm.groupby("speech_id", sort=False):
        for step, (t, choice) in enumerate(zip(reqs["created_at"], reqs["tool_choice"], strict=True)):
            if choice == "none" and step >= max_tool_steps + 1:
                forced_at.append(float(t))
    llm_times = [float(t) for t in llm["created_at"]]

    rows: list[dict[str, Any]] = []

    def row(kind: str, index: int, start: float, end: float, outcome: str, **kw: Any) -> None:
        r = {c: None for c in ROW_COLUMNS}
        r.update(conversation=conv.id, kind=kind, index=index, start=start, end=end, turn=-1, agent=-1, outcome=outcome)
        r.update(time=_NAN, latency=_NAN, response_latency=_NAN, tool_rounds=_NAN, llm_requests=_NAN)
        r.update(kw)
        rows.append(r)

    for i, (lo, hi) in enumerate(itertools.pairwise(bounds)):
        inside = [t for t in speaking if lo - 1e-9 <= t < hi - 1e-9]
        first = min(inside) if inside else None
        forced = any(lo - 1e-9 <= t < hi - 1e-9 for t in forced_at)
        outcome = "forced_reply" if forced else ("replied" if first is not None else "no_reply")
        row(
            "user_turn",
            i,
            lo,
            hi,
            outcome,
            turn=i,
            time=_NAN if first is None else first,
            latency=_NAN if first is None else round(first - lo, 9),
            response_latency=_NAN if first is None else round(first - lo, 9),
            transcript=texts[i],
            tool_rounds=sum(1 for t in executed if lo - 1e-9 <= t < hi - 1e-9),
            llm_requests=sum(1 for t in llm_times if lo - 1e-9 <= t < hi - 1e-9),
        )

    calls = h[h["type"] == "function_call"]
    outputs = h[h["type"] == "function_call_output"]
    failed_calls = set(outputs.loc[outputs["is_error"] == True, "call_id"])  # noqa: E712  (object column)
    made = [
        (str(n), _parse(a), float(t), cid in failed_calls)
        for n, a, t, cid in zip(calls["name"], calls["arguments"], calls["created_at"], calls["call_id"], strict=True)
    ]
    p, success = 0, True
    for k, want in enumerate(conv.expected_tools):
        hit = next((j for j in range(p, len(made)) if made[j][0] == want.name and _matches(want.arguments, made[j][1])), None)
        if hit is not None:
            name, args, t, error = made[hit]
            row("tool_call", k, t, t, "tool_error" if error else "called", time=t, turn=turn_of(t), transcript=_show(name, args))
            success = success and not error
            p = hit + 1
            continue
        success = False
        near = next((j for j in range(p, len(made)) if made[j][0] == want.name), None)
        if near is not None:
            name, args, t, _ = made[near]
            row("tool_call", k, t, t, "wrong_arguments", time=t, turn=turn_of(t), transcript=_show(name, args))
        else:
            row("tool_call", k, _NAN, _NAN, "not_called", transcript=_show(want.name, want.arguments))
    if conv.expected_tools:
        end = bounds[-1]
        row("task", 0, 0.0, end, "success" if success else "failure", transcript=conv.metadata.get("domain"))
    return pd.DataFrame(rows, columns=list(ROW_COLUMNS))


def _parse(arguments: Any) -> Any:
    if isinstance(arguments, str):
        try:
            return json.loads(arguments)
        except ValueError:
            return arguments  # malformed JSON: compared as text, so it matches nothing
    return arguments


def _show(name: str, args: Any) -> str:
    return f"{name}({json.dumps(args, sort_keys=True, default=str) if isinstance(args, dict) else args})"


def _matches(expected: Mapping[str, Any], actual: Any) -> bool:
    """Is every expected argument in ``actual`` with an equal value (see :func:`_same`)?"""
    return isinstance(actual, Mapping) and all(k in actual and _same(v, actual[k]) for k, v in expected.items())


def _number(x: Any) -> float | None:
    if isinstance(x, bool):
        return None
    if isinstance(x, (int, float)):
        return float(x)
    if isinstance(x, str):
        try:
            v = float(x.strip())
        except ValueError:
            return None
        return v if math.isfinite(v) else None
    return None


def _same(a: Any, b: Any) -> bool:
    """Expected ``a`` equals actual ``b``: numbers numerically (also as numeric strings), strings case- and space-insensitively."""
    na, nb = _number(a), _number(b)
    if na is not None and nb is not None:
        return math.isclose(na, nb, rel_tol=1e-9, abs_tol=1e-9)
    if isinstance(a, str) and isinstance(b, str):
        return _norm(a) == _norm(b)
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        return a.keys() == b.keys() and all(_same(v, b[k]) for k, v in a.items())
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


def _norm(s: str) -> str:
    return re.sub(r"\s+", " ", s).strip().casefold()
