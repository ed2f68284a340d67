"""Plots of a :class:`~agentlab.sweeps.result.SweepResult`: trade-offs, grids, distributions.

Every function returns a :class:`matplotlib.figure.Figure` built without pyplot's global state
(so it displays in Jupyter and saves with ``fig.savefig(...)``), and accepts ``ax=`` to draw into
an existing axes instead (it then returns ``ax.figure``). Legends sit under the plot (in a given
``ax``, at its emptiest spot); point and guide labels are placed when the figure is drawn, clear
of each other, the points and the guide lines, at whatever size it is shown (crowded ones are
left out). matplotlib is imported on the first plot, not with :mod:`agentlab`.

* :func:`tradeoff` — one point per setting on end-of-turn latency vs false cut-off rate, the
  Pareto front as a step line, the eot-bench budgets as guide lines.
* :func:`heatmap` — a summary figure over two grid parameters, cells annotated, with a colorbar.
* :func:`latency_distribution` — per-turn end-of-turn latencies of a few settings (box or violin).
* :func:`interruption_curve` — barge-in recall and false-interruption rate against a parameter.
* :func:`preemptive_cost` — LLM requests per turn against response latency.
* :func:`tool_steps` — task success, forced replies and LLM requests against ``max_tool_steps``.

Example::

    from agentlab.sweeps import sweep, plots

    res = sweep(None, "dictation", {"endpointing.min_delay": [0.2, 0.5, 1.0], "interruption.min_duration": [0.2, 1.0]})
    plots.tradeoff(res).savefig("tradeoff.png")
    plots.heatmap(res, "endpointing.min_delay", "interruption.min_duration", "eot_latency_p50")
    fig = Figure(figsize=(10, 4)); a, b = fig.subplots(1, 2)
    plots.interruption_curve(res, ax=a); plots.preemptive_cost(res, ax=b)
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from .._figures import new_figure
from .score import pareto as _pareto

if TYPE_CHECKING:  # matplotlib loads on the first plot, not with agentlab
    import pandas as pd
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure
    from matplotlib.legend import Legend

    from .._labels import LabelPlacer
    from .result import SweepResult

__all__ = [
    "CUTOFF_BUDGETS",
    "LATENCY_BUDGETS",
    "heatmap",
    "interruption_curve",
    "latency_distribution",
    "preemptive_cost",
    "setting_labels",
    "tool_steps",
    "tradeoff",
]

#: eot-bench's false cut-off rate budgets (fractions), drawn as guide lines.
CUTOFF_BUDGETS = (0.05, 0.10)
#: eot-bench's end-of-turn latency budgets (seconds), drawn as guide lines.
LATENCY_BUDGETS = (0.3, 0.6)
#: At most this many settings get their grid values written next to their point.
MAX_LABELS = 12
#: :func:`latency_distribution` shows at most this many settings by default.
MAX_DISTRIBUTIONS = 6
#: Marker shapes for the values of a second grid parameter (see ``_shape_param``).
_MARKERS = ("o", "^", "s", "D")

_NAMES = {
    "false_cutoff_rate": "false cut-off rate",
    "eot_latency_p50": "end-of-turn latency p50 (s)",
    "eot_latency_p90": "end-of-turn latency p90 (s)",
    "eot_latency_p99": "end-of-turn latency p99 (s)",
    "eot_latency_mean": "end-of-turn latency mean (s)",
    "missed_turn_rate": "missed turn rate",
    "barge_in_recall": "barge-in recall",
    "false_interruption_rate": "false interruption rate",
    "stop_delay_mean": "barge-in stop delay mean (s)",
    "stop_delay_p50": "barge-in stop delay p50 (s)",
    "resume_rate": "resume rate",
    "preemptive_per_turn": "preemptive starts per turn",
    "preemptive_wasted": "wasted preemptive starts",
    "preemptive_wasted_rate": "wasted preemptive start rate",
    "llm_requests_per_turn": "LLM requests per turn",
    "preemptive_saved_mean": "latency saved by preemptive generation, mean (s)",
    "response_latency_p50": "response latency p50 (s)",
    "response_latency_p90": "response latency p90 (s)",
    "response_latency_mean": "response latency mean (s)",
    "task_success_rate": "task success rate",
    "forced_reply_rate": "forced reply rate",
    "tool_rounds_per_turn": "tool rounds per turn",
    "tool_call_recall": "tool call recall",
}


# --- helpers ------------------------------------------------------------------------------------


def _axes(ax: Axes | None, figsize: tuple[float, float]) -> tuple[Figure, Axes]:
    if ax is None:
        fig = new_figure(figsize)
        return fig, fig.add_subplot()
    return ax.figure, ax  # type: ignore[return-value]


def _percent(axis: Any) -> None:
    from matplotlib.ticker import PercentFormatter

    axis.set_major_formatter(PercentFormatter(1.0))


def _legend(ax: Axes, handles: Sequence[Any], *, owned: bool, ncol: int = 3) -> Legend:
    """The legend off the data: under the plot when this module made the figure (the layout makes
    room), else at the emptiest spot of the caller's axes."""
    if owned:
        # as many columns as fit the figure's width (7 pt text: ~4.3 pt a character, ~30 pt of marker and gaps)
        widths = [30 + 4.3 * len(h.get_label()) for h in handles]
        room = ax.figure.get_figwidth() * 72
        ncol = min(ncol, len(handles))
        while ncol > 1 and max(widths) * ncol > room:
            ncol -= 1
        return ax.figure.legend(handles=handles, loc="outside lower center", ncol=ncol, fontsize=7, frameon=False)
    return ax.legend(handles=handles, loc="best", fontsize=7, frameon=False)


