"""Session options: LiveKit 1.8.9's ``turn_handling`` dict, the older flat keywords, defaults and ranges.

``AgentSession(turn_handling={...})`` and ``AgentSession(min_endpointing_delay=...)`` both end up
here and become one frozen :class:`SessionOptions`. As in LiveKit, flat keywords are deprecated and
only used when ``turn_handling`` is absent; unlike LiveKit (which ignores them silently) we warn
when both are given, and we reject unknown ``turn_handling`` keys so a typo cannot pass unnoticed.

Example::

    opts = build_options(turn_handling={"endpointing": {"min_delay": 0.3}}, max_tool_steps=2)
    opts.endpointing.min_delay       # 0.3
    opts.replace(**{"interruption.min_words": 2}).interruption.min_words   # 2
"""

from __future__ import annotations

import dataclasses
import numbers
import warnings
from dataclasses import field
from typing import Any

from .._frozen import frozen
from .._utils import NOT_GIVEN, is_finite_number, is_given
from ..engine.turns import EngineConfig

__all__ = [
    "EndpointingOptions",
    "InterruptionOptions",
    "PreemptiveGenerationOptions",
    "SessionOptions",
    "UserTurnLimitOptions",
    "build_options",
]

TURN_DETECTION_MODES = ("vad", "stt", "manual", "realtime_llm")


@frozen
class EndpointingOptions:
    """When a user turn is considered over. ``max_delay`` is only used with a turn-detector model."""

    mode: str = "fixed"
    min_delay: float = 0.5
    max_delay: float = 3.0
    alpha: float = 0.9


@frozen
class InterruptionOptions:
    """When user speech interrupts the agent, and whether a false interruption resumes."""

    enabled: bool = True
    mode: str | None = None
    discard_audio_if_uninterruptible: bool = True
    min_duration: float = 0.5
    min_words: int = 0
    resume_false_interruption: bool = True
    false_interruption_timeout: float | None = 2.0
    backchannel_boundary: tuple[float, float] = (1.0, 1.0)


@frozen
class PreemptiveGenerationOptions:
    """Start the LLM before the user turn is committed."""

    enabled: bool = True
    preemptive_tts: bool = False
    max_speech_duration: float = 10.0
    max_retries: int = 3


@frozen
class UserTurnLimitOptions:
    """Words or seconds of user speech after which ``Agent.on_user_turn_exceeded`` runs."""

    max_words: int | None = None
    max_duration: float | None = None


