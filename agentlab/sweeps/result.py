"""The result of a sweep: one row per labelled span per cell, a summary per setting, and choices.

A :class:`SweepResult` holds two tables, both plain DataFrames:

* ``cells``: one row per (setting, conversation): ``setting`` (its short id), the grid parameter
  columns, ``conversation``, ``status`` (``"ok"`` or ``"failed"``), ``error`` (the error
  message of a failed cell), and ``vad`` / ``stt`` (which VAD and STT heard the user).
* ``turns``: one row per span outcome of the ok cells: ``setting``, the grid parameter columns,
  then :data:`~agentlab.sweeps.score.ROW_COLUMNS` (``conversation``, ``kind``, ``outcome``,
  ``time``, ``latency``...).

Everything else (:attr:`SweepResult.summary`, :meth:`SweepResult.best`,
:meth:`SweepResult.pareto`) is derived from those two, so a result read back from disk gives the
same figures as the one that was written.

Saving: :meth:`SweepResult.to_csv` / :meth:`SweepResult.from_csv` (one CSV file, no extra
dependency) and :meth:`SweepResult.to_parquet` / :meth:`SweepResult.from_parquet` (``pyarrow``,
in ``agentlab-voice[sweep]``).

Example::

    res = agentlab.sweeps.sweep(None, "dictation", {"endpointing.min_delay": [0.2, 0.5, 1.0]})
    res.summary[["endpointing.min_delay", "false_cutoff_rate", "eot_latency_p50"]]
    res.best(max_cutoff_rate=0.05)["endpointing.min_delay"]
    res.pareto()
    res.to_csv("sweep.csv"); SweepResult.from_csv("sweep.csv").summary
"""

from __future__ import annotations

import html
import math
import os
from collections.abc import Sequence
from typing import Any

import pandas as pd

from .score import ROW_COLUMNS, summarize
from .score import pareto as _pareto

__all__ = ["CELL_COLUMNS", "SweepResult"]

#: Cell table columns after ``setting`` and the grid parameters: ``vad`` and ``stt`` say what heard the
#: user (None for task conversations, which are typed).
CELL_COLUMNS = ("conversation", "status", "error", "vad", "stt")

#: The plain-text repr shows at most this many settings (the HTML one scrolls).
_REPR_ROWS = 20
#: ... and wraps its columns at this many characters.
_REPR_WIDTH = 120

# The CSV marks a cell's status row with this ``kind`` so one file carries both tables (a cell
# without spans, or a failed one, must survive the round trip too).
_CELL_KIND = "_cell"