def _name(column: str) -> str:
    return _NAMES.get(column, column)


def _is_rate(column: str) -> bool:
    return column.endswith(("_rate", "_recall"))


def _check_metric(result: SweepResult, metric: str, fn: str) -> None:
    if metric not in result.summary.columns:
        figures = [c for c in result.summary.columns if c not in ("setting", *result.params)]
        raise ValueError(f"plots.{fn}: unknown summary figure {metric!r}; choose one of {figures}")


def _check_param(result: SweepResult, param: str, fn: str, arg: str) -> None:
    if param not in result.params:
        grid = list(result.params) or "none (the sweep had an empty grid)"
        raise ValueError(f"plots.{fn}: {arg}={param!r} is not a grid parameter of this sweep; grid parameters: {grid}")


def _varying(result: SweepResult) -> list[str]:
    s = result.summary
    return [p for p in result.params if s[p].astype(str).nunique() > 1]


def _short_names(params: Sequence[str]) -> dict[str, str]:
    # "preemptive_generation.enabled" reads better as its group than as "enabled"
    last = [p.rsplit(".", 2)[-2] if p.endswith(".enabled") and "." in p else p.rsplit(".", 1)[-1] for p in params]
    return {p: (s if last.count(s) == 1 else p) for p, s in zip(params, last, strict=True)}


def _value(v: Any) -> str:
    return f"{v:g}" if isinstance(v, float) else str(v)


def setting_labels(result: SweepResult) -> dict[str, str]:
    """Setting id → ``"min_delay=0.2, min_duration=1"`` (the grid parameters that vary), for legends and pickers.

    Example::

        setting_labels(res)["3f2a9c0d1e"]      # 'min_delay=0.2'
    """
    varying = _varying(result)
    short = _short_names(varying)
    out = {}
    for sid, values in result.settings.items():
        out[sid] = ", ".join(f"{short[p]}={_value(values[p])}" for p in varying) or sid
    return out


def _valid(x: Any) -> bool:
    try:
        return not math.isnan(float(x))
    except (TypeError, ValueError):
        return False


def _shape_param(result: SweepResult) -> str | None:
    """The grid parameter drawn as marker shapes (with a legend) instead of being written in every label.

    Only with two or more varying parameters: the one with the fewest values, at most
    ``len(_MARKERS)`` (ties: the later one in the grid, as the first is usually the one studied).
    """
    varying = _varying(result)
    if len(varying) < 2:
        return None
    counts = {p: result.summary[p].astype(str).nunique() for p in varying}
    fits = [p for p in varying if counts[p] <= len(_MARKERS)]
    return min(fits, key=lambda p: (counts[p], -varying.index(p))) if fits else None


