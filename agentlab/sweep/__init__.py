"""Sweeps of session options over labelled datasets: the fast replay path and the metrics contract.

* :mod:`agentlab.sweep.replay`: a conversation's turn-taking decisions without asyncio
  (:func:`replay_conversation` → :class:`Decisions`).
* :mod:`agentlab.sweep.score`: labelled span outcomes, summaries and operating points (the metrics
  contract of ``DESIGN.md``).
* :mod:`agentlab.sweep.run`: :func:`sweep` — a grid of options × a dataset → a :class:`SweepResult`
  (resumable through ``out``), :mod:`agentlab.sweep.result`.
"""

from .replay import (
    AgentPlayback,
    Commit,
    Decisions,
    Interruption,
    Preemptive,
    Resume,
    conversation_events,
    engine_config,
    replay_conversation,
)

__all__ = [
    "AgentPlayback",
    "Commit",
    "Decisions",
    "Interruption",
    "Preemptive",
    "Resume",
    "conversation_events",
    "engine_config",
    "replay_conversation",
]
from .score import DEFAULT_GRACE, DEFAULT_REACTION, DEFAULT_TIMEOUT, ROW_COLUMNS, operating_points, pareto, span_outcomes, summarize

__all__ += [
    "DEFAULT_GRACE",
    "DEFAULT_REACTION",
    "DEFAULT_TIMEOUT",
    "ROW_COLUMNS",
    "operating_points",
    "pareto",
    "span_outcomes",
    "summarize",
]

from .result import SweepResult  # noqa: E402  (grouped with its __all__ entries, as above)
from .run import Setting, expand_grid, sweep  # noqa: E402

__all__ += ["Setting", "SweepResult", "expand_grid", "sweep"]
