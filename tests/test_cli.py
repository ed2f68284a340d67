"""The ``agentlab`` command as a user meets it, run as a subprocess: help, version, ``python -m agentlab``,
``lab`` passing Jupyter's options on, ``chat`` (banner, streamed replies, ``--verbose``, empty lines,
Ctrl-C) and a sweep's progress bar. ``console`` and ``sweep`` have their own files (test_console.py,
test_sweep_cli.py)."""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest

import agentlab

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = Path(sys.executable).with_name("agentlab")  # the console script pip installed beside this Python


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k != "OPENAI_API_KEY"}  # offline: the scripted model


def _agentlab(*args: str | Path, stdin: str = "", timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "agentlab", *map(str, args)], input=stdin, capture_output=True, text=True,
                          timeout=timeout, cwd=ROOT, env=_env())  # fmt: skip


def test_bare_command_prints_help_and_version_works():
    assert SCRIPT.is_file(), SCRIPT
    p = subprocess.run([str(SCRIPT)], capture_output=True, text=True, timeout=60, env=_env())
    assert p.returncode == 0, p.stderr
    assert p.stdout.startswith("usage: agentlab") and all(c in p.stdout for c in ("demo", "lab", "chat", "console", "sweep"))
    assert p.stderr == ""
    for cmd in ([str(SCRIPT), "--version"], [sys.executable, "-m", "agentlab", "--version"]):
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=60, env=_env())
        assert p.returncode == 0 and p.stdout.strip() == f"agentlab {agentlab.__version__}", (cmd, p.stdout, p.stderr)


def test_python_m_agentlab_runs_the_same_command():
    p = _agentlab("sweep", "--example")
    assert p.returncode == 0 and p.stdout == (ROOT / "agentlab" / "examples" / "sweep.yaml").read_text()
    p = _agentlab("sweep")
    assert p.returncode == 2 and "agentlab sweep --example > sweep.yaml" in p.stderr


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.skipif(importlib.util.find_spec("jupyterlab") is None, reason="needs JupyterLab (agentlab-voice[lab])")
def test_lab_passes_jupyter_options_through(tmp_path):
    port = _free_port()
    args = ["lab", str(ROOT / "notebooks"), "--no-browser", "--port", str(port), "--IdentityProvider.token=", "--ip=127.0.0.1",
            "--allow-root"]  # fmt: skip
    env = {**_env(), "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime"), "JUPYTER_CONFIG_DIR": str(tmp_path / "config")}
    lab = subprocess.Popen([sys.executable, "-m", "agentlab", *args], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                           env=env, start_new_session=True)  # fmt: skip
    try:
        deadline, status = time.monotonic() + 60, None
        while time.monotonic() < deadline and lab.poll() is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/status", timeout=2) as r:
                    status = json.load(r)
                break
            except OSError:
                time.sleep(0.5)
        assert status is not None, f"no JupyterLab on port {port}: {lab.stdout.read() if lab.poll() is not None else ''}"  # type: ignore[union-attr]
        assert status["started"], status
    finally:
        with contextlib.suppress(ProcessLookupError):  # (gone already if Jupyter refused an option)
            os.killpg(lab.pid, signal.SIGTERM)  # the command and the Jupyter server it started
        out = lab.communicate(timeout=30)[0]
    assert f"--no-browser --port {port}" in out.splitlines()[0], out[:500]
    p = _agentlab("lab", tmp_path / "nowhere", "--port", "1")
    assert p.returncode == 2 and "no notebooks folder" in p.stderr
    p = _agentlab("lab", "--help")
    assert p.returncode == 0 and "JUPYTER OPTIONS" in p.stdout


