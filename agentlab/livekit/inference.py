"""``livekit.agents.inference``: LiveKit Inference's model strings, mapped to agentlab's components.

LiveKit Inference is a cloud service; agentlab runs offline. So:

* ``LLM("openai/gpt-4.1-mini")`` is agentlab's OpenAI adapter when ``OPENAI_API_KEY`` (or
  ``api_key=``/``base_url=``) is given. Without one it raises, saying how to run offline.
* ``STT(...)``, ``TTS(...)`` and ``VAD(...)`` are agentlab's offline components: scripted
  transcripts (the simulation's own), :class:`~agentlab.ScriptedTTS` timing, and the session's
  VAD analysis.

When agentlab runs an agent file itself (``agentlab console FILE``, ``AgentFile.start``), it can
hand these functions the components to use (:func:`~agentlab.models.offline.offline_components`):
the console's scripted LLM when no key is set, no TTS for a text chat.

Example::

    session = AgentSession(llm=inference.LLM("openai/gpt-4.1-mini"), tts=inference.TTS("cartesia/sonic-3"))
"""

from __future__ import annotations

import os
from typing import Any

from .._unsupported import Unsupported
from ..models.offline import NOT_OVERRIDDEN, offline_stt, offline_tts, offline_vad, override
from ._table import module_getattr, names

__all__ = list(names()["livekit.agents.inference"])

#: Model names are strings ("provider/model").
LLMModels = str
STTModels = str
TTSModels = str
VADModels = str


def LLM(model: str, *, provider: str | None = None, base_url: str | None = None, api_key: str | None = None, **_: Any) -> Any:
    """The LLM for a LiveKit Inference model string: agentlab's OpenAI adapter when it can reach one.

    ``"openai/…"`` uses ``OPENAI_API_KEY`` (or ``api_key``); any model with ``base_url`` goes to that
    OpenAI-compatible server. Otherwise this raises with how to run offline.
    """
    chosen = override("llm")
    if chosen is not NOT_OVERRIDDEN:
        return chosen
    vendor, _, name = model.partition("/") if "/" in model else ("openai", "", model)
    vendor = provider or vendor
    if base_url is not None or (vendor == "openai" and (api_key or os.environ.get("OPENAI_API_KEY"))):
        from ..models.openai import OpenAILLM

        return OpenAILLM(model=name or model, api_key=api_key, base_url=base_url)
    raise Unsupported(
        f"inference.LLM({model!r}) needs LiveKit Inference (a cloud service). agentlab runs it offline with a "
        "scripted LLM under `agentlab console FILE` (no key needed); with OPENAI_API_KEY set it uses OpenAI for "
        "'openai/...' models; pass base_url= for any OpenAI-compatible server."
    )


def llm_from_model_string(model: str) -> Any:
    """``LLM(model)``."""
    return LLM(model)


def STT(model: Any = None, *, language: Any = None, **_: Any) -> Any:
    """Offline speech-to-text: ``None``, i.e. the simulation's own transcripts (scripts, labels or Whisper)."""
    return offline_stt()


def TTS(model: Any = None, *, voice: Any = None, language: Any = None, **_: Any) -> Any:
    """Offline text-to-speech: a :class:`~agentlab.ScriptedTTS` (speaking time from the words)."""
    return offline_tts()


def VAD(model: Any = None, **_: Any) -> Any:
    """Offline VAD: ``None``, i.e. the session's own VAD (scripted inputs, or analysis of recordings)."""
    return offline_vad()


__getattr__ = module_getattr("livekit.agents.inference")
