"""LiveKit Agents 1.8.9's API, offline: a LiveKit agent file runs with ``livekit.agents`` → ``agentlab.livekit``.

Every public name of ``livekit.agents`` (and of its ``llm``, ``voice``, ``beta``, ``metrics``,
``inference``, ``cli``, ``room_io`` and ``text_transforms`` modules) is here. Most are agentlab's
own objects (``AgentSession``, ``Agent``, events, ``ChatContext``...). The server side
(``AgentServer``, ``JobContext``, ``cli.run_app``) runs one job in-process against an offline room
(:mod:`agentlab.livekit._server`). The rest (realtime models, telephony, LiveKit Cloud services) are
*stand-ins*: they import, and raise :class:`Unsupported` with the reason when used. The list, with
each reason, is ``agentlab/livekit/_table.py`` and docs/livekit-compatibility.md.

Three ways to run a LiveKit file:

* change its imports: ``from livekit.agents import ...`` → ``from agentlab.livekit import ...``;
* ``agentlab console agent.py`` (or :func:`load_agent_file`), which reads them that way itself;
* in a notebook, ``%load_ext agentlab.livekit`` (or :func:`install_import_hook`): from then on
  ``import livekit.agents`` gives this package.

Example::

    app = agentlab.livekit.load_agent_file("basic_agent.py")
    ctx = await app.start(llm=agentlab.ScriptedLLM(default="Hi, I'm Kelly."))
    await ctx.primary_session.run(user_input="hello")
    await ctx.aclose()
"""

from __future__ import annotations

from typing import Any

from .._unsupported import Unsupported
from ._agent_file import AgentFile, AgentFileError, load_agent_file
from ._hook import install_import_hook, livekit_imports, uninstall_import_hook
from ._table import module_getattr, names

__version__ = "1.8.9"

#: agentlab's own additions (not LiveKit names).
_AGENTLAB = [AgentFile, AgentFileError, Unsupported, install_import_hook, livekit_imports, load_agent_file, uninstall_import_hook]
__all__ = sorted({*names()["livekit.agents"], *(x.__name__ for x in _AGENTLAB)})

__getattr__ = module_getattr("livekit.agents")


def load_ipython_extension(ipython: Any) -> None:
    """``%load_ext agentlab.livekit``: ``livekit.agents`` imports give ``agentlab.livekit`` in this kernel."""
    install_import_hook()


def unload_ipython_extension(ipython: Any) -> None:
    """``%unload_ext agentlab.livekit``."""
    uninstall_import_hook()
