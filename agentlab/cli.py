"""The ``agentlab`` command (also ``python -m agentlab``): ``demo`` (the offline main job, headless),
``lab`` (JupyterLab on the notebooks), ``chat`` (a text chat in the terminal), ``console`` (your agent
file in the terminal) and ``sweep`` (a headless, resumable option sweep from a config file).
``agentlab`` alone prints this help; ``agentlab --version`` the version.

Example::

    agentlab demo            # the main job, headless: simulate, sweep, print summaries, write figures to agentlab-demo/
    agentlab lab --no-browser --port 8899       # JupyterLab on notebooks/; options after `lab` go to Jupyter
    agentlab console agent.py [--audio call.flac --save-wav heard.wav --save-timeline timeline.png]
    agentlab chat [--verbose]                   # talk to the quickstart agent (OpenAI if OPENAI_API_KEY is set)
    agentlab sweep --example > sweep.yaml       # the example config, to edit
    agentlab sweep sweep.yaml --out runs/delay  # run a sweep, write summary.csv, turns.csv, figures

A sweep config (YAML or JSON; ``agentlab/examples/sweep.yaml`` is a commented example)::

    dataset: dictation                   # a bundled dataset name or a folder (relative to the config)
    grid:                                # dotted option name -> list of values
      endpointing.min_delay: [0.2, 0.5, 1.0]
      vad.min_silence_duration: [0.25, 0.55]
    base_options: {turn_handling: {...}} # optional: AgentSession keyword arguments
    vad: {activation_threshold: 0.5}     # optional: VADOptions fields
    agent: my_agents:make_agent          # optional: the factory playing task conversations (module:name;
                                         #   the config's folder is importable); default: the reference agent
    timeout: 3.0                         # optional: the eot scoring window (seconds)
    llm_ttft: 0.3                        # optional: reply timing that models response latency on voice
    tts_ttfb: 0.2                        #   conversations (your model's figures, seconds)
    executor: processes                  # optional: run on 2 worker processes (or a number of them)
    out: runs/delay                      # optional: default sweep-<config stem> next to the config
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

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
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for name, frame in (("history", run.history), ("events", run.events), ("metrics", run.metrics)):
        frame.to_csv(out / f"{name}.csv", index=False)
    voice.timeline().savefig(out / "voice_timeline.png", dpi=110)
    voice.write_audio(out / "voice_heard.wav")
    written = ["history.csv", "events.csv", "metrics.csv", "voice_timeline.png", "voice_heard.wav"]
    written += _datasets_demo(out)
    print(f"\nwrote {out}/: {', '.join(written)}")
    return 0


def _datasets_demo(out: Path) -> list[str]:
    """The notebooks' story, headless: a recorded conversation, an endpointing sweep, tool-step limits."""
    from . import datasets
    from .datasets.convert import simulate_conversation
    from .report import sweep_table
    from .sweeps import plots, sweep
    from .widgets.conversation import default_agent

    conv = datasets.load("overlaps")["overlaps-002"]
    recorded = simulate_conversation(conv, lambda: default_agent(conv))
    print(f"\nrecorded conversation {conv.id} (bundled overlaps dataset), played to an offline agent\n{recorded}")
    recorded.timeline().savefig(out / "recorded_timeline.png", dpi=110)

    delays = sweep(None, "dictation", {"endpointing.min_delay": [0.2, 0.4, 0.6, 0.8, 1.0, 1.5]}, progress=False)
    print(f"\nendpointing sweep on the dictation dataset ({len(delays.cells)} cells)\n{sweep_table(delays)}")
    best = delays.best(max_cutoff_rate=0.10)
    print(f"recommended: min_delay={best['endpointing.min_delay']} s (the fastest with at most 10% false cut-offs)")
    tasks = sweep(None, "tasks", {"max_tool_steps": [0, 1, 3]}, progress=False)
    print(f"\ntool-step limits on the tasks dataset ({len(tasks.cells)} cells)\n{sweep_table(tasks)}")
    delays.summary.to_csv(out / "endpointing_summary.csv", index=False)
    tasks.summary.to_csv(out / "tool_steps_summary.csv", index=False)
    plots.tradeoff(delays).savefig(out / "endpointing_tradeoff.png", dpi=110)
    plots.tool_steps(tasks).savefig(out / "tool_steps.png", dpi=110)
    return ["recorded_timeline.png", "endpointing_summary.csv", "endpointing_tradeoff.png", "tool_steps_summary.csv", "tool_steps.png"]