@frozen
class SessionOptions:
    """Every session option, resolved and validated. Build with :func:`build_options`.

    ``turn_detection`` is ``None`` (VAD/STT endpointing), a mode string, or a turn-detector object.
    Deviation from LiveKit: its default is an audio end-of-turn model; ours is ``None`` because that
    model is not available offline. ``wake_up`` is VideoSDK's inactivity timer (seconds).
    ``tool_timeout`` (agentlab's; LiveKit has none) ends a tool that runs longer with an error output.
    """

    turn_detection: Any = None
    endpointing: EndpointingOptions = field(default_factory=EndpointingOptions)
    interruption: InterruptionOptions = field(default_factory=InterruptionOptions)
    preemptive_generation: PreemptiveGenerationOptions = field(default_factory=PreemptiveGenerationOptions)
    user_turn_limit: UserTurnLimitOptions = field(default_factory=UserTurnLimitOptions)
    max_tool_steps: int = 3
    user_away_timeout: float | None = 15.0
    min_consecutive_speech_delay: float = 0.0
    tts_text_transforms: tuple[str, ...] | None = ("filter_markdown", "filter_emoji")
    aec_warmup_duration: float | None = 3.0
    use_tts_aligned_transcript: bool = False
    transcription_timeout: float | None = None
    session_close_transcript_timeout: float = 2.0
    max_unrecoverable_errors: int = 3
    wake_up: float | None = None
    tool_timeout: float | None = None

    def to_turn_handling(self) -> dict[str, Any]:
        """The ``turn_handling`` dict LiveKit 1.8 accepts for these options."""
        return {
            "turn_detection": self.turn_detection,
            "endpointing": dataclasses.asdict(self.endpointing),
            "interruption": dataclasses.asdict(self.interruption),
            "preemptive_generation": dataclasses.asdict(self.preemptive_generation),
            "user_turn_limit": dataclasses.asdict(self.user_turn_limit),
        }

    def engine_config(self, *, has_stt: bool = True, pausable: bool = True) -> EngineConfig:
        """The turn engine's view of these options (``has_stt``/``pausable`` describe the wiring).

        Example::

            build_options(turn_handling={"endpointing": {"min_delay": 0.3}}).engine_config().min_delay   # 0.3
        """
        td = self.turn_detection
        i, p, e = self.interruption, self.preemptive_generation, self.endpointing
        return EngineConfig(
            mode=td if isinstance(td, str) and td in ("vad", "stt", "manual") else None,
            min_delay=e.min_delay,
            max_delay=e.max_delay,
            dynamic=e.mode == "dynamic",
            alpha=e.alpha,
            interruptions=i.enabled,
            min_duration=i.min_duration,
            min_words=i.min_words,
            resume_false_interruption=i.resume_false_interruption,
            false_interruption_timeout=i.false_interruption_timeout,
            discard_audio_if_uninterruptible=i.discard_audio_if_uninterruptible,
            preemptive=p.enabled,
            preemptive_max_speech_duration=p.max_speech_duration,
            preemptive_max_retries=p.max_retries,
            aec_warmup_duration=self.aec_warmup_duration,
            has_vad=True,
            has_stt=has_stt,
            pausable=pausable,
            detector=td if td is not None and not isinstance(td, str) else None,
        )

    def to_dict(self) -> dict[str, Any]:
        """All options as plain values (turn-detector objects shown by their class name)."""
        out = dataclasses.asdict(self)
        if self.turn_detection is not None and not isinstance(self.turn_detection, str):
            out["turn_detection"] = type(self.turn_detection).__name__
        return out

    def replace(self, **changes: Any) -> SessionOptions:
        """A copy with some options changed; nested ones by dotted name (``"endpointing.min_delay"``).

        The result is validated like the constructor's input.
        """
        nested: dict[str, dict[str, Any]] = {}
        top: dict[str, Any] = {}
        for key, value in changes.items():
            if "." in key:
                group, sub = key.split(".", 1)
                nested.setdefault(group, {})[sub] = value
            else:
                top[key] = value
        th = self.to_turn_handling()
        for group, subs in nested.items():
            if group not in _GROUPS:
                raise ValueError(f"SessionOptions.replace: unknown option group {group!r}; expected one of {sorted(_GROUPS)}")
            th[group] = {**th[group], **subs}
        if "turn_detection" in top:
            th["turn_detection"] = top.pop("turn_detection")
        for group in _GROUPS:
            if group in top:
                value = top.pop(group)
                th[group] = {**th[group], **(dataclasses.asdict(value) if dataclasses.is_dataclass(value) else value)}
        rest = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name not in _GROUPS and f.name != "turn_detection"}
        unknown = set(top) - set(rest)
        if unknown:
            raise ValueError(f"SessionOptions.replace: unknown option(s) {sorted(unknown)}")
        rest.update(top)
        return build_options(turn_handling=th, **rest)


_GROUPS: dict[str, type] = {
    "endpointing": EndpointingOptions,
    "interruption": InterruptionOptions,
    "preemptive_generation": PreemptiveGenerationOptions,
    "user_turn_limit": UserTurnLimitOptions,
}

#: LiveKit's deprecated flat keyword → (group, key). ``allow_interruptions`` and
#: ``preemptive_generation`` need value translation and are handled in :func:`build_options`.
_FLAT_KWARGS: dict[str, tuple[str, str]] = {
    "min_endpointing_delay": ("endpointing", "min_delay"),
    "max_endpointing_delay": ("endpointing", "max_delay"),
    "min_interruption_duration": ("interruption", "min_duration"),
    "min_interruption_words": ("interruption", "min_words"),
    "false_interruption_timeout": ("interruption", "false_interruption_timeout"),
    "agent_false_interruption_timeout": ("interruption", "false_interruption_timeout"),
    "resume_false_interruption": ("interruption", "resume_false_interruption"),
    "discard_audio_if_uninterruptible": ("interruption", "discard_audio_if_uninterruptible"),
}
DEPRECATED_KWARGS = (*_FLAT_KWARGS, "allow_interruptions", "preemptive_generation", "turn_detection")


