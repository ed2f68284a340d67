"""``livekit.agents.beta.workflows``: LiveKit's prebuilt tasks, as stand-ins (write them as AgentTasks)."""

from __future__ import annotations

from .._table import module_getattr, names

__all__ = list(names()["livekit.agents.beta.workflows"])
__getattr__ = module_getattr("livekit.agents.beta.workflows")
