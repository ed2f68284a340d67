"""Run scripted turn-taking scenarios on the real livekit-agents 1.8.9 AgentSession, offline and
on virtual time, and dump every decision it made as JSON: the reference agentlab's conformance
tests compare against (tests/test_livekit_fidelity.py runs it in a subprocess).

    python tests/livekit_harness.py scenario.json [-o out.json]   # or: run_scenario(spec_dict) -> dict

Written for agentlab; LiveKit's own test fakes (tests/fake_*.py in livekit/agents) showed which
of its APIs to drive, and none of their code is here.

The real AgentSession / AgentActivity / AudioRecognition / TranscriptSynchronizer run
unmodified; only the edges are fake: VAD, STT, LLM, TTS and the audio/text sinks, all
scripted from the spec (see README.md for the format).

IMPORTANT: this module must be imported before `livekit.agents`, because the clock shims
have to be in `time` when LiveKit's pydantic models capture `default_factory=time.time`.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import json
import logging
import selectors
import sys
import time
import uuid

# ----------------------------------------------------------------------------------------
# 1. Virtual time
# ----------------------------------------------------------------------------------------
# The loop's clock never sleeps: when the loop would block waiting for its next timer,
# the selector jumps the clock to that timer instead.  Timers due at the same virtual
# instant fire in the order they were scheduled (FIFO), like the causal order real time
# would give.  While code runs on such a loop, time.time()/perf_counter()/monotonic()
# (and the *_ns variants) read the virtual clock; anywhere else they read the real clock.

EPOCH = 1_700_000_000.0  # all virtual clocks read EPOCH + virtual seconds
_READ_EPS = 1e-6  # same-instant reads are nudged apart so they stay strictly increasing
_REAL = {n: getattr(time, n) for n in ("time", "perf_counter", "monotonic", "time_ns", "perf_counter_ns", "monotonic_ns")}
_REAL_UUID4 = uuid.uuid4


class _JumpingSelector(selectors.BaseSelector):
    """Delegates fd registration to a real selector but, instead of blocking for
    `timeout`, advances the owning loop's virtual clock by `timeout`."""

    def __init__(self, loop: VirtualLoop) -> None:
        self._loop, self._real = loop, selectors.DefaultSelector()

    def register(self, fileobj, events, data=None):
        return self._real.register(fileobj, events, data)

    def unregister(self, fileobj):
        return self._real.unregister(fileobj)

    def get_map(self):
        return self._real.get_map()

    def close(self) -> None:
        self._real.close()

    def select(self, timeout=None):
        ready = self._real.select(0)  # only the loop's self-pipe is registered (threads)
        if ready or timeout == 0:
            return ready
        if timeout is None or self._loop._threads_busy:
            # nothing scheduled, or an executor job is running: really wait for it, so
            # virtual time never runs ahead of work happening off the loop
            return self._real.select(None if timeout is None else 1.0)
        self._loop._now += timeout
        return []


class _FifoTimer(asyncio.TimerHandle):
    """TimerHandle ordered by (when, scheduling sequence) instead of `when` only."""

    __slots__ = ("_seq",)

    def __lt__(self, other):
        return (self._when, self._seq) < (other._when, other._seq)

    def __le__(self, other):
        return (self._when, self._seq) <= (other._when, other._seq)


class VirtualLoop(asyncio.SelectorEventLoop):
    def __init__(self) -> None:
        self._now = 0.0  # virtual seconds since the loop was created
        self._last_read = -1.0
        self._seq = 0
        self._threads_busy = 0
        self._uuid_n = 0
        super().__init__(selector=_JumpingSelector(self))
        self._clock_resolution = 1e-9

    def time(self) -> float:
        return self._now

    def read(self) -> float:
        """Wall-clock view of the virtual time (strictly increasing across reads)."""
        self._last_read = max(self._now, self._last_read + _READ_EPS)
        return self._last_read

    def call_at(self, when, callback, *args, context=None):
        self._check_closed()
        self._seq += 1
        timer = _FifoTimer(when, callback, args, self, context)
        timer._seq = self._seq
        heapq.heappush(self._scheduled, timer)
        timer._scheduled = True
        return timer

    def run_in_executor(self, executor, func, *args):
        fut = super().run_in_executor(executor, func, *args)
        self._threads_busy += 1
        fut.add_done_callback(lambda _: setattr(self, "_threads_busy", self._threads_busy - 1))
        return fut

    def next_uuid(self) -> uuid.UUID:  # deterministic ids (speech_..., item_...)
        self._uuid_n += 1
        return uuid.UUID(int=self._uuid_n << 80, version=4)  # shortuuid keeps 12 hex


