"""The opt-in import hook: ``import livekit.agents`` gives ``agentlab.livekit``.

With it, a LiveKit agent file runs with no edit at all. It is a meta-path finder placed first, so
it wins over an installed ``livekit-agents``: ``livekit.agents`` and ``livekit.agents.X`` resolve to
``agentlab.livekit`` and ``agentlab.livekit.X`` (or, for a name that is an attribute there, such
as ``livekit.agents.utils``, that attribute; a deeper path LiveKit has and agentlab does not, such
as ``livekit.agents.beta.tools``, finds its names in the nearest module agentlab has).
``livekit.plugins.*`` resolve to offline components (:mod:`agentlab.livekit.plugins`). ``livekit`` itself is left to the real package when
one is installed, and is an empty namespace otherwise, so ``from livekit import agents`` works too.

It is off unless asked for: ``agentlab console FILE`` and :class:`~agentlab.livekit.AgentFile`
turn it on while they import the file (:func:`livekit_imports`); in a notebook,
``%load_ext agentlab.livekit`` or :func:`install_import_hook` turn it on for the kernel.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.abc
import importlib.machinery
import sys
import types
from collections.abc import Iterator
from typing import Any

__all__ = ["install_import_hook", "livekit_imports", "uninstall_import_hook"]

_PREFIX = "livekit.agents"
_OURS = "agentlab.livekit"


class _AliasLoader(importlib.abc.Loader):
    def __init__(self, module: types.ModuleType) -> None:
        self._module = module

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> types.ModuleType:
        return self._module

    def exec_module(self, module: types.ModuleType) -> None:
        pass  # already executed: it is agentlab's module under LiveKit's name


class _Finder(importlib.abc.MetaPathFinder):
    """Resolves ``livekit.agents[.X]`` to agentlab's modules (and ``livekit`` when nothing else does)."""

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> importlib.machinery.ModuleSpec | None:
        if fullname == "livekit":
            if any(f.find_spec(fullname, path) for f in sys.meta_path if f is not self and hasattr(f, "find_spec")):
                return None  # the real livekit package (rtc, api...) stays
            module = types.ModuleType("livekit", "A namespace for agentlab's livekit.agents import hook.")
            module.__path__ = []
        elif fullname == "livekit.plugins" or fullname.startswith("livekit.plugins."):
            from .plugins import plugin_module

            module = plugin_module(fullname)
        elif fullname == _PREFIX or fullname.startswith(_PREFIX + "."):
            # An alias, not agentlab's module itself: importlib sets submodules as attributes of the
            # module it serves, and LiveKit's files import from deep paths (livekit.agents.llm.tool_context),
            # so it must be a package; neither may change agentlab's own modules.
            module = _Alias(fullname, _resolve(_OURS + fullname[len(_PREFIX) :]))
        else:
            return None
        _served.add(fullname)
        return importlib.machinery.ModuleSpec(fullname, _AliasLoader(module), is_package=True)


class _Alias(types.ModuleType):
    """``livekit.agents[.X]``: forwards every attribute to the agentlab module it stands for."""

    def __init__(self, name: str, target: types.ModuleType) -> None:
        super().__init__(name, target.__doc__)
        self.__path__: list[str] = []
        self._lk_target = target

    def __getattr__(self, attr: str) -> Any:
        return getattr(self._lk_target, attr)

    def __dir__(self) -> list[str]:
        return sorted(set(dir(self._lk_target)) | set(vars(self)))


def _resolve(name: str) -> types.ModuleType:
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as e:
        if e.name is None or not (name == e.name or name.startswith(e.name + ".")):
            raise  # a module the agentlab one imports is missing: a real error
    parent_name, _, attr = name.rpartition(".")
    parent = _resolve(parent_name)
    value = getattr(parent, attr, None)
    if isinstance(value, types.ModuleType):
        return value
    if not attr.islower():
        # a class or constant name, not a module path: `from livekit.agents import NoSuchName` must fail
        lk = "livekit.agents" + name[len(_OURS) :]
        raise ModuleNotFoundError(f"No module named {lk!r}", name=lk)
    return _DeepModule(name, parent)


class _DeepModule(types.ModuleType):
    """A LiveKit module path agentlab does not have as such (``livekit.agents.beta.tools``,
    ``livekit.agents.llm.tool_context``): its names are looked up in the nearest module agentlab has
    (``beta``, ``llm``), where LiveKit re-exports them too; a name found nowhere is a stand-in."""

    def __init__(self, name: str, parent: types.ModuleType) -> None:
        super().__init__(name, f"agentlab's view of livekit.agents{name[len(_OURS) :]}")
        self.__path__: list[str] = []
        self._lk_parent = parent

    def __getattr__(self, attr: str) -> Any:
        if attr.startswith("__"):
            raise AttributeError(attr)
        try:
            return getattr(self._lk_parent, attr)
        except AttributeError:
            from .._unsupported import stand_in

            where = "livekit.agents" + self.__name__[len(_OURS) :]
            return stand_in(f"{where}.{attr}".removeprefix("livekit.agents."), "agentlab does not provide it")


def _ours_to_serve(name: str) -> bool:
    return any(name == p or name.startswith(p + ".") for p in (_PREFIX, "livekit.plugins"))


_finder = _Finder()
_hidden: dict[str, types.ModuleType] = {}  # real modules set aside while the hook is on
_served: set[str] = set()  # the names the hook put in sys.modules


def install_import_hook() -> None:
    """From now on, ``livekit.agents`` imports give ``agentlab.livekit`` (idempotent).

    A real ``livekit.agents`` already imported is set aside until :func:`uninstall_import_hook`.

    Example::

        agentlab.livekit.install_import_hook()
        from livekit.agents import AgentSession     # agentlab's
    """
    if _finder in sys.meta_path:
        return
    for name in [n for n in sys.modules if _ours_to_serve(n)]:
        _hidden[name] = sys.modules.pop(name)
    livekit = sys.modules.get("livekit")
    if livekit is not None and "agents" in vars(livekit):
        _hidden["livekit:agents"] = vars(livekit).pop("agents")
    sys.meta_path.insert(0, _finder)


def uninstall_import_hook() -> None:
    """Undo :func:`install_import_hook`: ``livekit.agents`` is LiveKit's again (if installed)."""
    if _finder not in sys.meta_path:
        return
    sys.meta_path.remove(_finder)
    livekit = sys.modules.get("livekit")
    for name in _served:
        sys.modules.pop(name, None)
    if livekit is not None and "livekit" not in _served:
        for attr in ("agents", "plugins"):  # set on the real namespace package by the imports served
            if attr in vars(livekit) and f"livekit.{attr}" in _served:
                delattr(livekit, attr)
    _served.clear()
    real = _hidden.pop("livekit:agents", None)
    if real is not None and "livekit" in sys.modules:
        sys.modules["livekit"].agents = real
    sys.modules.update(_hidden)
    _hidden.clear()


@contextlib.contextmanager
def livekit_imports() -> Iterator[None]:
    """``livekit.agents`` imports give ``agentlab.livekit`` inside the block (unless already on).

    Example::

        with livekit_imports():
            module = importlib.import_module("my_livekit_agent")
    """
    already = _finder in sys.meta_path
    install_import_hook()
    try:
        yield
    finally:
        if not already:
            uninstall_import_hook()
