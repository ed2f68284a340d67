"""Export tuned settings to the platform you ship on: LiveKit, SignalWire (SWML) or VideoSDK.

:func:`export` takes what you tuned — an :class:`~agentlab.AgentSession` (with its agent once
started), :class:`~agentlab.session.options.SessionOptions` or a dict of ``AgentSession`` keyword
arguments — plus optionally an :class:`~agentlab.Agent`, and writes it in the platform's own form:

* ``"livekit"``: Python that builds the same ``AgentSession(turn_handling=..., ...)`` and an
  ``Agent`` subclass with the instructions and a stub per tool (its exact JSON schema, via
  ``raw_schema``). The options round-trip through the real ``livekit-agents`` (tested).
* ``"signalwire"``: an SWML document (JSON) whose ``ai`` verb holds the prompt, the SWAIG functions
  with their JSON schemas and the timing parameters, within the ranges SignalWire documents
  (checked by :func:`validate_swml`).
* ``"videosdk"``: Python with ``EOUConfig``, ``InterruptConfig``, the wake-up timer and the agent.

Every setting the platform cannot express raises an :class:`ExportWarning` (a ``UserWarning``) that
names it; the mapping tables are in ``docs/export.md``. API keys are never written.

Example::

    code = agentlab.export(session, "livekit")                  # a string
    agentlab.export(opts, "signalwire", agent=Host(), path="agent.swml.json")
"""

from __future__ import annotations

import json
import keyword
import os
import pprint
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ._utils import atomic_write
from .session.agent import Agent
from .session.options import SessionOptions, build_options
from .session.session import AgentSession

__all__ = ["PLATFORMS", "SWML_RANGES", "ExportWarning", "export", "validate_swml"]

PLATFORMS = ("livekit", "signalwire", "videosdk")

#: SWML ``ai.params`` / ``ai.prompt`` ranges agentlab respects (SignalWire's SWML schema and docs).
SWML_RANGES: dict[str, tuple[float, float]] = {
    "params.end_of_speech_timeout": (250, 10_000),
    "params.attention_timeout": (10_000, 600_000),  # or 0 (disabled)
    "params.barge_min_words": (1, 99),
    "params.inactivity_timeout": (10_000, 3_600_000),
    "prompt.barge_confidence": (0.0, 1.0),
    "prompt.temperature": (0.0, 1.5),
}


class ExportWarning(UserWarning):
    """A setting the target platform cannot express (the message names it and what was done)."""


def export(
    source: AgentSession | SessionOptions | Mapping[str, Any],
    platform: str,
    *,
    agent: Agent | None = None,
    path: str | os.PathLike[str] | None = None,
    webhook_url: str | None = None,
) -> str:
    """``source`` (and ``agent``) in ``platform``'s format; written atomically to ``path`` if given.

    ``webhook_url`` is SignalWire's SWAIG ``web_hook_url`` (where your tool handlers run).

    Example::

        print(export({"turn_handling": {"endpointing": {"min_delay": 0.4}}}, "videosdk"))
    """
    if platform not in PLATFORMS:
        raise ValueError(f"export: unknown platform {platform!r}; choose one of {list(PLATFORMS)}")
    options, session_agent, llm = _source(source)
    agent = agent if agent is not None else session_agent
    if agent is not None and not isinstance(agent, Agent):
        raise TypeError(f"export: agent must be an Agent, got {type(agent).__name__}")
    model = _model_name(agent.llm if agent is not None and agent.llm is not None else llm)
    if options.tool_timeout is not None:
        _warn(platform, "tool_timeout", options.tool_timeout, "is agentlab's; the platform has no tool timeout, so it is not exported")
    if platform == "livekit":
        text = _livekit(options, agent, model)
    elif platform == "videosdk":
        text = _videosdk(options, agent, model)
    else:
        doc = _swml(options, agent, model, webhook_url)
        problems = validate_swml(doc)
        if problems:  # a bug in the mapping, never the user's fault
            raise AssertionError(f"export: the SWML breaks documented constraints: {problems}")
        text = json.dumps(doc, indent=2) + "\n"
    if path is not None:
        atomic_write(path, lambda tmp: Path(tmp).write_text(text))
    return text


# --- inputs --------------------------------------------------------------------------------------