def _markers(result: SweepResult, shape: str | None) -> dict[str, str]:
    """Each value (as written) of the ``shape`` parameter → its marker, in grid order."""
    if shape is None:
        return {}
    values = dict.fromkeys(_value(v[shape]) for v in result.settings.values())
    return dict(zip(values, _MARKERS, strict=False))


def _marker(row: Mapping[str, Any], shape: str | None, markers: Mapping[str, str]) -> str:
    return markers[_value(row[shape])] if shape is not None else "o"


def _scatter(
    ax: Axes, rows: Sequence[Mapping[str, Any]], x: str, y: str, shape: str | None, markers: Mapping[str, str], **kw: Any
) -> list[Any]:
    """One scatter per marker shape (matplotlib draws one shape per call); ``kw`` go to each."""
    out = []
    color = kw.pop("c", None)
    for m in dict.fromkeys(_marker(r, shape, markers) for r in rows):
        idx = [i for i, r in enumerate(rows) if _marker(r, shape, markers) == m]
        extra = {} if color is None else {"c": [color[i] for i in idx]}
        out.append(ax.scatter([rows[i][x] for i in idx], [rows[i][y] for i in idx], marker=m, **extra, **kw))
    return out


def _shape_handles(result: SweepResult, shape: str | None, markers: Mapping[str, str]) -> list[Any]:
    from matplotlib.lines import Line2D

    if shape is None:
        return []
    name = _short_names(_varying(result))[shape]
    return [Line2D([], [], marker=m, ls="none", color="#555555", markersize=6, label=f"{name}={v}") for v, m in markers.items()]


def _point_labels(
    result: SweepResult, rows: Sequence[Mapping[str, Any]], x: str, y: str, shape: str | None
) -> list[tuple[tuple[float, float], str]]:
    """(point, label) per distinct point: the varying grid values but ``shape``'s.

    Settings on the same point share one label: ``min_delay=0.3, min_words=0/2`` when they differ
    in one parameter (``min_words=any`` when they take every value of the grid), one line each otherwise.
    """
    shown = [p for p in _varying(result) if p != shape]
    if not shown:
        return []
    short = _short_names(shown)
    groups: dict[tuple[float, float], list[str]] = {}
    for r in rows:
        groups.setdefault((float(r[x]), float(r[y])), []).append(r["setting"])
    grid = {p: {_value(v[p]) for v in result.settings.values()} for p in shown}
    out = []
    for xy, sids in groups.items():
        values = [result.settings[sid] for sid in sids]
        per = {p: list(dict.fromkeys(_value(v[p]) for v in values)) for p in shown}
        if sum(len(v) > 1 for v in per.values()) <= 1:
            text = ", ".join(f"{short[p]}={'any' if len(per[p]) > 1 and set(per[p]) == grid[p] else '/'.join(per[p])}" for p in shown)
        else:
            text = "\n".join(dict.fromkeys(", ".join(f"{short[p]}={_value(v[p])}" for p in shown) for v in values))
        out.append((xy, text))
    return out


def _placer(ax: Axes, rows: Sequence[Mapping[str, Any]], x: str, y: str) -> LabelPlacer:
    """A label placer for ``ax`` that keeps labels off the plotted points."""
    from .._labels import LabelPlacer

    placer = LabelPlacer(ax)
    placer.mark([r[x] for r in rows], [r[y] for r in rows], size=9)
    return placer


def _guide(ax: Axes, placer: LabelPlacer, value: float, text: str, *, horizontal: bool, style: str) -> None:
    """A budget guide line, labelled at its right end (horizontal) or its foot (vertical), placed clear of the data."""
    if horizontal:
        line = ax.axhline(value, color="#777777", ls=style, lw=0.9, zorder=1)
        right, left = (1.0, value), (0.0, value)
        spots = [(-2, dy, "right", va, right) for dy, va in ((2, "bottom"), (-2, "top"), (6, "bottom"), (-6, "top"))]
        spots += [(2, dy, "left", va, left) for dy, va in ((2, "bottom"), (-2, "top"), (6, "bottom"), (-6, "top"))]
        where, coords = right, ("axes fraction", "data")
    else:
        line = ax.axvline(value, color="#777777", ls=style, lw=0.9, zorder=1)
        foot, top = (value, 0.0), (value, 1.0)
        spots = [(dx, 3, ha, "bottom", foot) for dx, ha in ((2, "left"), (-2, "right"))]
        spots += [(dx, -3, ha, "top", top) for dx, ha in ((2, "left"), (-2, "right"))]
        spots += [(dx, 15, ha, "bottom", foot) for dx, ha in ((2, "left"), (-2, "right"))]
        where, coords = foot, ("data", "axes fraction")
    line.set_gid("guide")
    placer.avoid([line])
    placer.add(text, where, xycoords=coords, candidates=spots, fontsize=7, color="#555555", gid="guide-label")


