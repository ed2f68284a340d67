"""``@frozen``: a frozen dataclass whose instances are built a few times faster.

A frozen dataclass's ``__init__`` sets each field with ``object.__setattr__`` (its own
``__setattr__`` refuses), a C call per field. Events, metrics, engine actions and audio frames are
frozen and a spoken turn builds dozens of them, so that cost showed in the voice benchmark
(benchmarks/bench_voice_session.py). ``@frozen`` builds the same class with ``dataclass`` and then
swaps in an ``__init__`` with the same signature that writes the instance ``__dict__`` directly.
Everything else (equality, hashing, repr, ``replace``, refusing assignment) is the dataclass's.

Example::

    @frozen(kw_only=True)
    class Tick:
        at: float
        label: str = "tick"

    Tick(at=1.0).label      # 'tick'
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, TypeVar, overload

__all__ = ["frozen"]

C = TypeVar("C", bound=type)

_FACTORY = object()  # a parameter's default when its field has a default_factory


@overload
def frozen(cls: C, /) -> C: ...


@overload
def frozen(**options: Any) -> Callable[[C], C]: ...


def frozen(cls: Any = None, /, **options: Any) -> Any:
    """``@dataclass(frozen=True, **options)``, with a faster ``__init__`` (same signature, same checks)."""

    def wrap(cls: C) -> C:
        own_init = "__init__" in cls.__dict__  # dataclass keeps a class's own __init__: so do we
        cls = dataclasses.dataclass(frozen=True, **options)(cls)
        if options.get("init", True) and not own_init:
            _fast_init(cls)
        return cls

    return wrap if cls is None else wrap(cls)


def _fast_init(cls: type) -> None:
    all_fields = cls.__dataclass_fields__  # type: ignore[attr-defined]
    if any(f._field_type is dataclasses._FIELD_INITVAR for f in all_fields.values()):  # type: ignore[attr-defined]
        return  # InitVars go to __post_init__: leave the dataclass's own __init__
    namespace: dict[str, Any] = {"_FACTORY": _FACTORY}
    positional: list[str] = []
    keyword: list[str] = []
    body: list[str] = []
    for f in dataclasses.fields(cls):
        has_default = f.default is not dataclasses.MISSING
        has_factory = f.default_factory is not dataclasses.MISSING
        if has_default:
            namespace[f"_d_{f.name}"] = f.default
        if has_factory:
            namespace[f"_f_{f.name}"] = f.default_factory
        if not f.init:
            if has_default:
                body.append(f"d[{f.name!r}] = _d_{f.name}")
            elif has_factory:
                body.append(f"d[{f.name!r}] = _f_{f.name}()")
            continue
        param = f.name + (f"=_d_{f.name}" if has_default else "=_FACTORY" if has_factory else "")
        (keyword if f.kw_only else positional).append(param)
        value = f"_f_{f.name}() if {f.name} is _FACTORY else {f.name}" if has_factory else f.name
        body.append(f"d[{f.name!r}] = {value}")
    if hasattr(cls, "__post_init__"):
        body.append("self.__post_init__()")
    params = ", ".join(["self", *positional, *(["*", *keyword] if keyword else [])])
    lines = "\n    ".join(["d = self.__dict__", *body])
    exec(f"def __init__({params}):\n    {lines}\n", namespace)
    init = namespace["__init__"]
    init.__qualname__ = f"{cls.__qualname__}.__init__"
    init.__module__ = cls.__module__
    init.__doc__ = cls.__init__.__doc__
    cls.__init__ = init  # type: ignore[misc]
