"""A scripted OpenAI-compatible chat-completions server for tests (standard library only).

It listens on 127.0.0.1 on a free port in a background thread and answers
``POST /v1/chat/completions`` (SSE when ``stream`` is true, JSON otherwise) and ``GET /v1/models``.
Each completion request takes the next scripted response from a queue (a reply or a fault); when
the queue is empty, ``server.default`` answers. Every request is recorded with its headers and body.

The audio endpoints have queues of their own: ``POST /v1/audio/transcriptions`` (multipart form;
answers :func:`transcript` results, ``json``, ``verbose_json`` with words, or ``text``) and
``POST /v1/audio/speech`` (JSON; answers raw 16-bit mono PCM, or WAV, a tone whose length is
scripted by :func:`speech`). Both also take the chat faults (:func:`status_fault`,
:func:`delay_fault`). A recorded transcription body is the form: text fields as strings (repeated
``name[]`` fields as lists) and the file as an :class:`UploadedFile`.

Faults a provider or a proxy in front of it can produce: :func:`status_fault` (an HTTP error, with
or without ``retry-after``), :func:`delay_fault` (no answer in time), :func:`cut_stream` (the
connection drops mid-stream), :func:`stream_error` (an ``{"error": ...}`` event in a 200 stream),
:func:`stalled_stream` (the stream stops sending), :func:`unfinished_stream` (the stream ends
cleanly but without ``finish_reason``, usage or ``[DONE]``), :func:`empty_choices` (every chunk has
empty ``choices``), :func:`html_page` (a 200 that is a web page, as a login page or a proxy gives),
:func:`malformed_tool_call` and :func:`empty_reply`. Switch one on for every request with
``server.default = html_page()``, or for the next ones with :meth:`OpenAIServer.enqueue`.

Run as a script it serves ``server.default`` until interrupted, in its own process (the load
benchmark uses it so the server's work does not share the client's interpreter):
``python tests/openai_server.py`` prints ``base_url=http://127.0.0.1:PORT/v1``.

Example::

    with OpenAIServer() as server:
        server.enqueue(reply("Hello there!"), status_fault(429, retry_after=0.01))
        llm = OpenAILLM(base_url=server.base_url, api_key="test-key")
        ...
        server.completions[0].body["messages"]

        server.enqueue_transcripts(transcript("hello there", words=[("hello", 0.1, 0.4), ("there", 0.5, 0.9)]))
        server.enqueue_speech(speech(1.5), status_fault(500))
        server.transcriptions[0].body["file"].data     # the WAV bytes sent
"""

from __future__ import annotations

import array
import io
import json
import math
import re
import socket
import sys
import threading
import time
import wave
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = [
    "OpenAIServer",
    "RecordedRequest",
    "ScriptedResponse",
    "ScriptedSpeech",
    "ScriptedTranscript",
    "ToolCall",
    "UploadedFile",
    "Usage",
    "cut_stream",
    "delay_fault",
    "empty_choices",
    "empty_reply",
    "html_page",
    "malformed_tool_call",
    "pcm16_tone",
    "reply",
    "speech",
    "stalled_stream",
    "status_fault",
    "stream_error",
    "transcript",
    "unfinished_stream",
]

#: How long an idle keep-alive connection is kept before its handler thread gives up.
IDLE_TIMEOUT = 5.0
#: Requests served on one connection before it is closed, so no handler loops forever.
MAX_REQUESTS_PER_CONNECTION = 100


@dataclass(frozen=True)
class ToolCall:
    """A tool call the scripted model makes; ``arguments`` is sent verbatim (valid JSON or not)."""

    name: str
    arguments: str = "{}"
    call_id: str | None = None


@dataclass(frozen=True)
class Usage:
    """Token counts reported at the end of a reply."""

    prompt_tokens: int = 10
    completion_tokens: int = 5
    cached_tokens: int | None = None

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "total_tokens": self.prompt_tokens + self.completion_tokens,
        }
        if self.cached_tokens is not None:
            data["prompt_tokens_details"] = {"cached_tokens": self.cached_tokens, "audio_tokens": 0}
        return data