def _label_points(placer: LabelPlacer, labels: Sequence[tuple[tuple[float, float], str]]) -> None:
    for xy, text in labels:
        placer.add(text, xy, fontsize=7, color="#444444", gid="point-label", linespacing=1.1)


def _group_by(result: SweepResult, param: str, columns: Sequence[str]) -> tuple[pd.DataFrame, list[str]]:
    """Summary means of ``columns`` per value of ``param`` and the other varying parameters averaged over."""
    s = result.summary
    others = [p for p in _varying(result) if p != param]
    return s.groupby(param, sort=True)[list(columns)].mean(), others


def _over(others: Sequence[str]) -> str:
    return f" (mean over {', '.join(others)})" if others else ""


# --- the plots ----------------------------------------------------------------------------------


def tradeoff(
    result: SweepResult,
    *,
    x: str = "eot_latency_p50",
    y: str = "false_cutoff_rate",
    ax: Axes | None = None,
    label_params: bool = True,
) -> Figure:
    """End-of-turn latency against false cut-off rate: one point per setting and the Pareto front.

    ``x`` and ``y`` are summary columns (both lower-is-better). The non-dominated settings are
    joined by a step line (with the default axes: :meth:`SweepResult.pareto
    <agentlab.sweeps.result.SweepResult.pareto>`, one vertex per front row) and drawn filled; the
    others are hollow. With a second varying grid parameter of at most four values, its values are
    marker shapes (in the legend). With ``label_params``, points are labelled with their other
    varying grid values: every point when there are at most :data:`MAX_LABELS`, else the front's;
    labels are placed clear of each other, the points, the guide lines and their text, and a label
    with no free spot is left out. The eot-bench budgets are guide lines: :data:`CUTOFF_BUDGETS`
    (5 %, 10 % cut-offs) when ``y`` is ``false_cutoff_rate`` and :data:`LATENCY_BUDGETS` (300,
    600 ms) when ``x`` is an end-of-turn latency. Settings with a NaN figure are left out (and
    counted in the title). The legend goes under the plot (inside, at the emptiest spot, when
    ``ax`` is given).

    Example::

        fig = plots.tradeoff(res)
        plots.tradeoff(res, x="eot_latency_p90", ax=my_ax, label_params=False)
    """
    from matplotlib.lines import Line2D

    _check_metric(result, x, "tradeoff")
    _check_metric(result, y, "tradeoff")
    owned = ax is None
    fig, ax = _axes(ax, (7, 4.8))
    s = result.summary
    rows = [r for r in s.to_dict("records") if _valid(r[x]) and _valid(r[y])]
    if y == "false_cutoff_rate":
        front_ids = list(result.pareto(latency=x)["setting"])
    else:
        front_ids = _pareto({r["setting"]: (r[y], r[x]) for r in rows})
    on_front = set(front_ids)
    by_id = {r["setting"]: r for r in rows}
    shape = _shape_param(result)
    markers = _markers(result, shape)

    handles: list[Any] = []
    others = [r for r in rows if r["setting"] not in on_front]
    if others:
        _scatter(ax, others, x, y, shape, markers, s=36, facecolors="none", edgecolors="#5b8def", zorder=3)
        handles.append(Line2D([], [], marker="o", ls="none", mfc="none", mec="#5b8def", label="setting"))
    front = sorted((by_id[i] for i in front_ids), key=lambda r: (r[x], -r[y]))
    if front:
        fx, fy = [r[x] for r in front], [r[y] for r in front]
        (line,) = ax.plot(fx, fy, drawstyle="steps-post", color="#d62728", lw=1.5, label="Pareto front", gid="pareto-front", zorder=2)
        _scatter(ax, front, x, y, shape, markers, s=40, color="#d62728", zorder=4)
        handles += [line, Line2D([], [], marker="o", ls="none", color="#d62728", label="Pareto setting")]
    handles += _shape_handles(result, shape, markers)

    placer = _placer(ax, rows, x, y)
    if front:
        placer.avoid([line])
    if label_params and rows:
        # the front first: where space runs out, the settings worth choosing keep their labels
        ordered = front + sorted(others, key=lambda r: (r[x], r[y]))
        if len(rows) > MAX_LABELS:
            ordered = front[:MAX_LABELS]
        _label_points(placer, _point_labels(result, ordered, x, y, shape))
    # guide labels are placed after the points' (in the order added): they can move to the line's other end
    if y == "false_cutoff_rate":
        for b, style in zip(CUTOFF_BUDGETS, ("--", ":"), strict=True):
            _guide(ax, placer, b, f"{b:.0%} cut-offs", horizontal=True, style=style)
    if x.startswith("eot_latency"):
        for b, style in zip(LATENCY_BUDGETS, ("--", ":"), strict=True):
            _guide(ax, placer, b, f"{b * 1000:g} ms", horizontal=False, style=style)
    ax.margins(x=0.15, y=0.12)  # room for the labels
    ax.set_xlabel(_name(x))
    ax.set_ylabel(_name(y))
    if _is_rate(y):
        _percent(ax.yaxis)
        ax.set_ylim(bottom=0)
    if _is_rate(x):
        _percent(ax.xaxis)
    dropped = len(s) - len(rows)
    note = f", {dropped} without a value not shown" if dropped else ""
    ax.set_title(f"trade-off: {len(rows)} settings, {len(front_ids)} on the Pareto front{note}", loc="left", fontsize=10)
    ax.grid(alpha=0.25)
    if handles:
        _legend(ax, handles, owned=owned, ncol=4)
    return fig


