"""Text transforms applied before TTS (``tts_text_transforms``): ``filter_markdown``, ``filter_emoji``.

They work on streamed text, so a ``**bold**`` split across chunks is still cleaned. The transforms
change only what is *spoken*; the assistant message in the history keeps the LLM's text.

Example::

    [c async for c in apply_text_transforms(chunks("**Hi** 👋"), ["filter_markdown", "filter_emoji"])]
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterable, AsyncIterator, Callable, Sequence
from typing import Any

__all__ = ["apply_text_transforms", "filter_emoji", "filter_markdown"]

_MARKDOWN = [
    (re.compile(r"```[a-zA-Z0-9]*\n?"), ""),
    (re.compile(r"`([^`]*)`"), r"\1"),
    (re.compile(r"!\[([^\]]*)\]\([^)]*\)"), r"\1"),
    (re.compile(r"\[([^\]]*)\]\([^)]*\)"), r"\1"),
    (re.compile(r"(\*\*|__)(.+?)\1"), r"\2"),
    (re.compile(r"(?<![\w*])\*(?!\s)(.+?)(?<!\s)\*(?![\w*])"), r"\1"),
    (re.compile(r"(?<![\w_])_(?!\s)(.+?)(?<!\s)_(?![\w_])"), r"\1"),
    (re.compile(r"~~(.+?)~~"), r"\1"),
    (re.compile(r"^\s{0,3}#{1,6}\s+", re.M), ""),
    (re.compile(r"^\s{0,3}>\s?", re.M), ""),
    (re.compile(r"^\s*[-*+]\s+", re.M), ""),
    (re.compile(r"^\s*\d+\.\s+", re.M), ""),
]
_EMOJI = re.compile(
    "[\U0001f000-\U0001faff\U00002600-\U000027bf\U0001f900-\U0001f9ff\U00002300-\U000023ff\U0000fe0f\U0000200d\U000e0020-\U000e007f]+"
)


_MARKUP_CHARS = re.compile(r"[*_`#>\[\]~\n]|^\s*([-+]|\d+\.)\s")


def filter_markdown(text: str) -> str:
    """Remove markdown markup (emphasis, headings, links, code fences, list bullets)."""
    if not _MARKUP_CHARS.search(text):
        return text  # the common case in streamed replies: nothing to strip
    for pattern, repl in _MARKDOWN:
        text = pattern.sub(repl, text)
    return text


def filter_emoji(text: str) -> str:
    """Remove emoji and their joiners/variation selectors."""
    return text if text.isascii() else _EMOJI.sub("", text)


_BUILTIN: dict[str, Callable[[str], str]] = {"filter_markdown": filter_markdown, "filter_emoji": filter_emoji}


async def apply_text_transforms(text: AsyncIterable[str], transforms: Sequence[Any] | None) -> AsyncIterator[str]:
    """Apply transforms to streamed text; markup split across chunks is held until it is whole."""
    funcs = [(_BUILTIN[t] if isinstance(t, str) else t) for t in (transforms or ())]
    if not funcs:
        async for chunk in text:
            yield chunk
        return
    buffer = ""
    async for chunk in text:
        buffer += chunk
        # Flush as soon as no markup span is open, so the TTS gets text without waiting;
        # a chunk ending inside ``**bold`` or a link waits for the rest.
        plain = not _MARKUP_CHARS.search(buffer)  # the common case: nothing that could open a span
        if (plain or _balanced(buffer)) and not buffer.endswith(("*", "_", "~", "!")):
            yield _apply(buffer, funcs)
            buffer = ""
    if buffer:
        yield _apply(buffer, funcs)


def _balanced(text: str) -> bool:
    """True when no emphasis, code, strike or link span is left open in ``text``."""
    if text.count("`") % 2 or text.count("~~") % 2 or text.count("[") != text.count("]") or text.count("(") != text.count(")"):
        return False
    stars = text.replace("**", "")
    return text.count("**") % 2 == 0 and stars.count("*") % 2 == 0 and len(__import__("re").findall(r"(?<!\w)_|_(?!\w)", text)) % 2 == 0


def _apply(text: str, funcs: list[Callable[[str], str]]) -> str:
    for f in funcs:
        text = f(text)
    return text