def _vloop() -> VirtualLoop | None:
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        return None
    return loop if isinstance(loop, VirtualLoop) else None


def _shim(real, ns: bool):
    """A time.* replacement: virtual on a VirtualLoop, the real clock anywhere else."""

    def clock():
        loop = _vloop()
        if loop is None:
            return real()
        return int(EPOCH) * 10**9 + round(loop.read() * 1e9) if ns else EPOCH + loop.read()

    return clock


def _uuid4() -> uuid.UUID:
    loop = _vloop()
    return loop.next_uuid() if loop is not None else _REAL_UUID4()


if "livekit.agents" in sys.modules:
    raise ImportError("import lkrun before livekit.agents (clock shims must be installed first)")
for _n, _f in _REAL.items():
    setattr(time, _n, _shim(_f, _n.endswith("_ns")))
uuid.uuid4 = _uuid4

# LiveKit is imported only now, so `Field(default_factory=time.time)` captures the shim.
from livekit import rtc  # noqa: E402
from livekit.agents import DEFAULT_API_CONNECT_OPTIONS as CONN  # noqa: E402
from livekit.agents import Agent, AgentSession, RunContext, llm, stt, tts, utils, vad  # noqa: E402
from livekit.agents import __version__ as lk_version  # noqa: E402
from livekit.agents.voice.io import (  # noqa: E402
    AudioInput,
    AudioOutput,
    AudioOutputCapabilities,
    TextOutput,
)
from livekit.agents.voice.transcription import TranscriptSynchronizer  # noqa: E402

# ----------------------------------------------------------------------------------------
# 2. Scenario clock: times in the spec are seconds after session start ("origin")
# ----------------------------------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.origin: float | None = None
        self.started = asyncio.get_running_loop().create_future()

    def start(self) -> None:
        self.origin = asyncio.get_running_loop().time()
        self.started.set_result(None)

    def now(self) -> float:
        return asyncio.get_running_loop().time() - (self.origin or 0.0)

    async def until(self, t: float) -> None:
        await asyncio.shield(self.started)
        delay = t - self.now()
        if delay > 0:
            await asyncio.sleep(delay)

    def rel(self, wall: float) -> float:
        """Absolute virtual wall-clock reading -> seconds since origin (ms precision)."""
        return round(wall - EPOCH - (self.origin or 0.0), 3)


# ----------------------------------------------------------------------------------------
# 3. Fake VAD: Silero-like events computed from the scripted user speech spans
# ----------------------------------------------------------------------------------------


def _r6(x: float) -> float:
    return round(x, 6)  # keeps threshold comparisons exact (e.g. speech 0.5 >= min 0.5)


def _vad_event(kind, t: float, spans: list, voiced_only: bool, speaking=True) -> vad.VADEvent:
    """A VADEvent at time t inside a VAD segment made of speech `spans` [(start, end)]."""
    past = [sp for sp in spans if sp[0] <= t]
    cur_s, cur_e = past[-1]
    in_speech = t <= cur_e
    voiced = sum(min(t, e) - s for s, e in past)
    return vad.VADEvent(
        type=kind,
        samples_index=round(t * 16000),
        timestamp=t,
        silence_duration=0.0,
        speech_duration=_r6(voiced if voiced_only else t - spans[0][0]),
        probability=1.0 if in_speech else 0.0,
        speaking=speaking,
        raw_accumulated_speech=_r6(t - cur_s) if in_speech else 0.0,
        raw_accumulated_silence=0.0 if in_speech else _r6(t - cur_e),
    )


