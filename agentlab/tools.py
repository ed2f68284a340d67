"""Function tools: the ``@function_tool`` decorator, JSON schemas from type hints, argument checking.

A tool is a plain function or an ``Agent`` method. Its JSON schema is built from the signature:
type hints give types, ``Annotated[T, "text"]`` (or ``Annotated[T, Field(description=...)]``-like
objects with a ``description``) and the docstring's ``Args:`` section give descriptions, defaults
make a parameter optional. A parameter annotated :class:`RunContext` is not part of the schema; it
receives the session, userdata, the speech handle and the function call.

Arguments from the model are checked and coerced the way pydantic's lax mode would
(``"4"`` → ``4`` for an ``int``); a mismatch becomes a descriptive error output, not an exception.

Example::

    @function_tool
    async def check_availability(ctx: RunContext, party_size: int, time: Annotated[str, "24h time"]) -> str:
        \"\"\"Check whether a table is free.

        Args:
            party_size: number of guests
        \"\"\"
        return "free"

    check_availability.parameters["required"]   # ['party_size', 'time']
"""

from __future__ import annotations

import enum
import inspect
import json
import re
import types
import typing
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any, Generic, Literal, TypeVar, Union, get_args, get_origin, get_type_hints

if TYPE_CHECKING:
    from .chat import FunctionCall
    from .session.session import AgentSession
    from .session.speech import SpeechHandle

__all__ = [
    "FunctionTool",
    "RunContext",
    "StopResponse",
    "ToolArgumentsError",
    "ToolError",
    "Toolset",
    "flatten_tools",
    "function_tool",
]

Userdata_T = TypeVar("Userdata_T")


class ToolError(Exception):
    """Raise from a tool to hand the model an error message (kept as ``is_error=True`` output).

    Example::

        raise ToolError("No table is free at 19:00; try 20:00.")
    """

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class StopResponse(Exception):
    """Raise from ``on_user_turn_completed`` (or a tool) to skip the agent's reply."""


class ToolArgumentsError(ValueError):
    """The model's arguments do not fit the tool's schema; the message says which and why."""


class RunContext(Generic[Userdata_T]):
    """What a tool receives about the call in progress.

    Example::

        @function_tool
        async def remember(ctx: RunContext, name: str) -> str:
            ctx.userdata["name"] = name
            return "noted"
    """

    def __init__(self, *, session: AgentSession, speech_handle: SpeechHandle, function_call: FunctionCall) -> None:
        self._session = session
        self._speech_handle = speech_handle
        self._function_call = function_call

    @property
    def session(self) -> AgentSession:
        """The running :class:`~agentlab.AgentSession`."""
        return self._session

    @property
    def speech_handle(self) -> SpeechHandle:
        """The speech whose LLM step made this call."""
        return self._speech_handle

    @property
    def function_call(self) -> FunctionCall:
        """The call being executed (name, call_id, raw JSON arguments)."""
        return self._function_call

    @property
    def userdata(self) -> Userdata_T:
        """The session's ``userdata``."""
        return self._session.userdata

    def disallow_interruptions(self) -> None:
        """Make the current speech uninterruptible for the rest of its life."""
        self._speech_handle.allow_interruptions = False

    async def wait_for_playout(self) -> None:
        """Wait until the text or audio of the step that made this call has played out."""
        await self._speech_handle._wait_for_step_playout()


