"""``@frozen`` builds the same class as ``@dataclass(frozen=True)``; only instances come faster."""

from __future__ import annotations

import dataclasses
import inspect
from dataclasses import InitVar, field

import pytest

from agentlab._frozen import frozen


def _twins(body: dict, **options):
    """The same class body under @dataclass(frozen=True, ...) and under @frozen(...)."""
    a = dataclasses.dataclass(frozen=True, **options)(type("A", (), dict(body)))
    b = frozen(**options)(type("B", (), dict(body)))
    return a, b


BODY = {
    "__annotations__": {"at": "float", "label": "str", "tags": "list", "hidden": "int"},
    "label": "x",
    "tags": field(default_factory=lambda: ["t"]),
    "hidden": field(default=7, init=False),
}


@pytest.mark.parametrize("kw_only", [False, True])
def test_same_signature_values_and_behaviour(kw_only):
    a, b = _twins(BODY, kw_only=kw_only)
    assert list(inspect.signature(a).parameters) == list(inspect.signature(b).parameters)
    assert [p.kind for p in inspect.signature(a).parameters.values()] == [p.kind for p in inspect.signature(b).parameters.values()]
    x, y = a(at=1.0), b(at=1.0)
    assert dataclasses.asdict(x) == dataclasses.asdict(y) == {"at": 1.0, "label": "x", "tags": ["t"], "hidden": 7}
    assert y.tags is not b(at=1.0).tags  # a fresh default per instance
    assert b(at=1.0, tags=["u"]).tags == ["u"]
    assert b(at=1.0) == b(at=1.0) and hash(b(at=2.0, tags=None)) == hash(b(at=2.0, tags=None))
    assert repr(y) == "B(at=1.0, label='x', tags=['t'], hidden=7)"
    with pytest.raises(dataclasses.FrozenInstanceError):
        y.at = 3.0
    with pytest.raises(TypeError):
        b()  # ``at`` is required
    assert dataclasses.replace(y, label="z").label == "z"


def test_post_init_runs_and_initvar_keeps_the_dataclass_init():
    @frozen
    class Checked:
        n: int

        def __post_init__(self) -> None:
            if self.n < 0:
                raise ValueError("n < 0")

    assert Checked(2).n == 2
    with pytest.raises(ValueError, match="n < 0"):
        Checked(-1)

    @frozen
    class WithInitVar:
        n: int
        scale: InitVar[int] = 1

        def __post_init__(self, scale: int) -> None:
            object.__setattr__(self, "n", self.n * scale)

    assert WithInitVar(2, 3).n == 6


def test_session_events_are_built_by_frozen():
    from agentlab.session import events as ev

    e = ev.AgentStateChangedEvent(created_at=1.0, wall_time=2.0, old_state="listening", new_state="thinking")
    assert (e.emitted_at, e.type) == (-1.0, "agent_state_changed")
    assert ev.AgentStateChangedEvent.__init__.__qualname__ == "AgentStateChangedEvent.__init__"
    with pytest.raises(dataclasses.FrozenInstanceError):
        e.new_state = "speaking"


def test_a_class_with_its_own_init_keeps_it():
    @frozen
    class Point:
        x: int
        y: int

        def __init__(self, both: int) -> None:
            object.__setattr__(self, "x", both)
            object.__setattr__(self, "y", both)

    assert (Point(3).x, Point(3).y) == (3, 3)
