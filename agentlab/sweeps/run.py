"""Run a sweep: session options × labelled conversations → a :class:`~agentlab.sweeps.result.SweepResult`.

:func:`sweep` expands a grid of option values into settings, runs every (setting, conversation)
**cell** and scores it with :func:`~agentlab.sweeps.score.span_outcomes`.

A cell takes one of two paths, by the conversation's kind:

* **Voice conversations** (audio or a speech script) take the **fast path**: the turn engine is
  replayed on the labelled user and agent speech
  (:func:`~agentlab.sweeps.replay.replay_conversation`); no LLM or TTS runs, so the agent is not
  used and the figures are the turn-taking ones (cut-offs, end-of-turn latency, barge-in recall,
  false interruptions, preemptive generation).
* **Task conversations** (``text_turns``, no audio) take the **full simulation path**
  (:mod:`agentlab.sweeps.tasks`): the whole session runs on the virtual clock with a fresh agent
  from ``agent_or_factory`` (``None``: the offline reference agent) and the figures are response
  latency, LLM requests, tool rounds, forced final replies and task success.

Nothing is lost (``out``): each finished cell is written atomically to its own JSON file in
``out/cells/``, next to ``out/sweep.json`` describing the arguments. Running the same sweep again
with the same ``out`` loads the finished cells and computes only the missing ones, so a sweep that
was killed ends with the same result as one that was not. A cell that raises (an unreadable
recording...) is recorded with its error and the sweep goes on.

Example::

    from agentlab.sweeps import sweep

    res = sweep(None, "dictation", {"endpointing.min_delay": [0.2, 0.5, 1.0], "vad.min_silence_duration": [0.25, 0.55]},
                out="runs/dictation-delay")
    res.summary
    res.best(max_cutoff_rate=0.05)
"""

from __future__ import annotations

import collections
import concurrent.futures
import contextvars
import dataclasses
import hashlib
import itertools
import json
import os
import re
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .._progress import progress_bar, quiet
from .._secrets import scrub
from .._utils import atomic_write, is_finite_number
from ..audio import VADOptions
from ..datasets import Dataset, load
from ..datasets.model import Conversation
from ..engine.turns import EngineConfig
from ..models.stt import STTOptions
from ..session.options import DEPRECATED_KWARGS, SessionOptions, build_options
from .replay import conversation_events, engine_config, replay_conversation
from .result import CELL_COLUMNS, SweepResult
from .score import DEFAULT_LLM_TTFT, DEFAULT_TIMEOUT, DEFAULT_TTS_TTFB, ROW_COLUMNS, _rows
from .tasks import check_factory, run_task, task_outcomes

__all__ = ["Listening", "Setting", "base_session_options", "expand_grid", "setting_options", "sweep"]

_VAD_FIELDS = set(VADOptions().to_dict())
_STT_FIELDS = {f.name for f in dataclasses.fields(STTOptions)}
_VAD_BACKENDS = ("silero", "webrtc", "energy")
_FORMAT = 2  # of sweep.json and the cell files; bump when either changes meaning


@dataclasses.dataclass(frozen=True)
class Setting:
    """One point of the grid: ``values`` (dotted option name → value, grid order) and its short ``id``."""

    id: str
    values: dict[str, Any]


def _canonical(value: Any) -> str:
    # sort_keys + repr fallback: the same values always give the same text, whatever their order
    # numpy scalars hash as their Python value (np.float64(0.2) and 0.2 are the same setting)
    return json.dumps(value, sort_keys=True, default=lambda o: o.item() if hasattr(o, "item") else repr(o), allow_nan=True)


def _setting_id(values: Mapping[str, Any]) -> str:
    return hashlib.sha1(_canonical(sorted(values.items())).encode()).hexdigest()[:10]