@dataclass
class FunctionTool:
    """A callable tool with its name, description and JSON schema. Made by :func:`function_tool`."""

    fn: Callable[..., Any]
    name: str
    description: str
    parameters: dict[str, Any]
    #: Name of the ``RunContext`` parameter, if the function takes one.
    context_param: str | None = None
    #: ``raw_schema`` tools receive the argument dict as ``raw_arguments``.
    raw: bool = False
    _hints: dict[str, Any] | None = None

    def __get__(self, instance: Any, owner: Any = None) -> FunctionTool:
        # Accessed on an Agent instance: bind ``self`` so the session can call it like a function.
        if instance is None:
            return self
        return FunctionTool(
            fn=self.fn.__get__(instance, owner),
            name=self.name,
            description=self.description,
            parameters=self.parameters,
            context_param=self.context_param,
            raw=self.raw,
            _hints=self._hints,
        )

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.fn(*args, **kwargs)

    def to_openai(self) -> dict[str, Any]:
        """The tool in OpenAI's chat-completions ``tools`` format."""
        return {"type": "function", "function": {"name": self.name, "description": self.description, "parameters": self.parameters}}

    def prepare_arguments(self, arguments: dict[str, Any]) -> dict[str, Any]:
        """Check and coerce model arguments against the schema; raise :class:`ToolArgumentsError`."""
        if self.raw:
            return {"raw_arguments": arguments}
        props = self.parameters.get("properties", {})
        kwargs: dict[str, Any] = {}
        missing = [p for p in self.parameters.get("required", []) if p not in arguments]
        if missing:
            raise ToolArgumentsError(f"missing required argument(s) {', '.join(repr(m) for m in missing)} for {self.name}")
        hints = self._hints or {}
        for key, value in arguments.items():
            if key not in props:
                continue  # like pydantic's default: extra arguments are ignored
            kwargs[key] = _coerce(value, hints.get(key, Any), f"{self.name}.{key}")
        return kwargs

    async def invoke(self, arguments: dict[str, Any], context: RunContext | None) -> Any:
        """Call the tool with checked arguments (and the context, if it takes one)."""
        kwargs = self.prepare_arguments(arguments)
        if self.context_param is not None:
            kwargs[self.context_param] = context
        result = self.fn(**kwargs)
        if inspect.isawaitable(result):
            result = await result
        return result


def function_tool(
    fn: Callable[..., Any] | None = None,
    *,
    name: str | None = None,
    description: str | None = None,
    raw_schema: dict[str, Any] | None = None,
) -> Any:
    """Make a tool from a function or method; usable bare (``@function_tool``) or with arguments.

    ``raw_schema`` (``{"name", "description", "parameters"}``) skips type inspection; the function
    then receives ``raw_arguments: dict``.

    Example::

        @function_tool(name="lookup")
        async def lookup_weather(location: str) -> str:
            \"\"\"Weather for a city.\"\"\"
            return "sunny"
    """

    def wrap(f: Callable[..., Any]) -> FunctionTool:
        if raw_schema is not None:
            return FunctionTool(
                fn=f,
                name=raw_schema.get("name") or name or f.__name__,
                description=raw_schema.get("description") or description or "",
                parameters=raw_schema.get("parameters") or {"type": "object", "properties": {}},
                context_param=_context_param(f),
                raw=True,
            )
        return _build_tool(f, name=name, description=description)

    if fn is not None:
        return wrap(fn)
    return wrap


def find_function_tools(obj: Any) -> list[FunctionTool]:
    """The tools declared as ``@function_tool`` methods on ``obj``'s class, bound to ``obj``."""
    tools = []
    seen = set()
    for klass in type(obj).__mro__:
        for attr, value in vars(klass).items():
            if isinstance(value, FunctionTool) and attr not in seen:
                seen.add(attr)
                tools.append(getattr(obj, attr))
    return sorted(tools, key=lambda t: t.name)


# --- schema building -------------------------------------------------------------------------

_PRIMITIVES: dict[Any, dict[str, Any]] = {
    str: {"type": "string"},
    int: {"type": "integer"},
    float: {"type": "number"},
    bool: {"type": "boolean"},
    dict: {"type": "object"},
    list: {"type": "array"},
    Any: {},
}


def _is_run_context(annotation: Any) -> bool:
    target = get_origin(annotation) or annotation
    return isinstance(target, type) and issubclass(target, RunContext)


def _context_param(fn: Callable[..., Any]) -> str | None:
    try:
        hints = get_type_hints(fn, include_extras=True)
    except Exception:
        hints = {}
    for pname in inspect.signature(fn).parameters:
        if _is_run_context(_strip_annotated(hints.get(pname, None))[0]):
            return pname
    return None


