"""Console mode (as in LiveKit's and VideoSDK's ``console``): your agent file, in the terminal.

``agentlab console path/to/agent.py`` loads the file — written for agentlab, or for
``livekit.agents`` (its imports, ``from livekit import agents`` too, are read as
``agentlab.livekit``), standalone or a module of a package (its relative imports work) — and runs
a text chat on the real clock: type a line, watch the agent's reply stream in, its tool calls,
errors, the agent and user states, and each turn's latencies. A file with an entrypoint
(``AgentServer`` + ``@server.rtc_session()``, or an ``entrypoint(ctx)`` function) runs *it*: the
session it builds, with its options, handlers and root agent. Otherwise the console starts the
file's first agent class. The LLM is OpenAI when ``OPENAI_API_KEY`` is set (``--model``), a scripted
echo otherwise (standing in for the file's cloud model), so it always runs offline; an agent that
brings its own LLM object (``Agent(llm=...)``) keeps it. ``agentlab chat`` is the same chat with the quickstart restaurant
agent, quieter (states and latencies only with ``--verbose``).

An empty line is ignored; ``/quit``, Ctrl-D or Ctrl-C (exit status 130) leave.

``--audio FILE`` instead plays a recording through the voice pipeline on the virtual clock and
prints the turn-by-turn decisions; ``--save-wav`` and ``--save-timeline`` keep what was heard and
the run's timeline. The transcripts come from the labels when ``FILE`` belongs to a labelled
conversation (a ``<stem>.json`` beside it in a dataset folder), else from local Whisper when
``agentlab-voice[whisper]`` is installed.

Example::

    agentlab console agentlab/examples/restaurant.py
    agentlab console tests/livekit_agents/tool_agent.py
    agentlab console my_agent.py --audio datasets/overlaps/overlaps-002.flac --save-wav heard.wav --save-timeline run.png
"""

from __future__ import annotations

import ast
import asyncio
import codecs
import inspect
import os
import sys
import textwrap
import threading
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TextIO

from .models.scripted import Rule, ScriptedLLM
from .session.agent import Agent

__all__ = ["ConsoleError", "find_agent", "load_agent_module", "run_chat", "run_console", "run_server_console"]

#: Exit status after Ctrl-C (128 + SIGINT), as shells report it.
INTERRUPTED = 130


class ConsoleError(Exception):
    """Why the console cannot run (the message names the file and what to change)."""


def load_agent_module(path: str | os.PathLike[str]) -> Any:
    """Import the agent file at ``path`` (``livekit.agents`` imports read as ``agentlab.livekit``).

    Example::

        module = load_agent_module("agentlab/examples/restaurant.py")
        find_agent(module).__name__    # 'Host'
    """
    return _load(path).module


def _load(path: str | os.PathLike[str]) -> Any:
    from .livekit import AgentFileError, load_agent_file

    try:
        return load_agent_file(path)
    except AgentFileError as e:
        raise ConsoleError(str(e)) from None


def find_agent(module: Any, name: str | None = None) -> type[Agent]:
    """The Agent class to start with: ``name``, else the first one defined in the module that no
    other agent there hands off to (a handoff target is not where a conversation starts).

    Example::

        find_agent(load_agent_module("agentlab/examples/restaurant.py"))   # Host, not EventsDesk
    """
    from .livekit._agent_file import agent_classes

    classes = agent_classes(module, tasks=True)
    if name is not None:
        found = [c for c in classes if c.__name__ == name]
        if not found:
            raise ConsoleError(f"{module.__file__}: no Agent class {name!r}; it defines {[c.__name__ for c in classes]}")
        return found[0]
    if not classes:
        raise ConsoleError(f"{module.__file__}: defines no Agent subclass (class MyAgent(Agent): ...)")
    targets = _handoff_targets(classes)
    return next((c for c in classes if c.__name__ not in targets), classes[0])


