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
    assert "Barista from" in out and "LLM: the agent's own ScriptedLLM" in out  # not the echo it would get otherwise
    assert 'tool order({"drink": "latte"}) -> latte' in out
    assert "agent> Your latte is coming." in out and "agent> What can I get you?" in out
    assert "you> A latte please" in out
    assert "[agent thinking -> speaking]" in out and "[agent speaking -> listening]" in out
    latencies = [line for line in out.splitlines() if "latency: first words" in line]
    assert len(latencies) == 2 and all("LLM ttft 0.1" in line for line in latencies)
    assert out.rstrip().endswith("bye")


def test_livekit_agent_file_runs_its_entrypoint_with_the_scripted_echo():
    p = _console("tests/livekit_agents/rag_agent.py", stdin="What about parking?\n")
    assert p.returncode == 0, p.stderr
    assert "rag_agent.py, its entrypoint entrypoint()" in p.stdout and "scripted echo" in p.stdout
    assert "agent> (scripted) You said: What about parking?" in p.stdout


def test_an_agent_server_file_runs_unchanged_with_its_own_session(tmp_path):
    # today's LiveKit form (AgentServer, @rtc_session, inference models), also imported as `from livekit import agents`
    source = Path("tests/livekit_agents/server_agent.py").read_text()
    source = source.replace(
        "from livekit.agents.beta import EndCallTool", "from livekit import agents\nEndCallTool = agents.beta.EndCallTool"
    )
    agent = tmp_path / "concierge.py"
    agent.write_text(source)
    p = _console(agent, stdin="Hello\n")
    assert p.returncode == 0, p.stderr
    out = p.stdout
    assert "its entrypoint entrypoint()" in out
    # the root agent is the one the entrypoint starts; its on_enter greeting is shown
    assert "agent> (scripted) You said: Greet the guest." in out and "agent> (scripted) You said: Hello" in out


def test_a_failing_turn_shows_its_error(tmp_path):
    agent = tmp_path / "broken_llm.py"
    agent.write_text(
        "from livekit.agents import Agent, AgentServer, AgentSession, JobContext\n"
        "from agentlab import ScriptedLLM\n\n"
        "class Boom(ScriptedLLM):\n"
        "    async def _stream(self, request):\n"
        "        raise RuntimeError('the model is down')\n"
        "        yield\n\n"
        "server = AgentServer()\n\n"
        "@server.rtc_session()\n"
        "async def entry(ctx: JobContext):\n"
        "    session = AgentSession(llm=Boom())\n"
        "    await session.start(agent=Agent(instructions='x', llm=Boom()), room=ctx.room)\n"
    )
    p = _console(agent, stdin="Hello\n")
    assert p.returncode == 0, p.stderr
    assert "error (llm): RuntimeError: the model is down" in p.stdout


def test_a_file_whose_entrypoint_fails_exits_2_with_one_line(tmp_path):
    agent = tmp_path / "crash.py"
    agent.write_text(
        "from livekit.agents import AgentServer, JobContext\nserver = AgentServer()\n\n"
        "@server.rtc_session()\nasync def entry(ctx: JobContext):\n    raise ValueError('no config')\n"
    )
    p = _console(agent, stdin="")
    assert p.returncode == 2
    assert p.stderr.strip() == f"agentlab console: {agent}: its entrypoint failed: ValueError: no config"


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


def test_an_example_module_with_relative_imports_starts_with_its_first_agent():
    """agentlab/examples/restaurant.py imports with `from ..chat import ...`: it loads as a module of
    its package, and the console starts Host, the agent EventsDesk is handed off from."""
    p = _console("agentlab/examples/restaurant.py", stdin="\nA table for two at 8pm?\n/quit\nnot read\n")
    assert p.returncode == 0, p.stderr
    assert "attempted relative import" not in p.stderr
    assert "agentlab console: Host from agentlab/examples/restaurant.py" in p.stdout
    assert "agent> (scripted) You said: A table for two at 8pm?" in p.stdout
    assert "not read" not in p.stdout and p.stdout.rstrip().endswith("bye")  # the empty line did not quit; /quit did


def test_audio_saves_the_wav_and_the_timeline(tmp_path):
    import soundfile as sf

    wav, png = tmp_path / "heard.wav", tmp_path / "timeline.png"
    args = ("tests/livekit_agents/tool_agent.py", "--audio", "datasets/overlaps/overlaps-002.flac")
    p = _console(*args, "--save-wav", wav, "--save-timeline", png)
    assert p.returncode == 0, p.stderr
    assert f"wrote {wav}" in p.stdout and f"wrote {png}" in p.stdout
    info = sf.info(str(wav))
    assert info.channels == 2 and info.duration > 30  # user left, agent right, the whole conversation
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000
    p = _console(*args, "--save-timeline", tmp_path / "missing" / "t.png")
    assert p.returncode == 2 and "missing/t.png: cannot write the timeline" in p.stderr and "Traceback" not in p.stderr
    p = _console("tests/livekit_agents/tool_agent.py", "--save-wav", wav)
    assert p.returncode == 2 and "need --audio" in p.stderr


def test_the_chat_ends_when_the_agent_ends_the_call(tmp_path):
    agent = tmp_path / "endcall.py"
    agent.write_text(
        "from livekit.agents import Agent, AgentServer, AgentSession, JobContext\n"
        "from livekit.agents.beta import EndCallTool\n"
        "from agentlab import ScriptedLLM, Rule, ScriptedToolCall\n\n"
        "server = AgentServer()\n\n"
        "@server.rtc_session()\n"
        "async def entry(ctx: JobContext):\n"
        "    llm = ScriptedLLM(rules=[Rule(r'bye', tool_calls=[ScriptedToolCall('end_call', {})]),\n"
        "                             Rule(after_tool='end_call', reply='Goodbye!')], default='ok')\n"
        "    await AgentSession(llm=llm).start(agent=Agent(instructions='x', tools=[EndCallTool()], llm=llm), room=ctx.room)\n"
    )
    p = _console(agent, stdin="bye\nstill there?\n")
    assert p.returncode == 0, p.stderr
    assert "agent> Goodbye!" in p.stdout and "[the session closed: user_initiated]" in p.stdout
    assert "still there" not in p.stdout and "Traceback" not in p.stderr
