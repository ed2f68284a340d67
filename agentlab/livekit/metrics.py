"""``livekit.agents.metrics``: the metrics a session emits, logging them, and usage totals.

``LLMMetrics``, ``TTSMetrics``, ``STTMetrics`` and ``EOUMetrics`` are the ones agentlab's session
emits in ``metrics_collected`` events. ``ModelUsageCollector`` adds them up per provider and model
(``session.usage`` is built with it); ``UsageCollector`` keeps LiveKit's older flat summary.

Example::

    @session.on("metrics_collected")
    def _(ev: MetricsCollectedEvent):
        metrics.log_metrics(ev.metrics)
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal, Union

from ..session.events import EOUMetrics, LLMMetrics, STTMetrics, TTSMetrics
from ._table import module_getattr, names

__all__ = list(names()["livekit.agents.metrics"])

#: Any metrics object in a ``metrics_collected`` event.
AgentMetrics = Union[LLMMetrics, TTSMetrics, STTMetrics, EOUMetrics]

_logger = logging.getLogger("livekit.agents")


def log_metrics(metrics: Any, *, logger: logging.Logger | None = None) -> None:
    """Log one metrics object at INFO, with the figures that matter for its kind.

    Example::

        log_metrics(ev.metrics)    # "LLM metrics: ttft=0.31s, prompt_tokens=120, ..."
    """
    log = logger or _logger
    kind = getattr(metrics, "type", type(metrics).__name__)
    if kind == "llm_metrics":
        log.info(
            "LLM metrics: ttft=%.2fs, prompt_tokens=%d, completion_tokens=%d, tokens_per_second=%.2f",
            metrics.ttft,
            metrics.prompt_tokens,
            metrics.completion_tokens,
            metrics.tokens_per_second,
        )
    elif kind == "tts_metrics":
        log.info("TTS metrics: ttfb=%.2fs, audio_duration=%.2fs", metrics.ttfb, metrics.audio_duration)
    elif kind == "stt_metrics":
        log.info("STT metrics: audio_duration=%.2fs", metrics.audio_duration)
    elif kind == "eou_metrics":
        log.info(
            "EOU metrics: end_of_utterance_delay=%.2fs, transcription_delay=%.2fs",
            metrics.end_of_utterance_delay,
            metrics.transcription_delay,
        )
    else:
        log.info("%s: %s", kind, metrics)


@dataclass
class UsageSummary:
    """Totals over a session's metrics (LiveKit's flat summary)."""

    llm_prompt_tokens: int = 0
    llm_prompt_cached_tokens: int = 0
    llm_input_audio_tokens: int = 0
    llm_input_cached_audio_tokens: int = 0
    llm_input_text_tokens: int = 0
    llm_input_cached_text_tokens: int = 0
    llm_input_image_tokens: int = 0
    llm_input_cached_image_tokens: int = 0
    llm_completion_tokens: int = 0
    llm_output_audio_tokens: int = 0
    llm_output_image_tokens: int = 0
    llm_output_text_tokens: int = 0
    tts_characters_count: int = 0
    tts_audio_duration: float = 0.0
    stt_audio_duration: float = 0.0
    stt_input_tokens: int = 0
    stt_output_tokens: int = 0
    stt_input_audio_tokens: int = 0


class UsageCollector:
    """Adds metrics up into a :class:`UsageSummary`.

    Example::

        usage = UsageCollector()
        session.on("metrics_collected", lambda ev: usage.collect(ev.metrics))
        usage.get_summary().llm_prompt_tokens
    """

    def __init__(self) -> None:
        self._models = ModelUsageCollector()  # one place adds the figures up; the summary totals it

    def collect(self, metrics: Any) -> None:
        self._models.collect(metrics)

    def get_summary(self) -> UsageSummary:
        s = UsageSummary()
        for u in self._models.flatten():
            if u.type == "llm_usage":
                s.llm_prompt_tokens += u.input_tokens
                s.llm_prompt_cached_tokens += u.input_cached_tokens
                s.llm_input_text_tokens += u.input_text_tokens
                s.llm_input_cached_text_tokens += u.input_cached_text_tokens
                s.llm_completion_tokens += u.output_tokens
                s.llm_output_text_tokens += u.output_text_tokens
            elif u.type == "tts_usage":
                s.tts_characters_count += u.characters_count
                s.tts_audio_duration += u.audio_duration
            else:
                s.stt_audio_duration += u.audio_duration
        return s


@dataclass
class LLMModelUsage:
    """Tokens used by one LLM (provider, model)."""

    provider: str = ""
    model: str = ""
    input_tokens: int = 0
    input_cached_tokens: int = 0
    input_cache_creation_tokens: int = 0
    input_audio_tokens: int = 0
    input_cached_audio_tokens: int = 0
    input_text_tokens: int = 0
    input_cached_text_tokens: int = 0
    input_image_tokens: int = 0
    input_cached_image_tokens: int = 0
    output_tokens: int = 0
    output_audio_tokens: int = 0
    output_text_tokens: int = 0
    output_reasoning_tokens: int = 0
    session_duration: float = 0.0
    type: Literal["llm_usage"] = "llm_usage"


@dataclass
class TTSModelUsage:
    """Characters and audio produced by one TTS (provider, model)."""

    provider: str = ""
    model: str = ""
    input_tokens: int = 0
    output_tokens: int = 0
    characters_count: int = 0
    audio_duration: float = 0.0
    type: Literal["tts_usage"] = "tts_usage"


@dataclass
class STTModelUsage:
    """Audio transcribed by one STT (provider, model)."""

    provider: str = ""
    model: str = ""
    input_tokens: int = 0
    input_audio_tokens: int = 0
    output_tokens: int = 0
    audio_duration: float = 0.0
    type: Literal["stt_usage"] = "stt_usage"


ModelUsage = Union[LLMModelUsage, TTSModelUsage, STTModelUsage]


@dataclass
class AgentSessionUsage:
    """``session.usage``: one usage entry per (kind, provider, model) the session used."""

    model_usage: list[Any] = field(default_factory=list)


class ModelUsageCollector:
    """Adds metrics up per (kind, provider, model).

    Example::

        collector = ModelUsageCollector()
        for m in metrics: collector.collect(m)
        collector.flatten()   # [LLMModelUsage(provider='openai', model='gpt-4.1-mini', ...), ...]
    """

    def __init__(self) -> None:
        self._usage: dict[tuple[str, str, str], Any] = {}

    def collect(self, metrics: Any) -> None:
        kind = getattr(metrics, "type", None)
        cls = {"llm_metrics": LLMModelUsage, "tts_metrics": TTSModelUsage, "stt_metrics": STTModelUsage}.get(kind)
        if cls is None:
            return
        key = (kind, metrics.provider, metrics.model)
        usage = self._usage.get(key)
        if usage is None:
            usage = self._usage[key] = cls(provider=metrics.provider, model=metrics.model)
        if kind == "llm_metrics":
            usage.input_tokens += metrics.prompt_tokens
            usage.input_cached_tokens += metrics.prompt_cached_tokens
            usage.input_text_tokens += metrics.prompt_tokens
            usage.input_cached_text_tokens += metrics.prompt_cached_tokens
            usage.output_tokens += metrics.completion_tokens
            usage.output_text_tokens += metrics.completion_tokens
        elif kind == "tts_metrics":
            usage.characters_count += metrics.characters_count
            usage.audio_duration += metrics.audio_duration
        else:
            usage.audio_duration += metrics.audio_duration

    def flatten(self) -> list[Any]:
        return list(self._usage.values())


def session_usage(events: Iterable[Any]) -> AgentSessionUsage:
    """The :class:`AgentSessionUsage` of a session's events (what ``session.usage`` returns)."""
    collector = ModelUsageCollector()
    for e in events:
        if getattr(e, "type", None) == "metrics_collected":
            collector.collect(e.metrics)
    return AgentSessionUsage(model_usage=collector.flatten())


__getattr__ = module_getattr("livekit.agents.metrics")