def _source(source: Any) -> tuple[SessionOptions, Agent | None, Any]:
    if isinstance(source, AgentSession):
        agent = source._activity.agent if source._activity is not None else None
        return source.options, agent, source.llm
    if isinstance(source, SessionOptions):
        return source, None, None
    if isinstance(source, Mapping):
        kwargs = dict(source)
        llm = kwargs.pop("llm", None)
        for component in ("stt", "tts", "vad"):
            kwargs.pop(component, None)
        return build_options(**kwargs), None, llm
    raise TypeError(f"export: expected an AgentSession, SessionOptions or a dict of AgentSession arguments, got {type(source).__name__}")


def _model_name(llm: Any) -> str | None:
    if llm is None:
        return None
    if isinstance(llm, str):
        return llm
    model = getattr(llm, "model", None)
    return model if isinstance(model, str) and model != "scripted" else None


def _warn(platform: str, setting: str, value: Any, what: str) -> None:
    warnings.warn(f"export to {platform}: {setting}={value!r} {what}", ExportWarning, stacklevel=4)


def _tools(agent: Agent | None) -> list[Any]:
    return [] if agent is None else list(agent.tools)


def _ident(name: str) -> str:
    out = "".join(c if c.isalnum() or c == "_" else "_" for c in name) or "tool"
    if out[0].isdigit() or keyword.iskeyword(out):
        out = f"tool_{out}"
    return out


def _py(value: Any) -> str:
    return pprint.pformat(value, indent=4, width=100, sort_dicts=False)


# --- LiveKit -------------------------------------------------------------------------------------

# AgentSession keywords LiveKit 1.8.9 accepts besides turn_handling (ours → theirs, same names).
_LIVEKIT_SESSION_KEYS = (
    "max_tool_steps",
    "user_away_timeout",
    "min_consecutive_speech_delay",
    "aec_warmup_duration",
    "use_tts_aligned_transcript",
    "transcription_timeout",
    "session_close_transcript_timeout",
)


def livekit_turn_handling(options: SessionOptions) -> dict[str, Any]:
    """The ``turn_handling`` dict of ``options`` as LiveKit 1.8.9 takes it (plain values only)."""
    th = options.to_turn_handling()
    td = th.pop("turn_detection")
    if td is None:
        # our default (no end-of-turn model offline) is LiveKit's VAD endpointing
        th["turn_detection"] = "vad"
    elif isinstance(td, str):
        th["turn_detection"] = td
    else:
        _warn("livekit", "turn_detection", type(td).__name__, "is agentlab's; LiveKit's default end-of-turn model is used")
    if th["interruption"].get("mode") is None:
        th["interruption"].pop("mode")
    th["interruption"]["backchannel_boundary"] = tuple(th["interruption"]["backchannel_boundary"])
    return th


def _livekit(options: SessionOptions, agent: Agent | None, model: str | None) -> str:
    th = livekit_turn_handling(options)
    session = {k: getattr(options, k) for k in _LIVEKIT_SESSION_KEYS}
    session["tts_text_transforms"] = list(options.tts_text_transforms) if options.tts_text_transforms is not None else None
    if options.wake_up is not None:
        _warn("livekit", "wake_up", options.wake_up, "is VideoSDK's inactivity timer; LiveKit has user_away_timeout (kept as is)")
    if options.max_unrecoverable_errors != 3:
        _warn("livekit", "max_unrecoverable_errors", options.max_unrecoverable_errors, "is a LiveKit connection option; not exported")
    lines = [
        '"""Exported by agentlab: an AgentSession and Agent for livekit-agents 1.8 with the tuned settings."""',
        "",
        "from livekit.agents import Agent, AgentSession, RunContext, function_tool",
        "",
        f"TURN_HANDLING = {_py(th)}",
        "",
        f"SESSION_OPTIONS = {_py(session)}",
        "",
        f"LLM = {model!r}  # a LiveKit inference model string, or pass llm=openai.LLM(...) to build_session",
        "",
        "",
        "def build_session(**components) -> AgentSession:",
        '    """The tuned session; pass stt=, llm=, tts=, vad= as your deployment needs."""',
        "    if LLM is not None:",
        '        components.setdefault("llm", LLM)',
        "    return AgentSession(turn_handling=TURN_HANDLING, **SESSION_OPTIONS, **components)",
        "",
        "",
    ]
    lines += _livekit_agent(agent)
    return "\n".join(lines) + "\n"


def _livekit_agent(agent: Agent | None) -> list[str]:
    name = type(agent).__name__ if agent is not None else "ExportedAgent"
    lines = [
        f"class {_ident(name)}(Agent):",
        "    def __init__(self) -> None:",
        f"        super().__init__(instructions={(agent.instructions if agent else '')!r})",
    ]
    for tool in _tools(agent):
        schema = {"name": tool.name, "description": tool.description, "parameters": tool.parameters}
        lines += [
            "",
            f"    @function_tool(raw_schema={_py(schema)})".replace("\n", "\n    "),
            f"    async def {_ident(tool.name)}(self, raw_arguments: dict[str, object], context: RunContext) -> str:",
            f'        raise NotImplementedError("{tool.name}: implement the tool (exported as a stub)")',
        ]
    return lines