def expand_grid(grid: Mapping[str, Sequence[Any]]) -> list[Setting]:
    """The settings of ``grid`` (option name → list of values): the cartesian product, in grid order.

    The last name varies fastest. Each setting's ``id`` is a hash of its sorted items, so it does
    not depend on the grid's key order. An empty grid is one setting (the base options).

    Example::

        [s.values for s in expand_grid({"endpointing.min_delay": [0.2, 1.0], "interruption.min_duration": [0.5]})]
        # [{'endpointing.min_delay': 0.2, 'interruption.min_duration': 0.5}, {'endpointing.min_delay': 1.0, ...}]
    """
    if not isinstance(grid, Mapping):
        raise TypeError(f"sweep: grid must be a dict of option name → list of values, got {type(grid).__name__}")
    for name, values in grid.items():
        if not isinstance(name, str):
            raise TypeError(f"sweep: grid keys are option names (str), got {name!r}")
        if isinstance(values, (str, bytes)) or not isinstance(values, Sequence) or len(values) == 0:
            raise ValueError(f"sweep: grid[{name!r}] must be a non-empty list of values, got {values!r}")
    names = list(grid)
    out, seen = [], set()
    for combo in itertools.product(*(list(grid[n]) for n in names)):
        # numpy scalars (np.arange, np.linspace) as Python values: the options' integer checks refuse np.int64
        values = dict(zip(names, (v.item() if isinstance(v, np.generic) else v for v in combo), strict=True))
        sid = _setting_id(values)
        if sid in seen:
            raise ValueError(f"sweep: grid has a repeated setting {values!r}")
        seen.add(sid)
        out.append(Setting(sid, values))
    return out


@dataclasses.dataclass(frozen=True)
class Listening:
    """How a sweep hears the user: the VAD backend and options, and the STT (one per setting).

    Settings that hear alike share one analysis of each conversation.

    Example::

        Listening("webrtc", VADOptions(min_silence_duration=0.4), STTOptions(model="modelled", wer=0.1))
    """

    vad_backend: str = "silero"
    vad: VADOptions = dataclasses.field(default_factory=VADOptions)
    stt: STTOptions = dataclasses.field(default_factory=STTOptions)

    def key(self, stt_end_of_speech: bool) -> str:
        """A stable text for "hears alike": the same key, the same analysis of a conversation.

        Example::

            Listening().key(False) == Listening(vad=VADOptions()).key(False)   # True
        """
        return _canonical([self.vad_backend, self.vad.to_dict(), dataclasses.asdict(self.stt), stt_end_of_speech])

    def describe(self) -> tuple[str, str]:
        """(the VAD, the STT) as recorded in the results.

        Example::

            Listening().describe()   # ('silero: activation 0.5/0.35, silence 0.25 s', 'aligned: labelled words, final +0.2 s')
        """
        v = self.vad
        vad = (
            f"{self.vad_backend}: activation {v.activation_threshold:g}/{v.deactivation_threshold:g}, silence {v.min_silence_duration:g} s"
        )
        return vad, self.stt.describe()


@dataclasses.dataclass(frozen=True)
class _Resolved:
    """One setting made ready to run: everything a cell needs, computed once per setting."""

    options: SessionOptions
    listening: Listening
    config: EngineConfig
    events_key: str
    vad: str
    stt: str

    @classmethod
    def of(cls, options: SessionOptions, listening: Listening) -> _Resolved:
        config = engine_config(options)
        vad, stt = listening.describe()
        return cls(options, listening, config, listening.key(config.mode == "stt"), vad, stt)


def _split(values: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any], str | None]:
    """(session option changes, VADOptions fields, STTOptions fields, VAD backend) of a setting."""
    session, vad, stt, backend = {}, {}, {}, None
    for k, v in values.items():
        if k == "vad.backend":
            if v not in _VAD_BACKENDS:
                raise ValueError(f"sweep: vad.backend = {v!r}; expected one of {list(_VAD_BACKENDS)}")
            backend = v
        elif k.startswith("vad."):
            field = k[4:]
            if field not in _VAD_FIELDS:
                raise ValueError(
                    f"sweep: unknown VAD option {k!r}; expected one of {sorted(['vad.backend', *('vad.' + f for f in _VAD_FIELDS)])}"
                )
            vad[field] = v
        elif k.startswith("stt."):
            field = k[4:]
            if field not in _STT_FIELDS:
                raise ValueError(f"sweep: unknown STT option {k!r}; expected one of {sorted('stt.' + f for f in _STT_FIELDS)}")
            stt[field] = v
        else:
            session[k] = v
    return session, vad, stt, backend


