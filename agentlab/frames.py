"""DataFrame views of a session: history, events and metrics, one row per item or event.

The objects stay the source of truth; these functions build fresh frames from them. Times are
float seconds from session start. Columns are fixed per frame (missing values are NaN/None), so
frames from different runs concatenate and compare cleanly.

**history_frame** columns:

===================  ==========================================================================
item_id              the item's id (``item_3``)
type                 ``message``, ``function_call``, ``function_call_output``, ``agent_handoff``
created_at           session seconds (assistant: when its reply step started, a say when it started speaking; LiveKit)
role                 ``user`` / ``assistant`` / ``system`` (messages)
text                 message text
interrupted          True if the message was cut by an interruption
incomplete           True if the reply broke off on an error (LLM failed for good, ``llm_node`` raised)
call_id, name        function call / output identity
arguments            the call's raw JSON arguments
output, is_error     function output text and error flag
old_agent_id         handoff: agent handed off from (None at start)
new_agent_id         handoff: agent handed off to
started_speaking_at  message metrics (session seconds)
stopped_speaking_at
e2e_latency          assistant: from the user's message to the agent starting to speak
llm_node_ttft        assistant: LLM time to first token of that message
===================  ==========================================================================

**events_frame** columns: ``created_at`` (when it happened; user-state changes are backdated to the
speech edge; the frame is in this order, events of one instant as emitted), ``emitted_at`` (when
the session emitted it), ``wall_time``,
``type``, ``old_state``, ``new_state``
(state changes), ``transcript``, ``is_final`` (transcriptions), ``item_id``, ``item_type``,
``role``, ``text``, ``interrupted`` (items added; speech done), ``incomplete`` (items added),
``speech_id`` (speech, tool and
metrics events), ``source``, ``user_initiated`` (speech created, scheduled, done),
``function_names``, ``n_calls``, ``n_errors`` (tools executed), ``metrics_type`` (metrics
collected), ``error``, ``recoverable`` (errors; source in ``source``), ``reason`` (close; a dropped
user turn, whose words are in ``transcript``), ``resumed`` (false interruption).

**metrics_frame** columns: ``created_at``, ``type`` (``llm_metrics``, ``tts_metrics``,
``stt_metrics``, ``eou_metrics``), ``label``, ``model``, ``provider``, ``request_id``, ``speech_id``,
``duration``, ``cancelled``; LLM: ``ttft``, ``prompt_tokens``, ``completion_tokens``,
``total_tokens``, ``prompt_cached_tokens``, ``tokens_per_second``, ``tool_choice``; TTS: ``ttfb``,
``audio_duration``, ``characters_count``; end of utterance: ``end_of_utterance_delay``,
``transcription_delay``, ``on_user_turn_completed_delay``.

Example::

    session.history_frame()[["created_at", "role", "text"]]
    session.metrics_frame().query("type == 'llm_metrics'")["ttft"].describe()
"""

from __future__ import annotations

import dataclasses
import html
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import pandas as pd

from .chat import ChatContext, ChatItem

if TYPE_CHECKING:
    from .session.session import AgentSession

__all__ = ["EVENT_COLUMNS", "HISTORY_COLUMNS", "METRICS_COLUMNS", "events_frame", "history_frame", "metrics_frame"]

