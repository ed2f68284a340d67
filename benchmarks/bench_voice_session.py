"""How fast a 100-turn scripted *voice* conversation simulates (issue target: >= 10,000x real time).

Per turn, as in the issue: the user speaks 2.0 s, the final transcript comes 0.2 s after, the LLM
answers with TTFT 0.3 s and lasts 0.6 s, the TTS plays 3.0 s of audio, then 1 s of silence. The
turn engine makes every decision (VAD end-of-speech, endpointing, preemptive generation, reply
hold-off). LiveKit's own harness runs a comparable conversation at about 700x on this 2-core
machine (reference/livekit-agentsession.md §18).

Run:  python benchmarks/bench_voice_session.py [--turns 100] [--repeat 5]
"""

from __future__ import annotations

import argparse
import statistics

import agentlab as al
from agentlab.engine import UserSpeech

REPLY = "Sure, here is a short answer to that question."
PERIOD = 2.0 + 0.5 + 0.3 + 3.0 + 1.0  # speech, endpointing (min_delay), LLM TTFT, audio, gap


def voice_run(turns: int) -> al.Run:
    llm = al.ScriptedLLM(rules=[al.Rule(reply=REPLY, ttft=0.3, duration=0.6)])
    tts = al.ScriptedTTS(ttfb=0.0, durations={REPLY: 3.0})
    script = [UserSpeech(1.0 + i * PERIOD, 3.0 + i * PERIOD, f"Question number {i}, please?", stt_delay=0.2) for i in range(turns)]
    return al.simulate(lambda: al.Agent(instructions="Answer briefly."), {"llm": llm, "tts": tts}, script)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--turns", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    runs = [voice_run(args.turns) for _ in range(args.repeat)]
    run = runs[0]
    speed = statistics.median(r.speed for r in runs)
    replies = int((run.history["role"] == "assistant").sum())
    print(f"{args.turns}-turn scripted voice conversation, median of {args.repeat} runs")
    print(f"  simulated {run.duration:.1f} s in {run.duration / speed * 1000:.1f} ms wall, {replies} replies, {len(run.events)} events")
    print(f"{'':4}{'sim s / wall s':>16} {'vs real time':>14} {'vs LiveKit ~700x':>18} {'vs target 10,000x':>19}")
    print(f"{'':4}{speed:16,.0f} {speed:13,.0f}x {speed / 700:17.1f}x {speed / 10000:18.2f}x")


if __name__ == "__main__":
    main()