@dataclass(frozen=True)
class ScriptedResponse:
    """One scripted answer. Build with :func:`reply` or one of the fault helpers."""

    text: str = ""
    tool_calls: tuple[ToolCall, ...] = ()
    usage: Usage | None = field(default_factory=Usage)
    #: HTTP status; anything but 200 sends ``error_message`` as an OpenAI error body.
    status: int = 200
    headers: tuple[tuple[str, str], ...] = ()
    error_message: str = ""
    #: Seconds to wait before answering (longer than the client's timeout: a timeout fault).
    delay: float = 0.0
    #: Close the socket after this many SSE chunks, without ``[DONE]`` (a broken stream).
    cut_after: int | None = None
    #: Send an ``{"error": ...}`` event after this many SSE chunks, as OpenAI does when it gives up.
    error_after: int | None = None
    #: Characters per streamed text chunk (whole words are kept together when they fit).
    chunk_chars: int = 6
    #: Answer 200 with this body as it is (and ``content_type``) instead of a completion.
    raw_body: bytes | None = None
    content_type: str = "application/json"
    #: After this many SSE chunks send nothing for ``stall_seconds``, then drop the connection.
    stall_after: int | None = None
    stall_seconds: float = 0.0
    #: End the stream cleanly before the answer ends: no finish_reason, usage or ``[DONE]``.
    unfinished: bool = False
    #: Every chunk carries empty ``choices`` (and no usage); then ``[DONE]``.
    no_choices: bool = False


def reply(
    text: str = "",
    *,
    tool_calls: list[ToolCall] | tuple[ToolCall, ...] = (),
    usage: Usage | None = None,
    chunk_chars: int = 6,
) -> ScriptedResponse:
    """A normal answer: streamed text and/or tool calls, then usage.

    Example::

        reply("Hi!", tool_calls=[ToolCall("get_weather", '{"city": "Paris"}')], usage=Usage(12, 3))
    """
    return ScriptedResponse(text=text, tool_calls=tuple(tool_calls), usage=usage or Usage(), chunk_chars=chunk_chars)


def status_fault(status: int, *, message: str | None = None, retry_after: float | None = None) -> ScriptedResponse:
    """An HTTP error; ``retry_after`` (seconds) is sent as ``retry-after-ms`` and ``retry-after``.

    Example::

        status_fault(429, retry_after=0.01)
    """
    headers: list[tuple[str, str]] = []
    if retry_after is not None:
        headers.append(("retry-after-ms", str(round(retry_after * 1000))))
        headers.append(("retry-after", str(math.ceil(retry_after))))
    return ScriptedResponse(status=status, headers=tuple(headers), error_message=message or f"scripted HTTP {status}")


def delay_fault(seconds: float, text: str = "too late") -> ScriptedResponse:
    """Answer only after ``seconds``: a timeout when that exceeds the client's timeout.

    Example::

        delay_fault(5.0)
    """
    return ScriptedResponse(text=text, delay=seconds)


def cut_stream(text: str = "This answer will be cut off before the end", *, after_chunks: int = 2) -> ScriptedResponse:
    """Stream ``after_chunks`` chunks, then close the connection without finishing the body.

    Example::

        cut_stream(after_chunks=3)
    """
    return ScriptedResponse(text=text, cut_after=after_chunks)


def stream_error(message: str = "The server had an error while processing your request.", *, after_chunks: int = 1) -> ScriptedResponse:
    """A 200 stream that carries an ``{"error": ...}`` event after ``after_chunks`` chunks.

    Example::

        stream_error("overloaded")
    """
    return ScriptedResponse(text="partial answer", error_after=after_chunks, error_message=message)