def heatmap(result: SweepResult, x: str, y: str, metric: str = "false_cutoff_rate", *, ax: Axes | None = None) -> Figure:
    """``metric`` over two grid parameters ``x`` (columns) and ``y`` (rows), cells annotated, with a colorbar.

    ``x`` and ``y`` must be two different grid parameters (``ValueError`` naming the wrong one
    otherwise) and ``metric`` a summary column. When the grid has other parameters that vary, each
    cell is the mean over them and the title says so. Missing (NaN) cells are blank with "–".

    Example::

        plots.heatmap(res, "endpointing.min_delay", "vad.min_silence_duration", "eot_latency_p50")
    """
    _check_param(result, x, "heatmap", "x")
    _check_param(result, y, "heatmap", "y")
    if x == y:
        raise ValueError(f"plots.heatmap: x and y are both {x!r}; choose two different grid parameters")
    _check_metric(result, metric, "heatmap")
    import numpy as np

    s = result.summary
    others = [p for p in _varying(result) if p not in (x, y)]
    table = s.groupby([y, x], sort=True)[metric].mean().unstack(x)
    values = table.to_numpy(dtype=float)
    fig, ax = _axes(ax, (1.6 + 1.1 * max(len(table.columns), 2), 1.4 + 0.7 * max(len(table.index), 2)))
    masked = np.ma.masked_invalid(values)
    cmap = "viridis_r" if metric in ("barge_in_recall", "resume_rate") else "viridis"
    im = ax.imshow(masked, cmap=cmap, aspect="auto", origin="lower")
    finite = values[np.isfinite(values)]
    lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
    for i in range(values.shape[0]):
        for j in range(values.shape[1]):
            v = values[i, j]
            if math.isnan(v):
                text, color = "–", "#444444"
            else:
                text = f"{v:.3g}"
                # light text on the dark end of the colormap
                frac = 0.5 if hi == lo else (v - lo) / (hi - lo)
                dark = frac < 0.45 if cmap == "viridis" else frac > 0.55
                color = "white" if dark else "black"
            ax.text(j, i, text, ha="center", va="center", fontsize=8, color=color, gid="cell-value")
    ax.set_xticks(range(len(table.columns)), [_value(v) for v in table.columns])
    ax.set_yticks(range(len(table.index)), [_value(v) for v in table.index])
    ax.set_xlabel(x)
    ax.set_ylabel(y)
    bar = fig.colorbar(im, ax=ax, shrink=0.9)
    bar.set_label(_name(metric), fontsize=8)
    if _is_rate(metric):
        _percent(bar.ax.yaxis)
    ax.set_title(f"{_name(metric)}{_over(others)}", loc="left", fontsize=10)
    return fig


