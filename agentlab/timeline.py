"""A run on one time axis: user speech, VAD, transcripts, agent states, agent speech, decisions.

Lanes, top to bottom: the user's speech (backdated edges), the VAD's detections, transcripts
(finals labelled, interims as ticks), the agent's state, and the agent's audio as it was heard
(gaps are pauses, a red ✕ marks a cut). Vertical lines mark decisions: committed user turns
(blue), interruptions (red) and false interruptions that resumed (green).

Transcript labels take up to four rows around their lane and agent speech labels sit in their
bar; when a dense stretch leaves no room, a label is shortened with an ellipsis (or left out),
and none runs past the axes. The layout is worked out when the figure is drawn, so it holds at
any size. The title names the conversation when it is known (``name``).

The figure is built without pyplot's global state, so a notebook shows it exactly once.

Example::

    fig = run.timeline()                 # a matplotlib Figure
    run.timeline(ax=my_ax, start=0, end=20)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._figures import new_figure

if TYPE_CHECKING:  # matplotlib loads when a timeline is drawn, not with agentlab
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from .session.session import AgentSession

__all__ = ["timeline_figure"]

_STATE_COLORS = {"listening": "#e8eef5", "thinking": "#f6c85f", "speaking": "#6fb07f", "initializing": "#dddddd", "idle": "#eeeeee"}
_LANES = ["user speech", "VAD", "transcripts", "agent state", "agent speech"]
#: Transcript label rows (offsets in points from the final's dot): above, below, then one further out each way.
_TRANSCRIPT_ROWS = ((2, 4, "left", "bottom"), (2, -4, "left", "top"), (2, 13, "left", "bottom"), (2, -13, "left", "top"))
#: Agent speech labels: inside their bar.
_SPEECH_ROW = ((2, 0, "left", "center"),)


def _spans(points: list[tuple[float, str]], end: float) -> list[tuple[float, float, str]]:
    out = []
    for (t0, state), (t1, _) in zip(points, [*points[1:], (end, "")][: len(points)], strict=True):
        if t1 > t0:
            out.append((t0, t1, state))
    return out


def timeline_figure(
    session: AgentSession,
    *,
    ax: Axes | None = None,
    start: float | None = None,
    end: float | None = None,
    title: str | None = None,
    name: str | None = None,
) -> Figure:
    """Draw ``session``'s run (see the module docstring); returns the Figure (``ax.figure`` if ``ax`` given).

    ``name`` (a conversation id or file name) goes into the default title,
    ``"<name> · turn-taking timeline"``; ``title`` replaces the whole title.

    Example::

        timeline_figure(run.session, name="overlaps-002", start=0, end=30)
    """
    from ._labels import LabelPlacer

    events = session.events
    horizon = max([session.now(), *[e.created_at for e in events]])
    owned = ax is None
    if ax is None:
        fig = new_figure((10, 3.6))
        ax = fig.add_subplot()
    else:
        fig = ax.figure  # type: ignore[assignment]
    placer = LabelPlacer(ax)
    y = {name: len(_LANES) - 1 - i for i, name in enumerate(_LANES)}
    h = 0.6

    # user speech: from backdated user-state edges
    user_points = [(e.created_at, e.new_state) for e in events if e.type == "user_state_changed"]
    for t0, t1, state in _spans(sorted(user_points), horizon):
        if state == "speaking":
            ax.broken_barh([(t0, t1 - t0)], (y["user speech"] - h / 2, h), facecolors="#5b8def")
        elif state == "away":
            ax.broken_barh([(t0, t1 - t0)], (y["user speech"] - h / 2, h), facecolors="#cccccc", hatch="//")

    # VAD detections
    for ev in session.input_events:
        if ev.kind in ("on_vad_start", "on_vad_end"):
            marker = "^" if ev.kind == "on_vad_start" else "v"
            ax.plot([ev.t], [y["VAD"]], marker=marker, color="#333333", markersize=6, linestyle="none")

    # transcripts: each final takes the first free row; labels are placed latest first, so one
    # that finds every row taken is cut short where the next one begins (or left out)
    finals = []
    for e in events:
        if e.type == "user_input_transcribed":
            if e.is_final:
                ax.plot([e.created_at], [y["transcripts"]], marker="o", color="#5b8def", markersize=5)
                finals.append((e.created_at, _short(e.transcript)))
            else:
                ax.plot([e.created_at], [y["transcripts"]], marker="|", color="#9bb7f0", markersize=8)
    for t, text in reversed(finals):
        if text:
            placer.add(text, (t, y["transcripts"]), candidates=_TRANSCRIPT_ROWS, truncate=True, fontsize=7, color="#234", gid="transcript")

    # agent states
    state_points = [(0.0, "initializing")] + [(e.created_at, e.new_state) for e in events if e.type == "agent_state_changed"]
    for t0, t1, state in _spans(state_points, horizon):
        ax.broken_barh([(t0, t1 - t0)], (y["agent state"] - h / 2, h), facecolors=_STATE_COLORS.get(state, "#eeeeee"), edgecolor="white")

    # agent speech as heard
    cut_speeches = {i.metrics.get("stopped_speaking_at") for i in session.history.items if i.type == "message" and i.interrupted}
    said: dict[str, tuple[float, str]] = {}  # each reply's text, at its first piece
    for p in session.playback:
        ax.broken_barh([(p.start, p.duration)], (y["agent speech"] - h / 2, h), facecolors="#6fb07f", edgecolor="#3d7a4c")
        if p.speech_id not in said and p.frame.text.strip():
            said[p.speech_id] = (p.start, _short(p.frame.text))
        if p.cut and round(p.start + p.duration, 6) in {round(t, 6) for t in cut_speeches if t is not None}:
            ax.plot([p.start + p.duration], [y["agent speech"]], marker="x", color="#d62728", markersize=9, mew=2)

    for t, text in reversed(list(said.values())):  # latest first, as the transcripts
        placer.add(text, (t, y["agent speech"]), candidates=_SPEECH_ROW, truncate=True, fontsize=7, color="#1d3d25", gid="agent-text")

    # decisions
    for e in events:
        if e.type == "metrics_collected" and e.metrics.type == "eou_metrics":
            ax.axvline(e.created_at, color="#1f77b4", linestyle="--", linewidth=0.9, alpha=0.8)
        elif e.type == "agent_false_interruption":
            ax.axvline(e.created_at, color="#2ca02c", linestyle=":", linewidth=1.2)
    for t in cut_speeches:
        if t is not None:
            ax.axvline(t, color="#d62728", linestyle="-", linewidth=0.9, alpha=0.7)

    ax.set_yticks([y[n] for n in _LANES], _LANES)
    ax.set_ylim(-0.7, len(_LANES) - 0.3)
    ax.set_xlim(start if start is not None else 0.0, end if end is not None else horizon)
    ax.set_xlabel("session time (s)")
    ax.grid(axis="x", alpha=0.3)
    for side in ("top", "right", "left"):
        ax.spines[side].set_visible(False)
    ax.set_title(title or (f"{name} · turn-taking timeline" if name else "turn-taking timeline"), loc="left", fontsize=10)
    handles = [
        _legend_patch("#5b8def", "user speech"),
        _legend_patch("#6fb07f", "agent speech"),
        _legend_patch("#f6c85f", "thinking"),
        _legend_line("#1f77b4", "--", "turn committed"),
        _legend_line("#d62728", "-", "interrupted"),
        _legend_line("#2ca02c", ":", "false interruption"),
    ]
    if owned:  # under the axes, where the layout makes room for it: clear of the title and the lanes
        fig.legend(handles=handles, loc="outside lower center", fontsize=7, ncol=6, frameon=False)
    else:
        ax.legend(handles=handles, loc="lower right", fontsize=7, ncol=6, frameon=False, bbox_to_anchor=(1.0, 1.0))
    return fig  # type: ignore[return-value]


def _short(text: str, n: int = 38) -> str:
    text = " ".join(text.split())
    return text if len(text) <= n else text[: n - 1] + "…"


def _legend_patch(color: str, label: str) -> Any:
    from matplotlib.patches import Patch

    return Patch(facecolor=color, label=label)


def _legend_line(color: str, style: str, label: str) -> Any:
    from matplotlib.lines import Line2D

    return Line2D([0], [0], color=color, linestyle=style, label=label)
