"""SweepWidget: choose parameter ranges, run a sweep with a progress bar, read the trade-off.

Controls become a grid (each enabled parameter: ``points`` values spread evenly over its range),
the Run button calls :func:`agentlab.sweep` in the kernel (progress through its ``progress=``
callback), and the results show as a table, the plot (:func:`~agentlab.sweeps.plots.tradeoff` for
voice datasets, :func:`~agentlab.sweeps.plots.tool_steps` for task ones) and the recommended
setting. Picking a setting simulates the conversations where it cut the user off most and shows
them as :class:`~agentlab.widgets.ConversationWidget`.
"""

from __future__ import annotations

import html
from typing import Any

import ipywidgets as w
import numpy as np

from .._frozen import frozen
from ..datasets import Dataset, load
from ..session.options import SessionOptions, build_options
from ..sweeps import plots
from ..sweeps.result import SweepResult
from ..sweeps.run import Listening, setting_options, sweep
from ._html import FONT, MUTED, figure_png, header, table

__all__ = ["DEFAULT_PARAMS", "Param", "SweepWidget"]

BUNDLED = ("dictation", "conversational", "overlaps", "tasks")

# ipywidgets caps a slider's readout at a width "0.20 – 1.20" overflows, and a flex item will not
# shrink below its content, so a wide table would push past the output's right edge: undo both.
_STYLE = (
    "<style>.al-sweep .widget-readout{min-width:92px;max-width:none;overflow:visible}"
    ".al-sweep .al-summary,.al-sweep .al-summary>.widget-html-content{min-width:0;max-width:100%}</style>"
)


@frozen
class Param:
    """A grid parameter the widget offers: its range, the default sub-range and number of points."""

    name: str
    low: float
    high: float
    default: tuple[float, float]
    points: int = 4
    step: float = 0.05
    enabled: bool = True
    integer: bool = False

    def values(self, lo: float, hi: float, points: int) -> list[Any]:
        """``points`` values from ``lo`` to ``hi`` (every integer for integer parameters), duplicates dropped."""
        if self.integer:
            return list(range(int(lo), int(hi) + 1))
        raw = [lo] if points <= 1 or hi <= lo else np.linspace(lo, hi, points)
        return sorted({round(float(v), 3) for v in raw})


#: What the widget offers by default, per kind of dataset.
DEFAULT_PARAMS: dict[str, tuple[Param, ...]] = {
    "voice": (
        Param("endpointing.min_delay", 0.1, 2.0, (0.2, 1.2), points=5),
        Param("endpointing.max_delay", 0.5, 6.0, (3.0, 3.0), points=1, enabled=False),
        Param("interruption.min_duration", 0.1, 2.0, (0.5, 0.5), points=1, enabled=False),
        Param("interruption.min_words", 0, 4, (0, 0), enabled=False, integer=True, step=1),
    ),
    "tasks": (Param("max_tool_steps", 0, 6, (0, 3), integer=True, step=1),),
}


class _ParamRow:
    def __init__(self, p: Param) -> None:
        self.param = p
        self.enabled = w.Checkbox(value=p.enabled, indent=False, layout=w.Layout(width="24px"))
        self.label = w.HTML(f"<span style='{FONT}'><code>{html.escape(p.name)}</code></span>", layout=w.Layout(width="220px"))
        slider = w.IntRangeSlider if p.integer else w.FloatRangeSlider
        self.range = slider(
            value=p.default, min=p.low, max=p.high, step=p.step, continuous_update=False, readout_format="d" if p.integer else ".2f"
        )
        self.range.layout.width = "380px"
        self.range.add_class(f"al-range-{p.name.replace('.', '-')}")
        self.points = w.BoundedIntText(value=p.points, min=1, max=10, description="points", layout=w.Layout(width="130px"))
        self.points.style.description_width = "45px"
        self.points.layout.visibility = "hidden" if p.integer else "visible"
        self.box = w.HBox([self.enabled, self.label, self.range, self.points], layout=w.Layout(align_items="center"))
        self.enabled.observe(lambda _: self._dim(), names="value")
        self._dim()

    def _dim(self) -> None:
        # a parameter left out of the grid shows greyed out
        off = not self.enabled.value
        self.range.disabled = self.points.disabled = off
        colour = MUTED if off else "inherit"
        self.label.value = f"<span style='{FONT}color:{colour}'><code style='color:{colour}'>{html.escape(self.param.name)}</code></span>"

    def grid_values(self) -> list[Any] | None:
        if not self.enabled.value:
            return None
        lo, hi = self.range.value
        return self.param.values(lo, hi, self.points.value)


