"""Reading the files people write by hand (scenario files, sweep configs).

Both are YAML or JSON, and both are read the same strict way: UTF-8 text, a key given twice is an
error (the parsers would keep the last value without a word, so a second ``grid:`` or ``llm:``
would silently replace the first), and a ``turn_detection`` must be a mode name, since a file
cannot hold a turn-detector object and anything else would be taken for one.

Example::

    data = load_yaml("grid: {endpointing.min_delay: [0.3, 0.6]}")
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from .session.options import TURN_DETECTION_MODES

__all__ = ["MODE_NAME_ONLY", "DuplicateKey", "load_json", "load_yaml", "non_mode_turn_detection", "not_utf8"]

#: What a file's ``turn_detection`` must be.
MODE_NAME_ONLY = f"must be a mode name ({', '.join(map(repr, TURN_DETECTION_MODES))}) or null"


class DuplicateKey(ValueError):
    """A JSON object names the same key twice."""


def not_utf8(exc: UnicodeDecodeError) -> str:
    """Where a file stops being UTF-8, for the error message."""
    return f"is not UTF-8 text (byte {exc.object[exc.start]:#04x} at offset {exc.start})"


def load_json(text: str) -> Any:
    """``json.loads``, but a key given twice in one object raises :class:`DuplicateKey`."""

    def no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in pairs:
            if key in out:
                raise DuplicateKey(f"duplicate key {key!r}")
            out[key] = value
        return out

    return json.loads(text, object_pairs_hook=no_duplicates)


def load_yaml(text: str) -> Any:
    """``yaml.safe_load``, but a key given twice in one mapping is a ``yaml.YAMLError`` (with its line)."""
    import yaml

    class _StrictLoader(yaml.SafeLoader):
        def construct_mapping(self, node: Any, deep: bool = False) -> Any:
            seen: set[Any] = set()
            for key_node, _ in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    continue  # `<<: *defaults` may be overridden by the keys next to it
                key = self.construct_object(key_node, deep=deep)
                try:
                    repeated = key in seen
                except TypeError:
                    continue  # unhashable: the base class reports it
                if repeated:
                    raise yaml.constructor.ConstructorError(
                        "while constructing a mapping", node.start_mark, f"found duplicate key {key!r}", key_node.start_mark
                    )
                seen.add(key)
            return super().construct_mapping(node, deep)

    return yaml.load(text, Loader=_StrictLoader)  # a SafeLoader subclass: no arbitrary objects


def non_mode_turn_detection(options: Mapping[str, Any]) -> tuple[str, Any] | None:
    """``(field, value)`` when session ``options`` read from a file give a ``turn_detection`` that is
    not a mode name (``field`` is ``turn_detection`` or ``turn_handling.turn_detection``); else ``None``."""
    for field, holder in (("turn_detection", options), ("turn_handling.turn_detection", options.get("turn_handling"))):
        value = holder.get("turn_detection") if isinstance(holder, Mapping) else None
        if value is not None and not isinstance(value, str):
            return field, value
    return None
