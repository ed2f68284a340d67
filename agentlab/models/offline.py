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

__all__ = ["NOT_OVERRIDDEN", "components_override", "offline_components", "override"]

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
