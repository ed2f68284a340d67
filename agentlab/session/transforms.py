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

__all__ = ["apply_text_transforms", "filter_emoji", "filter_markdown", "replace"]

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
    """Apply ``transforms`` in order to streamed text.

    A name (``"filter_markdown"``, ``"filter_emoji"``) cleans text with markup split across chunks
    held until it is whole. A callable is a stream transform, as in LiveKit: it takes the
    ``AsyncIterable[str]`` and returns (or is) an async iterable of the new text, e.g.
    :func:`replace`.
    """
    stream: AsyncIterable[str] = text
    names: list[Callable[[str], str]] = []
    for t in transforms or ():
        if isinstance(t, str):
            names.append(_BUILTIN[t])
            continue
        if names:
            stream, names = _builtin_stream(stream, names), []
        stream = t(stream)
    if names:
        stream = _builtin_stream(stream, names)
    async for chunk in stream:
        yield chunk


async def _builtin_stream(text: AsyncIterable[str], funcs: list[Callable[[str], str]]) -> AsyncIterator[str]:
    held = BuiltinFilter(funcs)
    async for chunk in text:
        out = held.feed(chunk)
        if out is not None:
            yield out
    out = held.flush()
    if out is not None:
        yield out


class BuiltinFilter:
    """The built-in transforms over streamed text, one chunk at a time: :meth:`feed` returns the
    cleaned text ready to speak (``None`` while markup is still open), :meth:`flush` the rest.

    A TTS pipe whose transforms are all built in feeds this inline instead of stacking async
    generators, which cost time per chunk (:meth:`for_transforms`).

    Example::

        f = BuiltinFilter.for_transforms(["filter_markdown"])
        [f.feed("**Hi"), f.feed("** there"), f.flush()]   # [None, 'Hi there', None]
    """

    __slots__ = ("_buffer", "_funcs", "_plain_funcs")

    def __init__(self, funcs: list[Callable[[str], str]]) -> None:
        self._funcs = funcs
        # Text without a markup character is what filter_markdown returns unchanged: skip it then.
        self._plain_funcs = [f for f in funcs if f is not filter_markdown]
        self._buffer = ""

    @classmethod
    def for_transforms(cls, transforms: Sequence[Any] | None) -> BuiltinFilter | None:
        """A filter for ``transforms`` when all of them are built-in names (or there are none); ``None``
        when one is a stream transform, which needs :func:`apply_text_transforms`."""
        if any(not isinstance(t, str) for t in transforms or ()):
            return None
        return cls([_BUILTIN[t] for t in transforms or ()])

    def feed(self, chunk: str) -> str | None:
        if not self._funcs:
            return chunk
        buffer = self._buffer + chunk
        # Flush as soon as no markup span is open, so the TTS gets text without waiting;
        # a chunk ending inside ``**bold`` or a link waits for the rest.
        plain = not _MARKUP_CHARS.search(buffer)  # the common case: nothing that could open a span
        if (plain or _balanced(buffer)) and not buffer.endswith(("*", "_", "~", "!")):
            self._buffer = ""
            return _apply(buffer, self._plain_funcs if plain else self._funcs)
        self._buffer = buffer
        return None

    def flush(self) -> str | None:
        buffer, self._buffer = self._buffer, ""
        return _apply(buffer, self._funcs) if buffer else None


def replace(replacements: dict[str, str], *, case_sensitive: bool = False) -> Callable[[AsyncIterable[str]], AsyncIterator[str]]:
    """A stream transform that replaces whole words (LiveKit's ``text_transforms.replace``).

    Words split across chunks are still matched: text is held back only while its last word
    could still grow into a key.

    Example::

        AgentSession(tts_text_transforms=["filter_markdown", replace({"LiveKit": "Live Kit"})])
    """
    if not isinstance(replacements, dict) or not all(isinstance(k, str) and k and isinstance(v, str) for k, v in replacements.items()):
        raise ValueError(f"replace: replacements must map non-empty words to strings, got {replacements!r}")
    flags = 0 if case_sensitive else re.IGNORECASE
    keys = sorted(replacements, key=len, reverse=True)
    pattern = re.compile(r"(?<!\w)(" + "|".join(re.escape(k) for k in keys) + r")(?!\w)", flags)
    lookup = {(k if case_sensitive else k.lower()): v for k, v in replacements.items()}

    def sub(text: str) -> str:
        return pattern.sub(lambda m: lookup[m.group(0) if case_sensitive else m.group(0).lower()], text)

    def could_grow(tail: str) -> bool:
        t = tail if case_sensitive else tail.lower()
        return any((k if case_sensitive else k.lower()).startswith(t) for k in keys)

    async def transform(text: AsyncIterable[str]) -> AsyncIterator[str]:
        buffer = ""
        async for chunk in text:
            buffer += chunk
            # Hold the trailing word (and what precedes it on the same key) while a key could still match.
            match = re.search(r"[\w'-]*$", buffer)
            cut = match.start() if match and match.group(0) and could_grow(match.group(0)) else len(buffer)
            # A multi-word key may span the cut: hold back from the earliest key prefix that ends the text.
            for k in keys:
                for n in range(len(k) - 1, 0, -1):
                    head = k[:n]
                    if (buffer.endswith(head) if case_sensitive else buffer.lower().endswith(head.lower())) and " " in head:
                        cut = min(cut, len(buffer) - n)
                        break
            ready, buffer = buffer[:cut], buffer[cut:]
            if ready:
                yield sub(ready)
        if buffer:
            yield sub(buffer)

    return transform


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