# --- SignalWire ----------------------------------------------------------------------------------


def _clamp(setting: str, value: float, *, platform: str = "signalwire") -> int:
    lo, hi = SWML_RANGES[setting]
    out = round(min(max(value, lo), hi))
    if out != round(value):
        _warn(platform, setting, round(value), f"is outside SignalWire's range {lo:g}-{hi:g}; clamped to {out}")
    return out


def _swml(options: SessionOptions, agent: Agent | None, model: str | None, webhook_url: str | None) -> dict[str, Any]:
    e, i, p = options.endpointing, options.interruption, options.preemptive_generation
    params: dict[str, Any] = {"end_of_speech_timeout": _clamp("params.end_of_speech_timeout", e.min_delay * 1000)}
    prompt: dict[str, Any] = {"text": agent.instructions if agent is not None else ""}
    if model:
        params["ai_model"] = model.split("/", 1)[-1]
    # attention_timeout is SignalWire's idle re-prompt, LiveKit's user_away_timeout (not max_delay)
    if options.user_away_timeout is None:
        params["attention_timeout"] = 0
    else:
        params["attention_timeout"] = _clamp("params.attention_timeout", options.user_away_timeout * 1000)
    if not i.enabled:
        prompt["barge_confidence"] = 1.0  # the ASR must be certain: interruptions effectively off
        params["enable_barge"] = ""
    elif i.min_words > 0:
        params["barge_min_words"] = _clamp("params.barge_min_words", i.min_words)
    if e.max_delay != 3.0 or options.turn_detection is not None:
        _warn("signalwire", "endpointing.max_delay", e.max_delay, "has no SignalWire equivalent; not exported")
    if e.mode != "fixed":
        _warn("signalwire", "endpointing.mode", e.mode, "has no SignalWire equivalent; end_of_speech_timeout is fixed")
    if i.min_duration != 0.5:
        _warn("signalwire", "interruption.min_duration", i.min_duration, "has no SignalWire equivalent (barge is word-based)")
    if i.resume_false_interruption:
        _warn("signalwire", "interruption.resume_false_interruption", True, "has no SignalWire equivalent (a barge-in stops)")
    if p.enabled:
        _warn("signalwire", "preemptive_generation.enabled", True, "has no SignalWire equivalent; not exported")
    if options.max_tool_steps != 3:
        _warn("signalwire", "max_tool_steps", options.max_tool_steps, "has no SignalWire equivalent; not exported")
    if options.wake_up is not None:
        _warn("signalwire", "wake_up", options.wake_up, "has no SignalWire equivalent; not exported")
    ai: dict[str, Any] = {"prompt": prompt, "params": params}
    tools = _tools(agent)
    if tools:
        swaig: dict[str, Any] = {
            "functions": [{"function": t.name, "description": t.description or t.name, "parameters": t.parameters} for t in tools]
        }
        if webhook_url:
            swaig["defaults"] = {"web_hook_url": webhook_url}
        else:
            _warn("signalwire", "webhook_url", None, "is not set: give export(..., webhook_url=...) where your SWAIG handlers run")
        ai["SWAIG"] = swaig
    return {"version": "1.0.0", "sections": {"main": [{"answer": {}}, {"ai": ai}]}}