def stalled_stream(text: str = "This answer stops arriving", *, after_chunks: int = 2, seconds: float = 60.0) -> ScriptedResponse:
    """Stream ``after_chunks`` chunks, then send nothing for ``seconds`` (a client timeout), then hang up.

    Example::

        stalled_stream(after_chunks=0, seconds=30)   # headers, then silence
    """
    return ScriptedResponse(text=text, stall_after=after_chunks, stall_seconds=seconds)


def unfinished_stream(text: str = "This answer ends too soon", *, after_chunks: int | None = None) -> ScriptedResponse:
    """The text (or its first ``after_chunks`` chunks), then a clean end of the body with no
    ``finish_reason``, no usage and no ``[DONE]``: an answer cut short by a proxy or a crashing server.

    Example::

        unfinished_stream("Hello wor")
    """
    return ScriptedResponse(text=text, unfinished=True, cut_after=after_chunks)


def empty_choices(chunks: int = 3) -> ScriptedResponse:
    """A 200 event stream of ``chunks`` chunks whose ``choices`` are all empty, then ``[DONE]``.

    Example::

        empty_choices(5)
    """
    return ScriptedResponse(text="x" * chunks, chunk_chars=1, no_choices=True, usage=None)


def html_page(body: str = "<!doctype html><html><body><h1>Please sign in</h1></body></html>") -> ScriptedResponse:
    """A 200 with an HTML page instead of a completion, as a login page or a misconfigured proxy sends.

    Example::

        server.default = html_page()
    """
    return ScriptedResponse(raw_body=body.encode(), content_type="text/html; charset=utf-8")


def malformed_tool_call(name: str = "get_weather", arguments: str = '{"city": "Par') -> ScriptedResponse:
    """A tool call whose arguments are not valid JSON.

    Example::

        malformed_tool_call("book", '{"party_size": 4,')
    """
    return reply(tool_calls=[ToolCall(name, arguments)])


def empty_reply() -> ScriptedResponse:
    """A completion with no text and no tool calls (only usage).

    Example::

        empty_reply()
    """
    return ScriptedResponse(text="", usage=Usage(prompt_tokens=10, completion_tokens=0))


@dataclass(frozen=True)
class ScriptedTranscript:
    """One scripted transcription result. Build with :func:`transcript`."""

    text: str
    #: ``(word, start, end)`` in seconds from the start of the uploaded file.
    words: tuple[tuple[str, float, float], ...] = ()
    language: str = "english"


def transcript(text: str, *, words: Any = (), language: str = "english") -> ScriptedTranscript:
    """A transcription result; ``words`` are sent when the request asks for word timestamps.

    Example::

        transcript("hi there", words=[("hi", 0.2, 0.4), ("there", 0.5, 0.8)])
    """
    return ScriptedTranscript(text=text, words=tuple((str(w), float(s), float(e)) for w, s, e in words), language=language)


@dataclass(frozen=True)
class ScriptedSpeech:
    """One scripted speech answer: a tone of ``duration`` seconds (``None``: per word of input)."""

    duration: float | None = None
    seconds_per_word: float = 0.3
    sample_rate: int = 24000

    def duration_for(self, text: str) -> float:
        """Seconds of audio for ``text``."""
        return self.duration if self.duration is not None else self.seconds_per_word * len(text.split())


def speech(duration: float | None = None, *, seconds_per_word: float = 0.3, sample_rate: int = 24000) -> ScriptedSpeech:
    """A speech answer lasting ``duration`` seconds, or ``seconds_per_word`` per word of the input.

    Example::

        speech(1.2)                         # 1.2 s of 24 kHz PCM whatever the text
        speech(seconds_per_word=0.25)       # 0.5 s for "Hello there."
    """
    return ScriptedSpeech(duration=duration, seconds_per_word=seconds_per_word, sample_rate=sample_rate)


def pcm16_tone(duration: float, sample_rate: int = 24000, frequency: float = 220.0) -> bytes:
    """Little-endian 16-bit mono PCM: a tone at half scale, ``round(duration * sample_rate)`` samples.

    Example::

        len(pcm16_tone(1.0))     # 48000 bytes
    """
    n = max(0, round(duration * sample_rate))
    step = 2 * math.pi * frequency / sample_rate
    samples = array.array("h", (round(16384 * math.sin(step * i)) for i in range(n)))
    if sys.byteorder == "big":
        samples.byteswap()
    return samples.tobytes()


