"""Event callbacks: ``on``, ``off`` and ``once``, as LiveKit's ``EventEmitter`` (which its
``AgentSession`` extends) offers them.

Callbacks are synchronous, as in LiveKit; one that raises is logged (scrubbed of secrets) and the
others still run. The session builds and records the events; this class only keeps the callbacks
and calls them.
"""

from __future__ import annotations

import contextlib
import inspect
import logging
import traceback
from collections.abc import Callable
from typing import Any

from .._secrets import scrub
from . import events as ev

logger = logging.getLogger("agentlab.session")


class _EventEmitter:
    """``on``/``off``/``once`` over the session's event names (:data:`~agentlab.session.events.EVENT_TYPES`)."""

    def __init__(self) -> None:
        self._handlers: dict[str, list[Callable[[Any], Any]]] = {}

    def on(self, event: str, callback: Callable[[Any], Any] | None = None) -> Any:
        """Register ``callback(ev)`` for ``event``; usable as a decorator. Callbacks must be sync.

        Example::

            @session.on("agent_state_changed")
            def show(e):
                print(e.old_state, "->", e.new_state)
        """
        if event not in ev.EVENT_TYPES:
            raise ValueError(f"AgentSession.on: unknown event {event!r}; expected one of {list(ev.EVENT_TYPES)}")

        def register(cb: Callable[[Any], Any]) -> Callable[[Any], Any]:
            if inspect.iscoroutinefunction(cb):
                raise ValueError(
                    f"AgentSession.on({event!r}): callbacks must be synchronous; start a task inside, e.g. asyncio.create_task(...)"
                )
            self._handlers.setdefault(event, []).append(cb)
            return cb

        return register(callback) if callback is not None else register

    def off(self, event: str, callback: Callable[[Any], Any]) -> None:
        """Remove a callback registered with :meth:`on`."""
        with contextlib.suppress(ValueError):
            self._handlers.get(event, []).remove(callback)

    def once(self, event: str, callback: Callable[[Any], Any] | None = None) -> Any:
        """Like :meth:`on`, but the callback runs only the first time."""

        def register(cb: Callable[[Any], Any]) -> Callable[[Any], Any]:
            def wrapper(e: Any) -> None:
                self.off(event, wrapper)
                cb(e)

            self.on(event, wrapper)
            return cb

        return register(callback) if callback is not None else register

    def _dispatch(self, event: Any, handlers: list[Callable[[Any], Any]]) -> None:
        for cb in list(handlers):  # a copy: a callback may remove itself (once)
            try:
                cb(event)
            except Exception as exc:
                _log_failure(f"error in {event.type} callback", exc)


def _log_failure(what: str, exc: BaseException) -> None:
    """Log ``exc`` with its traceback, as text scrubbed of secrets (an exception may quote a key)."""
    logger.error("%s\n%s", what, scrub("".join(traceback.format_exception(exc))).rstrip())
