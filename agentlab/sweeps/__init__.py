"""Sweeps of session options over labelled datasets: which settings should you ship?

* :mod:`agentlab.sweeps.replay`: a conversation's turn-taking decisions without asyncio
  (:func:`replay_conversation` → :class:`Decisions`): the fast path.
* :mod:`agentlab.sweeps.score`: labelled span outcomes, summaries and operating points (the metrics
  contract of ``DESIGN.md``).
* :mod:`agentlab.sweeps.run`: :func:`sweep` — a grid of options × a dataset → a :class:`SweepResult`
  (resumable through ``out``; in-process, on local processes, or on a Dask client).
* :mod:`agentlab.sweeps.plots`: trade-off with its Pareto front, heatmaps, latency distributions,
  interruption curves, preemptive cost — each a matplotlib Figure with ``ax=``.

Example::

    from agentlab.sweeps import sweep, plots
    result = sweep(None, "dictation", {"endpointing.min_delay": [0.3, 0.5, 0.8, 1.2]}, out="sweep-dictation")
    result.best(max_cutoff_rate=0.10)
    plots.tradeoff(result)

``plots`` (and so matplotlib) is imported on first use, when a figure is asked for.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from .replay import (
    AgentPlayback,
    Commit,
    Decisions,
    Discarded,
    Interruption,
    Preemptive,
    Resume,
    conversation_events,
    engine_config,
    replay_conversation,
)
from .result import SweepResult
from .run import Listening, Setting, expand_grid, setting_options, sweep
from .score import (
    DEFAULT_GRACE,
    DEFAULT_LLM_TTFT,
    DEFAULT_REACTION,
    DEFAULT_TIMEOUT,
    DEFAULT_TTS_TTFB,
    ROW_COLUMNS,
    expected_hold_cutoffs,
    operating_points,
    pareto,
    span_outcomes,
    summarize,
)
from .tasks import check_factory, make_agent, reference_agent, run_task, task_outcomes

if TYPE_CHECKING:
    from . import plots


def __getattr__(name: str) -> object:
    if name == "plots":  # matplotlib loads only when a figure is asked for
        return importlib.import_module(".plots", __name__)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "DEFAULT_GRACE",
    "DEFAULT_LLM_TTFT",
    "DEFAULT_REACTION",
    "DEFAULT_TIMEOUT",
    "DEFAULT_TTS_TTFB",
    "ROW_COLUMNS",
    "AgentPlayback",
    "Commit",
    "Decisions",
    "Discarded",
    "Interruption",
    "Listening",
    "Preemptive",
    "Resume",
    "Setting",
    "SweepResult",
    "check_factory",
    "conversation_events",
    "engine_config",
    "expand_grid",
    "expected_hold_cutoffs",
    "make_agent",
    "operating_points",
    "pareto",
    "plots",
    "reference_agent",
    "replay_conversation",
    "run_task",
    "setting_options",
    "span_outcomes",
    "summarize",
    "sweep",
    "task_outcomes",
]