def _pick_settings(result: SweepResult, settings: Sequence[Any] | None) -> list[str]:
    s = result.summary
    if settings is None:
        if len(s) <= MAX_DISTRIBUTIONS:
            return list(s["setting"])
        ordered = s.sort_values("eot_latency_p50", kind="stable", na_position="last")["setting"].tolist()
        step = (len(ordered) - 1) / (MAX_DISTRIBUTIONS - 1)
        return [ordered[round(i * step)] for i in range(MAX_DISTRIBUTIONS)]
    out: list[str] = []
    for want in settings:
        if isinstance(want, Mapping):
            for p in want:
                _check_param(result, p, "latency_distribution", "settings")
            hits = [sid for sid, v in result.settings.items() if all(v[p] == val for p, val in want.items())]
            if not hits:
                raise ValueError(f"plots.latency_distribution: no setting has {dict(want)!r}")
            out += [h for h in hits if h not in out]
        elif want in result.settings:
            if want not in out:
                out.append(want)
        else:
            raise ValueError(
                f"plots.latency_distribution: unknown setting {want!r}; give setting ids (summary['setting']) or dicts of grid values"
            )
    return out


def _setting_ticks(result: SweepResult, shown: Sequence[str], labels: Mapping[str, str], ax: Axes) -> tuple[list[str], str]:
    """Tick labels for settings side by side (one grid value per line) and the x label.

    ``name=value`` lines when they fit the width of a tick; else values only, the names in the x label.
    """
    lines = {sid: labels[sid].split(", ") for sid in shown}
    room = ax.get_position().width * ax.figure.get_figwidth() * 72 / max(len(shown), 1)  # points per tick
    longest = max((len(line) for ls in lines.values() for line in ls), default=0)
    if longest * 7 * 0.62 <= room * 0.9:  # 7 pt text, about 0.6 em a character
        return ["\n".join(lines[sid]) for sid in shown], "setting"
    varying = _varying(result)
    short = _short_names(varying)
    ticks = ["\n".join(_value(result.settings[sid][p]) for p in varying) for sid in shown]
    return ticks, f"setting: {', '.join(short[p] for p in varying)} (one per line)"


def latency_distribution(
    result: SweepResult, *, settings: Sequence[Any] | None = None, kind: str = "box", ax: Axes | None = None
) -> Figure:
    """Per-turn end-of-turn latencies (detected ``eot`` rows of ``result.turns``) of a few settings.

    ``settings``: setting ids and/or dicts of grid values (a dict picks every setting matching
    it). Default: all settings when there are at most :data:`MAX_DISTRIBUTIONS` (6), else 6 spread
    evenly from the fastest to the slowest p50. ``kind`` is ``"box"`` or ``"violin"``. The
    :data:`LATENCY_BUDGETS` are guide lines; each setting's label gives its turn count.

    Example::

        plots.latency_distribution(res)
        plots.latency_distribution(res, settings=[{"endpointing.min_delay": 0.5}], kind="violin")
    """
    if kind not in ("box", "violin"):
        raise ValueError(f"plots.latency_distribution: kind must be 'box' or 'violin', got {kind!r}")
    chosen = _pick_settings(result, settings)
    t = result.turns
    eot = t[(t["kind"] == "eot") & t["outcome"].isin(["detected", "late"])] if len(t) else t  # late ones count: slowness shows
    data = {sid: [float(v) for v in eot.loc[eot["setting"] == sid, "latency"] if _valid(v)] for sid in chosen}
    shown = [sid for sid in chosen if data[sid]]
    labels = setting_labels(result)
    owned = ax is None
    fig, ax = _axes(ax, (max(5.0, 1.3 * len(shown) + 1.5), 4.2))
    pos = list(range(1, len(shown) + 1))
    if shown:
        if kind == "box":
            ax.boxplot([data[sid] for sid in shown], positions=pos, widths=0.5, showfliers=True,
                       medianprops={"color": "#d62728"}, flierprops={"markersize": 3})  # fmt: skip
        else:
            ax.violinplot([data[sid] for sid in shown], positions=pos, showmedians=True, widths=0.7)
    ticks, xlabel = _setting_ticks(result, shown, labels, ax)
    ax.set_xticks(pos, [f"{tick}\n(n={len(data[sid])})" for sid, tick in zip(shown, ticks, strict=True)], fontsize=7)
    for b, style in zip(LATENCY_BUDGETS, ("--", ":"), strict=True):
        ax.axhline(b, color="#777777", ls=style, lw=0.9, label=f"{b * 1000:g} ms budget")
    ax.set_xlabel(xlabel)
    ax.set_ylabel("end-of-turn latency per turn (s)")
    missing = len(chosen) - len(shown)
    note = f", {missing} without detected turns not shown" if missing else ""
    ax.set_title(f"end-of-turn latency distribution ({len(shown)} settings{note})", loc="left", fontsize=10)
    ax.grid(axis="y", alpha=0.25)
    _legend(ax, ax.get_legend_handles_labels()[0], owned=owned)
    return fig


