"""Simulate a conversation on the virtual clock and get a :class:`Run` back.

``simulate(agent, session_options, script)`` builds an :class:`~agentlab.AgentSession` from the
options, starts ``agent`` on a fresh :class:`~agentlab.VirtualClock`, plays the script, closes the
session and returns the run: history, events and metrics DataFrames plus the session itself.
Identical inputs give identical frames, bit for bit (ids are counted per run, wall stamps are
derived from the virtual epoch).

A text script is a list of user turns: a string (sent 1 s after the agent falls silent) or a
:class:`UserTurn` with its own delay, or an absolute time ``at`` (with ``interrupt=True`` the text
barges in on the agent, as a chat message does in LiveKit).

Example::

    run = simulate(make_agent, {"llm": ScriptedLLM(responses=["Hi!", "Sure."])}, ["Hello", "Book it"])
    run.history[["created_at", "role", "text"]]
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import html
import os
import time
from collections.abc import Callable, Sequence
from typing import Any, Union

import pandas as pd

from ._frozen import frozen
from ._utils import IdFactory, current_ids, is_finite_number
from .clock import VirtualClock
from .engine.inputs import UserSpeech
from .models.tts import ScriptedTTS
from .session.agent import Agent
from .session.options import SessionOptions
from .session.session import AgentSession

__all__ = ["Run", "UserTurn", "play", "simulate"]


@frozen
class UserTurn:
    """One typed user turn: ``delay`` seconds after the agent goes quiet, or at time ``at``."""

    text: str
    delay: float = 1.0
    at: float | None = None
    interrupt: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.text, str):
            raise ValueError(f"UserTurn.text must be a string, got {self.text!r}")
        # NaN slips through `< 0` and inf never arrives: both would stall the virtual clock.
        if not _seconds(self.delay):
            raise ValueError(f"UserTurn.delay = {self.delay!r} must be a finite number of seconds >= 0")
        if self.at is not None and not _seconds(self.at):
            raise ValueError(f"UserTurn.at = {self.at!r} must be a finite number of seconds >= 0 (or None)")


def _seconds(value: Any) -> bool:
    """A finite, non-negative number of seconds."""
    return is_finite_number(value) and value >= 0


ScriptItem = Union[str, UserTurn, UserSpeech]
_RECORDING_TYPES = (str, os.PathLike)


class Run:
    """A finished simulated (or recorded) conversation.

    ``history``, ``events`` and ``metrics`` are DataFrames (columns in :mod:`agentlab.frames`);
    ``session`` is the closed session, ``duration`` the simulated seconds, ``wall_seconds`` what
    the simulation cost, ``name`` what was played when known (a conversation id, a file name).
    """

    def __init__(self, session: AgentSession, *, wall_seconds: float, user_audio: Any = None, name: str | None = None) -> None:
        self.session = session
        #: What was played, for titles: a dataset conversation's id, a recording's file name, or ``None``.
        self.name = name
        #: The recording the run was fed (an :class:`~agentlab.audio.Audio`), or ``None`` for scripts.
        self.user_audio = user_audio
        self.wall_seconds = wall_seconds
        self.duration = session.now()

    # Built on first use: a sweep or a benchmark that never looks at a frame does not pay for it.
    @functools.cached_property
    def history(self) -> pd.DataFrame:
        """The session's history, one row per item (:func:`agentlab.frames.history_frame`)."""
        return self.session.history_frame()

    @functools.cached_property
    def events(self) -> pd.DataFrame:
        """The session's events, one row per event (:func:`agentlab.frames.events_frame`)."""
        return self.session.events_frame()

    @functools.cached_property
    def metrics(self) -> pd.DataFrame:
        """The session's metrics, one row per ``metrics_collected`` (:func:`agentlab.frames.metrics_frame`)."""
        return self.session.metrics_frame()

    def report(self) -> Any:
        """The run's :class:`~agentlab.report.SessionReport` (save it, load it back into the same frames).

        Example::

            run.report().save("run.json")
        """
        return self.session.report()

    def timeline(self, *, ax: Any = None, start: float | None = None, end: float | None = None, title: str | None = None) -> Any:
        """The run on one time axis (a matplotlib Figure), titled with :attr:`name`; see :mod:`agentlab.timeline`."""
        from .timeline import timeline_figure

        return timeline_figure(self.session, ax=ax, start=start, end=end, title=title, name=self.name)

    def audio(self, *, sample_rate: int = 16000) -> Any:
        """What was heard as float32 stereo samples: user left, agent right (see :mod:`agentlab.render`)."""
        from .render import render_stereo

        return render_stereo(self.session, user_audio=self.user_audio, sample_rate=sample_rate)

    def write_audio(self, path: str | os.PathLike[str], *, sample_rate: int = 16000) -> Any:
        """Write :meth:`audio` to a WAV file (atomically); returns the path."""
        from .audio.io import write_wav

        return write_wav(path, self.audio(sample_rate=sample_rate), sample_rate)

    def _repr_audio(self) -> Any:
        from IPython.display import Audio as _Player

        return _Player(self.audio().T, rate=16000)

    @property
    def speed(self) -> float:
        """Simulated seconds per wall second."""
        return self.duration / self.wall_seconds if self.wall_seconds > 0 else float("inf")

    def __repr__(self) -> str:
        turns = int((self.history["role"] == "user").sum()) if len(self.history) else 0
        return f"Run({turns} user turns, {len(self.history)} items, {len(self.events)} events, {self.duration:.1f}s simulated)"

    def _repr_html_(self) -> str:
        h = self.history
        rows = []
        for _, r in h.iterrows():
            if r["type"] == "message":
                who, what = r["role"], (r["text"] or "") + (" ⟂ interrupted" if r["interrupted"] is True else "")
            elif r["type"] == "function_call":
                who, what = "tool call", f"{r['name']}({r['arguments']})"
            elif r["type"] == "function_call_output":
                who, what = "tool output", r["output"] + (" [error]" if r["is_error"] is True else "")
            else:
                old = r["old_agent_id"] if isinstance(r["old_agent_id"], str) else "start"
                who, what = "handoff", f"{old} → {r['new_agent_id']}"
            rows.append(
                f"<tr><td style='text-align:right'>{r['created_at']:.2f}s</td><td>{html.escape(str(who))}</td>"
                f"<td style='text-align:left'>{html.escape(str(what))}</td></tr>"
            )
        return (
            "<div style='font-family:var(--jp-ui-font-family,sans-serif);font-size:13px'>"
            f"<b>Run</b> · {self.duration:.1f} s simulated in {self.wall_seconds * 1000:.0f} ms · "
            f"{html.escape(' · '.join(f'{k} {v}' for k, v in self.summary().items()))}"
            f"<table style='border-collapse:collapse;margin-top:4px'>{''.join(rows)}</table></div>"
        )

    def summary(self) -> dict[str, str]:
        """Headline figures: turns, LLM calls and TTFT, and for voice runs end-of-utterance delay,
        e2e latency, interruptions and false interruptions (medians; "—" when there are none)."""
        m, h, e = self.metrics, self.history, self.events

        def median_ms(values: pd.Series) -> str:
            values = values.dropna()
            return f"{values.median() * 1000:.0f} ms" if len(values) else "—"

        llm = m[m["type"] == "llm_metrics"]
        out = {"user turns": str(int((h["role"] == "user").sum())), "LLM calls": str(len(llm)), "TTFT": median_ms(llm["ttft"])}
        if self.session.input_events:
            out["end of utterance"] = median_ms(m[m["type"] == "eou_metrics"]["end_of_utterance_delay"])
            out["e2e"] = median_ms(h["e2e_latency"])
            out["interrupted replies"] = str(int((h["interrupted"] == True).sum()))  # noqa: E712 - NaN-safe
            fi = e[e["type"] == "agent_false_interruption"]
            out["false interruptions (resumed)"] = f"{len(fi)} ({int((fi['resumed'] == True).sum())})"  # noqa: E712
        return out