def vad_timeline(user: list[dict], o: dict) -> list[tuple[float, vad.VADEvent]]:
    """[(t, VADEvent)] for the whole scenario.  Spans closer than min_silence merge into
    one VAD segment.  Fields follow the Silero plugin: while `speaking`, speech_duration
    counts everything since the segment start (pauses included; "speech_duration":
    "voiced" counts voiced time only, like LiveKit's FakeVAD) and raw_accumulated_*
    count the current run of speech/silence; END reports speech_duration up to the last
    voiced instant and silence_duration = the trailing silence (= min_silence)."""
    ms, msil, iv = o["min_speech_duration"], o["min_silence_duration"], o["interval"]
    voiced_only = o.get("speech_duration", "silero") == "voiced"
    segments: list[list[tuple[float, float]]] = []
    for u in sorted(user, key=lambda u: u["start"]):
        if segments and u["start"] < segments[-1][-1][1] + msil:
            segments[-1].append((u["start"], u["end"]))
        else:
            segments.append([(u["start"], u["end"])])

    out: list[tuple[float, vad.VADEvent]] = []
    for spans in segments:
        t_start, t_end = _r6(spans[0][0] + ms), _r6(spans[-1][1] + msil)
        out.append((t_start, _vad_event(vad.VADEventType.START_OF_SPEECH, t_start, spans, voiced_only)))
        k = 1
        while (t := _r6(t_start + k * iv)) < t_end:  # INFERENCE_DONE every `interval`
            out.append((t, _vad_event(vad.VADEventType.INFERENCE_DONE, t, spans, voiced_only)))
            k += 1
        end = _vad_event(vad.VADEventType.END_OF_SPEECH, t_end, spans, voiced_only, False)
        end.speech_duration = _r6(sum(e - s for s, e in spans) if voiced_only else spans[-1][1] - spans[0][0])
        end.silence_duration = msil
        out.append((t_end, end))
    return out


class FakeVAD(vad.VAD):
    def __init__(self, clock: Clock, user: list[dict], opts: dict) -> None:
        super().__init__(capabilities=vad.VADCapabilities(update_interval=opts["interval"]))
        self.clock, self.timeline = clock, vad_timeline(user, opts)
        self.min_silence_duration = opts["min_silence_duration"]

    def stream(self) -> vad.VADStream:
        return _FakeVADStream(self)


class _FakeVADStream(vad.VADStream):
    async def _main_task(self) -> None:
        v: FakeVAD = self._vad  # type: ignore[assignment]
        drain = asyncio.create_task(_drain(self._input_ch))  # audio is ignored
        try:
            await asyncio.shield(v.clock.started)
            created = v.clock.now()
            for t, ev in v.timeline:  # a stream opened late only sees the future
                if t + 1e-9 >= created:
                    await v.clock.until(t)
                    self._event_ch.send_nowait(ev)
            await drain
        finally:
            drain.cancel()


async def _drain(ch) -> None:
    async for _ in ch:
        pass


# ----------------------------------------------------------------------------------------
# 4. Fake STT: interim(s) + final transcript per user span, timed from the span end
# ----------------------------------------------------------------------------------------


def stt_timeline(user: list[dict]) -> list[tuple[float, str, bool]]:
    out: list[tuple[float, str, bool]] = []
    for u in user:
        text = u.get("transcript", "")
        if not text:
            continue  # noise: VAD only
        delay = u.get("stt_delay", 0.2)
        interim = u.get("interim")
        if interim is None:
            interims = [(u["end"] + delay / 2, " ".join(text.split()[:2]))]
        elif isinstance(interim, str):
            interims = [(u["end"] + delay / 2, interim)]
        else:
            interims = [(float(t), s) for t, s in interim]
        out += [(t, s, False) for t, s in interims]
        if u.get("final", True):
            out.append((u["end"] + delay, text, True))
    return sorted(out, key=lambda x: x[0])


class FakeSTT(stt.STT):
    def __init__(self, clock: Clock, user: list[dict]) -> None:
        super().__init__(capabilities=stt.STTCapabilities(streaming=True, interim_results=True))
        self.clock, self.timeline = clock, stt_timeline(user)
        self.delivered: set[int] = set()  # each scripted transcript is delivered once

    async def _recognize_impl(self, buffer, *, language=None, conn_options=None):
        return stt.SpeechEvent(type=stt.SpeechEventType.FINAL_TRANSCRIPT, alternatives=[])

    def stream(self, *, language=None, conn_options=CONN) -> stt.RecognizeStream:
        return _FakeSTTStream(stt=self, conn_options=conn_options)


