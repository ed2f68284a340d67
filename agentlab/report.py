"""Session reports: one JSON document with a session's options, history, events and metrics.

In the spirit of LiveKit's ``SessionReport``: :meth:`AgentSession.report
<agentlab.AgentSession.report>` (or ``run.report()``) gives a :class:`SessionReport`; its
:meth:`~SessionReport.to_dict` is plain JSON data; :meth:`~SessionReport.save` writes it atomically
and :meth:`SessionReport.load` reads it back into the same ``history``, ``events`` and ``metrics``
DataFrames (the report keeps the frames' rows, so the round trip is exact).

A report never holds an API key: it records components by their class and model name only, and
nothing else of theirs.

Example::

    report = run.report()
    report.save("call-042.report.json")
    SessionReport.load("call-042.report.json").events.type.value_counts()
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ._utils import atomic_write
from .frames import EVENT_COLUMNS, HISTORY_COLUMNS, METRICS_COLUMNS, _event_row, _frame, _item_row, _metrics_rows

if TYPE_CHECKING:
    import pandas as pd

    from .session.session import AgentSession

__all__ = ["REPORT_FORMAT", "SessionReport", "session_report"]

#: The ``format`` field of a saved report; bump when its meaning changes.
REPORT_FORMAT = "agentlab.session_report/1"


@dataclass(frozen=True)
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
        event_rows=[_clean(_event_row(e)) for e in session.events],
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
