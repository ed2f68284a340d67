"""The session inside Jupyter's running event loop, and ``simulate`` from sync and async callers.

The notebook test runs a real IPython kernel (the venv's python, through a kernelspec written to a
temporary ``JUPYTER_PATH``) with nbclient: top-level ``await`` drives an AgentSession on the real
clock on the kernel's own loop, and the synchronous ``simulate`` works there although
``asyncio.run`` cannot.
"""

from __future__ import annotations

import asyncio
import json
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from pandas.testing import assert_frame_equal

from agentlab import Agent, Rule, ScriptedLLM, ScriptedToolCall, function_tool, simulate
from agentlab.sim import Run

KERNEL_NAME = "python3"
NOTEBOOK_TIMEOUT = 60

CELLS = [
    # 0: the kernel's loop is running, so asyncio.run is refused here.
    """
    import asyncio
    import sys

    import agentlab

    print("EXECUTABLE:", sys.executable)
    print("LOOP_RUNNING:", asyncio.get_running_loop().is_running())
    coro = asyncio.sleep(0)
    try:
        asyncio.run(coro)
    except RuntimeError as exc:
        coro.close()
        print("ASYNCIO_RUN_REFUSED:", "cannot be called from a running event loop" in str(exc))
    """,
    # (a) a session on the real clock, driven with top-level await.
    """
    session = agentlab.AgentSession(llm=agentlab.ScriptedLLM(responses=["Hello from the notebook!"], ttft=0.01))
    await session.start(agentlab.Agent(instructions="Be brief."))
    result = await session.run(user_input="hi")
    print("REPLY:", [e.item.text_content for e in result.events if e.type == "message"][-1])
    print("CLOCK:", type(session.clock).__name__)
    print("SAME_LOOP:", session.clock._loop is asyncio.get_running_loop())
    """,
    # (b) the synchronous simulate() inside the running loop.
    """
    run = agentlab.simulate(
        lambda: agentlab.Agent(instructions="Be brief."),
        {"llm": agentlab.ScriptedLLM(responses=["Sure, what time?", "Booked for 7."])},
        ["A table please", "At 7"],
    )
    print("SIM_HISTORY_LEN:", len(run.history))
    print("SIM_ROLES:", ",".join(run.history["role"].dropna()))
    print("SIM_VIRTUAL:", run.session.clock.is_virtual)
    """,
    # (c) close the real-clock session.
    """
    await session.aclose()
    last = session.events[-1]
    print("CLOSED:", last.type, last.reason)
    print("HISTORY_LEN:", len(session.history))
    """,
]


def _stdout(cell: Any) -> dict[str, str]:
    """``KEY: value`` lines printed by a cell."""
    text = "".join(o.get("text", "") for o in cell.outputs if o.get("output_type") == "stream" and o.get("name") == "stdout")
    lines = [line.split(": ", 1) for line in text.splitlines() if ": " in line]
    return {k: v for k, v in lines}


@pytest.fixture
def jupyter_dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Private Jupyter/IPython dirs, with a ``python3`` kernelspec that runs this venv's python."""
    root = tmp_path / "jupyter"
    spec_dir = root / "path" / "kernels" / KERNEL_NAME
    spec_dir.mkdir(parents=True)
    spec = {
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "agentlab test kernel",
        "language": "python",
        "env": {"PYDEVD_DISABLE_FILE_VALIDATION": "1", "MPLBACKEND": "Agg"},
    }
    (spec_dir / "kernel.json").write_text(json.dumps(spec))
    for name, sub in [
        ("JUPYTER_PATH", "path"),
        ("JUPYTER_DATA_DIR", "data"),
        ("JUPYTER_RUNTIME_DIR", "runtime"),
        ("JUPYTER_CONFIG_DIR", "config"),
        ("IPYTHONDIR", "ipython"),
    ]:
        (root / sub).mkdir(parents=True, exist_ok=True)
        monkeypatch.setenv(name, str(root / sub))
    monkeypatch.setenv("JUPYTER_PLATFORM_DIRS", "1")
    return root


def test_session_in_a_jupyter_kernel(jupyter_dirs: Path, tmp_path: Path) -> None:
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    from jupyter_client.kernelspec import KernelSpecManager

    spec = KernelSpecManager().get_kernel_spec(KERNEL_NAME)
    assert spec.argv[0] == sys.executable, "the kernel must run the venv's python"
    assert Path(spec.resource_dir).is_relative_to(jupyter_dirs)

    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": KERNEL_NAME, "display_name": "agentlab test kernel", "language": "python"}
    nb.cells = [nbformat.v4.new_code_cell(textwrap.dedent(src).strip()) for src in CELLS]
    path = tmp_path / "session.ipynb"
    nbformat.write(nb, path)

    nb = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(
        nb,
        timeout=NOTEBOOK_TIMEOUT,
        startup_timeout=NOTEBOOK_TIMEOUT,
        kernel_name=KERNEL_NAME,
        resources={"metadata": {"path": str(tmp_path)}},
    )
    client.execute()  # raises CellExecutionError (with the traceback) if any cell fails

    setup, a, b, c = (_stdout(cell) for cell in nb.cells)
    errors = [o for cell in nb.cells for o in cell.outputs if o.get("output_type") == "error"]
    assert errors == []

    assert setup["EXECUTABLE"] == sys.executable
    assert setup["LOOP_RUNNING"] == "True"
    assert setup["ASYNCIO_RUN_REFUSED"] == "True"

    assert a["REPLY"] == "Hello from the notebook!"
    assert a["CLOCK"] == "RealClock"
    assert a["SAME_LOOP"] == "True"

    assert b["SIM_HISTORY_LEN"] == "5"  # handoff + 2 user + 2 assistant
    assert b["SIM_ROLES"] == "user,assistant,user,assistant"
    assert b["SIM_VIRTUAL"] == "True"

    assert c["CLOSED"] == "close user_initiated"
    assert c["HISTORY_LEN"] == "3"  # handoff, "hi", the reply


