"""The sans-I/O turn engine: LiveKit's turn-taking decisions, driven by timestamped observations."""

from .inputs import InputEvent, UserSpeech, replay, speech_events
from .turns import (
    USER_TRANSITIONS,
    Action,
    CancelPreemptive,
    CommitTurn,
    EngineConfig,
    InterruptAgent,
    PauseAgent,
    ReplyHold,
    ResumeAgent,
    StartPreemptive,
    Transcribed,
    TranscriptDiscarded,
    TurnDetectorModel,
    TurnEngine,
    UserStateChange,
    words_of,
)

__all__ = [
    "USER_TRANSITIONS",
    "Action",
    "CancelPreemptive",
    "CommitTurn",
    "EngineConfig",
    "InputEvent",
    "InterruptAgent",
    "PauseAgent",
    "ReplyHold",
    "ResumeAgent",
    "StartPreemptive",
    "Transcribed",
    "TranscriptDiscarded",
    "TurnDetectorModel",
    "TurnEngine",
    "UserSpeech",
    "UserStateChange",
    "replay",
    "speech_events",
    "words_of",
]