def fold_flat_keywords(flat: dict[str, Any], into: dict[str, Any] | None = None) -> dict[str, Any]:
    """LiveKit's flat keywords (``min_endpointing_delay=0.4``...) as a ``turn_handling`` dict,
    merged into ``into`` (a copy) when given.

    Example::

        fold_flat_keywords({"min_endpointing_delay": 0.4})   # {'endpointing': {'min_delay': 0.4}}
    """
    th = {k: dict(v) if isinstance(v, dict) else v for k, v in (into or {}).items()}
    # ``agent_false_interruption_timeout`` is an alias that wins over the plain name.
    for key in sorted(flat, key=lambda k: k == "agent_false_interruption_timeout"):
        value = flat[key]
        if key in _FLAT_KWARGS:
            group, sub = _FLAT_KWARGS[key]
            th.setdefault(group, {})[sub] = value
        elif key == "allow_interruptions":
            _check_bool("allow_interruptions", value)
            if value is False:
                th.setdefault("interruption", {})["enabled"] = False
        elif key == "preemptive_generation":
            if not isinstance(value, dict):
                _check_bool("preemptive_generation", value)
            th["preemptive_generation"] = value if isinstance(value, dict) else {"enabled": value}
        elif key == "turn_detection":
            th["turn_detection"] = value
    return th


def build_options(turn_handling: Any = NOT_GIVEN, **kwargs: Any) -> SessionOptions:
    """Resolve ``turn_handling`` or the flat keywords plus the other session options.

    Raises ``ValueError`` naming the option, the value and the allowed range for anything invalid.
    """
    flat = {k: kwargs.pop(k) for k in list(kwargs) if k in DEPRECATED_KWARGS and is_given(kwargs[k])}
    th: dict[str, Any]
    if is_given(turn_handling) and turn_handling is not None:
        if not isinstance(turn_handling, dict):
            raise ValueError(f"AgentSession: turn_handling must be a dict, got {type(turn_handling).__name__}")
        th = dict(turn_handling)
        if flat:
            warnings.warn(
                f"AgentSession: turn_handling was given, so the deprecated keyword(s) {sorted(flat)} are ignored (as in LiveKit)",
                DeprecationWarning,
                stacklevel=3,
            )
    else:
        th = {}
        if flat:
            warnings.warn(
                f"AgentSession: {sorted(flat)} are deprecated; use turn_handling={{...}} (LiveKit 1.8)",
                DeprecationWarning,
                stacklevel=3,
            )
        th = fold_flat_keywords(flat)

    unknown = set(th) - {*_GROUPS, "turn_detection"}
    if unknown:
        raise ValueError(f"AgentSession: unknown turn_handling key(s) {sorted(unknown)}; expected {sorted([*_GROUPS, 'turn_detection'])}")
    groups: dict[str, Any] = {}
    for group, klass in _GROUPS.items():
        raw = th.get(group) or {}
        if dataclasses.is_dataclass(raw):
            raw = dataclasses.asdict(raw)
        if not isinstance(raw, dict):
            raise ValueError(f"AgentSession: turn_handling[{group!r}] must be a dict, got {raw!r}")
        names = {f.name for f in dataclasses.fields(klass)}
        bad = set(raw) - names
        if bad:
            raise ValueError(f"AgentSession: unknown key(s) {sorted(bad)} in turn_handling[{group!r}]; expected {sorted(names)}")
        if isinstance(raw.get("backchannel_boundary"), list):  # from JSON/YAML; _validate checks the pair
            raw = {**raw, "backchannel_boundary": tuple(raw["backchannel_boundary"])}
        groups[group] = klass(**raw)
    if isinstance(kwargs.get("tts_text_transforms"), list):  # _validate checks what it holds
        kwargs["tts_text_transforms"] = tuple(kwargs["tts_text_transforms"])
    kwargs = {k: v for k, v in kwargs.items() if is_given(v)}
    opts = SessionOptions(turn_detection=th.get("turn_detection"), **groups, **kwargs)
    _validate(opts)
    return opts


