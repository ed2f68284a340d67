"""A scripted OpenAI-compatible chat-completions server for tests (standard library only).

It listens on 127.0.0.1 on a free port in a background thread and answers
``POST /v1/chat/completions`` (SSE when ``stream`` is true, JSON otherwise) and ``GET /v1/models``.
Each completion request takes the next scripted response from a queue (a reply or a fault); when
the queue is empty, ``server.default`` answers. Every request is recorded with its headers and body.

Example::

    with OpenAIServer() as server:
        server.enqueue(reply("Hello there!"), status_fault(429, retry_after=0.01))
        llm = OpenAILLM(base_url=server.base_url, api_key="sk-test")
        ...
        server.completions[0].body["messages"]
"""

from __future__ import annotations

import json
import math
import re
import socket
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = [
    "OpenAIServer",
    "RecordedRequest",
    "ScriptedResponse",
    "ToolCall",
    "Usage",
    "cut_stream",
    "delay_fault",
    "empty_reply",
    "malformed_tool_call",
    "reply",
    "status_fault",
    "stream_error",
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

    def __init__(self, *, default: ScriptedResponse | None = None, model: str = "gpt-4.1-mini") -> None:
        self.default = default or reply("Hello from the test server.")
        self.model = model
        self._queue: deque[ScriptedResponse] = deque()
        self._requests: list[RecordedRequest] = []
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

    def _next_id(self, prefix: str) -> str:
        with self._lock:
            self._ids += 1
            return f"{prefix}{self._ids:06d}"


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler], owner: OpenAIServer) -> None:
        self.owner = owner
        super().__init__(address, handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Clients hanging up (timeouts, cancelled streams) are expected here; stay quiet about them.
        return


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = IDLE_TIMEOUT
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
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            self._record(raw.decode("utf-8", "replace"))
            self._send_json(400, _error_body("request body is not valid JSON", "invalid_request_error"))
            return
        self._record(body)
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
        model = body.get("model") or self.owner.model
        if body.get("stream"):
            include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
            self._send_stream(scripted, model, include_usage)
        else:
            self._send_json(200, self._completion(scripted, model))

    # --- responses -------------------------------------------------------------------------------

    def _record(self, body: Any) -> None:
        headers = {k.lower(): v for k, v in self.headers.items()}
        self.owner._record(RecordedRequest(method=self.command, path=self.path, headers=headers, body=body))

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

        events = [chunk({"role": "assistant", "content": "", "refusal": None})]
        events += [chunk({"content": piece}) for piece in _split_text(scripted.text, scripted.chunk_chars)]
        for index, (call_id, tc) in enumerate(zip(self._tool_ids(scripted), scripted.tool_calls, strict=True)):
            first = {"index": index, "id": call_id, "type": "function", "function": {"name": tc.name, "arguments": ""}}
            events.append(chunk({"tool_calls": [first]}))
            for frag in _split_arguments(tc.arguments):
                events.append(chunk({"tool_calls": [{"index": index, "function": {"arguments": frag}}]}))
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
            if scripted.cut_after is not None and n >= scripted.cut_after:
                self._drop_connection()
                return
            if scripted.error_after is not None and n >= scripted.error_after:
                self._write_chunk(b"data: " + json.dumps(_error_body(scripted.error_message, "server_error")).encode() + b"\n\n")
                break
            self._write_chunk(b"data: " + json.dumps(event).encode() + b"\n\n")
        else:
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