def _lab(lab_args: list[str]) -> int:
    """Open JupyterLab on the notebooks (``lab_args``: an optional folder first, then Jupyter's own
    options), installing JupyterLab first if it is missing."""
    import importlib.util
    import subprocess

    folder = _notebooks_folder()
    if lab_args and not lab_args[0].startswith("-"):
        folder = Path(lab_args[0])
        lab_args = lab_args[1:]
    if not folder.is_dir():
        print(f"agentlab lab: no notebooks folder at {folder}; pass one: agentlab lab PATH [JUPYTER OPTIONS]", file=sys.stderr)
        return 2
    if importlib.util.find_spec("jupyterlab") is None:
        cmd = [sys.executable, "-m", "pip", "install", "jupyterlab>=4.2", "ipykernel>=6.29"]
        print(f"agentlab lab: installing JupyterLab: {' '.join(cmd)}", flush=True)
        if subprocess.call(cmd) != 0:
            print("agentlab lab: could not install JupyterLab; try: pip install 'agentlab-voice[lab]'", file=sys.stderr)
            return 2
    cmd = [sys.executable, "-m", "jupyterlab", f"--ServerApp.root_dir={folder}", *lab_args]
    print(f"agentlab lab: {' '.join(cmd)}", flush=True)
    try:
        return subprocess.call(cmd)
    except KeyboardInterrupt:  # Jupyter got the Ctrl-C too and shuts itself down
        return 130


def _notebooks_folder() -> Path:
    here = Path.cwd() / "notebooks"
    return here if here.is_dir() else Path(__file__).resolve().parents[1] / "notebooks"


def _voice_demo() -> object:
    from .examples import scenario_path
    from .scenario import load_scenario

    path = scenario_path("weather_barge_in")
    run = load_scenario(str(path)).run()
    print(f"\nvoice: scenario {path.name}, decided by the turn engine as LiveKit 1.8.9 would\n{run}")
    for e in run.events.itertuples():  # in time order
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


class ConfigError(Exception):
    """A bad sweep config: the message names the file, the field and the value."""


_SWEEP_FIELDS = (
    "dataset",
    "grid",
    "agent",
    "base_options",
    "vad",
    "vad_backend",
    "stt",
    "timeout",
    "llm_ttft",
    "tts_ttfb",
    "executor",
    "out",
)


