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
"""

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
from .session import (
    Agent,
    AgentSession,
    AgentTask,
    ModelSettings,
    RunResult,
    SessionOptions,
    SpeechHandle,
    events,
    mock_tools,
)
from .sim import Run, UserTurn, simulate
from .sweeps import SweepResult, sweep
from .tools import FunctionTool, RunContext, StopResponse, ToolError, function_tool

__version__ = "0.1.0"


def __getattr__(name: str) -> object:
    # LiveKit names that need a server (JobContext, WorkerOptions, cli...): importable, fail when used
    from ._unsupported import UNSUPPORTED, stub

    if name in UNSUPPORTED:
        return stub(name)
    raise AttributeError(f"module 'agentlab' has no attribute {name!r}")


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