def _handoff_targets(classes: list[type[Agent]]) -> set[str]:
    """Names of the classes that another class's code mentions (its handoffs)."""
    names = {c.__name__ for c in classes}
    found: set[str] = set()
    for cls in classes:
        try:
            tree = ast.parse(textwrap.dedent(inspect.getsource(cls)))
        except (OSError, TypeError, SyntaxError):  # no source to read: no handoffs known
            continue
        found |= {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and n.id in names and n.id != cls.__name__}
    return found


def _llm(model: str) -> tuple[Any, str]:
    if os.environ.get("OPENAI_API_KEY"):
        from .models.openai import OpenAILLM

        return OpenAILLM(model=model), f"OpenAI {model}"
    echo = Rule(reply=lambda m: "(scripted) You said: " + (m.chat_ctx.items[-1].text_content or "") if m.chat_ctx.items else "Hello!")
    return ScriptedLLM(rules=[echo], ttft=0.2), f"a scripted echo, offline (set OPENAI_API_KEY for OpenAI {model})"


def _llm_used(agent: Agent, session_llm: str) -> str:
    """What answers: the agent's own LLM when it brings one, else the session's (described)."""
    own = agent.llm  # before the session starts: the agent's own LLM only
    if own is None:
        return session_llm
    model = getattr(own, "model", None)
    return f"the agent's own {type(own).__name__}" + (f" ({model})" if isinstance(model, str) else "")


def run_console(
    path: str,
    *,
    agent: str | None = None,
    audio: str | None = None,
    model: str = "gpt-4.1-mini",
    save_wav: str | None = None,
    save_timeline: str | None = None,
    verbose: bool = True,
    out: TextIO = sys.stdout,
) -> int:
    """What ``agentlab console`` runs; returns the exit status (2 with a one-line message on bad input).

    Example::

        run_console("agentlab/examples/restaurant.py")                  # a text chat with Host
        run_console("agent.py", audio="call.flac", save_wav="heard.wav")
    """
    try:
        app = _load(path)
        llm, what = _llm(model)
        if app.server is not None and agent is None and audio is None:
            return _entrypoint_chat(app, path, llm, what, out, verbose=verbose)
        cls = find_agent(app.module, agent)
        if audio is not None:
            print(f"agentlab console: {cls.__name__} from {path}, LLM: {what}", file=out, flush=True)
            return _audio(cls, llm, audio, out, save_wav=save_wav, save_timeline=save_timeline)
        instance = cls()
        banner = f"agentlab console: {cls.__name__} from {path}, LLM: {_llm_used(instance, what)}"
        return _run_chat(_new_session(instance, llm), banner, out, verbose=verbose)
    except ConsoleError as e:
        print(f"agentlab console: {e}", file=sys.stderr)
        return 2


def run_chat(*, model: str = "gpt-4.1-mini", verbose: bool = False, out: TextIO = sys.stdout) -> int:
    """What ``agentlab chat`` runs: the quickstart restaurant host, on OpenAI when ``OPENAI_API_KEY``
    is set, else on its offline scripted model; returns the exit status.

    Example::

        run_chat(verbose=True)
    """
    from .examples.restaurant import Host, scripted_llm

    if os.environ.get("OPENAI_API_KEY"):
        llm, what = f"openai/{model}", f"OpenAI {model}"
    else:
        llm, what = scripted_llm(ttft=0.2), f"the quickstart's scripted model, offline (set OPENAI_API_KEY for OpenAI {model})"
    banner = f"agentlab chat: Host, the quickstart restaurant agent (agentlab.examples.restaurant), LLM: {what}"
    return _run_chat(_new_session(Host(), llm, userdata={}), banner, out, verbose=verbose)


def run_server_console(server: Any, path: str, *, verbose: bool = True, model: str = "gpt-4.1-mini", out: TextIO = sys.stdout) -> int:
    """``python agent.py console`` (LiveKit's ``cli.run_app(server)``): a chat with the server's entrypoint."""
    from .livekit import AgentFile

    llm, what = _llm(model)
    return _entrypoint_chat(AgentFile(Path(path), None, server), path, llm, what, out, verbose=verbose)