def setting_options(base: SessionOptions, listening: Listening, values: Mapping[str, Any]) -> tuple[SessionOptions, Listening]:
    """The session options and the :class:`Listening` of one setting: the bases changed by the dotted ``values``.

    ``vad.<field>`` changes a :class:`~agentlab.audio.VADOptions` field (an unset deactivation
    threshold follows a new activation threshold, as LiveKit derives it), ``vad.backend`` the VAD
    backend, ``stt.<field>`` an :class:`~agentlab.models.stt.STTOptions` field; anything else is a
    session option. Raises ``ValueError`` naming a bad option or value.

    Example::

        opts, hear = setting_options(build_options(), Listening(), {"endpointing.min_delay": 0.3, "vad.activation_threshold": 0.7})
        hear.vad.deactivation_threshold     # 0.55
    """
    session, vad, stt, backend = _split(values)
    opts = base.replace(**session) if session else base  # validates dotted names and values
    try:
        hear = Listening(
            backend or listening.vad_backend,
            listening.vad.replace(**vad) if vad else listening.vad,
            dataclasses.replace(listening.stt, **stt) if stt else listening.stt,
        )
    except (TypeError, ValueError) as e:
        raise ValueError(f"sweep: setting {dict(values)!r}: {e}") from None
    return opts, hear


def base_session_options(base_options: SessionOptions | Mapping[str, Any] | None) -> SessionOptions:
    """The options a sweep starts from: ``SessionOptions``, a dict of AgentSession option arguments, or ``None``.

    Raises ``TypeError``/``ValueError`` naming the bad argument (models such as ``llm`` are not
    session options: give them to the agent).

    Example::

        base_session_options({"turn_handling": {"endpointing": {"min_delay": 0.3}}, "max_tool_steps": 2})
    """
    if isinstance(base_options, SessionOptions):
        return base_options
    if base_options is None:
        return build_options()
    if not isinstance(base_options, Mapping):
        raise TypeError(
            "sweep: base_options must be SessionOptions, a dict of AgentSession option arguments or None, "
            f"got {type(base_options).__name__} {base_options!r}"
        )
    groups = set(SessionOptions().to_turn_handling()) - {"turn_detection"}  # nested: they go under turn_handling
    allowed = ({"turn_handling", *(f.name for f in dataclasses.fields(SessionOptions))} - groups) | set(DEPRECATED_KWARGS)
    unknown = sorted(map(str, set(base_options) - allowed))
    if unknown:
        nested = sorted(groups & set(unknown))
        hint = f"; put {', '.join(nested)} under turn_handling={{...}}" if nested else ""
        raise ValueError(f"sweep: base_options has unknown session option(s) {unknown}{hint}; expected some of {sorted(allowed)}")
    return build_options(**dict(base_options))


def _seconds(name: str, value: Any, *, positive: bool) -> float:
    if not (is_finite_number(value) and (value > 0 if positive else value >= 0)):
        raise ValueError(f"sweep: {name} must be a {'positive number of seconds' if positive else 'number of seconds >= 0'}, got {value!r}")
    return float(value)


def _dataset(dataset: Dataset | str | os.PathLike[str]) -> Dataset:
    if isinstance(dataset, Dataset):
        return dataset
    if isinstance(dataset, (str, os.PathLike)):
        return load(dataset)
    raise TypeError(f"sweep: dataset must be a Dataset or a dataset name/folder, got {type(dataset).__name__}")


def _jsonable(o: Any) -> Any:
    if hasattr(o, "item"):  # numpy scalars
        return o.item()
    raise TypeError(f"not JSON serializable: {o!r}")


def _cell_file(cells: Path, sid: str, conv_id: str) -> Path:
    return cells / f"{sid}--{re.sub(r'[^A-Za-z0-9_.-]', '_', conv_id)}.json"


_CELL_KEYS = {"setting", "conversation", "status", "error", "rows"}


def _read_cell(path: Path) -> dict[str, Any] | None:
    """A finished cell's record, or ``None`` when the cell is still to compute."""
    if not path.is_file():
        return None
    try:
        rec = json.loads(path.read_text())
    except (OSError, ValueError):  # ValueError: invalid JSON or not UTF-8
        rec = None
    if isinstance(rec, dict) and _CELL_KEYS <= set(rec) and isinstance(rec["rows"], list):
        return rec
    # Cells are written atomically, so this one was damaged from outside; computing it again
    # rewrites the record it held, where failing would leave the user to find and delete it.
    warnings.warn(f"sweep: {path} is not a readable cell record; computing that cell again", stacklevel=3)
    return None