def _agent_from(agent: Agent | Callable[[], Agent]) -> Agent:
    if isinstance(agent, Agent):
        return agent
    if callable(agent):
        made = agent()
        if not isinstance(made, Agent):
            raise TypeError(f"simulate: the agent factory returned {type(made).__name__}, expected an Agent")
        return made
    raise TypeError(f"simulate: agent must be an Agent or a function returning one, got {type(agent).__name__}")


def _session_from(options: dict[str, Any] | SessionOptions | None) -> AgentSession:
    if options is None:
        return AgentSession()
    if isinstance(options, SessionOptions):
        kwargs = {
            k: v
            for k, v in options.to_dict().items()
            if k not in ("turn_detection", "endpointing", "interruption", "preemptive_generation", "user_turn_limit")
        }
        kwargs["turn_handling"] = options.to_turn_handling()
        kwargs.pop("tts_text_transforms", None)
        return AgentSession(tts_text_transforms=list(options.tts_text_transforms) if options.tts_text_transforms else None, **kwargs)
    if not isinstance(options, dict):
        raise TypeError(
            f"simulate: session_options must be a dict of AgentSession arguments or SessionOptions, got {type(options).__name__}"
        )
    return AgentSession(**options)


async def _analyse_recording(source: Any, session: AgentSession, vad_backend: str) -> tuple[Any, list[Any]]:
    """Load and analyse a recording once (VAD, then the session's STT); its engine events."""
    from .audio import VADOptions, analyze_vad, load_audio
    from .models.stt import STT, recording_events

    stt = session._stt
    if not isinstance(stt, STT):
        raise ValueError(
            "simulate: a recording needs an STT to know what was said: pass "
            "session_options={'stt': AlignedSTT(labels), ...} (or another agentlab STT), got " + repr(stt)
        )
    vad = session._vad if isinstance(session._vad, VADOptions) else VADOptions()
    clock = session.clock
    hold = clock.hold() if getattr(clock, "is_virtual", False) else contextlib.nullcontext()
    with hold:  # real work in a thread: virtual time waits for it
        audio = await asyncio.to_thread(load_audio, source)
        track = await asyncio.to_thread(analyze_vad, audio, backend=vad_backend, options=vad)
        utterances = await asyncio.to_thread(stt.transcribe, audio, track)
        detector = session.options.turn_detection
        if callable(getattr(detector, "analyze", None)):  # an audio end-of-turn model listens once per recording
            await asyncio.to_thread(detector.analyze, audio, track)
    return audio, recording_events(track, utterances, stt, stt_end_of_speech=session.options.turn_detection == "stt")


