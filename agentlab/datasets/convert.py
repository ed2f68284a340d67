"""From a labelled conversation to simulation inputs: STT utterances, a spoken script, a run.

A streaming STT finalizes a transcript whenever the speaker pauses long enough, so a user turn
with a hold in it reaches the agent as *several* final transcripts: exactly what tempts an eager
end-of-turn policy to cut the user off. :func:`utterances` models that: it splits each turn's
words at every pause of at least ``split_pause`` seconds (an STT's own endpointing), one
:class:`~agentlab.models.stt.Utterance` per stretch. Turns without word times are split at their
labelled hold spans of at least ``split_pause`` (the transcript's words shared out in proportion
to the stretches' durations). User sound during agent speech (``overlaps``) that no turn covers is
added when it has a transcript (a backchannel is heard and transcribed); noise has no transcript,
so an STT reports nothing (in a recording the VAD still hears it).

* :func:`aligned_stt` wraps the utterances in an :class:`~agentlab.AlignedSTT` (a perfect
  recognizer with modelled delays) for simulating a conversation's recording;
* :func:`user_speech` turns them into a :class:`~agentlab.UserSpeech` script for conversations
  without audio (noise overlaps become speech with an empty transcript: the VAD hears them, the
  STT does not);
* :func:`simulate_conversation` runs one conversation against an agent: the recording with the
  aligned STT when there is audio, the spoken script otherwise, and ``text_turns`` as typed turns
  for text-only tasks.

Example::

    conv = agentlab.datasets.load("dictation")[0]
    run = simulate_conversation(conv, make_agent, {"llm": ScriptedLLM(default="OK.")})
    run.history[["created_at", "role", "text"]]
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any, Literal

from ..engine.inputs import UserSpeech
from ..models.stt import AlignedSTT, Utterance
from .model import Conversation, Turn

__all__ = ["aligned_stt", "simulate_conversation", "user_speech", "utterances"]


def _check_pause(split_pause: float) -> None:
    if not (isinstance(split_pause, (int, float)) and split_pause > 0):
        raise ValueError(f"split_pause = {split_pause!r} must be a number of seconds > 0")


def _split_turn(conv: Conversation, ti: int, turn: Turn, split_pause: float) -> list[Utterance]:
    if turn.words:
        groups: list[list[Any]] = [[turn.words[0]]]
        for prev, w in itertools.pairwise(turn.words):
            if w.start - prev.end >= split_pause - 1e-9:
                groups.append([])
            groups[-1].append(w)
        return [Utterance(g[0].start, g[-1].end, " ".join(w.text for w in g), tuple((w.text, w.start, w.end) for w in g)) for g in groups]
    # No word times: cut at the turn's labelled holds, share the transcript's words by duration.
    holds = sorted((s for s in conv.spans if s.turn == ti and s.kind == "hold" and s.duration >= split_pause - 1e-9), key=lambda s: s.start)
    pieces: list[tuple[float, float]] = []
    start = turn.start
    for h in holds:
        if h.start > start:
            pieces.append((start, h.start))
        start = max(start, h.end)
    if turn.end > start:
        pieces.append((start, turn.end))
    if not pieces:
        pieces = [(turn.start, turn.end)]
    words = turn.transcript.split()
    total = sum(b - a for a, b in pieces)
    out, done, elapsed = [], 0, 0.0
    for a, b in pieces:
        elapsed += b - a
        upto = round(len(words) * elapsed / total) if total > 0 else len(words)
        out.append(Utterance(a, b, " ".join(words[done:upto])))
        done = upto
    return out


def _merge(items: list[Any]) -> list[Any]:
    """Sorted by start; an item overlapping one already kept is dropped (turns are listed first)."""
    kept: list[Any] = []
    for u in sorted(items, key=lambda u: u.start):
        if kept and u.start < kept[-1].end:
            continue
        kept.append(u)
    return kept


def utterances(conv: Conversation, *, split_pause: float = 0.3) -> list[Utterance]:
    """The user's speech as an STT would finalize it: each turn split at pauses >= ``split_pause`` s.

    Plus overlaps with a transcript that no turn covers (backchannels, barge-ins labelled only as
    overlaps). Sorted by time, never overlapping.

    Example::

        [(u.start, u.end, u.text) for u in utterances(conv, split_pause=0.5)]
    """
    _check_pause(split_pause)
    out: list[Utterance] = []
    for ti, turn in enumerate(conv.turns):
        out += _split_turn(conv, ti, turn, split_pause)
    turns = [(t.start, t.end) for t in conv.turns]
    extra = [
        Utterance(o.start, o.end, o.transcript.strip())
        for o in conv.overlaps
        if o.transcript and o.transcript.strip() and not any(o.start < e and s < o.end for s, e in turns)
    ]
    return _merge(out + extra)


def aligned_stt(conv: Conversation, *, final_delay: float = 0.2, interim_delay: float | None = 0.1, split_pause: float = 0.3) -> AlignedSTT:
    """An :class:`~agentlab.AlignedSTT` replaying :func:`utterances` (finals ``final_delay`` s after each stretch).

    Example::

        run = simulate(agent, {"llm": llm, "stt": aligned_stt(conv)}, conv.audio)
    """
    return AlignedSTT(utterances(conv, split_pause=split_pause), final_delay=final_delay, interim_delay=interim_delay)


def user_speech(conv: Conversation, *, stt_delay: float = 0.2, split_pause: float = 0.3) -> list[UserSpeech]:
    """The user's speech as a spoken script: one :class:`~agentlab.UserSpeech` per :func:`utterances` stretch.

    Noise overlaps (no transcript) not covered by a turn are included with an empty transcript:
    the VAD hears them, the STT reports nothing.

    Example::

        run = simulate(agent, {"llm": llm}, user_speech(conv))
    """
    items: list[Any] = utterances(conv, split_pause=split_pause)
    turns = [(t.start, t.end) for t in conv.turns]
    items += [
        Utterance(o.start, o.end, "")
        for o in conv.overlaps
        if not (o.transcript and o.transcript.strip()) and not any(o.start < e and s < o.end for s, e in turns)
    ]
    return [UserSpeech(u.start, u.end, u.text, stt_delay=stt_delay) for u in _merge(items)]


Mode = Literal["auto", "audio", "speech", "text"]


def simulate_conversation(
    conv: Conversation,
    agent: Any,
    session_options: Any = None,
    *,
    mode: Mode = "auto",
    stt_delay: float = 0.2,
    interim_delay: float | None = 0.1,
    split_pause: float = 0.3,
    **simulate_kw: Any,
) -> Any:
    """Play ``conv`` to ``agent`` on a virtual clock; returns the :class:`~agentlab.Run`.

    ``mode``: ``"audio"`` plays the recording (the user's voice: :meth:`Conversation.analysis_audio`)
    with :func:`aligned_stt` as the session's STT (unless
    ``session_options`` sets ``stt``); ``"speech"`` plays :func:`user_speech` (no audio decoding,
    far faster); ``"text"`` sends ``text_turns`` as typed turns. ``"auto"`` (default) picks audio
    when the conversation has it, else speech when it has turns, else text. ``stt_delay`` is the
    final transcript's delay after each stretch (``final_delay`` of the aligned STT). Other keyword
    arguments go to :func:`agentlab.simulate`.

    Example::

        run = simulate_conversation(conv, make_agent, {"llm": ScriptedLLM(default="OK.")}, mode="speech")
    """
    from ..sim import simulate

    simulate_kw.setdefault("name", conv.id)  # the timeline's title names the conversation
    if mode == "auto":
        mode = "audio" if conv.audio is not None else "speech" if conv.turns else "text"
    if mode == "audio":
        if conv.audio is None:
            raise ValueError(f"simulate_conversation: conversation {conv.id!r} has no audio (use mode='speech' or 'text')")
        stt = aligned_stt(conv, final_delay=stt_delay, interim_delay=interim_delay, split_pause=split_pause)
        heard = conv.analysis_audio()  # the user's voice: their channel, the other speakers masked
        return simulate(agent, _with_stt(session_options, stt), heard if not isinstance(heard, Path) else str(heard), **simulate_kw)
    if mode == "speech":
        script = user_speech(conv, stt_delay=stt_delay, split_pause=split_pause)
        if not script:
            raise ValueError(f"simulate_conversation: conversation {conv.id!r} has no user speech (turns); use mode='text'")
        return simulate(agent, session_options, script, **simulate_kw)
    if mode == "text":
        if not conv.text_turns:
            raise ValueError(f"simulate_conversation: conversation {conv.id!r} has no text_turns")
        return simulate(agent, session_options, list(conv.text_turns), **simulate_kw)
    raise ValueError(f"simulate_conversation: mode = {mode!r}; expected 'auto', 'audio', 'speech' or 'text'")


def _with_stt(options: Any, stt: AlignedSTT) -> dict[str, Any]:
    """AgentSession keyword arguments with ``stt`` added (kept if the caller set one)."""
    from ..session.options import SessionOptions

    if options is None:
        return {"stt": stt}
    if isinstance(options, SessionOptions):
        # The same conversion simulate() applies to SessionOptions, as a dict we can add the STT to.
        kwargs: dict[str, Any] = {
            k: v
            for k, v in options.to_dict().items()
            if k not in ("turn_detection", "endpointing", "interruption", "preemptive_generation", "user_turn_limit", "tts_text_transforms")
        }
        kwargs["turn_handling"] = options.to_turn_handling()
        kwargs["tts_text_transforms"] = list(options.tts_text_transforms) if options.tts_text_transforms else None
        return {**kwargs, "stt": stt}
    if not isinstance(options, dict):
        raise TypeError(f"simulate_conversation: session_options must be a dict or SessionOptions, got {type(options).__name__}")
    return options if options.get("stt") is not None else {**options, "stt": stt}