def _sweep_config(path: Path) -> dict[str, object]:
    """Read and check a sweep config; raises :class:`ConfigError`."""
    import dataclasses

    import yaml

    from ._files import MODE_NAME_ONLY, load_json, load_yaml, non_mode_turn_detection, not_utf8
    from ._utils import is_finite_number
    from .audio import VADOptions
    from .datasets import load
    from .models.stt import STTOptions
    from .sweeps.run import (
        _VAD_BACKENDS,
        Listening,
        _check_executor,
        _with_dataset_options,
        base_session_options,
        expand_grid,
        setting_options,
    )

    def bad(field: str, value: object, why: str) -> ConfigError:
        return ConfigError(f"{path}: field {field!r} = {value!r}: {why}")

    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise ConfigError(f"{path}: cannot read the config: {e}") from None
    except UnicodeDecodeError as e:
        raise ConfigError(f"{path}: the config {not_utf8(e)}") from None
    try:
        # duplicate keys are errors: a second `grid:` would otherwise replace the first without a word
        cfg = load_json(text) if path.suffix.lower() == ".json" else load_yaml(text)
    except (ValueError, yaml.YAMLError) as e:
        raise ConfigError(f"{path}: not valid {'JSON' if path.suffix.lower() == '.json' else 'YAML'}: {e}") from None
    if not isinstance(cfg, dict):
        raise ConfigError(f"{path}: the config must be a mapping with fields {', '.join(_SWEEP_FIELDS)}; got {cfg!r}")
    unknown = [k for k in cfg if k not in _SWEEP_FIELDS]
    if unknown:
        raise bad(str(unknown[0]), cfg[unknown[0]], f"unknown field; expected some of {', '.join(_SWEEP_FIELDS)}")
    for field in ("dataset", "grid"):
        if field not in cfg:
            raise ConfigError(f"{path}: field {field!r} is missing")

    ds = cfg["dataset"]
    if not isinstance(ds, str) or not ds:
        raise bad("dataset", ds, "must be a dataset name or a folder")
    local = path.parent / ds
    try:
        data = load(local if local.is_dir() else ds)
    except Exception as e:
        raise bad("dataset", ds, f"{type(e).__name__}: {e}") from None

    timeout = cfg.get("timeout")
    if timeout is not None and not (is_finite_number(timeout) and timeout > 0):
        raise bad("timeout", timeout, "must be a positive number of seconds")
    timing = {}
    for field in ("llm_ttft", "tts_ttfb"):
        value = cfg.get(field)
        if value is not None and not (is_finite_number(value) and value >= 0):
            raise bad(field, value, "must be a number of seconds >= 0")
        if value is not None:
            timing[field] = float(value)
    agent = cfg.get("agent")
    if agent is not None:
        agent = _import_factory(agent, lambda why: bad("agent", cfg["agent"], why), path.parent)
    executor = cfg.get("executor")
    if executor is not None and not (executor == "processes" or (isinstance(executor, int) and not isinstance(executor, bool))):
        raise bad("executor", executor, "must be 'processes', a number of worker processes, or omitted (in-process)")
    try:
        _check_executor(executor)
    except ValueError as e:
        raise bad("executor", executor, str(e)) from None

    base_options = cfg.get("base_options") or {}
    if not isinstance(base_options, dict):
        raise bad("base_options", base_options, "must be a mapping of AgentSession keyword arguments")
    problem = non_mode_turn_detection(base_options)
    if problem is not None:
        raise bad(f"base_options.{problem[0]}", problem[1], MODE_NAME_ONLY)
    try:
        base = base_session_options(_with_dataset_options(data, base_options))
    except Exception as e:
        raise bad("base_options", base_options, f"{type(e).__name__}: {e}") from None
    vad_fields = cfg.get("vad") or {}
    if not isinstance(vad_fields, dict):
        raise bad("vad", vad_fields, "must be a mapping of VADOptions fields")
    try:
        vad = VADOptions(**vad_fields)
    except Exception as e:
        raise bad("vad", vad_fields, f"{type(e).__name__}: {e}; fields: {', '.join(VADOptions().to_dict())}") from None
    backend = cfg.get("vad_backend", "silero")
    if backend not in _VAD_BACKENDS:
        raise bad("vad_backend", backend, f"must be one of {', '.join(_VAD_BACKENDS)}")
    stt_fields = cfg.get("stt") or {}
    if not isinstance(stt_fields, dict):
        raise bad("stt", stt_fields, "must be a mapping of STTOptions fields")
    try:
        stt = STTOptions(**stt_fields)
    except Exception as e:
        raise bad(
            "stt", stt_fields, f"{type(e).__name__}: {e}; fields: {', '.join(f.name for f in dataclasses.fields(STTOptions))}"
        ) from None
    hear = Listening(backend, vad, stt)

    grid = cfg["grid"]
    if not isinstance(grid, dict):
        raise bad("grid", grid, "must be a mapping of dotted option name -> list of values")
    for name, values in grid.items():
        field = f"grid.{name}"
        if name == "turn_detection" and isinstance(values, list) and any(v is not None and not isinstance(v, str) for v in values):
            raise bad(field, values, f"each value {MODE_NAME_ONLY}")
        try:
            expand_grid({name: values})
            for v in values:
                setting_options(base, hear, {name: v})
        except Exception as e:
            raise bad(field, values, str(e).removeprefix("sweep: ")) from None

    out = cfg.get("out")
    if out is not None and (not isinstance(out, str) or not out):
        raise bad("out", out, "must be a folder path")
    return {
        "dataset": data,
        "grid": grid,
        "base_options": base_options,
        "base_vad": vad,
        "base_stt": stt,
        "vad_backend": backend,
        "timeout": timeout,
        "timing": timing,
        "agent": agent,
        "executor": executor,
        "out": path.parent / out if out is not None else path.parent / f"sweep-{path.stem}",
    }