# --- simulate from sync code and from inside a running loop -------------------------------------------


@function_tool
async def check_availability(party_size: int) -> str:
    """Is a table free for this many guests?"""
    return "free" if party_size <= 4 else "fully booked"


def _agent() -> Agent:
    return Agent(instructions="You book tables.", tools=[check_availability])


def _options() -> dict[str, Any]:
    # A fresh LLM per run: a ScriptedLLM consumes its responses.
    check = ScriptedToolCall("check_availability", lambda m: {"party_size": int(m.fields["n"])})
    llm = ScriptedLLM(
        rules=[
            Rule(r"table for (?P<n>\d+)", tool_calls=[check]),
            Rule(after_tool="check_availability", reply="Good news: the table is {output}."),
        ],
        default="Anything else?",
        ttft=0.25,
    )
    return {"llm": llm, "max_tool_steps": 2}


SCRIPT = ["Hi", "A table for 2 please", "And a table for 6?", "Thanks"]


def _simulate() -> Run:
    return simulate(_agent, _options(), SCRIPT)


def test_simulate_inside_a_running_loop_matches_sync() -> None:
    sync_run = _simulate()

    async def inside_loop() -> Run:
        assert asyncio.get_running_loop().is_running()
        return _simulate()  # must not raise "asyncio.run() cannot be called from a running event loop"

    loop_run = asyncio.run(inside_loop())

    for name in ("history", "events", "metrics"):
        assert_frame_equal(getattr(sync_run, name), getattr(loop_run, name), check_exact=True, obj=name)
    assert sync_run.duration == loop_run.duration

    h = sync_run.history
    assert h["role"].dropna().tolist() == ["user", "assistant"] * 4
    assert h["output"].dropna().tolist() == ["free", "fully booked"]
    assert "Good news: the table is fully booked." in h["text"].tolist()
    assert (sync_run.events["type"] == "close").sum() == 1
    assert sync_run.events["type"].iloc[-1] == "close"
    # Deterministic run to run, too.
    assert_frame_equal(sync_run.events, _simulate().events, check_exact=True)


LIVEKIT_CELLS = [
    # the opt-in hook: a LiveKit file's own imports, unchanged, in a notebook
    """
    %load_ext agentlab.livekit
    import livekit.agents
    print("SESSION_CLASS:", livekit.agents.AgentSession.__module__)
    """,
    # the file's entrypoint builds its session; its inference.LLM is the OpenAI adapter (a key is set)
    """
    import agentlab.livekit
    app = agentlab.livekit.load_agent_file(AGENT_FILE)
    ctx = await app.start()
    session = ctx.primary_session
    await session.wait_for_idle()
    result = await session.run(user_input="Is the pool open?")
    print("LLM:", type(session.llm).__name__)
    print("REPLIES:", "|".join(i.text_content for i in session.history.items if i.type == "message" and i.role == "assistant"))
    await ctx.aclose()
    print("CLOSED:", session.events[-1].type)
    """,
]


def test_a_livekit_agent_file_in_a_notebook_with_the_openai_adapter(
    jupyter_dirs: Path, tmp_path: Path, server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """LiveKit's basic-agent shape runs in a notebook cell, unchanged, on a real model (the local server)."""
    from openai_server import reply

    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    server.default = reply("The pool is open until ten.")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-notebook")
    monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
    agent_file = Path(__file__).parent / "livekit_agents" / "server_agent.py"
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": KERNEL_NAME, "display_name": "agentlab test kernel", "language": "python"}
    cells = [f"AGENT_FILE = {str(agent_file)!r}", *LIVEKIT_CELLS]
    nb.cells = [nbformat.v4.new_code_cell(textwrap.dedent(src).strip()) for src in cells]
    client = nbclient.NotebookClient(nb, timeout=NOTEBOOK_TIMEOUT, startup_timeout=NOTEBOOK_TIMEOUT, kernel_name=KERNEL_NAME)
    client.execute()
    _, hook, run = (_stdout(cell) for cell in nb.cells)
    assert hook["SESSION_CLASS"] == "agentlab.session.session"
    assert run["LLM"] == "OpenAILLM"
    assert run["REPLIES"] == "The pool is open until ten.|The pool is open until ten."  # the greeting, then the answer
    assert run["CLOSED"] == "close"
    assert server.requests, "the model was asked over HTTP"
