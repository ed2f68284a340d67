"""Session events and metrics, with LiveKit's names and fields.

Every event is a frozen dataclass with ``type`` (LiveKit's event name), ``created_at`` (session
time in seconds, virtual or real), ``emitted_at`` (when the session emitted it) and ``wall_time`` (UNIX stamp; on a virtual clock it is the
clock's epoch plus ``created_at``, so simulated runs are reproducible). User-state events are
backdated as in LiveKit: ``created_at`` is when the speech really started or stopped.

Example::

    @session.on("agent_state_changed")
    def _(ev: AgentStateChangedEvent):
        print(f"{ev.created_at:.2f}s {ev.old_state} -> {ev.new_state}")
"""

from __future__ import annotations

from dataclasses import field
from typing import TYPE_CHECKING, Literal, Union

from .._frozen import frozen

if TYPE_CHECKING:
    from ..chat import AgentHandoff, ChatMessage, FunctionCall, FunctionCallOutput
    from .speech import SpeechHandle

__all__ = [
    "AgentFalseInterruptionEvent",
    "AgentState",
    "AgentStateChangedEvent",
    "CloseEvent",
    "CloseReason",
    "ConversationItemAddedEvent",
    "EOUMetrics",
    "ErrorEvent",
    "FunctionToolsExecutedEvent",
    "LLMMetrics",
    "MetricsCollectedEvent",
    "STTMetrics",
    "SpeechCreatedEvent",
    "SpeechDoneEvent",
    "SpeechScheduledEvent",
    "TTSMetrics",
    "ToolStepLimitEvent",
    "UserInputTranscribedEvent",
    "UserState",
    "UserStateChangedEvent",
    "UserTurnDroppedEvent",
    "UserTurnExceededEvent",
    "WakeUpEvent",
]

AgentState = Literal["initializing", "idle", "listening", "thinking", "speaking"]
UserState = Literal["speaking", "listening", "away"]
CloseReason = Literal["error", "job_shutdown", "participant_disconnected", "user_initiated", "task_completed"]


@frozen(kw_only=True)
class _Event:
    created_at: float
    wall_time: float
    #: When the session emitted it (differs from ``created_at`` for backdated user-state events).
    emitted_at: float = -1.0


@frozen(kw_only=True)
class AgentStateChangedEvent(_Event):
    """The agent moved between initializing / listening / thinking / speaking."""

    old_state: AgentState
    new_state: AgentState
    type: Literal["agent_state_changed"] = "agent_state_changed"


@frozen(kw_only=True)
class UserStateChangedEvent(_Event):
    """The user moved between listening / speaking / away (``created_at`` backdated to the speech edge)."""

    old_state: UserState
    new_state: UserState
    type: Literal["user_state_changed"] = "user_state_changed"


@frozen(kw_only=True)
class UserInputTranscribedEvent(_Event):
    """An interim or final transcript of user speech."""

    transcript: str
    is_final: bool
    speaker_id: str | None = None
    language: str | None = None
    type: Literal["user_input_transcribed"] = "user_input_transcribed"


@frozen(kw_only=True)
class ConversationItemAddedEvent(_Event):
    """A message or handoff was added to the session history."""

    item: ChatMessage | AgentHandoff
    type: Literal["conversation_item_added"] = "conversation_item_added"