class SweepWidget(w.VBox):
    """Controls for a sweep, a Run button with progress, the results table and trade-off plot.

    ``dataset``: a bundled name, a folder or a :class:`~agentlab.datasets.Dataset`. ``agent``,
    ``base_options`` and ``executor`` go to :func:`agentlab.sweep`. ``params`` overrides the
    offered parameters (:class:`Param`; default :data:`DEFAULT_PARAMS`). After a run,
    ``widget.result`` is the :class:`~agentlab.sweeps.SweepResult`.

    Example::

        SweepWidget("dictation")                   # set the ranges, press Run sweep
    """

    def __init__(
        self,
        dataset: Dataset | str = "dictation",
        agent: Any = None,
        *,
        base_options: SessionOptions | dict[str, Any] | None = None,
        params: tuple[Param, ...] | None = None,
        executor: Any = None,
    ) -> None:
        self.agent = agent
        self.executor = executor
        self.base_options = base_options if isinstance(base_options, SessionOptions) else build_options(**dict(base_options or {}))
        self.result: SweepResult | None = None
        self._data: dict[str, Dataset] = {}
        self._custom_params = params
        names = list(BUNDLED)
        if isinstance(dataset, Dataset):
            self._data[dataset.name] = dataset
            names = [dataset.name, *[n for n in names if n != dataset.name]]
            start = dataset.name
        else:
            start = str(dataset)
            if start not in names:
                names.insert(0, start)
        self.dataset = w.Dropdown(options=names, value=start, description="Dataset", layout=w.Layout(width="300px"))
        self.dataset.style.description_width = "60px"
        self.preemptive = w.Checkbox(value=False, description="compare preemptive generation on / off", indent=False)
        self.preemptive.layout.margin = "0 0 0 24px"
        self.params_box = w.VBox()
        self.run_button = w.Button(description="Run sweep", button_style="success", icon="play", layout=w.Layout(width="130px"))
        self.run_button.add_class("al-run")
        self.progress = w.IntProgress(value=0, min=0, max=1, layout=w.Layout(width="260px", visibility="hidden", margin="0 12px"))
        self.status = w.HTML()
        self.status.add_class("al-status")
        self.best = w.HTML()
        self.best.add_class("al-best")
        self.plot = w.Image(format="png", layout=w.Layout(width="100%", max_width="640px", display="none"))
        self.plot.add_class("al-plot")
        self.summary = w.HTML(layout=w.Layout(width="100%"))
        self.summary.add_class("al-summary")
        self.picker = w.Dropdown(description="Setting", options=[], layout=w.Layout(width="460px", display="none"))
        self.picker.style.description_width = "60px"
        self.details = w.VBox()

        self.dataset.observe(lambda _: self._build_params(), names="value")
        self.run_button.on_click(lambda _: self.run())
        self.picker.observe(lambda change: self._show_setting(change["new"]), names="value")
        self._build_params()
        super().__init__(
            [
                w.HTML(_STYLE + header("Sweep", "· score session settings against labelled turns")),
                w.HBox([self.dataset, self.preemptive], layout=w.Layout(align_items="center")),
                self.params_box,
                w.HBox([self.run_button, self.progress, self.status], layout=w.Layout(align_items="center")),
                self.best,
                self.plot,
                self.summary,
                self.picker,
                self.details,
            ],
            layout=w.Layout(width="100%", max_width="900px"),
        )
        self.add_class("al-sweep")

    # --- controls ----------------------------------------------------------------------------

    def _dataset(self) -> Dataset:
        name = self.dataset.value
        if name not in self._data:
            self._data[name] = load(name)
        return self._data[name]

    def _is_tasks(self) -> bool:
        return all(c.audio is None and not c.turns for c in self._dataset())

    def _build_params(self) -> None:
        tasks = self._is_tasks()
        params = self._custom_params or DEFAULT_PARAMS["tasks" if tasks else "voice"]
        self.rows = [_ParamRow(p) for p in params]
        self.params_box.children = [r.box for r in self.rows]
        self.preemptive.layout.display = "none" if tasks else "flex"

    def grid(self) -> dict[str, list[Any]]:
        """The grid the controls describe now.

        Example::

            widget.grid()     # {'endpointing.min_delay': [0.2, 0.45, 0.7, 0.95, 1.2]}
        """
        grid = {r.param.name: v for r in self.rows if (v := r.grid_values()) is not None}
        if self.preemptive.value and self.preemptive.layout.display != "none":
            grid["preemptive_generation.enabled"] = [False, True]
        return grid

    # --- running -----------------------------------------------------------------------------

    def run(self) -> SweepResult | None:
        """Run the sweep the controls describe and show its results (what the button does).

        Example::

            res = widget.run()
        """
        grid = self.grid()
        data = self._dataset()
        self.run_button.disabled = True
        self.progress.layout.visibility = "visible"
        self.status.value = f"<span style='{FONT}color:{MUTED}'>running {_count(grid)} settings × {len(data)} conversations…</span>"

        def progress(done: int, total: int) -> None:
            self.progress.max = max(total, 1)
            self.progress.value = done

        try:
            res = sweep(self.agent, data, grid, base_options=self.base_options, executor=self.executor, progress=progress)
        except Exception as e:  # bad ranges or options: say so, keep the controls usable
            self.status.value = f"<span style='{FONT}color:#b91c1c'>{html.escape(type(e).__name__)}: {html.escape(str(e))}</span>"
            return None
        finally:
            self.run_button.disabled = False
        self.result = res
        self._show_result(res)
        return res

    def _show_result(self, res: SweepResult) -> None:
        s = res.summary
        tasks = bool(s["tasks"].sum())
        failed = f", {len(res.failed)} failed" if len(res.failed) else ""
        n_conv = res.cells.conversation.nunique()
        self.status.value = f"<span style='{FONT}color:{MUTED}'>{len(res.settings)} settings × {n_conv} conversations{failed}</span>"
        if tasks:
            fig = plots.tool_steps(res) if "max_tool_steps" in res.params and s["max_tool_steps"].nunique() > 1 else None
            best_text = _best_tasks(res)
        else:
            fig = plots.tradeoff(res)
            best_text = _best_voice(res)
        self.best.value = f"<div style='{FONT}margin:6px 0'>{best_text}</div>"
        if fig is not None:
            self.plot.value = figure_png(fig)
            self.plot.layout.display = "block"
        else:
            self.plot.layout.display = "none"
        self.summary.value = table(res.overview(), max_height=260)
        labels = plots.setting_labels(res)
        self.picker.options = [(labels[sid], sid) for sid in res.settings]
        self.picker.value = None
        self.picker.layout.display = "none" if tasks else "flex"
        self.details.children = ()

    def _show_setting(self, sid: str | None) -> None:
        """The conversations where setting ``sid`` cut the user off most, simulated with it."""
        from ..datasets.convert import simulate_conversation
        from .conversation import ConversationWidget, default_agent

        if sid is None or self.result is None:
            return
        turns = self.result.turns
        cut = turns[(turns.setting == sid) & turns.kind.isin(["hold", "turn"]) & (turns.outcome == "cutoff")]
        if not len(cut):
            self.details.children = (w.HTML(f"<span style='{FONT}color:{MUTED}'>This setting cut nobody off.</span>"),)
            return
        worst = cut.groupby("conversation").size().sort_values(ascending=False, kind="stable").head(2)
        opts, _ = setting_options(self.base_options, Listening(), self.result.settings[sid])
        data = {c.id: c for c in self._dataset()}
        widgets: list[Any] = [w.HTML(f"<div style='{FONT}margin-top:8px'><b>Worst cut-offs</b> of this setting</div>")]
        for conv_id, n in worst.items():
            conv = data[conv_id]
            factory = self.agent if self.agent is not None else (lambda conv=conv: default_agent(conv))
            run = simulate_conversation(conv, factory, opts)
            widgets.append(ConversationWidget(run, title=f"{conv_id} · {n} cut-off{'s' if n > 1 else ''}"))
        self.details.children = tuple(widgets)

    def __repr__(self) -> str:
        return f"SweepWidget(dataset={self.dataset.value!r}, grid={self.grid()!r})"


