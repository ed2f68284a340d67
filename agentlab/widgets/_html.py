"""Small HTML and media helpers shared by the widgets (one look for all of them)."""

from __future__ import annotations

import html
import io
import json
from typing import Any

import numpy as np

FONT = "font-family:var(--jp-ui-font-family,system-ui,sans-serif);font-size:13px;"
MUTED = "#6b7280"

_STATE_COLORS = {
    "listening": ("#eef2f7", "#374151"),
    "thinking": ("#fff4d6", "#8a5a00"),
    "speaking": ("#dcfce7", "#166534"),
    "initializing": ("#f3f4f6", MUTED),
    "away": ("#f3f4f6", MUTED),
}


def pill(label: str, state: str) -> str:
    """``agent: thinking`` as a coloured pill (the colour follows the state)."""
    bg, fg = _STATE_COLORS.get(state, ("#f3f4f6", "#374151"))
    return (
        f"<span class='al-pill al-{html.escape(state)}' style='display:inline-block;padding:1px 9px;margin-left:6px;"
        f"border-radius:10px;background:{bg};color:{fg};font-size:12px'>{html.escape(label)}: <b>{html.escape(state)}</b></span>"
    )


def bubble(role: str, text: str, *, note: str = "", live: bool = False) -> str:
    """A chat bubble: the user on the right in blue, the agent on the left in grey."""
    user = role == "user"
    align = "flex-end" if user else "flex-start"
    bg = "#dbeafe" if user else "#f3f4f6"
    cursor = "<span style='color:#9ca3af'> ▍</span>" if live else ""
    extra = f"<div style='color:{MUTED};font-size:11px;margin-top:2px'>{html.escape(note)}</div>" if note else ""
    return (
        f"<div class='al-msg al-{'user' if user else 'agent'}' style='display:flex;justify-content:{align};margin:4px 0'>"
        f"<div style='max-width:78%;padding:6px 10px;border-radius:12px;background:{bg};white-space:pre-wrap;line-height:1.35'>"
        f"{html.escape(text)}{cursor}{extra}</div></div>"
    )


def tool_block(name: str, arguments: str, output: str | None, *, is_error: bool = False) -> str:
    """A tool call and its output, inline in the transcript."""
    try:
        args = ", ".join(f"{k}={json.dumps(v)}" for k, v in json.loads(arguments or "{}").items())
    except (ValueError, AttributeError):
        args = arguments
    colour = "#b91c1c" if is_error else "#8a5a00"
    result = "" if output is None else f"<div style='color:{colour}'>→ {html.escape(output)}</div>"
    return (
        "<div class='al-tool' style='margin:4px 0 4px 6px;padding:4px 8px;border-left:3px solid #f59e0b;"
        "background:#fffbeb;font-family:var(--jp-code-font-family,monospace);font-size:12px'>"
        f"<span style='color:{MUTED}'>tool</span> <b>{html.escape(name)}</b>({html.escape(args)}){result}</div>"
    )


def table(df: Any, columns: list[str] | None = None, *, max_rows: int = 200, max_height: int = 280) -> str:
    """A DataFrame as a compact, scrollable HTML table: numbers right-aligned (times to the
    millisecond, other floats to 3 significant digits), text left-aligned, NaN blank. Long column
    names wrap after their dots and underscores, and the box scrolls sideways rather than
    spilling out of a narrow output.

    Example::

        widgets.HTML(table(run.history, ["created_at", "role", "text"]))
    """
    from ..sweeps.result import _breakable

    frame = df if columns is None else df[[c for c in columns if c in df.columns]]
    shown = frame.head(max_rows)
    head = "".join(f"<th style='text-align:{_align(shown[c])}'>{_breakable(str(c))}</th>" for c in shown.columns)
    rows = []
    for rec in shown.itertuples(index=False):
        cells = "".join(
            f"<td style='text-align:{_align(shown[c])}'>{html.escape(_cell(v, c))}</td>" for c, v in zip(shown.columns, rec, strict=True)
        )
        rows.append(f"<tr>{cells}</tr>")
    more = f"<div style='color:{MUTED};font-size:11px'>first {max_rows} of {len(df)} rows</div>" if len(df) > max_rows else ""
    style = (
        "<style>.al-table{border-collapse:collapse;font-size:12px;line-height:1.3}.al-table th{position:sticky;top:0;background:#f9fafb;"
        "padding:3px 8px;border-bottom:1px solid #e5e7eb;font-weight:600;vertical-align:bottom;min-width:3em}"
        ".al-table td{padding:2px 8px;"
        "border-bottom:1px solid #f3f4f6;white-space:nowrap;max-width:420px;overflow:hidden;text-overflow:ellipsis}</style>"
    )
    body = f"<table class='al-table'><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"
    return f"{style}<div style='max-height:{max_height}px;max-width:100%;overflow:auto'>{body}</div>{more}"


def _align(col: Any) -> str:
    return "right" if col.dtype.kind in "iufb" else "left"


def _cell(v: Any, column: str) -> str:
    if v is None or (isinstance(v, float) and v != v):
        return ""
    if isinstance(v, float):
        if column.endswith(("_at", "time", "start", "end")) or column in ("duration", "latency"):
            return f"{v:.3f}"
        return f"{v:.3g}"
    return str(v)


def figure_png(fig: Any, *, dpi: int = 96) -> bytes:
    """A matplotlib Figure as PNG bytes (for an ``ipywidgets.Image``)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight", facecolor="white")
    return buf.getvalue()


def wav_bytes(samples: np.ndarray, sample_rate: int) -> bytes:
    """Float samples (mono, or ``(n, channels)``) as 16-bit WAV bytes (for an ``ipywidgets.Audio``)."""
    import soundfile as sf

    buf = io.BytesIO()
    sf.write(buf, np.clip(np.asarray(samples, dtype=np.float32), -1.0, 1.0), sample_rate, format="WAV", subtype="PCM_16")
    return buf.getvalue()


def header(title: str, detail: str = "") -> str:
    """A widget's title line: bold title, muted detail."""
    sub = f" <span style='color:{MUTED}'>{html.escape(detail)}</span>" if detail else ""
    return f"<div style='{FONT}font-size:14px'><b>{html.escape(title)}</b>{sub}</div>"