def _entrypoint_chat(app: Any, path: str, llm: Any, what: str, out: TextIO, *, verbose: bool) -> int:
    """A chat with the session the file's own entrypoint builds (its options, handlers and root
    agent), as LiveKit's console does; ``llm`` stands in for its cloud model when no key is set."""
    offline = {} if os.environ.get("OPENAI_API_KEY") else {"llm": llm}
    banner = f"agentlab console: {path}, its entrypoint {app.server.entrypoint.__name__}(), LLM: {what}"
    return _run_chat(_job_session(app, offline), banner, out, verbose=verbose)


#: Opens the chat's session with its handlers attached (``attach(session)`` before the agent
#: starts, so the greeting is shown) and returns it with the coroutine function that closes it.
_Opener = Callable[[Callable[[Any], None]], Awaitable[tuple[Any, Callable[[], Awaitable[None]]]]]


def _new_session(agent: Agent, llm: Any, *, userdata: Any = None) -> _Opener:
    async def open_session(attach: Callable[[Any], None]) -> tuple[Any, Callable[[], Awaitable[None]]]:
        from .session.session import AgentSession

        session = AgentSession(llm=llm) if userdata is None else AgentSession(llm=llm, userdata=userdata)
        attach(session)
        await session.start(agent)
        return session, session.aclose

    return open_session


def _job_session(app: Any, offline: dict[str, Any]) -> _Opener:
    async def open_session(attach: Callable[[Any], None]) -> tuple[Any, Callable[[], Awaitable[None]]]:
        from .livekit import AgentFileError

        try:
            # a text chat: no TTS, so replies are not held back by simulated speaking time
            ctx = await app.start(on_session=attach, tts=None, **offline)
        except AgentFileError as e:
            raise ConsoleError(str(e)) from None
        return ctx.primary_session, ctx.aclose

    return open_session


def _run_chat(open_session: _Opener, banner: str, out: TextIO, *, verbose: bool) -> int:
    print(f"{banner}\nType a message and press Enter; /quit, Ctrl-D or Ctrl-C to leave.", file=out, flush=True)
    try:
        asyncio.run(_chat(open_session, out, verbose=verbose))
    except KeyboardInterrupt:
        print(file=out, flush=True)  # end the line the prompt or a reply was on
        return INTERRUPTED
    except ConsoleError as e:
        print(f"agentlab console: {e}", file=sys.stderr)
        return 2
    return 0


class _Transcript:
    """The terminal side of a chat: whole lines, the agent's reply streaming into its own line
    (the session's text output, LiveKit's ``TextOutput``), and notes shown only when verbose."""

    def __init__(self, out: TextIO, *, verbose: bool) -> None:
        self.out, self.verbose = out, verbose
        self.t0 = time.monotonic()
        self.streaming = False  # a reply's line is open
        self.streamed = ""  # what streamed since the last finished reply

    def line(self, text: str) -> None:
        self._close()
        print(text, file=self.out, flush=True)

    def note(self, text: str) -> None:
        if self.verbose:
            self.line(f"{time.monotonic() - self.t0:7.2f}s  [{text}]")

    async def capture_text(self, text: str) -> None:
        if not self.streaming:
            self.out.write("agent> ")
            self.streaming = True
        self.out.write(text)
        self.out.flush()
        self.streamed += text

    def flush(self) -> None:
        self._close()

    def reply_done(self, text: str, interrupted: bool) -> None:
        """The reply's message reached the history: shown whole if nothing of it streamed."""
        if not self.streamed.strip() and text:
            self.line(f"agent> {text}")
        if interrupted:
            self.line("  [interrupted]")
        self.streamed = ""

    def _close(self) -> None:
        if self.streaming:
            self.out.write("\n")
            self.out.flush()
            self.streaming = False