def _import_factory(spec: object, bad: Any, folder: Path) -> Any:
    """``"package.module:name"`` → that attribute (an agent factory); the config's folder is importable."""
    import importlib

    if not isinstance(spec, str) or spec.count(":") != 1 or not all(spec.split(":")):
        raise bad("must be 'module:factory' (e.g. 'my_agents:make_agent')")
    module_name, attr = spec.split(":")
    if str(folder.resolve()) not in sys.path:
        sys.path.insert(0, str(folder.resolve()))  # a my_agents.py next to the config
    try:
        factory = getattr(importlib.import_module(module_name), attr)
    except Exception as e:
        raise bad(f"cannot import it: {type(e).__name__}: {e}") from None
    if not callable(factory):
        raise bad(f"{attr} is a {type(factory).__name__}, not a factory (an Agent subclass or a function)")
    return factory


#: The commented example config that ``agentlab sweep --example`` prints (shipped in the package).
EXAMPLE_CONFIG = Path(__file__).resolve().parent / "examples" / "sweep.yaml"


def _sweep(args: argparse.Namespace) -> int:
    from .report import metric_columns, sweep_table, text_table
    from .sweeps import sweep

    if args.example:
        print(EXAMPLE_CONFIG.read_text(encoding="utf-8"), end="")
        return 0
    if args.config is None:
        print("agentlab sweep: give a config file (agentlab sweep --example > sweep.yaml writes one to start from)", file=sys.stderr)
        return 2
    path = Path(args.config)
    try:
        cfg = _sweep_config(path)
    except ConfigError as e:
        print(f"agentlab sweep: {e}", file=sys.stderr)
        return 2
    out = Path(args.out) if args.out else Path(cfg["out"])  # type: ignore[arg-type]
    kwargs = {"timeout": cfg["timeout"]} if cfg["timeout"] is not None else {}
    kwargs.update(cfg["timing"])  # type: ignore[arg-type]
    data = cfg["dataset"]
    print(f"agentlab sweep: {path}: dataset {data.name!r} ({len(data)} conversations), out {out}", flush=True)  # type: ignore[attr-defined]
    try:
        res = sweep(
            cfg["agent"],
            data,  # type: ignore[arg-type]
            cfg["grid"],  # type: ignore[arg-type]
            base_options=cfg["base_options"],  # type: ignore[arg-type]
            base_vad=cfg["base_vad"],  # type: ignore[arg-type]
            base_stt=cfg["base_stt"],  # type: ignore[arg-type]
            vad_backend=cfg["vad_backend"],  # type: ignore[arg-type]
            executor=cfg["executor"],
            out=out,
            progress=not args.no_progress,
            **kwargs,  # type: ignore[arg-type]
        )
    except ValueError as e:  # e.g. out holds another sweep
        print(f"agentlab sweep: {path}: {e}", file=sys.stderr)
        return 2
    res.summary.to_csv(out / "summary.csv", index=False)
    res.turns.to_csv(out / "turns.csv", index=False)
    written = ["summary.csv", "turns.csv", *_sweep_figures(res, out)]
    print(f"\nsummary ({len(res.summary)} settings; every figure is in summary.csv):\n{sweep_table(res)}")
    if len(res.failed):
        shown = res.failed.assign(error=res.failed["error"].str.slice(0, 100))  # the whole message is in the cell file
        failed = text_table(shown, [*res.params, "conversation", "error"], exact=res.params)
        print(f"\n{len(res.failed)} failed cells:\n{failed}")
    figures = metric_columns(res.summary, res.params)
    if "false_cutoff_rate" in figures:
        _print_best_by_cutoffs(res)
    if "task_success_rate" in figures:
        _print_best_by_tasks(res)
    print(f"\nwrote {', '.join(str(out / w) for w in written)}")
    return 0


