"""Small shared helpers: ids, the NOT_GIVEN sentinel, and running coroutines from sync code."""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import itertools
import math
import os
import stat
import threading
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")


class _NotGiven:
    """Sentinel for "argument not passed", distinct from an explicit ``None``."""

    _instance: _NotGiven | None = None

    def __new__(cls) -> _NotGiven:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "NOT_GIVEN"

    def __bool__(self) -> bool:
        return False


NOT_GIVEN: Any = _NotGiven()


def is_given(value: object) -> bool:
    """True when ``value`` is not the ``NOT_GIVEN`` sentinel."""
    return value is not NOT_GIVEN


def is_finite_number(value: object) -> bool:
    """An ``int`` or ``float`` that is finite; a bool is not a number here (``True`` is not 1 second).

    NaN slips through comparisons like ``< 0``, and an infinite delay never arrives (it hangs a
    run), so every number read from a user is checked with this.
    """
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


class IdFactory:
    """Deterministic ids (``prefix_1``, ``prefix_2`` ...) so that two simulated runs match bit for bit.

    Random uuids would make event frames of identical runs differ; a counter per session does not.
    """

    def __init__(self) -> None:
        self._counters: dict[str, itertools.count[int]] = {}

    def __call__(self, prefix: str) -> str:
        counter = self._counters.setdefault(prefix, itertools.count(1))
        return f"{prefix}_{next(counter)}"


_global_ids = IdFactory()

#: The id factory of the run in progress; a simulated run sets its own so ids repeat run to run.
current_ids: contextvars.ContextVar[IdFactory | None] = contextvars.ContextVar("agentlab_ids", default=None)


_SCALES = [10.0**d for d in range(16)]


def rounded(x: float, digits: int = 9) -> float:
    """``round(x, digits)``, the same float, without formatting ``x`` as CPython's ``round`` does
    (it prints the float and parses the digits back: a few times slower, and a simulated turn
    rounds some twenty times).

    ``p = x * 10**digits`` is within half an ulp of the exact product: at most 1/8 while
    ``|p| < 2**50``. So when ``p`` lies within 1/4 of an integer ``n``, the exact product lies
    within 3/8 of it and ``n`` is the correctly rounded value; ``n / 10**digits`` is then the float
    nearest to it, which is what ``round`` returns. Otherwise (near a tie, huge, not finite, a
    zero that keeps its sign) ``round`` decides.

    Example::

        rounded(0.1 + 0.2) == round(0.1 + 0.2, 9) == 0.3   # True
    """
    scale = _SCALES[digits]
    p = x * scale
    if -1e15 < p < 1e15:
        n = round(p)
        if n and -0.25 <= p - n <= 0.25:
            return n / scale
    return round(x, digits)


def shortuuid(prefix: str) -> str:
    """A readable id such as ``item_3``, counted per simulated run (process-wide otherwise)."""
    return (current_ids.get() or _global_ids)(prefix)


def run_sync(factory: Callable[[], Awaitable[T]], *, loop_factory: Callable[[], asyncio.AbstractEventLoop] | None = None) -> T:
    """Run ``factory()`` to completion from synchronous code, also inside Jupyter.

    Jupyter's kernel already runs an event loop in the main thread, where ``asyncio.run`` raises
    "cannot be called from a running event loop". In that case the coroutine runs on a fresh
    loop in a worker thread and this call blocks until it finishes. ``factory`` is called on the
    loop that runs it, so every object it creates belongs to that loop.
    """

    def _run() -> T:
        loop = loop_factory() if loop_factory is not None else asyncio.new_event_loop()
        try:
            asyncio.set_event_loop(loop)
            return loop.run_until_complete(factory())
        finally:
            try:
                _cancel_all(loop)
            finally:
                asyncio.set_event_loop(None)
                loop.close()

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return _run()

    box: dict[str, Any] = {}

    def _target() -> None:
        try:
            box["value"] = _run()
        except BaseException as exc:  # re-raised in the caller's thread
            box["error"] = exc

    thread = threading.Thread(target=_target, name="agentlab-run-sync", daemon=True)
    thread.start()
    thread.join()
    if "error" in box:
        raise box["error"]
    return box["value"]


def _cancel_all(loop: asyncio.AbstractEventLoop) -> None:
    tasks = [t for t in asyncio.all_tasks(loop) if not t.done()]
    for t in tasks:
        t.cancel()
    if tasks:
        loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
    loop.run_until_complete(loop.shutdown_asyncgens())


def atomic_write(path: str | os.PathLike[str], write: Callable[[str], object]) -> Path:
    """Write a file so readers never see half of it: ``write(tmp)`` fills a temporary file in the
    same folder, which then replaces ``path`` in one step; on failure the temporary file is removed
    and ``path`` is left as it was.

    Example::

        atomic_write("out.json", lambda tmp: Path(tmp).write_text("{}"))
    """
    target = Path(path)
    tmp = _temp_beside(target)
    try:
        write(tmp)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return target


def _temp_beside(target: Path) -> str:
    """Create an empty temporary file next to ``target`` with the permissions a plain ``open(target, "w")``
    would leave: ``target``'s own mode when it exists, else 0o666 less the umask (0o644 usually).
    ``tempfile.mkstemp`` makes 0o600 files, which would make every WAV, CSV or JSON written for the
    user private to them."""
    for _ in range(100):
        tmp = target.parent / f".{target.name}.{os.urandom(6).hex()}.tmp"
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)  # the umask applies, as for any new file
        except FileExistsError:
            continue
        os.close(fd)
        with contextlib.suppress(OSError):  # no target yet (or unreadable): keep the new-file mode
            os.chmod(tmp, stat.S_IMODE(target.stat().st_mode))
        return str(tmp)
    raise FileExistsError(f"could not create a temporary file next to {target}")
