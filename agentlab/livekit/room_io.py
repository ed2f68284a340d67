"""``livekit.agents.room_io``: how a session uses its LiveKit room, accepted offline.

``session.start(agent, room=ctx.room, room_options=RoomOptions(...))`` works: offline there are
no tracks, so the options are kept (``session.room_options``) but change nothing. ``RoomIO``
itself publishes to a room and is a stand-in.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .._frozen import frozen
from .._utils import NOT_GIVEN
from ._table import module_getattr, names

__all__ = list(names()["livekit.agents.room_io"])

ATTRIBUTE_PUBLISH_ON_BEHALF = "lk.publish_on_behalf"


@dataclass
class TextInputOptions:
    """Text typed into the room (accepted; offline text arrives through ``session.run``)."""

    text_input_cb: Any = None
    topic: Any = NOT_GIVEN


@dataclass
class AudioInputOptions:
    """The room's audio input (accepted; offline audio comes from scripts or recordings)."""

    sample_rate: int = 24000
    num_channels: int = 1
    frame_size_ms: int = 50
    noise_cancellation: Any = None
    auto_gain_control: Any = NOT_GIVEN
    pre_connect_audio: bool = True
    pre_connect_audio_timeout: float = 3.0


@dataclass
class VideoInputOptions:
    """Video from the room (accepted; video is not simulated)."""


@dataclass
class AudioOutputOptions:
    """The agent's audio track (accepted; offline playout is simulated)."""

    sample_rate: int = 24000
    num_channels: int = 1
    track_publish_options: Any = None


@dataclass
class TextOutputOptions:
    """Transcriptions sent to the room (accepted; ``session.output.sync_transcription`` is the offline switch)."""

    sync_transcription: Any = NOT_GIVEN
    transcription_speed_factor: float = 1.0


@dataclass
class RoomOptions:
    """``session.start(room_options=...)`` (accepted; offline there is no room to configure)."""

    text_input: Any = NOT_GIVEN
    audio_input: Any = NOT_GIVEN
    video_input: Any = NOT_GIVEN
    audio_output: Any = NOT_GIVEN
    text_output: Any = NOT_GIVEN
    participant_kinds: Any = NOT_GIVEN
    participant_identity: Any = NOT_GIVEN
    close_on_disconnect: bool = True
    delete_room_on_close: bool = False


class RoomInputOptions:
    """The deprecated input half of ``RoomOptions`` (accepted; its keywords are kept in ``options``)."""

    def __init__(self, **options: Any) -> None:
        self.options = options

    def __repr__(self) -> str:
        return f"RoomInputOptions({self.options})"


class RoomOutputOptions:
    """The deprecated output half of ``RoomOptions`` (accepted; its keywords are kept in ``options``)."""

    def __init__(self, **options: Any) -> None:
        self.options = options

    def __repr__(self) -> str:
        return f"RoomOutputOptions({self.options})"


@frozen
class TextInputEvent:
    """A text message typed by a room participant."""

    text: str
    info: Any = None
    participant: Any = None


__getattr__ = module_getattr("livekit.agents.room_io")
