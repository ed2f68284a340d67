"""agentlab._labels.LabelPlacer: labels placed at draw time clear of each other, points, texts and guide lines."""

from __future__ import annotations

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from agentlab._labels import LabelPlacer


def _axes(width=4.0, height=3.0):
    fig = Figure(figsize=(width, height))
    ax = fig.add_subplot()
    ax.set_xlim(0, 10)
    ax.set_ylim(0, 10)
    return fig, ax


def _draw(fig):
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    return canvas.get_renderer()


def _shown(ax, renderer):
    return [(t.get_text(), t.get_window_extent(renderer)) for t in ax.texts if t.get_visible()]


def _disjoint(boxes):
    return all(not a.overlaps(b) for i, (_, a) in enumerate(boxes) for _, b in boxes[i + 1 :])


def test_crowded_labels_never_overlap_and_the_rest_are_reported_hidden():
    fig, ax = _axes()
    placer = LabelPlacer(ax)
    for i in range(30):
        placer.add(f"setting {i}", (5, 5))
    shown = _shown(ax, _draw(fig))
    assert 4 <= len(shown) < 30 and _disjoint(shown)
    assert len(placer.hidden) == 30 - len(shown)
    assert [t for t, _ in shown] == [f"setting {i}" for i in range(len(shown))]  # earlier labels win

    fig.set_size_inches(8, 6)  # placed again on the next draw, at the new scale: the same ten candidates, no overlap
    bigger = _shown(ax, _draw(fig))
    assert _disjoint(bigger) and len(bigger) >= len(shown)


def test_labels_stay_inside_the_axes_and_off_marked_points():
    fig, ax = _axes()
    placer = LabelPlacer(ax)
    placer.mark([9.9, 5.2], [9.9, 5.1])
    corner = placer.add("a label at the corner", (9.9, 9.9))
    middle = placer.add("beside a neighbour", (5, 5))
    renderer = _draw(fig)
    inside = ax.bbox
    for ann in (corner, middle):
        box = ann.get_window_extent(renderer)
        assert ann.get_visible() and inside.x0 <= box.x0 and box.x1 <= inside.x1 and inside.y0 <= box.y0 and box.y1 <= inside.y1
    assert corner.get_horizontalalignment() == "right" and corner.get_verticalalignment() == "top"  # the only way in
    neighbour = ax.transData.transform((5.2, 5.1))
    assert not middle.get_window_extent(renderer).contains(*neighbour)


def test_a_guide_line_is_crossed_only_when_nothing_else_is_free():
    fig, ax = _axes()
    line = ax.axhline(5.3, color="grey")
    placer = LabelPlacer(ax)
    placer.avoid([line])
    ann = placer.add("over the line?", (5, 5))  # the first spot (above, right) would cross y=5.3
    renderer = _draw(fig)
    y = ax.transData.transform((0, 5.3))[1]
    box = ann.get_window_extent(renderer)
    assert not box.y0 <= y <= box.y1


def test_truncated_to_the_room_left_with_an_ellipsis():
    fig, ax = _axes()
    placer = LabelPlacer(ax)
    row = ((2, 0, "left", "center"),)
    # placed first (as the timeline does, latest first): an earlier label gets the room up to it
    later = placer.add("the next one", (5, 5), candidates=row, truncate=True, fontsize=7)
    earlier = placer.add("a long transcript that runs on and on", (1, 5), candidates=row, truncate=True, fontsize=7)
    edge = placer.add("past the right edge of the axes", (8.5, 2), candidates=row, truncate=True, fontsize=7)
    hidden = placer.add("no room at all", (5.1, 5), candidates=row, truncate=True, fontsize=7)
    renderer = _draw(fig)
    assert later.get_text() == "the next one"
    assert earlier.get_text().endswith("…") and "a long transcript that runs on and on".startswith(earlier.get_text()[:-1])
    assert earlier.get_window_extent(renderer).x1 < later.get_window_extent(renderer).x0
    assert edge.get_text().endswith("…") and edge.get_window_extent(renderer).x1 <= ax.bbox.x1
    assert not hidden.get_visible() and placer.hidden == ["no room at all"]
    assert placer.shortened == ["a long transcript that runs on and on", "past the right edge of the axes"]
    assert _disjoint(_shown(ax, renderer))