def sweep(
    agent_or_factory: Any,
    dataset: Dataset | str | os.PathLike[str],
    grid: Mapping[str, Sequence[Any]],
    *,
    base_options: SessionOptions | Mapping[str, Any] | None = None,
    base_vad: VADOptions | None = None,
    base_stt: STTOptions | None = None,
    vad_backend: str = "silero",
    executor: Any = None,
    out: str | os.PathLike[str] | None = None,
    progress: bool | Callable[[int, int], Any] = True,
    timeout: float = DEFAULT_TIMEOUT,
    llm_ttft: float = DEFAULT_LLM_TTFT,
    tts_ttfb: float = DEFAULT_TTS_TTFB,
) -> SweepResult:
    """Score every setting of ``grid`` on every conversation of ``dataset``.

    * ``agent_or_factory``: what plays task conversations (see :func:`~agentlab.sweeps.tasks.make_agent`):
      ``None`` for the offline reference agent, or a factory — an ``Agent`` subclass, a function of
      no arguments, or of the conversation — called once per cell so every cell starts fresh (an
      ``Agent`` instance is refused for that reason). Give the agent its models (``Agent(llm=...)``).
      Unused by voice conversations (the fast path).
    * ``dataset``: a :class:`~agentlab.datasets.Dataset` or a name/folder for
      :func:`~agentlab.datasets.load`. Its manifest's ``session_options`` (if any) are the defaults
      that ``base_options`` changes.
    * ``grid``: dotted option name → list of values. Session options are anything
      :meth:`SessionOptions.replace <agentlab.session.options.SessionOptions.replace>` accepts
      (``"endpointing.min_delay"``, ``"endpointing.mode"``, ``"interruption.min_duration"``,
      ``"interruption.min_words"``, ``"interruption.false_interruption_timeout"``,
      ``"preemptive_generation.enabled"``, ``"turn_detection"``, ``"aec_warmup_duration"``...);
      ``"vad.<field>"`` sets a :class:`~agentlab.audio.VADOptions` field
      (``"vad.min_silence_duration"``, ``"vad.activation_threshold"``: an unset deactivation
      threshold follows it) and ``"vad.backend"`` the VAD (``"silero"``, ``"webrtc"``,
      ``"energy"``); ``"stt.<field>"`` an :class:`~agentlab.models.stt.STTOptions` field
      (``"stt.model"``: ``"aligned"``, ``"modelled"``, ``"whisper"``; ``"stt.final_delay"``,
      ``"stt.wer"``...). Every setting is validated before any cell runs.
    * ``base_options``: the options the grid changes (``SessionOptions``, taken whole; a dict of
      ``AgentSession`` keyword arguments, laid over the dataset's ``session_options``; or ``None``
      for those alone); ``base_vad``, ``base_stt`` and ``vad_backend`` likewise for hearing.
    * ``executor``: where the cells run. ``None``: one after another in this process.
      ``"processes"``: a ``concurrent.futures.ProcessPoolExecutor`` of 2 workers (an ``int``: that
      many workers), shut down at the end. A ``dask.distributed.Client`` (anything with ``.submit``
      and ``.gather``) or a ``concurrent.futures.Executor``: used as given, not closed. Work is
      sent per conversation (all its settings in one task, so each worker analyses a recording
      once); this process still writes every finished cell and resumes as above. The result is
      the same whatever the executor.
    * ``out``: a folder to keep the results in, cell by cell (see the module docstring). Reusing a
      folder with different arguments raises ``ValueError``.
    * ``progress``: ``True`` for a ``tqdm.auto`` bar (a widget in Jupyter, text on stderr in a
      terminal) once the sweep has run 2 s, ``False`` for none, or a function called as
      ``progress(done, total)`` (cells) at the start and after each cell. ``timeout``: the eot scoring
      window of :func:`~agentlab.sweeps.score.span_outcomes`; ``llm_ttft`` and ``tts_ttfb``: the
      reply timing that models response latency on the fast path (seconds; your model's figures).

    Every cell records which VAD and STT heard the user (``res.cells`` columns ``vad`` and ``stt``,
    also in the summary).

    Example::

        res = sweep(None, "overlaps", {"interruption.min_duration": [0.3, 0.5, 0.8]}, out="runs/overlaps")
        res.summary[["interruption.min_duration", "barge_in_recall", "false_interruption_rate"]]
        sweep(None, "real", {"stt.model": ["aligned", "modelled"], "endpointing.min_delay": [0.4, 0.8]}, base_stt=STTOptions(wer=0.1))
    """
    _check_executor(executor)
    check_factory(agent_or_factory)
    scoring = {
        "timeout": _seconds("timeout", timeout, positive=True),
        "llm_ttft": _seconds("llm_ttft", llm_ttft, positive=False),
        "tts_ttfb": _seconds("tts_ttfb", tts_ttfb, positive=False),
    }
    if base_vad is not None and not isinstance(base_vad, VADOptions):
        raise TypeError(f"sweep: base_vad must be a VADOptions (from agentlab.audio) or None, got {type(base_vad).__name__} {base_vad!r}")
    if base_stt is not None and not isinstance(base_stt, STTOptions):
        raise TypeError(
            f"sweep: base_stt must be an STTOptions (from agentlab.models.stt) or None, got {type(base_stt).__name__} {base_stt!r}"
        )
    if vad_backend not in _VAD_BACKENDS:
        raise ValueError(f"sweep: vad_backend = {vad_backend!r}; expected one of {list(_VAD_BACKENDS)}")
    data = _dataset(dataset)
    settings = expand_grid(grid)
    base = base_session_options(_with_dataset_options(data, base_options))
    hear0 = Listening(vad_backend, base_vad if base_vad is not None else VADOptions(), base_stt if base_stt is not None else STTOptions())
    resolved = {s.id: _Resolved.of(*setting_options(base, hear0, s.values)) for s in settings}  # fail fast on a bad name or value
    if any(r.config.mode == "stt" and r.listening.stt.model == "aligned" for r in resolved.values()):
        warnings.warn(
            "sweep: turn_detection='stt' with the aligned STT is an oracle: the STT's end of speech is the labels' own, "
            "so the end-of-turn latency is min_delay by construction. Sweep 'stt.model': ['modelled'] or ['whisper'] "
            "(or pass base_stt=STTOptions(model='modelled', ...)) for figures that hold on real calls",
            UserWarning,
            stacklevel=2,
        )
    params = list(grid)

    cells_dir: Path | None = None
    if out is not None:
        cells_dir = _prepare_out(
            Path(out),
            {
                "format": _FORMAT,
                "dataset": {"name": data.name, "conversations": [[c.id, c.duration, str(c.audio)] for c in data]},
                "grid": {k: list(v) for k, v in grid.items()},
                "base_options": base.to_dict(),
                "base_vad": hear0.vad.to_dict(),
                "base_stt": dataclasses.asdict(hear0.stt),
                "vad_backend": hear0.vad_backend,
                "scoring": scoring,
                "agent": _agent_name(agent_or_factory),
            },
        )

    records: dict[tuple[str, str], dict[str, Any]] = {}
    todo: list[tuple[Conversation, Setting]] = []
    for conv in data:
        for s in settings:
            rec = _read_cell(_cell_file(cells_dir, s.id, conv.id)) if cells_dir is not None else None
            if rec is not None:
                records[s.id, conv.id] = rec
            else:
                todo.append((conv, s))

    bar = _progress(progress, len(settings) * len(data), len(records))

    def done(rec: dict[str, Any]) -> None:
        if cells_dir is not None:
            text = json.dumps(rec, default=_jsonable, allow_nan=True)
            atomic_write(_cell_file(cells_dir, rec["setting"], rec["conversation"]), lambda tmp: Path(tmp).write_text(text))
        records[rec["setting"], rec["conversation"]] = rec
        if bar is not None:
            bar.update(1)

    try:
        with quiet():  # the sweep's bar covers the analyses it runs: no bar of their own
            if executor is None:
                groups: dict[str, tuple[Conversation, list[Setting]]] = {}
                for conv, s in todo:
                    groups.setdefault(conv.id, (conv, []))[1].append(s)
                for conv, todo_settings, events_cache in _analysed(list(groups.values()), resolved):
                    for s in todo_settings:
                        done(_cell(conv, s, resolved[s.id], events_cache, scoring, agent_or_factory))
            else:
                tasks: dict[str, tuple[Conversation, list[tuple[Setting, _Resolved]]]] = {}
                for conv, s in todo:
                    tasks.setdefault(conv.id, (conv, []))[1].append((s, resolved[s.id]))
                for recs in _run_tasks(executor, list(tasks.values()), scoring, agent_or_factory):
                    for rec in recs:
                        done(rec)
    finally:
        if bar is not None:
            bar.close()
    return _assemble(params, settings, data, records)


