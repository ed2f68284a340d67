"""``livekit.agents.mcp``: MCP servers, accepted offline and not connected.

``AgentSession(mcp_servers=[MCPServerHTTP(url)])`` builds, and the session warns that MCP servers
are not connected (no network at run time): pass the tools the agent needs as function tools.
"""

from __future__ import annotations

from typing import Any

__all__ = ["MCPServer", "MCPServerHTTP", "MCPServerStdio"]


class MCPServer:
    """An MCP server description, kept but not connected."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.args, self.kwargs = args, kwargs

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}({', '.join([*map(repr, self.args), *(f'{k}={v!r}' for k, v in self.kwargs.items())])}) (not connected)"
        )


class MCPServerHTTP(MCPServer):
    """An MCP server over HTTP (not connected offline)."""


class MCPServerStdio(MCPServer):
    """An MCP server run as a subprocess (not started offline)."""
