"""A LiveKit agent file, loaded and run offline: its server, its entrypoint, its session.

:func:`load_agent_file` imports the file with ``livekit.agents`` read as ``agentlab.livekit`` (the
import hook, so sibling modules it imports are read the same way) and finds what LiveKit's own
runner would: the ``AgentServer`` (a global named ``app``, ``server`` or ``agent``, else the only
one), or a module-level ``entrypoint`` function for files written with ``WorkerOptions``
(with ``prewarm`` as its setup function). A file with neither can still be run by its Agent class.

:meth:`AgentFile.start` runs one job: the file's entrypoint builds *its* ``AgentSession``, with
its options, userdata and event handlers, and starts it. The console, ``simulate`` and notebooks
all go through here.
"""

from __future__ import annotations

import importlib.util
import inspect
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..models.offline import offline_components
from ..session.agent import Agent, AgentTask
from ._hook import livekit_imports
from ._server import AgentServer, JobContext, WorkerOptions

__all__ = ["AgentFile", "AgentFileError", "agent_classes", "load_agent_file"]

_SERVER_NAMES = ("app", "server", "agent")


class AgentFileError(Exception):
    """The agent file cannot be loaded or run (the message names the file and what to change)."""


class AgentFile:
    """An agent file loaded offline. ``server`` runs its entrypoint; ``agent_classes`` are its Agents.

    Example::

        app = load_agent_file("basic_agent.py")
        ctx = await app.start(llm=ScriptedLLM(default="Hello!"))
        result = await ctx.primary_session.run(user_input="What's the weather in Paris?")
        await ctx.aclose()
    """

    def __init__(self, path: Path, module: Any | None, server: AgentServer | None) -> None:
        self.path = path
        self.module = module
        self.server = server

    @property
    def agent_classes(self) -> list[type[Agent]]:
        """The Agent subclasses the file defines, in order (AgentTasks excluded)."""
        return agent_classes(self.module) if self.module is not None else []

    async def start(
        self, *, room_name: str = "console-room", metadata: str = "", on_session: Callable[[Any], None] | None = None, **components: Any
    ) -> JobContext:
        """Run the file's entrypoint as one job; ``ctx.primary_session`` is the session it started.

        ``components`` (``llm=``, ``stt=``, ``tts=``, ``vad=``) stand in for the cloud models the
        file names (``inference.LLM(...)``, ``"openai/..."`` strings) while the entrypoint runs.
        ``on_session(session)`` is called as the session starts, before its agent's ``on_enter``
        (to attach outputs and handlers that must see the greeting).
        """
        if self.server is None:
            raise AgentFileError(f"{self.path}: has no AgentServer and no entrypoint function to run")
        with offline_components(**components):
            try:
                ctx = await self.server.start_job(room_name=room_name, metadata=metadata, on_session=on_session)
            except Exception as e:
                raise AgentFileError(f"{self.path}: its entrypoint failed: {type(e).__name__}: {e}") from e
        if ctx._primary_session is None:
            await ctx.aclose()
            raise AgentFileError(f"{self.path}: its entrypoint returned without starting an AgentSession (call session.start(agent=...))")
        return ctx

    def __repr__(self) -> str:
        return f"AgentFile({str(self.path)!r}, server={self.server!r}, agents={[c.__name__ for c in self.agent_classes]})"


def agent_classes(module: Any, *, tasks: bool = False) -> list[type[Agent]]:
    """The Agent subclasses ``module`` defines, in order (its AgentTasks too with ``tasks=True``)."""
    return [
        v
        for v in vars(module).values()
        if isinstance(v, type) and issubclass(v, Agent) and (tasks or not issubclass(v, AgentTask)) and v.__module__ == module.__name__
    ]


def load_agent_file(path: str | os.PathLike[str]) -> AgentFile:
    """Import a LiveKit (or agentlab) agent file, its ``livekit.agents`` imports read as agentlab's.

    A file inside a package (folders with ``__init__.py``) is loaded as a module of that package,
    so its relative imports work; its own folder is importable while it loads, as when LiveKit
    runs ``python agent.py``. Raises :class:`AgentFileError` naming the file when it is missing or
    fails to import.

    Example::

        app = load_agent_file("agentlab/examples/restaurant.py")
        app.agent_classes        # [Host, EventsDesk]
    """
    file = Path(path)
    if not file.is_file():
        raise AgentFileError(f"{file}: no such agent file")
    package = _package_of(file.resolve())
    # a name of its own (inside its package): the file's code runs afresh, apart from any copy already imported
    stem = file.stem.replace("-", "_")
    name = f"{package[0]}._agentlab_{stem}" if package else f"_agentlab_agent_{stem}"
    spec = importlib.util.spec_from_file_location(name, file)
    if spec is None or spec.loader is None:
        raise AgentFileError(f"{file}: not a Python file")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses and pickling look the module up
    folders = [str(file.parent.resolve())]
    if package and importlib.util.find_spec(package[0].split(".")[0]) is None:
        folders.append(str(package[1]))  # the package itself is not installed: import it from where it is
    sys.path[:0] = folders
    try:
        with livekit_imports():
            spec.loader.exec_module(module)
    except SystemExit as e:
        raise AgentFileError(f"{file}: exited while being imported (status {e.code})") from e
    except Exception as e:
        raise AgentFileError(f"{file}: importing it failed: {type(e).__name__}: {e}") from e
    finally:
        del sys.path[: len(folders)]
    return AgentFile(file, module, _find_server(module))


def _package_of(file: Path) -> tuple[str, Path] | None:
    """(the dotted package holding ``file``, the folder above its top package), or ``None`` outside a package."""
    names = []
    folder = file.parent
    while (folder / "__init__.py").is_file():
        names.append(folder.name)
        folder = folder.parent
    return (".".join(reversed(names)), folder) if names else None


def _find_server(module: Any) -> AgentServer | None:
    found = vars(module)
    for name in _SERVER_NAMES:
        if isinstance(found.get(name), AgentServer):
            return found[name]
    servers = [v for v in found.values() if isinstance(v, AgentServer)]
    if len(servers) == 1:
        return servers[0]
    if len(servers) > 1:
        raise AgentFileError(f"{module.__file__}: defines {len(servers)} AgentServers; name the one to run `server`")
    options = [v for v in found.values() if isinstance(v, WorkerOptions)]
    if options:
        return AgentServer.from_server_options(options[0])
    entrypoint = found.get("entrypoint")
    if inspect.iscoroutinefunction(entrypoint):
        # A WorkerOptions file builds its options under `if __name__ == "__main__"`: take its functions.
        prewarm = found.get("prewarm")
        server = AgentServer(setup_fnc=prewarm if callable(prewarm) else None)
        server.rtc_session(entrypoint)
        return server
    return None
