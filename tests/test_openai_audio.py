"""OpenAISTT and OpenAITTS against the scripted server, through the real ``openai`` client (never patched)."""

from __future__ import annotations

import asyncio
import io
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import numpy as np
import openai
import pytest
import soundfile as sf
from openai_server import OpenAIServer, delay_fault, pcm16_tone, speech, status_fault, transcript

import agentlab
from agentlab import VirtualClock
from agentlab.audio.io import Audio
from agentlab.audio.vad import VADTrack
from agentlab.models.llm import APIStatusError, APITimeoutError
from agentlab.models.openai_audio import OpenAISTT, OpenAITTS
from agentlab.models.stt import AlignedSTT
from agentlab.models.tts import AudioFrame

#: A recognizable fake key: it must never show up in reprs or error messages.
pytestmark = pytest.mark.usefixtures("no_openai_env")  # keys and URLs come from the tests

API_KEY = "test-PLANTED-aud1"
SR = 16000


def make_stt(server: OpenAIServer, **kwargs: Any) -> OpenAISTT:
    kwargs.setdefault("timeout", 2.0)
    kwargs.setdefault("max_retries", 0)
    kwargs.setdefault("concurrency", 1)  # the scripted queue answers in arrival order
    return OpenAISTT(base_url=server.base_url, api_key=API_KEY, **kwargs)


def make_tts(server: OpenAIServer, **kwargs: Any) -> OpenAITTS:
    kwargs.setdefault("timeout", 2.0)
    kwargs.setdefault("max_retries", 0)
    return OpenAITTS(base_url=server.base_url, api_key=API_KEY, **kwargs)


def voiced_audio(duration: float, speech_at: list[tuple[float, float]]) -> Audio:
    """Faint noise with a modulated tone wherever someone "speaks"."""
    x = 0.001 * np.random.default_rng(0).standard_normal(round(duration * SR)).astype(np.float32)
    for a, b in speech_at:
        i, j = round(a * SR), round(b * SR)
        t = np.arange(j - i) / SR
        x[i:j] = 0.3 * np.sin(2 * np.pi * 200 * t) * (1 + 0.5 * np.sin(2 * np.pi * 3 * t))
    return Audio(x, SR)


def uploaded(server: OpenAIServer, i: int) -> tuple[np.ndarray, Any]:
    """The i-th uploaded WAV as int16 samples, and its soundfile info."""
    data = server.transcriptions[i].body["file"].data
    info = sf.info(io.BytesIO(data))
    samples, _ = sf.read(io.BytesIO(data), dtype="int16")
    return samples, info


def clip_bounds(seg: Any, n: int, pad: float = 0.2) -> tuple[int, int]:
    return max(0, round((seg.start - pad) * SR)), min(n, round((seg.end + pad) * SR))


async def words(*chunks: str) -> AsyncIterator[str]:
    for chunk in chunks:
        yield chunk


def resampled_len(pcm_rate: int, seconds: float) -> int:
    """Samples at 16 kHz for ``seconds`` of the server's PCM at ``pcm_rate``."""
    return round(round(seconds * pcm_rate) * SR / pcm_rate)


# --- STT -----------------------------------------------------------------------------------------


def test_stt_transcribes_each_vad_segment(server: OpenAIServer) -> None:
    audio = voiced_audio(4.0, [(0.5, 1.5), (2.5, 3.2)])
    track = VADTrack.from_segments([(0.5, 1.5), (2.5, 3.2)], duration=4.0)
    server.enqueue_transcripts(transcript("Hello there."), transcript("Book a table."))
    stt = make_stt(server, language="en")

    utts = stt.transcribe(audio, track)

    assert [(u.start, u.end, u.text) for u in utts] == [(0.5, 1.5, "Hello there."), (2.5, 3.2, "Book a table.")]
    assert all(u.words == () and u.language == "en" for u in utts)
    assert len(server.transcriptions) == 2
    for i, seg in enumerate(track.segments):
        req = server.transcriptions[i]
        assert req.headers["authorization"] == f"Bearer {API_KEY}"
        form = req.body
        assert form["model"] == "gpt-4o-mini-transcribe" and form["language"] == "en" and form["response_format"] == "json"
        assert "timestamp_granularities[]" not in form
        assert (form["file"].filename, form["file"].content_type) == ("seg.wav", "audio/wav")
        samples, info = uploaded(server, i)
        first, last = clip_bounds(seg, len(audio.samples))
        assert (info.format, info.subtype, info.samplerate, info.channels) == ("WAV", "PCM_16", SR, 1)
        assert info.frames == last - first == round((seg.duration + 0.4) * SR)
        # The clip is the recording's samples there, quantized to 16 bits.
        np.testing.assert_allclose(samples / 32768.0, audio.samples[first:last], atol=1 / 16384)
    stt.close()


