"""``livekit.plugins.*`` offline: provider plugins become agentlab's components.

LiveKit files build their models from plugins: ``openai.LLM(model="gpt-4.1-mini")``,
``deepgram.STT()``, ``cartesia.TTS(voice=...)``, ``silero.VAD.load()``, a turn detector, noise
cancellation. With the import hook on, every ``livekit.plugins.<vendor>`` resolves here:

* ``LLM(model=...)`` is ``inference.LLM("<vendor>/<model>")``: OpenAI's with a key (or ``base_url``),
  the console's scripted LLM offline;
* ``STT(...)``, ``TTS(...)`` and ``VAD.load()`` are agentlab's offline components (``inference``);
* realtime models are stand-ins (not simulated);
* anything else a file builds (a turn detector, noise cancellation, an avatar) becomes ``None``,
  with a warning: the session then uses its defaults (VAD endpointing, no filter).
"""

from __future__ import annotations

import types
import warnings
from collections.abc import Callable
from typing import Any

from .._unsupported import stand_in

__all__ = ["OfflinePluginWarning", "plugin_module"]


class OfflinePluginWarning(UserWarning):
    """A plugin object with no offline equivalent was replaced by ``None``."""


def plugin_module(name: str) -> types.ModuleType:
    """The offline stand-in for the plugin module ``name`` (``livekit.plugins.openai``...)."""
    return _Plugin(name)


class _Plugin(types.ModuleType):
    def __init__(self, name: str) -> None:
        super().__init__(name, f"agentlab's offline view of {name}")
        self.__path__: list[str] = []

    @property
    def _vendor(self) -> str:
        parts = self.__name__.split(".")
        return parts[2] if len(parts) > 2 else ""

    def __getattr__(self, attr: str) -> Any:
        if attr.startswith("__"):
            raise AttributeError(attr)
        if attr == "LLM":
            return _llm_factory(self._vendor)
        if attr in ("STT", "TTS"):
            from . import inference

            return getattr(inference, attr)
        if attr == "VAD":
            return _VAD
        if "Realtime" in attr or "Duplex" in attr:
            return stand_in(f"{self.__name__}.{attr}", "speech-to-speech (realtime) models are not simulated")
        if attr[:1].islower():
            return _Plugin(f"{self.__name__}.{attr}")  # a submodule (openai.realtime, turn_detector.multilingual)
        return _none_factory(f"{self.__name__}.{attr}")


def _llm_factory(vendor: str) -> Callable[..., Any]:
    def LLM(*, model: str = "gpt-4.1-mini", base_url: str | None = None, api_key: str | None = None, **_: Any) -> Any:
        from . import inference

        return inference.LLM(f"{vendor}/{model}", base_url=base_url, api_key=api_key)

    return LLM


class _VAD:
    """``silero.VAD.load()``: the session's own VAD (scripts and recordings are analysed offline)."""

    @classmethod
    def load(cls, **_: Any) -> Any:
        from . import inference

        return inference.VAD()


def _none_factory(name: str) -> Callable[..., None]:
    def build(*args: Any, **kwargs: Any) -> None:
        warnings.warn(
            f"{name} has no offline equivalent in agentlab; None is used (the session's default)", OfflinePluginWarning, stacklevel=2
        )
        return None

    build.__name__ = name.rsplit(".", 1)[-1]
    return build
