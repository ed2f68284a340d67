"""Every public name of LiveKit Agents 1.8.9 either works in ``agentlab.livekit`` or is a listed stand-in.

The names are data (``agentlab/livekit/names-1.8.9.json``), read from the installed wheel by
``_wheel_names`` below; regenerate with ``python tests/test_livekit_names.py --write``.
"""

from __future__ import annotations

import importlib
import json
import sys
import warnings
from pathlib import Path

import pytest

import agentlab.livekit as lk
from agentlab.livekit import _table

DATA = Path(lk.__file__).parent / "names-1.8.9.json"

#: The modules a LiveKit agent file imports from (``text_transforms`` and ``room_io`` are attributes of
#: ``livekit.agents``, not importable paths, in LiveKit itself).
MODULES = (
    "livekit.agents",
    "livekit.agents.llm",
    "livekit.agents.voice",
    "livekit.agents.beta",
    "livekit.agents.beta.workflows",
    "livekit.agents.metrics",
    "livekit.agents.inference",
    "livekit.agents.cli",
    "livekit.agents.text_transforms",
    "livekit.agents.room_io",
)


_WITHOUT_ALL = {"livekit.agents.text_transforms": ["TextTransforms", "filter_emoji", "filter_markdown", "replace"]}


def _wheel_names() -> dict[str, list[str]]:
    warnings.simplefilter("ignore")
    import livekit.agents as agents

    out: dict[str, list[str]] = {}
    for name in MODULES:
        tail = name.removeprefix("livekit.agents").lstrip(".")
        module = agents
        for part in tail.split(".") if tail else ():
            module = getattr(module, part, None) or importlib.import_module(f"{module.__name__}.{part}")
        names = getattr(module, "__all__", None)
        if names is None:  # no __all__ (text_transforms): its documented names, each checked to be there
            names = _WITHOUT_ALL[name]
            assert all(hasattr(module, n) for n in names), (name, names)
        out[name] = sorted(n for n in names if not n.startswith("_"))
    return out


def _names() -> dict[str, list[str]]:
    return json.loads(DATA.read_text())


def test_the_data_is_livekit_1_8_9s_names() -> None:
    agents = pytest.importorskip("livekit.agents")
    if agents.__version__ != "1.8.9":
        pytest.skip(f"livekit-agents {agents.__version__} installed, not 1.8.9")
    assert _names() == _wheel_names()


def test_every_name_is_provided_or_a_listed_stand_in() -> None:
    unlisted = [f"{module}.{name}" for module, names in _names().items() for name in names if _table.status(module, name) is None]
    assert not unlisted, f"neither provided nor listed as a stand-in: {unlisted}"


def test_every_name_imports_from_agentlab_livekit() -> None:
    for module, names in _names().items():
        ours = importlib.import_module(module.replace("livekit.agents", "agentlab.livekit"))
        for name in names:
            getattr(ours, name)  # stand-ins import too; they fail when used


def test_provided_names_are_real_and_stand_ins_fail_when_used() -> None:
    from agentlab.livekit import Unsupported

    for module, names in _names().items():
        ours = importlib.import_module(module.replace("livekit.agents", "agentlab.livekit"))
        for name in names:
            value = getattr(ours, name)
            if _table.status(module, name) == "stand-in":
                assert _table.is_stand_in(value), f"{module}.{name} is listed as a stand-in but is {value!r}"
                # a class raises when built; a module's attributes are stand-ins that raise when built
                with pytest.raises(Unsupported, match=name):
                    value() if isinstance(value, type) else value.anything()
            else:
                assert not _table.is_stand_in(value), f"{module}.{name} is listed as provided but is a stand-in"


def test_counts_are_reported() -> None:
    counts = _table.counts(_names())
    assert counts["provided"] + counts["stand-in"] == sum(len(v) for v in _names().values())
    # agentlab's promise: the names a voice agent file uses work, not only import
    assert counts["provided"] >= 150, counts


if __name__ == "__main__" and sys.argv[1:] == ["--write"]:
    DATA.write_text(json.dumps(_wheel_names(), indent=1) + "\n")
    print(f"wrote {DATA}")