def test_stt_padding_is_clipped_at_the_recording_edges(server: OpenAIServer) -> None:
    audio = voiced_audio(3.0, [(0.1, 0.9), (2.5, 3.0)])
    track = VADTrack.from_segments([(0.1, 0.9), (2.5, 3.0)], duration=3.0)
    make_stt(server, padding=0.3).transcribe(audio, track)
    assert uploaded(server, 0)[1].frames == round(1.2 * SR)  # 0.0 .. 0.9 + 0.3
    assert uploaded(server, 1)[1].frames == round(0.8 * SR)  # 2.5 - 0.3 .. 3.0


def test_stt_whisper_word_timestamps_are_shifted_to_recording_time(server: OpenAIServer) -> None:
    audio = voiced_audio(4.0, [(0.5, 1.5), (2.5, 3.2)])
    track = VADTrack.from_segments([(0.5, 1.5), (2.5, 3.2)], duration=4.0)
    server.enqueue_transcripts(
        transcript("Hello there.", words=[("Hello", 0.2, 0.6), ("there", 0.7, 1.1)]),
        transcript("Bonjour.", words=[("Bonjour", 0.25, 0.85)], language="french"),
    )
    stt = make_stt(server, model="whisper-1")

    first, second = stt.transcribe(audio, track)

    form = server.transcriptions[0].body
    assert form["model"] == "whisper-1" and "language" not in form
    assert form["response_format"] == "verbose_json" and form["timestamp_granularities[]"] == ["word"]
    # The clips start 0.2 s (the padding) before the segments.
    assert first.words == (("Hello", 0.5, 0.9), ("there", 1.0, 1.4))
    assert second.words == (("Bonjour", 2.55, 3.15),)
    assert (first.language, second.language) == ("english", "french")  # detected, as no language was set
    # Models without word timestamps are not asked for them unless told to.
    assert make_stt(server).request_params(b"")["response_format"] == "json"
    assert make_stt(server, word_timestamps=True).request_params(b"")["timestamp_granularities"] == ["word"]


def test_stt_drops_empty_transcripts_and_keeps_segment_order_when_concurrent(server: OpenAIServer) -> None:
    spans = [(0.5 + i, 1.0 + i) for i in range(5)]
    audio = voiced_audio(6.0, spans)
    track = VADTrack.from_segments(spans, duration=6.0)
    server.default_transcript = transcript("same words")
    utts = make_stt(server, concurrency=4).transcribe(audio, track)
    assert [(u.start, u.end) for u in utts] == spans and {u.text for u in utts} == {"same words"}

    server.enqueue_transcripts(transcript("  "), transcript("Only me."), transcript(""))
    utts = make_stt(server).transcribe(audio, VADTrack.from_segments(spans[:3], duration=6.0))
    assert [(u.start, u.text) for u in utts] == [(1.5, "Only me.")]


def test_stt_status_fault_is_our_error_without_the_key(server: OpenAIServer) -> None:
    audio = voiced_audio(2.0, [(0.5, 1.5)])
    track = VADTrack.from_segments([(0.5, 1.5)], duration=2.0)
    server.enqueue_transcripts(status_fault(500, message=f"upstream rejected key {API_KEY}"))
    with pytest.raises(APIStatusError) as info:
        make_stt(server).transcribe(audio, track)
    err = info.value
    assert err.status_code == 500 and err.retryable
    assert "HTTP 500" in str(err) and "upstream rejected key ***" in str(err) and "0.50-1.50s" in str(err)
    assert API_KEY not in str(err) and API_KEY not in json.dumps(err.body)
    assert err.__cause__ is None and err.__context__ is None  # the openai exception (with its request) is not attached


def test_stt_retries_429_then_succeeds(server: OpenAIServer) -> None:
    audio = voiced_audio(2.0, [(0.5, 1.5)])
    track = VADTrack.from_segments([(0.5, 1.5)], duration=2.0)
    server.enqueue_transcripts(status_fault(429, retry_after=0.01), transcript("Second time lucky."))
    utts = make_stt(server, max_retries=1).transcribe(audio, track)
    assert [u.text for u in utts] == ["Second time lucky."]
    assert [r.headers["x-stainless-retry-count"] for r in server.transcriptions] == ["0", "1"]


