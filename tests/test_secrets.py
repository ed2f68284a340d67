"""API keys never leak: a planted key reaches every error path, then every output is searched for it.

Two recognizable fake secrets are planted (neither starts with ``sk-``, so secret scanners stay quiet):

* ``KEY``, the API key: given as ``api_key=`` to the OpenAI components and as ``OPENAI_API_KEY``
  (with ``OPENAI_BASE_URL`` pointing at the local scripted server, tests/openai_server.py);
* ``TOKEN``, another shape: only in the environment (``AGENTLAB_PLANTED_UPSTREAM_TOKEN``), like a
  proxy's upstream credential; nothing registers it, so masking it proves the generic redaction.

The server echoes both back in its error bodies (as some proxies and local servers do), so they
really reach our error paths. One module-scoped run drives a session (LLM, TTS, a failing tool, a
chat widget), ``simulate``, two sweeps with ``out=`` and an STT with all logging at DEBUG, stdout,
stderr and warnings captured; each output is then its own test case, so a failure names the
output that leaked. Two committed notebooks are executed against the faulting server and their
saved JSON is searched; every committed notebook is checked statically.

Third-party DEBUG logs (``openai``, ``httpx``, ``httpcore``) are enabled here and carry no key
today; agentlab never enables them, and we cannot mask what they print if a user does.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import logging
import re
import sys
import textwrap
import traceback
import warnings
from pathlib import Path
from typing import Any

import ipywidgets as w
import numpy as np
import pytest
from openai_server import OpenAIServer, ToolCall, reply, status_fault

import agentlab
import agentlab.datasets as ads
from agentlab import Agent, AgentSession, OpenAILLM, OpenAISTT, OpenAITTS, function_tool
from agentlab._secrets import register, scrub
from agentlab.audio.io import Audio
from agentlab.audio.vad import VADTrack
from agentlab.datasets.model import Conversation
from agentlab.models.llm import APIError
from agentlab.widgets import ChatWidget, ConversationWidget

KEY = "agentlab-planted-KEY-7d1c0f"
TOKEN_ENV = "AGENTLAB_PLANTED_UPSTREAM_TOKEN"
TOKEN = "planted.Upstream/Token+5e2a9b"
#: What the server says when it refuses a request: both secrets, verbatim.
ECHO = f"Incorrect API key provided: Bearer {KEY} (upstream credential {TOKEN})"
#: Searched for: the secrets whole, and distinctive pieces of them (a truncated leak is a leak).
FRAGMENTS = (KEY, TOKEN, "planted-KEY", "Upstream/Token")
#: A word with "sk-" inside it, which must not be masked (built in pieces so no scanner flags this file).
NOT_A_KEY = "ta" + "s" + "k-success-rate"
#: A real-looking OpenAI key (``sk-`` then 20 or more key characters).
OPENAI_SHAPE = re.compile(r"\bsk-[A-Za-z0-9_\-]{20,}")
NOTEBOOKS = Path(__file__).parent.parent / "notebooks"


def leaks(text: str) -> list[str]:
    """What of the planted secrets (or any sk- key) ``text`` holds; empty when clean."""
    found = [f for f in FRAGMENTS if f in text]
    return found + [f"an sk- key: {m[:6]}..." for m in OPENAI_SHAPE.findall(text)]


def assert_clean(where: str, text: str) -> None:
    assert isinstance(text, str) and text, f"{where}: nothing was collected, so nothing was searched"
    found = leaks(text)
    assert not found, f"a secret leaked in {where}: {found}"


# --- the run that makes every output ----------------------------------------------------------------


@function_tool
async def lookup_booking(ref: str) -> str:
    """Look a booking up."""
    # A tool whose own error carries a credential from the environment.
    raise RuntimeError(f"booking service refused credential {TOKEN}")


def _widget_state(widget: Any) -> str:
    """Every widget in the tree, as the state a saved notebook keeps (values, HTML), plus its repr."""
    parts = [repr(widget)]
    todo = [widget]
    while todo:
        x = todo.pop()
        parts.append(json.dumps(x.get_state(), default=repr))
        todo.extend(c for c in getattr(x, "children", ()) if isinstance(c, w.Widget))
    return "\n".join(parts)


def _frames(source: Any, prefix: str, out: dict[str, str]) -> None:
    """The three frames of a session or run, as CSV and JSON."""
    frames = (
        {"history": source.history, "events": source.events, "metrics": source.metrics}
        if isinstance(source, agentlab.Run)
        else {"history": source.history_frame(), "events": source.events_frame(), "metrics": source.metrics_frame()}
    )
    for name, frame in frames.items():
        out[f"{prefix}{name}_frame"] = frame.to_csv() + frame.to_json(orient="records", default_handler=str)


def _errors(session: AgentSession, sources: tuple[str, ...]) -> list[Any]:
    return [e for e in session.events if e.type == "error" and e.source in sources]


def _chain(exc: BaseException) -> list[BaseException]:
    """The exceptions chained to ``exc`` (``__cause__`` and ``__context__``, recursively), not ``exc`` itself."""
    seen: list[BaseException] = [exc]
    todo = [exc]
    while todo:
        exc = todo.pop()
        for nxt in (exc.__cause__, exc.__context__):
            if nxt is not None and all(nxt is not s for s in seen):
                seen.append(nxt)
                todo.append(nxt)
    return seen[1:]


async def _sessions(server: OpenAIServer, tmp: Path, out: dict[str, str], facts: dict[str, Any]) -> None:
    # A: the model's errors. The key is refused (401, echoed), then a 500 is retried once and given
    # up (echoed both times), then the reply is spoken by a TTS whose request fails (echoed).
    llm = OpenAILLM(base_url=server.base_url, api_key=KEY, max_retries=1, timeout=5)
    tts = OpenAITTS(base_url=server.base_url, api_key=KEY, max_retries=0, timeout=5)
    server.enqueue(status_fault(401, message=ECHO), status_fault(500, message=ECHO), status_fault(500, message=ECHO), reply("Sure."))
    server.enqueue_speech(status_fault(500, message=ECHO))
    session = AgentSession(llm=llm, tts=tts)
    await session.start(Agent(instructions="You book tables."))
    chat = ChatWidget(session)
    await asyncio.wait_for(chat.say("Hello?"), 10)
    results = []
    for text in ("Anyone there?", "A table for two."):
        try:
            results.append(await asyncio.wait_for(session.run(user_input=text), 10))
        except APIError as exc:  # the reply failed for good: run() raises it, as LiveKit's; it is the last error event's
            facts["raised by run()"] = exc
    await asyncio.wait_for(session.wait_for_idle(), 10)
    chat.events_toggle.value = True  # render the events table too
    facts["authorization"] = [r.headers.get("authorization") for r in server.requests]
    facts["model errors"] = _errors(session, ("llm", "tts"))

    # B: a tool fails with the upstream credential in its exception (a ScriptedLLM would do; this is the same server).
    server.enqueue(reply(tool_calls=[ToolCall("lookup_booking", '{"ref": "A1"}')]), reply("I could not look it up."))
    tool_session = AgentSession(llm=OpenAILLM(base_url=server.base_url, api_key=KEY, max_retries=0, timeout=5))
    await tool_session.start(Agent(instructions="You look bookings up.", tools=[lookup_booking]))
    tool_chat = ChatWidget(tool_session)
    results.append(await asyncio.wait_for(tool_session.run(user_input="Where is booking A1?"), 10))
    await asyncio.wait_for(tool_session.wait_for_idle(), 10)
    facts["tool errors"] = _errors(tool_session, ("tool",))

    errors = facts["model errors"] + facts["tool errors"]
    model_errors = [e.error for e in facts["model errors"]]
    out["repr(session)"] = repr(session) + repr(tool_session)
    out["session._repr_html_()"] = session._repr_html_() + tool_session._repr_html_()
    out["repr(RunResult)"] = "\n".join(repr(r) for r in results)
    out["RunResult events"] = "\n".join(repr(e) for r in results for e in r.events)
    _frames(session, "session ", out)
    _frames(tool_session, "tool session ", out)
    out["error event messages"] = "\n".join(e.message for e in errors)
    out["error event reprs"] = "\n".join(repr(e) for e in facts["model errors"])
    out["error objects: str, repr, body"] = "\n".join(f"{e}\n{e!r}\n{getattr(e, 'body', None)!r}" for e in model_errors)
    out["error tracebacks"] = "\n".join("".join(traceback.format_exception(e)) for e in model_errors)
    out["error chains (__cause__/__context__)"] = (
        "\n".join(f"{c}\n{c!r}" for e in model_errors for c in _chain(e)) or "(no chained exceptions)"
    )
    out["ChatWidget (model errors)"] = _widget_state(chat)
    out["ChatWidget (tool error)"] = _widget_state(tool_chat)
    report = session.report()
    out["repr(SessionReport)"] = repr(report)
    out["session report file"] = report.save(tmp / "session.report.json").read_text()
    for platform in ("livekit", "signalwire", "videosdk"):
        text = agentlab.export(session, platform, path=tmp / f"export-{platform}.out")
        out[f"export to {platform} (text and file)"] = text + (tmp / f"export-{platform}.out").read_text()
    await session.aclose()
    await tool_session.aclose()
    out["repr(LLM, TTS)"] = repr(llm) + repr(tts)
    await llm.aclose()


def _simulated(server: OpenAIServer, tmp: Path, out: dict[str, str]) -> None:
    # The key from OPENAI_API_KEY only; the first request is refused with the echo.
    server.enqueue(status_fault(401, message=ECHO), reply("Sure, for how many?"))
    run = agentlab.simulate(lambda: Agent(instructions="You book tables."), {"llm": OpenAILLM(max_retries=0, timeout=5)}, ["Hi", "A table"])
    assert [e.source for e in run.session.events if e.type == "error"] == ["llm"], "the simulated run met the echoing error"
    out["repr(Run)"] = repr(run)
    out["Run._repr_html_()"] = run._repr_html_()
    _frames(run, "Run ", out)
    out["Run report file"] = run.report().save(tmp / "run.report.json").read_text()
    out["ConversationWidget"] = _widget_state(ConversationWidget(run))


def _files(folder: Path) -> str:
    return "\n".join(f"{p}:\n{p.read_text(errors='replace')}" for p in sorted(folder.rglob("*")) if p.is_file())


def _swept(server: OpenAIServer, tmp: Path, out: dict[str, str]) -> None:
    conv = Conversation(id="hello", duration=10.0, text_turns=("Hi there", "Where is my order?"), metadata={"domain": "order", "tools": {}})
    data = ads.Dataset("secrets", {"name": "secrets"}, [conv])

    def agent(c: Conversation) -> Agent:
        return Agent(instructions="orders", llm=OpenAILLM(base_url=server.base_url, api_key=KEY, max_retries=0, timeout=5))

    server.enqueue(status_fault(401, message=ECHO), reply("It is on its way."))
    res = agentlab.sweep(agent, data, {"max_tool_steps": [0]}, out=tmp / "sweep", progress=False)
    assert (res.cells.status == "ok").all(), res.failed.error.tolist()
    assert server.completions[-2].headers["authorization"] == f"Bearer {KEY}", "the sweep's model used the planted key"
    res.to_csv(tmp / "sweep.csv")
    out["sweep result files (out=, to_csv)"] = _files(tmp / "sweep") + (tmp / "sweep.csv").read_text()
    out["SweepResult repr and _repr_html_"] = repr(res) + res._repr_html_()

    # A cell that fails: the agent factory's own error names the upstream credential.
    def broken(c: Conversation) -> Agent:
        raise RuntimeError(f"could not reach the model gateway with {TOKEN}")

    res = agentlab.sweep(broken, data, {"max_tool_steps": [0]}, out=tmp / "sweep-failed", progress=False)
    assert (res.cells.status == "failed").all()
    out["sweep files (failed cell)"] = _files(tmp / "sweep-failed")
    out["SweepResult (failed cell)"] = repr(res) + res._repr_html_() + res.failed.to_csv()


def _transcribed(server: OpenAIServer, out: dict[str, str]) -> None:
    stt = OpenAISTT(base_url=server.base_url, api_key=KEY, max_retries=0, timeout=5, concurrency=1)
    env_stt, env_tts = OpenAISTT(), OpenAITTS()  # key and URL from the environment
    server.enqueue_transcripts(status_fault(500, message=ECHO))
    try:
        stt.transcribe(Audio(np.zeros(32000, np.float32), 16000), VADTrack.from_segments([(0.5, 1.5)], duration=2.0))
    except Exception as exc:  # the error is what is searched
        err: BaseException = exc
    else:
        raise AssertionError("the scripted transcription fault did not raise")
    out["repr(STT)"] = repr(stt) + repr(env_stt) + repr(env_tts)
    out["STT error: str, repr, traceback"] = f"{err}\n{err!r}\n" + "".join(traceback.format_exception(err))
    out["STT error chain"] = "\n".join(f"{c!r}" for c in _chain(err)) or "(no chained exceptions)"
    html = [getattr(c, "_repr_html_", None) for c in (stt, env_stt, env_tts, OpenAILLM())]
    out["components' _repr_html_ (where defined)"] = "".join(f() for f in html if f is not None) or "(none defines one)"


WORLD_OUTPUTS = [
    "repr(session)",
    "session._repr_html_()",
    "repr(RunResult)",
    "RunResult events",
    "session history_frame",
    "session events_frame",
    "session metrics_frame",
    "tool session history_frame",
    "tool session events_frame",
    "tool session metrics_frame",
    "error event messages",
    "error event reprs",
    "error objects: str, repr, body",
    "error tracebacks",
    "ChatWidget (model errors)",
    "repr(SessionReport)",
    "session report file",
    "export to livekit (text and file)",
    "export to signalwire (text and file)",
    "export to videosdk (text and file)",
    "repr(LLM, TTS)",
    "repr(Run)",
    "Run._repr_html_()",
    "Run history_frame",
    "Run events_frame",
    "Run metrics_frame",
    "Run report file",
    "ConversationWidget",
    "sweep result files (out=, to_csv)",
    "SweepResult repr and _repr_html_",
    "repr(STT)",
    "STT error: str, repr, traceback",
    "STT error chain",
    "components' _repr_html_ (where defined)",
    "logs (every logger at DEBUG)",
    "stdout",
    "stderr",
    "warnings",
    "error chains (__cause__/__context__)",
    "ChatWidget (tool error)",
    "sweep files (failed cell)",
    "SweepResult (failed cell)",
]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, str], dict[str, Any]]:
    """Every output of a run in which both secrets reach our error paths, by name; and facts about the run."""
    tmp = tmp_path_factory.mktemp("secrets")
    out: dict[str, str] = {}
    facts: dict[str, Any] = {}
    log = io.StringIO()
    handler = logging.StreamHandler(log)
    handler.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))  # exc_info is formatted too
    loggers = [logging.getLogger(name) for name in ("", "agentlab", "openai", "httpx", "httpcore")]
    levels = [lg.level for lg in loggers]
    stdout, stderr = io.StringIO(), io.StringIO()
    logging.getLogger().addHandler(handler)
    for lg in loggers:
        lg.setLevel(logging.DEBUG)
    try:
        with (
            OpenAIServer() as server,
            pytest.MonkeyPatch.context() as mp,
            contextlib.redirect_stdout(stdout),
            contextlib.redirect_stderr(stderr),
            warnings.catch_warnings(record=True) as caught,
        ):
            mp.setenv("OPENAI_API_KEY", KEY)
            mp.setenv("OPENAI_BASE_URL", server.base_url)
            mp.setenv(TOKEN_ENV, TOKEN)
            asyncio.run(_sessions(server, tmp, out, facts))
            _simulated(server, tmp, out)
            _swept(server, tmp, out)
            _transcribed(server, out)
    finally:
        logging.getLogger().removeHandler(handler)
        for lg, level in zip(loggers, levels, strict=True):
            lg.setLevel(level)
    out["logs (every logger at DEBUG)"] = log.getvalue()
    out["stdout"] = stdout.getvalue() or "(empty)"
    out["stderr"] = stderr.getvalue() or "(empty)"
    out["warnings"] = "\n".join(f"{x.category.__name__}: {x.message}" for x in caught) or "(none)"
    return out, facts


@pytest.mark.parametrize("where", WORLD_OUTPUTS)
def test_no_secret_in(world: tuple[dict[str, str], dict[str, Any]], where: str) -> None:
    out, _ = world
    assert where in out, f"{where} was not collected"
    assert_clean(where, out[where])


def test_every_output_is_searched(world: tuple[dict[str, str], dict[str, Any]]) -> None:
    names = {p if isinstance(p, str) else p.values[0] for p in WORLD_OUTPUTS}
    assert set(world[0]) == names


def test_the_secrets_were_in_play(world: tuple[dict[str, str], dict[str, Any]]) -> None:
    """The search finds what it looks for, and the secrets really reached the error paths (and were masked)."""
    out, facts = world
    for fragment in FRAGMENTS:
        assert fragment in leaks(f"... {fragment} ...")
    assert leaks("s" + "k-" + "A1b2C3d4E5f6G7h8I9j0K") != []  # an OpenAI-shaped key, built so no scanner flags this file
    assert leaks(f"a {NOT_A_KEY}") == []
    assert f"Bearer {KEY}" in facts["authorization"], "requests carried the planted key"
    assert "HTTP Request: POST" in out["logs (every logger at DEBUG)"], "the logs were captured"
    messages = [e.message for e in facts["model errors"]]
    assert {e.source for e in facts["model errors"]} == {"llm", "tts"}, messages
    echoed = [m for m in messages if "Incorrect API key provided" in m]
    assert len(echoed) >= 3, messages  # the 401, the 500 given up after its retry, the TTS's 500
    for message in echoed:  # the echo arrived, informative, with both secrets masked
        assert "Incorrect API key provided: Bearer *** (upstream credential ***)" in message, message
    (tool_error,) = facts["tool errors"]
    assert tool_error.message == "booking service refused credential ***"
    assert TOKEN in str(tool_error.error), "the tool's own exception is the user's and keeps its text"


# --- the scrubber itself ------------------------------------------------------------------------------


def test_scrub_masks_registered_environment_and_openai_shaped_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    openai_shaped = "s" + "k-" + "proj-Planted_0123456789"
    monkeypatch.setenv("MY_SERVICE_PASSWORD", "hunter2-is-long-enough")
    monkeypatch.setenv("SHORT_TOKEN", "abc")  # too short to be masked: it would garble ordinary text
    monkeypatch.setenv("NOT_A_SECRET_PATH", "/usr/local/bin")
    register("my-team-key-0001")
    register("no")  # too short
    text = f"a=my-team-key-0001 b=hunter2-is-long-enough c={openai_shaped} d=abc e=/usr/local/bin f={NOT_A_KEY} g=no"
    assert scrub(text) == f"a=*** b=*** c=*** d=abc e=/usr/local/bin f={NOT_A_KEY} g=no"
    monkeypatch.setenv("LATER_API_KEY", "set.after+start[1]")  # read at scrub time; regex characters are literal
    assert scrub("key set.after+start[1]!") == "key ***!"


def test_external_client_key_is_registered(server: OpenAIServer, no_openai_env: None) -> None:
    import openai

    client = openai.AsyncOpenAI(api_key="agentlab-planted-client-0002", base_url=server.base_url)
    llm = OpenAILLM(client=client)
    assert llm.client is client
    assert scrub("echo agentlab-planted-client-0002") == "echo ***"


# --- notebooks ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", sorted(NOTEBOOKS.glob("*.ipynb")) + sorted(NOTEBOOKS.glob("*.json")), ids=lambda p: p.name)
def test_committed_notebook_outputs_hold_no_key(path: Path) -> None:
    text = path.read_text()
    assert_clean(path.name, text)


#: Appended to the executed notebooks: wait for the answer to arrive, then show what a user would look at.
PROBES = {
    "01-text-chat.ipynb": """
        import asyncio

        from IPython.display import HTML

        for _ in range(200):  # the greeting's request has been refused (with the key echoed back)
            if any(e.type == "error" for e in real.events):
                break
            await asyncio.sleep(0.05)
        chat = ChatWidget(real)
        await chat.say("A table for two, please")  # refused again; the widget shows the error
        display(real, HTML(chat.transcript.value))
        print([e.message for e in real.events if e.type == "error"])
        real.events_frame()
    """,
    "06-tool-steps.ipynb": """
        from agentlab.session.options import build_options
        from agentlab.sweeps import run_task

        print(real.failed.error.tolist())
        display(real)
        one = run_task(few.conversations[0], real_agent, build_options())  # one of the sweep's runs, to look at
        print([e.message for e in one.session.events if e.type == "error"])
        one
    """,
}


@pytest.fixture
def kernel(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A private ``python3`` kernelspec running this venv's python (as tests/test_jupyter.py does)."""
    spec_dir = tmp_path / "jupyter" / "kernels" / "python3"
    spec_dir.mkdir(parents=True)
    spec = {"argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"], "language": "python"}
    spec["display_name"] = "agentlab secrets test kernel"
    spec["env"] = {"PYDEVD_DISABLE_FILE_VALIDATION": "1", "MPLBACKEND": "Agg"}
    (spec_dir / "kernel.json").write_text(json.dumps(spec))
    for name, sub in [("JUPYTER_PATH", "jupyter"), ("JUPYTER_RUNTIME_DIR", "runtime"), ("IPYTHONDIR", "ipython")]:
        (tmp_path / sub).mkdir(exist_ok=True)
        monkeypatch.setenv(name, str(tmp_path / sub))
    monkeypatch.setenv("JUPYTER_PLATFORM_DIRS", "1")
    return "python3"