def validate_swml(doc: Any) -> list[str]:
    """The documented constraints ``doc`` breaks (empty when it is fine).

    Checks the shape (``version``, ``sections.main`` with an ``ai`` verb, a prompt text), the
    :data:`SWML_RANGES` (``attention_timeout`` may also be 0), that ``barge_confidence`` sits in
    ``prompt`` (not ``params``), and that every SWAIG function has a name, a description and an
    object JSON schema.

    Example::

        validate_swml(json.loads(export(opts, "signalwire")))     # []
    """
    problems: list[str] = []
    if not isinstance(doc, Mapping) or doc.get("version") != "1.0.0":
        return ["version must be '1.0.0'"]
    main = doc.get("sections", {}).get("main") if isinstance(doc.get("sections"), Mapping) else None
    ai = next((v["ai"] for v in main or [] if isinstance(v, Mapping) and "ai" in v), None)
    if not isinstance(ai, Mapping):
        return ["sections.main has no ai verb"]
    prompt, params = ai.get("prompt", {}), ai.get("params", {})
    if not isinstance(prompt.get("text"), str):
        problems.append("ai.prompt.text must be a string")
    if "barge_confidence" in params:
        problems.append("barge_confidence belongs in ai.prompt, not ai.params")
    for key, (lo, hi) in SWML_RANGES.items():
        where, name = key.split(".")
        value = (prompt if where == "prompt" else params).get(name)
        if value is None or (name == "attention_timeout" and value == 0):
            continue
        if not isinstance(value, (int, float)) or isinstance(value, bool) or not lo <= value <= hi:
            problems.append(f"ai.{key} = {value!r} outside {lo:g}-{hi:g}")
    for j, f in enumerate(ai.get("SWAIG", {}).get("functions", [])):
        if not f.get("function") or not f.get("description"):
            problems.append(f"SWAIG.functions[{j}] needs function and description")
        if not isinstance(f.get("parameters"), Mapping) or f["parameters"].get("type") != "object":
            problems.append(f"SWAIG.functions[{j}].parameters must be an object JSON schema")
    return problems


# --- VideoSDK ------------------------------------------------------------------------------------

_PY_TYPES = {"string": "str", "integer": "int", "number": "float", "boolean": "bool", "array": "list", "object": "dict"}


def _videosdk(options: SessionOptions, agent: Agent | None, model: str | None) -> str:
    e, i, p = options.endpointing, options.interruption, options.preemptive_generation
    eou = {"mode": "ADAPTIVE" if e.mode == "dynamic" else "DEFAULT", "min_max_speech_wait_timeout": [e.min_delay, e.max_delay]}
    interrupt = {
        "mode": "HYBRID" if i.min_words > 0 else "VAD_ONLY",
        "interrupt_min_duration": i.min_duration,
        "interrupt_min_words": i.min_words,
        "false_interrupt_pause_duration": i.false_interruption_timeout if i.false_interruption_timeout is not None else 2.0,
        "resume_on_false_interrupt": bool(i.resume_false_interruption and i.false_interruption_timeout is not None),
    }
    if not i.enabled:
        _warn("videosdk", "interruption.enabled", False, "is per reply in VideoSDK: call session.reply(..., interruptible=False)")
    if p.enabled:
        _warn("videosdk", "preemptive_generation.enabled", True, "is a VideoSDK STT flag; not exported")
    if options.max_tool_steps != 3:
        _warn("videosdk", "max_tool_steps", options.max_tool_steps, "has no VideoSDK equivalent; not exported")
    if options.user_away_timeout is not None and options.wake_up is None:
        _warn("videosdk", "user_away_timeout", options.user_away_timeout, "has no VideoSDK equivalent; wake_up is not set")
    name = _ident(type(agent).__name__ if agent is not None else "ExportedAgent")
    lines = [
        '"""Exported by agentlab: VideoSDK agent settings with the tuned turn-taking."""',
        "",
        "from videosdk.agents import Agent, EOUConfig, InterruptConfig, function_tool",
        "",
        f"EOU_CONFIG = EOUConfig(**{_py(eou)})",
        "",
        f"INTERRUPT_CONFIG = InterruptConfig(**{_py(interrupt)})",
        "",
        f"WAKE_UP = {options.wake_up!r}  # AgentSession(agent, pipeline, wake_up=WAKE_UP)",
        f"LLM_MODEL = {model!r}",
        "",
        "# Pipeline(stt=..., llm=..., tts=..., vad=..., turn_detector=..., eou_config=EOU_CONFIG, interrupt_config=INTERRUPT_CONFIG)",
        "",
        "",
        f"class {name}(Agent):",
        "    def __init__(self) -> None:",
        f"        super().__init__(instructions={(agent.instructions if agent else '')!r})",
    ]
    for tool in _tools(agent):
        props = tool.parameters.get("properties", {})
        required = set(tool.parameters.get("required", []))
        args = ", ".join(
            f"{_ident(k)}: {_PY_TYPES.get(v.get('type') if isinstance(v.get('type'), str) else '', 'object')}"
            + ("" if k in required else " = None")
            for k, v in sorted(props.items(), key=lambda kv: kv[0] not in required)
        )
        lines += [
            "",
            "    @function_tool",
            f"    async def {_ident(tool.name)}(self{', ' + args if args else ''}) -> str:",
            f"        {json.dumps(tool.description or tool.name)}",
            f'        raise NotImplementedError("{tool.name}: implement the tool (exported as a stub)")',
        ]
    return "\n".join(lines) + "\n"
