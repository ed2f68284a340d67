"""LiveKit names agentlab does not implement, as stand-ins that import but fail when used.

A LiveKit agent file imports many names it may never touch on a given path (``AMD`` for
answering-machine detection, ``RealtimeModel``, ``BackgroundAudioPlayer``...). So that the file
loads, each such name is a *stand-in*: a class (so it can still be subclassed, annotated with or
used in ``isinstance``) whose construction, and any attribute it lacks, raises
:class:`Unsupported` with the reason and what to do instead. A whole module can be a stand-in
too: its attributes are stand-ins. ``agentlab/livekit/_table.py`` lists every stand-in with its
reason; ``docs/livekit-compatibility.md`` shows the list.
"""

from __future__ import annotations

import types
from typing import Any, NoReturn

__all__ = ["Unsupported", "fail", "is_stand_in", "stand_in", "stand_in_module"]

#: Why most stand-ins exist: said once, appended to each message.
_ADVICE = (
    "agentlab runs agents without a LiveKit server: keep your Agent classes and AgentSession options, and run "
    "them with `agentlab console your_agent.py`, agentlab.simulate(...) or a ChatWidget in a notebook."
)


class Unsupported(NotImplementedError):
    """A LiveKit feature agentlab does not run (it needs a LiveKit server, a room, or a cloud model)."""


def fail(name: str, reason: str = "it needs a LiveKit server") -> NoReturn:
    """Raise :class:`Unsupported` for LiveKit's ``name``.

    Example::

        fail("RoomIO", "it publishes tracks to a LiveKit room")
    """
    raise Unsupported(f"livekit.agents {name} is not supported by agentlab: {reason}. {_ADVICE}")


class _UnsupportedAttribute(Unsupported, AttributeError):
    """A stand-in's attribute: ``Unsupported``, and an ``AttributeError`` so ``hasattr`` and
    ``getattr(x, name, default)`` answer as for any missing attribute."""


class _StandInType(type):
    """The metaclass of stand-ins: a missing class attribute raises :class:`Unsupported` with the reason."""

    def __getattr__(cls, attr: str) -> Any:
        if attr.startswith("__"):
            raise AttributeError(attr)
        raise _UnsupportedAttribute(f"livekit.agents {cls._lk_name}.{attr} is not supported by agentlab: {cls._lk_reason}. {_ADVICE}")

    def __repr__(cls) -> str:
        return f"<stand-in for livekit.agents {cls._lk_name}: {cls._lk_reason}>"


def _refuse(cls: type, *args: Any, **kwargs: Any) -> NoReturn:
    fail(cls._lk_name, cls._lk_reason)


def stand_in(name: str, reason: str) -> type:
    """A class standing in for LiveKit's ``name``: importable, subclassable; constructing it raises.

    Example::

        AMD = stand_in("AMD", "answering-machine detection needs a phone call")
        AMD()        # raises Unsupported
    """
    short = name.rsplit(".", 1)[-1]
    return _StandInType(short, (), {"_lk_name": name, "_lk_reason": reason, "__new__": _refuse, "__doc__": f"Stand-in: {reason}."})


class _StandInModule(types.ModuleType):
    def __getattr__(self, attr: str) -> Any:
        if attr.startswith("__"):
            raise AttributeError(attr)
        return stand_in(f"{self._lk_name}.{attr}", self._lk_reason)


def stand_in_module(name: str, reason: str) -> types.ModuleType:
    """A module standing in for LiveKit's ``name``: every attribute is a :func:`stand_in`.

    Example::

        ipc = stand_in_module("ipc", "job processes belong to a LiveKit worker")
        ipc.ProcPool()   # raises Unsupported
    """
    module = _StandInModule(f"agentlab.livekit.{name}", f"Stand-in: {reason}.")
    module._lk_name = name
    module._lk_reason = reason
    return module


def is_stand_in(value: Any) -> bool:
    """True for a :func:`stand_in` class or a :func:`stand_in_module`."""
    return isinstance(value, (_StandInType, _StandInModule))


# LiveKit's server names that `agentlab` itself also gives (the older `livekit.agents` → `agentlab` form).
SERVER_NAMES = (
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


def server_name(name: str) -> Any:
    """``agentlab.<name>`` for one of :data:`SERVER_NAMES`: the one in :mod:`agentlab.livekit`."""
    import agentlab.livekit

    return getattr(agentlab.livekit, name)