def _setting(res: Any, row: dict[str, Any]) -> str:
    return ", ".join(f"{p}={row[p]!r}" for p in res.params) or "(the base options)"


def _print_best_by_cutoffs(res: Any) -> None:
    """Voice conversations: the fastest setting within each cut-off budget (eot-bench's operating points)."""
    import math

    for budget in (0.05, 0.10):
        try:
            row = res.best(max_cutoff_rate=budget)
        except ValueError:
            rates = [r for r in res.summary["false_cutoff_rate"] if not math.isnan(r)]
            low = f"; the lowest false_cutoff_rate is {min(rates):.3f}" if rates else ""
            print(f"\nbest with at most {budget:.0%} cut-offs: none of the {len(res.summary)} settings{low}")
            continue
        print(
            f"\nbest with at most {budget:.0%} cut-offs: {_setting(res, row)} "
            f"(false_cutoff_rate {row['false_cutoff_rate']:.3f}, eot_latency_p50 {row['eot_latency_p50']:.3f}s)"
        )


def _print_best_by_tasks(res: Any) -> None:
    """Task conversations: the highest task success; ties go to fewer forced replies, then faster replies."""
    import math

    def key(r: dict[str, Any]) -> tuple[float, ...]:
        return tuple(math.inf if math.isnan(v) else v for v in (-r["task_success_rate"], r["forced_reply_rate"], r["response_latency_p50"]))

    rows = [r for r in res.summary.to_dict("records") if not math.isnan(r["task_success_rate"])]
    if not rows:
        return
    row = min(rows, key=key)  # the first in grid order among equals
    print(
        f"\nrecommended by task success: {_setting(res, row)} (task_success_rate {row['task_success_rate']:.3f}, "
        f"forced_reply_rate {row['forced_reply_rate']:.3f}, response_latency_p50 {row['response_latency_p50']:.3f}s)"
    )


def _sweep_figures(res: Any, out: Path) -> list[str]:
    """PNG figures from :mod:`agentlab.sweeps.plots` for what the dataset labels (each one skipped if it fails)."""
    import matplotlib

    matplotlib.use("Agg")  # headless
    from .sweeps import plots

    s = res.summary
    varying = [p for p in res.params if s[p].astype(str).nunique() > 1]
    voice = bool(s["eot_latency_p50"].notna().any() or s["false_cutoff_rate"].notna().any())
    tasks = bool(s["task_success_rate"].notna().any())
    figures: list[tuple[str, Any, tuple[Any, ...]]] = []
    if voice:
        figures += [("tradeoff", plots.tradeoff, ()), ("latency_distribution", plots.latency_distribution, ())]
        if s["preemptive_starts"].gt(0).any():
            figures.append(("preemptive_cost", plots.preemptive_cost, ()))
        if "interruption.min_duration" in varying and s["barge_ins_scored"].gt(0).any():
            figures.append(("interruption_curve", plots.interruption_curve, ()))
        if len(varying) >= 2:
            for metric in ("false_cutoff_rate", "eot_latency_p50"):
                figures.append((f"heatmap_{metric}", plots.heatmap, (varying[0], varying[1], metric)))
    if tasks:
        if "max_tool_steps" in res.params:
            figures.append(("tool_steps", plots.tool_steps, ()))
        if len(varying) >= 2:
            figures.append(("heatmap_task_success_rate", plots.heatmap, (varying[0], varying[1], "task_success_rate")))
    written = []
    for file, fn, extra in figures:
        try:
            fig = fn(res, *extra)
            fig.savefig(out / f"{file}.png", dpi=110)
            written.append(f"{file}.png")
        except Exception as e:  # a figure must not lose the sweep's tables
            print(f"agentlab sweep: figure {file} skipped: {type(e).__name__}: {e}", file=sys.stderr)
    return written


def run_app(server: Any, **kwargs: Any) -> int:
    """LiveKit's ``cli.run_app(server)`` for files that import ``agentlab`` in place of ``livekit.agents``:
    :func:`agentlab.livekit.cli.run_app` (``python agent.py console`` chats with the file's entrypoint)."""
    from .livekit.cli import run_app as livekit_run_app

    return livekit_run_app(server, **kwargs)