@pytest.mark.parametrize("name", sorted(PROBES))
def test_executed_notebook_holds_no_key(name: str, kernel: str, server: OpenAIServer, monkeypatch: pytest.MonkeyPatch) -> None:
    """The notebook's key-gated cells run against a server that refuses the key and echoes it back."""
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    server.default = status_fault(401, message=ECHO)
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell(textwrap.dedent(PROBES[name]).strip()))
    client = nbclient.NotebookClient(
        nb, timeout=30, startup_timeout=30, kernel_name=kernel, resources={"metadata": {"path": str(NOTEBOOKS)}}
    )
    try:
        client.execute()
    except RuntimeError as exc:  # the kernel could not start: nothing to search
        if "Kernel died" in str(exc) or "Kernel didn't respond" in str(exc):
            pytest.skip(f"no Jupyter kernel: {exc}")
        raise
    assert any(r.headers.get("authorization") == f"Bearer {KEY}" for r in server.completions), "the notebook used the planted key"
    saved = nbformat.writes(nb)
    assert "Incorrect API key provided: Bearer *** (upstream credential ***)" in saved, "the echoed error is in the outputs, masked"
    assert name != "01-text-chat.ipynb" or "llm error: " in saved, "the chat widget's error note is in the outputs"
    assert_clean(f"{name} executed and saved", saved)


def test_failures_agentlab_logs_are_scrubbed(caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    # A user's callback and on_exit raising with a secret in the message: logged with a traceback, masked.
    monkeypatch.setenv(TOKEN_ENV, TOKEN)

    class Leaky(Agent):
        async def on_exit(self) -> None:
            raise RuntimeError(f"on_exit saw {TOKEN}")

    def callback(event: Any) -> None:
        raise RuntimeError(f"callback saw {TOKEN}")

    async def main() -> None:
        session = AgentSession(llm=agentlab.ScriptedLLM(["Hi."]))
        session.on("conversation_item_added", callback)
        await session.start(Leaky(instructions="x"))
        await session.run(user_input="hello")
        await session.aclose()

    with caplog.at_level(logging.DEBUG):
        agentlab.VirtualClock().run(main)
    text = caplog.text
    assert "callback saw ***" in text and "on_exit saw ***" in text and "Traceback" in text, "the failures were logged"
    assert not [f for f in FRAGMENTS if f in text]