def _read_lines(loop: asyncio.AbstractEventLoop, queue: asyncio.Queue[str | None]) -> None:
    """Feed stdin's lines to ``queue`` (``None`` at its end), from a daemon thread.

    A daemon thread, because a blocked read must not hold the process when Ctrl-C ends it; and
    ``os.read`` on the descriptor, because a daemon thread stuck inside ``sys.stdin``'s buffer would
    hold its lock while the interpreter shuts down.
    """

    def put(item: str | None) -> None:
        try:
            loop.call_soon_threadsafe(queue.put_nowait, item)
        except RuntimeError:  # the chat has ended and its loop is closed
            pass

    try:
        fd = sys.stdin.fileno()
    except (AttributeError, OSError, ValueError):  # a stdin without a descriptor (replaced in tests)
        for line in iter(sys.stdin.readline, ""):
            put(line)
        put(None)
        return
    decoder = codecs.getincrementaldecoder(sys.stdin.encoding or "utf-8")(errors="replace")
    pending = ""
    while True:
        try:
            chunk = os.read(fd, 4096)
        except OSError:  # the terminal went away: as the end of input
            chunk = b""
        if not chunk:
            break
        pending += decoder.decode(chunk)
        *lines, pending = pending.split("\n")
        for line in lines:
            put(line + "\n")
    if pending:
        put(pending)
    put(None)


async def _chat(open_session: _Opener, out: TextIO, *, verbose: bool) -> None:
    shown = _Transcript(out, verbose=verbose)
    marks: dict[str, float] = {}

    def on_item(e: Any) -> None:
        item = e.item
        if item.type == "message" and item.role == "assistant":
            shown.reply_done(item.text_content or "", item.interrupted)

    def on_tools(e: Any) -> None:
        for call, output in e.zipped():
            shown.line(f"  tool {call.name}({call.arguments}) -> {output.output if output is not None else '(no output)'}")

    def on_metrics(e: Any) -> None:
        if e.metrics.type == "llm_metrics":
            marks.setdefault("ttft", e.metrics.ttft)

    def on_agent_state(e: Any) -> None:
        shown.note(f"agent {e.old_state} -> {e.new_state}")
        if e.new_state == "speaking":
            marks.setdefault("speaking", time.monotonic())

    def on_error(e: Any) -> None:
        # a failed turn says why, instead of a silent agent
        if not e.recoverable:
            shown.line(f"  error ({e.source}): {type(e.error).__name__}: {e.error}")

    def attach(session: Any) -> None:
        session.output.transcription = shown
        session.on("agent_state_changed", on_agent_state)
        session.on("user_state_changed", lambda e: shown.note(f"user {e.old_state} -> {e.new_state}"))
        session.on("conversation_item_added", on_item)
        session.on("function_tools_executed", on_tools)
        session.on("metrics_collected", on_metrics)
        session.on("error", on_error)

    session, close = await open_session(attach)
    # The agent may end the conversation itself (an end_call tool shuts the session down).
    closed = asyncio.get_running_loop().create_future()
    session.on("close", lambda e: closed.done() or closed.set_result(e.reason))
    try:
        await session.wait_for_idle()
        await _chat_loop(session, shown, marks, closed)
    finally:
        await close()
    if closed.done():
        shown.line(f"[the session closed: {closed.result()}]")
    shown.line("bye")