@frozen(kw_only=True)
class FunctionToolsExecutedEvent(_Event):
    """One tool round finished: the calls and their outputs, in parallel lists."""

    function_calls: tuple[FunctionCall, ...]
    function_call_outputs: tuple[FunctionCallOutput | None, ...]
    speech_id: str | None = None
    type: Literal["function_tools_executed"] = "function_tools_executed"
    _flags: dict[str, bool] = field(default_factory=dict, repr=False, compare=False)

    def cancel_tool_reply(self) -> None:
        """From a handler: do not ask the LLM for a follow-up reply to these outputs."""
        self._flags["cancel_reply"] = True

    def cancel_agent_handoff(self) -> None:
        """From a handler: ignore an agent returned by these tools."""
        self._flags["cancel_handoff"] = True

    @property
    def cancelled_reply(self) -> bool:
        """True after :meth:`cancel_tool_reply`."""
        return self._flags.get("cancel_reply", False)

    @property
    def cancelled_handoff(self) -> bool:
        """True after :meth:`cancel_agent_handoff`."""
        return self._flags.get("cancel_handoff", False)

    def zipped(self) -> list[tuple[FunctionCall, FunctionCallOutput | None]]:
        """``[(call, output), ...]``."""
        return list(zip(self.function_calls, self.function_call_outputs, strict=True))

    @property
    def has_tool_reply(self) -> bool:
        """True when some output asks the LLM for a follow-up reply."""
        return any(o is not None for o in self.function_call_outputs)


@frozen(kw_only=True)
class SpeechCreatedEvent(_Event):
    """A new :class:`SpeechHandle` (``source`` is ``"say"`` or ``"generate_reply"``)."""

    speech_handle: SpeechHandle
    user_initiated: bool
    source: Literal["say", "generate_reply"]
    type: Literal["speech_created"] = "speech_created"


@frozen(kw_only=True)
class SpeechScheduledEvent(_Event):
    """agentlab's: a speech joined the queue (a preemptive reply joins it at the commit, if reused).
    LiveKit schedules speech without an event; this one lets a run be followed speech by speech."""

    speech_id: str
    source: Literal["say", "generate_reply"]
    priority: int
    type: Literal["speech_scheduled"] = "speech_scheduled"


@frozen(kw_only=True)
class SpeechDoneEvent(_Event):
    """agentlab's: a speech is done, played out or ``interrupted`` (also a preemptive reply that
    was never used). Pairs with ``speech_created`` by ``speech_id``."""

    speech_id: str
    source: Literal["say", "generate_reply"]
    interrupted: bool
    type: Literal["speech_done"] = "speech_done"


@frozen(kw_only=True)
class UserTurnDroppedEvent(_Event):
    """agentlab's: a completed user turn got no reply and is not in the history. ``reason``:
    ``"uninterruptible"`` (the current speech, ``speech_id``, refuses interruptions; LiveKit only
    logs a warning) or ``"handoff"`` (the agent was handing off)."""

    transcript: str
    reason: Literal["uninterruptible", "handoff"]
    speech_id: str | None = None
    type: Literal["user_turn_dropped"] = "user_turn_dropped"


@frozen(kw_only=True)
class UserTurnExceededEvent(_Event):
    """The user spoke past ``turn_handling["user_turn_limit"]`` without the agent answering.

    ``transcript`` is the current (uncommitted) turn, interim text included; the accumulated fields
    count every final transcript since the agent last spoke. ``Agent.on_user_turn_exceeded``
    receives it; agentlab also emits it as a session event (LiveKit only calls the agent).
    """

    transcript: str
    accumulated_transcript: str
    accumulated_word_count: int
    duration: float
    type: Literal["user_turn_exceeded"] = "user_turn_exceeded"


@frozen(kw_only=True)
class ToolStepLimitEvent(_Event):
    """agentlab's: reply ``speech_id`` reached ``max_tool_steps``; the LLM is asked once more,
    without tools, for a final reply (LiveKit only logs a warning)."""

    speech_id: str
    max_tool_steps: int
    type: Literal["tool_step_limit_reached"] = "tool_step_limit_reached"


@frozen(kw_only=True)
class AgentFalseInterruptionEvent(_Event):
    """A paused reply was declared a false interruption; ``resumed`` tells whether playback resumed."""

    resumed: bool
    type: Literal["agent_false_interruption"] = "agent_false_interruption"