def _check_executor(executor: Any) -> None:
    if executor is None or executor == "processes" or _is_client(executor) or isinstance(executor, concurrent.futures.Executor):
        return
    if isinstance(executor, int) and not isinstance(executor, bool):
        if executor >= 1:
            return
        raise ValueError(f"sweep: executor={executor!r}: the number of worker processes must be at least 1")
    raise ValueError(
        f"sweep: unknown executor={executor!r}; use None (in-process), 'processes', a number of worker processes, "
        "a dask.distributed.Client or a concurrent.futures.Executor"
    )


def _is_client(executor: Any) -> bool:
    """A ``dask.distributed.Client`` or alike, by duck typing (dask is not imported by this module)."""
    return callable(getattr(executor, "submit", None)) and callable(getattr(executor, "gather", None))


def _run_conversation(
    conv: Conversation, items: list[tuple[Setting, _Resolved]], scoring: dict[str, float], agent: Any
) -> list[dict[str, Any]]:
    """One task of a parallel sweep: the cell records of ``conv`` under each setting (in a worker)."""
    events_cache: dict[tuple[str, str], Any] = {}
    with quiet():  # a worker's stderr is no place for bars; the sweep's own bar counts its cells
        return [_cell(conv, s, res, events_cache, scoring, agent) for s, res in items]