def _parser() -> argparse.ArgumentParser:
    from . import __version__

    parser = argparse.ArgumentParser(prog="agentlab", description="Design and evaluate voice AI agents.")
    parser.add_argument("--version", action="version", version=f"agentlab {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    demo = sub.add_parser("demo", help="the main job, headless and offline: simulations, sweeps, their summaries and figures")
    demo.add_argument("--out", default="agentlab-demo", help="folder for the frames, summaries and figures (default: agentlab-demo)")
    lab = sub.add_parser(
        "lab",
        help="open JupyterLab on the notebooks (installs JupyterLab if it is missing)",
        description="Open JupyterLab on the notebooks. Everything after the folder goes to Jupyter unchanged.",
    )
    lab.add_argument("lab_args", nargs="*", metavar="[NOTEBOOKS] [JUPYTER OPTIONS]",
                     help="the notebooks folder (default: ./notebooks, else the repository's), then jupyter lab's options "
                          "(e.g. --no-browser --port 8899)")  # fmt: skip
    chat = sub.add_parser("chat", help="chat with the quickstart agent in the terminal (OpenAI if OPENAI_API_KEY is set)")
    chat.add_argument("--verbose", action="store_true", help="also print the agent's state changes and each turn's latency")
    chat.add_argument("--model", default="gpt-4.1-mini", help="the OpenAI model when OPENAI_API_KEY is set (default: gpt-4.1-mini)")
    con = sub.add_parser("console", help="chat with the agent in a Python file (or play a recording to it with --audio)")
    con.add_argument("path", help="the agent file (agentlab or livekit.agents imports)")
    con.add_argument("--agent", help="the Agent class to start with (default: the first one no other agent in the file hands off to)")
    con.add_argument("--audio", help="play this recording through the voice pipeline instead of chatting")
    con.add_argument("--save-wav", metavar="PATH", help="with --audio: write what was heard (user left, agent right) to this WAV file")
    con.add_argument("--save-timeline", metavar="PATH", help="with --audio: write the run's timeline figure (PNG, SVG or PDF)")
    con.add_argument("--model", default="gpt-4.1-mini", help="the OpenAI model when OPENAI_API_KEY is set")
    sw = sub.add_parser("sweep", help="run an option sweep from a YAML/JSON config (headless, resumable)")
    sw.add_argument("config", nargs="?", help="the sweep config (YAML or JSON): dataset, grid, base_options, vad, timeout, executor, out")
    sw.add_argument("--example", action="store_true", help="print a commented example config (agentlab sweep --example > sweep.yaml)")
    sw.add_argument("--out", help="folder for the cells, summary.csv, turns.csv and figures (default: the config's out)")
    sw.add_argument("--no-progress", action="store_true", help="no progress bar")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``agentlab`` command (and of ``python -m agentlab``); returns the exit status.

    Example::

        main(["sweep", "sweep.yaml", "--no-progress"])   # 0 when the sweep ran
    """
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["lab"] and not {"-h", "--help"} & set(argv[1:]):
        return _lab(argv[1:])  # untouched: argparse would take Jupyter's options (--port 8899) for its own
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    if args.command == "demo":
        try:
            return _demo(args)
        except (ImportError, FileNotFoundError) as e:  # a missing extra or dataset: its message says the fix
            print(f"agentlab demo: {e}", file=sys.stderr)
            return 2
    if args.command == "console":
        from .console import run_console

        if args.audio is None and (args.save_wav or args.save_timeline):
            print("agentlab console: --save-wav and --save-timeline need --audio (a recording to play)", file=sys.stderr)
            return 2
        return run_console(
            args.path, agent=args.agent, audio=args.audio, model=args.model, save_wav=args.save_wav, save_timeline=args.save_timeline
        )
    if args.command == "sweep":
        return _sweep(args)
    from .console import run_chat

    return run_chat(model=args.model, verbose=args.verbose)


if __name__ == "__main__":
    raise SystemExit(main())