async def _chat_loop(session: Any, shown: _Transcript, marks: dict[str, float], closed: asyncio.Future[str]) -> None:
    loop = asyncio.get_running_loop()
    lines: asyncio.Queue[str | None] = asyncio.Queue()
    threading.Thread(target=_read_lines, args=(loop, lines), name="agentlab-chat-input", daemon=True).start()
    interactive = sys.stdin.isatty()
    while not closed.done():
        if interactive:
            shown.out.write("you> ")
            shown.out.flush()
        getter = asyncio.ensure_future(lines.get())
        await asyncio.wait([getter, closed], return_when=asyncio.FIRST_COMPLETED)
        if not getter.done():
            getter.cancel()
            return
        line = getter.result()
        if line is None:
            return
        text = line.strip()
        if not text:
            continue  # an empty line is a slip of the Enter key, not a goodbye
        if text in ("/quit", "/exit"):
            return
        if not interactive:
            shown.line(f"you> {text}")  # piped input is not echoed by a terminal
        marks.clear()
        sent = time.monotonic()
        handle = session.generate_reply(user_input=text)
        await handle.wait_for_playout()
        await session.wait_for_idle()
        first, ttft = marks.get("speaking"), marks.get("ttft")
        shown.note(
            "latency: "
            + (f"first words {first - sent:.3f}s" if first is not None else "no reply")
            + (f", LLM ttft {ttft:.3f}s" if ttft is not None else "")
        )


def _audio(cls: type[Agent], llm: Any, audio: str, out: TextIO, *, save_wav: str | None = None, save_timeline: str | None = None) -> int:
    from .datasets import load
    from .datasets.convert import simulate_conversation
    from .sim import simulate

    file = Path(audio)
    if not file.is_file():
        raise ConsoleError(f"{file}: no such audio file")
    labels = file.with_suffix(".json")
    if labels.is_file() and (file.parent / "manifest.json").is_file():
        data = load(file.parent)
        conv = next((c for c in data if c.audio is not None and Path(c.audio).resolve() == file.resolve()), None)
        if conv is None:
            raise ConsoleError(f"{file}: {labels.name} does not label this recording")
        run = simulate_conversation(conv, cls, {"llm": llm})
        source = f"labelled transcripts from {labels.name}"
    else:
        try:
            from .models.whisper import WhisperSTT

            stt = WhisperSTT()
        except Exception as e:
            raise ConsoleError(
                f"{file}: no labels beside it ({labels.name}) and no local Whisper ({type(e).__name__}); "
                "pip install 'agentlab-voice[whisper]' or use a labelled recording"
            ) from None
        try:
            run = simulate(cls, {"llm": llm, "stt": stt}, str(file))
        except (ValueError, OSError) as e:  # unreadable, silent or unsupported audio: say why, no traceback
            raise ConsoleError(f"{file}: {e}") from None
        source = "local Whisper transcripts"
    print(f"voice pipeline on the virtual clock, {source}: {run}", file=out)
    for e in run.events.itertuples():
        line = None
        if e.type == "user_state_changed":
            line = f"user {e.old_state} -> {e.new_state}"
        elif e.type == "user_input_transcribed" and e.is_final is True:
            line = f"transcript: {e.transcript}"
        elif e.type == "agent_state_changed":
            line = f"agent {e.old_state} -> {e.new_state}"
        elif e.type == "agent_false_interruption":
            line = f"false interruption, resumed={e.resumed}"
        elif e.type == "conversation_item_added" and isinstance(e.role, str):
            line = f"{e.role}: {e.text}" + (" [interrupted]" if e.interrupted is True else "")
        if line:
            print(f"{e.created_at:7.2f}s  {line}", file=out)
    eou = run.metrics[run.metrics["type"] == "eou_metrics"]
    for m in eou.itertuples():
        print(f"{m.created_at:7.2f}s  turn committed {m.end_of_utterance_delay:.3f}s after the user stopped", file=out)
    print(f"summary: {run.summary()}", file=out)
    for target, what, write in (
        (save_wav, "what was heard (user left, agent right)", lambda p: run.write_audio(p)),
        (save_timeline, "the timeline", lambda p: run.timeline().savefig(p, dpi=110)),
    ):
        if target is None:
            continue
        try:
            write(target)
        except (OSError, ValueError) as e:  # a missing folder, an extension matplotlib cannot write
            raise ConsoleError(f"{target}: cannot write {what}: {e}") from None
        print(f"wrote {target}: {what}", file=out)
    return 0