def _build_tool(fn: Callable[..., Any], *, name: str | None, description: str | None) -> FunctionTool:
    sig = inspect.signature(fn)
    try:
        hints = get_type_hints(fn, include_extras=True)
    except Exception as exc:
        raise TypeError(f"function_tool {fn.__qualname__}: cannot resolve type hints ({exc})") from exc
    doc_summary, doc_params = _parse_docstring(inspect.getdoc(fn) or "")
    properties: dict[str, Any] = {}
    required: list[str] = []
    context_param = None
    plain_hints: dict[str, Any] = {}
    for pname, param in sig.parameters.items():
        if pname in ("self", "cls") or param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            continue
        annotation = hints.get(pname, Any)
        base, annotated_desc = _strip_annotated(annotation)
        if _is_run_context(base):
            context_param = pname
            continue
        schema = _schema_for(base, f"{fn.__qualname__}.{pname}")
        desc = annotated_desc or doc_params.get(pname)
        if desc:
            schema = {**schema, "description": desc}
        if param.default is inspect.Parameter.empty:
            required.append(pname)
        elif param.default is None or isinstance(param.default, (str, int, float, bool)):
            schema = {**schema, "default": param.default}
        properties[pname] = schema
        plain_hints[pname] = base
    parameters: dict[str, Any] = {"type": "object", "properties": properties, "required": required}
    return FunctionTool(
        fn=fn,
        name=name or fn.__name__,
        description=description if description is not None else doc_summary,
        parameters=parameters,
        context_param=context_param,
        _hints=plain_hints,
    )


def _strip_annotated(annotation: Any) -> tuple[Any, str | None]:
    if get_origin(annotation) is Annotated:
        base, *meta = get_args(annotation)
        for m in meta:
            if isinstance(m, str):
                return base, m
            desc = getattr(m, "description", None)
            if isinstance(desc, str):
                return base, desc
        return base, None
    return annotation, None


def _schema_for(tp: Any, where: str) -> dict[str, Any]:
    tp, _ = _strip_annotated(tp)
    if tp in _PRIMITIVES:
        return dict(_PRIMITIVES[tp])
    if tp is type(None):
        return {"type": "null"}
    origin = get_origin(tp)
    args = get_args(tp)
    if origin is Literal:
        values = list(args)
        kinds = {type(v) for v in values}
        schema: dict[str, Any] = {"enum": values}
        if len(kinds) == 1 and next(iter(kinds)) in _PRIMITIVES:
            schema = {**_PRIMITIVES[next(iter(kinds))], **schema}
        return schema
    if origin in (Union, types.UnionType):
        non_null = [a for a in args if a is not type(None)]
        if len(non_null) == 1:
            inner = _schema_for(non_null[0], where)
            if len(args) > len(non_null) and "type" in inner:
                inner = {**inner, "type": [inner["type"], "null"]}
            return inner
        return {"anyOf": [_schema_for(a, where) for a in args]}
    if origin in (list, tuple, set, frozenset, typing.Sequence) or origin is getattr(typing, "Sequence", None):
        item = args[0] if args else Any
        return {"type": "array", "items": _schema_for(item, where)}
    if origin is dict:
        return {"type": "object"}
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        values = [m.value for m in tp]
        kinds = {type(v) for v in values}
        schema = {"enum": values}
        if len(kinds) == 1 and next(iter(kinds)) in _PRIMITIVES:
            schema = {**_PRIMITIVES[next(iter(kinds))], **schema}
        return schema
    raise TypeError(
        f"function_tool {where}: unsupported parameter type {tp!r}; "
        "use str, int, float, bool, Literal, Enum, list, dict or Optional of these"
    )


def _parse_docstring(doc: str) -> tuple[str, dict[str, str]]:
    """Summary (text before any Args section) and per-parameter descriptions.

    Understands Google style (``Args:`` / ``name (type): text``) and Sphinx style (``:param name: text``).
    """
    params: dict[str, str] = {}
    summary_lines: list[str] = []
    in_args = False
    current: str | None = None
    for line in doc.splitlines():
        stripped = line.strip()
        m = re.match(r":param\s+(?:\S+\s+)?(\w+):\s*(.*)", stripped)
        if m:
            params[m.group(1)] = m.group(2).strip()
            current, in_args = m.group(1), False
            continue
        if re.match(r"^(Args|Arguments|Parameters)\s*:\s*$", stripped):
            in_args, current = True, None
            continue
        if re.match(r"^(Returns?|Raises|Yields|Examples?|Notes?)\s*:\s*$", stripped) or stripped.startswith(":return"):
            in_args, current = False, None
            continue
        if in_args:
            m = re.match(r"(\w+)\s*(?:\([^)]*\))?\s*:\s*(.*)", stripped)
            if m and not line.startswith(" " * 8):
                current = m.group(1)
                params[current] = m.group(2).strip()
            elif current and stripped:
                params[current] = (params[current] + " " + stripped).strip()
            continue
        if current is None and not params:
            summary_lines.append(line)
    summary = "\n".join(summary_lines).strip()
    return summary, params