def _run_tasks(
    executor: Any, tasks: list[tuple[Conversation, list[Any]]], scoring: dict[str, float], agent: Any
) -> Iterator[list[dict[str, Any]]]:
    """The records of each task, as tasks finish (any order); pending tasks are cancelled on exit."""
    if not tasks:
        return
    # A future is forgotten as soon as its result is taken: a dask future keeps its result in a worker's
    # memory (a concurrent.futures one in ours) for as long as anything refers to it, so holding them all
    # until the end would keep every result of the sweep twice.
    own_pool: concurrent.futures.ProcessPoolExecutor | None = None  # made here, so shut down here
    if _is_client(executor):
        futures = [executor.submit(_run_conversation, conv, items, scoring, agent, pure=False) for conv, items in tasks]
        try:
            from distributed import as_completed
        except ImportError:

            def as_completed(fs: list[Any]) -> Iterator[Any]:  # a Client-like object without dask: submission order
                queue = collections.deque(fs)
                while queue:
                    yield queue.popleft()

    else:
        if not isinstance(executor, concurrent.futures.Executor):
            own_pool = concurrent.futures.ProcessPoolExecutor(2 if executor == "processes" else executor)
        pool = own_pool or executor
        futures = [pool.submit(_run_conversation, conv, items, scoring, agent) for conv, items in tasks]
        as_completed = concurrent.futures.as_completed  # (it drops the futures it yields)
    pending = {id(fut): fut for fut in futures}
    order = as_completed(futures)
    del futures
    try:
        for fut in order:
            del pending[id(fut)]
            recs = fut.result()
            del fut
            yield recs
    finally:
        for fut in pending.values():
            fut.cancel()
        if own_pool is not None:
            own_pool.shutdown(wait=True, cancel_futures=True)


