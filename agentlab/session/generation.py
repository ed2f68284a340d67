"""One LLM step of a reply: the generation streaming in the background.

A reply runs in *steps* (:mod:`agentlab.session.activity`); each step starts a :class:`_Generation`
at once, so the LLM runs while the speech still waits in the queue, as in LiveKit. The generation
streams ``Agent.llm_node``: its text goes to a channel the playout (or the TTS pipe) reads, its tool
calls to a channel the tool runner reads (:mod:`agentlab.session.tool_calls`). It records the time
to first token, keeps the whole text (the message stored when the step played to the end), and
emits the step's ``LLMMetrics`` when the stream ends, however it ends (done, cancelled by an
interruption, failed). A failed attempt the LLM retries drops its text, so the reply is not said
twice.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import TYPE_CHECKING, Any

from ..chat import ChatContext, FunctionCall
from ..models.llm import APIError, ChatChunk, FlushSentinel, error_observer, retry_observer
from ..tools import FunctionTool
from . import events as ev
from .agent import Agent, ModelSettings, node_output
from .speech import SpeechHandle, _Channel

if TYPE_CHECKING:
    from .session import AgentSession

logger = logging.getLogger("agentlab.session")


class _Generation:
    """One LLM step streaming in the background: text to a queue, tool calls to another."""

    def __init__(
        self, session: AgentSession, handle: SpeechHandle, agent: Agent, chat_ctx: ChatContext, tools: list[FunctionTool], tool_choice: Any
    ) -> None:
        self.session = session
        self.handle = handle
        self.text_queue: _Channel[str] = _Channel()
        self.tool_queue: _Channel[FunctionCall] = _Channel()
        self.text = ""
        self.calls: list[FunctionCall] = []
        self.error: BaseException | None = None
        #: The error was reported by the LLM (``error_observer``); one from node code never is (LiveKit).
        self._reported = False
        self.ttft = -1.0
        self.tool_choice = tool_choice
        self.task = asyncio.get_running_loop().create_task(self._run(agent, chat_ctx, tools))

    async def _run(self, agent: Agent, chat_ctx: ChatContext, tools: list[FunctionTool]) -> None:
        s = self.session
        start = s.now()
        request_id = s._ids("llm_req")
        usage = None
        cancelled = False
        retry_observer.set(s._retry_reporter("llm"))  # this task's own context: only this request's retries
        error_observer.set(self._on_llm_error)
        try:
            stream = agent.llm_node(chat_ctx, tools, ModelSettings(tool_choice=self.tool_choice))
            if not hasattr(stream, "__aiter__"):  # a coroutine, a string or nothing: the rarer shapes
                stream = node_output(stream, items=(str, ChatChunk), ignored=(ChatChunk, FlushSentinel))
            async for chunk in stream:  # the stream itself, not a wrapper: a layer per token costs
                if type(chunk) is ChatChunk or isinstance(chunk, ChatChunk):  # what LLMs yield, first
                    delta = chunk.delta
                    text, calls = (delta.content or "", delta.tool_calls) if delta is not None else ("", ())
                    if chunk.usage is not None:
                        usage = chunk.usage
                elif isinstance(chunk, str):
                    text, calls = chunk, ()
                else:
                    if not isinstance(chunk, FlushSentinel):
                        logger.warning("llm_node yielded a %s; only text and ChatChunk are used", type(chunk).__name__)
                    continue
                if (text or calls) and self.ttft < 0:
                    self.ttft = s.now() - start
                if text:
                    self.text += text
                    self.text_queue.put_nowait(text)
                for call in calls:
                    if self.tool_choice == "none":
                        continue  # LiveKit ignores tool calls made under tool_choice="none"
                    fc = FunctionCall(call_id=call.call_id or s._ids("call"), name=call.name, arguments=call.arguments, id=s._ids("item"))
                    self.calls.append(fc)
                    self.tool_queue.put_nowait(fc)
            if usage is not None or self.text or self.calls:
                s._error_streaks.pop("llm", None)
        except asyncio.CancelledError:
            cancelled = True
            raise
        except Exception as exc:
            self.error = exc
        finally:
            # The task's context would keep this generation (a cycle through the task) and with it the session.
            error_observer.set(None)
            self.text_queue.put_nowait(None)
            self.tool_queue.put_nowait(None)
            duration = s.now() - start
            llm = agent.llm
            completion = usage.completion_tokens if usage else 0
            tc = self.tool_choice if isinstance(self.tool_choice, str) or self.tool_choice is None else json.dumps(self.tool_choice)
            s._emit(
                ev.MetricsCollectedEvent,
                metrics=ev.LLMMetrics(
                    label=getattr(llm, "label", type(llm).__name__),
                    request_id=request_id,
                    timestamp=s.now(),
                    duration=duration,
                    ttft=self.ttft,
                    cancelled=cancelled,
                    completion_tokens=completion,
                    prompt_tokens=usage.prompt_tokens if usage else 0,
                    prompt_cached_tokens=usage.prompt_cached_tokens if usage else 0,
                    total_tokens=usage.total_tokens if usage else 0,
                    tokens_per_second=completion / duration if duration > 0 else 0.0,
                    speech_id=self.handle.id,
                    model=getattr(llm, "model", "unknown"),
                    provider=getattr(llm, "provider", "unknown"),
                    tool_choice=tc,
                ),
            )
            if isinstance(self.error, APIError) and not self._reported:
                # An LLM that bypasses ``LLM.chat()``'s reporting still fails loudly.
                s._report_error(self.error, source="llm")

    def _on_llm_error(self, error: BaseException, recoverable: bool) -> None:
        """The LLM reports a failed attempt: an ``error`` event; before a retry, the failed
        attempt's text is dropped, so the reply is not "Hello worHello world." (LiveKit keeps it)."""
        if not recoverable:
            self._reported = True
        elif self.text:
            self.text = ""
        self.session._report_error(error, source="llm", recoverable=recoverable)

    def text_stream(self) -> _Channel[str]:
        """The step's text: async-iterable once; the TTS pipe may take it pushed instead (playout.py)."""
        return self.text_queue