def _check(
    name: str,
    value: Any,
    *,
    low: float | None = None,
    high: float | None = None,
    optional: bool = False,
    integer: bool = False,
    strict_low: bool = False,
    allowed: str = "",
) -> None:
    if value is None and optional:
        return
    # None (where allowed) means "off"; infinity would be a timer that never fires, and hangs a run.
    ok = is_finite_number(value) or (isinstance(value, numbers.Integral) and not isinstance(value, bool))  # numpy ints too
    if ok and integer and not isinstance(value, numbers.Integral):
        ok = False
    if ok and low is not None:
        ok = value > low if strict_low else value >= low
    if ok and high is not None:
        ok = value <= high
    if not ok:
        if not allowed:
            kind = "an integer" if integer else "a number"
            parts = [f"{'>' if strict_low else '>='} {low}" if low is not None else "", f"<= {high}" if high is not None else ""]
            allowed = f"{kind} {' and '.join(p for p in parts if p)}".strip() + (" or None" if optional else "")
        raise ValueError(f"AgentSession: {name} = {value!r} is out of range; allowed: {allowed}")


def _check_bool(name: str, value: Any) -> None:
    # "no" or "false" would otherwise count as true
    if not isinstance(value, bool):
        raise ValueError(f"AgentSession: {name} = {value!r} must be True or False")


def _validate(o: SessionOptions) -> None:
    e, i, p, u = o.endpointing, o.interruption, o.preemptive_generation, o.user_turn_limit
    for name, value in (
        ("interruption.enabled", i.enabled),
        ("interruption.resume_false_interruption", i.resume_false_interruption),
        ("interruption.discard_audio_if_uninterruptible", i.discard_audio_if_uninterruptible),
        ("preemptive_generation.enabled", p.enabled),
        ("preemptive_generation.preemptive_tts", p.preemptive_tts),
        ("use_tts_aligned_transcript", o.use_tts_aligned_transcript),
    ):
        _check_bool(name, value)
    if e.mode not in ("fixed", "dynamic"):
        raise ValueError(f"AgentSession: endpointing.mode = {e.mode!r} is not allowed; expected 'fixed' or 'dynamic'")
    _check("endpointing.min_delay", e.min_delay, low=0, high=60)
    _check("endpointing.max_delay", e.max_delay, low=0, high=60)
    if e.max_delay < e.min_delay:
        raise ValueError(
            f"AgentSession: endpointing.max_delay = {e.max_delay!r} is out of range; allowed: >= endpointing.min_delay ({e.min_delay})"
        )
    _check("endpointing.alpha", e.alpha, low=0, high=1)
    if i.mode not in (None, "vad", "adaptive"):
        raise ValueError(f"AgentSession: interruption.mode = {i.mode!r} is not allowed; expected 'vad', 'adaptive' or None")
    _check("interruption.min_duration", i.min_duration, low=0, high=60)
    _check("interruption.min_words", i.min_words, low=0, integer=True)
    _check("interruption.false_interruption_timeout", i.false_interruption_timeout, low=0, high=60, optional=True)
    if not isinstance(i.backchannel_boundary, tuple) or len(i.backchannel_boundary) != 2:
        raise ValueError(f"AgentSession: interruption.backchannel_boundary = {i.backchannel_boundary!r} must be a pair of seconds")
    for b in i.backchannel_boundary:
        _check("interruption.backchannel_boundary", b, low=0)
    _check("preemptive_generation.max_speech_duration", p.max_speech_duration, low=0, strict_low=True)
    _check("preemptive_generation.max_retries", p.max_retries, low=0, integer=True)
    _check("user_turn_limit.max_words", u.max_words, low=1, integer=True, optional=True)
    _check("user_turn_limit.max_duration", u.max_duration, low=0, strict_low=True, optional=True)
    _check("max_tool_steps", o.max_tool_steps, low=0, integer=True)
    _check("user_away_timeout", o.user_away_timeout, low=0, strict_low=True, optional=True)
    _check("min_consecutive_speech_delay", o.min_consecutive_speech_delay, low=0)
    _check("aec_warmup_duration", o.aec_warmup_duration, low=0, optional=True)
    _check("transcription_timeout", o.transcription_timeout, low=0, strict_low=True, optional=True)
    _check("session_close_transcript_timeout", o.session_close_transcript_timeout, low=0)
    _check("max_unrecoverable_errors", o.max_unrecoverable_errors, low=0, integer=True)
    _check("wake_up", o.wake_up, low=0, strict_low=True, optional=True)
    _check("tool_timeout", o.tool_timeout, low=0, strict_low=True, optional=True)
    td = o.turn_detection
    detector_api = ("predict", "unlikely_threshold", "latency")  # what the turn engine calls (TurnDetectorModel)
    if (isinstance(td, str) and td not in TURN_DETECTION_MODES) or (
        td is not None and not isinstance(td, str) and not all(hasattr(td, a) for a in detector_api)
    ):
        raise ValueError(
            f"AgentSession: turn_detection = {td!r} is not allowed; "
            f"expected one of {list(TURN_DETECTION_MODES)}, None or a turn-detector object (with {', '.join(detector_api)})"
        )
    if o.tts_text_transforms is not None:
        if not isinstance(o.tts_text_transforms, tuple):  # a bare string would be taken letter by letter
            raise ValueError(f"AgentSession: tts_text_transforms = {o.tts_text_transforms!r} must be a list of transforms or None")
        for t in o.tts_text_transforms:
            if t not in ("filter_markdown", "filter_emoji") and not callable(t):
                raise ValueError(
                    f"AgentSession: tts_text_transforms entry {t!r} is not allowed; "
                    "expected 'filter_markdown', 'filter_emoji' or a callable"
                )


