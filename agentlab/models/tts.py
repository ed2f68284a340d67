"""The TTS component protocol and a deterministic duration-model TTS.

A TTS turns a stream of text into :class:`AudioFrame`s. Each frame knows its duration and the text
it speaks, so the session can play it out on any clock and, when interrupted, keep exactly the
words that were heard. ``data`` holds samples only when audio output is wanted.

Example::

    tts = ScriptedTTS(words_per_minute=165, ttfb=0.2)
    session = AgentSession(llm=ScriptedLLM(...), tts=tts)
"""

from __future__ import annotations

import abc
import asyncio
import collections
import re
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable

import numpy as np

from .._frozen import frozen
from ..clock import sleep

__all__ = ["TTS", "AudioFrame", "ScriptedTTS"]


@frozen
class AudioFrame:
    """A piece of synthesized speech: ``duration`` seconds speaking ``text``."""

    duration: float
    text: str = ""
    data: np.ndarray | None = None
    sample_rate: int = 16000


class TTS(abc.ABC):
    """Base class of text-to-speech components."""

    model: str = "unknown"
    provider: str = "unknown"

    @property
    def label(self) -> str:
        """``module.ClassName``, as LiveKit labels metrics."""
        return f"{type(self).__module__}.{type(self).__name__}"

    @abc.abstractmethod
    def stream(self, text: AsyncIterable[str]) -> AsyncIterator[AudioFrame]:
        """Synthesize streamed text; yield frames as they become available."""

    def _push_synthesis(self) -> _Synthesis | None:
        """A synthesis the session pushes text into, or ``None`` (the default) to use :meth:`stream`.

        :meth:`stream` pulls its text: the TTS's task wakes for every streamed word. A TTS that
        can take text synchronously returns an object with ``push_text(chunk) -> bool`` (True when
        a frame's text is complete), ``end_input()`` and ``frames(more_text)`` (the frames, awaiting
        ``more_text()`` whenever it needs text), as :class:`ScriptedTTS` does with
        :class:`_Synthesis`. The session's TTS pipe, when the agent keeps the default ``tts_node``,
        then hands it each word as the LLM emits it, and its task wakes only when a frame's text
        is complete (``agentlab/session/playout.py`` says when exactly).
        """
        return None

    async def aclose(self) -> None:  # noqa: B027 - optional hook, not abstract
        """Release resources; the default does nothing."""


_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


class ScriptedTTS(TTS):
    """Deterministic TTS: audio length from a speaking rate, a fixed time to first byte.

    With ``audio=True`` each frame also carries real speech from espeak-ng (``voice``), fitted to
    the modelled duration, so a run's stereo recording has the agent's voice in it.

    Text is synthesized sentence by sentence as it streams in. ``durations`` maps an exact text
    to its audio duration (as LiveKit's test TTS does); other text lasts ``words / wpm`` minutes.
    Only the first frame waits ``ttfb``: later sentences are synthesized while earlier ones play.
    ``ttfb_from`` says when that wait starts: ``"first_text"`` (the first text received) or
    ``"flush"`` (the whole text received: the TTS then speaks it as one frame, as LiveKit's test
    TTS does at each flush). With ``"flush"``, ``ttfbs`` maps an exact text to its own ``ttfb``
    and ``synthesis`` to how long synthesizing it takes in all (from when ``ttfb`` starts
    counting), the stream ending only then (LiveKit's ``duration``: when a segment's audio input
    is done, which the transcript synchronizer waits for).

    Example::

        ScriptedTTS(words_per_minute=150, ttfb=0.3, durations={"Hello!": 1.0})
        ScriptedTTS(ttfb_from="flush", durations={"Hi there.": 2.0}, ttfbs={"Hi there.": 0.2}, synthesis={"Hi there.": 0.3})
    """

    model = "scripted"
    provider = "agentlab"

    def __init__(
        self,
        *,
        words_per_minute: float = 165.0,
        ttfb: float = 0.2,
        durations: dict[str, float] | None = None,
        audio: bool = False,
        voice: str = "en-us",
        ttfbs: dict[str, float] | None = None,
        ttfb_from: str = "first_text",
        synthesis: dict[str, float] | None = None,
    ) -> None:
        if words_per_minute <= 0:
            raise ValueError(f"ScriptedTTS: words_per_minute = {words_per_minute!r} must be > 0")
        if ttfb < 0:
            raise ValueError(f"ScriptedTTS: ttfb = {ttfb!r} must be >= 0")
        if ttfb_from not in ("first_text", "flush"):
            raise ValueError(f"ScriptedTTS: ttfb_from = {ttfb_from!r}; expected 'first_text' or 'flush'")
        for name, table in (("ttfbs", ttfbs), ("synthesis", synthesis)):
            bad = {k: v for k, v in (table or {}).items() if not (isinstance(v, (int, float)) and v >= 0)}
            if bad:
                raise ValueError(f"ScriptedTTS: {name} must map texts to seconds >= 0, got {bad!r}")
        self.words_per_minute = words_per_minute
        self.ttfb = ttfb
        self.ttfbs = {k.strip(): float(v) for k, v in (ttfbs or {}).items()}
        self.ttfb_from = ttfb_from
        self.synthesis = {k.strip(): float(v) for k, v in (synthesis or {}).items()}
        self.durations = dict(durations or {})
        self.audio = audio
        self.voice = voice
        if audio:
            from . import espeak

            if not espeak.voice_exists(voice):
                raise ValueError(f"ScriptedTTS: espeak voice {voice!r} not found (install 'agentlab-voice[voice]'; try 'en-us')")

    def duration_of(self, text: str) -> float:
        """Audio seconds for ``text``."""
        if text.strip() in self.durations:
            return self.durations[text.strip()]
        return len(text.split()) * 60.0 / self.words_per_minute

    def stream(self, text: AsyncIterable[str]) -> AsyncIterator[AudioFrame]:
        synthesis = _Synthesis(self)
        chunks = aiter(text)

        async def more_text() -> None:
            async for chunk in chunks:
                if synthesis.push_text(chunk):
                    return
            synthesis.end_input()

        return synthesis.frames(more_text)

    def _push_synthesis(self) -> _Synthesis | None:
        """A synthesis fed by pushing text (see :meth:`TTS._push_synthesis`), unless a subclass
        changed :meth:`stream`: then the text must go through it."""
        return _Synthesis(self) if type(self).stream is ScriptedTTS.stream else None

    def _frame(self, text: str) -> AudioFrame:
        duration = self.duration_of(text)
        if not self.audio:
            return AudioFrame(duration=duration, text=text)
        from . import espeak

        # Timing stays with the duration model (espeak is not sample-exact run to run); the audio is fitted to it.
        speech = espeak.synthesize(text, voice=self.voice, wpm=round(self.words_per_minute))
        return AudioFrame(duration=duration, text=text, data=espeak.fit(speech, duration), sample_rate=16000)

    def __repr__(self) -> str:
        return f"ScriptedTTS(words_per_minute={self.words_per_minute}, ttfb={self.ttfb})"


