"""Shared test helpers: run a coroutine on a fresh virtual clock."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from agentlab import VirtualClock


@pytest.fixture
def vrun():
    """``vrun(async_fn)`` runs ``async_fn()`` on a new VirtualClock and returns its result."""

    def run(fn):
        return VirtualClock().run(fn)

    return run


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    """Keep each phase's report on the item (``item.rep_call``), for fixtures that act on failure."""
    rep = yield
    setattr(item, f"rep_{rep.when}", rep)
    return rep
