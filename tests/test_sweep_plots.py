"""agentlab.sweeps.plots: every plot returns a Figure, draws into a given ax, and shows the summary's figures."""

from __future__ import annotations

import math

import numpy as np
import pytest
from matplotlib.figure import Figure

import agentlab.datasets as ads
from agentlab.sweeps import plots, sweep

GRID = {"endpointing.min_delay": [0.2, 0.5, 1.0], "interruption.min_duration": [0.2, 1.0]}


@pytest.fixture(scope="module")
def result():
    a, b = ads.load("dictation"), ads.load("overlaps")
    data = ads.Dataset("mixed", {"name": "mixed"}, a.conversations[:3] + b.conversations[:3])
    return sweep(None, data, GRID, progress=False)


def _all(result):
    return {
        "tradeoff": lambda **kw: plots.tradeoff(result, **kw),
        "heatmap": lambda **kw: plots.heatmap(result, "endpointing.min_delay", "interruption.min_duration", **kw),
        "latency_distribution": lambda **kw: plots.latency_distribution(result, **kw),
        "latency_violin": lambda **kw: plots.latency_distribution(result, kind="violin", **kw),
        "interruption_curve": lambda **kw: plots.interruption_curve(result, **kw),
        "preemptive_cost": lambda **kw: plots.preemptive_cost(result, **kw),
    }


@pytest.mark.parametrize("name", ["tradeoff", "heatmap", "latency_distribution", "latency_violin", "interruption_curve", "preemptive_cost"])
def test_returns_figure_draws_into_ax_and_saves(result, name, tmp_path):
    make = _all(result)[name]
    fig = make()
    assert isinstance(fig, Figure)
    ax = fig.axes[0]
    assert ax.get_xlabel() and ax.get_ylabel() and ax.get_title(loc="left")
    fig.savefig(tmp_path / f"{name}.png", dpi=80)
    assert (tmp_path / f"{name}.png").stat().st_size > 1000

    host = Figure()
    a, b = host.subplots(1, 2)
    assert make(ax=b) is host
    assert b.get_xlabel() and b.get_ylabel()
    assert not a.has_data()  # the other axes is untouched


def test_tradeoff_pareto_step_line_and_guides(result):
    fig = plots.tradeoff(result)
    ax = fig.axes[0]
    (front,) = [ln for ln in ax.get_lines() if ln.get_gid() == "pareto-front"]
    assert front.get_drawstyle() == "steps-post"
    pareto = result.pareto()
    assert len(front.get_xdata()) == len(pareto)
    assert sorted(front.get_xdata()) == sorted(pareto["eot_latency_p50"])
    assert ax.get_xlabel() == "end-of-turn latency p50 (s)" and ax.get_ylabel() == "false cut-off rate"
    # budget guides: 5 % / 10 % horizontal, 300 / 600 ms vertical
    guides = [ln for ln in ax.get_lines() if ln.get_gid() == "guide"]
    horizontal = {round(ln.get_ydata()[0], 3) for ln in guides if ln.get_xdata()[0] == 0 and len(set(ln.get_ydata())) == 1}
    vertical = {round(ln.get_xdata()[0], 3) for ln in guides if len(set(ln.get_xdata())) == 1}
    assert horizontal == {0.05, 0.1} and vertical == {0.3, 0.6}
    texts = [t.get_text() for t in ax.texts]
    assert "5% cut-offs" in texts and "300 ms" in texts
    # two varying parameters: min_duration (2 values) is drawn as marker shapes, min_delay written next to the points
    labels = [t.get_text() for t in ax.texts if t.get_gid() == "point-label"]
    assert any("min_delay=0.2" in t for t in labels) and not any("min_duration" in t for t in labels)
    shapes = {h.get_label(): h.get_marker() for h in fig.legends[0].legend_handles if h.get_label().startswith("min_duration")}
    assert shapes == {"min_duration=0.2": "o", "min_duration=1": "^"}
    assert not any("min_delay" in t.get_text() for t in plots.tradeoff(result, label_params=False).axes[0].texts)


def test_tradeoff_other_axes(result):
    fig = plots.tradeoff(result, x="eot_latency_p90", y="false_interruption_rate")
    ax = fig.axes[0]
    assert ax.get_ylabel() == "false interruption rate"
    assert [ln for ln in ax.get_lines() if ln.get_gid() == "pareto-front"]
    with pytest.raises(ValueError, match="unknown summary figure 'latency'"):
        plots.tradeoff(result, x="latency")


