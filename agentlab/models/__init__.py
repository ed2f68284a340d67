"""Components: the LLM and TTS protocols and their scripted and OpenAI implementations."""

from .llm import (
    DEFAULT_API_CONNECT_OPTIONS,
    LLM,
    APIConnectionError,
    APIConnectOptions,
    APIError,
    APIStatusError,
    APITimeoutError,
    ChatChunk,
    ChoiceDelta,
    CompletionUsage,
    FunctionToolCall,
)
from .scripted import Rule, RuleMatch, ScriptedLLM, ScriptedResponse, ScriptedToolCall
from .stt import STT, AlignedSTT, ModelledSTT, STTOptions, Utterance
from .tts import TTS, AudioFrame, ScriptedTTS

__all__ = [
    "DEFAULT_API_CONNECT_OPTIONS",
    "LLM",
    "STT",
    "TTS",
    "APIConnectOptions",
    "APIConnectionError",
    "APIError",
    "APIStatusError",
    "APITimeoutError",
    "AlignedSTT",
    "AudioFrame",
    "ChatChunk",
    "ChoiceDelta",
    "CompletionUsage",
    "FunctionToolCall",
    "ModelledSTT",
    "Rule",
    "RuleMatch",
    "STTOptions",
    "ScriptedLLM",
    "ScriptedResponse",
    "ScriptedTTS",
    "ScriptedToolCall",
    "Utterance",
]
