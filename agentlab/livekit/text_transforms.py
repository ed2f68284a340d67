"""``livekit.agents.text_transforms``: stream transforms for ``AgentSession(tts_text_transforms=[...])``.

Each is a callable on the streamed text (``AsyncIterable[str]``), as in LiveKit; the names
``"filter_markdown"`` and ``"filter_emoji"`` select the first two as well.

Example::

    AgentSession(tts_text_transforms=["filter_emoji", text_transforms.replace({"LiveKit": "Live Kit"})])
"""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator, Callable
from typing import Literal, Union

from ..session import transforms as _t
from ..session.transforms import replace as replace  # re-exported
from ._table import names

__all__ = list(names()["livekit.agents.text_transforms"])

#: An entry of ``tts_text_transforms``: a built-in name or a stream transform.
TextTransforms = Union[Literal["filter_markdown", "filter_emoji"], Callable[[AsyncIterable[str]], AsyncIterable[str]]]


def filter_markdown(text: AsyncIterable[str]) -> AsyncIterator[str]:
    """Remove markdown markup from streamed text (markup split across chunks is held until whole)."""
    return _t._builtin_stream(text, [_t.filter_markdown])


def filter_emoji(text: AsyncIterable[str]) -> AsyncIterator[str]:
    """Remove emoji from streamed text."""
    return _t._builtin_stream(text, [_t.filter_emoji])