def test_heatmap_values_match_summary(result):
    x, y = "endpointing.min_delay", "interruption.min_duration"
    fig = plots.heatmap(result, x, y, "eot_latency_p50")
    ax = fig.axes[0]
    assert len(fig.axes) == 2  # the colorbar
    assert ax.get_xlabel() == x and ax.get_ylabel() == y
    assert "mean over" not in ax.get_title(loc="left")
    xs = [float(t.get_text()) for t in ax.get_xticklabels()]
    ys = [float(t.get_text()) for t in ax.get_yticklabels()]
    assert xs == GRID[x] and ys == GRID[y]
    cells = [t for t in ax.texts if t.get_gid() == "cell-value"]
    assert len(cells) == len(xs) * len(ys)
    s = result.summary.set_index([x, y])
    for t in cells:
        px, py = t.get_position()
        want = s.loc[(xs[round(px)], ys[round(py)]), "eot_latency_p50"]
        assert float(t.get_text()) == pytest.approx(want, rel=5e-3)


def test_heatmap_mean_over_other_varying_parameter():
    a = ads.load("dictation")
    data = ads.Dataset("d", {"name": "d"}, a.conversations[:2])
    grid = {"endpointing.min_delay": [0.2, 1.0], "interruption.min_duration": [0.2, 1.0], "vad.min_silence_duration": [0.25, 0.55]}
    res = sweep(None, data, grid, progress=False)
    fig = plots.heatmap(res, "endpointing.min_delay", "interruption.min_duration", "false_cutoff_rate")
    ax = fig.axes[0]
    assert "mean over vad.min_silence_duration" in ax.get_title(loc="left")
    s = res.summary
    want = s[(s["endpointing.min_delay"] == 0.2) & (s["interruption.min_duration"] == 0.2)]["false_cutoff_rate"].mean()
    (cell,) = [t for t in ax.texts if t.get_gid() == "cell-value" and t.get_position() == (0, 0)]
    assert float(cell.get_text()) == pytest.approx(want, rel=5e-3)


def test_heatmap_errors_name_the_parameter(result):
    with pytest.raises(ValueError, match=r"x='endpointing\.delay' is not a grid parameter.*endpointing\.min_delay"):
        plots.heatmap(result, "endpointing.delay", "interruption.min_duration")
    with pytest.raises(ValueError, match=r"y='vad\.threshold' is not a grid parameter"):
        plots.heatmap(result, "endpointing.min_delay", "vad.threshold")
    with pytest.raises(ValueError, match="two different grid parameters"):
        plots.heatmap(result, "endpointing.min_delay", "endpointing.min_delay")
    with pytest.raises(ValueError, match="unknown summary figure 'cutoffs_rate'"):
        plots.heatmap(result, "endpointing.min_delay", "interruption.min_duration", "cutoffs_rate")


def test_latency_distribution_settings(result):
    sid = result.summary["setting"].iloc[0]
    fig = plots.latency_distribution(result, settings=[sid, {"endpointing.min_delay": 1.0}])
    ax = fig.axes[0]
    labels = [t.get_text() for t in ax.get_xticklabels()]
    assert len(labels) == 3 and "min_delay=0.2" in labels[0] and all("(n=" in lab for lab in labels)
    n = ((result.turns.setting == sid) & (result.turns.kind == "eot") & (result.turns.outcome == "detected")).sum()
    assert f"(n={n})" in labels[0]
    assert len(plots.latency_distribution(result).axes[0].get_xticklabels()) == len(result.summary)  # 6 settings: all
    with pytest.raises(ValueError, match="unknown setting 'nope'"):
        plots.latency_distribution(result, settings=["nope"])
    with pytest.raises(ValueError, match=r"settings='vad\.threshold' is not a grid parameter"):
        plots.latency_distribution(result, settings=[{"vad.threshold": 0.5}])
    with pytest.raises(ValueError, match="kind must be"):
        plots.latency_distribution(result, kind="histogram")


