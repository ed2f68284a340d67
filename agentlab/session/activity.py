"""One agent's activity: its speech queue and scheduler, reply steps and tool calls.

Theory of operation
-------------------
A session runs one :class:`_AgentActivity` per active agent (and keeps the ones an ``AgentTask``
paused). The activity owns a priority queue of :class:`~agentlab.session.speech.SpeechHandle`s and a
scheduling loop that lets exactly one speech be current at a time, which is how "at most one agent
speech is audible" holds by construction.

Each ``generate_reply`` starts a *reply task* at once (so the LLM runs while the speech waits in
the queue, as in LiveKit). The reply task runs *steps*; a step is one LLM generation
(:class:`~agentlab.session.generation._Generation`):

1. stream the LLM through ``Agent.llm_node``; text goes to the playout, tool calls to the tool
   runner (:mod:`agentlab.session.tool_calls`);
2. once the scheduler authorizes the speech (and the user is silent: the reply hold-off), the text
   is played (:mod:`agentlab.session.playout`);
3. tools run concurrently with playout; when the step ends its assistant message, calls and
   outputs are committed to the history and ``function_tools_executed`` is emitted;
4. if an output asks for a reply, the next step runs on the same handle with ``tool_choice``
   ``"auto"``, or ``"none"`` once ``num_steps >= max_tool_steps + 1`` (LiveKit 1.8.9, measured:
   ``max_tool_steps=N`` allows N+1 tool rounds, then one forced text reply).

Interruption cancels the step's LLM and playout, keeps only the text that was heard (with
``interrupted=True``), lets running tools finish and commits their results without a reply.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import logging
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from .._utils import is_given, rounded
from ..chat import AgentHandoff, ChatContext, ChatItem, ChatMessage, _items_after
from ..tools import StopResponse
from . import events as ev
from .agent import Agent, AgentTask, ModelSettings, node_output, overrides
from .emitter import _log_failure
from .generation import _Generation
from .playout import _Playout, _speaking_metrics, _TTSPipe
from .run_result import set_waiting
from .speech import SpeechHandle, _first_of
from .tool_calls import _in_tool, _ToolResult, execute_tools

if TYPE_CHECKING:
    from .session import AgentSession

logger = logging.getLogger("agentlab.session")


def _log_task_error(task: asyncio.Task[Any]) -> None:
    if not task.cancelled() and task.exception() is not None:
        _log_failure("agentlab session task failed", task.exception())


async def _transcribed(session: AgentSession, text: AsyncIterator[str]) -> AsyncIterator[str]:
    """A transcription node's text; its failure is an ``error`` event and ends the text (LiveKit:
    logged, the text before it kept), the same with or without a TTS."""
    try:
        async for chunk in text:
            yield chunk
    except Exception as exc:
        session._report_error(exc, source="transcription_node", recoverable=True)


class _AgentActivity:
    """One agent's turn at being active: its speech queue, scheduler and reply tasks."""

    def __init__(self, session: AgentSession, agent: Agent) -> None:
        self.session = session
        self.agent = agent
        self.current: SpeechHandle | None = None
        self._queue: list[tuple[int, int, SpeechHandle]] = []
        self._seq = itertools.count()
        self._wake = asyncio.Event()
        self._paused = False
        self._draining = False
        self._drained: asyncio.Future[None] | None = None
        self._closed = False
        self._last_end: float | None = None
        self._scheduler: asyncio.Task[None] | None = None
        self._handles: list[SpeechHandle] = []
        self._turn_exceeded_task: asyncio.Task[None] | None = None
        self._turn_exceeded_locked = False  # the agent's on_user_turn_exceeded is running
        #: The last reply context's items and those of them the LLM got (see ``_llm_ctx``).
        self._llm_items: tuple[list[ChatItem], list[ChatItem]] = ([], [])

    def start(self) -> None:
        self._scheduler = asyncio.get_running_loop().create_task(self._schedule_loop())

    def pause(self) -> None:
        self._paused = True

    def on_user_turn_exceeded(self, event: Any) -> None:
        """LiveKit's handling of a user turn past its limit: a newer event replaces one still waiting;
        the agent's callback runs once the agent is idle, unless it starts speaking first."""
        if self._paused or self._draining:
            logger.warning("user turn limit exceeded while %s cannot speak; skipped", self.agent.label)
            return
        if self._turn_exceeded_locked:
            return  # the agent's callback is running
        if self._turn_exceeded_task is not None:
            self._turn_exceeded_task.cancel()
        self._turn_exceeded_task = self.session._track(self._user_turn_exceeded(event))

    async def _user_turn_exceeded(self, event: Any) -> None:
        s = self.session
        speaking = asyncio.get_running_loop().create_future()

        def on_state(e: Any) -> None:
            if e.new_state == "speaking" and not speaking.done():
                speaking.set_result(None)

        if s.agent_state == "speaking":
            return
        s.on("agent_state_changed", on_state)
        idle = asyncio.ensure_future(self._wait_idle())
        try:
            await asyncio.wait([speaking, idle], return_when=asyncio.FIRST_COMPLETED)
            if speaking.done():
                return  # the agent answered after all
        finally:
            s.off("agent_state_changed", on_state)
            idle.cancel()
        if self._paused or self._draining:
            return
        self._turn_exceeded_locked = True
        try:
            await self.agent.on_user_turn_exceeded(event)
        except Exception as exc:
            _log_failure(f"{self.agent.label}.on_user_turn_exceeded failed", exc)
        finally:
            self._turn_exceeded_locked = False
            self._turn_exceeded_task = None

    async def _wait_idle(self) -> None:
        """Until no scheduled speech of this agent is pending (current, queued or awaiting its
        tools); a preemptive reply not yet queued does not count."""
        while pending := [h._done_fut for h in self._handles if not h.done() and h.scheduled]:
            await asyncio.wait(pending)

    def resume(self) -> None:
        self._paused = False
        self._wake.set()

    def new_handle(self, allow_interruptions: Any, *, source: str, schedule: bool = True) -> SpeechHandle:
        s = self.session
        if self._draining:
            raise RuntimeError(f"AgentSession: {self.agent.label} is handing off (draining); it cannot schedule new speech")
        if not is_given(allow_interruptions):
            allow_interruptions = (
                self.agent._allow_interruptions if is_given(self.agent._allow_interruptions) else s.options.interruption.enabled
            )
        handle = SpeechHandle(speech_id=s._ids("speech"), allow_interruptions=bool(allow_interruptions), source=source)
        self._handles.append(handle)
        handle.add_done_callback(self._on_speech_done)
        s._emit(ev.SpeechCreatedEvent, speech_handle=handle, user_initiated=True, source=source)
        if schedule:
            self.schedule(handle)
        return handle

    def schedule(self, handle: SpeechHandle) -> None:
        """Queue a speech for playing (preemptive replies are created first and queued at commit)."""
        heapq.heappush(self._queue, (-handle.priority, next(self._seq), handle))
        if not handle._queued.done():
            handle._queued.set_result(None)
        self._wake.set()
        self.session._emit(ev.SpeechScheduledEvent, speech_id=handle.id, source=handle.source, priority=handle.priority)

    def _on_speech_done(self, handle: SpeechHandle) -> None:
        if handle in self._handles:
            self._handles.remove(handle)
        if self._draining:
            self._wake.set()  # the scheduler may be done now
        self.session._emit(ev.SpeechDoneEvent, speech_id=handle.id, source=handle.source, interrupted=handle.interrupted)

    async def _schedule_loop(self) -> None:
        s = self.session
        delay = self.agent._min_consecutive_speech_delay
        if not is_given(delay):
            delay = s.options.min_consecutive_speech_delay
        while not self._closed:
            await self._wake.wait()
            self._wake.clear()
            while self._queue and not self._paused and not self._closed:
                _, _, handle = heapq.heappop(self._queue)
                if handle.done():
                    continue
                if delay and self._last_end is not None:
                    wait = self._last_end + delay - s.now()
                    if wait > 0:
                        await asyncio.sleep(wait)
                self.current = handle
                if not handle._authorized.done():
                    handle._authorized.set_result(None)
                s._notify_engine()
                # Until this step's generation is over, not the whole speech: a speech a tool creates
                # plays right after the step's text, and the tool follow-up queues up behind it.
                if not (handle._generation_done.done() or handle.done()):
                    await _first_of(handle._generation_done, handle._done_fut)
                self.current = None
                s._notify_engine()
                self._last_end = s.now()
            # Draining ends when nothing can come back to the queue: a reply whose tools still run
            # re-queues its follow-up (LiveKit's scheduler keeps running until then too).
            if self._draining and not self._queue and self.current is None and all(h.done() for h in self._handles):
                return

    def interrupt(self, *, force: bool) -> asyncio.Future[None]:
        current = self.current
        if current is not None and not current.allow_interruptions and not force:
            raise RuntimeError(f"AgentSession.interrupt: the current speech {current.id} does not allow interruptions; pass force=True")
        queued = [h for _, _, h in sorted(self._queue)]
        # Replies waiting for their tools are interrupted too, unless they refuse it (LiveKit's background speeches).
        targets = [h for h in self._handles if h._in_tools and not h.done() and (force or h.allow_interruptions)]
        for h in [current, *queued] if current is not None else queued:
            if h.done():
                continue
            if not force and not h.allow_interruptions:
                break  # as LiveKit: the queue is interrupted up to the first speech that refuses it
            targets.append(h)
        for h in targets:
            h._mark_interrupted()
        return asyncio.ensure_future(asyncio.gather(*(h.wait_for_playout() for h in targets)))

    async def drain(self) -> None:
        """Run ``on_exit`` (it may still speak), then let every queued speech finish; new speech is refused after."""
        if self._drained is not None:
            await asyncio.shield(self._drained)  # a second drain waits for the first
            return
        self._drained = asyncio.get_running_loop().create_future()
        try:
            try:
                await self.agent.on_exit()
            except Exception as exc:
                _log_failure(f"{self.agent.label}.on_exit failed", exc)
            self._draining = True
            # A preemptive reply not yet queued was made for a turn this agent will never take.
            for h in [h for h in self._handles if not h.scheduled]:
                h._mark_interrupted()
            me = getattr(asyncio.current_task(), "_agentlab_speech", None)
            while pending := [h._done_fut for h in self._handles if not h.done() and h is not me]:
                await asyncio.wait(pending)
        finally:
            self._drained.set_result(None)

    async def aclose(self) -> None:
        for h in list(self._handles):
            h._mark_interrupted()
        for h in list(self._handles):
            if h is not getattr(asyncio.current_task(), "_agentlab_speech", None):
                await h.wait_for_playout()
        self._closed = True
        self._llm_items = ([], [])  # the history is the session's to keep, not a closed activity's
        self._wake.set()
        if self._scheduler is not None:
            self._scheduler.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._scheduler
            self._scheduler = None  # a finished task keeps its context, and so the session

    # --- speech tasks ---------------------------------------------------------------------

    async def _wait_user_silent(self, handle: SpeechHandle) -> bool:
        """LiveKit's reply hold-off: an interruptible reply does not start while the user is speaking."""
        voice = self.session._voice
        silent = voice.user_silent if voice is not None else None
        if silent is None or silent.is_set() or not handle.allow_interruptions:
            return not handle.interrupted
        waiter = asyncio.ensure_future(silent.wait())
        ok = await handle._wait_if_not_interrupted(waiter)
        if not ok:
            waiter.cancel()
        return ok and not handle.interrupted

    async def _wait_authorized(self, handle: SpeechHandle, *, queued_only: bool = False) -> bool:
        """Wait until ``handle`` may play (or, ``queued_only``, until it is queued); False if interrupted first."""
        ok = await handle._wait_if_not_interrupted(handle._queued if queued_only else handle._authorized)
        return ok and not handle.interrupted

    async def run_say(self, handle: SpeechHandle, text: str, *, add_to_chat_ctx: bool) -> None:
        s = self.session
        try:
            if not await self._wait_authorized(handle):
                return

            async def source() -> Any:
                yield text

            playout, interrupted = await self._play(handle, source())
            heard = playout.heard_text(playout.ended_at or s.now()) if interrupted else playout.full_text(text)
            if add_to_chat_ctx and heard:
                msg = ChatMessage(
                    role="assistant",
                    content=[heard],
                    id=s._ids("item"),
                    interrupted=interrupted,
                    created_at=playout.started_at if playout.started_at is not None else s.now(),
                )
                msg.metrics.update(_speaking_metrics(playout, s.now()))
                s._add_item(msg, self.agent, speech=handle)
        finally:
            handle._mark_done()
            if s.agent_state == "speaking":  # LiveKit: a say ends its own speaking, nothing else
                s._set_agent_state(self._idle_state())

    async def run_reply(
        self,
        handle: SpeechHandle,
        *,
        user_message: ChatMessage | None,
        instructions: str | None,
        tool_choice: Any,
        chat_ctx: ChatContext | None,
        preemptive: bool = False,
        hook_done: bool = False,
    ) -> None:
        """A reply: the user-turn hook (unless done), then the LLM steps.

        ``preemptive``: generated before the turn is committed; the user message joins the history
        only if the session reuses it at commit (it then adds it).
        """
        s = self.session
        agent = self.agent
        try:
            reply_ctx = (chat_ctx if chat_ctx is not None else agent._chat_ctx).copy()
            if user_message is not None:
                if preemptive:
                    reply_ctx.items.append(user_message)
                else:
                    if not hook_done:
                        try:
                            await agent.on_user_turn_completed(reply_ctx, user_message)
                        except StopResponse:
                            return
                    s._add_item(user_message, agent, reply_ctx=reply_ctx)
            await self._run_steps(
                handle, reply_ctx, instructions=instructions, tool_choice=tool_choice, user_message=user_message, preemptive=preemptive
            )
        finally:
            self._finish(handle)

    def _finish(self, handle: SpeechHandle) -> None:
        """A reply is done: with no other speech current or queued the agent is listening, or
        thinking while another reply's tools run (LiveKit's ``_on_pipeline_reply_done``); a queued
        reply already said "thinking"."""
        handle._mark_done()
        if (self.current is None or self.current.done()) and not any(not h.done() for _, _, h in self._queue):
            self.session._set_agent_state(self._idle_state())

    def _idle_state(self) -> ev.AgentState:
        """The agent's state when nothing plays: "thinking" while a reply waits for its tools."""
        return "thinking" if any(h._in_tools for h in self._handles) else "listening"

    def _llm_ctx(self, reply_ctx: ChatContext, instructions: str | None) -> ChatContext:
        # Handoffs are history, not prompt. Only the items new since the last step are looked at
        # (``_items_after``), not the whole history on every step.
        history = reply_ctx.items
        seen, kept = self._llm_items
        new = _items_after(history, seen)
        if new is None:
            new, kept = history, []
        kept = kept + [it for it in new if it.type != "agent_handoff"]
        self._llm_items = (list(history), kept)
        items: list[ChatItem] = [ChatMessage(role="system", content=[self.agent.instructions], id="instructions"), *kept]
        if instructions:
            items.append(ChatMessage(role="system", content=[instructions], id="reply_instructions"))
        return ChatContext(items)

    async def _run_steps(
        self,
        handle: SpeechHandle,
        reply_ctx: ChatContext,
        *,
        instructions: str | None,
        tool_choice: Any,
        user_message: ChatMessage | None,
        preemptive: bool = False,
    ) -> None:
        s = self.session
        agent = self.agent
        max_steps = s.options.max_tool_steps
        spoke = False  # a step of this reply was heard
        while True:
            tools = agent.tools + [t for t in s.tools if t.name not in {a.name for a in agent.tools}]
            gen = _Generation(s, handle, agent, self._llm_ctx(reply_ctx, instructions), tools, tool_choice)
            pipe = None
            if handle.num_steps == 1:
                if preemptive and s.options.preemptive_generation.preemptive_tts and agent.tts is not None:
                    pipe = _TTSPipe(self, handle, gen.text_stream())  # synthesize before the turn is even committed
                # LiveKit: once queued the reply says "thinking" (even behind another speech) and its
                # TTS starts; it plays when authorized and the user is silent.
                ready = await self._wait_authorized(handle, queued_only=True)
                if ready:
                    s._speech_state(handle, "thinking")
                    if pipe is None and agent.tts is not None:
                        pipe = _TTSPipe(self, handle, gen.text_stream())
                    ready = await self._wait_authorized(handle) and await self._wait_user_silent(handle)
                if not ready:
                    gen.task.cancel()
                    if pipe is not None:
                        await pipe.cancel()
                    await asyncio.gather(gen.task, return_exceptions=True)
                    return
            else:
                # A tool follow-up: its LLM and TTS start at once, then it waits for its turn in the
                # queue (behind speech its tools created) and, as any reply, for the user to be silent (§8).
                if agent.tts is not None:
                    pipe = _TTSPipe(self, handle, gen.text_stream())
                if not (await self._wait_authorized(handle) and await self._wait_user_silent(handle)):
                    gen.task.cancel()
                    if pipe is not None:
                        await pipe.cancel()
                    await asyncio.gather(gen.task, return_exceptions=True)
                    return
            started = s.now()  # LiveKit's reply_started_at: the step may play; its message's created_at
            handle._step_played.clear()
            # No tools offered, no executor: a step without tools costs one task less.
            executor = asyncio.get_running_loop().create_task(execute_tools(self, handle, gen, tools)) if tools else None
            playout, interrupted = await self._play(handle, gen.text_stream(), pipe)
            handle._step_played.set()
            handle._end_generation()
            if interrupted:
                gen.task.cancel()
            await asyncio.gather(gen.task, return_exceptions=True)
            if gen.error is not None:
                handle._set_error(gen.error)  # ``run()`` raises it, ``handle.exception()`` returns it (LiveKit)
            now = s.now()
            text = playout.heard_text(playout.ended_at or now) if interrupted else playout.full_text(gen.text)
            if text:
                msg = ChatMessage(
                    role="assistant",
                    content=[text],
                    id=s._ids("item"),
                    interrupted=interrupted,
                    # Kept as LiveKit keeps it, but marked: the answer broke off (a failed LLM or llm_node).
                    incomplete=gen.error is not None,
                    created_at=started,
                )
                msg.metrics.update(_speaking_metrics(playout, now))
                if gen.ttft >= 0:
                    msg.metrics["llm_node_ttft"] = rounded(gen.ttft)
                if user_message is not None and playout.started_at is not None and not spoke:
                    # From the user's end of speech (voice) or the message (text) to the agent's first
                    # sound: on the reply's first audible message, after any silent tool steps (LiveKit).
                    stopped = user_message.metrics.get("stopped_speaking_at", user_message.created_at)
                    msg.metrics["e2e_latency"] = rounded(playout.started_at - stopped)
                spoke = spoke or playout.started_at is not None
                s._add_item(msg, agent, speech=handle, reply_ctx=reply_ctx)
            if gen.calls and not interrupted:
                s._speech_state(handle, "thinking")
                # LiveKit runs the tools in the background: no speech is current until the follow-up
                # is scheduled, so the user's speech meanwhile pauses or interrupts nothing.
                handle._in_tools = True
                s._notify_engine()
            elif s.agent_state == "speaking":
                s._set_agent_state("listening")
            if executor is None and gen.calls:
                # A model that calls a tool it was not offered still gets an (error) output.
                executor = asyncio.get_running_loop().create_task(execute_tools(self, handle, gen, tools))
            try:
                results: list[_ToolResult] = await executor if executor is not None else []
            finally:
                if handle._in_tools:
                    handle._in_tools = False
                    s._notify_engine()
            if not results:
                return
            # Tools may have changed the agent's conversation (an AgentTask merges its messages back):
            # the follow-up must see that, as well as this reply's own context.
            known = {it.id for it in reply_ctx.items}
            reply_ctx.insert([it for it in agent._chat_ctx.items if it.id not in known])
            # Emitted before the results are committed, so handlers can cancel the reply or the handoff.
            tools_event = s._emit(
                ev.FunctionToolsExecutedEvent,
                function_calls=tuple(r.call for r in results),
                function_call_outputs=tuple(r.output for r in results),
                speech_id=handle.id,
            )
            # Placed by time, as LiveKit does: a call when its tool started, an output when it ended.
            for r in results:
                s._add_item(r.call, agent, speech=handle, reply_ctx=reply_ctx)
            for r in results:
                if r.output is not None:
                    s._add_item(r.output, agent, speech=handle, reply_ctx=reply_ctx)
            cancel_reply = tools_event is not None and tools_event.cancelled_reply
            handoffs = [r.handoff for r in results if r.handoff is not None]
            if len(handoffs) > 1:
                # As LiveKit: ambiguous, so no handoff at all.
                s._report_error(
                    RuntimeError(f"{len(handoffs)} tools returned an agent in one step; no handoff made"), source="tool", recoverable=True
                )
                handoffs = []
            if tools_event is not None and tools_event.cancelled_handoff:
                handoffs = []
            if handoffs and s._closing:
                logger.warning("handoff to %s skipped: the session is closing", handoffs[0].label)
            elif handoffs:
                s.update_agent(handoffs[0])
            # Interrupted during playout or while the tools ran: results are kept, no follow-up reply.
            # A step whose LLM failed ends the reply: the error is the speech's outcome.
            if interrupted or handle.interrupted or cancel_reply or gen.error is not None or not any(r.reply_required for r in results):
                return
            if tool_choice == "none" or handle.num_steps >= max_steps + 1 or handoffs:
                if handle.num_steps >= max_steps + 1:
                    logger.warning("maximum number of tool steps reached (max_tool_steps=%d); forcing a final reply", max_steps)
                    s._emit(ev.ToolStepLimitEvent, speech_id=handle.id, max_tool_steps=max_steps)
                tool_choice = "none"
            else:
                tool_choice = "auto"
            handle._num_steps += 1
            handle._next_step()
            self.schedule(handle)

    async def _play(self, handle: SpeechHandle, text: Any, pipe: _TTSPipe | None = None) -> tuple[_Playout, bool]:
        """Play a step's text (or its audio through ``tts_node``) until done or interrupted.

        ``pipe`` is a TTS already running (``preemptive_tts``); otherwise one starts now.
        """
        s = self.session
        playout = _Playout(handle.id, s._elapsed)  # the clock, not the session: no cycle back to it
        handle._playout = playout
        if handle._pause_requested:
            playout.pause()  # a user spoke while the reply was still thinking

        sink = s.output.transcription

        async def forward_text() -> None:
            async for chunk in text:
                if playout.started_at is None:
                    playout.started_at = s.now()
                    s._speech_state(handle, "speaking")
                playout.parts.append(chunk)
                if sink is not None:
                    await sink.capture_text(chunk)

        async def forward_audio(p: _TTSPipe) -> None:
            async for frame in p.frames():
                playout.frame_waiting = True
                await playout.wait_playing()
                playout.frame_waiting = False
                if playout.started_at is None:
                    playout.ttfb = p.ttfb
                    playout.started_at = s.now()
                    s._set_agent_state("speaking")
                playout.frame, playout.frame_played = frame, 0.0
                if sink is not None:
                    await sink.capture_text(frame.text)  # shown as the frame starts playing
                await playout.play_for(frame.duration, s)
                playout.frame = None

        if self.agent.tts is not None and pipe is None:
            pipe = _TTSPipe(self, handle, text)
        if pipe is not None:
            playout.transcript, playout.synced = pipe.transcript, s.output.sync_transcription
            playout.transcribed = pipe.transcribe is not None
        elif overrides(self.agent, "transcription_node"):
            # Without audio the text output is all there is: it shows (and the message keeps) the node's text.
            text = _transcribed(s, node_output(self.agent.transcription_node(text, ModelSettings())))
            playout.transcribed = True
        task = asyncio.get_running_loop().create_task(forward_audio(pipe) if pipe is not None else forward_text())
        try:
            finished = await handle._wait_if_not_interrupted(task)
        finally:
            if sink is not None and playout.started_at is not None:
                sink.flush()
        playout.ended_at = s.now()
        if not finished:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            if pipe is not None:
                await pipe.cancel()
            return playout, True
        if pipe is not None and pipe.node_task is not None:
            await asyncio.gather(pipe.node_task, return_exceptions=True)  # the transcript is complete
        exc = task.exception() or (pipe.error if pipe is not None else None)
        if exc is not None:
            s._report_error(exc, source="tts")
        return playout, False


