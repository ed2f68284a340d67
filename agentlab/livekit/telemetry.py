"""``livekit.agents.telemetry``: tracing setup, accepted offline; nothing is exported.

agentlab's record of a run is its events and metrics frames; OpenTelemetry spans are not emitted.
"""

from __future__ import annotations

from typing import Any

from .._unsupported import stand_in

__all__ = ["set_tracer_provider"]


def set_tracer_provider(tracer_provider: Any, *, metadata: dict[str, Any] | None = None) -> None:
    """Accepted and ignored: agentlab emits no spans (read ``session.events_frame()``)."""


def __getattr__(name: str) -> Any:
    if name.startswith("__"):
        raise AttributeError(name)
    return stand_in(f"telemetry.{name}", "OpenTelemetry tracing is not exported")