@frozen(kw_only=True)
class ErrorEvent(_Event):
    """A component or tool failed.

    ``recoverable`` is True when the session simply goes on: an attempt the provider's client is
    retrying, or a tool that failed (the model gets an error output). False means an LLM or TTS
    request failed for good; more than ``max_unrecoverable_errors`` of those in a row close the session.
    """

    error: BaseException
    source: str
    recoverable: bool
    message: str = ""
    type: Literal["error"] = "error"


@frozen(kw_only=True)
class CloseEvent(_Event):
    """The session closed; no event follows this one."""

    reason: CloseReason
    error: BaseException | None = None
    type: Literal["close"] = "close"


@frozen(kw_only=True)
class WakeUpEvent(_Event):
    """VideoSDK's inactivity timer fired and ``on_wake_up`` was called."""

    idle_for: float
    type: Literal["wake_up"] = "wake_up"


# --- metrics ---------------------------------------------------------------------------------


@frozen(kw_only=True)
class LLMMetrics:
    """One LLM request. Times in seconds; ``ttft`` is -1 when no token arrived."""

    label: str
    request_id: str
    timestamp: float
    duration: float
    ttft: float
    cancelled: bool
    completion_tokens: int = 0
    prompt_tokens: int = 0
    prompt_cached_tokens: int = 0
    total_tokens: int = 0
    tokens_per_second: float = 0.0
    speech_id: str | None = None
    model: str = "unknown"
    provider: str = "unknown"
    tool_choice: str | None = None
    type: Literal["llm_metrics"] = "llm_metrics"


@frozen(kw_only=True)
class TTSMetrics:
    """One TTS request: time to first byte and the audio it produced."""

    label: str
    request_id: str
    timestamp: float
    ttfb: float
    duration: float
    audio_duration: float
    cancelled: bool
    characters_count: int
    streamed: bool = False
    speech_id: str | None = None
    segment_id: str | None = None
    model: str = "unknown"
    provider: str = "unknown"
    type: Literal["tts_metrics"] = "tts_metrics"


@frozen(kw_only=True)
class STTMetrics:
    """Speech-to-text usage for a stretch of audio."""

    label: str
    request_id: str
    timestamp: float
    duration: float
    audio_duration: float
    streamed: bool
    model: str = "unknown"
    provider: str = "unknown"
    type: Literal["stt_metrics"] = "stt_metrics"


@frozen(kw_only=True)
class EOUMetrics:
    """End of a user utterance: how long after the speech ended the turn was committed."""

    timestamp: float
    end_of_utterance_delay: float
    transcription_delay: float
    on_user_turn_completed_delay: float
    speech_id: str | None = None
    model: str = "unknown"
    provider: str = "unknown"
    type: Literal["eou_metrics"] = "eou_metrics"


AgentMetrics = Union[LLMMetrics, TTSMetrics, STTMetrics, EOUMetrics]


@frozen(kw_only=True)
class MetricsCollectedEvent(_Event):
    """A metrics record (LLM, TTS, STT or end-of-utterance)."""

    metrics: AgentMetrics
    type: Literal["metrics_collected"] = "metrics_collected"


AgentEvent = Union[
    UserTurnExceededEvent,
    AgentStateChangedEvent,
    UserStateChangedEvent,
    UserInputTranscribedEvent,
    ConversationItemAddedEvent,
    FunctionToolsExecutedEvent,
    SpeechCreatedEvent,
    AgentFalseInterruptionEvent,
    MetricsCollectedEvent,
    ErrorEvent,
    CloseEvent,
    WakeUpEvent,
]

#: Every event name a session can emit (``session.on(name)`` rejects others).
EVENT_TYPES: tuple[str, ...] = (
    "agent_state_changed",
    "user_state_changed",
    "user_input_transcribed",
    "conversation_item_added",
    "function_tools_executed",
    "speech_created",
    "agent_false_interruption",
    "metrics_collected",
    "error",
    "close",
    "wake_up",
)
