"""``livekit.agents.voice``: the session, agents, speech handles and events.

Example::

    from agentlab.livekit.voice import AgentSession, SpeechHandle
"""

from __future__ import annotations

from ._table import module_getattr, names

__all__ = list(names()["livekit.agents.voice"])
__getattr__ = module_getattr("livekit.agents.voice")
