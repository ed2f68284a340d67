"""Playout: how a step's words reach the user, and what of them was heard.

Theory of operation
-------------------
A step's text goes out one of two ways. Without a TTS it is *forwarded* to the text output as it
streams (the agent is "speaking" from the first piece). With a TTS, :class:`_TTSPipe` runs
``Agent.tts_node`` in the background and queues its frames; :class:`_Playout` plays them one after
the other on the session's clock, each frame a timer, so a virtual clock plays minutes of audio in
no time and a real one plays them in real time. A playout can be *paused* (a possible false
interruption: the current frame stops where it was and resumes from there) or cut (an
interruption: the frame is cancelled mid-way). Either way it knows exactly how much of each frame
was heard, so an interrupted message keeps only the words the user heard, and the session's
``playback`` log (what ``Run.write_audio`` renders) holds every stretch that played.

``session.output.transcription`` (:class:`TextOutput`) receives the words as they are spoken.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from ..models.llm import retry_observer
from ..models.tts import AudioFrame
from . import events as ev
from .agent import ModelSettings
from .speech import SpeechHandle
from .transforms import apply_text_transforms

if TYPE_CHECKING:
    from .activity import _AgentActivity
    from .session import AgentSession

__all__ = ["Played", "SessionOutput", "TextOutput"]


class TextOutput(Protocol):
    """A sink for the agent's words as they are spoken (LiveKit's ``io.TextOutput``).

    Example::

        class Printer:
            async def capture_text(self, text: str) -> None:
                print(text, end="")

            def flush(self) -> None:
                print()

        session.output.transcription = Printer()
    """

    async def capture_text(self, text: str) -> None:
        """One more piece of the reply being spoken (text as it streams, or each audio frame's words)."""
        ...

    def flush(self) -> None:
        """The reply ended (finished or interrupted)."""
        ...


@dataclass
class SessionOutput:
    """``session.output``: ``transcription``, a :class:`TextOutput` or ``None`` (the default)."""

    transcription: TextOutput | None = None


@dataclass(frozen=True)
class Played:
    """A stretch of agent audio that was heard: ``duration`` seconds of ``frame`` from ``offset``, at ``start``."""

    speech_id: str
    start: float
    duration: float
    frame: AudioFrame
    offset: float
    cut: bool


@dataclass
class _Playout:
    """What one step has played so far, so an interruption keeps exactly the heard text.

    Audio plays frame by frame on the clock; :meth:`pause` and :meth:`resume` (false
    interruptions) stop and restart the current frame where it was.
    """

    def __init__(self, speech_id: str = "") -> None:
        self.speech_id = speech_id
        self.parts: list[str] = []
        self.started_at: float | None = None
        self.frame: AudioFrame | None = None
        self.frame_played = 0.0
        self.audio_duration = 0.0
        self.ttfb: float | None = None
        self.audio_end: float | None = None  # when the last audio heard stopped (pauses and cuts included)
        self.frame_waiting = False  # a frame is synthesized and waits for a paused playout to resume
        self.paused = False
        self._frame_done: asyncio.Future[str] | None = None
        self._playing = asyncio.Event()
        self._playing.set()

    def pause(self) -> None:
        self.paused = True
        self._playing.clear()
        if self._frame_done is not None:
            _resolve(self._frame_done, "paused")

    def resume(self) -> None:
        self.paused = False
        self._playing.set()

    async def wait_playing(self) -> None:
        await self._playing.wait()

    async def play_for(self, seconds: float, session: AgentSession) -> None:
        remaining = seconds
        loop = asyncio.get_running_loop()
        while remaining > 1e-9:
            await self._playing.wait()
            start = session.now()
            # One future per frame: finished by a timer (played out) or by pause() (cut short).
            self._frame_done = done = loop.create_future()
            timer = loop.call_later(remaining, _resolve, done, "played")
            offset = self.frame_played
            try:
                outcome = await done
            except asyncio.CancelledError:
                timer.cancel()
                self.frame_played += session.now() - start  # interrupted mid-frame: this much was heard
                session._log_playback(self, start, self.frame_played - offset, offset, cut=True)
                raise
            finally:
                self._frame_done = None
            if outcome == "played":
                self.frame_played += remaining
                session._log_playback(self, start, remaining, offset, cut=False)
                return
            timer.cancel()
            played = session.now() - start
            self.frame_played += played
            session._log_playback(self, start, played, offset, cut=True)
            remaining -= played

    def heard_text(self) -> str:
        text = "".join(self.parts)
        if self.frame is not None and self.frame.duration > 0:
            # Words of the frame being played are paced evenly over its duration.
            words = self.frame.text.split()
            fraction = min(1.0, max(0.0, self.frame_played / self.frame.duration))
            text += " ".join(words[: int(len(words) * fraction)])
        return text.strip()


class _TTSPipe:
    """A step's TTS running in the background, its frames queued until they are played."""

    def __init__(self, activity: _AgentActivity, handle: SpeechHandle, text: Any) -> None:
        self.session = activity.session
        self.activity = activity
        self.handle = handle
        self.queue: asyncio.Queue[AudioFrame | None] = asyncio.Queue()
        self.ttfb = -1.0
        self.error: BaseException | None = None
        self.task = asyncio.get_running_loop().create_task(self._run(text))

    async def _run(self, text: Any) -> None:
        s = self.session
        tts = self.activity.agent.tts
        started = s.now()
        first_text: float | None = None
        chars = 0
        audio = 0.0
        cancelled = False

        async def tts_input() -> Any:
            nonlocal chars, first_text
            async for chunk in apply_text_transforms(text, s.options.tts_text_transforms):
                if first_text is None:
                    first_text = s.now()
                chars += len(chunk)
                yield chunk

        retry_observer.set(s._retry_reporter("tts"))
        try:
            async for frame in self.activity.agent.tts_node(tts_input(), ModelSettings()):
                if self.ttfb < 0:
                    # From the first text the TTS received: upstream LLM latency is not the TTS's (LiveKit #6300).
                    self.ttfb = s.now() - (first_text if first_text is not None else started)
                audio += frame.duration
                self.queue.put_nowait(frame)
        except asyncio.CancelledError:
            cancelled = True
            raise
        except Exception as exc:
            self.error = exc
        finally:
            self.queue.put_nowait(None)
            s._emit(
                ev.MetricsCollectedEvent,
                metrics=ev.TTSMetrics(
                    label=getattr(tts, "label", type(tts).__name__),
                    request_id=s._ids("tts_req"),
                    timestamp=s.now(),
                    ttfb=self.ttfb,
                    duration=s.now() - started,
                    audio_duration=audio,
                    cancelled=cancelled,
                    characters_count=chars,
                    streamed=True,
                    speech_id=self.handle.id,
                    model=getattr(tts, "model", "unknown"),
                    provider=getattr(tts, "provider", "unknown"),
                ),
            )

    async def frames(self) -> Any:
        while (frame := await self.queue.get()) is not None:
            yield frame

    async def cancel(self) -> None:
        self.task.cancel()
        await asyncio.gather(self.task, return_exceptions=True)


def _resolve(fut: asyncio.Future[Any], value: Any) -> None:
    if not fut.done():
        fut.set_result(value)


def _speaking_metrics(playout: _Playout, now: float) -> dict[str, float]:
    if playout.started_at is None:
        return {}
    stopped = playout.audio_end if playout.audio_end is not None else now
    out = {"started_speaking_at": round(playout.started_at, 9), "stopped_speaking_at": round(stopped, 9)}
    if playout.ttfb is not None:
        out["tts_node_ttfb"] = round(playout.ttfb, 9)
    return out