class _Synthesis:
    """One streamed synthesis of a :class:`ScriptedTTS`: text is pushed in chunk by chunk, frames
    come out of :meth:`frames`, which awaits ``more_text()`` whenever it has nothing to say yet.

    ``ttfb_from="first_text"``: each completed sentence is a frame (an exact scripted text stays
    whole); the first frame comes ``ttfb`` after the first text. ``"flush"``: the whole text is one
    frame, ``ttfb`` after the input ended (``ttfbs`` per text), and the frames end when its
    ``synthesis`` time has passed.
    """

    __slots__ = ("_buffer", "_ended", "_first_byte_at", "_texts", "_tts")

    def __init__(self, tts: ScriptedTTS) -> None:
        self._tts = tts
        self._buffer = ""  # text not yet part of a frame
        self._texts: collections.deque[str] = collections.deque()  # frames' texts, complete
        self._ended = False
        self._first_byte_at: float | None = None  # first_text: when the first frame may come

    def push_text(self, chunk: str) -> bool:
        """Take ``chunk``; True when it completed a frame's text (``frames`` has work to do)."""
        tts = self._tts
        if self._first_byte_at is None and chunk:
            self._first_byte_at = asyncio.get_running_loop().time() + tts.ttfb
        seen, self._buffer = len(self._buffer), self._buffer + chunk
        if tts.ttfb_from == "flush" or self._buffer.strip() in tts.durations or not _SENTENCE_END.search(self._buffer, seen):
            return False  # a whole text, an exact scripted text, or no sentence ended yet
        *sentences, self._buffer = _SENTENCE_END.split(self._buffer)
        self._texts.extend(sentence + " " for sentence in sentences)
        return True

    def end_input(self) -> None:
        """No more text: what is left is the last frame's text."""
        self._ended = True
        if self._buffer.strip():
            self._texts.append(self._buffer)
        self._buffer = ""

    async def frames(self, more_text: Callable[[], Awaitable[None]]) -> AsyncIterator[AudioFrame]:
        """The frames, each when it is synthesized."""
        tts = self._tts
        loop = asyncio.get_running_loop()
        while True:
            if not self._texts:
                if self._ended:
                    return
                await more_text()
                continue
            text = self._texts.popleft()
            if tts.ttfb_from == "flush":
                start = loop.time()
                await sleep(tts.ttfbs.get(text.strip(), tts.ttfb))
                yield tts._frame(text)
                rest = start + tts.synthesis.get(text.strip(), 0.0) - loop.time()
                if rest > 0:
                    await sleep(rest)  # the segment's audio input ends when synthesis does
            else:
                wait = self._first_byte_at - loop.time()  # type: ignore[operator]  # set by the first text
                if wait > 0:
                    await sleep(wait)
                yield tts._frame(text)
