"""A step's tool calls: each runs as its own task while the step plays, and becomes an output.

The generation (:mod:`agentlab.session.generation`) passes each call on as it streams in;
:func:`execute_tools` starts it at once (LiveKit runs tools concurrently with playout) with
``_in_tool`` set, so a ``generate_reply`` inside a tool defaults to ``tool_choice="none"``. A
call's outcome is an output the LLM sees next step: its value as text, an error text (unknown
function, bad arguments, ``ToolError``, a crash reported as an ``error`` event), nothing with
``StopResponse``, or a handoff when the tool returns an ``Agent``. ``tool_timeout`` cancels a tool
that runs too long; a mock registered on a run replaces the tool's body.
"""

from __future__ import annotations

import asyncio
import contextvars
import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..chat import FunctionCall, FunctionCallOutput, arguments_dict
from ..tools import FunctionTool, RunContext, StopResponse, ToolArgumentsError, ToolError, output_to_text
from .agent import Agent
from .speech import SpeechHandle

if TYPE_CHECKING:
    from .activity import _AgentActivity
    from .generation import _Generation

#: True inside a tool call (``generate_reply`` then defaults to ``tool_choice="none"``).
_in_tool: contextvars.ContextVar[bool] = contextvars.ContextVar("agentlab_in_tool", default=False)


@dataclass
class _ToolResult:
    call: FunctionCall
    output: FunctionCallOutput | None
    reply_required: bool
    handoff: Agent | None = None


async def execute_tools(activity: _AgentActivity, handle: SpeechHandle, gen: _Generation, tools: list[FunctionTool]) -> list[_ToolResult]:
    running: list[asyncio.Task[_ToolResult]] = []
    async for call in gen.tool_queue.items():
        token = _in_tool.set(True)
        try:
            task = asyncio.get_running_loop().create_task(_run_tool(activity, handle, call, tools))
        finally:
            _in_tool.reset(token)
        task._agentlab_speech = handle  # type: ignore[attr-defined]
        task._agentlab_call = call  # type: ignore[attr-defined]
        running.append(task)
    return list(await asyncio.gather(*running))


async def _run_tool(activity: _AgentActivity, handle: SpeechHandle, call: FunctionCall, tools: list[FunctionTool]) -> _ToolResult:
    s = activity.session
    from .run_result import _mock_for

    call.created_at = s.now()

    def result(text: str, *, is_error: bool = False, reply: bool = True, handoff: Agent | None = None) -> _ToolResult:
        out = FunctionCallOutput(
            call_id=call.call_id, name=call.name, output=text, is_error=is_error, id=s._ids("item"), created_at=s.now()
        )
        return _ToolResult(call=call, output=out, reply_required=reply, handoff=handoff)

    tool = next((t for t in tools if t.name == call.name), None)
    if tool is None:
        return result(f"Unknown function: {call.name}", is_error=True)
    try:
        args = arguments_dict(call)
    except ValueError as exc:
        return result(f"Invalid arguments for {call.name}: {exc}", is_error=True)
    try:
        mock = _mock_for(activity.agent, call.name)
        ctx = RunContext(session=s, speech_handle=handle, function_call=call)
        running = _call_mock(mock, tool, args, ctx) if mock is not None else tool.invoke(args, ctx)
        value = await _within(running, s.options.tool_timeout, call.name)
    except _ToolTimeout as exc:
        s._report_error(exc, source="tool", recoverable=True)
        return result(f"{call.name} did not finish within {exc.seconds:g} seconds", is_error=True)
    except ToolArgumentsError as exc:
        return result(f"Invalid arguments for {call.name}: {exc}", is_error=True)
    except ToolError as exc:
        return result(exc.message, is_error=True)
    except StopResponse:
        return _ToolResult(call=call, output=None, reply_required=False)
    except Exception as exc:
        s._report_error(exc, source="tool", recoverable=True)
        return result("An internal error occurred", is_error=True)
    handoff = None
    if isinstance(value, Agent):
        handoff, value = value, None
    elif isinstance(value, tuple) and any(isinstance(v, Agent) for v in value):
        agents = [v for v in value if isinstance(v, Agent)]
        rest = [v for v in value if not isinstance(v, Agent)]
        handoff = agents[0]
        value = rest[0] if len(rest) == 1 else (tuple(rest) if rest else None)
    if value is None:
        return result("", reply=False, handoff=handoff)
    return result(output_to_text(value), handoff=handoff)


class _ToolTimeout(TimeoutError):
    """A tool ran past ``tool_timeout`` and was cancelled."""

    def __init__(self, name: str, seconds: float) -> None:
        super().__init__(f"tool {name} did not finish within {seconds:g}s (tool_timeout) and was cancelled")
        self.seconds = seconds


async def _within(coro: Any, seconds: float | None, name: str) -> Any:
    """Await ``coro``, cancelling it after ``seconds`` (a TimeoutError the tool raises itself stays its own)."""
    if seconds is None:
        return await coro
    task = asyncio.ensure_future(coro)
    # The tool now runs in this inner task: it must still know its speech and call (wait_for_playout, aclose, AgentTask).
    outer = asyncio.current_task()
    for attr in ("_agentlab_speech", "_agentlab_call"):
        if hasattr(outer, attr):
            setattr(task, attr, getattr(outer, attr))
    try:
        done, _ = await asyncio.wait({task}, timeout=seconds)
    except asyncio.CancelledError:
        task.cancel()
        raise
    if not done:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        raise _ToolTimeout(name, seconds)
    return task.result()


async def _call_mock(mock: Callable[..., Any], tool: FunctionTool, args: dict[str, Any], ctx: RunContext) -> Any:
    kwargs = tool.prepare_arguments(args)
    params = inspect.signature(mock).parameters
    if tool.context_param is not None:
        kwargs[tool.context_param] = ctx
    if not any(p.kind == p.VAR_KEYWORD for p in params.values()):
        kwargs = {k: v for k, v in kwargs.items() if k in params}
    value = mock(**kwargs)
    if inspect.isawaitable(value):
        value = await value
    return value