def test_stt_timeout(server: OpenAIServer) -> None:
    audio = voiced_audio(2.0, [(0.5, 1.5)])
    track = VADTrack.from_segments([(0.5, 1.5)], duration=2.0)
    server.enqueue_transcripts(delay_fault(2.0))
    with pytest.raises(APITimeoutError, match=r"no answer within 0.2s"):
        make_stt(server, timeout=0.2).transcribe(audio, track)


def test_stt_arguments_and_configuration(server: OpenAIServer, monkeypatch: pytest.MonkeyPatch) -> None:
    audio = voiced_audio(2.0, [(0.5, 1.5)])
    track = VADTrack.from_segments([(0.5, 1.5)], duration=2.0)
    stt = make_stt(server)
    with pytest.raises(ValueError, match="audio=None"):
        stt.transcribe(None, track)
    with pytest.raises(ValueError, match="track=None"):
        stt.transcribe(audio, None)
    assert stt.transcribe(audio, VADTrack.from_segments([], duration=2.0)) == []
    assert (stt.final_delay, stt.interim_delay, stt.provider) == (0.3, None, "openai")
    with pytest.raises(ValueError, match="OPENAI_API_KEY"):
        OpenAISTT()
    with pytest.raises(ValueError, match="interim_delay"):
        OpenAISTT(base_url=server.base_url, interim_delay=0.5, final_delay=0.2)
    with pytest.raises(TypeError, match="synchronous"):
        OpenAISTT(client=openai.AsyncOpenAI(api_key="x", base_url=server.base_url))  # type: ignore[arg-type]
    # Key and URL from the environment; a given client is used as is.
    monkeypatch.setenv("OPENAI_API_KEY", API_KEY)
    monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
    assert [u.text for u in OpenAISTT().transcribe(audio, track)] == ["Hello from the test server."]
    assert server.transcriptions[-1].headers["authorization"] == f"Bearer {API_KEY}"
    with openai.OpenAI(api_key="test-other-key", base_url=server.base_url, max_retries=0) as client:
        OpenAISTT(client=client).transcribe(audio, track)
    assert server.transcriptions[-1].headers["authorization"] == "Bearer test-other-key"


def test_stt_in_a_simulated_recording_matches_aligned_labels(server: OpenAIServer) -> None:
    audio = voiced_audio(5.0, [(0.5, 1.6), (3.0, 3.8)])

    def run_with(stt: Any) -> Any:
        llm = agentlab.ScriptedLLM(["Hi.", "Done."])
        return agentlab.simulate(lambda: agentlab.Agent(instructions="x"), {"llm": llm, "stt": stt}, audio, vad_backend="energy")

    server.enqueue_transcripts(transcript("Hello there."), transcript("Book it."))
    run = run_with(make_stt(server))
    segments = [(0.5, 1.6, "Hello there."), (3.0, 3.8, "Book it.")]
    aligned = run_with(AlignedSTT(segments, final_delay=0.3, interim_delay=None))
    assert len(server.transcriptions) == 2
    cols = ["created_at", "role", "text"]
    assert run.history[cols].equals(aligned.history[cols])
    assert run.history["text"].dropna().tolist() == ["Hello there.", "Hi.", "Book it.", "Done."]


# --- TTS -----------------------------------------------------------------------------------------


async def test_tts_streams_one_frame_per_sentence(server: OpenAIServer) -> None:
    server.enqueue_speech(speech(0.5), speech(1.25))
    tts = make_tts(server)
    frames = [f async for f in tts.stream(words("Hel", "lo there. How", " can I help", " you today?"))]
    await tts.aclose()

    assert [f.text for f in frames] == ["Hello there. ", "How can I help you today?"]
    for frame, seconds in zip(frames, [0.5, 1.25], strict=True):
        assert isinstance(frame, AudioFrame) and frame.sample_rate == SR
        assert frame.data is not None and frame.data.dtype == np.float32
        assert len(frame.data) == resampled_len(24000, seconds)
        assert frame.duration == len(frame.data) / SR == pytest.approx(seconds)
        assert 0.45 < float(np.abs(frame.data).max()) < 0.55  # the server's half-scale tone survived
    bodies = [r.body for r in server.speeches]
    assert bodies == [
        {"model": "gpt-4o-mini-tts", "voice": "alloy", "input": "Hello there.", "response_format": "pcm", "speed": 1.0},
        {"model": "gpt-4o-mini-tts", "voice": "alloy", "input": "How can I help you today?", "response_format": "pcm", "speed": 1.0},
    ]
    assert all(r.headers["authorization"] == f"Bearer {API_KEY}" for r in server.speeches)
    assert all(r.headers["x-stainless-async"] != "false" for r in server.speeches)  # the async client on a real loop