def interruption_curve(result: SweepResult, *, param: str = "interruption.min_duration", ax: Axes | None = None) -> Figure:
    """Barge-in recall and false-interruption rate against grid parameter ``param`` (two lines).

    Recall (real barge-ins that stopped the agent) should stay high while the false-interruption
    rate (backchannels and noise that stopped it) falls; a good value keeps both. When other grid
    parameters vary, each point is the mean over them (said in the title). Non-numeric values are
    placed evenly in sorted order.

    Example::

        plots.interruption_curve(res)
        plots.interruption_curve(res, param="interruption.min_words")
    """
    _check_param(result, param, "interruption_curve", "param")
    cols = ["barge_in_recall", "false_interruption_rate"]
    table, others = _group_by(result, param, cols)
    owned = ax is None
    fig, ax = _axes(ax, (6, 4))
    keys = list(table.index)
    numeric = all(isinstance(k, numbers.Real) and not isinstance(k, bool) for k in keys)
    xs = [float(k) for k in keys] if numeric else list(range(len(keys)))
    ax.plot(xs, table["barge_in_recall"], marker="o", color="#2ca02c", label="barge-in recall (higher is better)")
    ax.plot(xs, table["false_interruption_rate"], marker="s", color="#d62728", label="false interruption rate (lower is better)")
    if not numeric:
        ax.set_xticks(xs, [_value(k) for k in keys])
    ax.set_xlabel(param)
    ax.set_ylabel("rate")
    _percent(ax.yaxis)
    ax.set_ylim(-0.03, 1.08)
    ax.set_title(f"interruptions vs {param}{_over(others)}", loc="left", fontsize=10)
    ax.grid(alpha=0.25)
    _legend(ax, ax.get_legend_handles_labels()[0], owned=owned, ncol=2)
    return fig


