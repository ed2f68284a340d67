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


@pytest.fixture
def server():
    """A scripted OpenAI-compatible server on 127.0.0.1 (``tests/openai_server.py``), stopped afterwards."""
    from openai_server import OpenAIServer

    with OpenAIServer() as srv:
        yield srv


@pytest.fixture
def no_openai_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No ``OPENAI_API_KEY`` / ``OPENAI_BASE_URL`` from the environment: the tests pass their own."""
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    """Keep each phase's report on the item (``item.rep_call``), for fixtures that act on failure."""
    rep = yield
    setattr(item, f"rep_{rep.when}", rep)
    return rep