def _cell(
    conv: Conversation,
    s: Setting,
    resolved: _Resolved,
    events_cache: dict[tuple[str, str], Any],
    scoring: dict[str, float],
    agent: Any,
) -> dict[str, Any]:
    """Run one cell; never raises (a failure becomes ``status="failed"`` with the message)."""
    rec: dict[str, Any] = {"setting": s.id, "conversation": conv.id, "status": "ok", "error": None, "vad": None, "stt": None, "rows": []}
    opts = resolved.options
    if conv.audio is None and conv.text_turns:
        try:
            rows = task_outcomes(conv, run_task(conv, agent, opts), max_tool_steps=opts.max_tool_steps)
            rec["rows"] = list(rows.itertuples(index=False, name=None))
        except Exception as e:  # a broken agent or tool must not stop the sweep
            rec.update(status="failed", error=scrub(f"{type(e).__name__}: {e}"), rows=[])
        return rec
    rec["vad"], rec["stt"] = resolved.vad, resolved.stt
    try:
        key = (conv.id, resolved.events_key)
        if key not in events_cache:
            events_cache[key] = _hear(conv, resolved)
        events = events_cache[key]
        if isinstance(events, Exception):
            raise events
        decisions = replay_conversation(conv, resolved.config, events)
        rec["rows"] = _rows(conv, decisions, preemptive_tts=opts.preemptive_generation.preemptive_tts, **scoring)
    except Exception as e:  # a broken conversation or option must not stop the sweep
        rec.update(status="failed", error=scrub(f"{type(e).__name__}: {e}"), rows=[])
    return rec


def _hear(conv: Conversation, resolved: _Resolved) -> list[Any] | Exception:
    """The engine's observations of ``conv`` as ``resolved`` hears it, or the error that prevented it.

    The error is kept rather than raised: every setting that hears alike fails the same way, fast.
    """
    hear = resolved.listening
    try:
        return conversation_events(
            conv, vad_backend=hear.vad_backend, vad_options=hear.vad, stt=hear.stt, stt_end_of_speech=resolved.config.mode == "stt"
        )
    except Exception as e:
        return e


def _analysed(
    groups: list[tuple[Conversation, list[Setting]]], resolved: Mapping[str, _Resolved]
) -> Iterator[tuple[Conversation, list[Setting], dict[tuple[str, str], Any]]]:
    """Each conversation with its settings and the analyses they need, in order.

    Analysing a recording (the VAD and STT models run in native code that releases the GIL) is most
    of a sweep's cost on fresh audio, so the next conversations are analysed on a thread pool while
    this one is replayed; a window of a few conversations bounds what is held in memory. The results
    are the same as analysing one after another.
    """

    def analyse(conv: Conversation, todo: list[Setting]) -> dict[tuple[str, str], Any]:
        out: dict[tuple[str, str], Any] = {}
        if conv.audio is None and conv.text_turns:
            return out  # a typed task: nothing to hear
        for s in todo:
            key = (conv.id, resolved[s.id].events_key)
            if key not in out:
                out[key] = _hear(conv, resolved[s.id])
        return out

    workers = min(4, os.cpu_count() or 1)
    if workers < 2 or len(groups) < 2:
        for conv, todo in groups:
            yield conv, todo, analyse(conv, todo)
        return
    window = 2 * workers
    # each analysis runs in a copy of this context: pool threads start from an empty one, which would show bars
    pool = concurrent.futures.ThreadPoolExecutor(workers, thread_name_prefix="agentlab-analysis")
    try:
        pending: collections.deque[Any] = collections.deque()
        queue = iter(groups)
        for conv, todo in itertools.islice(queue, window):
            pending.append((conv, todo, pool.submit(contextvars.copy_context().run, analyse, conv, todo)))
        while pending:
            conv, todo, fut = pending.popleft()
            nxt = next(queue, None)
            if nxt is not None:
                pending.append((nxt[0], nxt[1], pool.submit(contextvars.copy_context().run, analyse, *nxt)))
            yield conv, todo, fut.result()
    finally:  # a sweep stopped midway (Ctrl-C) does not wait for analyses nobody will use
        pool.shutdown(wait=True, cancel_futures=True)


def _with_dataset_options(data: Dataset, base_options: SessionOptions | Mapping[str, Any] | None) -> Any:
    """``base_options`` over the dataset's own ``session_options`` (a ``SessionOptions`` is taken whole)."""
    own = data.manifest.get("session_options") or {}
    if not own or isinstance(base_options, SessionOptions):
        return base_options
    if base_options is None:
        return dict(own)
    if isinstance(base_options, Mapping):
        return {**own, **base_options}
    return base_options  # base_session_options names the bad type