class _FakeSTTStream(stt.RecognizeStream):
    async def _run(self) -> None:
        s: FakeSTT = self._stt  # type: ignore[assignment]
        drain = asyncio.create_task(_drain(self._input_ch))
        try:
            await asyncio.shield(s.clock.started)
            created = s.clock.now()
            for i, (t, text, final) in enumerate(s.timeline):
                if i in s.delivered or t + 1e-9 < created:
                    continue
                await s.clock.until(t)
                s.delivered.add(i)
                kind = stt.SpeechEventType.FINAL_TRANSCRIPT if final else (stt.SpeechEventType.INTERIM_TRANSCRIPT)
                self._event_ch.send_nowait(stt.SpeechEvent(type=kind, alternatives=[stt.SpeechData(text=text, language="en")]))
            await drain
        finally:
            drain.cancel()


# ----------------------------------------------------------------------------------------
# 5. Fake LLM: scripted responses keyed by the text they answer
# ----------------------------------------------------------------------------------------


def llm_key(chat_ctx: llm.ChatContext) -> str:
    """What the request answers: the last user message, a tool output, or generate_reply
    instructions (a system message after the agent's own instructions); else ""."""
    items = chat_ctx.items
    last = items[-1] if items else None
    if last is None:
        return ""
    if last.type == "function_call_output":
        return last.output
    if last.type == "message" and last.role == "user":
        return last.text_content or ""
    if last.type == "message" and last.role in ("system", "developer") and len(items) > 1:
        return last.text_content or ""
    return ""


class FakeLLM(llm.LLM):
    def __init__(self, clock: Clock, responses: list[dict], log: list[dict]) -> None:
        super().__init__()
        self.clock, self.responses, self.log = clock, responses, log

    def pick(self, key: str, n: int) -> dict | None:
        by_index = [r for r in self.responses if r.get("call") == n]
        by_input = [r for r in self.responses if "call" not in r and r.get("input") == key]
        return (by_index or by_input or [None])[0]

    def chat(self, *, chat_ctx, tools=None, conn_options=CONN, **_kw) -> llm.LLMStream:
        key = llm_key(chat_ctx)
        resp = self.pick(key, len(self.log))
        entry = {"call": len(self.log), "at": round(self.clock.now(), 3), "input": key, "matched": resp is not None, "completed": False}
        self.log.append(entry)
        return _FakeLLMStream(self, resp, entry, chat_ctx=chat_ctx, tools=tools or [], conn_options=conn_options)


class _FakeLLMStream(llm.LLMStream):
    def __init__(self, fake: FakeLLM, resp: dict | None, entry: dict, **kw) -> None:
        super().__init__(fake, **kw)
        self._resp, self._entry, self._clock = resp, entry, fake.clock

    def _send(self, content: str | None = None, tool_calls=None) -> None:
        self._event_ch.send_nowait(
            llm.ChatChunk(
                id=f"chunk_{self._entry['call']}", delta=(llm.ChoiceDelta(role="assistant", content=content, tool_calls=tool_calls or []))
            )
        )

    async def _run(self) -> None:
        r = self._resp
        if r is None:
            self._entry["completed"] = True
            return  # unknown input: empty response (like LiveKit's FakeLLM)
        t0, ttft, dur = self._clock.now(), r.get("ttft", 0.1), r.get("duration", 0.3)
        text, size = r.get("content", ""), r.get("chunk_chars", 3)
        chunks = [text[i : i + size] for i in range(0, len(text), size)]
        for i, chunk in enumerate(chunks):
            # default: all chunks at ttft (as LiveKit's FakeLLM); "spread": ttft..duration
            frac = i / max(1, len(chunks) - 1) if r.get("spread") else 0.0
            await self._clock.until(t0 + ttft + frac * (dur - ttft))
            self._send(content=chunk)
        await self._clock.until(t0 + dur)
        calls = [
            llm.FunctionToolCall(name=c["name"], arguments=c.get("arguments", "{}"), call_id=c.get("call_id", f"call_{i}"))
            for i, c in enumerate(r.get("tool_calls", []))
        ]
        if calls:
            self._send(tool_calls=calls)
        self._entry["completed"] = True  # stays False if LiveKit cancelled the stream


# ----------------------------------------------------------------------------------------
# 6. Fake TTS: silent audio of a scripted duration, ttfb after the text is flushed
# ----------------------------------------------------------------------------------------


