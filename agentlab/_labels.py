"""Text labels placed so they do not overlap, at draw time, for the sweep plots and the timeline.

A :class:`LabelPlacer` is an invisible artist added to an axes. It owns some annotations (made
with :meth:`LabelPlacer.add`) and, each time the figure is drawn, once the layout and the axis
limits are final, places them in the order they were added (a greedy placer: earlier labels get
the better spots). For each it tries the candidate offsets in turn and keeps the first that stays
inside the axes without covering a label placed before, another text or the legend of the axes,
or a marked point; crossing a line given to :meth:`LabelPlacer.avoid` is allowed only when every
other spot is taken. A label that fits nowhere is shortened with an ellipsis (when ``truncate``)
or hidden. Placing at draw time (not
when the plot is built) matters: the data-to-pixel scale is known only then, and it changes when a
figure is resized, laid out or saved with ``bbox_inches="tight"``.

Example::

    placer = LabelPlacer(ax)
    placer.avoid([guide_line])                 # cross it only if nothing else is free
    placer.mark(xs, ys)                        # keep labels off these points
    placer.add("min_delay=0.2", (0.33, 0.78), candidates=AROUND)
    fig.savefig("plot.png")                    # labels are placed while drawing
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any

import numpy as np
from matplotlib.artist import Artist
from matplotlib.axes import Axes
from matplotlib.cbook import STEP_LOOKUP_MAP
from matplotlib.lines import Line2D
from matplotlib.text import Annotation
from matplotlib.transforms import Bbox

__all__ = ["AROUND", "Candidate", "LabelPlacer"]

#: An offset from the anchor, in points, and the text's alignment there: (dx, dy, ha, va), or
#: (dx, dy, ha, va, xy) to move the anchor to ``xy`` (in the label's ``xycoords``) for that spot.
Candidate = tuple[Any, ...]

#: Beside a point: the four diagonal corners, then straight above and below, then a line further out.
AROUND: tuple[Candidate, ...] = (
    (5, 3, "left", "bottom"),
    (5, -3, "left", "top"),
    (-5, 3, "right", "bottom"),
    (-5, -3, "right", "top"),
    (0, 6, "center", "bottom"),
    (0, -6, "center", "top"),
    (5, 12, "left", "bottom"),
    (5, -12, "left", "top"),
    (-5, 12, "right", "bottom"),
    (-5, -12, "right", "top"),
)

_ELLIPSIS = "…"


@dataclass
class _Label:
    annotation: Annotation
    text: str
    candidates: Sequence[Candidate]
    truncate: bool
    min_chars: int


@dataclass
class _Placement:
    cost: float
    candidate: Candidate
    text: str


@dataclass
class _Obstacles:
    hard: list[Bbox] = field(default_factory=list)
    soft: list[Bbox] = field(default_factory=list)


class LabelPlacer(Artist):
    """Places its labels without overlaps whenever the axes draw (see the module docstring).

    ``pad``: the gap kept between two labels, in points. After a draw, :attr:`hidden` lists the texts of
    the labels that fitted nowhere and :attr:`shortened` those cut with an ellipsis.

    Example::

        placer = LabelPlacer(ax)
        placer.add("hello", (1.0, 2.0))
        fig.draw_without_rendering(); placer.hidden     # []
    """

    def __init__(self, ax: Axes, *, pad: float = 1.5) -> None:
        super().__init__()
        self._labels: list[_Label] = []
        self._marks: list[tuple[Any, Any, float]] = []
        self._soft: list[Line2D] = []
        self._pad = pad
        self.hidden: list[str] = []
        self.shortened: list[str] = []
        # drawn before the labels (zorder 3+) so they show where this put them; draws nothing itself
        self.set_zorder(-10)
        self.set_in_layout(False)
        ax.add_artist(self)

    def add(
        self,
        text: str,
        xy: tuple[float, float],
        *,
        candidates: Sequence[Candidate] = AROUND,
        truncate: bool = False,
        min_chars: int = 4,
        **text_kw: Any,
    ) -> Annotation:
        """A label for the data point ``xy``; ``candidates`` are tried in order (earlier is better).

        ``truncate``: when no candidate fits, the longest prefix (at least ``min_chars``) with an
        ellipsis that fits is used. ``text_kw`` go to :meth:`~matplotlib.axes.Axes.annotate`.
        """
        dx, dy, ha, va, *anchor = candidates[0]
        ann = self.axes.annotate(text, anchor[0] if anchor else xy, xytext=(dx, dy), textcoords="offset points", ha=ha, va=va, **text_kw)
        ann.set_in_layout(False)  # placed inside the axes: the layout need not make room for it
        self._labels.append(_Label(ann, text, candidates, truncate, min_chars))
        return ann

    def mark(self, xs: Sequence[float], ys: Sequence[float], *, size: float = 8.0) -> None:
        """Keep labels off the data points (``xs``, ``ys``), each a square ``size`` points wide."""
        self._marks.append((list(xs), list(ys), size))

    def avoid(self, lines: Iterable[Line2D]) -> None:
        """Lines (guide lines, a front) a label should cross only when no other spot is free."""
        self._soft.extend(lines)

    def draw(self, renderer: Any) -> None:
        """Place every label for this draw (see the class docstring)."""
        if not self.get_visible() or not self._labels:
            return
        ax = self.axes
        pad = renderer.points_to_pixels(self._pad)
        bounds = ax.bbox.padded(-1.0)
        obstacles = self._obstacles(renderer)
        self.hidden, self.shortened = [], []
        for lab in self._labels:
            ann = lab.annotation
            ann.set_text(lab.text)
            ann.set_visible(True)
            if ann.xycoords == "data" and not ax.bbox.contains(*ax.transData.transform(ann.xy)):  # a point out of view
                ann.set_visible(False)
                continue
            best = self._best(lab, lab.text, renderer, bounds, obstacles)
            if best is None and lab.truncate:
                best = self._shortest_cut(lab, renderer, bounds, obstacles)
            if best is None:
                ann.set_visible(False)
                self.hidden.append(lab.text)
                continue
            self._apply(ann, best.candidate, best.text)
            if best.text != lab.text:
                self.shortened.append(lab.text)
            obstacles.hard.append(ann.get_window_extent(renderer).padded(pad))

    # --- placement ----------------------------------------------------------------------------

    def _obstacles(self, renderer: Any) -> _Obstacles:
        ax = self.axes
        out = _Obstacles()
        own = {id(lab.annotation) for lab in self._labels}
        for t in ax.texts:
            if id(t) not in own and t.get_visible() and t.get_text().strip():
                out.hard.append(t.get_window_extent(renderer))
        legend = ax.get_legend()
        if legend is not None and legend.get_visible():
            out.hard.append(legend.get_window_extent(renderer))
        for xs, ys, size in self._marks:
            half = renderer.points_to_pixels(size) / 2
            for px, py in ax.transData.transform(list(zip(xs, ys, strict=True))) if xs else []:
                out.hard.append(Bbox.from_extents(px - half, py - half, px + half, py + half))
        for line in self._soft:
            if line.get_visible():
                xy = line.get_xydata()
                style = line.get_drawstyle()
                if style in STEP_LOOKUP_MAP and style != "default":  # the segments as drawn, not the vertices
                    xy = np.column_stack(STEP_LOOKUP_MAP[style](xy[:, 0], xy[:, 1]))
                verts = line.get_transform().transform(xy)
                for (x0, y0), (x1, y1) in pairwise(verts):
                    out.soft.append(Bbox.from_extents(min(x0, x1) - 1, min(y0, y1) - 1, max(x0, x1) + 1, max(y0, y1) + 1))
        return out

    def _apply(self, ann: Annotation, candidate: Candidate, text: str) -> None:
        dx, dy, ha, va, *anchor = candidate
        if anchor:
            ann.xy = anchor[0]
        ann.xyann = (dx, dy)
        ann.set_horizontalalignment(ha)
        ann.set_verticalalignment(va)
        ann.set_text(text)

    def _score(self, ann: Annotation, renderer: Any, bounds: Bbox, obstacles: _Obstacles) -> float | None:
        box = ann.get_window_extent(renderer)
        if not (bounds.x0 <= box.x0 and box.x1 <= bounds.x1 and bounds.y0 <= box.y0 and box.y1 <= bounds.y1):
            return None
        if any(box.overlaps(o) for o in obstacles.hard):
            return None
        return float(sum(box.overlaps(s) for s in obstacles.soft))

    def _best(self, lab: _Label, text: str, renderer: Any, bounds: Bbox, obstacles: _Obstacles) -> _Placement | None:
        best: _Placement | None = None
        for i, cand in enumerate(lab.candidates):
            self._apply(lab.annotation, cand, text)
            crossings = self._score(lab.annotation, renderer, bounds, obstacles)
            if crossings is None:
                continue
            # a crossed guide line costs more than any farther spot
            cost = crossings * len(lab.candidates) + i
            if best is None or cost < best.cost:
                best = _Placement(cost, cand, text)
            if crossings == 0:
                break
        return best

    def _shortest_cut(self, lab: _Label, renderer: Any, bounds: Bbox, obstacles: _Obstacles) -> _Placement | None:
        """The candidate keeping the longest prefix of the text (a label's width grows with its length)."""
        best: _Placement | None = None
        for cand in lab.candidates:
            lo, hi = lab.min_chars, len(lab.text) - 1
            found = None
            while lo <= hi:  # the longest prefix that fits, by bisection: the box only grows with length
                mid = (lo + hi) // 2
                text = lab.text[:mid].rstrip() + _ELLIPSIS
                self._apply(lab.annotation, cand, text)
                if self._score(lab.annotation, renderer, bounds, obstacles) is not None:
                    found, lo = text, mid + 1
                else:
                    hi = mid - 1
            if found is not None and (best is None or len(found) > len(best.text)):
                best = _Placement(0.0, cand, found)
        return best
