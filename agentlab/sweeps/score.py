"""The metrics contract: labelled span outcomes, their summary, and operating points.

Everything a sweep reports is computed here from a conversation's labels
(:class:`~agentlab.datasets.Conversation`) and the decisions taken on it
(:class:`~agentlab.sweeps.replay.Decisions`), following LiveKit's eot-bench span convention
(``datasets/README.md``): inside a user turn every silence of at least 100 ms is a **hold**, the
silence after the turn's last word is its **eot**. Times are seconds.

The rules are written so that nothing flatters (``docs/sweeps.md`` has the worked cases):

* **Every commit before the labelled end of a user turn is a false cut-off**, wherever it falls: in
  a hold, or between words with no labelled pause (``cutoff_mid_speech``). Cut-offs are reported
  per hold (eot-bench's figure) *and* per turn; recommendations use the worse of the two.
* **An end of turn is detected only by a commit before anyone speaks again.** A commit after the
  other party already spoke in the recording (but within ``timeout`` and before the user's next
  turn) is **late**, with its latency; latency percentiles count detected and late commits alike.
* **Barge-ins, backchannels and noise are scored only where the simulated agent is speaking** at
  their start; the others are ``agent_silent`` and counted apart, so each setting reports how many
  it could score.
* **Turns lost to the echo guard** (LiveKit's AEC warm-up feeds the STT silence while the agent
  speaks) are their own outcome, ``aec_warmup``, not a miss of the end-of-turn policy.

Three layers, one function each:

1. :func:`span_outcomes` — one row per labelled span, turn and overlap (and per commit and
   preemptive start), with its outcome and latency. The definitions are in its docstring.
2. :func:`summarize` — rates and latency percentiles over any set of rows (one conversation, a
   dataset, a slice by voice or noise...).
3. :func:`operating_points` and :func:`pareto` — across settings: latency at a cut-off budget,
   cut-offs at a latency budget, and the non-dominated settings.

:func:`expected_hold_cutoffs` is the independent check: the cut-offs the labels alone predict.

Worked example (the one ``tests/test_sweep_scores.py`` checks by hand). A user turn with words
at 0.0-1.0, 1.5-2.0 and 2.4-3.0 s has two holds, ``[1.0, 1.5)`` and ``[2.0, 2.4)``, and an eot
``[3.0, 5.0)``; a second turn 5.0-6.0 has the eot ``[6.0, 8.0)``. The agent speaks from 8.0 s;
the user overlaps it with a backchannel at 8.5-8.8, a barge-in at 9.5-10.5 and noise at
11.0-11.4. Decisions: commits at 1.3 s ("one": inside the first hold, a cut-off 0.3 s into it)
and 3.4 s ("two three": eot latency 0.4 s); none for the second turn (missed); a pause at 9.0 s
(0.5 s into the backchannel: a false interruption) resumed at 9.2 s; a pause at 10.1 s (barge-in
stop delay 0.6 s) confirmed by a hard stop at 10.7 s, so the agent is silent when the noise comes
(not scored); preemptive starts at 1.2 s ("one": used, 0.1 s head start), 3.1 s ("two":
superseded, wasted) and 3.25 s ("two three": used, 0.15 s)::

    rows = span_outcomes(conv, decisions)
    rows[["kind", "outcome", "latency"]]
    #  hold         cutoff              0.3
    #  hold         held                NaN
    #  turn         cutoff / intact
    #  eot          detected            0.4
    #  eot          missed              NaN
    #  backchannel  false_interruption  0.5    (resumed: True)
    #  barge_in     interrupted         0.6
    #  noise        agent_silent        NaN
    #  commit       cutoff / eot        0.3 / 0.4   (their eou_delay)
    #  preemptive   used / wasted / used  0.1 / NaN / 0.15
    s = summarize(rows)
    s["hold_cutoff_rate"], s["turn_cutoff_rate"], s["false_cutoff_rate"]   # 0.5, 0.5, 0.5
    s["eot_latency_p50"], s["missed_turn_rate"]                              # 0.4, 0.5
    s["barge_in_recall"], s["stop_delay_mean"]                               # 1.0, 0.6
    s["false_interruption_rate"], s["resume_rate"]                           # 1.0, 1.0 (the noise was not scored)
    s["preemptive_per_turn"], s["preemptive_wasted_rate"], s["llm_requests_per_turn"]  # 1.5, 1/3, 1.5

Across settings::

    points = {0.2: summarize(rows_a), 0.5: summarize(rows_b), 1.0: summarize(rows_c)}
    operating_points(points)["latency@cutoff<=5%"]    # {'budget': 0.05, 'value': ..., 'setting': ...}
    pareto(points)                                     # settings nobody beats on both axes
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Hashable, Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from ..datasets.model import Conversation
from ..engine.turns import words_of
from .replay import Decisions

__all__ = [
    "DEFAULT_GRACE",
    "DEFAULT_LLM_TTFT",
    "DEFAULT_REACTION",
    "DEFAULT_TIMEOUT",
    "DEFAULT_TTS_TTFB",
    "ROW_COLUMNS",
    "expected_hold_cutoffs",
    "operating_points",
    "pareto",
    "span_outcomes",
    "summarize",
]

#: Seconds after an eot span starts within which a commit counts at all (eot-bench's policy timeout).
DEFAULT_TIMEOUT = 3.0
#: Seconds after a hold ends during which a commit still counts as cutting it off: the VAD cannot
#: have detected the resumed speech yet (its start detection lags by ``min_speech_duration`` and
#: a frame or two), so the decision was made in the hold.
DEFAULT_GRACE = 0.1
#: Modelled reply timing of the fast path (no LLM or TTS runs there): the offline agent's
#: :class:`~agentlab.ScriptedLLM` time to first token and :class:`~agentlab.ScriptedTTS` time to
#: first audio, in seconds. Give your model's figures to :func:`span_outcomes` / ``sweep``.
DEFAULT_LLM_TTFT = 0.3
DEFAULT_TTS_TTFB = 0.2
#: Seconds after a backchannel or noise ends during which a pause or stop is still caused by it
#: (a final transcript arrives ``stt_final_delay`` after the sound, the VAD's end later still).
DEFAULT_REACTION = 0.5

ROW_COLUMNS = (
    "conversation",
    "kind",
    "index",
    "start",
    "end",
    "turn",
    "agent",
    "outcome",
    "time",
    "latency",
    "resumed",
    "transcript",
    "response_latency",
    "tool_rounds",
    "llm_requests",
)

_NAN = float("nan")


def _first(times: Sequence[float], lo: float, hi: float, *, closed: bool = False) -> float | None:
    """The first of the sorted ``times`` in ``[lo, hi)`` (``[lo, hi]`` when ``closed``), or None."""
    i = bisect.bisect_left(times, lo - 1e-9)
    if i < len(times) and (times[i] <= hi + 1e-9 if closed else times[i] < hi - 1e-9):
        return times[i]
    return None


def span_outcomes(
    conv: Conversation,
    decisions: Decisions,
    *,
    timeout: float = DEFAULT_TIMEOUT,
    grace: float = DEFAULT_GRACE,
    reaction: float = DEFAULT_REACTION,
    llm_ttft: float = DEFAULT_LLM_TTFT,
    tts_ttfb: float = DEFAULT_TTS_TTFB,
    preemptive_tts: bool = False,
) -> Any:
    """One row per labelled span, turn and overlap of ``conv`` (plus one per commit and preemptive start).

    Columns (:data:`ROW_COLUMNS`): ``conversation``, ``kind``, ``index`` (in its label list or
    decision list), ``start``/``end`` (the label's; a decision's time for decision rows), ``turn``
    (user turn index, or -1), ``agent`` (agent speech index, or -1), ``outcome``, ``time`` (of the
    deciding action, NaN if none), ``latency`` (seconds, NaN if none), ``resumed`` (for false
    interruptions: bool; else None), ``transcript``, ``response_latency``.

    A **stop** is a pause or hard interruption of the agent (:attr:`Decisions.interruptions`), or
    the end of its speech cut short by a committed turn; a **commit** is a committed user turn or,
    when known, a reply start (:attr:`Decisions.replies`).

    * ``hold`` ``[start, end)`` (a mid-turn pause): ``"cutoff"`` if a commit falls in
      ``[start, end + grace)`` (``grace`` covers the VAD's start-detection lag: the decision was
      made before the engine could hear the user resume), else ``"held"``. ``latency`` = the first
      such commit − ``start`` (how far into the pause the agent cut in).
    * ``turn`` (a labelled user turn, ``start``/``end`` its first and last word): ``"cutoff"`` if
      any commit falls before its end — in ``[start, end)`` or in one of its holds' windows —
      wherever it falls, else ``"intact"``. ``time`` is the first such commit.
    * ``eot`` (the silence after a turn's last word, starting at the true end of speech): the first
      commit in ``[start, min(start + timeout, the user's next turn))``. ``"detected"`` if it comes
      before the next speech by anyone (the user's next turn or the recorded agent's next speech),
      ``"late"`` if after (the recorded conversation had moved on), ``latency`` = commit − ``start``
      (**end-of-turn latency**) for both; without a commit ``"missed"``, or ``"aec_warmup"`` when
      the turn's words were discarded by the echo guard (:class:`~agentlab.engine.TranscriptDiscarded`).
      A committed eot also gets ``response_latency``: when the agent's first audio would start,
      − ``start``, modelled with LiveKit's measured rule (reference §6) from ``llm_ttft`` and
      ``tts_ttfb``: ``commit + llm_ttft + tts_ttfb`` without a used preemptive start;
      ``max(pre + llm_ttft, commit) + tts_ttfb`` with one started at ``pre``; and
      ``max(pre + llm_ttft + tts_ttfb, commit)`` when ``preemptive_tts`` also starts the TTS early.
    * ``barge_in`` (the user really interrupts agent speech ``agent``): scored only if that speech,
      as the simulation played it, is audible at the overlap's start; otherwise ``"agent_silent"``
      (stopped or paused by an earlier decision, or not begun). Scored: ``"interrupted"`` if a
      stop falls in ``[start, end of the agent speech as played]``, with ``latency`` = stop −
      ``start`` (**stop delay**), else ``"missed"``.
    * ``backchannel`` / ``noise`` (user sound that should not interrupt): ``"agent_silent"`` as for
      barge-ins; else ``"false_interruption"`` if a stop falls in ``[start, min(end + reaction, end
      of the agent speech as played)]``, with ``latency`` = stop − ``start`` and ``resumed`` =
      whether the next of {resume, hard stop, commit} after it is a resume that found the speech
      still going; else ``"ignored"``.
    * ``commit`` (a decision row): ``"cutoff"`` (in a hold's window), ``"cutoff_mid_speech"``
      (before its turn's end but in no hold: between words with no labelled pause, or during a
      word), ``"eot"`` / ``"late"`` (it decided an eot row), else ``"other"``; ``latency`` = its
      ``eou_delay``; ``turn`` = the labelled turn.
    * ``preemptive`` (a decision row): ``"used"`` if the first commit after it comes before any
      later preemptive start or cancel (which end it) and its transcript has the same words
      (:func:`~agentlab.engine.words_of`) — the session's reuse rule — with ``latency`` = that
      commit's time − the start (the head start the LLM got); else ``"wasted"`` (superseded,
      different words, or never committed).

    Example::

        rows = span_outcomes(conv, replay_conversation(conv, options))
        rows[rows.kind == "hold"].outcome.value_counts()
    """
    import pandas as pd

    return pd.DataFrame(
        _rows(
            conv,
            decisions,
            timeout=timeout,
            grace=grace,
            reaction=reaction,
            llm_ttft=llm_ttft,
            tts_ttfb=tts_ttfb,
            preemptive_tts=preemptive_tts,
        ),
        columns=list(ROW_COLUMNS),
    )


def _rows(
    conv: Conversation,
    decisions: Decisions,
    *,
    timeout: float = DEFAULT_TIMEOUT,
    grace: float = DEFAULT_GRACE,
    reaction: float = DEFAULT_REACTION,
    llm_ttft: float = DEFAULT_LLM_TTFT,
    tts_ttfb: float = DEFAULT_TTS_TTFB,
    preemptive_tts: bool = False,
) -> list[tuple[Any, ...]]:
    """:func:`span_outcomes` as a list of row tuples in :data:`ROW_COLUMNS` order (the sweep's hot path)."""
    if not (timeout > 0 and grace >= 0 and reaction >= 0 and llm_ttft >= 0 and tts_ttfb >= 0):
        raise ValueError(
            "span_outcomes: need timeout > 0 and grace, reaction, llm_ttft, tts_ttfb >= 0; got "
            f"{timeout!r}, {grace!r}, {reaction!r}, {llm_ttft!r}, {tts_ttfb!r}"
        )
    cid = conv.id
    rows: list[tuple[Any, ...]] = []

    def row(kind: str, index: int, start: float, end: float, outcome: str, time: float | None = None, latency: float | None = None,
            turn: int = -1, agent: int = -1, resumed: bool | None = None, transcript: str | None = None,
            response_latency: float | None = None) -> None:  # fmt: skip
        rows.append(
            (
                cid, kind, index, start, end, turn, agent, outcome,
                _NAN if time is None else time,
                _NAN if latency is None else round(latency, 9),
                resumed, transcript,
                _NAN if response_latency is None else round(response_latency, 9),
                _NAN, _NAN,
            )
        )  # fmt: skip

    ordered_commits = sorted(decisions.commits, key=lambda c: c.time)
    commit_times = sorted([c.time for c in ordered_commits] + list(decisions.replies))
    pre = sorted(decisions.preemptive, key=lambda p: p.time)
    used_pre: dict[float, float] = {}  # commit time → start of the preemptive reply it reused
    ci = 0
    cancels = sorted(decisions.preemptive_cancels)
    for i, p in enumerate(pre):
        while ci < len(ordered_commits) and ordered_commits[ci].time < p.time - 1e-9:
            ci += 1
        nxt_commit = ordered_commits[ci] if ci < len(ordered_commits) else None
        k = bisect.bisect_right(cancels, p.time + 1e-9)  # a cancel at the very instant belongs to an earlier start
        nxt_pre = min(pre[i + 1].time if i + 1 < len(pre) else math.inf, cancels[k] if k < len(cancels) else math.inf)
        if nxt_commit is not None and nxt_commit.time < nxt_pre - 1e-9 and words_of(nxt_commit.transcript) == words_of(p.transcript):
            used_pre[nxt_commit.time] = p.time

    def reply_start(commit: float) -> float:
        p = used_pre.get(commit)
        if p is None:
            return commit + llm_ttft + tts_ttfb
        if preemptive_tts:
            return max(p + llm_ttft + tts_ttfb, commit)
        return max(p + llm_ttft, commit) + tts_ttfb

    turns = conv.turns
    commit_label: dict[float, tuple[str, int]] = {}
    # holds and their turn's cut-offs
    cut_turn: dict[int, float] = {}
    for i, s in enumerate(conv.spans):
        if s.kind != "hold":
            continue
        t = _first(commit_times, s.start, s.end + grace)
        row("hold", i, s.start, s.end, "held" if t is None else "cutoff", t, None if t is None else t - s.start, turn=s.turn)
        if t is not None:
            for c in commit_times[bisect.bisect_left(commit_times, s.start - 1e-9) :]:
                if c >= s.end + grace - 1e-9:
                    break
                commit_label.setdefault(c, ("cutoff", s.turn))
            cut_turn[s.turn] = min(t, cut_turn.get(s.turn, math.inf))
    for ti, turn in enumerate(turns):
        for c in commit_times[bisect.bisect_left(commit_times, turn.start - 1e-9) :]:
            if c >= turn.end - 1e-9:
                break
            commit_label.setdefault(c, ("cutoff_mid_speech", ti))
            cut_turn[ti] = min(c, cut_turn.get(ti, math.inf))
        t = cut_turn.get(ti)
        row("turn", ti, turn.start, turn.end, "intact" if t is None else "cutoff", t, turn=ti, transcript=turn.transcript)

    # ends of turn
    agent_starts = sorted(a.start for a in conv.agent)
    discarded = [d for d in decisions.discarded if d.reason == "aec_warmup"]
    for i, s in enumerate(conv.spans):
        if s.kind != "eot":
            continue
        ti = s.turn
        turn_end = turns[ti].end if 0 <= ti < len(turns) else s.start
        next_user = turns[ti + 1].start if 0 <= ti and ti + 1 < len(turns) else math.inf
        k = bisect.bisect_left(agent_starts, turn_end - 1e-9)
        next_any = min(next_user, agent_starts[k] if k < len(agent_starts) else math.inf)
        t = _first(commit_times, s.start, min(s.start + timeout, next_user))
        if t is None:
            lo = turns[ti].start if 0 <= ti < len(turns) else s.start
            lost = any(lo - 1e-9 <= d.spoken_at <= turn_end + 1e-9 for d in discarded)
            row("eot", i, s.start, s.end, "aec_warmup" if lost else "missed", turn=ti)
            continue
        outcome = "detected" if t < next_any - 1e-9 else "late"
        row("eot", i, s.start, s.end, outcome, t, t - s.start, turn=ti, response_latency=reply_start(t) - s.start)
        commit_label.setdefault(t, ("eot" if outcome == "detected" else "late", ti))

    # user sound during agent speech
    stops = sorted([x.time for x in decisions.interruptions] + [p.end for p in decisions.agent if p.stopped])
    played = {p.index: p for p in decisions.agent}
    for i, o in enumerate(conv.overlaps):
        p = played.get(o.agent)
        if p is None or not (p.start - 1e-9 <= o.start < p.end - 1e-9) or _silent_at(decisions, o.start, p):
            row(o.kind, i, o.start, o.end, "agent_silent", agent=o.agent, transcript=o.transcript)
            continue
        if o.kind == "barge_in":
            t = _first(stops, o.start, p.end, closed=True)
            row("barge_in", i, o.start, o.end, "missed" if t is None else "interrupted", t, None if t is None else t - o.start,
                agent=o.agent, transcript=o.transcript)  # fmt: skip
            continue
        t = _first(stops, o.start, min(o.end + reaction, p.end), closed=True)
        if t is None:
            row(o.kind, i, o.start, o.end, "ignored", agent=o.agent, transcript=o.transcript)
        else:
            row(o.kind, i, o.start, o.end, "false_interruption", t, t - o.start, agent=o.agent,
                resumed=_resumed_after(decisions, t), transcript=o.transcript)  # fmt: skip

    for i, c in enumerate(decisions.commits):
        outcome, turn = commit_label.get(c.time, ("other", -1))
        row("commit", i, c.time, c.time, outcome, c.time, c.eou_delay, turn=turn, transcript=c.transcript)

    for i, s in enumerate(pre):
        commit = next((c for c, p in used_pre.items() if p == s.time), None)
        row("preemptive", i, s.time, s.time, "wasted" if commit is None else "used", s.time,
            None if commit is None else commit - s.time, transcript=s.transcript)  # fmt: skip
    return rows


def expected_hold_cutoffs(
    conversations: Iterable[Conversation],
    min_delay: float,
    *,
    vad_min_silence: float = 0.25,
    vad_hangover: float = 0.1,
    split_pause: float = 0.3,
    grace: float = DEFAULT_GRACE,
) -> dict[str, Any]:
    """The hold cut-offs the labels alone predict at ``min_delay``: an independent check on a sweep.

    With VAD-driven endpointing (reference §4.3) a turn commits at ``max(VAD end, final transcript,
    speech end + min_delay)`` after a stretch of speech, the speech end being where the VAD heard it
    stop. A VAD hears a word for a little while after its labelled end: ``vad_hangover`` (Silero's
    speech probability decays over a few 32 ms frames; on the bundled ``real`` dataset the VAD's
    speech ends fell a median 0.096 s after the labelled word ends). So in a hold of length ``h`` the
    VAD hears ``h - vad_hangover`` of silence and ends its segment if that reaches
    ``vad_min_silence``; the STT finalizes the stretch if ``h >= split_pause``; and the commit lands
    ``vad_hangover + max(min_delay, vad_min_silence)`` after the hold starts, a cut-off if that is
    before the hold's end + ``grace``. Labels placed by hand or by an aligner are off by tens of
    milliseconds either way, so a replay's figure differs from this by a few points.

    Returns ``{"holds", "cutoffs", "rate"}``.

    Example::

        expected_hold_cutoffs(agentlab.datasets.load("real"), 0.5)["rate"]
    """
    wait = vad_hangover + max(min_delay, vad_min_silence)
    holds = [s.duration for c in conversations for s in c.spans if s.kind == "hold"]
    heard = max(vad_min_silence + vad_hangover, split_pause)
    cut = sum(1 for h in holds if h >= heard - 1e-9 and h + grace > wait + 1e-9)
    return {"holds": len(holds), "cutoffs": cut, "rate": cut / len(holds) if holds else _NAN}


def _silent_at(decisions: Decisions, t: float, played: Any) -> bool:
    """Was the agent speech (as played) already stopped, or paused and not resumed, at ``t``?"""
    if played is None:
        return False
    if played.stopped and played.end <= t + 1e-9:
        return True
    state = False
    events = sorted(
        [(i.time, "pause" if i.kind == "pause" else "stop") for i in decisions.interruptions]
        + [(r.time, "resume") for r in decisions.resumes]
    )
    for when, what in events:
        if when < played.start - 1e-9 or when > t + 1e-9:
            continue
        state = what != "resume"
    return state


def _resumed_after(decisions: Decisions, t: float) -> bool:
    """Is the next resume / hard stop / commit strictly after the stop at ``t`` a resume of live speech?"""
    nxt: list[tuple[float, int, bool]] = []
    nxt += [(r.time, 0, r.resumed) for r in decisions.resumes if r.time > t + 1e-9]
    nxt += [(i.time, 1, False) for i in decisions.interruptions if i.kind == "hard" and i.time > t + 1e-9]
    nxt += [(c.time, 1, False) for c in decisions.commits if c.time > t + 1e-9]
    if not nxt:
        return False
    return min(nxt)[2]


def _quantile(values: Sequence[float], q: float) -> float:
    """Linear-interpolation quantile (numpy's default); NaN for no values."""
    if not values:
        return _NAN
    xs = sorted(values)
    pos = (len(xs) - 1) * q
    lo = math.floor(pos)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


def _ratio(num: int, den: int) -> float:
    return num / den if den else _NAN


def summarize(rows: Any) -> dict[str, Any]:
    """The metrics of ``rows`` (from :func:`span_outcomes`, any number of conversations concatenated).

    Rates are NaN when their denominator is 0; latencies are seconds, NaN without values.

    * Cut-offs: ``holds``, ``hold_cutoffs``, ``hold_cutoff_rate`` = cut-off holds / holds
      (eot-bench's figure); ``turns``, ``turn_cutoffs``, ``turn_cutoff_rate`` = turns cut off
      anywhere before their end / turns; ``cutoffs_mid_speech`` = commits before a turn's end that
      fell in no hold; ``false_cutoff_rate`` = the worse of the two rates: **the figure every
      recommendation uses**.
    * Ends of turn: ``eots``; ``detected``, ``late``, ``missed``, ``aec_warmup_losses`` (counts)
      and ``detect_rate``, ``late_rate``, ``missed_turn_rate``, ``aec_warmup_loss_rate`` (/ eots);
      ``eot_latency_p50``, ``_p90``, ``_p99`` (linear interpolation, as numpy) and
      ``eot_latency_mean`` over detected **and late** eots.
    * Barge-ins: ``barge_ins_labelled``; ``barge_ins_scored`` (the simulated agent was speaking:
      interrupted + missed); ``barge_in_recall`` = interrupted / scored; ``stop_delay_mean`` and
      ``stop_delay_p50`` over interrupted ones.
    * Backchannels and noise: ``backchannels_noise`` (labelled), ``backchannels_noise_scored``,
      ``false_interruptions``, ``false_interruption_rate`` = false interruptions / scored,
      ``resume_rate`` = resumed false interruptions / false interruptions.
    * ``commits``; ``preemptive_starts``, ``preemptive_per_turn`` = starts / commits,
      ``preemptive_wasted``, ``preemptive_wasted_rate`` = wasted / starts,
      ``llm_requests_per_turn`` = (starts + commits without a used preemptive reply) / commits,
      ``preemptive_saved_mean`` = mean head start (seconds) of used ones.
    * ``response_latency_p50``, ``_p90``, ``_p99``, ``_mean``: over committed eots (modelled, see
      :func:`span_outcomes`) and answered typed turns (measured).
    * Task conversations (:mod:`agentlab.sweeps.tasks`): ``user_turns``; ``tool_rounds_per_turn``
      and ``tool_rounds_max``; ``forced_replies`` and ``forced_reply_rate`` = forced / user_turns;
      ``tool_calls_expected``, ``tool_call_recall`` = called / expected; ``tasks``,
      ``task_success_rate`` = successful tasks / tasks. Their LLM requests count in
      ``llm_requests_per_turn`` (requests / (commits + user_turns)).

    Example::

        summarize(pd.concat([span_outcomes(c, replay_conversation(c, opts)) for c in ds]))["false_cutoff_rate"]
    """
    kind = rows["kind"].to_numpy(dtype=object)
    outcome = rows["outcome"].to_numpy(dtype=object)
    latency = rows["latency"].to_numpy(dtype=float)
    response = rows["response_latency"].to_numpy(dtype=float)

    def n(k: str, o: str | tuple[str, ...] | None = None) -> int:
        return int(np.count_nonzero(_mask(kind, outcome, k, o)))

    def values(col: np.ndarray, k: str, o: str | tuple[str, ...]) -> list[float]:
        v = col[_mask(kind, outcome, k, o)]
        return v[~np.isnan(v)].tolist()

    holds, hold_cut = n("hold"), n("hold", "cutoff")
    turns, turn_cut = n("turn"), n("turn", "cutoff")
    eots = n("eot")
    detected, late, missed, aec = n("eot", "detected"), n("eot", "late"), n("eot", "missed"), n("eot", "aec_warmup")
    lat = values(latency, "eot", ("detected", "late"))
    interrupted = values(latency, "barge_in", "interrupted")
    scored_barge = n("barge_in", ("interrupted", "missed"))
    bn_kinds = ("backchannel", "noise")
    bn = sum(n(k) for k in bn_kinds)
    bn_scored = sum(n(k, ("false_interruption", "ignored")) for k in bn_kinds)
    fi = sum(n(k, "false_interruption") for k in bn_kinds)
    resumed = 0
    if fi:
        fi_mask = _mask(kind, outcome, "backchannel", "false_interruption") | _mask(kind, outcome, "noise", "false_interruption")
        resumed = int(sum(1 for r in rows["resumed"].to_numpy(dtype=object)[fi_mask] if r is True or r == 1 or r == "True"))
    commits = n("commit")
    pre, used = n("preemptive"), n("preemptive", "used")
    saved = values(latency, "preemptive", "used")
    typed_mask = kind == "user_turn"
    typed = int(np.count_nonzero(typed_mask))
    resp = [*values(response, "eot", ("detected", "late")), *[x for x in response[typed_mask].tolist() if not math.isnan(x)]]
    typed_requests = int(np.nansum(rows["llm_requests"].to_numpy(dtype=float)[typed_mask])) if typed else 0
    rounds_col = rows["tool_rounds"].to_numpy(dtype=float)[typed_mask] if typed else np.empty(0)
    rounds = [int(x) for x in rounds_col if not math.isnan(x)]
    forced = n("user_turn", "forced_reply")
    expected, called = n("tool_call"), n("tool_call", "called")
    tasks, success = n("task"), n("task", "success")
    hold_rate, turn_rate = _ratio(hold_cut, holds), _ratio(turn_cut, turns)
    return {
        "holds": holds,
        "hold_cutoffs": hold_cut,
        "hold_cutoff_rate": hold_rate,
        "turns": turns,
        "turn_cutoffs": turn_cut,
        "turn_cutoff_rate": turn_rate,
        "cutoffs_mid_speech": n("commit", "cutoff_mid_speech"),
        "false_cutoff_rate": _worse(hold_rate, turn_rate),
        "eots": eots,
        "detected": detected,
        "late": late,
        "missed": missed,
        "aec_warmup_losses": aec,
        "detect_rate": _ratio(detected, eots),
        "late_rate": _ratio(late, eots),
        "missed_turn_rate": _ratio(missed, eots),
        "aec_warmup_loss_rate": _ratio(aec, eots),
        "eot_latency_p50": _quantile(lat, 0.5),
        "eot_latency_p90": _quantile(lat, 0.9),
        "eot_latency_p99": _quantile(lat, 0.99),
        "eot_latency_mean": sum(lat) / len(lat) if lat else _NAN,
        "barge_ins_labelled": n("barge_in"),
        "barge_ins_scored": scored_barge,
        "barge_in_recall": _ratio(len(interrupted), scored_barge),
        "stop_delay_mean": sum(interrupted) / len(interrupted) if interrupted else _NAN,
        "stop_delay_p50": _quantile(interrupted, 0.5),
        "backchannels_noise": bn,
        "backchannels_noise_scored": bn_scored,
        "false_interruptions": fi,
        "false_interruption_rate": _ratio(fi, bn_scored),
        "resume_rate": _ratio(resumed, fi),
        "commits": commits,
        "preemptive_starts": pre,
        "preemptive_per_turn": _ratio(pre, commits),
        "preemptive_wasted": pre - used,
        "preemptive_wasted_rate": _ratio(pre - used, pre),
        "llm_requests_per_turn": _ratio(pre + commits - used + typed_requests, commits + typed),
        "preemptive_saved_mean": sum(saved) / len(saved) if saved else _NAN,
        "user_turns": typed,
        "response_latency_p50": _quantile(resp, 0.5),
        "response_latency_p90": _quantile(resp, 0.9),
        "response_latency_p99": _quantile(resp, 0.99),
        "response_latency_mean": sum(resp) / len(resp) if resp else _NAN,
        "tool_rounds_per_turn": _ratio(sum(rounds), len(rounds)),
        "tool_rounds_max": max(rounds) if rounds else _NAN,
        "forced_replies": forced,
        "forced_reply_rate": _ratio(forced, typed),
        "tool_calls_expected": expected,
        "tool_call_recall": _ratio(called, expected),
        "tasks": tasks,
        "task_success_rate": _ratio(success, tasks),
    }


def _mask(kind: np.ndarray, outcome: np.ndarray, k: str, o: str | tuple[str, ...] | None) -> np.ndarray:
    m = kind == k
    if o is None:
        return m
    if isinstance(o, str):
        return m & (outcome == o)
    return m & np.isin(outcome, list(o))


def _worse(a: float, b: float) -> float:
    """The larger of two rates, ignoring a NaN one (NaN only when both are)."""
    if math.isnan(a):
        return b
    if math.isnan(b):
        return a
    return max(a, b)


def _valid(x: Any) -> bool:
    return isinstance(x, (int, float)) and not math.isnan(x)


def operating_points(
    summaries_by_setting: Mapping[Hashable, Mapping[str, Any]],
    *,
    cutoff_budgets: Sequence[float] = (0.05, 0.10),
    latency_budgets: Sequence[float] = (0.3, 0.6),
    latency: str = "eot_latency_p50",
) -> dict[str, dict[str, Any]]:
    """eot-bench's operating points over settings (each a :func:`summarize` result).

    * ``"latency@cutoff<=5%"`` (one per ``cutoff_budgets`` entry): among the settings whose
      ``false_cutoff_rate`` is at most the budget, the lowest ``latency`` (p50 end-of-turn latency
      by default; ``"eot_latency_mean"`` is eot-bench's choice).
    * ``"cutoff@latency<=300ms"`` (one per ``latency_budgets`` entry, seconds): among the settings
      whose ``latency`` is at most the budget, the lowest ``false_cutoff_rate``.

    Each value is ``{"budget", "value", "setting"}``; ``value`` and ``setting`` are None when no
    setting meets the budget. Ties go to the first setting in iteration order. Settings with NaN
    metrics are skipped.

    Example::

        operating_points({0.2: {"false_cutoff_rate": 0.3, "eot_latency_p50": 0.45},
                          1.0: {"false_cutoff_rate": 0.02, "eot_latency_p50": 1.25}})
        # {'latency@cutoff<=5%': {'budget': 0.05, 'value': 1.25, 'setting': 1.0}, ...,
        #  'cutoff@latency<=600ms': {'budget': 0.6, 'value': 0.3, 'setting': 0.2}, ...}
    """
    out: dict[str, dict[str, Any]] = {}
    items = [(k, s) for k, s in summaries_by_setting.items() if _valid(s.get("false_cutoff_rate")) and _valid(s.get(latency))]
    for b in cutoff_budgets:
        ok = [(s[latency], i, k) for i, (k, s) in enumerate(items) if s["false_cutoff_rate"] <= b + 1e-12]
        best = min(ok) if ok else None
        out[f"latency@cutoff<={b * 100:g}%"] = {"budget": b, "value": best[0] if best else None, "setting": best[2] if best else None}
    for b in latency_budgets:
        ok = [(s["false_cutoff_rate"], i, k) for i, (k, s) in enumerate(items) if s[latency] <= b + 1e-12]
        best = min(ok) if ok else None
        out[f"cutoff@latency<={b * 1000:g}ms"] = {"budget": b, "value": best[0] if best else None, "setting": best[2] if best else None}
    return out


def pareto(points: Mapping[Hashable, Any], *, latency: str = "eot_latency_p50") -> list[Hashable]:
    """The non-dominated settings on (false cut-off rate, end-of-turn latency), both lower-is-better.

    ``points`` maps a setting to a :func:`summarize` result (``false_cutoff_rate`` and ``latency``
    are read) or to a ``(cutoff_rate, latency)`` pair. A setting is dominated when another is no
    worse on both and strictly better on one; equal points are all kept. NaN points are dropped.
    Returned in order of increasing cut-off rate (then latency).

    Example::

        pareto({"a": (0.10, 0.4), "b": (0.05, 0.9), "c": (0.12, 0.5)})   # ['b', 'a']
    """
    xy: list[tuple[float, float, Hashable]] = []
    for k, v in points.items():
        x, y = (v["false_cutoff_rate"], v[latency]) if isinstance(v, Mapping) else (v[0], v[1])
        if _valid(x) and _valid(y):
            xy.append((float(x), float(y), k))
    front = [(x, y, k) for x, y, k in xy if not any(x2 <= x and y2 <= y and (x2 < x or y2 < y) for x2, y2, _ in xy)]
    return [k for _, _, k in sorted(front, key=lambda p: (p[0], p[1]))]
