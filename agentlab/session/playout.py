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

What an interrupted message keeps follows LiveKit's ``TranscriptSynchronizer`` (RoomIO's
``sync_transcription``, on by default): :class:`_Transcript` logs the step's text and audio as
they reach the output and, at the interruption, replays the synchronizer's word pacing. From the
first audio frame, each word (a whitespace-led token, punctuation kept) is released after
``syllables / speed`` seconds, ``speed`` being 3.83 syllables per second until both the text and
the audio are complete, then the step's syllables over its audio duration; a word in flight
finishes during a pause, the next waits for the resume. Syllables are Liang hyphenation pieces
with the TeX US-English patterns (the ``hyphenate`` package, as LiveKit). With
``sync_transcription=False`` the message keeps all the text that reached the output.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Protocol

from hyphenate import hyphenate_word

from .._frozen import frozen
from .._utils import rounded
from ..models.llm import retry_observer
from ..models.tts import AudioFrame
from . import events as ev
from .agent import ModelSettings, node_output, overrides
from .speech import SpeechHandle, _Channel
from .transforms import BuiltinFilter, apply_text_transforms

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
    """``session.output``: ``transcription``, a :class:`TextOutput` or ``None`` (the default), and
    ``sync_transcription`` (RoomIO's option, default ``True``): an interrupted reply keeps the
    words LiveKit's transcript synchronizer had released by then, paced by syllables over the
    audio; ``False`` keeps all the text that reached the output.

    Example::

        session.output.sync_transcription = False  # as RoomIO(sync_transcription=False)
    """

    transcription: TextOutput | None = None
    sync_transcription: bool = True


#: LiveKit's ``STANDARD_SPEECH_RATE``: syllables per second before a step's audio length is known.
STANDARD_SPEECH_RATE = 3.83
# Scripts written without spaces: each character is a word. After one of them, a full-width
# clause mark ends the word (LiveKit's word tokenizer, split_character and split_cjk_clauses).
_CHAR_WORD = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\u0e00-\u0e7f]")
_CJK_TEXT = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\u3000-\u303f\uf900-\ufaff\uac00-\ud7af\uff00-\uffef]")
_CJK_CLAUSE = frozenset("，。！？；：、")


def _tokens(text: str) -> list[tuple[str, int]]:
    """The synchronizer's words with their end offsets: each keeps the whitespace before it and its
    punctuation, so the released words join back into the text."""
    out: list[tuple[str, int]] = []
    start = 0
    for i, ch in enumerate(text):
        if ch.isspace():
            if text[start:i].strip():
                out.append((text[start:i], i))
                start = i  # the whitespace leads the next word
        elif _CHAR_WORD.match(ch):
            if start < i:
                out.append((text[start:i], i))
            out.append((ch, i + 1))
            start = i + 1
        elif ch in _CJK_CLAUSE and i > 0 and _CJK_TEXT.match(text[i - 1]) and not (ch in "，：" and text[i - 1].isdigit()):
            out.append((text[start : i + 1], i + 1))
            start = i + 1
    if start < len(text):
        out.append((text[start:], len(text)))
    return out


@lru_cache(maxsize=4096)
def _syllables(token: str) -> int:
    return len(hyphenate_word(token)) if token.strip() else 0


