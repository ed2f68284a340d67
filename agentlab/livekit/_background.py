"""Background audio (ambience, thinking sounds, clips), accepted offline and not played.

``BackgroundAudioPlayer`` mixes sounds into the room's audio track. agentlab has no room and does
not synthesize ambience, so ``start`` and ``play`` do nothing audible: a file that sets up
background audio runs, and ``play`` returns a handle that is already done. The sounds do not
reach ``Run.write_audio``.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

__all__ = ["AudioConfig", "BackgroundAudioPlayer", "BuiltinAudioClip", "PlayHandle"]


class BuiltinAudioClip(enum.Enum):
    """LiveKit's bundled clips (names only here)."""

    CITY_AMBIENCE = "city-ambience.ogg"
    FOREST_AMBIENCE = "forest-ambience.ogg"
    OFFICE_AMBIENCE = "office-ambience.ogg"
    CROWDED_ROOM = "crowded-room.ogg"
    KEYBOARD_TYPING = "keyboard-typing.ogg"
    KEYBOARD_TYPING2 = "keyboard-typing2.ogg"
    HOLD_MUSIC = "hold_music.ogg"


@dataclass
class AudioConfig:
    """A sound and how to play it (kept, not played)."""

    source: Any
    volume: float = 1.0
    probability: float = 1.0
    fade_in: float = 0.0
    fade_out: float = 0.0


class PlayHandle:
    """A sound being played: offline, done as soon as it is made."""

    def done(self) -> bool:
        return True

    def stop(self) -> None:
        pass

    async def wait_for_playout(self) -> None:
        pass

    def __await__(self) -> Any:
        return self.wait_for_playout().__await__()


class BackgroundAudioPlayer:
    """LiveKit's background audio, accepted offline: nothing is mixed in (see the module docstring).

    Example::

        player = BackgroundAudioPlayer(ambient_sound=AudioConfig(BuiltinAudioClip.OFFICE_AMBIENCE, volume=0.8))
        await player.start(room=ctx.room, agent_session=session)
    """

    def __init__(self, *, ambient_sound: Any = None, thinking_sound: Any = None, stream_timeout_ms: int = 200) -> None:
        self.ambient_sound = ambient_sound
        self.thinking_sound = thinking_sound

    async def start(self, *, room: Any = None, agent_session: Any = None, track_publish_options: Any = None) -> None:
        pass

    def play(self, audio: Any, *, loop: bool = False) -> PlayHandle:
        return PlayHandle()

    async def aclose(self) -> None:
        pass
