"""``livekit.agents.cli``: ``run_app(server)`` runs the file the way LiveKit's CLI does, offline.

``python agent.py console`` chats with the agent in the terminal (agentlab's console, on the
file's own entrypoint). ``download-files`` has nothing to download. ``dev``, ``start`` and
``connect`` register with a LiveKit server: they exit with status 2 and say so.
"""

from __future__ import annotations

import sys

from ._server import AgentServer, WorkerOptions
from ._table import module_getattr, names

__all__ = list(names()["livekit.agents.cli"])

_USAGE = "usage: python {file} console [--verbose]   (agentlab: dev, start and connect need a LiveKit server)"


def run_app(server: AgentServer | WorkerOptions, *, argv: list[str] | None = None) -> int:
    """Run ``server``'s entrypoint as LiveKit's CLI would, offline (``console``); returns the exit status."""
    if isinstance(server, WorkerOptions):
        server = AgentServer.from_server_options(server)
    if not isinstance(server, AgentServer):
        raise TypeError(f"cli.run_app: expected an AgentServer or WorkerOptions, got {type(server).__name__}")
    args = list(sys.argv[1:] if argv is None else argv)
    command = args[0] if args else None
    if command == "console":
        from ..console import run_server_console

        status = run_server_console(server, sys.argv[0], verbose="--verbose" in args)
    elif command == "download-files":
        print("agentlab: nothing to download (every offline component ships in the wheel)")
        status = 0
    elif command in ("dev", "start", "connect"):
        print(
            f"agentlab: `{command}` registers a worker with a LiveKit server; run `python {sys.argv[0]} console` instead", file=sys.stderr
        )
        status = 2
    else:
        print(_USAGE.format(file=sys.argv[0]), file=sys.stderr)
        status = 2
    if argv is None:
        raise SystemExit(status)  # as LiveKit's CLI: the script ends here
    return status


__getattr__ = module_getattr("livekit.agents.cli")
