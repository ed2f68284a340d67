"""ConversationWidget: one simulated run to listen to and read, and a picker to browse a dataset."""

from __future__ import annotations

import html
from typing import Any

import ipywidgets as w

from ..datasets.io import Dataset
from ..datasets.model import Conversation
from ..sim import Run
from ..timeline import timeline_figure
from ._html import FONT, MUTED, figure_png, header, table, wav_bytes

__all__ = ["ConversationWidget", "default_agent"]

#: Columns shown in each tab (the full frames are ``run.history`` / ``run.events`` / ``run.metrics``).
HISTORY_VIEW = ["created_at", "type", "role", "text", "name", "arguments", "output", "interrupted", "e2e_latency"]
EVENTS_VIEW = ["created_at", "type", "old_state", "new_state", "transcript", "is_final", "role", "text", "reason", "resumed"]
METRICS_VIEW = ["created_at", "type", "speech_id", "ttft", "ttfb", "duration", "end_of_utterance_delay", "transcription_delay"]


def default_agent(conv: Conversation) -> Any:
    """An offline agent for browsing ``conv``: the task's reference agent, or a short scripted listener.

    Example::

        run = simulate_conversation(conv, lambda: default_agent(conv))
    """
    from ..models.scripted import ScriptedLLM
    from ..session.agent import Agent
    from ..sweeps.tasks import reference_agent

    if conv.expected_tools:
        return reference_agent(conv)
    llm = ScriptedLLM(default="Got it. Anything else?", ttft=0.3)
    return Agent(instructions="You are a helpful voice assistant. Answer briefly.", llm=llm)


class ConversationWidget(w.VBox):
    """A simulated conversation: stereo audio (user left, agent right), the timeline, and the frames in tabs.

    :meth:`browse` adds a picker over a dataset's conversations; picking one simulates it
    (offline by default: :func:`default_agent`) and shows it.

    Example::

        ConversationWidget(run)
        ConversationWidget.browse("overlaps")      # pick a conversation, listen, read the timeline
    """

    def __init__(self, run: Run | None = None, *, title: str | None = None) -> None:
        self.run: Run | None = None
        self._title = title
        self.header = w.HTML()
        self.audio = w.Audio(format="wav", autoplay=False, loop=False, controls=True, layout=w.Layout(width="100%"))
        self.figure = w.Image(format="png", layout=w.Layout(width="100%", max_width="900px"))
        self.figure.add_class("al-timeline")
        self.tables = {name: w.HTML() for name in ("History", "Events", "Metrics")}
        self.tabs = w.Tab(children=list(self.tables.values()), titles=list(self.tables))
        self.controls = w.HBox()
        self.status = w.HTML()
        super().__init__([self.controls, self.status, self.header, self.audio, self.figure, self.tabs], layout=w.Layout(width="100%"))
        self.add_class("al-conversation")
        if run is not None:
            self.show(run)

    def show(self, run: Run, *, title: str | None = None) -> None:
        """Display ``run`` (replaces what was shown).

        Example::

            widget.show(agentlab.simulate(agent, options, "call.wav"))
        """
        if not isinstance(run, Run):
            raise TypeError(f"ConversationWidget: expected a Run (from agentlab.simulate), got {type(run).__name__}")
        self.run = run
        h = run.history
        users = int(((h["type"] == "message") & (h["role"] == "user")).sum())
        replies = int(((h["type"] == "message") & (h["role"] == "assistant")).sum())
        tools = int((h["type"] == "function_call").sum())
        s = run.summary()
        figures = " · ".join(f"{k} {v}" for k, v in s.items() if v not in ("—", "", None))
        self.header.value = header(
            title or self._title or "Conversation",
            f"· {run.duration:.1f} s · {users} user turns · {replies} replies" + (f" · {tools} tool calls" if tools else ""),
        ) + (f"<div style='{FONT}color:{MUTED};font-size:12px'>{html.escape(figures)}</div>" if figures else "")
        self.audio.value = wav_bytes(run.audio(), 16000)
        fig = timeline_figure(run.session, name=title or self._title or run.name)
        self.figure.value = figure_png(fig)
        self.tables["History"].value = table(h, HISTORY_VIEW)
        self.tables["Events"].value = table(run.events, EVENTS_VIEW)
        self.tables["Metrics"].value = table(run.metrics, METRICS_VIEW)

    @classmethod
    def browse(
        cls,
        dataset: Dataset | str,
        agent: Any = None,
        session_options: Any = None,
        *,
        conversation: str | None = None,
    ) -> ConversationWidget:
        """A widget with a conversation picker over ``dataset`` (a name, folder or :class:`~agentlab.datasets.Dataset`).

        ``agent`` is a factory (``None``: :func:`default_agent` for each conversation);
        ``session_options`` are ``AgentSession`` keyword arguments. The first (or the named)
        conversation is simulated at once.

        Example::

            ConversationWidget.browse("overlaps", session_options={"turn_handling": {"interruption": {"min_duration": 0.3}}})
        """
        from ..datasets import load
        from ..datasets.convert import simulate_conversation

        data = dataset if isinstance(dataset, Dataset) else load(dataset)
        if not len(data):
            raise ValueError(f"ConversationWidget.browse: dataset {data.name!r} has no conversations")
        ids = [c.id for c in data]
        if conversation is not None and conversation not in ids:
            raise ValueError(f"ConversationWidget.browse: no conversation {conversation!r} in {data.name!r}; first ones: {ids[:5]}")
        widget = cls(title=None)
        picker = w.Dropdown(options=ids, value=conversation or ids[0], description="Conversation", layout=w.Layout(width="340px"))
        picker.style.description_width = "90px"
        picker.add_class("al-picker")
        widget.controls.children = (picker,)

        def pick(conv_id: str) -> None:
            conv = next(c for c in data if c.id == conv_id)
            widget.status.value = f"<span style='{FONT}color:{MUTED}'>simulating {html.escape(conv_id)}…</span>"
            factory = agent if agent is not None else (lambda: default_agent(conv))
            try:
                run = simulate_conversation(conv, factory, session_options)
            except Exception as e:  # a broken conversation shows its error, the picker stays usable
                widget.status.value = f"<span style='{FONT}color:#b91c1c'>{html.escape(type(e).__name__)}: {html.escape(str(e))}</span>"
                return
            widget.status.value = ""
            widget.show(run, title=f"{data.name} / {conv_id}")

        picker.observe(lambda change: pick(change["new"]), names="value")
        widget.picker = picker  # type: ignore[attr-defined]
        pick(picker.value)
        return widget

    def __repr__(self) -> str:
        if self.run is None:
            return "ConversationWidget(empty)"
        return f"ConversationWidget({self.run!r})"