def _check_script(script: Any) -> None:
    """Refuse scripts that would otherwise fail deep inside (numpy's truth value) or be misread."""
    import numpy as np

    from .audio.io import Audio

    if isinstance(script, np.ndarray):
        raise TypeError(
            f"simulate: script is a numpy array (shape {script.shape}); wrap samples in an Audio first: "
            "simulate(agent, options, agentlab.audio.load_audio(samples, input_rate=RATE))"
        )
    if isinstance(script, (bytes, bytearray)) or not isinstance(script, (*_RECORDING_TYPES, Audio, Sequence)):
        raise TypeError(
            "simulate: script must be a list of turns (strings, UserTurn or UserSpeech), a recording's path or an Audio, "
            f"got {type(script).__name__} {script!r:.200}"
        )
    if isinstance(script, str) and not os.path.exists(script):
        # A lone string is read as a recording's path; typing one turn without the list is the usual slip.
        raise FileNotFoundError(
            f"simulate: script {script!r} is a string, so it is read as a recording's path, and there is no such file; "
            f"for a typed turn pass a list: [{script!r}]"
        )


def simulate(
    agent: Agent | Callable[[], Agent],
    session_options: dict[str, Any] | SessionOptions | None = None,
    script: Sequence[ScriptItem] = (),
    *,
    clock: VirtualClock | None = None,
    end_delay: float = 1.0,
    pausable_output: bool = True,
    vad_backend: str = "silero",
    name: str | None = None,
) -> Run:
    """Run ``script`` against ``agent`` on a virtual clock; return the :class:`Run`.

    ``agent`` is an Agent or a function that makes one (prefer a function: an agent keeps its
    conversation, so reusing one instance carries history over). ``session_options`` are
    :class:`AgentSession` keyword arguments (``llm``, ``tts``, ``turn_handling``, ``max_tool_steps``...).
    Works from scripts and inside Jupyter.

    A path to a recording (WAV, FLAC, OGG, MP3) or an :class:`~agentlab.audio.Audio` is analysed once
    (VAD with ``vad_backend`` and the session's ``vad`` options, cached; transcripts from the
    session's ``stt``, e.g. :class:`~agentlab.models.stt.AlignedSTT` with the labels) and then
    played to the agent; ``run.user_audio`` keeps it for :meth:`Run.audio`.

    A script of :class:`~agentlab.engine.UserSpeech` is *spoken*: the turn engine decides when
    turns end, interruptions and preemptive replies, and the agent's replies play through a TTS
    (:class:`~agentlab.ScriptedTTS` unless the options give one). ``pausable_output`` enables
    false-interruption resume, as with a LiveKit room's audio output.

    ``name`` becomes :attr:`Run.name` (titles, such as the timeline's); a recording's file name by default.
    """
    clock = clock or VirtualClock()
    if name is None and isinstance(script, _RECORDING_TYPES):
        name = os.path.basename(script)

    async def main() -> Run:
        wall0 = time.perf_counter()
        session, user_audio = await play(
            agent, session_options, script, end_delay=end_delay, pausable_output=pausable_output, vad_backend=vad_backend
        )
        return Run(session, wall_seconds=time.perf_counter() - wall0, user_audio=user_audio, name=name)

    return clock.run(main)