def test_chat_banner_no_state_lines_and_empty_lines_do_not_quit():
    p = _agentlab("chat", stdin="\n\nA table for four at 7pm please\n\nIt's under Rivera\n")
    assert p.returncode == 0, p.stderr
    out = p.stdout.splitlines()
    assert "LLM: the quickstart's scripted model" in out[0] and "OPENAI_API_KEY" in out[0]
    assert "Ctrl-D" in out[1] and "/quit" in out[1]  # how to leave
    assert "agent> Welcome to Chez Lab! Would you like to book a table?" in out
    assert any(line.startswith("  tool book_table(") for line in out)  # reached past the empty lines
    assert not any(re.search(r"\[(agent|user) \w+ -> \w+\]|latency", line) for line in out), out  # states only with --verbose
    assert out[-1] == "bye"
    verbose = _agentlab("chat", "--verbose", stdin="A table for four at 7pm please\n")
    assert verbose.returncode == 0, verbose.stderr
    assert "[agent thinking -> speaking]" in verbose.stdout and "[latency: first words" in verbose.stdout


def test_chat_streams_the_reply():
    """The greeting arrives in pieces over its speaking time, not as one line at the end."""
    chat = subprocess.Popen([sys.executable, "-m", "agentlab", "chat"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, cwd=ROOT,
                            env=_env())  # fmt: skip
    pieces: list[tuple[float, bytes]] = []

    def read() -> None:
        fd = chat.stdout.fileno()  # type: ignore[union-attr]
        while chunk := os.read(fd, 65536):
            pieces.append((time.monotonic(), chunk))

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        deadline = time.monotonic() + 60
        while b"table?\n" not in b"".join(c for _, c in pieces) and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        chat.stdin.close()  # type: ignore[union-attr]
        chat.wait(timeout=30)
        reader.join(timeout=5)
    text = b"".join(c for _, c in pieces).decode()
    assert "agent> Welcome to Chez Lab! Would you like to book a table?\n" in text
    start = next(t for t, c in pieces if b"agent> " in c)
    end = next(t for t, c in pieces if b"table?" in c)
    # the scripted model speaks ~12 tokens at 40 per second: the line grows for about 0.3 s
    assert end - start > 0.1, [(round(t - start, 3), c) for t, c in pieces]


def test_ctrl_c_leaves_the_chat_at_once_with_status_130():
    chat = subprocess.Popen([sys.executable, "-m", "agentlab", "chat"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, cwd=ROOT, env=_env())  # fmt: skip
    try:
        assert chat.stdout.readline().startswith("agentlab chat:")  # type: ignore[union-attr]
        for line in chat.stdout:  # type: ignore[union-attr]
            if line.startswith("agent> Welcome"):
                break  # now waiting for a line of input that will not come (stdin stays open)
        time.sleep(0.3)
        sent = time.monotonic()
        chat.send_signal(signal.SIGINT)
        status = chat.wait(timeout=10)
        took = time.monotonic() - sent
    finally:
        if chat.poll() is None:
            chat.kill()
    assert status == 130 and took < 3, (status, took)
    assert "Traceback" not in chat.stderr.read()  # type: ignore[union-attr]


SLOW_FACTORY = """
import time
from agentlab.sweeps import reference_agent

def make_agent(conv):
    time.sleep(0.5)   # a real model's pace: the sweep lasts over 2 s
    return reference_agent(conv)
"""


def test_sweep_progress_bar_on_slow_work_and_none_with_no_progress(tmp_path):
    import agentlab.datasets as ads

    tasks = ads.load("tasks")
    manifest = {k: v for k, v in tasks.manifest.items() if k != "generator"}
    manifest.update(name="three-tasks", conversations=[c.id for c in tasks.conversations[:3]])
    ads.Dataset("three-tasks", manifest, tasks.conversations[:3]).save(tmp_path / "three-tasks")
    (tmp_path / "slow_agents.py").write_text(SLOW_FACTORY)
    cfg = tmp_path / "slow.yaml"
    cfg.write_text("dataset: three-tasks\ngrid:\n  max_tool_steps: [0, 2]\nagent: slow_agents:make_agent\n")
    p = _agentlab("sweep", cfg, "--out", tmp_path / "shown")
    assert p.returncode == 0, p.stderr
    assert "sweep: 100%" in p.stderr and "6/6" in p.stderr, p.stderr  # tqdm's text bar on stderr
    q = _agentlab("sweep", cfg, "--out", tmp_path / "quiet", "--no-progress")
    assert q.returncode == 0, q.stderr
    assert "sweep:" not in q.stderr and "%|" not in q.stderr, q.stderr