def _count(grid: dict[str, list[Any]]) -> int:
    n = 1
    for v in grid.values():
        n *= len(v)
    return n


def _describe(res: SweepResult, row: dict[str, Any]) -> str:
    return ", ".join(f"<code>{html.escape(p)}={html.escape(str(row[p]))}</code>" for p in res.params) or "the base options"


def _best_voice(res: SweepResult) -> str:
    for budget in (0.05, 0.10):
        try:
            row = res.best(max_cutoff_rate=budget)
        except ValueError:
            continue
        return (
            f"<b>Recommended:</b> {_describe(res, row)} — the fastest with at most {budget:.0%} false cut-offs "
            f"(p50 end-of-turn latency {row['eot_latency_p50']:.2f} s, cut-offs {row['false_cutoff_rate']:.1%})."
        )
    return f"<span style='color:{MUTED}'>No setting keeps false cut-offs under 10 %; try longer delays.</span>"


def _best_tasks(res: SweepResult) -> str:
    s = res.summary.sort_values(["task_success_rate", "llm_requests_per_turn"], ascending=[False, True], kind="stable")
    row = s.iloc[0].to_dict()
    return (
        f"<b>Recommended:</b> {_describe(res, row)} — task success {row['task_success_rate']:.0%} "
        f"with {row['llm_requests_per_turn']:.2f} LLM requests per turn."
    )