def _agent_name(agent: Any) -> str:
    """What played the task conversations, for ``sweep.json`` (a resumed sweep must use the same)."""
    if agent is None:
        return "reference_agent"
    return f"{getattr(agent, '__module__', '?')}.{getattr(agent, '__qualname__', type(agent).__qualname__)}"


def _prepare_out(folder: Path, spec: dict[str, Any]) -> Path:
    """Create ``folder`` with ``sweep.json``, or check that the existing one describes the same sweep."""
    meta = folder / "sweep.json"
    if folder.exists() and not folder.is_dir():
        raise ValueError(f"sweep: out={str(folder)!r} exists and is not a folder; give a new or empty folder")
    # round-trip through JSON so tuples/lists and floats compare as they will be read back
    spec = json.loads(json.dumps(spec, default=repr, allow_nan=True))
    if meta.is_file():
        try:
            old = json.loads(meta.read_text())
            if not isinstance(old, dict):
                raise ValueError(f"expected a JSON object, got {type(old).__name__}")
        except (OSError, ValueError) as e:
            # never overwritten here: it describes cells that may hold hours of work
            raise ValueError(f"sweep: {str(meta)!r} cannot be read ({e}); fix or delete it, or use another out folder") from None
        if old != spec:
            diff = sorted(k for k in set(old) | set(spec) if old.get(k) != spec.get(k))
            raise ValueError(
                f"sweep: {str(folder)!r} holds a different sweep (differs in: {', '.join(diff)}); use another out folder or delete it"
            )
    else:
        if folder.exists() and any(folder.iterdir()):
            raise ValueError(f"sweep: {str(folder)!r} exists, is not empty and has no sweep.json; use an empty or new out folder")
        folder.mkdir(parents=True, exist_ok=True)
        text = json.dumps(spec, indent=1)
        atomic_write(meta, lambda tmp: Path(tmp).write_text(text))
    cells = folder / "cells"
    cells.mkdir(exist_ok=True)
    return cells


class _CallbackProgress:
    """``progress=callable``: called as ``progress(done, total)`` at the start and after each cell."""

    def __init__(self, callback: Any, total: int, done: int) -> None:
        self.callback, self.total, self.done = callback, total, done
        callback(done, total)

    def update(self, n: int) -> None:
        self.done += n
        self.callback(self.done, self.total)

    def close(self) -> None:
        pass


def _progress(progress: Any, total: int, done: int) -> Any:
    if callable(progress):
        return _CallbackProgress(progress, total, done)
    return progress_bar(total, initial=done, desc="sweep", unit="cell", enabled=bool(progress))


def _assemble(params: list[str], settings: list[Setting], data: Dataset, records: Mapping[tuple[str, str], dict[str, Any]]) -> SweepResult:
    """The result tables, always built from the cell records (fresh or read back), so both give equal frames."""
    cell_rows: list[dict[str, Any]] = []
    rows: list[Sequence[Any]] = []
    row_settings: list[str] = []
    for s in settings:
        for conv in data:
            rec = records[s.id, conv.id]
            cell_rows.append(
                {"setting": s.id, **s.values, "conversation": conv.id, "status": rec["status"], "error": rec["error"],
                 "vad": rec.get("vad"), "stt": rec.get("stt")}
            )  # fmt: skip
            rows += rec["rows"]
            row_settings += [s.id] * len(rec["rows"])
    cells = pd.DataFrame(cell_rows, columns=["setting", *params, *CELL_COLUMNS])
    turns = pd.DataFrame.from_records(rows, columns=list(ROW_COLUMNS)) if rows else pd.DataFrame(columns=list(ROW_COLUMNS))
    turns = turns.astype({"index": int, "turn": int, "agent": int}) if rows else turns
    turns.insert(0, "setting", row_settings)
    by_id = {s.id: s.values for s in settings}
    for i, p in enumerate(params):
        turns.insert(1 + i, p, [by_id[sid][p] for sid in row_settings] if rows else [])
    return SweepResult(params, cells, turns)