HISTORY_COLUMNS = [
    "item_id",
    "type",
    "created_at",
    "role",
    "text",
    "interrupted",
    "incomplete",
    "call_id",
    "name",
    "arguments",
    "output",
    "is_error",
    "old_agent_id",
    "new_agent_id",
    "started_speaking_at",
    "stopped_speaking_at",
    "e2e_latency",
    "llm_node_ttft",
]
EVENT_COLUMNS = [
    "created_at",
    "emitted_at",
    "wall_time",
    "type",
    "old_state",
    "new_state",
    "transcript",
    "is_final",
    "item_id",
    "item_type",
    "role",
    "text",
    "interrupted",
    "incomplete",
    "speech_id",
    "source",
    "user_initiated",
    "function_names",
    "n_calls",
    "n_errors",
    "metrics_type",
    "error",
    "recoverable",
    "reason",
    "resumed",
]
METRICS_COLUMNS = [
    "created_at",
    "type",
    "label",
    "model",
    "provider",
    "request_id",
    "speech_id",
    "duration",
    "cancelled",
    "ttft",
    "prompt_tokens",
    "completion_tokens",
    "total_tokens",
    "prompt_cached_tokens",
    "tokens_per_second",
    "tool_choice",
    "ttfb",
    "audio_duration",
    "characters_count",
    "end_of_utterance_delay",
    "transcription_delay",
    "on_user_turn_completed_delay",
]
_FLOAT_COLUMNS = {
    "created_at",
    "emitted_at",
    "wall_time",
    "started_speaking_at",
    "stopped_speaking_at",
    "e2e_latency",
    "llm_node_ttft",
    "duration",
    "ttft",
    "tokens_per_second",
    "ttfb",
    "audio_duration",
    "end_of_utterance_delay",
    "transcription_delay",
    "on_user_turn_completed_delay",
}


def _frame(rows: list[dict[str, Any]], columns: list[str]) -> pd.DataFrame:
    df = pd.DataFrame(rows, columns=columns)
    for col in columns:
        if col in _FLOAT_COLUMNS:
            df[col] = df[col].astype("float64")
    return df


def _item_row(item: ChatItem) -> dict[str, Any]:
    row: dict[str, Any] = {"item_id": item.id, "type": item.type, "created_at": item.created_at}
    if item.type == "message":
        row.update(role=item.role, text=item.text_content, interrupted=item.interrupted, incomplete=item.incomplete)
        for key in ("started_speaking_at", "stopped_speaking_at", "e2e_latency", "llm_node_ttft"):
            row[key] = item.metrics.get(key)
    elif item.type == "function_call":
        row.update(call_id=item.call_id, name=item.name, arguments=item.arguments)
    elif item.type == "function_call_output":
        row.update(call_id=item.call_id, name=item.name, output=item.output, is_error=item.is_error)
    else:
        row.update(old_agent_id=item.old_agent_id, new_agent_id=item.new_agent_id)
    return row


def history_frame(history: ChatContext | Iterable[ChatItem]) -> pd.DataFrame:
    """One row per history item; columns in :data:`HISTORY_COLUMNS` (see the module docstring)."""
    items = history.items if isinstance(history, ChatContext) else list(history)
    return _frame([_item_row(it) for it in items], HISTORY_COLUMNS)


def _event_row(e: Any) -> dict[str, Any]:
    row: dict[str, Any] = {"created_at": e.created_at, "emitted_at": e.emitted_at, "wall_time": e.wall_time, "type": e.type}
    kind = e.type
    if kind in ("agent_state_changed", "user_state_changed"):
        row.update(old_state=e.old_state, new_state=e.new_state)
    elif kind == "user_input_transcribed":
        row.update(transcript=e.transcript, is_final=e.is_final)
    elif kind == "conversation_item_added":
        item = e.item
        row.update(item_id=item.id, item_type=item.type)
        if item.type == "message":
            row.update(role=item.role, text=item.text_content, interrupted=item.interrupted, incomplete=item.incomplete)
    elif kind == "function_tools_executed":
        row.update(
            speech_id=e.speech_id,
            function_names=",".join(c.name for c in e.function_calls),
            n_calls=len(e.function_calls),
            n_errors=sum(1 for o in e.function_call_outputs if o is not None and o.is_error),
        )
    elif kind == "speech_created":
        row.update(speech_id=e.speech_handle.id, source=e.source, user_initiated=e.user_initiated)
    elif kind in ("speech_scheduled", "speech_done", "tool_step_limit_reached"):
        row.update(speech_id=e.speech_id, source=getattr(e, "source", None), interrupted=getattr(e, "interrupted", None))
    elif kind == "user_turn_dropped":
        row.update(transcript=e.transcript, reason=e.reason, speech_id=e.speech_id)
    elif kind == "metrics_collected":
        row.update(metrics_type=e.metrics.type, speech_id=getattr(e.metrics, "speech_id", None))
    elif kind == "error":
        row.update(error=e.message or type(e.error).__name__, source=e.source, recoverable=e.recoverable)
    elif kind == "close":
        row.update(reason=e.reason, error=None if e.error is None else type(e.error).__name__)
    elif kind == "agent_false_interruption":
        row.update(resumed=e.resumed)
    return row


