"""``agentlab console``: driven as a subprocess, its output read."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

TOOL_AGENT = '''
from agentlab import Agent, Rule, ScriptedLLM, ScriptedToolCall, function_tool


class Barista(Agent):
    def __init__(self) -> None:
        llm = ScriptedLLM(rules=[
            Rule(r"(?P<drink>latte|espresso)", tool_calls=[ScriptedToolCall("order", {"drink": "{drink}"})]),
            Rule(after_tool="order", reply="Your {output} is coming."),
        ], default="What can I get you?", ttft=0.1)
        super().__init__(instructions="Take coffee orders.", llm=llm)

    @function_tool
    async def order(self, drink: str) -> str:
        """Order a drink."""
        return drink
'''


def _console(*args, stdin: str = "", timeout: float = 60):
    env = {k: v for k, v in os.environ.items() if k != "OPENAI_API_KEY"}
    return subprocess.run(
        [sys.executable, "-m", "agentlab.cli", "console", *map(str, args)],
        input=stdin, capture_output=True, text=True, timeout=timeout, cwd=ROOT, env=env,
    )  # fmt: skip


def test_text_chat_shows_states_tools_and_latency(tmp_path):
    agent = tmp_path / "barista.py"
    agent.write_text(TOOL_AGENT)
    p = _console(agent, stdin="A latte please\nthanks\n")
    assert p.returncode == 0, p.stderr
    out = p.stdout
    assert "Barista from" in out and "scripted echo" in out
    assert 'tool order({"drink": "latte"}) -> latte' in out
    assert "agent: Your latte is coming." in out and "agent: What can I get you?" in out
    assert "[agent thinking -> speaking]" in out and "[agent speaking -> listening]" in out
    latencies = [line for line in out.splitlines() if "latency: first words" in line]
    assert len(latencies) == 2 and all("LLM ttft 0.1" in line for line in latencies)
    assert out.rstrip().endswith("bye")


def test_livekit_agent_file_runs_with_the_scripted_echo():
    p = _console("tests/livekit_agents/rag_agent.py", stdin="What about parking?\n")
    assert p.returncode == 0, p.stderr
    assert "FaqAgent from" in p.stdout and "agent: (scripted) You said: What about parking?" in p.stdout


def test_audio_prints_turn_decisions():
    p = _console("tests/livekit_agents/tool_agent.py", "--audio", "datasets/overlaps/overlaps-002.flac")
    assert p.returncode == 0, p.stderr
    out = p.stdout
    assert "labelled transcripts from overlaps-002.json" in out
    assert "transcript: hi I have a question about my booking" in out
    assert out.count("turn committed") >= 4 and "user listening -> speaking" in out
    assert "[interrupted]" in out  # the user talks over the echo


def test_bad_inputs_exit_2_with_a_message(tmp_path):
    p = _console(tmp_path / "missing.py")
    assert p.returncode == 2 and "missing.py: no such agent file" in p.stderr
    empty = tmp_path / "empty.py"
    empty.write_text("x = 1\n")
    p = _console(empty)
    assert p.returncode == 2 and "defines no Agent subclass" in p.stderr
    p = _console("tests/livekit_agents/tool_agent.py", "--agent", "Nope")
    assert p.returncode == 2 and "no Agent class 'Nope'" in p.stderr and "WeatherAgent" in p.stderr
    noise = tmp_path / "noise.wav"
    import numpy as np
    import soundfile as sf

    sf.write(noise, np.zeros(1600, np.float32), 16000)
    p = _console("tests/livekit_agents/tool_agent.py", "--audio", noise)
    assert p.returncode == 2 and "noise.wav" in p.stderr and "Traceback" not in p.stderr  # silent, or no transcriber