@dataclass
class _Transcript:
    """One step's text and audio as they reached the output, for the synchronizer's pacing."""

    text: str = ""
    text_times: list[tuple[int, float]] = field(default_factory=list)  # (text length, when it arrived)
    text_done: float | None = None
    audio: float = 0.0
    audio_done: float | None = None

    def push_text(self, chunk: str, t: float) -> None:
        self.text += chunk
        self.text_times.append((len(self.text), t))

    def released(self, start: float, until: float, pauses: list[tuple[float, float | None]]) -> str:
        """The words released from ``start`` (first audio) to ``until``, with ``pauses`` as
        ``(paused at, resumed at or None)``."""
        tokens = _tokens(self.text)
        if self.text_done is not None and self.audio_done is not None:
            rated_at: float | None = max(self.text_done, self.audio_done)
            total = sum(_syllables(w) for w, _ in tokens)
            rate = total / self.audio if total and self.audio > 0 else STANDARD_SPEECH_RATE
        else:
            rated_at, rate = None, STANDARD_SPEECH_RATE
        t, out, k = start, [], 0
        for i, (word, end) in enumerate(tokens):
            last = i == len(tokens) - 1
            if last and self.text_done is None:
                break  # a word still being written
            if not last:  # released by the word stream once text follows it
                while self.text_times[k][0] <= end:
                    k += 1
                t = max(t, self.text_times[k][1])
            else:
                t = max(t, self.text_done)  # type: ignore[arg-type]
            for paused, resumed in pauses:
                if paused <= t + 1e-9 and (resumed is None or t < resumed - 1e-9):
                    if resumed is None:
                        return "".join(out)
                    t = resumed
            speed = rate if rated_at is not None and t >= rated_at - 1e-9 else STANDARD_SPEECH_RATE
            t += _syllables(word) / speed
            if t > until + 1e-9:
                break
            out.append(word)
        return "".join(out)


@frozen
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

    def __init__(self, speech_id: str = "", now: Callable[[], float] | None = None) -> None:
        self.speech_id = speech_id
        self._now = now or (lambda: 0.0)
        self.parts: list[str] = []  # a text step's pieces (a TTS step's words are in ``transcript``)
        self.transcript: _Transcript | None = None  # a TTS step's text and audio as they reached the output
        self.synced = True  # the output paces the transcript (sync_transcription)
        self.transcribed = False  # the text went through the agent's transcription_node
        self.pauses: list[tuple[float, float | None]] = []
        self.started_at: float | None = None
        self.frame: AudioFrame | None = None
        self.frame_played = 0.0
        self.ttfb: float | None = None
        self.ended_at: float | None = None  # when the playout ended: done, or interrupted (even while paused)
        self.frame_waiting = False  # a frame is synthesized and waits for a paused playout to resume
        self.paused = False
        self._frame_done: asyncio.Future[str] | None = None
        self._playing = asyncio.Event()
        self._playing.set()

    def pause(self) -> None:
        if not self.paused:
            self.pauses.append((self._now(), None))
        self.paused = True
        self._playing.clear()
        if self._frame_done is not None:
            _resolve(self._frame_done, "paused")

    def resume(self) -> None:
        if self.paused and self.pauses:
            self.pauses[-1] = (self.pauses[-1][0], self._now())
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

    def full_text(self, llm_text: str) -> str:
        """What a step that played to the end stores: the transcription node's output when the
        agent has one (LiveKit stores the transcript), else the LLM's text."""
        if not self.transcribed:
            return llm_text.strip()
        return ("".join(self.parts) if self.transcript is None else self.transcript.text).strip()

    def heard_text(self, now: float) -> str:
        """What the user heard of an interrupted step at ``now``: the synchronizer's words (a TTS
        step, ``sync_transcription`` on), else everything that reached the output."""
        if self.transcript is None:
            return "".join(self.parts).strip()
        if not self.synced:
            return self.transcript.text.strip()
        if self.started_at is None:
            return ""
        return self.transcript.released(self.started_at, now, self.pauses).strip()


