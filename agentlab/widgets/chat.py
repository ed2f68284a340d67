"""ChatWidget: a text conversation with a session, in a notebook cell, on the real clock.

The widget is a thin view over an :class:`~agentlab.AgentSession` running in the notebook's own
event loop. It listens to the session's events (``conversation_item_added``,
``function_tools_executed``, ``agent_state_changed``, ``user_state_changed``) and to its
transcription output (``session.output.transcription``, LiveKit's text sink) for the agent's words
as they stream. Pressing Enter sends the text as ``session.generate_reply(user_input=...)``, as a
LiveKit room's text input does (it interrupts what the agent is saying first).

The transcript is a list of entries (messages, tool rounds) rendered to one HTML widget; the
entry being streamed is marked live until the session adds the finished message to its history.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
from dataclasses import dataclass
from typing import Any

import ipywidgets as w
import numpy as np

from .._secrets import scrub
from ..session.agent import Agent
from ..session.session import AgentSession
from ._html import FONT, MUTED, bubble, header, pill, table, tool_block, wav_bytes

__all__ = ["ChatWidget"]

#: Columns of the events table the toggle shows (the full frame is ``session.events_frame()``).
EVENT_VIEW_COLUMNS = ["created_at", "type", "old_state", "new_state", "role", "text", "function_names", "error"]


@dataclass
class _Entry:
    kind: str  # "user" | "agent" | "tool" | "error"
    text: str = ""
    live: bool = False
    note: str = ""
    name: str = ""
    arguments: str = ""
    output: str | None = None
    is_error: bool = False


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


class _Transcription:
    """The session's text sink: streams the agent's words into the widget."""

    def __init__(self, widget: ChatWidget) -> None:
        self._widget = widget

    async def capture_text(self, text: str) -> None:
        self._widget._stream(text)

    def flush(self) -> None:
        self._widget._end_stream()


class ChatWidget(w.VBox):
    """Chat with ``session`` in a notebook cell: type, press Enter, watch the agent answer.

    ``agent`` starts the session (on the notebook's loop) if it has not been started. Shows the
    agent and user states live, tool calls and their outputs inline, the agent's reply audio when
    its TTS makes audio, and (toggle) the events DataFrame.

    Example::

        from agentlab.examples.restaurant import Host, scripted_llm
        session = AgentSession(llm=scripted_llm())
        ChatWidget(session, agent=Host())          # the last expression of a cell: it shows itself
    """

    def __init__(self, session: AgentSession, agent: Agent | None = None, *, title: str = "Chat") -> None:
        if not isinstance(session, AgentSession):
            raise TypeError(f"ChatWidget: session must be an AgentSession, got {type(session).__name__}")
        if agent is not None and not isinstance(agent, Agent):
            raise TypeError(f"ChatWidget: agent must be an Agent, got {type(agent).__name__}")
        self.session = session
        self._agent = agent
        self._entries: list[_Entry] = []
        self._tasks: set[asyncio.Task[Any]] = set()
        self._played = len(session.playback)
        self._title = title
        self._loop = _running_loop()  # the notebook's loop: where the session runs

        self.header = w.HTML(layout=w.Layout(flex="1 1 auto"))
        self.states = w.HTML()
        self.events_toggle = w.ToggleButton(value=False, description="Events", icon="table", tooltip="show the events DataFrame")
        self.events_toggle.layout.width = "90px"
        self.transcript = w.HTML(layout=w.Layout(border="1px solid #e5e7eb", width="100%"))
        self.transcript.add_class("al-transcript")
        self.audio = w.Audio(format="wav", autoplay=False, loop=False, controls=True, layout=w.Layout(display="none", width="100%"))
        self.input = w.Text(placeholder="Type a message and press Enter", continuous_update=False, layout=w.Layout(flex="1 1 auto"))
        self.input.add_class("al-chat-input")
        self.send = w.Button(description="Send", button_style="primary", icon="paper-plane", layout=w.Layout(width="90px"))
        self.events = w.HTML(layout=w.Layout(display="none"))

        self.input.observe(self._on_submit, names="value")
        self.send.on_click(lambda _: self._submit(self.input.value))
        self.events_toggle.observe(lambda _: self._render_events(), names="value")
        session.on("conversation_item_added", self._on_item)
        session.on("function_tools_executed", self._on_tools)
        session.on("agent_state_changed", lambda _: self._render_states())
        session.on("user_state_changed", lambda _: self._render_states())
        session.on("error", self._on_error)
        session.output.transcription = _Transcription(self)

        super().__init__(
            [
                w.HBox([self.header, self.states, self.events_toggle], layout=w.Layout(align_items="center")),
                self.transcript,
                self.audio,
                w.HBox([self.input, self.send]),
                self.events,
            ],
            layout=w.Layout(width="100%", max_width="820px"),
        )
        self.add_class("al-chat")
        for item in session.history.items:  # a session that already talked shows its history
            self._on_item_added(item)
        self._render()
        if agent is not None and not session._started:
            self._spawn(self._start())

    # --- sending -----------------------------------------------------------------------------

    def _on_submit(self, change: dict[str, Any]) -> None:
        if change["new"]:
            self._submit(change["new"])

    def _submit(self, text: str) -> None:
        text = text.strip()
        if not text:
            return
        with self.input.hold_trait_notifications():
            self.input.unobserve(self._on_submit, names="value")
            self.input.value = ""
            self.input.observe(self._on_submit, names="value")
        self._spawn(self.say(text))

    async def say(self, text: str) -> None:
        """Send ``text`` as the user and wait until the agent's reply has played; a reply that
        failed for good is shown as an error in the chat.

        Example::

            await chat.say("A table for four at seven, please")
        """
        await self._start()
        # After a handoff (or an AgentTask) the old agent drains: the next message is the new agent's.
        await self.session._handoffs_done()
        if self.session.agent_state == "speaking":
            with contextlib.suppress(RuntimeError):  # uninterruptible speech just plays on
                self.session.interrupt()
        handle = self.session.generate_reply(user_input=text)
        await handle.wait_for_playout()
        error = handle.exception()
        if error is not None:  # the reply failed for good (session.run would raise it): the chat says so
            self._entries.append(_Entry("error", text=scrub(f"reply failed: {type(error).__name__}: {error}")))
            self._render()

    async def _start(self) -> None:
        if self.session._started:
            return
        if self._agent is None:
            raise RuntimeError("ChatWidget: the session has not been started; pass agent=... or await session.start(agent) first")
        await self.session.start(self._agent)

    def _spawn(self, coro: Any) -> None:
        """Run ``coro`` on the session's loop. JupyterLab may deliver widget messages on a kernel
        subshell (another thread, another loop); the session lives on the loop it was made on."""
        running = _running_loop()
        loop = self._loop or running
        if loop is None:
            coro.close()
            raise RuntimeError("ChatWidget: needs a running event loop (use it in a notebook, or from async code)")
        if loop is running:
            self._create(coro)
        else:
            loop.call_soon_threadsafe(self._create, coro)

    def _create(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            exc = task.exception()
            self._entries.append(_Entry("error", text=scrub(f"{type(exc).__name__}: {exc}")))
            self._render()

    # --- session events ----------------------------------------------------------------------

    def _on_item(self, event: Any) -> None:
        self._on_item_added(event.item)
        self._render()

    def _on_item_added(self, item: Any) -> None:
        if item.type == "message" and item.role == "user":
            self._entries.append(_Entry("user", text=item.text_content or ""))
        elif item.type == "message" and item.role == "assistant":
            # The streamed bubble becomes the finished message; without streaming, a new bubble.
            streamed = next((e for e in reversed(self._entries) if e.kind == "agent" and e.note == "streamed"), None)
            note = "interrupted" if item.interrupted else ""
            if streamed is not None:
                streamed.text, streamed.live, streamed.note = item.text_content or streamed.text, False, note
            else:
                self._entries.append(_Entry("agent", text=item.text_content or "", note=note))
            self._show_audio()
        elif item.type == "agent_handoff" and item.old_agent_id is not None:
            self._entries.append(_Entry("error", text=f"handoff: {item.old_agent_id} → {item.new_agent_id}", note="handoff"))

    def _on_tools(self, event: Any) -> None:
        for call, out in event.zipped():
            self._entries.append(
                _Entry(
                    "tool",
                    name=call.name,
                    arguments=call.arguments,
                    output=None if out is None else out.output,
                    is_error=bool(out is not None and out.is_error),
                )
            )
        self._render()

    def _on_error(self, event: Any) -> None:
        # The event's message is already scrubbed of keys; the error object's own text may not be.
        self._entries.append(_Entry("error", text=f"{event.source} error: {event.message or type(event.error).__name__}"))
        self._render()

    def _stream(self, text: str) -> None:
        live = self._entries[-1] if self._entries and self._entries[-1].live else None
        if live is None:
            live = _Entry("agent", live=True, note="streamed")
            self._entries.append(live)
        live.text += text
        self._render_transcript()

    def _end_stream(self) -> None:
        for e in self._entries:
            e.live = False
        self._render_transcript()

    def _show_audio(self) -> None:
        """Put the audio of what the agent just said (frames with samples) in the player."""
        pieces = self.session.playback[self._played :]
        self._played += len(pieces)
        chunks = [
            p.frame.data[round(p.offset * p.frame.sample_rate) : round((p.offset + p.duration) * p.frame.sample_rate)]
            for p in pieces
            if p.frame.data is not None
        ]
        if chunks:
            rate = next(p.frame.sample_rate for p in pieces if p.frame.data is not None)
            self.audio.value = wav_bytes(np.concatenate(chunks), rate)
            self.audio.layout.display = "block"

    # --- rendering ---------------------------------------------------------------------------

    def _render(self) -> None:
        self._render_states()
        self._render_transcript()
        self._render_events()

    def _render_states(self) -> None:
        agent = self.session._activity.agent.label if self.session._activity else "not started"
        self.header.value = header(self._title, f"· {agent}")
        self.states.value = pill("agent", self.session.agent_state) + pill("user", self.session.user_state)
        if self.events_toggle.value:
            self._render_events()

    def _render_transcript(self) -> None:
        parts = []
        for e in self._entries:
            if e.kind in ("user", "agent"):
                parts.append(bubble(e.kind, e.text, note="" if e.note == "streamed" else e.note, live=e.live))
            elif e.kind == "tool":
                parts.append(tool_block(e.name, e.arguments, e.output, is_error=e.is_error))
            else:
                parts.append(f"<div class='al-note' style='color:{MUTED};font-size:12px;margin:4px 0'>{html.escape(e.text)}</div>")
        if not parts:
            parts.append(f"<div style='color:{MUTED}'>Say something to start the conversation.</div>")
        # column-reverse on the scroller anchors it at the bottom: the newest entry stays in view.
        self.transcript.value = (
            f"<div style='{FONT}height:300px;overflow-y:auto;display:flex;flex-direction:column-reverse;padding:6px 10px'>"
            f"<div>{''.join(parts)}</div></div>"
        )

    def _render_events(self) -> None:
        if not self.events_toggle.value:
            self.events.layout.display = "none"
            return
        frame = self.session.events_frame()
        self.events.value = table(frame.tail(60), EVENT_VIEW_COLUMNS, max_height=240)
        self.events.layout.display = "block"

    def __repr__(self) -> str:
        return f"ChatWidget({len(self._entries)} entries, agent {self.session.agent_state}, user {self.session.user_state})"