@dataclass(frozen=True)
class UploadedFile:
    """The file part of a multipart request."""

    filename: str | None
    content_type: str | None
    data: bytes


@dataclass
class RecordedRequest:
    """One request the server received. Header names are lower-case; ``body`` is parsed JSON or ``None``."""

    method: str
    path: str
    headers: dict[str, str]
    body: Any


class OpenAIServer:
    """The scripted server; a context manager that starts it on a free port and stops it.

    Example::

        with OpenAIServer(default=reply("OK")) as server:
            server.base_url           # 'http://127.0.0.1:PORT/v1'
            server.request_count      # chat-completion requests so far
    """

    def __init__(self, *, default: ScriptedResponse | None = None, model: str = "gpt-4.1-mini", keep_requests: int | None = None) -> None:
        """``keep_requests`` bounds the request log to the last N (``None``: keep all, as tests want)."""
        self.default = default or reply("Hello from the test server.")
        self.model = model
        #: What transcription and speech requests get when their queues are empty.
        self.default_transcript = transcript("Hello from the test server.")
        self.default_speech = speech()
        self._queue: deque[ScriptedResponse] = deque()
        self._transcript_queue: deque[ScriptedTranscript | ScriptedResponse] = deque()
        self._speech_queue: deque[ScriptedSpeech | ScriptedResponse] = deque()
        self._requests: deque[RecordedRequest] = deque(maxlen=keep_requests)
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._connections: set[socket.socket] = set()
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._ids = 0

    # --- lifecycle -----------------------------------------------------------------------------

    def start(self) -> OpenAIServer:
        """Start listening (idempotent)."""
        if self._httpd is not None:
            return self
        self._stopping.clear()
        self._httpd = _HTTPServer(("127.0.0.1", 0), _Handler, self)
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.01}, name="openai-test-server", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, wake delayed handlers and drop open connections (idempotent)."""
        httpd, self._httpd = self._httpd, None
        if httpd is None:
            return
        self._stopping.set()
        httpd.shutdown()
        with self._lock:
            conns = list(self._connections)
        for conn in conns:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> OpenAIServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- scripting and inspection ----------------------------------------------------------------

    @property
    def port(self) -> int:
        """The port the server listens on."""
        if self._httpd is None:
            raise RuntimeError("OpenAIServer is not running; call start() or use it as a context manager")
        return self._httpd.server_address[1]

    @property
    def base_url(self) -> str:
        """The URL to pass as ``base_url`` (ends in ``/v1``)."""
        return f"http://127.0.0.1:{self.port}/v1"

    def enqueue(self, *responses: ScriptedResponse) -> None:
        """Script the next completion responses, in order."""
        with self._lock:
            self._queue.extend(responses)

    def enqueue_transcripts(self, *results: ScriptedTranscript | ScriptedResponse) -> None:
        """Script the next transcription answers (results or faults), in order."""
        with self._lock:
            self._transcript_queue.extend(results)

    def enqueue_speech(self, *results: ScriptedSpeech | ScriptedResponse) -> None:
        """Script the next speech answers (audio lengths or faults), in order."""
        with self._lock:
            self._speech_queue.extend(results)

    @property
    def transcriptions(self) -> list[RecordedRequest]:
        """The transcription requests received, oldest first (``body`` is the form)."""
        return [r for r in self.requests if r.path.rstrip("/").endswith("/audio/transcriptions")]

    @property
    def speeches(self) -> list[RecordedRequest]:
        """The speech requests received, oldest first."""
        return [r for r in self.requests if r.path.rstrip("/").endswith("/audio/speech")]

    @property
    def pending(self) -> int:
        """Scripted responses not yet used."""
        with self._lock:
            return len(self._queue)

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every request received (all paths), oldest first."""
        with self._lock:
            return list(self._requests)

    @property
    def completions(self) -> list[RecordedRequest]:
        """The chat-completion requests received, oldest first."""
        return [r for r in self.requests if r.path.endswith("/chat/completions")]

    @property
    def request_count(self) -> int:
        """How many chat-completion requests were received."""
        return len(self.completions)

    @property
    def last_body(self) -> Any:
        """The body of the last chat-completion request."""
        completions = self.completions
        if not completions:
            raise AssertionError("the server received no chat-completion request")
        return completions[-1].body

    # --- used by the handler -----------------------------------------------------------------

    def _record(self, req: RecordedRequest) -> None:
        with self._lock:
            self._requests.append(req)

    def _next_response(self) -> ScriptedResponse:
        with self._lock:
            return self._queue.popleft() if self._queue else self.default

    def _next_audio(self, queue: deque[Any], default: Any) -> Any:
        with self._lock:
            return queue.popleft() if queue else default

    def _next_id(self, prefix: str) -> str:
        with self._lock:
            self._ids += 1
            return f"{prefix}{self._ids:06d}"


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    #: Connections waiting to be accepted (socketserver's default of 5 refuses a crowd of clients).
    request_queue_size = 1024

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler], owner: OpenAIServer) -> None:
        self.owner = owner
        super().__init__(address, handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Clients hanging up (timeouts, cancelled streams) are expected here; stay quiet about them.
        return


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = IDLE_TIMEOUT
    #: Headers and body go out in separate writes: with Nagle's algorithm the body waits for the
    #: client's delayed ACK, 40 ms per answer.
    disable_nagle_algorithm = True
    server: _HTTPServer

    def setup(self) -> None:
        super().setup()
        with self.owner._lock:
            self.owner._connections.add(self.connection)
        self._served = 0

    def finish(self) -> None:
        with self.owner._lock:
            self.owner._connections.discard(self.connection)
        try:
            super().finish()
        except OSError:
            pass

    @property
    def owner(self) -> OpenAIServer:
        return self.server.owner

    def log_message(self, format: str, *args: Any) -> None:
        return

    def handle_one_request(self) -> None:
        self._served += 1
        if self._served >= MAX_REQUESTS_PER_CONNECTION or self.owner._stopping.is_set():
            self.close_connection = True
        try:
            super().handle_one_request()
        except OSError:
            self.close_connection = True

    # --- routes ----------------------------------------------------------------------------------

    def do_GET(self) -> None:
        self._record(None)
        if self.path.rstrip("/") in ("/v1/models", "/models"):
            model = {"id": self.owner.model, "object": "model", "created": 0, "owned_by": "agentlab"}
            self._send_json(200, {"object": "list", "data": [model]})
        else:
            self._send_json(404, _error_body(f"no route GET {self.path}", "invalid_request_error"))

    def do_POST(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        raw = self.rfile.read(length) if length else b""
        if self.path.rstrip("/") in ("/v1/audio/transcriptions", "/audio/transcriptions"):
            self._transcription(raw)
            return
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            self._record(raw.decode("utf-8", "replace"))
            self._send_json(400, _error_body("request body is not valid JSON", "invalid_request_error"))
            return
        self._record(body)
        if self.path.rstrip("/") in ("/v1/audio/speech", "/audio/speech"):
            self._speech(body)
            return
        if self.path.rstrip("/") not in ("/v1/chat/completions", "/chat/completions"):
            self._send_json(404, _error_body(f"no route POST {self.path}", "invalid_request_error"))
            return
        if not isinstance(body, dict) or not isinstance(body.get("messages"), list):
            self._send_json(400, _error_body("'messages' is required", "invalid_request_error"))
            return
        scripted = self.owner._next_response()
        if scripted.delay > 0 and self.owner._stopping.wait(scripted.delay):
            self.close_connection = True
            return
        if scripted.status != 200:
            kind = "rate_limit_exceeded" if scripted.status == 429 else "server_error"
            self._send_json(scripted.status, _error_body(scripted.error_message, kind), scripted.headers)
            return
        if scripted.raw_body is not None:
            self._send_raw(scripted.raw_body, scripted.content_type)
            return
        model = body.get("model") or self.owner.model
        if body.get("stream"):
            include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
            self._send_stream(scripted, model, include_usage)
        else:
            self._send_json(200, self._completion(scripted, model))

    # --- audio -----------------------------------------------------------------------------------

    def _audio_fault(self, scripted: Any) -> bool:
        """Apply a scripted fault's delay and error status; True when the request is answered."""
        if not isinstance(scripted, ScriptedResponse):
            return False
        if scripted.delay > 0 and self.owner._stopping.wait(scripted.delay):
            self.close_connection = True
            return True
        if scripted.status != 200:
            kind = "rate_limit_exceeded" if scripted.status == 429 else "server_error"
            self._send_json(scripted.status, _error_body(scripted.error_message, kind), scripted.headers)
            return True
        return False

    def _transcription(self, raw: bytes) -> None:
        form = _parse_multipart(raw, self.headers.get("content-type") or "")
        self._record(form if form is not None else raw.decode("utf-8", "replace"))
        if form is None:
            self._send_json(400, _error_body("expected a multipart/form-data body", "invalid_request_error"))
            return
        upload = form.get("file")
        if not isinstance(upload, UploadedFile) or not isinstance(form.get("model"), str):
            self._send_json(400, _error_body("'file' and 'model' are required", "invalid_request_error"))
            return
        scripted = self.owner._next_audio(self.owner._transcript_queue, self.owner.default_transcript)
        if self._audio_fault(scripted):
            return
        if isinstance(scripted, ScriptedResponse):  # a delay fault that answered in time
            scripted = ScriptedTranscript(scripted.text)
        fmt = form.get("response_format") or "json"
        if fmt in ("text", "srt", "vtt"):
            data = scripted.text.encode()
            self.send_response(200)
            self.send_header("content-type", "text/plain; charset=utf-8")
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            self.wfile.flush()
            return
        if fmt != "verbose_json":
            self._send_json(200, {"text": scripted.text, "usage": {"type": "duration", "seconds": _wav_seconds(upload.data)}})
            return
        granularities = form.get("timestamp_granularities[]", [])
        result: dict[str, Any] = {
            "task": "transcribe",
            "language": scripted.language,
            "duration": _wav_seconds(upload.data),
            "text": scripted.text,
            "segments": [],
        }
        if "word" in granularities:
            result["words"] = [{"word": w, "start": s, "end": e} for w, s, e in scripted.words]
        self._send_json(200, result)

    def _speech(self, body: Any) -> None:
        if not isinstance(body, dict) or not isinstance(body.get("input"), str) or not body.get("model") or not body.get("voice"):
            self._send_json(400, _error_body("'input', 'model' and 'voice' are required", "invalid_request_error"))
            return
        fmt = body.get("response_format") or "mp3"
        if fmt not in ("pcm", "wav"):
            self._send_json(400, _error_body(f"the test server only speaks 'pcm' and 'wav', not {fmt!r}", "invalid_request_error"))
            return
        scripted = self.owner._next_audio(self.owner._speech_queue, self.owner.default_speech)
        if self._audio_fault(scripted):
            return
        if isinstance(scripted, ScriptedResponse):
            scripted = self.owner.default_speech
        rate = scripted.sample_rate
        data = pcm16_tone(scripted.duration_for(body["input"]), rate)
        if fmt == "wav":
            buf = io.BytesIO()
            with wave.open(buf, "wb") as w:
                w.setnchannels(1)
                w.setsampwidth(2)
                w.setframerate(rate)
                w.writeframes(data)
            data = buf.getvalue()
        self.send_response(200)
        self.send_header("content-type", "audio/wav" if fmt == "wav" else "audio/pcm")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
        self.wfile.flush()

    # --- responses -------------------------------------------------------------------------------

    def _record(self, body: Any) -> None:
        headers = {k.lower(): v for k, v in self.headers.items()}
        self.owner._record(RecordedRequest(method=self.command, path=self.path, headers=headers, body=body))

    def _send_raw(self, data: bytes, content_type: str) -> None:
        self.send_response(200)
        self.send_header("content-type", content_type)
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
        self.wfile.flush()

    def _send_json(self, status: int, payload: Any, headers: tuple[tuple[str, str], ...] = ()) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        for name, value in headers:
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)
        self.wfile.flush()

    def _tool_ids(self, scripted: ScriptedResponse) -> list[str]:
        return [tc.call_id or self.owner._next_id("call_") for tc in scripted.tool_calls]

    def _completion(self, scripted: ScriptedResponse, model: str) -> dict[str, Any]:
        message: dict[str, Any] = {"role": "assistant", "content": scripted.text or None}
        if scripted.tool_calls:
            message["tool_calls"] = [
                {"id": call_id, "type": "function", "function": {"name": tc.name, "arguments": tc.arguments}}
                for call_id, tc in zip(self._tool_ids(scripted), scripted.tool_calls, strict=True)
            ]
        result: dict[str, Any] = {
            "id": self.owner._next_id("chatcmpl-"),
            "object": "chat.completion",
            "created": int(time.time()),
            "model": model,
            "choices": [{"index": 0, "message": message, "finish_reason": "tool_calls" if scripted.tool_calls else "stop"}],
        }
        if scripted.usage is not None:
            result["usage"] = scripted.usage.to_json()
        return result

    def _stream_events(self, scripted: ScriptedResponse, model: str, include_usage: bool) -> list[dict[str, Any]]:
        """The chunks OpenAI would send: role, text pieces, tool-call deltas, finish, usage."""
        cid = self.owner._next_id("chatcmpl-")
        created = int(time.time())

        def chunk(delta: dict[str, Any] | None, finish: str | None = None, usage: dict[str, Any] | None = None) -> dict[str, Any]:
            choices = [] if delta is None else [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}]
            return {"id": cid, "object": "chat.completion.chunk", "created": created, "model": model, "choices": choices, "usage": usage}

        if scripted.no_choices:
            return [chunk(None) for _ in _split_text(scripted.text, scripted.chunk_chars)]
        events = [chunk({"role": "assistant", "content": "", "refusal": None})]
        events += [chunk({"content": piece}) for piece in _split_text(scripted.text, scripted.chunk_chars)]
        for index, (call_id, tc) in enumerate(zip(self._tool_ids(scripted), scripted.tool_calls, strict=True)):
            first = {"index": index, "id": call_id, "type": "function", "function": {"name": tc.name, "arguments": ""}}
            events.append(chunk({"tool_calls": [first]}))
            for frag in _split_arguments(tc.arguments):
                events.append(chunk({"tool_calls": [{"index": index, "function": {"arguments": frag}}]}))
        if scripted.unfinished:
            return events
        events.append(chunk({}, finish="tool_calls" if scripted.tool_calls else "stop"))
        if include_usage and scripted.usage is not None:
            events.append(chunk(None, usage=scripted.usage.to_json()))
        return events

    def _send_stream(self, scripted: ScriptedResponse, model: str, include_usage: bool) -> None:
        self.send_response(200)
        self.send_header("content-type", "text/event-stream; charset=utf-8")
        self.send_header("cache-control", "no-cache")
        # Chunked framing, as OpenAI uses: a body cut short is then a protocol error, not a clean end.
        self.send_header("transfer-encoding", "chunked")
        self.end_headers()
        for n, event in enumerate(self._stream_events(scripted, model, include_usage)):
            if scripted.stall_after is not None and n >= scripted.stall_after:
                self.owner._stopping.wait(scripted.stall_seconds)
                self._drop_connection()
                return
            if scripted.cut_after is not None and n >= scripted.cut_after:
                if scripted.unfinished:
                    break  # a clean end of the body, as if the server meant it
                self._drop_connection()
                return
            if scripted.error_after is not None and n >= scripted.error_after:
                self._write_chunk(b"data: " + json.dumps(_error_body(scripted.error_message, "server_error")).encode() + b"\n\n")
                break
            self._write_chunk(b"data: " + json.dumps(event).encode() + b"\n\n")
        else:
            if not scripted.unfinished:
                self._write_chunk(b"data: [DONE]\n\n")
        self._write_chunk(b"")

    def _write_chunk(self, data: bytes) -> None:
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()

    def _drop_connection(self) -> None:
        self.close_connection = True
        try:
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def _error_body(message: str, kind: str) -> dict[str, Any]:
    return {"error": {"message": message, "type": kind, "param": None, "code": kind}}


