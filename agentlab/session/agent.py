"""Agent and AgentTask: what the agent is (instructions, tools, components) and its hooks.

Written the LiveKit way: subclass :class:`Agent`, declare tools as ``@function_tool`` methods,
override ``on_enter`` / ``on_exit`` / ``on_user_turn_completed`` or the ``llm_node`` / ``tts_node``
pipeline steps. An :class:`AgentTask` is an agent you ``await`` from a tool or ``on_enter``; it runs
as the active agent until it calls :meth:`AgentTask.complete`.

Example::

    class Host(Agent):
        def __init__(self):
            super().__init__(instructions="You book tables at Chez Lab.")

        async def on_enter(self):
            self.session.generate_reply(instructions="Greet the guest.")

        @function_tool
        async def check_availability(self, party_size: int, time: str) -> str:
            \"\"\"Is a table free?\"\"\"
            return "free"
"""

from __future__ import annotations

import asyncio
import contextvars
import inspect
import logging
import re
from collections.abc import AsyncIterable, AsyncIterator
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from .._frozen import frozen
from .._utils import NOT_GIVEN, is_given
from ..chat import ChatContext, ChatMessage
from ..models.llm import LLM, ChatChunk, ToolChoice
from ..models.offline import named_components
from ..tools import FunctionTool, find_function_tools, flatten_tools
from .run_result import set_waiting

if TYPE_CHECKING:
    from ..models.tts import TTS, AudioFrame
    from .session import AgentSession

__all__ = ["Agent", "AgentTask", "ModelSettings"]

logger = logging.getLogger("agentlab.session")

T = TypeVar("T")

#: The session whose task is running (set in every task a session starts).
_current_session: contextvars.ContextVar[AgentSession | None] = contextvars.ContextVar("agentlab_session", default=None)


@frozen
class ModelSettings:
    """Settings for one pipeline call (LiveKit's ``ModelSettings``)."""

    tool_choice: ToolChoice | None = None


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


