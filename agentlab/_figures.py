"""New matplotlib figures, shown by Jupyter even in a kernel that never imported pyplot.

agentlab draws on ``matplotlib.figure.Figure`` directly (no pyplot, no global state). Jupyter shows
a figure as a picture only once matplotlib's display hook is on, which importing pyplot (or
``%matplotlib inline``) does; without it a figure on a cell's last line prints as
``<Figure size 1000x360 with 1 Axes>``. So the first figure made inside IPython registers a PNG
formatter for ``Figure``, unless one is already there.
"""

from __future__ import annotations

import sys
from typing import Any

__all__ = ["new_figure"]


def new_figure(figsize: tuple[float, float]) -> Any:
    """A constrained-layout :class:`~matplotlib.figure.Figure` of ``figsize`` inches.

    Example::

        fig = new_figure((10, 3.6)); ax = fig.add_subplot()
    """
    from matplotlib.figure import Figure

    _show_in_ipython(Figure)
    return Figure(figsize=figsize, layout="constrained")


def _show_in_ipython(figure_type: type) -> None:
    if "IPython" not in sys.modules:
        return
    from IPython import get_ipython

    shell = get_ipython()
    if shell is None:
        return
    png = shell.display_formatter.formatters["image/png"]
    try:
        png.lookup_by_type(figure_type)
        return  # pyplot or %matplotlib inline already shows figures
    except KeyError:
        pass
    from IPython.core.pylabtools import print_figure

    png.for_type(figure_type, lambda fig: print_figure(fig, "png", bbox_inches="tight"))
