"""The session: Agent, AgentSession, SpeechHandle, events, options and testing helpers."""

from .agent import Agent, AgentTask, ModelSettings
from .events import (
    AgentFalseInterruptionEvent,
    AgentStateChangedEvent,
    CloseEvent,
    ConversationItemAddedEvent,
    EOUMetrics,
    ErrorEvent,
    FunctionToolsExecutedEvent,
    LLMMetrics,
    MetricsCollectedEvent,
    SpeechCreatedEvent,
    SpeechDoneEvent,
    SpeechScheduledEvent,
    STTMetrics,
    ToolStepLimitEvent,
    TTSMetrics,
    UserInputTranscribedEvent,
    UserStateChangedEvent,
    UserTurnDroppedEvent,
    WakeUpEvent,
)
from .options import SessionOptions
from .playout import SessionOutput, TextOutput
from .run_result import RunResult, mock_tools
from .session import AgentSession
from .speech import SpeechHandle

__all__ = [
    "Agent",
    "AgentFalseInterruptionEvent",
    "AgentSession",
    "AgentStateChangedEvent",
    "AgentTask",
    "CloseEvent",
    "ConversationItemAddedEvent",
    "EOUMetrics",
    "ErrorEvent",
    "FunctionToolsExecutedEvent",
    "LLMMetrics",
    "MetricsCollectedEvent",
    "ModelSettings",
    "RunResult",
    "STTMetrics",
    "SessionOptions",
    "SessionOutput",
    "SpeechCreatedEvent",
    "SpeechDoneEvent",
    "SpeechHandle",
    "SpeechScheduledEvent",
    "TTSMetrics",
    "TextOutput",
    "ToolStepLimitEvent",
    "UserInputTranscribedEvent",
    "UserStateChangedEvent",
    "UserTurnDroppedEvent",
    "WakeUpEvent",
    "mock_tools",
]