def preemptive_cost(
    result: SweepResult,
    *,
    x: str = "response_latency_p50",
    y: str = "llm_requests_per_turn",
    ax: Axes | None = None,
    label_params: bool = True,
) -> Figure:
    """What preemptive generation costs against what it gains: one point per setting.

    Default: LLM cost, ``llm_requests_per_turn`` (1.0 = no extra request; a guide line), against
    latency, ``response_latency_p50`` (to the agent's first audio; see :mod:`agentlab.sweeps.score`).
    Other choices: ``y="preemptive_wasted_rate"`` or ``"preemptive_wasted"``,
    ``x="preemptive_saved_mean"`` (the mean head start the LLM got) or ``"eot_latency_p50"``.
    Points are coloured by ``eot_latency_p50`` (colorbar); a second varying grid parameter of at
    most four values (such as ``preemptive_generation.enabled``) is drawn as marker shapes with a
    legend. With ``label_params`` and at most :data:`MAX_LABELS` settings, points are labelled with
    their other grid values, placed clear of each other (one left out when there is no free spot).
    Settings with a NaN figure (e.g. no preemptive start) are left out and counted in the title.

    Example::

        plots.preemptive_cost(res)
        plots.preemptive_cost(res, x="preemptive_saved_mean", y="preemptive_wasted_rate")
    """
    from matplotlib.colors import Normalize

    _check_metric(result, x, "preemptive_cost")
    _check_metric(result, y, "preemptive_cost")
    owned = ax is None
    fig, ax = _axes(ax, (7, 4.6))
    s = result.summary
    rows = [r for r in s.to_dict("records") if _valid(r[x]) and _valid(r[y])]
    shape = _shape_param(result)
    markers = _markers(result, shape)
    placer = _placer(ax, rows, x, y)
    if rows:
        color = [r["eot_latency_p50"] if _valid(r["eot_latency_p50"]) else 0.0 for r in rows]
        norm = Normalize(min(color), max(color) if max(color) > min(color) else min(color) + 1e-9)
        (sc, *_) = _scatter(ax, rows, x, y, shape, markers, c=color, cmap="viridis", norm=norm, s=40, edgecolors="black",
                            linewidths=0.4, zorder=3)  # fmt: skip
        bar = fig.colorbar(sc, ax=ax, shrink=0.9)
        bar.set_label(_name("eot_latency_p50"), fontsize=8)
    if label_params and 0 < len(rows) <= MAX_LABELS:
        _label_points(placer, _point_labels(result, sorted(rows, key=lambda r: (r[x], r[y])), x, y, shape))
    handles = _shape_handles(result, shape, markers)
    if y == "llm_requests_per_turn":  # in the legend: the settings without preemptive starts sit on this line
        guide = ax.axhline(1.0, color="#777777", ls="--", lw=0.9, zorder=1, gid="guide", label="1 request per turn (no waste)")
        placer.avoid([guide])
        handles.append(guide)
    ax.margins(x=0.15, y=0.12)
    ax.set_xlabel(_name(x))
    ax.set_ylabel(_name(y))
    if _is_rate(y):
        _percent(ax.yaxis)
    dropped = len(s) - len(rows)
    note = f", {dropped} without a value not shown" if dropped else ""
    ax.set_title(f"preemptive generation: cost vs gain ({len(rows)} settings{note})", loc="left", fontsize=10)
    ax.grid(alpha=0.25)
    if handles:
        _legend(ax, handles, owned=owned, ncol=4)
    return fig


def tool_steps(result: SweepResult, *, param: str = "max_tool_steps", ax: Axes | None = None) -> Figure:
    """Task conversations against the tool-step limit: what a tighter limit costs and saves.

    Left axis (rates): ``task_success_rate`` and ``forced_reply_rate``; right axis:
    ``llm_requests_per_turn``. Each point is the mean over any other varying grid parameter (said
    in the title).

    Example::

        res = agentlab.sweep(None, "tasks", {"max_tool_steps": [0, 1, 2, 3]})
        plots.tool_steps(res)
    """
    _check_param(result, param, "tool_steps", "param")
    cols = ["task_success_rate", "forced_reply_rate", "llm_requests_per_turn"]
    table, others = _group_by(result, param, cols)
    if table["task_success_rate"].isna().all():
        raise ValueError("plots.tool_steps: the sweep has no task conversations (task_success_rate is NaN everywhere)")
    owned = ax is None
    fig, ax = _axes(ax, (6.4, 4))
    xs = [float(k) for k in table.index]
    ax.plot(xs, table["task_success_rate"], marker="o", color="#2ca02c", label="task success (higher is better)")
    ax.plot(xs, table["forced_reply_rate"], marker="s", color="#d62728", label="forced final replies")
    ax.set_xlabel(param)
    ax.set_xticks(xs, [_value(k) for k in table.index])
    ax.set_ylabel("share of tasks / typed turns")
    _percent(ax.yaxis)
    ax.set_ylim(-0.03, 1.08)
    right = ax.twinx()
    right.plot(xs, table["llm_requests_per_turn"], marker="^", ls="--", color="#1f77b4", label="LLM requests per turn")
    right.set_ylabel("LLM requests per turn", color="#1f77b4")
    right.set_ylim(0, max(1.0, float(table["llm_requests_per_turn"].max())) * 1.25)
    handles = ax.get_legend_handles_labels()[0] + right.get_legend_handles_labels()[0]
    _legend(ax, handles, owned=owned)
    ax.set_title(f"tool-step limit{_over(others)}", loc="left", fontsize=10)
    ax.grid(alpha=0.25)
    return fig
