"""Where each LiveKit Agents 1.8.9 public name lives in agentlab, or why it is a stand-in.

``names-1.8.9.json`` (beside this file) holds LiveKit's names, read from the wheel
(``tests/test_livekit_names.py`` checks it against the installed package). This table is the other
half: for each of those names, the agentlab object that implements it (``"module:attr"``), or a
stand-in with its reason. A test fails when a name is in neither, so a new LiveKit name is a
decision someone has to make.

Each ``agentlab.livekit`` module resolves its names here on first use (module ``__getattr__``), so
importing ``agentlab.livekit`` loads nothing heavy.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
from functools import cache
from pathlib import Path
from typing import Any

from .._unsupported import is_stand_in, stand_in, stand_in_module

__all__ = ["PROVIDED", "STAND_INS", "counts", "is_stand_in", "names", "resolve", "status"]

_S = "agentlab.session"
_EV = "agentlab.session.events"
_RR = "agentlab.session.run_result"
_T = "agentlab.livekit._types"
_SRV = "agentlab.livekit._server"
_M = "agentlab.models.llm"

# --- why names are stand-ins (said once each) ---------------------------------------------------
SERVER = "it needs a LiveKit server or room"
REALTIME = "speech-to-speech (realtime and duplex) models are not simulated; use an LLM with STT and TTS"
CLOUD = "it is a LiveKit Cloud service"
TELEPHONY = "telephony (SIP, DTMF, answering machines) needs a phone call"
PLUGIN = "it is part of LiveKit's plugin API for writing providers; agentlab's components are agentlab.LLM/TTS subclasses"
NOT_EMITTED = "agentlab does not produce it"
DECISION = "decision models (batched probability, choice and score calls) are not implemented"
WORKFLOW = "LiveKit's prebuilt workflow tasks are not included; write the task as an AgentTask"
MEDIA = "agentlab's messages hold text (no image or audio content)"

_NAMES_FILE = Path(__file__).with_name("names-1.8.9.json")

PROVIDED: dict[str, dict[str, str]] = {
    "livekit.agents": {
        "APIConnectOptions": f"{_M}:APIConnectOptions",
        "APIConnectionError": f"{_M}:APIConnectionError",
        "APIError": f"{_M}:APIError",
        "APIStatusError": f"{_M}:APIStatusError",
        "APITimeoutError": f"{_M}:APITimeoutError",
        "Agent": f"{_S}.agent:Agent",
        "AgentEvent": f"{_T}:AgentEvent",
        "AgentFalseInterruptionEvent": f"{_EV}:AgentFalseInterruptionEvent",
        "AgentHandoff": "agentlab.chat:AgentHandoff",
        "AgentHandoffEvent": f"{_RR}:AgentHandoffEvent",
        "AgentServer": f"{_SRV}:AgentServer",
        "AgentSession": f"{_S}.session:AgentSession",
        "AgentStateChangedEvent": f"{_EV}:AgentStateChangedEvent",
        "AgentTask": f"{_S}.agent:AgentTask",
        "AssignmentTimeoutError": f"{_T}:AssignmentTimeoutError",
        "AudioConfig": "agentlab.livekit._background:AudioConfig",
        "AutoSubscribe": f"{_SRV}:AutoSubscribe",
        "BackgroundAudioPlayer": "agentlab.livekit._background:BackgroundAudioPlayer",
        "BuiltinAudioClip": "agentlab.livekit._background:BuiltinAudioClip",
        "ChatContent": f"{_T}:ChatContent",
        "ChatContext": "agentlab.chat:ChatContext",
        "ChatItem": f"{_T}:ChatItem",
        "ChatMessage": "agentlab.chat:ChatMessage",
        "ChatMessageEvent": f"{_RR}:ChatMessageEvent",
        "ChatRole": f"{_T}:ChatRole",
        "CloseEvent": f"{_EV}:CloseEvent",
        "CloseReason": f"{_T}:CloseReason",
        "ConversationItemAddedEvent": f"{_EV}:ConversationItemAddedEvent",
        "DEFAULT_API_CONNECT_OPTIONS": f"{_M}:DEFAULT_API_CONNECT_OPTIONS",
        "EndpointingOptions": f"{_T}:EndpointingOptions",
        "ErrorEvent": f"{_EV}:ErrorEvent",
        "EventAssert": f"{_RR}:EventAssert",
        "ExpressiveOptions": f"{_T}:ExpressiveOptions",
        "FlushSentinel": f"{_M}:FlushSentinel",
        "FunctionCall": "agentlab.chat:FunctionCall",
        "FunctionCallEvent": f"{_RR}:FunctionCallEvent",
        "FunctionCallOutput": "agentlab.chat:FunctionCallOutput",
        "FunctionCallOutputEvent": f"{_RR}:FunctionCallOutputEvent",
        "FunctionTool": "agentlab.tools:FunctionTool",
        "FunctionToolsExecutedEvent": f"{_EV}:FunctionToolsExecutedEvent",
        "InterruptionOptions": f"{_T}:InterruptionOptions",
        "JobContext": f"{_SRV}:JobContext",
        "JobExecutorType": f"{_SRV}:JobExecutorType",
        "JobProcess": f"{_SRV}:JobProcess",
        "JobRequest": f"{_SRV}:JobRequest",
        "KeytermDetectionOptions": f"{_T}:KeytermDetectionOptions",
        "KeytermsOptions": f"{_T}:KeytermsOptions",
        "LanguageCode": f"{_T}:LanguageCode",
        "MetricsCollectedEvent": f"{_EV}:MetricsCollectedEvent",
        "ModelSettings": f"{_S}.agent:ModelSettings",
        "NOT_GIVEN": "agentlab._utils:NOT_GIVEN",
        "NonverbalOptions": f"{_T}:NonverbalOptions",
        "NotGiven": f"{_T}:NotGiven",
        "NotGivenOr": f"{_T}:NotGivenOr",
        "PlayHandle": "agentlab.livekit._background:PlayHandle",
        "PreemptiveGenerationOptions": f"{_T}:PreemptiveGenerationOptions",
        "RecordingOptions": f"{_T}:RecordingOptions",
        "RoomInputOptions": "agentlab.livekit.room_io:RoomInputOptions",
        "RoomOutputOptions": "agentlab.livekit.room_io:RoomOutputOptions",
        "RunAssert": f"{_RR}:RunAssert",
        "RunContext": "agentlab.tools:RunContext",
        "RunEvent": f"{_T}:RunEvent",
        "RunOutputOptions": f"{_T}:RunOutputOptions",
        "RunResult": f"{_RR}:RunResult",
        "STTContextOptions": f"{_T}:STTContextOptions",
        "SpeechCreatedEvent": f"{_EV}:SpeechCreatedEvent",
        "SpeechSteeringOptions": f"{_T}:SpeechSteeringOptions",
        "StopResponse": "agentlab.tools:StopResponse",
        "ToolContext": f"{_T}:ToolContext",
        "ToolError": "agentlab.tools:ToolError",
        "TurnHandlingOptions": f"{_T}:TurnHandlingOptions",
        "UnexpectedModelBehavior": f"{_T}:UnexpectedModelBehavior",
        "UserInputTranscribedEvent": f"{_EV}:UserInputTranscribedEvent",
        "UserStateChangedEvent": f"{_EV}:UserStateChangedEvent",
        "UserTurnExceededEvent": f"{_EV}:UserTurnExceededEvent",
        "UserTurnLimitOptions": f"{_T}:UserTurnLimitOptions",
        "WorkerOptions": f"{_SRV}:WorkerOptions",
        "WorkerPermissions": f"{_SRV}:WorkerPermissions",
        "WorkerType": f"{_SRV}:WorkerType",
        "cli": "agentlab.livekit.cli",
        "mcp": "agentlab.livekit.mcp",
        "telemetry": "agentlab.livekit.telemetry",
        "create_api_error_from_http": f"{_T}:create_api_error_from_http",
        "function_tool": "agentlab.tools:function_tool",
        "get_job_context": f"{_SRV}:get_job_context",
        "inference": "agentlab.livekit.inference",
        "llm": "agentlab.livekit.llm",
        "metrics": "agentlab.livekit.metrics",
        "mock_tools": f"{_RR}:mock_tools",
        "room_io": "agentlab.livekit.room_io",
        "text_transforms": "agentlab.livekit.text_transforms",
        "voice": "agentlab.livekit.voice",
    },
    "livekit.agents.llm": {
        "AgentHandoff": "agentlab.chat:AgentHandoff",
        "ChatChunk": f"{_M}:ChatChunk",
        "ChatContent": f"{_T}:ChatContent",
        "ChatContext": "agentlab.chat:ChatContext",
        "ChatItem": f"{_T}:ChatItem",
        "ChatMessage": "agentlab.chat:ChatMessage",
        "ChatRole": f"{_T}:ChatRole",
        "ChoiceDelta": f"{_M}:ChoiceDelta",
        "CompletionUsage": f"{_M}:CompletionUsage",
        "FunctionCall": "agentlab.chat:FunctionCall",
        "FunctionCallOutput": "agentlab.chat:FunctionCallOutput",
        "FunctionTool": "agentlab.tools:FunctionTool",
        "FunctionToolCall": f"{_M}:FunctionToolCall",
        "LLM": f"{_M}:LLM",
        "LLMStream": f"{_M}:LLMStream",
        "MetricsReport": f"{_T}:MetricsReport",
        "StopResponse": "agentlab.tools:StopResponse",
        "ToolChoice": f"{_M}:ToolChoice",
        "ToolContext": f"{_T}:ToolContext",
        "ToolError": "agentlab.tools:ToolError",
        "ToolFlag": f"{_T}:ToolFlag",
        "Toolset": "agentlab.tools:Toolset",
        "find_function_tools": "agentlab.tools:find_function_tools",
        "function_tool": "agentlab.tools:function_tool",
        "is_function_tool": f"{_T}:is_function_tool",
    },
    "livekit.agents.voice": {
        "Agent": f"{_S}.agent:Agent",
        "AgentEvent": f"{_T}:AgentEvent",
        "AgentFalseInterruptionEvent": f"{_EV}:AgentFalseInterruptionEvent",
        "AgentSession": f"{_S}.session:AgentSession",
        "AgentStateChangedEvent": f"{_EV}:AgentStateChangedEvent",
        "AgentTask": f"{_S}.agent:AgentTask",
        "CloseEvent": f"{_EV}:CloseEvent",
        "CloseReason": f"{_T}:CloseReason",
        "ConversationItemAddedEvent": f"{_EV}:ConversationItemAddedEvent",
        "ErrorEvent": f"{_EV}:ErrorEvent",
        "ExpressiveOptions": f"{_T}:ExpressiveOptions",
        "FunctionToolsExecutedEvent": f"{_EV}:FunctionToolsExecutedEvent",
        "KeytermDetectionOptions": f"{_T}:KeytermDetectionOptions",
        "KeytermsOptions": f"{_T}:KeytermsOptions",
        "MetricsCollectedEvent": f"{_EV}:MetricsCollectedEvent",
        "ModelSettings": f"{_S}.agent:ModelSettings",
        "NonverbalOptions": f"{_T}:NonverbalOptions",
        "RecordingOptions": f"{_T}:RecordingOptions",
        "RunContext": "agentlab.tools:RunContext",
        "RunOutputOptions": f"{_T}:RunOutputOptions",
        "STTContextOptions": f"{_T}:STTContextOptions",
        "SpeechCreatedEvent": f"{_EV}:SpeechCreatedEvent",
        "SpeechHandle": f"{_S}.speech:SpeechHandle",
        "SpeechSteeringOptions": f"{_T}:SpeechSteeringOptions",
        "UserInputTranscribedEvent": f"{_EV}:UserInputTranscribedEvent",
        "UserStateChangedEvent": f"{_EV}:UserStateChangedEvent",
        "UserTurnExceededEvent": f"{_EV}:UserTurnExceededEvent",
        "room_io": "agentlab.livekit.room_io",
        "run_result": _RR,
        "text_transforms": "agentlab.livekit.text_transforms",
    },
    "livekit.agents.beta": {
        "EndCallTool": "agentlab.livekit.beta:EndCallTool",
        "Instructions": "agentlab.livekit.beta:Instructions",
        "workflows": "agentlab.livekit.beta.workflows",
    },
    "livekit.agents.beta.workflows": {},
    "livekit.agents.metrics": {
        "AgentMetrics": "agentlab.livekit.metrics:AgentMetrics",
        "AgentSessionUsage": "agentlab.livekit.metrics:AgentSessionUsage",
        "EOUMetrics": f"{_EV}:EOUMetrics",
        "LLMMetrics": f"{_EV}:LLMMetrics",
        "LLMModelUsage": "agentlab.livekit.metrics:LLMModelUsage",
        "ModelUsage": "agentlab.livekit.metrics:ModelUsage",
        "ModelUsageCollector": "agentlab.livekit.metrics:ModelUsageCollector",
        "STTMetrics": f"{_EV}:STTMetrics",
        "STTModelUsage": "agentlab.livekit.metrics:STTModelUsage",
        "TTSMetrics": f"{_EV}:TTSMetrics",
        "TTSModelUsage": "agentlab.livekit.metrics:TTSModelUsage",
        "UsageCollector": "agentlab.livekit.metrics:UsageCollector",
        "UsageSummary": "agentlab.livekit.metrics:UsageSummary",
        "log_metrics": "agentlab.livekit.metrics:log_metrics",
    },
    "livekit.agents.inference": {
        "LLM": "agentlab.livekit.inference:LLM",
        "LLMModels": "agentlab.livekit.inference:LLMModels",
        "STT": "agentlab.livekit.inference:STT",
        "STTModels": "agentlab.livekit.inference:STTModels",
        "TTS": "agentlab.livekit.inference:TTS",
        "TTSModels": "agentlab.livekit.inference:TTSModels",
        "VAD": "agentlab.livekit.inference:VAD",
        "VADModels": "agentlab.livekit.inference:VADModels",
        "llm_from_model_string": "agentlab.livekit.inference:llm_from_model_string",
    },
    "livekit.agents.cli": {
        "run_app": "agentlab.livekit.cli:run_app",
    },
    "livekit.agents.text_transforms": {
        "TextTransforms": "agentlab.livekit.text_transforms:TextTransforms",
        "filter_emoji": "agentlab.livekit.text_transforms:filter_emoji",
        "filter_markdown": "agentlab.livekit.text_transforms:filter_markdown",
        "replace": "agentlab.livekit.text_transforms:replace",
    },
    "livekit.agents.room_io": {
        "ATTRIBUTE_PUBLISH_ON_BEHALF": "agentlab.livekit.room_io:ATTRIBUTE_PUBLISH_ON_BEHALF",
        "AudioInputOptions": "agentlab.livekit.room_io:AudioInputOptions",
        "AudioOutputOptions": "agentlab.livekit.room_io:AudioOutputOptions",
        "RoomInputOptions": "agentlab.livekit.room_io:RoomInputOptions",
        "RoomOptions": "agentlab.livekit.room_io:RoomOptions",
        "RoomOutputOptions": "agentlab.livekit.room_io:RoomOutputOptions",
        "TextInputEvent": "agentlab.livekit.room_io:TextInputEvent",
        "TextInputOptions": "agentlab.livekit.room_io:TextInputOptions",
        "TextOutputOptions": "agentlab.livekit.room_io:TextOutputOptions",
        "VideoInputOptions": "agentlab.livekit.room_io:VideoInputOptions",
    },
}

_MODULES = "LiveKit's provider plugin API; agentlab's components are agentlab.LLM/TTS subclasses"

#: Stand-ins: name → reason. A name ending in "/" is a whole module standing in.
STAND_INS: dict[str, dict[str, str]] = {
    "livekit.agents": {
        "AMD": TELEPHONY,
        "AMDCategory": TELEPHONY,
        "AMDPredictionEvent": TELEPHONY,
        "AgentConfigUpdate": "agentlab's history holds the conversation, not agent configuration updates",
        "AudioRecognition": "it is LiveKit's internal audio pipeline; agentlab's is its turn engine",
        "EventRangeAssert": "agentlab's expect[i:j] returns its own range object",
        "Plugin": _MODULES,
        "ProviderTool": "provider-hosted tools (web search, code interpreter) run at the provider",
        "RoomIO": SERVER,
        "Scenario": CLOUD + " (simulations); agentlab.Scenario is agentlab's own",
        "ScenarioGroup": CLOUD,
        "ScenarioUserdata": CLOUD,
        "SessionUsageUpdatedEvent": NOT_EMITTED + " (read session.usage)",
        "SimulationContext": CLOUD,
        "SimulationDispatch": CLOUD,
        "SimulationRun": CLOUD,
        "SimulationVerdict": CLOUD,
        "ToolCallEnded": NOT_EMITTED + " (tool progress updates)",
        "ToolCallStarted": NOT_EMITTED + " (tool progress updates)",
        "ToolCallUpdated": NOT_EMITTED + " (tool progress updates)",
        "ToolExecutionUpdatedEvent": NOT_EMITTED + " (tool progress updates)",
        "ToolReplyUpdated": NOT_EMITTED + " (tool progress updates)",
        "ToolResult": NOT_EMITTED + " (tool progress updates)",
        "UserTranscriptionTimeoutEvent": NOT_EMITTED,
        "avatar/": "avatars need a LiveKit room",
        "io/": "agentlab's audio and text IO is session.input/session.output",
        "ipc/": "job processes belong to a LiveKit worker",
        "stt/": _MODULES,
        "tokenize/": _MODULES,
        "tts/": _MODULES,
        "utils/": "LiveKit's internal utilities",
        "vad/": _MODULES,
    },
    "livekit.agents.llm": {
        "AdaptiveNoiseGate": REALTIME,
        "AgentConfigUpdate": "agentlab's history holds the conversation, not agent configuration updates",
        "AudioContent": MEDIA,
        "AudioGate": REALTIME,
        "AvailabilityChangedEvent": "fallback adapters are not implemented",
        "CacheBreakpoint": "prompt caching hints are not sent",
        "Choice": DECISION,
        "ChoiceResult": DECISION,
        "CollectedResponse": _MODULES,
        "Decision": DECISION,
        "DecisionCapabilities": DECISION,
        "DecisionKind": DECISION,
        "DecisionModel": DECISION,
        "DecisionResponse": DECISION,
        "DecisionResult": DECISION,
        "DuplexAudioFrame": REALTIME,
        "DuplexCapabilities": REALTIME,
        "DuplexModel": REALTIME,
        "DuplexOutputTranscriptDelta": REALTIME,
        "DuplexRealtimeAdapter": REALTIME,
        "DuplexSession": REALTIME,
        "DuplicateScope": "duplicate tool-call detection is not implemented",
        "FallbackAdapter": "fallback adapters are not implemented",
        "FixedGate": REALTIME,
        "FunctionCallResult": _MODULES,
        "GenerationCreatedEvent": REALTIME,
        "ImageContent": MEDIA,
        "InputSpeechStartedEvent": REALTIME,
        "InputSpeechStoppedEvent": REALTIME,
        "InputTranscriptionCompleted": REALTIME,
        "LLMError": "errors arrive as ErrorEvent(error=<the exception>)",
        "MessageGeneration": REALTIME,
        "Probability": DECISION,
        "ProbabilityResult": DECISION,
        "ProviderTool": "provider-hosted tools (web search, code interpreter) run at the provider",
        "RawFunctionTool": "use function_tool(raw_schema=...), which agentlab's FunctionTool holds",
        "RealtimeAvailabilityChangedEvent": REALTIME,
        "RealtimeCapabilities": REALTIME,
        "RealtimeError": REALTIME,
        "RealtimeModel": REALTIME,
        "RealtimeModelError": REALTIME,
        "RealtimeModelFallbackAdapter": REALTIME,
        "RealtimeSession": REALTIME,
        "RealtimeSessionReconnectedEvent": REALTIME,
        "RemoteItemAddedEvent": REALTIME,
        "Score": DECISION,
        "ScoreResult": DECISION,
        "Tool": "use FunctionTool",
        "ToolResult": NOT_EMITTED + " (tool progress updates)",
        "execute_function_call": _MODULES,
        "is_raw_function_tool": "use function_tool(raw_schema=...), which agentlab's FunctionTool holds",
        "remote_chat_context/": REALTIME,
        "utils/": "LiveKit's internal utilities",
    },
    "livekit.agents.voice": {
        "AudioRecognition": "it is LiveKit's internal audio pipeline; agentlab's is its turn engine",
        "RemoteSession": SERVER,
        "SessionUsageUpdatedEvent": NOT_EMITTED + " (read session.usage)",
        "ToolCallEnded": NOT_EMITTED + " (tool progress updates)",
        "ToolCallStarted": NOT_EMITTED + " (tool progress updates)",
        "ToolCallUpdated": NOT_EMITTED + " (tool progress updates)",
        "ToolExecutionUpdatedEvent": NOT_EMITTED + " (tool progress updates)",
        "ToolReplyUpdated": NOT_EMITTED + " (tool progress updates)",
        "TranscriptSynchronizer": "agentlab's synchronizer is internal (session.output.sync_transcription)",
        "UserTranscriptionTimeoutEvent": NOT_EMITTED,
        "VoiceActivityVideoSampler": "video is not simulated",
        "io/": "agentlab's audio and text IO is session.input/session.output",
    },
    "livekit.agents.beta": {
        "TranslationModel": "translation models are not implemented",
        "TranslationSession": "translation models are not implemented",
        "translation/": "translation models are not implemented",
    },
    "livekit.agents.beta.workflows": {
        name: WORKFLOW
        for name in (
            "GetAddressResult",
            "GetAddressTask",
            "GetCreditCardResult",
            "GetCreditCardTask",
            "GetDOBResult",
            "GetDOBTask",
            "GetEmailResult",
            "GetEmailTask",
            "GetNameResult",
            "GetNameTask",
            "GetPhoneNumberResult",
            "GetPhoneNumberTask",
            "TaskCompletedEvent",
            "TaskGroup",
            "TaskGroupResult",
            "WorkflowInstructions",
        )
    }
    | {"GetDtmfResult": TELEPHONY, "GetDtmfTask": TELEPHONY, "TwilioConnectorWarmTransferTask": TELEPHONY}
    | {"WarmTransferResult": TELEPHONY, "WarmTransferTask": TELEPHONY},
    "livekit.agents.metrics": {
        "DecisionMetrics": DECISION,
        "EOTInferenceMetrics": NOT_EMITTED + " (end-of-turn models report EOUMetrics)",
        "EOTModelUsage": NOT_EMITTED + " (end-of-turn models report EOUMetrics)",
        "InterruptionMetrics": NOT_EMITTED + " (the adaptive interruption model is not included)",
        "InterruptionModelUsage": NOT_EMITTED + " (the adaptive interruption model is not included)",
        "RealtimeModelMetrics": REALTIME,
        "VADMetrics": NOT_EMITTED,
    },
    "livekit.agents.inference": {
        name: CLOUD
        for name in (
            "AdaptiveInterruptionDetector",
            "AvatarSession",
            "DecisionModel",
            "DecisionModels",
            "DuplexModel",
            "DuplexModels",
            "DuplexSession",
            "InferenceClass",
            "InterruptionDataFrameType",
            "InterruptionDetectionError",
            "LLMStream",
            "LemonSliceOptions",
            "OpenAIRealtimeModels",
            "OverlappingSpeechEvent",
            "RealtimeModel",
            "RealtimeModels",
            "RealtimeSession",
            "TurnDetector",
            "TurnDetectorModels",
            "TurnDetectorVersions",
            "XAIRealtimeModels",
            "is_duplex_model",
            "is_realtime_model",
        )
    },
    "livekit.agents.cli": {"AgentsConsole": "agentlab's console is `agentlab console FILE`"},
    "livekit.agents.text_transforms": {},
    "livekit.agents.room_io": {"RoomIO": SERVER},
}


@cache
def names() -> dict[str, tuple[str, ...]]:
    """LiveKit 1.8.9's public names, per module (the data file)."""
    return {module: tuple(v) for module, v in json.loads(_NAMES_FILE.read_text()).items()}