def _parse_multipart(raw: bytes, content_type: str) -> dict[str, Any] | None:
    """A multipart/form-data body as ``{name: str | UploadedFile}``; ``name[]`` fields become lists."""
    boundary = re.search(r'boundary="?([^";]+)"?', content_type)
    if not content_type.lower().startswith("multipart/form-data") or boundary is None:
        return None
    form: dict[str, Any] = {}
    # Every delimiter is CRLF "--" boundary (the first one's CRLF is implied), so part bodies need no trimming.
    pieces = (b"\r\n" + raw).split(b"\r\n--" + boundary.group(1).encode())
    if len(pieces) < 2 or not pieces[-1].startswith(b"--"):
        return None
    for piece in pieces[1:-1]:
        head, sep, data = piece.partition(b"\r\n\r\n")
        if not sep:
            return None
        headers: dict[str, str] = {}
        for line in head.decode("utf-8", "replace").split("\r\n"):
            key, colon, value = line.partition(":")
            if colon:
                headers[key.strip().lower()] = value.strip()
        disposition = headers.get("content-disposition", "")
        name = _header_param(disposition, "name")
        if name is None:
            return None
        filename = _header_param(disposition, "filename")
        value: Any = UploadedFile(filename, headers.get("content-type"), data) if filename is not None else data.decode()
        if name.endswith("[]"):
            form.setdefault(name, []).append(value)
        else:
            form[name] = value
    return form


