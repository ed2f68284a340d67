"""Sweeps of session options over labelled datasets: which settings should you ship?

* :mod:`agentlab.sweep.replay`: a conversation's turn-taking decisions without asyncio
  (:func:`replay_conversation` → :class:`Decisions`): the fast path.
* :mod:`agentlab.sweep.score`: labelled span outcomes, summaries and operating points (the metrics
  contract of ``DESIGN.md``).
* :mod:`agentlab.sweep.run`: :func:`sweep` — a grid of options × a dataset → a :class:`SweepResult`
  (resumable through ``out``; in-process, on local processes, or on a Dask client).
* :mod:`agentlab.sweep.plots`: trade-off with its Pareto front, heatmaps, latency distributions,
  interruption curves, preemptive cost — each a matplotlib Figure with ``ax=``.

Example::

    from agentlab.sweep import sweep, plots
    result = sweep(None, "dictation", {"endpointing.min_delay": [0.3, 0.5, 0.8, 1.2]}, out="sweep-dictation")
    result.best(max_cutoff_rate=0.10)
    plots.tradeoff(result)
"""

from . import plots
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
from .result import SweepResult
from .run import Setting, expand_grid, sweep
from .score import DEFAULT_GRACE, DEFAULT_REACTION, DEFAULT_TIMEOUT, ROW_COLUMNS, operating_points, pareto, span_outcomes, summarize

__all__ = [
    "DEFAULT_GRACE",
    "DEFAULT_REACTION",
    "DEFAULT_TIMEOUT",
    "ROW_COLUMNS",
    "AgentPlayback",
    "Commit",
    "Decisions",
    "Interruption",
    "Preemptive",
    "Resume",
    "Setting",
    "SweepResult",
    "conversation_events",
    "engine_config",
    "expand_grid",
    "operating_points",
    "pareto",
    "plots",
    "replay_conversation",
    "span_outcomes",
    "summarize",
    "sweep",
]