async def switch_activity(session: AgentSession, agent: Agent) -> None:
    """A handoff: the current agent drains (``on_exit``, queued speech), then ``agent`` starts (``on_enter``)."""
    _in_tool.set(False)  # this task may have been started from a tool; on_enter's replies may use tools
    async with session._switch_lock:  # handoffs happen one after the other, in call order
        old = session._activity
        if old is not None:
            await old.drain()
            await old.aclose()
        if session._closing:
            return
        session._activate(agent, old=old)
    await agent.on_enter()


async def run_agent_task(session: AgentSession, task: AgentTask[Any]) -> Any:
    """Run ``task`` as the active agent until it completes; then resume the previous agent (``await task``)."""
    caller = session._activity
    if caller is None:
        raise RuntimeError(f"{task.label}: no agent is running")
    me = asyncio.current_task()
    speech = getattr(me, "_agentlab_speech", None)
    if speech is not None:
        speech.allow_interruptions = False  # LiveKit: a speech whose tool awaits a task cannot be interrupted
        call = getattr(me, "_agentlab_call", None)
        if call is not None and session._run_result is not None:
            session._run_result._record(call)  # the call that started the task comes before its handoff
    loop = asyncio.get_running_loop()
    task._future = loop.create_future()
    if task.done():  # completed before being awaited
        if isinstance(task._result, BaseException):
            task._future.set_exception(task._result)
        else:
            task._future.set_result(task._result)
    caller.pause()
    session._paused.append(caller)
    inner = _AgentActivity(session, task)
    session._activity = inner
    session._adopt(task)
    session._add_item(
        AgentHandoff(new_agent_id=task.id, old_agent_id=caller.agent.id, id=session._ids("item"), created_at=session.now()), task
    )
    inner.start()
    token = _in_tool.set(False)  # the task's on_enter is not part of the caller's tool call
    try:
        await task.on_enter()
        _in_tool.reset(token)
        # From here the task waits for the user: its caller (a tool's speech, or an on_enter) counts
        # as settled for runs and wait_for_idle. Not before on_enter, whose replies must be awaited.
        task._waiter = (me, speech)
        set_waiting(session, me, speech, True)
        result = await task._future
    finally:
        set_waiting(session, me, speech, False)
        if not session._closing:
            await inner.drain()
            await inner.aclose()
        if caller in session._paused:
            session._paused.remove(caller)
        if not session._closing:
            session._activity = caller
            # The caller sees what was said during the task, but not the task's tool plumbing.
            known = {it.id for it in caller.agent._chat_ctx.items}
            merged = task._chat_ctx.copy(
                exclude_function_call=not task.preserve_function_call_history, exclude_instructions=True, exclude_handoff=True
            )
            for item in merged.items:
                if item.id not in known:
                    caller.agent._chat_ctx.insert(item)
            session._add_item(
                AgentHandoff(new_agent_id=caller.agent.id, old_agent_id=task.id, id=session._ids("item"), created_at=session.now()),
                caller.agent,
            )
            caller.resume()
    return result
