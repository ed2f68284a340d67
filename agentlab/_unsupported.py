"""LiveKit names agentlab does not implement (rooms, workers, RTC, cloud inference), as clear errors.

``from agentlab import JobContext`` works, so a LiveKit module imports unchanged; *using* one of
these raises :class:`Unsupported` saying what to do instead. The list is in
``docs/livekit-compatibility.md``.
"""

from __future__ import annotations

from typing import Any, NoReturn

#: LiveKit names that need a LiveKit server, room or worker.
UNSUPPORTED = (
    "AgentServer",
    "JobContext",
    "JobProcess",
    "JobRequest",
    "RoomInputOptions",
    "RoomOutputOptions",
    "RoomOptions",
    "WorkerOptions",
    "room_io",
)

_ADVICE = (
    "agentlab runs agents without a LiveKit server: there are no rooms, workers or RTC. Keep your Agent "
    "classes and AgentSession options, and run them with agentlab.simulate(...), a ChatWidget in a notebook, "
    "or `agentlab console your_agent.py`."
)


class Unsupported(NotImplementedError):
    """A LiveKit feature that needs a LiveKit server (rooms, workers, RTC, cloud inference)."""


def fail(name: str) -> NoReturn:
    """Raise :class:`Unsupported` for LiveKit's ``name`` (also ``agentlab.cli.run_app``)."""
    _fail(name)


def _fail(name: str) -> NoReturn:
    raise Unsupported(f"livekit.agents.{name} is not supported by agentlab. {_ADVICE}")


class _Stub:
    """Stands in for an unsupported LiveKit class or module: importing works, using it raises."""

    def __init__(self, name: str) -> None:
        self._name = name

    def __call__(self, *args: Any, **kwargs: Any) -> NoReturn:
        _fail(self._name)

    def __getattr__(self, attr: str) -> Any:
        if attr.startswith("__"):
            raise AttributeError(attr)
        return _Stub(f"{self._name}.{attr}")

    def __repr__(self) -> str:
        return f"<unsupported livekit.agents.{self._name}>"


def stub(name: str) -> Any:
    """The stand-in for ``name`` (one of :data:`UNSUPPORTED`)."""
    return _Stub(name)