#: LiveKit session options agentlab accepts but does not model, and why (docs/livekit-compatibility.md).
IGNORED_OPTIONS = {
    "stt_context_options": "agentlab's STTs take no keyterms or chat context",
    "keyterms_options": "agentlab's STTs take no keyterms",
    "tool_handling": "tool-call handling options (duplicates, progress updates) are not modelled",
    "expressive": "expressive TTS steering is not simulated",
    "video_sampler": "video is not simulated",
    "ivr_detection": "IVR detection needs a phone call",
    "mcp_servers": "MCP servers are not connected; pass their tools as function tools",
    "use_tts_aligned_transcript": "the transcript is paced by LiveKit's synchronizer rule, not TTS word timings",
    "transcription_timeout": "no user_transcription_timeout event is emitted (it is exported to LiveKit as set)",
}


class IgnoredOptionWarning(UserWarning):
    """A LiveKit option agentlab accepts (so the file runs) but that changes nothing here."""


def warn_ignored(owner: str, **given: Any) -> None:
    """Warn (:class:`IgnoredOptionWarning`) for each LiveKit option given a value agentlab does not model."""
    for name, value in given.items():
        if is_given(value) and value is not None and value is not False:
            warnings.warn(f"{owner}: {name} has no effect in agentlab ({IGNORED_OPTIONS[name]})", IgnoredOptionWarning, stacklevel=3)


def check_components(*, llm: Any, tts: Any, vad: Any, tools: Any) -> None:
    """Refuse what would fail only later, inside a reply (and quietly: a run with no replies)."""
    for name, value, method in (("llm", llm, "chat"), ("tts", tts, "stream")):
        if is_given(value) and value is not None and not callable(getattr(value, method, None)):
            raise TypeError(f"AgentSession: {name} = {value!r} is not an agentlab {name.upper()} (no {method}() method)")
    if isinstance(vad, dict):
        raise TypeError(f"AgentSession: vad = {vad!r} is a dict; pass agentlab.audio.VADOptions(**{vad!r})")
    if is_given(vad) and vad is not None and not all(hasattr(vad, a) for a in ("min_speech_duration", "min_silence_duration")):
        raise TypeError(f"AgentSession: vad = {vad!r} has no min_speech_duration/min_silence_duration; pass agentlab.audio.VADOptions(...)")
