"""Components that stand in for cloud models while agentlab runs an agent file offline.

An agent file names its models the LiveKit way: ``inference.LLM("openai/gpt-4.1-mini")`` or the
string ``"openai/gpt-4.1-mini"``. When agentlab runs the file itself (``agentlab console FILE``,
:class:`agentlab.livekit.AgentFile`) with no key for that provider, it substitutes offline
components for them inside :func:`offline_components`: those model names then build these instead.

Example::

    with offline_components(llm=ScriptedLLM(default="Hi!"), tts=None):
        ctx = await server.start_job()      # the file's AgentSession gets the scripted LLM
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Callable, Iterator
from typing import Any

__all__ = [
    "NOT_OVERRIDDEN",
    "components_override",
    "named_components",
    "offline_components",
    "offline_stt",
    "offline_tts",
    "offline_vad",
    "override",
]

#: What :func:`override` returns when nothing stands in for that kind of component.
NOT_OVERRIDDEN: Any = object()

_KINDS = ("llm", "stt", "tts", "vad")
_overrides: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar("agentlab_offline_components", default=None)


@contextlib.contextmanager
def offline_components(**components: Any) -> Iterator[None]:
    """Inside the block, cloud model names (``inference.*``, ``"provider/model"`` strings) build these.

    Keywords: ``llm``, ``stt``, ``tts``, ``vad`` (``None`` means "no such component").
    """
    unknown = set(components) - set(_KINDS)
    if unknown:
        raise TypeError(f"offline_components: unknown component(s) {sorted(unknown)}; expected {', '.join(_KINDS)}")
    token = _overrides.set({**(_overrides.get() or {}), **components})
    try:
        yield
    finally:
        _overrides.reset(token)


#: Where the stand-ins come from outside an ``offline_components`` block: the running agent-file
#: job's (set by :mod:`agentlab.livekit`, so a handoff built later in a notebook cell gets them too).
def _no_job() -> dict[str, Any] | None:
    return None


job_components: Callable[[], dict[str, Any] | None] = _no_job


def override(kind: str) -> Any:
    """The component standing in for ``kind`` here, or :data:`NOT_OVERRIDDEN`."""
    return (_overrides.get() or job_components() or {}).get(kind, NOT_OVERRIDDEN)


def components_override() -> dict[str, Any]:
    """The stand-ins in force here (a copy), to keep for later."""
    return dict(_overrides.get() or {})


def named_components(*, llm: Any = None, stt: Any = None, tts: Any = None) -> tuple[Any, Any, Any]:
    """Components for LiveKit's model names; anything else passes through (checked where it is used).

    ``llm="openai/gpt-4.1-mini"`` is the OpenAI adapter, or the stand-in when one is in force;
    ``stt``/``tts`` ``"provider/model[:voice]"`` strings are :func:`offline_stt` / :func:`offline_tts`
    (a bare string such as ``"alloy"`` is not a model name and passes through, to be refused).

    Example::

        llm, stt, tts = named_components(llm="openai/gpt-4.1-mini", tts="cartesia/sonic-3")
    """
    if isinstance(llm, str):
        chosen = override("llm")
        if chosen is NOT_OVERRIDDEN:
            from .openai import llm_from_string

            chosen = llm_from_string(llm)
        llm = chosen
    if isinstance(stt, str) and "/" in stt:
        stt = offline_stt()
    if isinstance(tts, str) and "/" in tts:
        tts = offline_tts()
    return llm, stt, tts


def offline_stt() -> Any:
    """The STT for a cloud STT model: the stand-in, else ``None`` (the simulation's own transcripts)."""
    chosen = override("stt")
    return None if chosen is NOT_OVERRIDDEN else chosen


def offline_tts() -> Any:
    """The TTS for a cloud TTS model: the stand-in, else a :class:`~agentlab.ScriptedTTS`."""
    chosen = override("tts")
    if chosen is not NOT_OVERRIDDEN:
        return chosen
    from .tts import ScriptedTTS

    return ScriptedTTS()


def offline_vad() -> Any:
    """The VAD for a cloud VAD model: the stand-in, else ``None`` (the session's own VAD)."""
    chosen = override("vad")
    return None if chosen is NOT_OVERRIDDEN else chosen