def test_interruption_curve_lines(result):
    ax = plots.interruption_curve(result).axes[0]
    recall, false = ax.get_lines()[:2]
    assert list(recall.get_xdata()) == GRID["interruption.min_duration"]
    s = result.summary.groupby("interruption.min_duration")[["barge_in_recall", "false_interruption_rate"]].mean()
    assert list(recall.get_ydata()) == pytest.approx(list(s["barge_in_recall"]))
    assert list(false.get_ydata()) == pytest.approx(list(s["false_interruption_rate"]))
    assert "mean over endpointing.min_delay" in ax.get_title(loc="left")
    assert ax.get_xlabel() == "interruption.min_duration"
    with pytest.raises(ValueError, match=r"param='interruption\.min_words' is not a grid parameter"):
        plots.interruption_curve(result, param="interruption.min_words")


def test_preemptive_cost_points(result):
    fig = plots.preemptive_cost(result)
    ax = fig.axes[0]
    offsets = np.concatenate([c.get_offsets() for c in ax.collections])
    s = result.summary
    assert len(offsets) == len(s)  # every setting has a response latency
    assert sorted(offsets[:, 1]) == pytest.approx(sorted(s["llm_requests_per_turn"]))
    assert sorted(offsets[:, 0]) == pytest.approx(sorted(s["response_latency_p50"]))
    assert ax.get_ylabel() == "LLM requests per turn" and ax.get_xlabel() == "response latency p50 (s)"
    ax2 = plots.preemptive_cost(result, x="preemptive_saved_mean", y="preemptive_wasted_rate").axes[0]
    valid = s[[not math.isnan(v) for v in s["preemptive_saved_mean"]]]
    assert sum(len(c.get_offsets()) for c in ax2.collections) == len(valid)
    assert ax2.get_xlabel() == "latency saved by preemptive generation, mean (s)"
    with pytest.raises(ValueError, match="unknown summary figure"):
        plots.preemptive_cost(result, y="requests")


def test_tool_steps_plot():
    res = sweep(None, ads.Dataset("t", {"name": "t"}, ads.load("tasks").conversations[:6]), {"max_tool_steps": [0, 1, 3]}, progress=False)
    fig = plots.tool_steps(res)
    ax = fig.axes[0]
    success = ax.get_lines()[0].get_ydata()
    assert list(success) == pytest.approx(list(res.summary.task_success_rate))
    assert ax.get_xlabel() == "max_tool_steps" and len(fig.axes) == 2
    voice = ads.Dataset("d", {"name": "d"}, ads.load("dictation").conversations[:1])
    with pytest.raises(ValueError, match="no task conversations"):
        plots.tool_steps(sweep(None, voice, {"max_tool_steps": [1, 2]}, progress=False))


# --- layout: labels and legends clear of each other and of the data -------------------------------


@pytest.fixture(scope="module")
def preemptive():
    """The notebook 05 sweep: preemptive on/off doubles every point (the labels that used to smear)."""
    grid = {"endpointing.min_delay": [0.3, 0.5, 0.8, 1.2], "preemptive_generation.enabled": [False, True]}
    return sweep(None, "conversational", grid, llm_ttft=0.35, tts_ttfb=0.25, progress=False)


