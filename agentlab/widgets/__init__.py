"""Widgets (ipywidgets 8) that wrap the Python API for notebooks.

* :class:`ChatWidget` — a text conversation with a session, on the real clock in the notebook's loop.
* :class:`ConversationWidget` — a simulated run: stereo audio, timeline, history/events/metrics tabs;
  :meth:`ConversationWidget.browse` picks conversations from a dataset.
* :class:`SweepWidget` — parameter ranges, a Run button with progress, results table, trade-off plot,
  and the worst cut-offs of a chosen setting.

Example::

    from agentlab.widgets import ChatWidget, ConversationWidget, SweepWidget
    SweepWidget("dictation")
"""

from .chat import ChatWidget
from .conversation import ConversationWidget, default_agent
from .sweep import DEFAULT_PARAMS, Param, SweepWidget

__all__ = ["DEFAULT_PARAMS", "ChatWidget", "ConversationWidget", "Param", "SweepWidget", "default_agent"]