def _header_param(header: str, key: str) -> str | None:
    match = re.search(rf'(?:^|;)\s*{key}="([^"]*)"', header)
    return match.group(1) if match else None


def _wav_seconds(data: bytes) -> float:
    """The duration of a WAV file, 0.0 when it is not one the ``wave`` module reads."""
    try:
        with wave.open(io.BytesIO(data), "rb") as w:
            return w.getnframes() / w.getframerate()
    except (wave.Error, EOFError, ZeroDivisionError):
        return 0.0


def _split_text(text: str, size: int) -> list[str]:
    """Text in pieces of about ``size`` characters, splitting between words where possible."""
    pieces: list[str] = []
    for word in re.findall(r"\S+\s*|\s+", text):
        if pieces and len(pieces[-1]) + len(word) <= size:
            pieces[-1] += word
        else:
            pieces.extend(word[i : i + size] for i in range(0, len(word), size))
    return pieces


def _split_arguments(arguments: str) -> list[str]:
    """Argument JSON in three or so fragments, cut at arbitrary points as OpenAI does."""
    if not arguments:
        return []
    step = max(1, math.ceil(len(arguments) / 3))
    return [arguments[i : i + step] for i in range(0, len(arguments), step)]


def main() -> None:
    """Serve ``reply(...)`` until interrupted; print the base URL first (for benchmarks)."""
    import argparse

    parser = argparse.ArgumentParser(description="A scripted OpenAI-compatible server on 127.0.0.1 (tests/openai_server.py).")
    parser.add_argument("--reply", default="Sure, here is a short answer to that question.", help="what every completion says")
    args = parser.parse_args()
    server = OpenAIServer(default=reply(args.reply), keep_requests=0)
    with server:
        print(f"base_url={server.base_url}", flush=True)
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
