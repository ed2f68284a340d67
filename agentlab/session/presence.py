"""User presence: LiveKit's away timer and VideoSDK's wake-up timer.

Both run only while the user and the agent are both listening, and stop as soon as either speaks
(or thinks). ``user_away_timeout`` after the last activity the user is ``"away"`` (a
``user_state_changed`` event); a final transcript brings the user back, and while both listen it
starts the away timer afresh. ``wake_up`` seconds of silence emit ``wake_up`` and call the session's
``on_wake_up``, once per period of inactivity: the agent's own wake-up speech does not re-arm it;
the user speaking does.

The timers are the session's state (``_away_timer``, ``_wake_timer``, ``_wake_fired``); these
functions are what the session calls when a state changes, so a closed session keeps no helper
pointing back at it.
"""

from __future__ import annotations

import asyncio
import inspect
from typing import TYPE_CHECKING

from . import events as ev

if TYPE_CHECKING:
    from .session import AgentSession


def update(session: AgentSession) -> None:
    """Arm the away and wake-up timers while user and agent are both listening; cancel otherwise."""
    s = session
    if not (s._agent_state == "listening" and s._user_state == "listening" and not s._closing):
        cancel(s)
        return
    loop = asyncio.get_running_loop()
    timeout = s._options.user_away_timeout
    if timeout is not None and s._away_timer is None:
        s._away_timer = loop.call_later(timeout, _on_away, s)
    if s._options.wake_up is not None and s._wake_timer is None and not s._wake_fired:
        s._wake_timer = loop.call_later(s._options.wake_up, _on_wake_up, s)


def cancel(session: AgentSession) -> None:
    """Stop both timers."""
    if session._away_timer is not None:
        session._away_timer.cancel()
        session._away_timer = None
    if session._wake_timer is not None:
        session._wake_timer.cancel()
        session._wake_timer = None


def restart_away(session: AgentSession) -> None:
    """A final transcript while both listen: the away timer counts from now (LiveKit)."""
    if session._away_timer is not None:
        session._away_timer.cancel()
        session._away_timer = None
        update(session)


def _on_away(session: AgentSession) -> None:
    session._away_timer = None
    session._set_user_state("away")


def _on_wake_up(session: AgentSession) -> None:
    session._wake_timer = None
    session._wake_fired = True
    session._emit(ev.WakeUpEvent, idle_for=session._options.wake_up)
    callback = session.on_wake_up
    if callback is not None:
        result = callback()
        if inspect.isawaitable(result):
            session._track(result)