class Agent:
    """An agent: instructions, tools, optional component overrides and hooks.

    ``llm``/``tts``/``stt``/``vad`` override the session's; ``turn_handling`` overrides the
    session's options per key (see ``SessionOptions.replace``). ``allow_interruptions`` sets the
    default for this agent's speeches.

    Example::

        agent = Agent(instructions="Be brief.", tools=[lookup_weather])
    """

    def __init__(
        self,
        *,
        instructions: str,
        chat_ctx: ChatContext | None = None,
        tools: list[FunctionTool] | None = None,
        llm: LLM | str | None = NOT_GIVEN,
        tts: TTS | None = NOT_GIVEN,
        stt: Any = NOT_GIVEN,
        vad: Any = NOT_GIVEN,
        turn_handling: dict[str, Any] | None = NOT_GIVEN,
        allow_interruptions: bool = NOT_GIVEN,
        min_consecutive_speech_delay: float = NOT_GIVEN,
        id: str | None = None,
        turn_detection: Any = NOT_GIVEN,
        min_endpointing_delay: float = NOT_GIVEN,
        max_endpointing_delay: float = NOT_GIVEN,
        use_tts_aligned_transcript: Any = NOT_GIVEN,
        tool_handling: Any = NOT_GIVEN,
        expressive: Any = NOT_GIVEN,
        mcp_servers: Any = NOT_GIVEN,
    ) -> None:
        if not isinstance(instructions, str):
            raise TypeError(f"Agent: instructions must be a string, got {type(instructions).__name__}")
        from .options import fold_flat_keywords, warn_ignored

        warn_ignored(
            "Agent",
            use_tts_aligned_transcript=use_tts_aligned_transcript,
            tool_handling=tool_handling,
            expressive=expressive,
            mcp_servers=mcp_servers,
        )
        flat = {
            "turn_detection": turn_detection,
            "min_endpointing_delay": min_endpointing_delay,
            "max_endpointing_delay": max_endpointing_delay,
        }
        flat = {k: v for k, v in flat.items() if is_given(v)}
        if flat:  # LiveKit's older per-agent keywords, folded into the agent's turn_handling
            turn_handling = fold_flat_keywords(flat, into=turn_handling if is_given(turn_handling) else None)
        self._instructions = instructions
        own = flatten_tools(tools, owner="Agent")
        declared = find_function_tools(self)
        names = [t.name for t in declared + own]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ValueError(f"Agent {type(self).__name__}: duplicate tool name(s) {dup}")
        self._tools = declared + own
        # LiveKit copies a given context keeping only the calls of this agent's own tools
        self._chat_ctx = chat_ctx.copy(tools=self._tools) if chat_ctx is not None else ChatContext()
        llm, stt, tts = named_components(llm=llm, stt=stt, tts=tts)  # LiveKit's model names
        self._llm = llm
        self._tts = tts
        self._stt = stt
        self._vad = vad
        self._turn_handling = turn_handling
        self._allow_interruptions = allow_interruptions
        self._min_consecutive_speech_delay = min_consecutive_speech_delay
        # LiveKit: a plain Agent is always "default_agent"; a subclass is id= or its class name in snake case
        self._id = "default_agent" if type(self) is Agent else (id or _snake(type(self).__name__))
        self._session: AgentSession | None = None

    @property
    def id(self) -> str:
        """``id=``, else the class name in snake case (``Weather`` → ``"weather"``); ``"default_agent"`` for a plain Agent."""
        return self._id

    @property
    def label(self) -> str:
        """The same as :attr:`id`, as in LiveKit."""
        return self._id

    @property
    def instructions(self) -> str:
        """The system prompt."""
        return self._instructions

    @property
    def tools(self) -> list[FunctionTool]:
        """Tools declared on the class plus those passed in (the session's are added at call time)."""
        return list(self._tools)

    @property
    def chat_ctx(self) -> ChatContext:
        """This agent's own conversation (a copy; use :meth:`update_chat_ctx` to change it)."""
        return self._chat_ctx.copy()

    @property
    def llm(self) -> LLM | None:
        """The LLM this agent uses (its own, else the session's)."""
        if is_given(self._llm) and self._llm is not None:
            return self._llm
        return self._session.llm if self._session else None

    @property
    def tts(self) -> TTS | None:
        """The TTS this agent uses (its own, else the session's), or ``None`` for text output."""
        if is_given(self._tts):
            return self._tts
        return self._session.tts if self._session else None

    @property
    def session(self) -> AgentSession:
        """The session running this agent; raises if it is not running."""
        if self._session is None:
            raise RuntimeError(f"Agent {self.label} is not running in a session (start it with session.start(agent))")
        return self._session

    async def update_instructions(self, instructions: str) -> None:
        """Change the system prompt for the following LLM calls."""
        self._instructions = instructions

    async def update_tools(self, tools: list[FunctionTool]) -> None:
        """Replace this agent's tools."""
        self._tools = flatten_tools(tools, owner="Agent.update_tools")

    async def update_chat_ctx(self, chat_ctx: ChatContext, *, exclude_invalid_function_calls: bool = True) -> None:
        """Replace this agent's conversation; by default without calls of tools it does not have
        (and their outputs), as LiveKit does. Messages and handoffs stay."""
        self._chat_ctx = chat_ctx.copy(tools=self._tools) if exclude_invalid_function_calls else chat_ctx.copy()

    def update_options(
        self, *, llm: Any = NOT_GIVEN, tts: Any = NOT_GIVEN, stt: Any = NOT_GIVEN, vad: Any = NOT_GIVEN, expressive: Any = NOT_GIVEN
    ) -> None:
        """Change this agent's components (``None`` falls back to the session's)."""
        from .options import warn_ignored

        warn_ignored("Agent.update_options", expressive=expressive)
        llm, stt, tts = named_components(llm=llm, stt=stt, tts=tts)
        for name, value in (("_llm", llm), ("_tts", tts), ("_stt", stt), ("_vad", vad)):
            if is_given(value):
                setattr(self, name, value)

    # --- hooks ---

    async def on_enter(self) -> None:
        """Called when the agent becomes active (after ``start`` or a handoff)."""

    async def on_exit(self) -> None:
        """Called when another agent takes over or the session closes."""

    async def on_user_turn_completed(self, turn_ctx: ChatContext, new_message: ChatMessage) -> None:
        """Called with the committed user message before the reply; raise ``StopResponse`` to skip it.

        ``turn_ctx`` is a temporary copy used for this reply only; ``new_message`` may be edited.
        """

    async def on_user_turn_exceeded(self, ev: Any) -> None:
        """The user spoke past ``turn_handling["user_turn_limit"]`` without an answer
        (a :class:`~agentlab.session.events.UserTurnExceededEvent`). The default, as in LiveKit, cuts
        in: an uninterruptible reply to the current turn, without tools. Override to say something
        canned, or nothing.
        """
        await self.session.generate_reply(
            user_input=ev.transcript,
            instructions=(
                "The user has been talking for a long time without a pause for you to answer. "
                "Cut in politely with a brief reply; keep it short, as the user cannot interrupt it."
            ),
            allow_interruptions=False,
            tool_choice="none",
        )

    # --- pipeline nodes ---

    def llm_node(self, chat_ctx: ChatContext, tools: list[FunctionTool], model_settings: ModelSettings) -> AsyncIterable[str | ChatChunk]:
        """Produce the reply: yields text or :class:`ChatChunk`. Override to post-process.

        Example::

            async def llm_node(self, chat_ctx, tools, model_settings):
                async for chunk in Agent.default.llm_node(self, chat_ctx, tools, model_settings):
                    yield chunk
        """
        return Agent.default.llm_node(self, chat_ctx, tools, model_settings)

    def tts_node(self, text: AsyncIterable[str], model_settings: ModelSettings) -> AsyncIterable[AudioFrame]:
        """Turn the reply text into audio frames. Override to change pronunciation or pacing."""
        return Agent.default.tts_node(self, text, model_settings)

    def transcription_node(self, text: AsyncIterable[str], model_settings: ModelSettings) -> AsyncIterable[str] | None:
        """The text shown to the user and stored in the assistant message (the TTS still gets the
        LLM's text). Override to redact or reformat; returning ``None`` stores nothing (LiveKit).

        Example::

            async def transcription_node(self, text, model_settings):
                async for chunk in text:
                    yield chunk.replace("secret", "[redacted]")
        """
        return Agent.default.transcription_node(self, text, model_settings)

    class default:
        """The built-in node implementations, callable from overrides."""

        # These return the component's own stream rather than re-yielding it: every layer of async
        # generator costs time per token, and overrides iterate the result the same way.

        @staticmethod
        def llm_node(
            agent: Agent, chat_ctx: ChatContext, tools: list[FunctionTool], model_settings: ModelSettings
        ) -> AsyncIterator[ChatChunk]:
            llm = agent.llm
            if llm is None:
                raise RuntimeError(f"Agent {agent.label}: no LLM configured (pass llm= to AgentSession or Agent)")
            return llm.chat(chat_ctx=chat_ctx, tools=tools, tool_choice=model_settings.tool_choice)

        @staticmethod
        def transcription_node(agent: Agent, text: AsyncIterable[str], model_settings: ModelSettings) -> AsyncIterable[str]:
            return text

        @staticmethod
        def tts_node(agent: Agent, text: AsyncIterable[str], model_settings: ModelSettings) -> AsyncIterator[AudioFrame]:
            tts = agent.tts
            if tts is None:
                raise RuntimeError(f"Agent {agent.label}: tts_node called without a TTS")
            return tts.stream(text)

    def __repr__(self) -> str:
        return f"{self.label}(id={self._id!r}, tools={[t.name for t in self._tools]})"