async def play(
    agent: Agent | Callable[[], Agent],
    session_options: dict[str, Any] | SessionOptions | None = None,
    script: Sequence[ScriptItem] | Any = (),
    *,
    end_delay: float = 1.0,
    pausable_output: bool = True,
    vad_backend: str = "silero",
) -> tuple[AgentSession, Any]:
    """What :func:`simulate` does inside its loop, as a coroutine: the closed session and the
    recording it was fed (``None`` for scripts). Many can share one virtual-clock loop, each
    counting its own ids (they are counted per task).

    Example::

        sessions = VirtualClock().run(lambda: asyncio.gather(*(play(make_agent, opts, s) for s in scripts)))
    """
    from .audio.io import Audio

    _check_script(script)
    if not _seconds(end_delay):
        raise ValueError(f"simulate: end_delay = {end_delay!r} must be a finite number of seconds >= 0")
    recording = isinstance(script, (*_RECORDING_TYPES, Audio))
    voice = recording or (bool(script) and all(isinstance(t, UserSpeech) for t in script))
    turns = [] if voice else [UserTurn(t) if isinstance(t, str) else t for t in script]
    for i, t in enumerate(turns):
        if not isinstance(t, UserTurn):
            raise TypeError(f"simulate: script[{i}] must be a string or UserTurn (or every item a UserSpeech), got {type(t).__name__}")
    if voice and isinstance(session_options, dict) and session_options.get("tts") is None:
        session_options = {**session_options, "tts": ScriptedTTS()}
    current_ids.set(IdFactory())
    session = _session_from(session_options)
    user_audio = None
    await session.start(_agent_from(agent))
    try:
        if recording:
            user_audio, events = await _analyse_recording(script, session, vad_backend)
            session.attach_user_input(events, pausable_output=pausable_output)
            await session.wait_for_input()
        elif voice:
            session.attach_user_input(list(script), pausable_output=pausable_output)
            await session.wait_for_input()
        for turn in turns:
            if turn.at is not None:
                wait = turn.at - session.now()
                if wait > 0:
                    await asyncio.sleep(wait)
            else:
                await session.wait_for_idle()
                await asyncio.sleep(turn.delay)
            if session._closing:
                break
            if turn.interrupt and session.current_speech is not None:
                session.interrupt(force=True)
            session.generate_reply(user_input=turn.text)
        await session.wait_for_idle()
        await asyncio.sleep(end_delay)
    finally:
        await session.aclose()
    return session, user_audio
