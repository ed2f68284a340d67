"""A ScriptedTTS that records the text it was given (what would be spoken), for tests.

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