class _TTSPipe:
    """A step's TTS running in the background, its frames queued until they are played."""

    def __init__(self, activity: _AgentActivity, handle: SpeechHandle, text: Any) -> None:
        self.session = activity.session
        self.activity = activity
        self.handle = handle
        self.queue: _Channel[AudioFrame] = _Channel()
        self.ttfb = -1.0
        self.error: BaseException | None = None
        self.transcript = _Transcript()
        #: The agent's transcription_node, when it has one: it writes the transcript (shown and stored).
        self.transcribe = activity.agent.transcription_node if overrides(activity.agent, "transcription_node") else None
        self.node_task: asyncio.Task[None] | None = None
        self.first_text: float | None = None  # when the TTS received its first text
        self.characters = 0
        tts = activity.agent.tts
        transforms = self.session.options.tts_text_transforms
        self._filter = BuiltinFilter.for_transforms(transforms)
        #: The TTS taking the text pushed in (see ``_push``), when nothing stands between the LLM and it.
        pushable = isinstance(text, _Channel) and self._filter is not None and self.transcribe is None
        self._synthesis = tts._push_synthesis() if pushable and not overrides(activity.agent, "tts_node") else None
        self._channel = text
        self._woken: asyncio.Future[bool] | None = None  # True: a pushed word completed a frame
        self._push_error: BaseException | None = None
        #: The loop's queue of ready callbacks (asyncio's loops have one): pushing waits while it is not empty.
        self._ready = getattr(asyncio.get_running_loop(), "_ready", None)
        self.task = asyncio.get_running_loop().create_task(self._run(None if self._synthesis is not None else self._tts_input(text)))

    def _tts_input(self, text: AsyncIterator[str]) -> AsyncIterator[str]:
        """The text as the TTS gets it: logged for the transcript (unless a transcription node writes
        it), through the text transforms, counted. Built-in transforms run inline in one generator;
        a stream transform gets the general chain."""
        transforms = self.session.options.tts_text_transforms
        if self.transcribe is not None:
            text = self._teed(text)
        if self._filter is None:
            return self._counted(apply_text_transforms(text if self.transcribe is not None else self._logged(text), transforms))
        return self._inline(text, self._filter, log=self.transcribe is None)

    async def _inline(self, text: AsyncIterator[str], transform: BuiltinFilter, *, log: bool) -> AsyncIterator[str]:
        async for chunk in text:
            out = self._filtered(chunk, transform, log=log)
            if out is not None:
                yield out
        out = self._filtered(None, transform, log=log)
        if out is not None:
            yield out

    def _filtered(self, chunk: str | None, transform: BuiltinFilter, *, log: bool) -> str | None:
        """A chunk of the LLM's text (``None``: its end) on its way to the TTS: logged for the
        transcript, cleaned by the built-in transforms, counted. Returns what the TTS gets now."""
        if chunk is None:
            if log:
                self.transcript.text_done = self.session._elapsed()
            out = transform.flush()
        else:
            if log:
                self.transcript.push_text(chunk, self.session._elapsed())  # now(), a call less per word
            out = transform.feed(chunk)
        if out is not None:
            self._count(out)
        return out

    # --- pushing text into the TTS (no task switch per word) ------------------------------
    #
    # With a TTS that takes pushed text (``TTS._push_synthesis``) and nothing between the LLM and
    # it but built-in transforms, the pipe's task need not wake for every word. It waits in
    # ``_more_text`` with the channel's listener set. When the LLM puts a word and the loop has
    # no callback ready, the pipe's task would be the very next thing to run, and would only read
    # the word: ``_on_put`` does that work right there instead, in the LLM's task, and wakes the
    # pipe's task only when a frame's text is complete (or the text ended), which then runs
    # exactly where it would have. When callbacks are ready, one of them could come first (an
    # interruption cancelling the pipe, say), so the word is queued and the task woken, as a
    # reading task would be. Either way the same work happens in the same order: text put
    # while the TTS waits for its first byte, for one, stays queued until the task reads it.
    # ``tests/test_tts_push.py`` and the fuzz compare runs with a TTS that reads its own text.

    def _push(self, chunk: str | None) -> bool:
        """``chunk`` into the TTS; True when the TTS has a frame to make or the text ended."""
        synthesis = self._synthesis
        out = self._filtered(chunk, self._filter, log=True)  # type: ignore[arg-type]  # set when pushing
        done = synthesis.push_text(out) if out is not None else False  # type: ignore[union-attr]
        if chunk is None:
            synthesis.end_input()  # type: ignore[union-attr]
            return True
        return done

    async def _more_text(self) -> None:
        """What the TTS awaits when it needs text: what is queued, else what the LLM puts next."""
        channel = self._channel
        items = channel._items
        loop = asyncio.get_running_loop()
        while True:
            while items:
                if self._push(items.popleft()):
                    return
            self._woken = woken = loop.create_future()
            channel._listener = self._on_put
            try:
                pushed = await woken
            finally:
                channel._listener = None
                self._woken = None
            if self._push_error is not None:
                raise self._push_error
            if pushed:
                return

    def _on_put(self, chunk: str | None) -> bool:
        """The channel's listener; False leaves ``chunk`` queued for the pipe's task to read."""
        woken = self._woken
        if woken is None or woken.done():
            return False  # the task is being woken or cancelled: it reads what comes (or nothing)
        if self._ready is None or self._ready:
            self._channel._listener = None  # a callback could run first: read as a task would
            woken.set_result(False)
            return False
        try:
            done = self._push(chunk)
        except Exception as exc:  # raised in the pipe's task, not in the LLM's
            self._push_error, done = exc, True
        if done:
            self._channel._listener = None
            woken.set_result(True)
        return True

    async def _counted(self, text: AsyncIterator[str]) -> AsyncIterator[str]:
        async for chunk in text:
            self._count(chunk)
            yield chunk

    def _count(self, chunk: str) -> None:
        if self.first_text is None:
            self.first_text = self.session.now()
        self.characters += len(chunk)

    async def _logged(self, text: AsyncIterator[str]) -> AsyncIterator[str]:
        async for chunk in text:
            self.transcript.push_text(chunk, self.session.now())
            yield chunk
        self.transcript.text_done = self.session.now()

    async def _teed(self, text: AsyncIterator[str]) -> AsyncIterator[str]:
        """The LLM's text to the TTS; a copy through the transcription node to the transcript."""
        copy: asyncio.Queue[str | None] = asyncio.Queue()

        async def node_input() -> Any:
            while (chunk := await copy.get()) is not None:
                yield chunk

        self.node_task = asyncio.get_running_loop().create_task(self._transcribe(node_input()))
        try:
            async for chunk in text:
                copy.put_nowait(chunk)
                yield chunk
        finally:
            copy.put_nowait(None)

    async def _transcribe(self, text: Any) -> None:
        s = self.session
        try:
            async for out in node_output(self.transcribe(text, ModelSettings())):
                self.transcript.push_text(out, s.now())
        except Exception as exc:  # LiveKit: logged; the transcript keeps what came before
            s._report_error(exc, source="transcription_node", recoverable=True)
        finally:
            self.transcript.text_done = s.now()

    async def _run(self, text: AsyncIterator[str] | None) -> None:
        """Synthesize: ``text`` through ``tts_node``, or (``None``) the text pushed into the TTS."""
        s = self.session
        tts = self.activity.agent.tts
        started = s.now()
        cancelled = False
        retry_observer.set(s._retry_reporter("tts"))
        try:
            if text is None:
                frames = self._synthesis.frames(self._more_text)  # type: ignore[union-attr]  # set when text is None
            else:
                frames = self.activity.agent.tts_node(text, ModelSettings())
            async for frame in frames:
                if self.ttfb < 0:
                    # From the first text the TTS received: upstream LLM latency is not the TTS's (LiveKit #6300).
                    self.ttfb = s.now() - (self.first_text if self.first_text is not None else started)
                self.transcript.audio += frame.duration
                self.queue.put_nowait(frame)
            self.transcript.audio_done = s.now()
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
                    audio_duration=self.transcript.audio,
                    cancelled=cancelled,
                    characters_count=self.characters,
                    streamed=True,
                    speech_id=self.handle.id,
                    model=getattr(tts, "model", "unknown"),
                    provider=getattr(tts, "provider", "unknown"),
                ),
            )

    def frames(self) -> AsyncIterator[AudioFrame]:
        return self.queue.items()

    async def cancel(self) -> None:
        tasks = [t for t in (self.task, self.node_task) if t is not None]
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def _resolve(fut: asyncio.Future[Any], value: Any) -> None:
    if not fut.done():
        fut.set_result(value)


def _speaking_metrics(playout: _Playout, now: float) -> dict[str, float]:
    if playout.started_at is None:
        return {}
    # LiveKit: the moment the playout ends (its audio done, or the interruption, even of a paused reply)
    stopped = playout.ended_at if playout.ended_at is not None else now
    out = {"started_speaking_at": rounded(playout.started_at), "stopped_speaking_at": rounded(stopped)}
    if playout.ttfb is not None:
        out["tts_node_ttfb"] = rounded(playout.ttfb)
    return out
