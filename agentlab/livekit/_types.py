"""Small LiveKit types agentlab's own API has no need for: option dicts, enums, aliases, errors.

LiveKit's option types (``TurnHandlingOptions``, ``EndpointingOptions``...) are ``TypedDict`` s:
calling one builds a plain dict, which ``AgentSession(turn_handling=...)`` reads. Their keys are
LiveKit's (facts of its API); the values are checked where the session reads them.
"""

from __future__ import annotations

import enum
from typing import Any, Literal, TypedDict, TypeVar, Union

from .._utils import _NotGiven
from ..chat import AgentHandoff, ChatMessage, FunctionCall, FunctionCallOutput
from ..models.llm import APIConnectionError, APIError, APIStatusError
from ..tools import FunctionTool, flatten_tools

__all__ = [
    "AssignmentTimeoutError",
    "CloseReason",
    "LanguageCode",
    "NotGiven",
    "ToolContext",
    "ToolFlag",
    "TurnHandlingOptions",
    "UnexpectedModelBehavior",
    "create_api_error_from_http",
    "is_function_tool",
]

_T = TypeVar("_T")

#: The type of ``NOT_GIVEN``.
NotGiven = _NotGiven
#: ``NotGivenOr[T]``: a value of type T, or ``NOT_GIVEN``.
NotGivenOr = Union[_T, _NotGiven]
ChatRole = Literal["developer", "system", "user", "assistant"]
ChatContent = str
ChatItem = Union[ChatMessage, FunctionCall, FunctionCallOutput, AgentHandoff]
#: Any session event (``session.on(type, ...)`` callbacks receive one).
AgentEvent = Any
#: An item of a ``RunResult``'s events.
RunEvent = Any


class LanguageCode(str):
    """A language code such as ``"en"`` or ``"en-US"`` (LiveKit normalises it; agentlab keeps it)."""


class CloseReason(str, enum.Enum):
    """Why a session closed (``CloseEvent.reason`` holds the value)."""

    ERROR = "error"
    JOB_SHUTDOWN = "job_shutdown"
    PARTICIPANT_DISCONNECTED = "participant_disconnected"
    USER_INITIATED = "user_initiated"
    TASK_COMPLETED = "task_completed"


class ToolFlag(enum.Flag):
    """Tool flags (``function_tool(flags=...)`` in LiveKit); agentlab accepts and keeps them."""

    NONE = 0
    IGNORE_ON_ENTER = 1
    CANCELLABLE = 2


class AssignmentTimeoutError(Exception):
    """A job was not assigned in time (a LiveKit server error; never raised offline)."""


class UnexpectedModelBehavior(Exception):
    """The model did something its caller could not use (for example no result for a typed run)."""


def create_api_error_from_http(message: str, *, status: int, body: Any = None) -> APIError:
    """The API error for an HTTP failure: ``APIStatusError`` with the status, or a connection error for 0.

    Example::

        create_api_error_from_http("rate limited", status=429).retryable   # True
    """
    if status <= 0:
        return APIConnectionError(message)
    return APIStatusError(message, status_code=status, body=body)


class ToolContext:
    """A set of tools by name (LiveKit's ``ToolContext``); ``function_tools`` maps names to tools.

    Example::

        ToolContext([lookup_weather]).function_tools["lookup_weather"]
    """

    def __init__(self, tools: list[Any]) -> None:
        self.function_tools = {t.name: t for t in flatten_tools(tools, owner="ToolContext")}

    @classmethod
    def empty(cls) -> ToolContext:
        return cls([])

    def flatten(self) -> list[FunctionTool]:
        return list(self.function_tools.values())


def is_function_tool(value: Any) -> bool:
    """True for a tool made by ``function_tool``."""
    return isinstance(value, FunctionTool)


# --- option dicts (LiveKit's TypedDicts; calling one builds a dict) ------------------------------


class EndpointingOptions(TypedDict, total=False):
    """``turn_handling["endpointing"]``."""

    mode: Literal["fixed", "dynamic"]
    min_delay: float
    max_delay: float
    alpha: float


class InterruptionOptions(TypedDict, total=False):
    """``turn_handling["interruption"]``."""

    enabled: bool
    mode: Literal["adaptive", "vad"]
    discard_audio_if_uninterruptible: bool
    min_duration: float
    min_words: int
    resume_false_interruption: bool
    false_interruption_timeout: float | None
    backchannel_boundary: float | tuple[float, float] | None


class PreemptiveGenerationOptions(TypedDict, total=False):
    """``turn_handling["preemptive_generation"]``."""

    enabled: bool
    preemptive_tts: bool
    max_speech_duration: float
    max_retries: int


class UserTurnLimitOptions(TypedDict, total=False):
    """``turn_handling["user_turn_limit"]``."""

    max_words: int | None
    max_duration: float | None


class TurnHandlingOptions(TypedDict, total=False):
    """``AgentSession(turn_handling=...)``.

    Example::

        TurnHandlingOptions(endpointing={"min_delay": 0.4}, preemptive_generation={"enabled": True})
    """

    turn_detection: Any
    endpointing: EndpointingOptions
    interruption: InterruptionOptions
    preemptive_generation: PreemptiveGenerationOptions
    user_turn_limit: UserTurnLimitOptions


class KeytermDetectionOptions(TypedDict, total=False):
    """``stt_context_options["keyterm_detection"]`` (accepted; agentlab's STTs take no keyterms)."""

    enabled: bool
    llm: Any
    turn_interval: int
    max_keyterms: int | None
    instructions: str | None
    timeout: float


class KeytermsOptions(TypedDict, total=False):
    """``keyterms_options`` (accepted; agentlab's STTs take no keyterms)."""

    keyterms: list[str]
    keyterm_detection: KeytermDetectionOptions


class STTContextOptions(TypedDict, total=False):
    """``stt_context_options`` (accepted; agentlab's STTs take no keyterms or chat context)."""

    keyterms: list[str]
    keyterm_detection: KeytermDetectionOptions
    forward_chat_context: bool


class NonverbalOptions(TypedDict, total=False):
    """Nonverbal sounds an expressive TTS may make (accepted; not simulated)."""

    laughing: bool
    breathing: bool
    sighing: bool
    crying: bool
    vocalizing: bool
    mouth_sounds: bool
    reflex_sounds: bool


class SpeechSteeringOptions(TypedDict, total=False):
    """How an expressive TTS is steered (accepted; not simulated)."""

    disfluencies: bool
    nonverbal_sounds: bool | NonverbalOptions
    pace: Literal["slow", "normal", "fast"]


class ExpressiveOptions(TypedDict, total=False):
    """``AgentSession(expressive=...)`` (accepted; not simulated)."""

    speech_steering: SpeechSteeringOptions
    tts_instructions_template: str
    tts_instructions_append: str


class RecordingOptions(TypedDict, total=False):
    """``session.start(record=...)``: what LiveKit Cloud records (accepted; nothing is uploaded)."""

    audio: bool
    traces: bool
    logs: bool
    transcript: bool
    redaction: bool
    input_delta: bool


class RunOutputOptions(TypedDict, total=False):
    """Retries of a typed ``session.run(output_type=...)``."""

    max_retries: int
    retry_instructions: str


class MetricsReport(TypedDict, total=False):
    """A message's ``metrics`` dict (session seconds)."""

    started_speaking_at: float
    stopped_speaking_at: float
    transcription_delay: float
    end_of_turn_delay: float
    on_user_turn_completed_delay: float
    llm_node_ttft: float
    tts_node_ttfb: float
    e2e_latency: float
