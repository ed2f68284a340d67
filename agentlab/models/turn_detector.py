"""End-of-turn models: P(the user has finished) for a transcript, and per-language thresholds.

The engine asks a detector once the user stops (reference §4.3): below the language's *unlikely*
threshold the turn waits ``max_delay`` instead of ``min_delay``. Inference time is modelled, not
measured (``latency``), so simulations stay deterministic on the virtual clock.

:class:`TextTurnDetector` is a deterministic baseline that reads the transcript the way people
do: a sentence that ends cleanly is probably complete; one that trails off on "and", "um", a
comma, an article or half a phone number probably is not. It is a baseline to compare real
models against, not a learned model.

Example::

    detector = TextTurnDetector()
    detector.predict("I'd like a table for")      # 0.05: unlikely to be over
    AgentSession(turn_handling={"turn_detection": detector, "endpointing": {"max_delay": 2.0}})
"""

from __future__ import annotations

import re

__all__ = ["UNLIKELY_THRESHOLDS", "TextTurnDetector"]

#: LiveKit's v1-mini per-language unlikely thresholds (reference §4.3); unknown languages use English.
UNLIKELY_THRESHOLDS: dict[str, float] = {
    "en": 0.36,
    "es": 0.35,
    "fr": 0.285,
    "de": 0.245,
    "it": 0.23,
    "ja": 0.295,
    "zh": 0.355,
    "ko": 0.40,
    "nl": 0.20,
    "pt": 0.32,
}

_TRAILING = {
    "and", "or", "but", "so", "because", "then", "um", "uh", "er", "erm", "like", "the", "a", "an", "to", "for", "of", "at",
    "in", "on", "with", "my", "your", "is", "it's", "i'm", "we", "i", "if", "that", "which", "who", "about", "maybe", "plus",
}  # fmt: skip
_DIGITS = {"zero", "oh", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "dot", "at", "dash"}


class TextTurnDetector:
    """A deterministic text end-of-turn baseline (see the module docstring).

    ``latency`` (seconds) is the modelled inference time; ``thresholds`` overrides per-language
    unlikely thresholds.
    """

    model = "text-baseline"
    provider = "agentlab"

    def __init__(self, *, latency: float = 0.02, thresholds: dict[str, float] | None = None) -> None:
        if latency < 0:
            raise ValueError(f"TextTurnDetector: latency = {latency!r} must be >= 0 seconds")
        self.latency = latency
        self.thresholds = {**UNLIKELY_THRESHOLDS, **(thresholds or {})}

    def unlikely_threshold(self, language: str | None) -> float | None:
        """The cut for ``language`` (``"en-US"`` → ``"en"``); English when unknown."""
        base = (language or "en").split("-")[0].lower()
        return self.thresholds.get(base, self.thresholds["en"])

    def predict(self, transcript: str, *, language: str | None = None, speech_end: float | None = None) -> float:
        """P(the turn is over) for ``transcript`` (``speech_end`` is for audio models; ignored here)."""
        text = transcript.strip()
        if not text:
            return 0.5
        words = re.findall(r"[\w']+", text.lower())
        if text.endswith((",", "-", "...", "…", ":")):
            return 0.05
        if words and words[-1] in _TRAILING:
            return 0.1
        tail = words[-4:]
        if len(tail) >= 3 and all(w in _DIGITS or w.isdigit() for w in tail):
            return 0.15  # reading out digits: more are likely to follow
        if text.endswith("?"):
            return 0.95
        if text.endswith((".", "!")):
            return 0.9
        return 0.6

    def __repr__(self) -> str:
        return f"TextTurnDetector(latency={self.latency})"
