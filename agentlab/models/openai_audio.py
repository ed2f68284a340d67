"""OpenAI speech-to-text and text-to-speech: :class:`OpenAISTT` and :class:`OpenAITTS`.

Both talk to api.openai.com or any server speaking its audio endpoints (``/v1/audio/transcriptions``
and ``/v1/audio/speech``). As with :class:`~agentlab.models.openai.OpenAILLM`, the key comes from
``api_key`` or ``OPENAI_API_KEY`` (a placeholder is used when only ``base_url`` is given), retries with
backoff are the ``openai`` client's own (``max_retries``), the key never appears in a repr or an
error message, and failures come out as agentlab's :class:`~agentlab.models.llm.APIError` family.

Modelled and measured latency
-----------------------------
The two components sit on opposite sides of the clock.

* **STT is modelled.** A recording is transcribed once, offline, before the simulation plays it:
  :meth:`OpenAISTT.transcribe` cuts each VAD segment out of the audio (with a little padding),
  uploads it and gets its text back. How long that took says nothing about a live call (a batch
  upload is not a streaming recognizer), so the transcript's *arrival* is modelled: it reaches the
  session ``final_delay`` seconds after the speech ends, exactly as with
  :class:`~agentlab.models.stt.AlignedSTT`. Runs are deterministic once the transcripts are known.
* **TTS runs for real.** :meth:`OpenAITTS.stream` synthesizes each sentence while the session runs,
  and its time is real time. On the real clock the session measures it (``ttfb`` in the TTS
  metrics is the true time to first audio). On a virtual clock the network call must not let
  virtual time race ahead of it, so the TTS *holds* the clock (:meth:`VirtualClock.hold
  <agentlab.clock.VirtualClock.hold>`) while it waits: time stands still during the request, the
  synthesis costs zero virtual seconds, and the simulated timeline stays what the scripted parts
  make it, however slow the network. On a virtual clock the request is made by a synchronous
  ``openai.OpenAI`` client in a worker thread: while the clock is held, asyncio timers cannot fire,
  so an async client's retry backoff and timeouts would never end.

Example::

    from agentlab.models.openai_audio import OpenAISTT, OpenAITTS

    stt = OpenAISTT(model="gpt-4o-mini-transcribe", language="en")
    run = simulate(agent, {"llm": llm, "stt": stt}, "call.wav")        # one upload per VAD segment

    tts = OpenAITTS(voice="alloy")
    run = simulate(agent, {"llm": llm, "tts": tts}, [UserSpeech(0.5, 1.5, "hello")])
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import threading
from collections.abc import AsyncIterable, AsyncIterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

import numpy as np
import openai
import soundfile as sf

from ..audio.io import DEFAULT_SAMPLE_RATE, resample
from ..clock import VirtualClock, clock_for
from .openai import _OpenAIClient
from .stt import STT, Utterance
from .tts import _SENTENCE_END, TTS, AudioFrame

if TYPE_CHECKING:
    from ..audio.io import Audio
    from ..audio.vad import SpeechSegment, VADTrack

__all__ = ["OpenAISTT", "OpenAITTS"]


class _OpenAIAudio(_OpenAIClient):
    """What both components add to the shared plumbing: argument checks and the lazy sync client."""

    def _configure(self, api_key: str | None, base_url: str | None, timeout: float, max_retries: int, client: Any) -> None:
        name = type(self).__name__
        if timeout <= 0:
            raise ValueError(f"{name}: timeout = {timeout!r} must be > 0 seconds")
        if max_retries < 0:
            raise ValueError(f"{name}: max_retries = {max_retries!r} must be >= 0")
        self.timeout = timeout
        self.max_retries = max_retries
        self._sync: openai.OpenAI | None = None
        self._sync_lock = threading.Lock()
        self._init_client(api_key, base_url, client, owner=name)

    def _sync_client(self) -> openai.OpenAI:
        if isinstance(self._external_client, openai.OpenAI):
            return self._external_client
        with self._sync_lock:  # worker threads may ask at once
            if self._sync is None:
                self._sync = openai.OpenAI(
                    api_key=self._api_key, base_url=self.base_url, timeout=self.timeout, max_retries=self.max_retries
                )
            return self._sync

    def _close_sync(self) -> None:
        with self._sync_lock:
            client, self._sync = self._sync, None
        if client is not None:
            client.close()


class OpenAISTT(_OpenAIAudio, STT):
    """Transcribes a recording's VAD segments with OpenAI's transcription endpoint.

    Each speech segment of the VAD track (padded by ``padding`` seconds on each side, clipped to the
    recording) is uploaded as a 16-bit WAV; every non-empty answer becomes one
    :class:`~agentlab.models.stt.Utterance` spanning the segment. With ``whisper-1`` (or
    ``word_timestamps=True``) the answer is ``verbose_json`` with word timestamps, shifted to
    recording time. The transcript's arrival is modelled, ``final_delay`` after the speech ends
    (``interim_delay=None``: no interim transcripts), since the upload says nothing about live latency.

    :meth:`transcribe` is synchronous (the simulator calls it once per recording in a worker thread)
    and uploads up to ``concurrency`` segments at once; the results keep the segments' order.

    Args:
        model: ``"gpt-4o-mini-transcribe"``, ``"gpt-4o-transcribe"``, ``"whisper-1"``...
        language: ISO-639-1 code sent with each request (``None``: the model detects it).
        api_key: API key; defaults to ``OPENAI_API_KEY``. Not needed when ``base_url`` is given.
        base_url: server URL ending in ``/v1``; defaults to ``OPENAI_BASE_URL``, else OpenAI.
        timeout: seconds the client waits to connect and between reads.
        max_retries: retries the ``openai`` client makes itself on 408/409/429/5xx and connection errors.
        final_delay: seconds after an utterance ends that its final transcript arrives.
        interim_delay: seconds after it ends that an interim arrives (``None``: none).
        padding: seconds of audio kept before and after each segment.
        word_timestamps: ask for word times (``None``: only for ``whisper-*`` models, the ones that offer them).
        concurrency: segments uploaded at once.
        client: an existing ``openai.OpenAI`` (synchronous) to use instead (never closed by us).

    Example::

        stt = OpenAISTT(model="whisper-1", language="en", final_delay=0.3)
        track = analyze_vad(audio)
        for u in stt.transcribe(audio, track):
            print(f"{u.start:.2f}-{u.end:.2f} {u.text}", u.words[:2])
        stt.close()
    """

    provider = "openai"

    def __init__(
        self,
        *,
        model: str = "gpt-4o-mini-transcribe",
        language: str | None = None,
        api_key: str | None = None,
        base_url: str | None = None,
        timeout: float = 30.0,
        max_retries: int = 2,
        final_delay: float = 0.3,
        interim_delay: float | None = None,
        padding: float = 0.2,
        word_timestamps: bool | None = None,
        concurrency: int = 4,
        client: openai.OpenAI | None = None,
    ) -> None:
        if client is not None and not isinstance(client, openai.OpenAI):
            raise TypeError(
                f"OpenAISTT: client must be a synchronous openai.OpenAI (transcribe runs in a thread), got {type(client).__name__}"
            )
        if final_delay < 0 or (interim_delay is not None and not 0 <= interim_delay <= final_delay):
            raise ValueError(f"OpenAISTT: need 0 <= interim_delay <= final_delay, got {interim_delay!r} and {final_delay!r}")
        if padding < 0:
            raise ValueError(f"OpenAISTT: padding = {padding!r} must be >= 0 seconds")
        if concurrency < 1:
            raise ValueError(f"OpenAISTT: concurrency = {concurrency!r} must be >= 1")
        self.model = model
        self.language = language
        self.final_delay = final_delay
        self.interim_delay = interim_delay
        self.padding = padding
        self.word_timestamps = model.startswith("whisper") if word_timestamps is None else word_timestamps
        self.concurrency = concurrency
        self._configure(api_key, base_url, timeout, max_retries, client)

    @property
    def client(self) -> openai.OpenAI:
        """The synchronous ``openai.OpenAI`` in use, created on first access.

        Example::

            stt.client.models.list()
        """
        return self._sync_client()

    def close(self) -> None:
        """Close the HTTP client if this object created it.

        Example::

            stt.close()
        """
        self._close_sync()

    def transcribe(self, audio: Audio | None, track: VADTrack | None) -> list[Utterance]:
        """One :class:`~agentlab.models.stt.Utterance` per VAD segment the model heard words in.

        Raises ``ValueError`` without audio or a VAD track, and an
        :class:`~agentlab.models.llm.APIError` (key scrubbed) when a request fails after the
        client's retries.

        Example::

            track = VADTrack.from_segments([(0.5, 1.4), (2.0, 3.1)], duration=audio.duration)
            [u.text for u in stt.transcribe(audio, track)]     # ['Hello.', 'Book a table.']
        """
        if audio is None:
            raise ValueError("OpenAISTT.transcribe needs the recording's audio; got audio=None (a script has no audio to transcribe)")
        if track is None:
            raise ValueError("OpenAISTT.transcribe needs a VAD track to know where speech is; got track=None (see analyze_vad)")
        segments = list(track.segments)
        if not segments:
            return []
        if self.concurrency == 1 or len(segments) == 1:
            found = [self._transcribe_segment(audio, seg) for seg in segments]
        else:
            with ThreadPoolExecutor(min(self.concurrency, len(segments)), thread_name_prefix="openai-stt") as pool:
                futures = [pool.submit(self._transcribe_segment, audio, seg) for seg in segments]
                try:
                    found = [f.result() for f in futures]
                except BaseException:
                    for f in futures:
                        f.cancel()
                    raise
        return [u for u in found if u is not None]

    def request_params(self, wav: bytes) -> dict[str, Any]:
        """The keyword arguments for ``client.audio.transcriptions.create`` for one segment.

        Example::

            OpenAISTT(model="whisper-1", base_url=url).request_params(b"RIFF...")["response_format"]   # 'verbose_json'
        """
        params: dict[str, Any] = {"file": ("seg.wav", wav, "audio/wav"), "model": self.model}
        if self.language is not None:
            params["language"] = self.language
        if self.word_timestamps:
            params["response_format"] = "verbose_json"
            params["timestamp_granularities"] = ["word"]
        else:
            params["response_format"] = "json"
        return params

    def _transcribe_segment(self, audio: Audio, seg: SpeechSegment) -> Utterance | None:
        rate = audio.sample_rate
        first = max(0, round((seg.start - self.padding) * rate))
        last = min(len(audio.samples), round((seg.end + self.padding) * rate))
        offset = first / rate
        wav = _wav_bytes(audio.samples[first:last], rate)
        try:
            result = self._sync_client().audio.transcriptions.create(**self.request_params(wav))
        except Exception as exc:  # every failure becomes our error type, scrubbed
            error = self._api_error(exc, f"transcribing {seg.start:.2f}-{seg.end:.2f}s")
        else:
            return self._utterance(result, seg, offset)
        raise error from None

    def _utterance(self, result: Any, seg: SpeechSegment, offset: float) -> Utterance | None:
        text = (result if isinstance(result, str) else getattr(result, "text", "") or "").strip()
        if not text:
            return None
        words = tuple(
            (w.word, round(offset + float(w.start), 6), round(offset + float(w.end), 6)) for w in getattr(result, "words", None) or ()
        )
        language = self.language or getattr(result, "language", None)
        return Utterance(start=seg.start, end=seg.end, text=text, words=words, language=language)


class OpenAITTS(_OpenAIAudio, TTS):
    """Speech from OpenAI's speech endpoint, synthesized sentence by sentence as the text streams in.

    Each complete sentence is one request (``response_format="pcm"``: raw 16-bit mono PCM at
    ``pcm_sample_rate``, 24 kHz for OpenAI); its audio is resampled to 16 kHz and yielded as one
    :class:`~agentlab.models.tts.AudioFrame` whose duration is the audio's length. Synthesis takes
    real time: on the real clock it is measured; on a virtual clock the TTS holds the clock while it
    waits, so a request costs no virtual time (see the module docstring).

    Args:
        model: ``"gpt-4o-mini-tts"``, ``"tts-1"``...
        voice: ``"alloy"``, ``"ash"``, ``"coral"``...
        speed: speaking rate, 0.25 to 4.0.
        instructions: how to speak (``gpt-4o-mini-tts`` only); not sent when ``None``.
        api_key: API key; defaults to ``OPENAI_API_KEY``. Not needed when ``base_url`` is given.
        base_url: server URL ending in ``/v1``; defaults to ``OPENAI_BASE_URL``, else OpenAI.
        timeout: seconds the client waits to connect and between reads.
        max_retries: retries the ``openai`` client makes itself on 408/409/429/5xx and connection errors.
        pcm_sample_rate: the rate of the server's ``pcm`` audio (24000 for OpenAI).
        client: an existing ``openai.AsyncOpenAI`` or ``openai.OpenAI`` (never closed by us). A
            synchronous client is used in a worker thread on every clock; an async one only on the
            real clock (on a virtual clock it raises ``RuntimeError``).

    Example::

        tts = OpenAITTS(voice="coral", instructions="Warm and brisk.")
        async def text():
            yield "Hello there. "
            yield "How can I help?"
        frames = [f async for f in tts.stream(text())]     # two frames, 16 kHz float32
        await tts.aclose()
    """

    provider = "openai"

    def __init__(
        self,
        *,
        model: str = "gpt-4o-mini-tts",
        voice: str = "alloy",
        speed: float = 1.0,
        instructions: str | None = None,
        api_key: str | None = None,
        base_url: str | None = None,
        timeout: float = 30.0,
        max_retries: int = 2,
        pcm_sample_rate: int = 24000,
        client: openai.AsyncOpenAI | openai.OpenAI | None = None,
    ) -> None:
        if client is not None and not isinstance(client, (openai.AsyncOpenAI, openai.OpenAI)):
            raise TypeError(f"OpenAITTS: client must be an openai.AsyncOpenAI or openai.OpenAI, got {type(client).__name__}")
        if not 0.25 <= speed <= 4.0:
            raise ValueError(f"OpenAITTS: speed = {speed!r} must be between 0.25 and 4.0")
        if pcm_sample_rate <= 0:
            raise ValueError(f"OpenAITTS: pcm_sample_rate = {pcm_sample_rate!r} must be > 0")
        self.model = model
        self.voice = voice
        self.speed = speed
        self.instructions = instructions
        self.pcm_sample_rate = pcm_sample_rate
        self._configure(api_key, base_url, timeout, max_retries, client)

    @property
    def client(self) -> openai.AsyncOpenAI | openai.OpenAI:
        """The client given, else the ``openai.AsyncOpenAI`` used on the real clock, made inside the running loop.

        Example::

            voices = await tts.client.models.list()
        """
        if self._external_client is not None:
            return self._external_client
        return self._loop_client()

    async def aclose(self) -> None:
        """Close the HTTP clients this object created.

        Example::

            await tts.aclose()
        """
        await self._close_loop_client()
        self._close_sync()

    def request_params(self, sentence: str) -> dict[str, Any]:
        """The keyword arguments for ``client.audio.speech.create`` for one sentence.

        Example::

            OpenAITTS(base_url=url).request_params("Hi.")
            # {'model': 'gpt-4o-mini-tts', 'voice': 'alloy', 'input': 'Hi.', 'response_format': 'pcm', 'speed': 1.0}
        """
        params: dict[str, Any] = {
            "model": self.model,
            "voice": self.voice,
            "input": sentence,
            "response_format": "pcm",
            "speed": self.speed,
        }
        if self.instructions is not None:
            params["instructions"] = self.instructions
        return params

    async def stream(self, text: AsyncIterable[str]) -> AsyncIterator[AudioFrame]:
        """Yield one frame per sentence of ``text``, each synthesized once the sentence is complete.

        Example::

            async for frame in tts.stream(words()):
                print(frame.text, frame.duration)
        """
        buffer = ""
        async for chunk in text:
            buffer += chunk
            parts = _SENTENCE_END.split(buffer)
            for sentence in parts[:-1]:
                if sentence.strip():
                    yield await self._synthesize(sentence + " ")
            buffer = parts[-1]
        if buffer.strip():
            yield await self._synthesize(buffer)

    async def _synthesize(self, text: str) -> AudioFrame:
        params = self.request_params(text.strip())
        clock = clock_for()
        external = self._external_client
        if clock.is_virtual or isinstance(external, openai.OpenAI):
            if isinstance(external, openai.AsyncOpenAI):
                raise RuntimeError(
                    "OpenAITTS: on a virtual clock requests are made by a synchronous client in a worker thread "
                    "(asyncio timers cannot fire while the clock is held); pass client=openai.OpenAI(...) or api_key/base_url"
                )
            # Real work in a thread: on a virtual clock, time stands still until it is done.
            with clock.hold() if isinstance(clock, VirtualClock) else contextlib.nullcontext():
                return await asyncio.to_thread(self._synthesize_sync, text, params)
        client = self.client
        assert isinstance(client, openai.AsyncOpenAI)
        try:
            response = await client.audio.speech.create(**params)
            pcm = response.content
        except Exception as exc:  # every failure becomes our error type, scrubbed
            error = self._api_error(exc, "speech")
        else:
            return self._frame(text, pcm)
        raise error from None

    def _synthesize_sync(self, text: str, params: dict[str, Any]) -> AudioFrame:
        try:
            pcm = self._sync_client().audio.speech.create(**params).content
        except Exception as exc:  # every failure becomes our error type, scrubbed
            error = self._api_error(exc, "speech")
        else:
            return self._frame(text, pcm)
        raise error from None

    def _frame(self, text: str, pcm: bytes) -> AudioFrame:
        samples = _pcm16_samples(pcm)
        if len(samples) and self.pcm_sample_rate != DEFAULT_SAMPLE_RATE:
            samples = resample(samples, self.pcm_sample_rate, DEFAULT_SAMPLE_RATE)
        return AudioFrame(duration=len(samples) / DEFAULT_SAMPLE_RATE, text=text, data=samples, sample_rate=DEFAULT_SAMPLE_RATE)


def _wav_bytes(samples: Sequence[float] | np.ndarray, sample_rate: int) -> bytes:
    """Mono float samples as a 16-bit PCM WAV file in memory (clipped to [-1, 1])."""
    buf = io.BytesIO()
    sf.write(buf, np.clip(np.asarray(samples, dtype=np.float32), -1.0, 1.0), sample_rate, format="WAV", subtype="PCM_16")
    return buf.getvalue()


def _pcm16_samples(pcm: bytes) -> np.ndarray:
    """Little-endian 16-bit PCM as float32 in [-1, 1) (a dangling odd byte is dropped)."""
    usable = len(pcm) - len(pcm) % 2
    return np.frombuffer(pcm[:usable], dtype="<i2").astype(np.float32) / 32768.0
