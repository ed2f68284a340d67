"""The ``agentlab`` command: ``demo`` (the offline main job) and ``chat`` (a text chat in the terminal).

Example::

    agentlab demo            # simulate the quickstart agent on the virtual clock, print the frames
    agentlab demo --out out  # also write history/events/metrics CSVs there
    agentlab chat            # talk to the quickstart agent (OpenAI if OPENAI_API_KEY is set)
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from pathlib import Path

__all__ = ["main"]


def _demo(args: argparse.Namespace) -> int:
    from . import simulate
    from .examples.restaurant import QUICKSTART_SCRIPT, Host, scripted_llm

    run = simulate(Host, {"llm": scripted_llm()}, QUICKSTART_SCRIPT)
    print(f"agentlab demo: the quickstart restaurant agent, offline, on the virtual clock\n{run}\n")
    for _, r in run.history.iterrows():
        if r["type"] == "message":
            print(f"{r['created_at']:7.2f}s  {r['role']:>9}: {r['text']}")
        elif r["type"] == "function_call":
            print(f"{r['created_at']:7.2f}s  {'tool':>9}: {r['name']}({r['arguments']})")
        elif r["type"] == "function_call_output":
            print(f"{r['created_at']:7.2f}s  {'':>9}  -> {r['output']}")
        else:
            old = r["old_agent_id"] if isinstance(r["old_agent_id"], str) else "start"
            print(f"{r['created_at']:7.2f}s  {'handoff':>9}: {old} -> {r['new_agent_id']}")
    llm = run.metrics[run.metrics["type"] == "llm_metrics"]
    e2e = run.history["e2e_latency"].dropna()
    print(f"\n{len(llm)} LLM calls, median TTFT {llm['ttft'].median():.3f}s; median e2e latency {e2e.median():.3f}s")
    print(f"events by type:\n{run.events['type'].value_counts().to_string()}")
    print(f"\nsimulated {run.duration:.1f}s in {run.wall_seconds * 1000:.1f} ms ({run.speed:,.0f}x real time)")
    voice = _voice_demo()
    if args.out:
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        for name, frame in (("history", run.history), ("events", run.events), ("metrics", run.metrics)):
            frame.to_csv(out / f"{name}.csv", index=False)
        voice.timeline().savefig(out / "voice_timeline.png", dpi=110)
        voice.write_audio(out / "voice_heard.wav")
        print(f"wrote {out}/history.csv, events.csv, metrics.csv, voice_timeline.png, voice_heard.wav")
    return 0


def _voice_demo() -> object:
    from importlib.resources import files

    from .scenario import load_scenario

    path = files("agentlab") / "examples" / "scenarios" / "weather_barge_in.yaml"
    run = load_scenario(str(path)).run()
    print(f"\nvoice: scenario {path.name}, decided by the turn engine as LiveKit 1.8.9 would\n{run}")
    for e in run.events.itertuples():
        if e.type == "user_state_changed":
            print(f"{e.created_at:7.2f}s  user {e.old_state} -> {e.new_state}")
        elif e.type == "agent_state_changed":
            print(f"{e.created_at:7.2f}s  agent {e.old_state} -> {e.new_state}")
        elif e.type == "agent_false_interruption":
            print(f"{e.created_at:7.2f}s  false interruption, resumed={e.resumed}")
        elif e.type == "conversation_item_added" and isinstance(e.role, str):
            cut = " [interrupted]" if e.interrupted is True else ""
            print(f"{e.created_at:7.2f}s  {e.role}: {e.text}{cut}")
    eou = run.metrics[run.metrics["type"] == "eou_metrics"]["end_of_utterance_delay"]
    e2e = run.history["e2e_latency"].dropna()
    print(f"end-of-utterance delay {eou.median():.3f}s (median), e2e latency {e2e.median():.3f}s (median)")
    return run


async def _chat_loop() -> None:
    from . import AgentSession
    from .examples.restaurant import Host, scripted_llm

    llm = "openai/gpt-4.1-mini" if os.environ.get("OPENAI_API_KEY") else scripted_llm(ttft=0.2)
    session = AgentSession(llm=llm, userdata={})

    @session.on("agent_state_changed")
    def _state(ev: object) -> None:
        print(f"  [{ev.created_at:6.2f}s agent {ev.old_state} -> {ev.new_state}]", file=sys.stderr)  # type: ignore[attr-defined]

    await session.start(Host())
    await session.wait_for_idle()
    _print_new(session, 0)
    seen = len(session.history)
    loop = asyncio.get_running_loop()
    while True:
        line = await loop.run_in_executor(None, lambda: input("you> "))
        if line.strip() in ("", "/quit", "/exit"):
            break
        t0 = time.perf_counter()
        await session.run(user_input=line)
        seen = _print_new(session, seen)
        print(f"  [turn took {time.perf_counter() - t0:.2f}s]", file=sys.stderr)
    await session.aclose()


def _print_new(session: object, seen: int) -> int:
    items = session.history.items  # type: ignore[attr-defined]
    for it in items[seen:]:
        if it.type == "message" and it.role == "assistant":
            print(f"agent> {it.text_content}")
        elif it.type == "function_call":
            print(f"  [tool {it.name}({it.arguments})]")
        elif it.type == "function_call_output":
            print(f"  [-> {it.output}]")
    return len(items)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``agentlab`` command."""
    parser = argparse.ArgumentParser(prog="agentlab", description="Design and evaluate voice AI agents.")
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="simulate the quickstart agent offline and print its history, events and metrics")
    demo.add_argument("--out", help="folder to write history/events/metrics CSVs")
    sub.add_parser("chat", help="chat with the quickstart agent in the terminal (OpenAI if OPENAI_API_KEY is set)")
    args = parser.parse_args(argv)
    if args.command == "demo":
        return _demo(args)
    try:
        asyncio.run(_chat_loop())
    except (EOFError, KeyboardInterrupt):
        pass
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
