"""agentlab.sweeps.plots: every plot returns a Figure, draws into a given ax, and shows the summary's figures."""

from __future__ import annotations

import math

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
    lines = ax.get_lines()
    horizontal = {
        round(ln.get_ydata()[0], 3) for ln in lines if ln.get_gid() is None and ln.get_xdata()[0] == 0 and len(set(ln.get_ydata())) == 1
    }
    vertical = {round(ln.get_xdata()[0], 3) for ln in lines if ln.get_gid() is None and len(set(ln.get_xdata())) == 1}
    assert {0.05, 0.1} <= horizontal and {0.3, 0.6} <= vertical
    texts = [t.get_text() for t in ax.texts]
    assert "5% cut-offs" in texts and "300 ms" in texts
    assert any("min_delay=0.2" in t and "min_duration=1" in t for t in texts)  # grid-value labels
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
    (points,) = ax.collections
    offsets = points.get_offsets()
    s = result.summary
    assert len(offsets) == len(s)  # every setting has a response latency
    assert sorted(offsets[:, 1]) == pytest.approx(sorted(s["llm_requests_per_turn"]))
    assert sorted(offsets[:, 0]) == pytest.approx(sorted(s["response_latency_p50"]))
    assert ax.get_ylabel() == "LLM requests per turn" and ax.get_xlabel() == "response latency p50 (s)"
    ax2 = plots.preemptive_cost(result, x="preemptive_saved_mean", y="preemptive_wasted_rate").axes[0]
    valid = s[[not math.isnan(v) for v in s["preemptive_saved_mean"]]]
    assert len(ax2.collections[0].get_offsets()) == len(valid)
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