class AgentTask(Agent, Generic[T]):
    """An agent awaited inline: ``result = await CollectEmail()`` from a tool or ``on_enter``.

    While it runs it is the active agent; the caller is paused. :meth:`complete` ends it and
    resumes the caller with the result; its conversation (without function calls) is merged into
    the caller's.

    Example::

        class AskName(AgentTask[str]):
            def __init__(self):
                super().__init__(instructions="Ask for the guest's name.")

            @function_tool
            async def record_name(self, name: str) -> None:
                self.complete(name)
    """

    def __init__(self, *args: Any, preserve_function_call_history: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        #: Merge the task's function calls and outputs back into the caller's context too (LiveKit).
        self.preserve_function_call_history = preserve_function_call_history
        self._future: asyncio.Future[T] | None = None
        self._result: Any = NOT_GIVEN
        self._waiter: tuple[Any, Any] | None = None  # (caller task, caller speech) while awaited

    def done(self) -> bool:
        """True once :meth:`complete` was called (a method, as in LiveKit)."""
        return is_given(self._result)

    def complete(self, result: T | BaseException) -> None:
        """Finish the task; an exception is raised in the awaiting caller."""
        if self.done():
            raise RuntimeError(f"{type(self).__name__} is already done")
        self._result = result
        run = self._session._run_result if self._session is not None else None
        if run is not None and not isinstance(result, BaseException):
            run._final_output = result  # LiveKit: the run's final output
        if self._session is not None and self._waiter is not None:
            # The caller is about to resume: from now on runs and wait_for_idle must wait for it.
            set_waiting(self._session, *self._waiter, False)
        if self._future is not None and not self._future.done():
            if isinstance(result, BaseException):
                self._future.set_exception(result)
            else:
                self._future.set_result(result)

    def __await__(self) -> Any:
        session = _current_session.get()
        if session is None:
            raise RuntimeError(f"{self.label} must be awaited inside a running session (from a tool or on_enter)")
        return session._run_agent_task(self).__await__()


def overrides(agent: Agent, node: str) -> bool:
    """True when ``agent``'s class overrides the node method ``node`` (so it must be called)."""
    return getattr(type(agent), node) is not getattr(Agent, node)


async def node_output(result: Any, *, items: tuple[type, ...] = (str,), ignored: tuple[type, ...] = ()) -> AsyncIterator[Any]:
    """What a node returned, in every shape LiveKit accepts (reference §20.4): an async iterable, a
    coroutine of one, a whole string, or ``None`` (nothing). From the iterable, ``items`` are kept;
    ``ignored`` types are skipped silently, also as the whole result (LiveKit ignores a coroutine
    that returns one ``ChatChunk``); anything else is skipped with a warning.

    Example::

        async for text in node_output(agent.transcription_node(text, ModelSettings())): ...
    """
    if inspect.isawaitable(result):
        result = await result
    if result is None or isinstance(result, ignored):
        return
    if isinstance(result, str):
        yield result
        return
    async for item in result:
        if isinstance(item, items):
            yield item
        elif not isinstance(item, ignored):
            logger.warning("a node yielded a %s; only %s are used", type(item).__name__, ", ".join(t.__name__ for t in items))