def events_frame(events: Iterable[Any]) -> pd.DataFrame:
    """One row per session event in time order; columns in :data:`EVENT_COLUMNS` (see the module docstring)."""
    # By when it happened: a backdated user-state change goes before what the session did meanwhile
    # (a stable sort, so events of the same instant keep the order they were emitted in).
    return _frame(event_rows(events), EVENT_COLUMNS)


def event_rows(events: Iterable[Any]) -> list[dict[str, Any]]:
    """The rows of :func:`events_frame`, in its order."""
    return sorted((_event_row(e) for e in events), key=lambda r: r["created_at"])


def _metrics_rows(events: Iterable[Any]) -> list[dict[str, Any]]:
    rows = []
    for e in events:
        if e.type != "metrics_collected":
            continue
        row = {"created_at": e.created_at}
        row.update({k: v for k, v in dataclasses.asdict(e.metrics).items() if k in METRICS_COLUMNS})
        rows.append(row)
    return rows


def metrics_frame(events: Iterable[Any]) -> pd.DataFrame:
    """One row per ``metrics_collected`` event; columns in :data:`METRICS_COLUMNS`."""
    return _frame(_metrics_rows(events), METRICS_COLUMNS)


def session_html(session: AgentSession) -> str:
    """A compact HTML summary of a session (used by ``AgentSession._repr_html_``)."""
    agent = session._activity.agent.label if session._activity else "—"
    llm = session.llm
    counts: dict[str, int] = {}
    for it in session.history.items:
        counts[it.type] = counts.get(it.type, 0) + 1
    last = session.history.items[-6:]
    rows = "".join(
        f"<tr><td style='text-align:right'>{it.created_at:.2f}s</td><td>{html.escape(_who(it))}</td>"
        f"<td style='text-align:left'>{html.escape(_what(it))}</td></tr>"
        for it in last
    )
    summary = ", ".join(f"{v} {k.replace('_', ' ')}" for k, v in counts.items()) or "empty"
    return (
        "<div style='font-family:var(--jp-ui-font-family,sans-serif);font-size:13px'>"
        f"<b>AgentSession</b> · agent <code>{html.escape(agent)}</code> · "
        f"agent <i>{session.agent_state}</i>, user <i>{session.user_state}</i> · "
        f"LLM <code>{html.escape(repr(llm) if llm else 'none')}</code> · {session.now():.2f}s"
        f"<div style='color:#666;margin:2px 0 4px'>{html.escape(summary)}; {len(session.events)} events</div>"
        f"<table style='border-collapse:collapse'>{rows}</table></div>"
    )


def _who(item: ChatItem) -> str:
    if item.type == "message":
        return item.role
    if item.type == "agent_handoff":
        return "handoff"
    return "tool"


def _what(item: ChatItem) -> str:
    if item.type == "message":
        text = item.text_content or ""
        return text + (" [interrupted]" if item.interrupted else "") + (" [incomplete]" if item.incomplete else "")
    if item.type == "function_call":
        return f"{item.name}({item.arguments})"
    if item.type == "function_call_output":
        return f"→ {item.output}" + (" [error]" if item.is_error else "")
    return f"{item.old_agent_id or 'start'} → {item.new_agent_id}"
