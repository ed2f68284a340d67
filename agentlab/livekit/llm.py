"""``livekit.agents.llm``: chat context, LLM types and tools (real), realtime models (stand-ins).

Example::

    from agentlab.livekit.llm import ChatContext, function_tool   # was: from livekit.agents.llm import ...
"""

from __future__ import annotations

from ._table import module_getattr, names

__all__ = list(names()["livekit.agents.llm"])
__getattr__ = module_getattr("livekit.agents.llm")
