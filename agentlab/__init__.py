"""agentlab: design and evaluate voice AI agents in Jupyter.

A LiveKit-compatible :class:`AgentSession` that runs on the real clock (chat in a notebook) or on a
:class:`VirtualClock` (deterministic, far faster than real time), with history, events and
metrics as pandas DataFrames.

Example::

    import agentlab as al

    llm = al.ScriptedLLM(responses=["Hello! Table for how many?"])
    run = al.simulate(al.Agent(instructions="You book tables."), {"llm": llm}, ["Hi there"])
    run.history[["role", "text"]]

    res = al.sweep(None, "dictation", {"endpointing.min_delay": [0.3, 0.6, 1.0]})   # which settings to ship?
    res.best(max_cutoff_rate=0.05)

Every public name is imported on first use (``import agentlab`` alone loads none of pandas, openai
or matplotlib), so the command line and ``import agentlab`` start fast.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import types
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # what type checkers and IDEs see; at run time __getattr__ imports each name on first use
    from .chat import AgentHandoff, ChatContext, ChatMessage, FunctionCall, FunctionCallOutput
    from .clock import RealClock, VirtualClock, VirtualClockDeadlock
    from .engine import ScriptedVAD, TurnEngine, UserSpeech
    from .export import ExportWarning, export
    from .frames import events_frame, history_frame, metrics_frame
    from .models import LLM, TTS, Rule, ScriptedLLM, ScriptedResponse, ScriptedToolCall, ScriptedTTS
    from .models.openai import OpenAILLM
    from .models.openai_audio import OpenAISTT, OpenAITTS
    from .models.stt import AlignedSTT
    from .models.turn_detector import TextTurnDetector
    from .report import SessionReport
    from .scenario import Scenario, ScenarioError, load_scenario
    from .session import Agent, AgentSession, AgentTask, ModelSettings, RunResult, SessionOptions, SpeechHandle, events, mock_tools
    from .sim import Run, UserTurn, simulate
    from .sweeps import SweepResult, sweep
    from .tools import FunctionTool, RunContext, StopResponse, ToolError, function_tool

__version__ = "0.1.0"

# the submodule defining each public name
_SOURCES: dict[str, tuple[str, ...]] = {
    ".chat": ("AgentHandoff", "ChatContext", "ChatMessage", "FunctionCall", "FunctionCallOutput"),
    ".clock": ("RealClock", "VirtualClock", "VirtualClockDeadlock"),
    ".engine": ("ScriptedVAD", "TurnEngine", "UserSpeech"),
    ".export": ("ExportWarning", "export"),
    ".frames": ("events_frame", "history_frame", "metrics_frame"),
    ".models": ("LLM", "TTS", "Rule", "ScriptedLLM", "ScriptedResponse", "ScriptedToolCall", "ScriptedTTS"),
    ".models.openai": ("OpenAILLM",),
    ".models.openai_audio": ("OpenAISTT", "OpenAITTS"),
    ".models.stt": ("AlignedSTT",),
    ".models.turn_detector": ("TextTurnDetector",),
    ".report": ("SessionReport",),
    ".scenario": ("Scenario", "ScenarioError", "load_scenario"),
    ".session": (
        "Agent",
        "AgentSession",
        "AgentTask",
        "ModelSettings",
        "RunResult",
        "SessionOptions",
        "SpeechHandle",
        "events",
        "mock_tools",
    ),
    ".sim": ("Run", "UserTurn", "simulate"),
    ".sweeps": ("SweepResult", "sweep"),
    ".tools": ("FunctionTool", "RunContext", "StopResponse", "ToolError", "function_tool"),
}
_EXPORTS = {name: module for module, names in _SOURCES.items() for name in names}


def __getattr__(name: str) -> object:
    module = _EXPORTS.get(name)
    if module is not None:
        value = getattr(importlib.import_module(module, __name__), name)
        globals()[name] = value  # later lookups skip this function
        return value
    # LiveKit names that need a server (JobContext, WorkerOptions, cli...): importable, fail when used
    from ._unsupported import SERVER_NAMES, server_name

    if name in SERVER_NAMES:
        return server_name(name)
    # a submodule (agentlab.datasets, agentlab.widgets...) is an attribute once imported, as an eager package made it
    if name.isidentifier() and not name.startswith("_") and importlib.util.find_spec(f"{__name__}.{name}") is not None:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module 'agentlab' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


class _Package(types.ModuleType):
    """The package's module type: keeps ``agentlab.export`` the function once ``agentlab.export`` the module is imported."""

    def __setattr__(self, name: str, value: object) -> None:
        # Importing a submodule binds it on the package under its own name; for ``export`` that name is
        # the public function (the eager package rebound it right after), so the function stays.
        if isinstance(value, types.ModuleType) and _EXPORTS.get(name) == f".{name}":
            value = getattr(value, name)
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package

__all__ = [
    "LLM",
    "TTS",
    "Agent",
    "AgentHandoff",
    "AgentSession",
    "AgentTask",
    "AlignedSTT",
    "ChatContext",
    "ChatMessage",
    "ExportWarning",
    "FunctionCall",
    "FunctionCallOutput",
    "FunctionTool",
    "ModelSettings",
    "OpenAILLM",
    "OpenAISTT",
    "OpenAITTS",
    "RealClock",
    "Rule",
    "Run",
    "RunContext",
    "RunResult",
    "Scenario",
    "ScenarioError",
    "ScriptedLLM",
    "ScriptedResponse",
    "ScriptedTTS",
    "ScriptedToolCall",
    "ScriptedVAD",
    "SessionOptions",
    "SessionReport",
    "SpeechHandle",
    "StopResponse",
    "SweepResult",
    "TextTurnDetector",
    "ToolError",
    "TurnEngine",
    "UserSpeech",
    "UserTurn",
    "VirtualClock",
    "VirtualClockDeadlock",
    "events",
    "events_frame",
    "export",
    "function_tool",
    "history_frame",
    "load_scenario",
    "metrics_frame",
    "mock_tools",
    "simulate",
    "sweep",
]
