"""How fast a 100-turn text conversation simulates on the virtual clock.

Prints simulated seconds per wall second (median of several runs) for three conversations, side
by side with real time (1x) and LiveKit's own harness on a virtual loop (about 700x on this 2-core
machine for a comparable 100-turn scripted voice conversation; reference/livekit-agentsession.md §18):

* plain: per turn the user types, the LLM answers (TTFT 0.3 s, 0.6 s long), 1 s gap;
* with TTS: the same plus 3.0 s of scripted agent audio per reply (TTS TTFB 0.2 s);
* tools: the quickstart restaurant agent (tools, handoff) cycled to 100 turns.

Run:  python benchmarks/bench_text_session.py [--turns 100] [--repeat 5]
"""

from __future__ import annotations

import argparse
import statistics

import agentlab as al
from agentlab.examples.restaurant import QUICKSTART_SCRIPT, Host, scripted_llm

REPLY = "Sure, here is a short answer to that question."


def plain(turns: int, tts: bool) -> al.Run:
    llm = al.ScriptedLLM(rules=[al.Rule(reply=REPLY, ttft=0.3, duration=0.6)])
    options: dict = {"llm": llm}
    if tts:
        options["tts"] = al.ScriptedTTS(ttfb=0.2, durations={REPLY: 3.0})
    script = [al.UserTurn(f"Question number {i}?", delay=1.0) for i in range(turns)]
    return al.simulate(lambda: al.Agent(instructions="Answer briefly."), options, script)


def tools(turns: int) -> al.Run:
    script = [QUICKSTART_SCRIPT[i % len(QUICKSTART_SCRIPT)] for i in range(turns)]
    return al.simulate(Host, {"llm": scripted_llm(), "userdata": {}}, script)


def measure(make, repeat: int) -> tuple[al.Run, float]:
    runs = [make() for _ in range(repeat)]
    return runs[0], statistics.median(r.speed for r in runs)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--turns", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    n, k = args.turns, args.repeat
    rows = [
        ("plain text", *measure(lambda: plain(n, tts=False), k)),
        ("text + scripted TTS", *measure(lambda: plain(n, tts=True), k)),
        ("tools + handoff (quickstart)", *measure(lambda: tools(n), k)),
    ]
    print(f"{n}-turn conversations, median of {k} runs")
    print(f"{'conversation':32} {'simulated s':>12} {'wall ms':>9} {'sim s / wall s':>15} {'vs real time':>13} {'vs LiveKit ~700x':>17}")
    for name, run, speed in rows:
        print(f"{name:32} {run.duration:12.1f} {run.duration / speed * 1000:9.1f} {speed:15,.0f} {speed:12,.0f}x {speed / 700:16.1f}x")
    print(f"{'real clock':32} {'':>12} {'':>9} {1:15,.0f} {1:12,.0f}x {1 / 700:16.4f}x")


if __name__ == "__main__":
    main()
