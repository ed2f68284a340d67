"""Reports: a session's in one JSON document, and a sweep's summary as a table for the terminal.

In the spirit of LiveKit's ``SessionReport``: :meth:`AgentSession.report
<agentlab.AgentSession.report>` (or ``run.report()``) gives a :class:`SessionReport`; its
:meth:`~SessionReport.to_dict` is plain JSON data; :meth:`~SessionReport.save` writes it atomically
and :meth:`SessionReport.load` reads it back into the same ``history``, ``events`` and ``metrics``
DataFrames (the report keeps the frames' rows, so the round trip is exact).

A report never holds an API key: it records components by their class and model name only, and
nothing else of theirs.

Printed tables (``agentlab sweep``, ``agentlab demo``) keep to what matters: :func:`sweep_table`
shows a sweep's grid parameters and the figures of its dataset's kind (:func:`metric_columns`),
floats rounded (:func:`text_table`), not the summary's forty columns.

Example::

    report = run.report()
    report.save("call-042.report.json")
    SessionReport.load("call-042.report.json").events.type.value_counts()
    print(sweep_table(agentlab.sweep(None, "dictation", {"endpointing.min_delay": [0.3, 0.6]})))
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Sequence
from dataclasses import field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ._frozen import frozen
from ._utils import atomic_write
from .frames import EVENT_COLUMNS, HISTORY_COLUMNS, METRICS_COLUMNS, _frame, _item_row, _metrics_rows, event_rows

if TYPE_CHECKING:
    import pandas as pd

    from .session.session import AgentSession
    from .sweeps.result import SweepResult

__all__ = ["REPORT_FORMAT", "SessionReport", "metric_columns", "session_report", "sweep_table", "text_table"]

#: The ``format`` field of a saved report; bump when its meaning changes.
REPORT_FORMAT = "agentlab.session_report/1"


@frozen
class SessionReport:
    """A session's options, components, duration and the rows of its three frames.

    Example::

        r = session.report(); r.history[["role", "text"]]; r.save("report.json")
    """

    options: dict[str, Any]
    components: dict[str, Any]
    agent: str | None
    duration: float
    history_rows: list[dict[str, Any]] = field(default_factory=list)
    event_rows: list[dict[str, Any]] = field(default_factory=list)
    metrics_rows: list[dict[str, Any]] = field(default_factory=list)

    @property
    def history(self) -> pd.DataFrame:
        """The history frame (:data:`~agentlab.frames.HISTORY_COLUMNS`)."""
        return _frame([dict(r) for r in self.history_rows], HISTORY_COLUMNS)

    @property
    def events(self) -> pd.DataFrame:
        """The events frame (:data:`~agentlab.frames.EVENT_COLUMNS`)."""
        return _frame([dict(r) for r in self.event_rows], EVENT_COLUMNS)

    @property
    def metrics(self) -> pd.DataFrame:
        """The metrics frame (:data:`~agentlab.frames.METRICS_COLUMNS`)."""
        return _frame([dict(r) for r in self.metrics_rows], METRICS_COLUMNS)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON data (``json.dumps`` works on it; NaN becomes ``null``)."""
        return {
            "format": REPORT_FORMAT,
            "agent": self.agent,
            "duration": self.duration,
            "options": self.options,
            "components": self.components,
            "history": self.history_rows,
            "events": self.event_rows,
            "metrics": self.metrics_rows,
        }

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the report as JSON, atomically; returns the path."""
        text = json.dumps(_clean(self.to_dict()), indent=1, allow_nan=False)
        atomic_write(path, lambda tmp: Path(tmp).write_text(text))
        return Path(path)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> SessionReport:
        """Read a report written by :meth:`save`; a bad file raises ``ValueError`` naming it and the field."""
        try:
            data = json.loads(Path(path).read_text())
        except (OSError, ValueError) as e:
            raise ValueError(f"{path}: not a readable session report: {e}") from None
        if not isinstance(data, dict) or data.get("format") != REPORT_FORMAT:
            got = data.get("format") if isinstance(data, dict) else type(data).__name__
            raise ValueError(f"{path}: field 'format' = {got!r}: expected {REPORT_FORMAT!r}")
        for key in ("history", "events", "metrics"):
            if not isinstance(data.get(key), list) or not all(isinstance(r, dict) for r in data[key]):
                raise ValueError(f"{path}: field {key!r} must be a list of row objects")
        return cls(
            options=data.get("options") or {},
            components=data.get("components") or {},
            agent=data.get("agent"),
            duration=float(data.get("duration") or 0.0),
            history_rows=data["history"],
            event_rows=data["events"],
            metrics_rows=data["metrics"],
        )

    def __repr__(self) -> str:
        return f"SessionReport(agent={self.agent!r}, {self.duration:.1f}s, {len(self.history_rows)} items, {len(self.event_rows)} events)"


def session_report(session: AgentSession) -> SessionReport:
    """The report of ``session`` (what ``session.report()`` returns)."""
    components = {}
    for name in ("llm", "tts", "stt", "vad"):
        c = getattr(session, f"_{name}", None)
        if c is None:
            continue
        model = c if isinstance(c, str) else getattr(c, "model", None)
        components[name] = {"class": type(c).__name__, "model": model if isinstance(model, str) else None}
    agent = session._activity.agent.label if session._activity is not None else None
    return SessionReport(
        options=_clean(session.options.to_dict()),
        components=components,
        agent=agent,
        duration=session.now(),
        history_rows=[_clean(_item_row(it)) for it in session.history.items],
        event_rows=[_clean(r) for r in event_rows(session.events)],
        metrics_rows=[_clean(r) for r in _metrics_rows(session.events)],
    )


def _clean(value: Any) -> Any:
    """JSON-ready: tuples as lists, NaN as None, unknown objects by their class name."""
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if isinstance(value, float):
        return None if value != value else value
    if value is None or isinstance(value, (str, int, bool)):
        return value
    if hasattr(value, "item"):  # numpy scalars
        return _clean(value.item())
    return type(value).__name__


# The figures a table shows, by what the dataset labels (the summary has them all; see agentlab.sweeps.score.summarize).
_VOICE_FIGURES = ("false_cutoff_rate", "missed_turn_rate", "eot_latency_p50", "eot_latency_p90", "response_latency_p50")
_OVERLAP_FIGURES = ("barge_in_recall", "false_interruption_rate")
_PREEMPTIVE_FIGURES = ("llm_requests_per_turn", "preemptive_wasted_rate")
_TASK_FIGURES = ("task_success_rate", "tool_call_recall", "forced_reply_rate", "tool_rounds_per_turn", "llm_requests_per_turn")


def metric_columns(summary: pd.DataFrame, params: Sequence[str] = ()) -> list[str]:
    """The summary figures that matter for what a sweep scored, most telling first.

    Voice conversations (labelled holds or ends of turn): cut-offs, missed turns, end-of-turn and
    response latency; with labelled barge-ins or backchannels also barge-in recall and false
    interruptions; with a ``preemptive_generation.*`` grid parameter also LLM requests and its
    waste; with ``interruption.resume_false_interruption`` the resume rate. Task conversations:
    task success, tool-call recall, forced replies, tool rounds, LLM requests and response
    latency. Failed conversations add ``n_failed``. The CLI tables and ``SweepResult``'s reprs use it.

    Example::

        metric_columns(res.summary, res.params)   # ['task_success_rate', 'tool_call_recall', ...] on "tasks"
    """

    def labelled(column: str) -> bool:
        return column in summary.columns and bool(summary[column].fillna(0).gt(0).any())

    cols: list[str] = []
    if labelled("holds") or labelled("eots"):
        cols += _VOICE_FIGURES
        if labelled("barge_ins_scored") or labelled("backchannels_noise_scored"):
            cols += _OVERLAP_FIGURES
        if any(p.startswith("preemptive_generation") for p in params):
            cols += _PREEMPTIVE_FIGURES
    if labelled("tasks") or labelled("user_turns"):
        cols += [c for c in (*_TASK_FIGURES, "response_latency_p50") if c not in cols]
    if any(p.startswith("interruption.resume_false_interruption") for p in params):
        cols.append("resume_rate")
    if labelled("n_failed"):
        cols.append("n_failed")  # some conversations failed: say how many
    return [c for c in dict.fromkeys(cols) if c in summary.columns]


def text_table(frame: pd.DataFrame, columns: Sequence[str] | None = None, *, digits: int = 3, exact: Sequence[str] = ()) -> str:
    """``frame`` (or its ``columns``) as plain text for a terminal: no index, floats rounded to
    ``digits`` decimals except in the ``exact`` columns (a grid's values are shown as given), NaN as ``-``.

    Example::

        print(text_table(res.summary, ["endpointing.min_delay", "false_cutoff_rate"], exact=res.params))
    """
    table = frame[list(columns)] if columns is not None else frame

    def cell(v: object, rounded: bool) -> object:
        if isinstance(v, float):
            return "-" if math.isnan(v) else (round(v, digits) if rounded else v)
        return v

    shown = {c: [cell(v, c not in exact) for v in table[c]] for c in table.columns}
    return type(table)(shown, columns=table.columns).to_string(index=False)


def sweep_table(result: SweepResult, *, digits: int = 3, width: int = 150) -> str:
    """A sweep's summary for a terminal: its grid parameters and :func:`metric_columns`, floats rounded.

    ``n_failed`` is added when a cell failed. A table wider than ``width`` characters is split
    into blocks of about as many figures each, every block starting with the grid parameters.

    Example::

        print(sweep_table(agentlab.sweep(None, "tasks", {"max_tool_steps": [0, 2]})))
    """
    s = result.summary
    params = list(result.params)
    figures = metric_columns(s, params)
    if "n_failed" in s.columns and s["n_failed"].gt(0).any():
        figures.append("n_failed")

    def table(cols: list[str]) -> str:
        return text_table(s, [*params, *cols], digits=digits, exact=params)

    def fits(text: str) -> bool:
        return max(map(len, text.splitlines())) <= width

    # the fewest blocks of about equal size that fit (one figure per block at most: then it is as narrow as it gets)
    for n in range(1, max(len(figures), 1) + 1):
        size = -(-len(figures) // n)
        blocks = [table(figures[i : i + size]) for i in range(0, len(figures), size)] or [table([])]
        if all(fits(b) for b in blocks):
            break
    return "\n\n".join(blocks)
