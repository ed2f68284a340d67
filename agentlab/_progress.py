"""Progress bars for long work (sweeps, VAD analysis, dataset generation): one helper, one rule.

A bar comes from ``tqdm.auto`` (a widget in Jupyter, text on stderr in a terminal) and shows only
once the work has run for :data:`DELAY` seconds, so quick calls print nothing while anything slow
says how far it is. ``progress=False`` at the call site turns it off; :func:`quiet` turns off the
bars of work nested in an outer bar (the analyses inside a sweep) or running where no one watches
(a sweep's worker processes).

Example::

    bar = progress_bar(len(items), desc="sweep", unit="cell")
    for item in items:
        ...
        if bar is not None:
            bar.update(1)
    if bar is not None:
        bar.close()
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator
from typing import Any

__all__ = ["DELAY", "progress_bar", "quiet"]

#: Seconds of work before a bar appears (work that ends sooner shows none).
DELAY = 2.0

_quiet: contextvars.ContextVar[bool] = contextvars.ContextVar("agentlab_quiet_progress", default=False)


def progress_bar(total: float, *, desc: str, unit: str, initial: float = 0, enabled: bool = True) -> Any:
    """A ``tqdm.auto`` bar shown once the work has lasted :data:`DELAY` s, or ``None`` when bars are off.

    ``None`` when ``enabled`` is false or inside :func:`quiet`.

    Example::

        bar = progress_bar(120.0, desc="VAD call.wav", unit="s")
    """
    if not enabled or _quiet.get():
        return None
    from tqdm.auto import tqdm  # imported here: `import agentlab` stays quick

    return tqdm(total=total, initial=initial, desc=desc, unit=unit, delay=DELAY, dynamic_ncols=True)


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """No bars from :func:`progress_bar` inside this block (this context only: threads it starts need a copy).

    Example::

        with quiet():
            analyze_vad("call.wav")     # no bar, whatever it takes
    """
    token = _quiet.set(True)
    try:
        yield
    finally:
        _quiet.reset(token)