class FakeTTS(tts.TTS):
    SAMPLE_RATE = 24000

    def __init__(self, clock: Clock, responses: list[dict], log: list[dict]) -> None:
        super().__init__(capabilities=tts.TTSCapabilities(streaming=True), sample_rate=self.SAMPLE_RATE, num_channels=1)
        self.clock, self.responses, self.log = clock, responses, log

    def lookup(self, text: str) -> dict:
        for r in self.responses:
            if r.get("input") == text:
                return r
        # unscripted text: 60 ms of audio per character, so it is never silent
        return {"input": text, "audio_duration": round(0.06 * len(text), 3), "unscripted": True}

    def synthesize(self, text, *, conn_options=CONN) -> tts.ChunkedStream:
        return self._synthesize_with_stream(text, conn_options=conn_options)

    def stream(self, *, conn_options=CONN) -> tts.SynthesizeStream:
        return _FakeTTSStream(tts=self, conn_options=conn_options)


class _FakeTTSStream(tts.SynthesizeStream):
    async def _run(self, emitter: tts.AudioEmitter) -> None:
        fake: FakeTTS = self._tts  # type: ignore[assignment]
        emitter.initialize(
            request_id=utils.shortuuid("tts_"), sample_rate=fake.sample_rate, num_channels=1, mime_type="audio/pcm", stream=True
        )
        text = ""
        async for data in self._input_ch:
            if isinstance(data, str):
                text += data
                continue
            if not text:
                continue
            self._mark_started()  # a segment is synthesized once its text is flushed
            r, t0 = fake.lookup(text), fake.clock.now()
            fake.log.append(
                {"at": round(t0, 3), "input": text, "audio_duration": r["audio_duration"], "unscripted": r.get("unscripted", False)}
            )
            text = ""
            if r["audio_duration"] <= 0:
                continue
            await fake.clock.until(t0 + r.get("ttfb", 0.2))
            emitter.start_segment(segment_id=utils.shortuuid("seg_"))
            total = int(fake.sample_rate * r["audio_duration"] + 0.5)
            for i in range(0, total, fake.sample_rate // 100):  # 10 ms chunks
                emitter.push(b"\x00\x00" * min(fake.sample_rate // 100, total - i))
            await fake.clock.until(t0 + r.get("duration", 0.3))
            emitter.end_segment()  # marks the tail frame final (flush() would add a 10 ms marker)


# ----------------------------------------------------------------------------------------
# 7. Fake I/O: one silent input frame; an ideal real-time playout sink; a text sink
# ----------------------------------------------------------------------------------------


class FakeAudioInput(AudioInput):
    def __init__(self) -> None:
        super().__init__(label="lkrun")
        self.ch = utils.aio.Chan[rtc.AudioFrame]()

    async def __anext__(self) -> rtc.AudioFrame:
        return await self.ch.__anext__()

    def push_silence(self, seconds: float) -> None:
        n = int(16000 * seconds)
        self.ch.send_nowait(rtc.AudioFrame(data=b"\x00\x00" * n, sample_rate=16000, num_channels=1, samples_per_channel=n))


class FakeAudioOutput(AudioOutput):
    """Plays captured audio in (virtual) real time from the first frame of a segment;
    pause() freezes the playhead; clear_buffer() stops and reports the position."""

    def __init__(self, clock: Clock, can_pause: bool, log: list[dict], session) -> None:
        super().__init__(label="lkrun", capabilities=AudioOutputCapabilities(pause=can_pause))
        self.clock, self.log, self.session = clock, log, session
        self._reset()

    def _reset(self) -> None:
        self.pushed, self.started, self.paused_at, self.paused_total = 0.0, None, None, 0.0
        self.flushed, self.timer, self.seg = False, None, None

    def played(self) -> float:
        if self.started is None:
            return 0.0
        end = self.paused_at if self.paused_at is not None else self.clock.now()
        return min(self.pushed, end - self.started - self.paused_total)

    def _finish(self, interrupted: bool) -> None:
        pos = self.played() if interrupted else self.pushed
        if self.timer:
            self.timer.cancel()
        if self.seg is not None:
            self.seg.update(end=round(self.clock.now(), 3), position=round(pos, 3), pushed=round(self.pushed, 3), interrupted=interrupted)
        self._reset()
        self.on_playback_finished(playback_position=pos, interrupted=interrupted)

    def _start_playing(self) -> None:
        self.started = self.clock.now()
        self.paused_total = 0.0  # a pause before this segment had audio is not part of its playhead
        speech = self.session.current_speech
        self.seg = {"segment": len(self.log), "speech_id": speech.id if speech else None, "start": round(self.started, 3), "pauses": []}
        self.log.append(self.seg)
        self.on_playback_started(created_at=time.time())

    def _schedule_finish(self) -> None:
        if self.timer:
            self.timer.cancel()
        if self.paused_at is None and self.flushed:
            delay = max(0.0, self.pushed - self.played())
            self.timer = asyncio.get_running_loop().call_later(delay, self._finish, False)

    async def capture_frame(self, frame: rtc.AudioFrame) -> None:
        await super().capture_frame(frame)
        self.pushed += frame.duration
        if self.started is None and self.paused_at is None:
            self._start_playing()

    def flush(self) -> None:
        super().flush()
        if self.pushed:
            self.flushed = True
            self._schedule_finish()

    def clear_buffer(self) -> None:
        if self.pushed:
            self._finish(interrupted=True)

    def pause(self) -> None:
        super().pause()
        if self.paused_at is None:
            self.paused_at = self.clock.now()
            if self.seg is not None:
                self.seg["pauses"].append([round(self.paused_at, 3), None])
            if self.timer:
                self.timer.cancel()

    def resume(self) -> None:
        super().resume()
        if self.paused_at is not None:
            self.paused_total += self.clock.now() - self.paused_at
            self.paused_at = None
            if self.seg is not None and self.seg["pauses"]:
                self.seg["pauses"][-1][1] = round(self.clock.now(), 3)
        if self.started is None and self.pushed:
            self._start_playing()  # frames arrived while paused
        self._schedule_finish()


class FakeTextOutput(TextOutput):
    def __init__(self, clock: Clock, log: list[dict]) -> None:
        super().__init__(label="lkrun", next_in_chain=None)
        self.clock, self.log, self.cur = clock, log, None

    async def capture_text(self, text: str) -> None:
        if self.cur is None:
            self.cur = {"start": round(self.clock.now(), 3), "text": ""}
            self.log.append(self.cur)
        self.cur["text"] += text
        self.cur["end"] = round(self.clock.now(), 3)

    def flush(self) -> None:
        self.cur = None


# ----------------------------------------------------------------------------------------
# 8. Recording session + serialization
# ----------------------------------------------------------------------------------------


def _times(obj, clock: Clock):
    """Recursively: epoch-like floats -> seconds since origin; other floats -> ms."""
    if isinstance(obj, dict):
        return {k: _times(v, clock) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_times(v, clock) for v in obj]
    if isinstance(obj, float):
        return clock.rel(obj) if obj > EPOCH / 2 else round(obj, 3)
    return obj


def item_dict(item, clock: Clock) -> dict:
    d: dict = {"type": item.type, "id": item.id, "created_at": item.created_at}
    if item.type == "message":
        d.update(role=item.role, text=item.text_content, interrupted=item.interrupted, metrics=dict(item.metrics))
    elif item.type == "function_call":
        d.update(name=item.name, arguments=item.arguments, call_id=item.call_id)
    elif item.type == "function_call_output":
        d.update(name=item.name, output=item.output, call_id=item.call_id, is_error=item.is_error)
    elif item.type == "agent_handoff":
        d.update(old_agent_id=item.old_agent_id, new_agent_id=item.new_agent_id)
    return _times(d, clock)


def event_dict(name: str, ev, clock: Clock) -> dict:
    d: dict = {"type": name, "at": round(clock.now(), 3)}
    if name == "conversation_item_added":
        d.update(created_at=clock.rel(ev.created_at), item=item_dict(ev.item, clock))
    elif name == "speech_created":
        h = ev.speech_handle
        d.update(
            created_at=clock.rel(ev.created_at),
            source=ev.source,
            user_initiated=ev.user_initiated,
            speech_id=h.id,
            allow_interruptions=h.allow_interruptions,
        )
    elif name == "metrics_collected":
        d.update(created_at=clock.rel(ev.created_at), metrics=_times(ev.metrics.model_dump(mode="json", exclude={"metadata"}), clock))
    elif name == "function_tools_executed":
        d.update(
            created_at=clock.rel(ev.created_at),
            calls=[item_dict(c, clock) for c in ev.function_calls],
            outputs=[item_dict(o, clock) for o in ev.function_call_outputs],
        )
    elif name in ("error", "close"):
        d.update(
            created_at=clock.rel(ev.created_at),
            error=repr(getattr(ev, "error", None)),
            reason=getattr(getattr(ev, "reason", None), "value", None),
            source=type(getattr(ev, "source", None)).__name__,
        )
    elif hasattr(ev, "model_dump"):
        try:
            d.update(_times(ev.model_dump(mode="json", exclude={"type"}), clock))
        except Exception as e:  # never let serialization break a run
            d.update(repr=repr(ev), dump_error=repr(e))
    else:
        d["repr"] = repr(ev)
    return d


_STD_LOG_KEYS = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message"}


class LogCapture(logging.Handler):
    """Keeps LiveKit's own log lines (e.g. "using preemptive generation") with their
    virtual time and `extra` fields: they explain many of the decisions."""

    def __init__(self, clock: Clock, log: list[dict]) -> None:
        super().__init__(logging.DEBUG)
        self.clock, self.log = clock, log

    def emit(self, record: logging.LogRecord) -> None:
        if _vloop() is None:
            return
        extra = {
            k: v if isinstance(v, (str, int, float, bool, type(None))) else repr(v)
            for k, v in vars(record).items()
            if k not in _STD_LOG_KEYS
        }
        self.log.append(
            {"at": round(self.clock.now(), 3), "level": record.levelname, "msg": record.getMessage(), **_times(extra, self.clock)}
        )


class RecordingSession(AgentSession):
    """AgentSession that records every emitted event (with its emission time)."""

    def emit(self, event, arg) -> None:
        self._lkrun_events.append(event_dict(event, arg, self._lkrun_clock))
        super().emit(event, arg)


# ----------------------------------------------------------------------------------------
# 9. Running a scenario
# ----------------------------------------------------------------------------------------

DEFAULT_VAD = {"min_speech_duration": 0.05, "min_silence_duration": 0.5, "interval": 0.05}


def _turn_handling(options: dict) -> dict:
    th = dict(options.get("turn_handling") or {})
    th.setdefault("turn_detection", None)  # VAD endpointing (as LiveKit's tests)
    th["endpointing"] = {"min_delay": 0.5, "max_delay": 6.0, **th.get("endpointing", {})}
    th["interruption"] = {"min_duration": 0.5, "false_interruption_timeout": 2.0, "mode": "vad", **th.get("interruption", {})}
    return th


def _make_tool(s: dict):
    """A raw function tool: optionally speaks first (`say: {text, await}`, `reply: {instructions, await}`),
    sleeps `delay` seconds, then returns `output` (null: returns None, so no follow-up reply)."""

    async def impl(raw_arguments: dict, context: RunContext) -> str | None:
        if s.get("say"):
            handle = context.session.say(s["say"]["text"])
            if s["say"].get("await"):
                await handle
        if s.get("reply"):
            handle = context.session.generate_reply(instructions=s["reply"]["instructions"])
            if s["reply"].get("await"):
                await handle
        if s.get("delay"):
            await asyncio.sleep(s["delay"])
        return s.get("output", "")

    return llm.function_tool(
        impl,
        raw_schema={
            "name": s["name"],
            "description": s.get("description", s["name"]),
            "parameters": s.get("parameters", {"type": "object", "properties": {}}),
        },
    )


async def _run_action(session: AgentSession, clock: Clock, a: dict, log: list[dict]) -> None:
    await clock.until(a["at"])
    kwargs = {k: v for k, v in a.items() if k not in ("at", "call")}
    entry = {"at": round(clock.now(), 3), "call": a["call"], **kwargs}
    log.append(entry)
    try:
        res = getattr(session, a["call"])(**kwargs)
        if hasattr(res, "id"):
            entry["speech_id"] = res.id
        if asyncio.isfuture(res) or asyncio.iscoroutine(res):
            await res
    except Exception as e:  # record, don't crash the scenario
        entry["error"] = repr(e)


async def _scenario(spec: dict) -> dict:
    user = sorted(spec.get("user", []), key=lambda u: u["start"])
    options = dict(spec.get("options") or {})
    clock = Clock()
    out: dict = {
        "events": [],
        "history": [],
        "playback": [],
        "text_output": [],
        "llm_calls": [],
        "tts_calls": [],
        "actions": [],
        "logs": [],
    }

    vad_opts, turn_handling = {**DEFAULT_VAD, **spec.get("vad", {})}, _turn_handling(options)
    out["config"] = {"livekit_agents": lk_version, "vad": vad_opts, "turn_handling": turn_handling}
    session = RecordingSession(
        vad=FakeVAD(clock, user, vad_opts),
        stt=FakeSTT(clock, user),
        llm=FakeLLM(clock, spec.get("llm", []), out["llm_calls"]),
        tts=FakeTTS(clock, spec.get("tts", []), out["tts_calls"]),
        turn_handling=turn_handling,
        aec_warmup_duration=options.pop("aec_warmup_duration", None),
        **{k: v for k, v in options.items() if k != "turn_handling"},
    )
    session._lkrun_clock, session._lkrun_events = clock, out["events"]

    audio_in = FakeAudioInput()
    audio_out = FakeAudioOutput(clock, spec.get("can_pause", False), out["playback"], session)
    text_out = FakeTextOutput(clock, out["text_output"])
    sync = None
    if spec.get("sync_transcription", True):  # as RoomIO does by default
        sync = TranscriptSynchronizer(next_in_chain_audio=audio_out, next_in_chain_text=text_out)
        session.output.audio, session.output.transcription = sync.audio_output, sync.text_output
    else:
        session.output.audio, session.output.transcription = audio_out, text_out
    session.input.audio = audio_in

    agent = Agent(
        instructions=spec.get("instructions", "You are a helpful assistant."), tools=[_make_tool(t) for t in spec.get("tools", [])]
    )
    lk_logger = logging.getLogger("livekit.agents")
    capture, old_level = LogCapture(clock, out["logs"]), lk_logger.level
    lk_logger.addHandler(capture)
    lk_logger.setLevel(logging.DEBUG)
    try:
        await _drive(spec, session, agent, clock, audio_in, sync, out)
    finally:
        lk_logger.removeHandler(capture)
        lk_logger.setLevel(old_level)
    return out


async def _drive(spec, session, agent, clock, audio_in, sync, out) -> None:
    user = spec.get("user", [])
    await session.start(agent)
    clock.start()  # t=0: like LiveKit's tests, the clock starts once start() returns
    audio_in.push_silence(0.1)  # one frame wakes up the audio pipeline

    tasks = [asyncio.create_task(_run_action(session, clock, a, out["actions"])) for a in spec.get("actions", [])]
    default_until = max([u["end"] for u in user] + [a["at"] for a in spec.get("actions", [])] + [0.0]) + 8.0
    await clock.until(spec.get("until", default_until))
    out["drain_at"] = round(clock.now(), 3)  # then drain() + aclose() (2 s transcript wait)
    with contextlib.suppress(RuntimeError):
        await session.drain()
    await session.aclose()
    if sync is not None:
        await sync.aclose()
    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    out["history"] = [item_dict(it, clock) for it in session.history.items]


def run_scenario(spec: dict) -> dict:
    """Run one scenario on a fresh virtual-time loop and return its decision record."""
    loop = VirtualLoop()
    try:
        asyncio.set_event_loop(loop)
        result = loop.run_until_complete(_scenario(spec))
        # cancel any straggler task LiveKit left behind, then close cleanly
        pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
        for t in pending:
            t.cancel()
        loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
        loop.run_until_complete(loop.shutdown_asyncgens())
        result["leftover_tasks"] = len(pending)
        return result
    finally:
        asyncio.set_event_loop(None)
        loop.close()


def main(argv: list[str]) -> int:
    import argparse

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("scenario", help="scenario JSON file (an object, or a list of them), or - for stdin")
    p.add_argument("-o", "--output", help="write JSON here instead of stdout")
    p.add_argument("-v", "--verbose", action="store_true", help="show LiveKit logs")
    args = p.parse_args(argv)
    handler = logging.StreamHandler(sys.stderr)  # LiveKit warnings (or all logs with -v)
    handler.setLevel(logging.DEBUG if args.verbose else logging.WARNING)
    logging.getLogger().addHandler(handler)
    if args.scenario == "-":
        spec = json.load(sys.stdin)
    else:
        with open(args.scenario) as f:
            spec = json.load(f)
    # a list of scenarios runs them one after the other (one process start for many)
    result = [run_scenario(s) for s in spec] if isinstance(spec, list) else run_scenario(spec)
    text = json.dumps(result, indent=2)
    if args.output:
        with open(args.output, "w") as f:
            f.write(text + "\n")
    else:
        print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