class SweepResult:
    """What :func:`~agentlab.sweeps.run.sweep` returns (see the module docstring).

    ``params`` are the grid's option names (dotted, in grid order); ``cells`` and ``turns`` are the
    two tables; ``settings`` maps each setting id to its parameter values.

    Example::

        res.summary.sort_values("eot_latency_p50")
        res.failed                       # cells that raised, with their error message
        res.turns.query("kind == 'hold' and outcome == 'cutoff'")
    """

    def __init__(self, params: Sequence[str], cells: pd.DataFrame, turns: pd.DataFrame) -> None:
        self.params = tuple(params)
        self.cells = cells.reset_index(drop=True)
        self.turns = turns.reset_index(drop=True)
        self.settings: dict[str, dict[str, Any]] = {}
        for r in self.cells.to_dict("records"):
            self.settings.setdefault(r["setting"], {p: r[p] for p in self.params})
        self._summary: pd.DataFrame | None = None

    # --- derived tables -------------------------------------------------------------------------

    @property
    def failed(self) -> pd.DataFrame:
        """The cells that raised: ``setting``, parameters, ``conversation``, ``status``, ``error``."""
        return self.cells[self.cells["status"] == "failed"].reset_index(drop=True)

    @property
    def summary(self) -> pd.DataFrame:
        """One row per setting (grid order): ``setting``, parameters, :func:`~agentlab.sweeps.score.summarize`
        figures over its ok cells, ``n_cells``, ``n_failed``, and ``vad`` / ``stt`` (what heard the user)."""
        if self._summary is None:
            rows = []
            by_setting = dict(tuple(self.turns.groupby("setting", sort=False))) if len(self.turns) else {}
            empty = pd.DataFrame(columns=list(ROW_COLUMNS))
            for sid, values in self.settings.items():
                cells = self.cells[self.cells["setting"] == sid]
                figures = summarize(by_setting.get(sid, empty))
                heard = {c: "; ".join(sorted({str(v) for v in cells[c] if isinstance(v, str)})) or None for c in ("vad", "stt")}
                rows.append(
                    {
                        "setting": sid,
                        **values,
                        **figures,
                        "n_cells": len(cells),
                        "n_failed": int((cells["status"] == "failed").sum()),
                        **heard,
                    }
                )
            self._summary = pd.DataFrame(rows)
        return self._summary

    def overview(self) -> pd.DataFrame:
        """The summary cut to what to read first: the grid's parameters, then the figures that matter
        for the dataset's kind (and ``n_failed`` when a cell failed), floats rounded to 3 decimals.

        Turn datasets (labelled holds and ends of turn): cut-offs, missed turns and latencies
        (:func:`agentlab.report.metric_columns` chooses them), plus barge-in recall and false interruptions when the
        conversations label overlaps. Task datasets: task success, tool calls, forced replies,
        tool rounds and LLM requests. A preemptive-generation parameter in the grid adds LLM requests
        per turn and the wasted preemptive rate. Both reprs show this table; setting ids and every
        other figure are in :attr:`summary`.

        Example::

            res.overview()                       # endpointing.min_delay, false_cutoff_rate, ...
            res.summary                          # every figure
        """
        from ..report import metric_columns

        s = self.summary
        return s[[*self.params, *metric_columns(s, self.params)]].round(3)

    # --- choosing a setting ---------------------------------------------------------------------

    def best(
        self,
        *,
        max_cutoff_rate: float | None = None,
        max_p90_latency: float | None = None,
        max_p50_latency: float | None = None,
        max_missed_rate: float | None = 0.10,
        by: str = "eot_latency_p50",
    ) -> dict[str, Any]:
        """The summary row (a dict) with the lowest ``by`` among the settings meeting every constraint.

        ``max_cutoff_rate`` bounds ``false_cutoff_rate`` (the worse of the per-hold and per-turn
        cut-off rates, so a setting must keep both under the budget); ``max_p90_latency`` /
        ``max_p50_latency`` bound ``eot_latency_p90`` / ``eot_latency_p50`` (seconds; late commits
        count); ``max_missed_rate`` bounds ``missed_turn_rate`` (default 10 %: a setting that leaves
        more turns unanswered within the scoring timeout is no recommendation, however few users it
        cuts off; ``None`` lifts it). Settings whose constrained figures or ``by`` are NaN never
        qualify; ties go to the first setting in grid order. Raises ``ValueError`` naming the
        constraints when no setting qualifies.

        Example::

            res.best(max_cutoff_rate=0.05)                      # fastest with at most 5% cut-offs
            res.best(max_p90_latency=0.6, by="false_cutoff_rate")
        """
        s = self.summary
        if by not in s.columns:
            raise ValueError(f"SweepResult.best: unknown figure by={by!r}; choose a summary column such as 'eot_latency_p50'")
        limits = {
            "false_cutoff_rate": max_cutoff_rate,
            "eot_latency_p90": max_p90_latency,
            "eot_latency_p50": max_p50_latency,
            "missed_turn_rate": max_missed_rate,
        }
        names = {
            "false_cutoff_rate": "max_cutoff_rate",
            "eot_latency_p90": "max_p90_latency",
            "eot_latency_p50": "max_p50_latency",
            "missed_turn_rate": "max_missed_rate",
        }
        best: tuple[float, int, dict[str, Any]] | None = None
        for i, row in enumerate(s.to_dict("records")):
            if not _valid(row[by]):
                continue
            if any(lim is not None and not _within(row[col], lim, nan_ok=col == "missed_turn_rate") for col, lim in limits.items()):
                continue  # (no labelled end of turn at all, e.g. task conversations: nothing was missed)
            if best is None or row[by] < best[0]:
                best = (row[by], i, row)
        if best is None:
            asked = ", ".join(f"{names[c]}={v!r}" for c, v in limits.items() if v is not None) or "no constraint"
            raise ValueError(f"SweepResult.best: no setting meets {asked} (with a valid {by!r}) among {len(s)} settings")
        return best[2]

    def pareto(self, *, latency: str = "eot_latency_p50") -> pd.DataFrame:
        """The summary rows not dominated on (``false_cutoff_rate``, ``latency``), by increasing cut-off rate.

        See :func:`agentlab.sweeps.score.pareto` (NaN settings are dropped, equal points all kept).
        """
        s = self.summary
        keep = _pareto({r["setting"]: r for r in s.to_dict("records")}, latency=latency)
        return s.set_index("setting", drop=False).loc[keep].reset_index(drop=True)

    # --- saving ---------------------------------------------------------------------------------

    def to_csv(self, path: str | os.PathLike[str]) -> None:
        """Write both tables to one CSV file (a cell's status row has ``kind == "_cell"``).

        Example::

            res.to_csv("sweep.csv"); SweepResult.from_csv("sweep.csv")
        """
        from .._utils import atomic_write

        both = self._combined()
        atomic_write(path, lambda tmp: both.to_csv(tmp, index=False))

    @classmethod
    def from_csv(cls, path: str | os.PathLike[str]) -> SweepResult:
        """Read a file written by :meth:`to_csv` (grid parameters are the columns between ``setting`` and ``conversation``)."""
        return cls._split(pd.read_csv(path, keep_default_na=False, na_values=[""]))

    def to_parquet(self, path: str | os.PathLike[str]) -> None:
        """Write both tables to one Parquet file, as :meth:`to_csv` does (needs ``pyarrow``: ``agentlab-voice[sweep]``).

        Example::

            res.to_parquet("sweep.parquet"); SweepResult.from_parquet("sweep.parquet")
        """
        from .._utils import atomic_write

        _require_pyarrow()
        both = self._combined()
        # Mixed-type columns (grid values like turn_detection) are stored as text by CSV anyway; keep parity.
        both = both.astype({c: str for c in self.params if both[c].dtype == object})
        atomic_write(path, lambda tmp: both.to_parquet(tmp, index=False))

    @classmethod
    def from_parquet(cls, path: str | os.PathLike[str]) -> SweepResult:
        """Read a file written by :meth:`to_parquet`."""
        _require_pyarrow()
        return cls._split(pd.read_parquet(path))

    def _combined(self) -> pd.DataFrame:
        # One table for both: cell status rows (kind "_cell") and span rows, so one file holds a result.
        cells = self.cells.assign(kind=_CELL_KIND)
        turns = self.turns.assign(status="ok", error=None)
        both = pd.concat([cells, turns], ignore_index=True)
        front = ["setting", *self.params, *CELL_COLUMNS]
        return both[front + [c for c in ROW_COLUMNS if c not in front]]

    @classmethod
    def _split(cls, both: pd.DataFrame) -> SweepResult:
        cols = list(both.columns)
        params = cols[1 : cols.index("conversation")]
        is_cell = both["kind"] == _CELL_KIND
        cells = both.loc[is_cell, ["setting", *params, *CELL_COLUMNS]]
        cells = cells.astype({"error": object}).where(cells.notna(), None)
        turns = both.loc[~is_cell, ["setting", *params, *ROW_COLUMNS]]
        turns = turns.astype({"index": int, "turn": int, "agent": int})  # floats only because cell rows had NaN there
        return cls(params, cells, turns)

    # --- display --------------------------------------------------------------------------------

    def _headline(self) -> str:
        n_conv = self.cells["conversation"].nunique() if len(self.cells) else 0
        n_failed = len(self.failed)
        extra = f", {n_failed} failed" if n_failed else ""
        grid = ", ".join(self.params) or "no grid"
        return f"SweepResult({len(self.settings)} settings × {n_conv} conversations, {len(self.cells)} cells{extra}; grid: {grid})"

    def __repr__(self) -> str:
        table = self.overview()
        if not len(table):
            return self._headline()
        shown = table.head(_REPR_ROWS).to_string(index=False, na_rep="–", line_width=_REPR_WIDTH)
        more = f"\n… {len(table) - _REPR_ROWS} more settings: .overview() or .summary" if len(table) > _REPR_ROWS else ""
        lines = "\n".join(line.rstrip() for line in shown.splitlines())
        return f"{self._headline()}\n{lines}{more}"

    def _repr_html_(self) -> str:
        table = self.overview()
        cols = list(table.columns)
        head = "".join(f"<th style='padding:0 6px'>{_breakable(c)}</th>" for c in cols)
        td = "<td style='padding:0 6px;text-align:right;white-space:nowrap'>{}</td>"
        body = "".join("<tr>" + "".join(td.format(_fmt(r[c])) for c in cols) + "</tr>" for r in table.to_dict("records"))
        failed = self.failed
        note = ""
        if len(failed):
            first = html.escape(str(failed["error"].iloc[0]))[:200]
            note = f"<br>{len(failed)} failed cells (see <code>.failed</code>), first: {first}"
        return (
            "<div style='font-family:var(--jp-ui-font-family,sans-serif);font-size:13px'>"
            f"<b>{html.escape(self._headline())}</b>"
            "<div style='max-height:420px;overflow:auto'>"
            f"<table style='border-collapse:collapse;margin-top:4px'><tr>{head}</tr>{body}</table></div>{note}</div>"
        )


def _within(value: Any, limit: float, *, nan_ok: bool) -> bool:
    return (_valid(value) and value <= limit + 1e-12) or (nan_ok and not _valid(value))


def _valid(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and not math.isnan(x)


def _breakable(name: str) -> str:
    """A column name that may wrap after its dots and underscores (long names, narrow columns)."""
    return "".join(html.escape(ch) + ("<wbr>" if ch in "._" else "") for ch in name)


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return "–" if math.isnan(v) else f"{v:.3g}"
    return html.escape(str(v))


def _require_pyarrow() -> None:
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        raise ImportError("Parquet needs pyarrow: pip install 'agentlab-voice[sweep]' (or use to_csv/from_csv)") from None