# --- argument coercion -----------------------------------------------------------------------


def _coerce(value: Any, tp: Any, where: str) -> Any:
    tp, _ = _strip_annotated(tp)
    origin = get_origin(tp)
    args = get_args(tp)
    if tp is Any:
        return value
    if origin in (Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        errors = []
        for option in (a for a in args if a is not type(None)):
            try:
                return _coerce(value, option, where)
            except ToolArgumentsError as exc:
                errors.append(str(exc))
        raise ToolArgumentsError(f"{where}: {value!r} matches none of the allowed types")
    if origin is Literal:
        if value in args:
            return value
        raise ToolArgumentsError(f"{where}: {value!r} is not one of {list(args)}")
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        try:
            return tp(value)
        except ValueError:
            raise ToolArgumentsError(f"{where}: {value!r} is not one of {[m.value for m in tp]}") from None
    if tp is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        raise ToolArgumentsError(f"{where}: expected a boolean, got {value!r}")
    if tp is int:
        if isinstance(value, bool):
            raise ToolArgumentsError(f"{where}: expected an integer, got {value!r}")
        if isinstance(value, int):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, str) and re.fullmatch(r"\s*[-+]?\d+\s*", value):
            return int(value)
        raise ToolArgumentsError(f"{where}: expected an integer, got {value!r}")
    if tp is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str):
            try:
                return float(value)
            except ValueError:
                pass
        raise ToolArgumentsError(f"{where}: expected a number, got {value!r}")
    if tp is str:
        if isinstance(value, str):
            return value
        raise ToolArgumentsError(f"{where}: expected a string, got {value!r}")
    if origin in (list, tuple, set, frozenset) or tp in (list, tuple):
        if not isinstance(value, list):
            raise ToolArgumentsError(f"{where}: expected a list, got {value!r}")
        item = args[0] if args else Any
        items = [_coerce(v, item, f"{where}[{i}]") for i, v in enumerate(value)]
        container = origin or tp
        return items if container is list else container(items)
    if origin is dict or tp is dict:
        if not isinstance(value, dict):
            raise ToolArgumentsError(f"{where}: expected an object, got {value!r}")
        return value
    return value


def output_to_text(value: Any) -> str:
    """How a tool's return value is shown to the model: strings as-is, dicts/lists as JSON."""
    if isinstance(value, str):
        return value
    if isinstance(value, (dict, list)):
        return json.dumps(value, default=str)
    return str(value)


class Toolset:
    """A named group of tools; ``Agent(tools=[...])`` and ``AgentSession(tools=[...])`` take it
    next to plain tools and use its tools (LiveKit's ``llm.Toolset``).

    Example::

        Agent(instructions="...", tools=[Toolset(id="lookup", tools=[lookup_weather, lookup_time])])
    """

    def __init__(self, *, id: str, tools: list[FunctionTool] | None = None) -> None:
        self._id = id
        self._tools = list(tools or [])

    @property
    def id(self) -> str:
        """The toolset's name."""
        return self._id

    @property
    def tools(self) -> list[FunctionTool]:
        """Its tools."""
        return list(self._tools)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(id={self._id!r}, tools={[t.name for t in self._tools]})"


def flatten_tools(tools: Any, *, owner: str) -> list[FunctionTool]:
    """``tools`` with every :class:`Toolset` replaced by its tools; anything else is a clear error.

    Example::

        flatten_tools([lookup_weather, Toolset(id="t", tools=[end_call])], owner="Agent")
    """
    if tools is None:
        return []
    if not isinstance(tools, (list, tuple)):
        raise TypeError(f"{owner}: tools = {tools!r} must be a list of @function_tool functions or Toolsets")
    flat: list[FunctionTool] = []
    for t in tools:
        for tool in t.tools if isinstance(t, Toolset) else [t]:
            if not isinstance(tool, FunctionTool):
                raise TypeError(f"{owner}: tools = {tools!r}: each must be an @function_tool function or a Toolset, got {tool!r}")
            flat.append(tool)
    return flat