def _drawn(fig, width=None):
    """Draw ``fig`` on an Agg canvas (at ``width`` inches, keeping its height) and return the renderer."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    if width is not None:
        fig.set_size_inches(width, fig.get_figheight())
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    return canvas.get_renderer()


def _text_boxes(ax, renderer):
    return [(t.get_text(), t.get_window_extent(renderer)) for t in ax.texts if t.get_visible() and t.get_text().strip()]


def _data_points(fig):
    """Display coordinates of every plotted data point: scatter offsets and data-line vertices (not guide lines)."""
    points = []
    for ax in fig.axes:
        for c in ax.collections:
            if len(c.get_offsets()):
                points += list(c.get_offset_transform().transform(c.get_offsets()))
        for line in ax.get_lines():
            if line.get_transform() is ax.transData and line.get_gid() != "guide":
                points += list(ax.transData.transform(line.get_xydata()))
    return points


def _assert_clear(fig, ax, renderer):
    """Visible texts of ``ax`` are inside it, overlap no other text, and cover no data point."""
    boxes = _text_boxes(ax, renderer)
    assert boxes
    inside = ax.bbox.padded(0.5)
    for text, box in boxes:
        assert inside.x0 <= box.x0 and box.x1 <= inside.x1 and inside.y0 <= box.y0 and box.y1 <= inside.y1, f"{text!r} leaves the axes"
    for i, (a, box_a) in enumerate(boxes):
        for b, box_b in boxes[i + 1 :]:
            assert not box_a.overlaps(box_b), f"{a!r} overlaps {b!r}"
    for text, box in boxes:
        shrunk = box.padded(-1)
        assert not any(shrunk.contains(x, y) for x, y in _data_points(fig)), f"{text!r} covers a data point"


@pytest.mark.parametrize("width", [None, 8.0, 5.5])
@pytest.mark.parametrize("name", ["tradeoff", "preemptive_cost"])
def test_point_labels_clear_of_each_other_the_points_and_the_guides(preemptive, result, name, width):
    for res in (preemptive, result):
        fig = getattr(plots, name)(res)
        ax = fig.axes[0]
        renderer = _drawn(fig, width)
        _assert_clear(fig, ax, renderer)
        guides = {t.get_text() for t in ax.texts if t.get_gid() == "guide-label" and t.get_visible()}
        assert guides == ({"5% cut-offs", "10% cut-offs", "300 ms", "600 ms"} if name == "tradeoff" else set())
        labels = [t.get_text() for t in ax.texts if t.get_gid() == "point-label" and t.get_visible()]
        if res is preemptive:  # on/off is a marker shape: no label repeats it, each delay is written
            assert not any("preemptive" in t for t in labels)
            written = {t.split("=")[1] for t in labels}
            assert written == {"0.3", "0.5", "0.8", "1.2"}
            if name == "preemptive_cost" and width is None:
                assert len(labels) == 8  # every setting has its own point and keeps its label


def test_crowded_labels_are_left_out_not_overprinted(preemptive):
    from agentlab._labels import LabelPlacer

    fig = plots.tradeoff(preemptive)
    ax = fig.axes[0]
    fig.set_size_inches(3.0, 2.4)
    renderer = _drawn(fig)
    _assert_clear(fig, ax, renderer)
    (placer,) = [a for a in ax.get_children() if isinstance(a, LabelPlacer)]
    assert placer.hidden  # no room for all of them at this size
    assert sorted(placer.hidden) == sorted(t.get_text() for t in ax.texts if not t.get_visible())


def test_settings_on_one_point_share_a_label():
    res = sweep(None, ads.Dataset("d", {"name": "d"}, ads.load("dictation").conversations[:2]),
                {"endpointing.min_delay": [0.3, 1.0], "interruption.min_duration": [0.3, 0.6, 0.9]}, progress=False)  # fmt: skip
    fig = plots.tradeoff(res, x="eot_latency_p50", y="false_interruption_rate")
    labels = [t.get_text() for t in fig.axes[0].texts if t.get_gid() == "point-label"]
    # min_duration is the shape; each delay's three settings coincide when nothing is interrupted
    assert len(labels) == len(set(labels))


def _tasks_result():
    return sweep(None, ads.Dataset("t", {"name": "t"}, ads.load("tasks").conversations[:6]), {"max_tool_steps": [0, 1, 3]}, progress=False)


@pytest.mark.parametrize("name", ["tradeoff", "latency_distribution", "interruption_curve", "preemptive_cost", "tool_steps"])
def test_legends_off_the_data(result, preemptive, name):
    res = {"tool_steps": _tasks_result, "preemptive_cost": lambda: preemptive}.get(name, lambda: result)()
    for width in (None, 8.0):
        fig = getattr(plots, name)(res)
        renderer = _drawn(fig, width)
        legends = [*fig.legends, *(ax.get_legend() for ax in fig.axes if ax.get_legend() is not None)]
        assert legends, "a legend was expected"
        for legend in legends:
            box = legend.get_window_extent(renderer)
            covered = [p for p in _data_points(fig) if box.contains(*p)]
            assert not covered, f"{name}: the legend covers {len(covered)} data points"
            assert fig.bbox.contains(box.x0, box.y0) and fig.bbox.contains(box.x1, box.y1)  # and stays on the figure


def test_latency_distribution_tick_labels_fit(preemptive):
    fig = plots.latency_distribution(preemptive)
    ax = fig.axes[0]
    renderer = _drawn(fig, 8.0)
    boxes = [t.get_window_extent(renderer) for t in ax.get_xticklabels() if t.get_text()]
    assert len(boxes) == 6
    assert all(not a.overlaps(b) for i, a in enumerate(boxes) for b in boxes[i + 1 :])
    # the names moved to the axis label, the values stay on the ticks, in grid order
    assert ax.get_xlabel() == "setting: min_delay, preemptive_generation (one per line)"
    assert ax.get_xticklabels()[0].get_text().startswith("0.3\nFalse\n(n=")
