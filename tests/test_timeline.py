"""The timeline figure: transcript and reply labels laid out without overlaps, inside the axes, and a title naming the conversation."""

from __future__ import annotations

import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

import agentlab
import agentlab.datasets as ads
from agentlab._labels import LabelPlacer
from agentlab.datasets.convert import aligned_stt, simulate_conversation
from agentlab.timeline import timeline_figure


def _agent():
    return agentlab.Agent(instructions="listen", llm=agentlab.ScriptedLLM(default="Got it. Anything else?", ttft=0.3))


@pytest.fixture(scope="module")
def dense():
    """dictation-018: 19 short user turns in 45 s, the densest transcript lane of the bundled sets."""
    conv = ads.load("dictation")["dictation-018"]
    return simulate_conversation(conv, _agent)


def _draw(fig, width=None):
    if width is not None:
        fig.set_size_inches(width, fig.get_figheight())
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    return canvas.get_renderer()


def _labels(ax, renderer):
    ours = [t for t in ax.texts if t.get_visible() and t.get_gid() in ("transcript", "agent-text")]
    return [(t.get_text(), t.get_window_extent(renderer)) for t in ours]


@pytest.mark.parametrize("width", [None, 8.0, 5.0])
def test_dense_labels_do_not_overlap_and_stay_inside_the_axes(dense, width):
    fig = dense.timeline()
    ax = fig.axes[0]
    renderer = _draw(fig, width)
    shown = _labels(ax, renderer)
    finals = [e.transcript for e in dense.session.events if e.type == "user_input_transcribed" and e.is_final]
    assert len(finals) >= 15 and len(shown) >= 8
    for i, (a, box_a) in enumerate(shown):
        assert ax.bbox.x0 <= box_a.x0 and box_a.x1 <= ax.bbox.x1 and ax.bbox.y0 <= box_a.y0 and box_a.y1 <= ax.bbox.y1, a
        for b, box_b in shown[i + 1 :]:
            assert not box_a.overlaps(box_b), f"{a!r} overlaps {b!r}"
    # a shortened label is a prefix of what was said, with an ellipsis
    texts = {t for t, _ in shown if t.endswith("…")}
    assert all(any(f.startswith(t[:-1].rstrip()) for f in finals) or t.startswith("Got") for t in texts)
    (placer,) = [a for a in ax.get_children() if isinstance(a, LabelPlacer)]
    if width == 5.0:  # too narrow for all of them: shortened or left out, never overprinted
        assert placer.shortened or placer.hidden


def test_a_window_clips_the_labels(dense):
    fig = dense.timeline(start=0, end=12)
    ax = fig.axes[0]
    renderer = _draw(fig)
    shown = _labels(ax, renderer)
    assert shown and all(box.x1 <= ax.bbox.x1 for _, box in shown)
    hidden = [t for t in ax.texts if t.get_gid() == "transcript" and not t.get_visible()]
    assert any(t.xy[0] > 12 for t in hidden)  # labels of later turns are not drawn outside the window


def test_the_legend_sits_under_the_lanes(dense):
    fig = dense.timeline()
    renderer = _draw(fig, 8.0)
    (legend,) = fig.legends
    assert legend.get_window_extent(renderer).y1 <= fig.axes[0].bbox.y0
    assert {t.get_text() for t in legend.get_texts()} >= {"user speech", "turn committed", "interrupted"}


def test_the_title_names_the_conversation(dense):
    assert dense.name == "dictation-018"
    assert dense.timeline().axes[0].get_title(loc="left") == "dictation-018 · turn-taking timeline"
    assert dense.timeline(title="my title").axes[0].get_title(loc="left") == "my title"

    conv = ads.load("dictation").conversations[0]
    recorded = agentlab.simulate(_agent, {"stt": aligned_stt(conv)}, str(conv.audio))  # a recording: its file name
    assert recorded.name == "dictation-000.flac"
    assert recorded.timeline().axes[0].get_title(loc="left").startswith("dictation-000.flac · ")

    typed = agentlab.simulate(_agent, None, ["hello"])  # nothing to name
    assert typed.name is None and typed.timeline().axes[0].get_title(loc="left") == "turn-taking timeline"
    assert agentlab.simulate(_agent, None, ["hello"], name="greeting").timeline().axes[0].get_title(loc="left").startswith("greeting")

    host = Figure()
    ax = host.add_subplot()
    assert timeline_figure(dense.session, ax=ax, name="x") is host and ax.get_title(loc="left") == "x · turn-taking timeline"