async def test_tts_options_are_forwarded_and_pcm_rate_respected(server: OpenAIServer) -> None:
    server.enqueue_speech(speech(0.75, sample_rate=16000))
    tts = make_tts(server, model="tts-1", voice="coral", speed=1.5, instructions="Calm.", pcm_sample_rate=16000)
    (frame,) = [f async for f in tts.stream(words("Just one"))]
    await tts.aclose()
    assert server.speeches[0].body == {
        "model": "tts-1",
        "voice": "coral",
        "input": "Just one",
        "response_format": "pcm",
        "speed": 1.5,
        "instructions": "Calm.",
    }
    expected = np.frombuffer(pcm16_tone(0.75, 16000), "<i2").astype(np.float32) / 32768.0
    np.testing.assert_array_equal(frame.data, expected)  # no resampling at 16 kHz
    assert frame.duration == 0.75 and frame.text == "Just one"


async def test_tts_fault_is_our_error_without_the_key(server: OpenAIServer) -> None:
    server.enqueue_speech(speech(0.5), status_fault(503, message=f"bad key {API_KEY}"))
    tts = make_tts(server)
    got: list[AudioFrame] = []
    with pytest.raises(APIStatusError) as info:
        async for frame in tts.stream(words("First one. ", "Second one.")):
            got.append(frame)
    await tts.aclose()
    assert [f.text for f in got] == ["First one. "]
    err = info.value
    assert err.status_code == 503 and err.retryable and "HTTP 503" in str(err)
    assert API_KEY not in str(err) and API_KEY not in json.dumps(err.body)
    assert err.__cause__ is None and err.__context__ is None


def test_tts_on_a_virtual_clock_holds_time_and_retries(server: OpenAIServer) -> None:
    server.enqueue_speech(delay_fault(0.05), status_fault(429, retry_after=0.01), speech(0.5))
    tts = make_tts(server, max_retries=1)

    async def main() -> tuple[float, list[AudioFrame], float]:
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        # A pending timer: an unheld clock would jump to it while the request is out.
        timer = asyncio.create_task(asyncio.sleep(10))
        frames = [f async for f in tts.stream(words("Slow one. ", "Retried one."))]
        t1 = loop.time()
        assert not timer.done()
        timer.cancel()
        return t0, frames, t1

    wall = time.perf_counter()
    t0, frames, t1 = VirtualClock().run(main)
    assert time.perf_counter() - wall >= 0.05  # the real call took real time...
    assert t1 == t0  # ...and virtual time stood still; the retry's backoff did not hang either
    assert [f.text for f in frames] == ["Slow one. ", "Retried one."] and frames[1].duration == 0.5
    assert [r.headers["x-stainless-async"] for r in server.speeches] == ["false"] * 3  # sync client in a thread


def test_tts_clients(server: OpenAIServer) -> None:
    async def synth(tts: OpenAITTS) -> list[AudioFrame]:
        return [f async for f in tts.stream(words("Hi."))]

    # A given synchronous client works on both clocks (in a worker thread).
    with openai.OpenAI(api_key="test-other-key", base_url=server.base_url, max_retries=0) as client:
        tts = OpenAITTS(client=client)
        assert len(asyncio.run(synth(tts))) == 1 and len(VirtualClock().run(lambda: synth(tts))) == 1
    assert [r.headers["authorization"] for r in server.speeches] == ["Bearer test-other-key"] * 2
    # A given async client cannot run under a held virtual clock.
    async_tts = OpenAITTS(client=openai.AsyncOpenAI(api_key="test-other-key", base_url=server.base_url))
    with pytest.raises(RuntimeError, match="synchronous client"):
        VirtualClock().run(lambda: synth(async_tts))
    with pytest.raises(ValueError, match="OPENAI_API_KEY"):
        OpenAITTS()
    with pytest.raises(ValueError, match="speed"):
        make_tts(server, speed=5.0)


