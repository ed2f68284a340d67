"""ScriptedTTS variants for tests: one that records the text it was given (what would be spoken),
one that reads its text itself instead of having it pushed.

Example::

    tts = SpyTTS(ttfb=0.1)
    ...                      # run a session with tts=tts
    "".join(tts.heard)       # the text the TTS received
"""

from __future__ import annotations

from typing import Any

from agentlab import ScriptedTTS


class SpyTTS(ScriptedTTS):
    """A :class:`~agentlab.ScriptedTTS` that keeps every text chunk it receives in ``heard``."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.heard: list[str] = []

    async def stream(self, text: Any) -> Any:
        async def tap() -> Any:
            async for t in text:
                self.heard.append(t)
                yield t

        async for frame in super().stream(tap()):
            yield frame


class PulledTTS(ScriptedTTS):
    """A :class:`~agentlab.ScriptedTTS` that reads its text as any other TTS does: the session's TTS
    pipe cannot push words into it (``_push_synthesis``), so its task wakes for every word."""

    def _push_synthesis(self) -> None:
        return None