def status(module: str, name: str) -> str | None:
    """``"provided"``, ``"stand-in"``, or ``None`` when the table says nothing about ``module.name``."""
    if name in PROVIDED.get(module, {}):
        return "provided"
    stand_ins = STAND_INS.get(module, {})
    if name in stand_ins or f"{name}/" in stand_ins:
        return "stand-in"
    return None


def counts(data: dict[str, Any] | None = None) -> dict[str, int]:
    """How many of LiveKit's names are provided and how many are stand-ins (and how many neither)."""
    out = {"provided": 0, "stand-in": 0, "missing": 0}
    for module, module_names in (data or names()).items():
        for name in module_names:
            out[status(module, name) or "missing"] += 1
    return out


def resolve(module: str, name: str) -> Any:
    """The object ``livekit.agents…module.name`` is in agentlab (raises AttributeError if unlisted)."""
    target = PROVIDED.get(module, {}).get(name)
    if target is not None:
        path, _, attr = target.partition(":")
        value = importlib.import_module(path)
        return getattr(value, attr) if attr else value
    stand_ins = STAND_INS.get(module, {})
    short = module.removeprefix("livekit.agents").lstrip(".")
    qualified = f"{short}.{name}" if short else name
    if f"{name}/" in stand_ins:
        return stand_in_module(qualified, stand_ins[f"{name}/"])
    if name in stand_ins:
        return stand_in(qualified, stand_ins[name])
    raise AttributeError(f"module {module.replace('livekit.agents', 'agentlab.livekit')!r} has no attribute {name!r}")


def module_getattr(module: str) -> Any:
    """A module ``__getattr__`` that resolves LiveKit ``module``'s names on first use and keeps them."""
    import sys

    ours = module.replace("livekit.agents", "agentlab.livekit")

    def __getattr__(name: str) -> Any:
        try:
            value = resolve(module, name)
        except AttributeError:
            # a subpackage such as beta, as an attribute (only packages have submodules)
            if name.startswith("_") or not hasattr(sys.modules[ours], "__path__") or importlib.util.find_spec(f"{ours}.{name}") is None:
                raise
            value = importlib.import_module(f"{ours}.{name}")
        setattr(sys.modules[ours], name, value)
        return value

    return __getattr__