def test_reprs_hide_the_key(server: OpenAIServer) -> None:
    stt, tts = make_stt(server, model="whisper-1"), make_tts(server)
    assert repr(stt) == f"OpenAISTT(model='whisper-1', base_url='{server.base_url}')"
    assert repr(tts) == f"OpenAITTS(model='gpt-4o-mini-tts', base_url='{server.base_url}')"
    assert repr(OpenAITTS(api_key=API_KEY)) == "OpenAITTS(model='gpt-4o-mini-tts')"
    for obj in (stt, tts):
        assert API_KEY not in repr(obj) and API_KEY not in str(obj)
    assert tts.label == "agentlab.models.openai_audio.OpenAITTS" and tts.provider == "openai"


def test_simulated_voice_session_plays_the_servers_audio(server: OpenAIServer) -> None:
    reply = "Hi there. How can I help?"
    script = [agentlab.UserSpeech(0.5, 1.5, "hello", stt_delay=0.1)]

    def run_with(tts: Any) -> Any:
        return agentlab.simulate(lambda: agentlab.Agent(instructions="x"), {"llm": agentlab.ScriptedLLM([reply]), "tts": tts}, script)

    server.enqueue_speech(speech(0.6), speech(1.2))
    run = run_with(OpenAITTS(base_url=server.base_url, api_key=API_KEY, max_retries=0))

    assert run.history[run.history["role"] == "assistant"]["text"].tolist() == [reply]
    assert [r.body["input"] for r in server.speeches] == ["Hi there.", "How can I help?"]
    played = run.session.playback
    assert [p.frame.text for p in played] == ["Hi there. ", "How can I help?"]
    assert [p.duration for p in played] == [0.6, 1.2] and not any(p.cut for p in played)
    assert all(p.frame.data is not None and len(p.frame.data) == round(p.duration * SR) for p in played)
    assert played[1].start == pytest.approx(played[0].start + 0.6)
    tts_metrics = run.metrics[run.metrics["type"] == "tts_metrics"]
    assert tts_metrics["audio_duration"].tolist() == pytest.approx([1.8])
    # Time stood still during the real requests: the TTS cost what an instant scripted TTS costs.
    instant = run_with(agentlab.ScriptedTTS(ttfb=0.0))
    instant_ttfb = instant.metrics[instant.metrics["type"] == "tts_metrics"]["ttfb"].tolist()
    assert tts_metrics["ttfb"].tolist() == instant_ttfb == [0.0]
    assert played[0].start == instant.session.playback[0].start
    # The agent's audio in the stereo rendering is the server's tone.
    stereo = run.audio()
    start = round(played[0].start * SR)
    np.testing.assert_allclose(stereo[start : start + 100, 1], played[0].frame.data[:100], atol=1e-6)


async def test_tts_faults_in_a_session_are_error_events_and_close_it_when_they_persist(server: OpenAIServer) -> None:
    # Real clock: the async client, whose retried attempts the session reports.
    server.enqueue_speech(status_fault(503, retry_after=0.01), speech(0.2))
    tts = make_tts(server, max_retries=1)
    session = agentlab.AgentSession(llm=agentlab.ScriptedLLM(default="Fine.", ttft=0), tts=tts, max_unrecoverable_errors=1)
    await session.start(agentlab.Agent(instructions="x"))
    await session.run(user_input="first")
    (retried,) = [e for e in session.events if e.type == "error"]
    assert (retried.source, retried.recoverable) == ("tts", True)
    assert "attempt 1 failed (HTTP 503, retry-after 10 ms); retry 1 of 1" in retried.message
    assert [p.duration for p in session.playback] == [0.2], "the retry was heard"

    server.default_speech = status_fault(500)
    for n in (1, 2):
        await session.run(user_input=f"again {n}")
    await asyncio.wait_for(session._closed.wait(), 10)
    final = [(e.source, e.recoverable) for e in session.events if e.type == "error"][1:]
    # Each failed request: one retried attempt (recoverable), then the failure (not).
    assert final == [("tts", True), ("tts", False), ("tts", True), ("tts", False)]
    close = session.events[-1]
    assert (close.type, close.reason) == ("close", "error"), "2 unrecoverable TTS errors in a row > max_unrecoverable_errors=1"
    await tts.aclose()
