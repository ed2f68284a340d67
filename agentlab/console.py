"""Console mode (as in LiveKit's and VideoSDK's ``console``): your agent file, in the terminal.

``agentlab console path/to/agent.py`` loads the file — written for agentlab, or for
``livekit.agents`` (its ``livekit.agents`` imports are read as ``agentlab``) — picks its agent
class and runs a text chat on the real clock: type a line, see the agent's reply, its tool calls,
the agent and user states, and each turn's latencies. The LLM is OpenAI when ``OPENAI_API_KEY`` is
set (``--model``), a scripted echo otherwise, so it always runs offline; an agent that brings its
own LLM (``Agent(llm=...)``) keeps it.

``--audio FILE`` instead plays a recording through the voice pipeline on the virtual clock and
prints the turn-by-turn decisions. The transcripts come from the labels when ``FILE`` belongs to a
labelled conversation (a ``<stem>.json`` beside it in a dataset folder), else from local Whisper
when ``agentlab[whisper]`` is installed.

Example::

    agentlab console tests/livekit_agents/tool_agent.py
    agentlab console my_agent.py --audio datasets/overlaps/overlaps-002.flac
"""

from __future__ import annotations

import asyncio
import importlib.util
import os
import sys
import time
from pathlib import Path
from typing import Any, TextIO

from .models.scripted import Rule, ScriptedLLM
from .session.agent import Agent

__all__ = ["ConsoleError", "find_agent", "load_agent_module", "run_console"]


class ConsoleError(Exception):
    """Why the console cannot run (the message names the file and what to change)."""


def load_agent_module(path: str | os.PathLike[str]) -> Any:
    """Import the agent file at ``path`` (``livekit.agents`` imports read as ``agentlab``)."""
    file = Path(path)
    if not file.is_file():
        raise ConsoleError(f"{file}: no such agent file")
    source = file.read_text().replace("livekit.agents", "agentlab")
    name = f"_agentlab_console_{file.stem}"
    spec = importlib.util.spec_from_loader(name, loader=None, origin=str(file))
    module = importlib.util.module_from_spec(spec)
    module.__file__ = str(file)
    sys.modules[name] = module
    sys.path.insert(0, str(file.parent.resolve()))
    try:
        exec(compile(source, str(file), "exec"), module.__dict__)
    except Exception as e:
        raise ConsoleError(f"{file}: importing it failed: {type(e).__name__}: {e}") from e
    finally:
        sys.path.pop(0)
    return module


def find_agent(module: Any, name: str | None = None) -> type[Agent]:
    """The Agent class to start with: ``name``, else the first one defined in the module."""
    classes = [v for v in vars(module).values() if isinstance(v, type) and issubclass(v, Agent) and v.__module__ == module.__name__]
    if name is not None:
        found = [c for c in classes if c.__name__ == name]
        if not found:
            raise ConsoleError(f"{module.__file__}: no Agent class {name!r}; it defines {[c.__name__ for c in classes]}")
        return found[0]
    if not classes:
        raise ConsoleError(f"{module.__file__}: defines no Agent subclass (class MyAgent(Agent): ...)")
    return classes[0]


def _llm(model: str) -> tuple[Any, str]:
    if os.environ.get("OPENAI_API_KEY"):
        from .models.openai import OpenAILLM

        return OpenAILLM(model=model), f"OpenAI {model}"
    echo = Rule(reply=lambda m: "(scripted) You said: " + (m.chat_ctx.items[-1].text_content or "") if m.chat_ctx.items else "Hello!")
    return ScriptedLLM(rules=[echo], ttft=0.2), "a scripted echo (set OPENAI_API_KEY for a real model)"


def run_console(
    path: str, *, agent: str | None = None, audio: str | None = None, model: str = "gpt-4.1-mini", out: TextIO = sys.stdout
) -> int:
    """What ``agentlab console`` runs; returns the exit status."""
    try:
        cls = find_agent(load_agent_module(path), agent)
        llm, what = _llm(model)
        print(f"agentlab console: {cls.__name__} from {path}, LLM: {what}", file=out, flush=True)
        if audio is not None:
            return _audio(cls, llm, audio, out)
        asyncio.run(_chat(cls, llm, out))
    except ConsoleError as e:
        print(f"agentlab console: {e}", file=sys.stderr)
        return 2
    return 0


async def _chat(cls: type[Agent], llm: Any, out: TextIO) -> None:
    from .session.session import AgentSession

    session = AgentSession(llm=llm)
    t0 = time.monotonic()
    marks: dict[str, float] = {}

    def say(text: str) -> None:
        print(f"{time.monotonic() - t0:7.2f}s  {text}", file=out, flush=True)

    session.on("agent_state_changed", lambda e: say(f"[agent {e.old_state} -> {e.new_state}]"))
    session.on("user_state_changed", lambda e: say(f"[user {e.old_state} -> {e.new_state}]"))

    def on_item(e: Any) -> None:
        item = e.item
        if item.type == "message" and item.role == "assistant":
            say(f"agent: {item.text_content}" + (" [interrupted]" if item.interrupted else ""))

    def on_tools(e: Any) -> None:
        for call, output in e.zipped():
            say(f"tool {call.name}({call.arguments}) -> {output.output if output is not None else '(no output)'}")

    def on_metrics(e: Any) -> None:
        if e.metrics.type == "llm_metrics":
            marks.setdefault("ttft", e.metrics.ttft)

    session.on("conversation_item_added", on_item)
    session.on("function_tools_executed", on_tools)
    session.on("metrics_collected", on_metrics)
    session.on("agent_state_changed", lambda e: marks.setdefault("speaking", time.monotonic()) if e.new_state == "speaking" else None)
    await session.start(cls())
    await session.wait_for_idle()
    say("type a message and press Enter (Ctrl-D to quit)")
    loop = asyncio.get_running_loop()
    while True:
        line = await loop.run_in_executor(None, sys.stdin.readline)
        if not line:
            break
        text = line.strip()
        if not text:
            continue
        say(f"user: {text}")
        marks.clear()
        sent = time.monotonic()
        handle = session.generate_reply(user_input=text)
        await handle.wait_for_playout()
        await session.wait_for_idle()
        first = marks.get("speaking")
        ttft = marks.get("ttft")
        say(
            "latency: "
            + (f"first words {first - sent:.3f}s" if first is not None else "no reply")
            + (f", LLM ttft {ttft:.3f}s" if ttft is not None else "")
        )
    await session.aclose()
    say("bye")


def _audio(cls: type[Agent], llm: Any, audio: str, out: TextIO) -> int:
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
                "pip install 'agentlab[whisper]' or use a labelled recording"
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
    return 0
