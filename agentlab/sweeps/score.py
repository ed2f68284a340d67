"""The metrics contract: labelled span outcomes, their summary, and operating points.

Everything a sweep reports is computed here from a conversation's labels
(:class:`~agentlab.datasets.Conversation`) and the decisions taken on it
(:class:`~agentlab.sweeps.replay.Decisions`), following LiveKit's eot-bench span convention
(``datasets/README.md``): inside a user turn every silence of at least 100 ms is a **hold**, the
silence after the turn's last word is its **eot**. Times are seconds.

Three layers, one function each:

1. :func:`span_outcomes` — one row per labelled span or overlap (and per commit and preemptive
   start), with its outcome and latency. The definitions are in its docstring.
2. :func:`summarize` — rates and latency percentiles over any set of rows (one conversation, a
   dataset, a slice by voice or noise...).
3. :func:`operating_points` and :func:`pareto` — across settings: latency at a cut-off budget,
   cut-offs at a latency budget, and the non-dominated settings.

Worked example (the one ``tests/test_sweep_scores.py`` checks by hand). A user turn with words
at 0.0-1.0, 1.5-2.0 and 2.4-3.0 s has two holds, ``[1.0, 1.5)`` and ``[2.0, 2.4)``, and an eot
``[3.0, 5.0)``; a second turn 5.0-6.0 has the eot ``[6.0, 8.0)``. The agent speaks from 8.0 s;
the user overlaps it with a backchannel at 8.5-8.8, a barge-in at 9.5-10.5 and noise at
11.0-11.4. Decisions: commits at 1.3 s ("one": inside the first hold, a cut-off 0.3 s into it)
and 3.4 s ("two three": eot latency 0.4 s); none for the second turn (missed); a pause at 9.0 s
(0.5 s into the backchannel: a false interruption) resumed at 9.2 s; a pause at 10.1 s (barge-in
stop delay 0.6 s) confirmed by a hard stop at 10.7 s, so the agent is silent when the noise comes
(ignored); preemptive starts at 1.2 s ("one": used, 0.1 s head start), 3.1 s ("two": superseded,
wasted) and 3.25 s ("two three": used, 0.15 s)::

    rows = span_outcomes(conv, decisions)
    rows[["kind", "outcome", "latency"]]
    #  hold         cutoff              0.3
    #  hold         held                NaN
    #  eot          detected            0.4
    #  eot          missed              NaN
    #  backchannel  false_interruption  0.5    (resumed: True)
    #  barge_in     interrupted         0.6
    #  noise        ignored             NaN
    #  commit       cutoff / eot        0.3 / 0.4   (their eou_delay)
    #  preemptive   used / wasted / used  0.1 / NaN / 0.15
    s = summarize(rows)
    s["false_cutoff_rate"], s["eot_latency_p50"], s["missed_turn_rate"]      # 0.5, 0.4, 0.5
    s["barge_in_recall"], s["stop_delay_mean"]                               # 1.0, 0.6
    s["false_interruption_rate"], s["resume_rate"]                           # 0.5, 1.0
    s["preemptive_per_turn"], s["preemptive_wasted_rate"], s["llm_requests_per_turn"]  # 1.5, 1/3, 1.5

Across settings::

    points = {0.2: summarize(rows_a), 0.5: summarize(rows_b), 1.0: summarize(rows_c)}
    operating_points(points)["latency@cutoff<=5%"]    # {'budget': 0.05, 'value': ..., 'setting': ...}
    pareto(points)                                     # settings nobody beats on both axes
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Iterable, Mapping, Sequence
from typing import Any

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
    "operating_points",
    "pareto",
    "span_outcomes",
    "summarize",
]

#: Seconds after an eot span starts within which a commit counts (eot-bench's policy timeout).
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


def _first(times: Iterable[float], lo: float, hi: float, *, closed: bool = False) -> float | None:
    best = None
    for t in times:
        if lo - 1e-9 <= t and (t <= hi + 1e-9 if closed else t < hi - 1e-9) and (best is None or t < best):
            best = t
    return best


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
    """One row per labelled span and overlap of ``conv`` (plus one per commit and preemptive start).

    Columns (:data:`ROW_COLUMNS`): ``conversation``, ``kind``, ``index`` (in its label list or
    decision list), ``start``/``end`` (the label's; a decision's time for decision rows), ``turn``
    (user turn index, or -1), ``agent`` (agent speech index, or -1), ``outcome``, ``time`` (of the
    deciding action, NaN if none), ``latency`` (seconds, NaN if none), ``resumed`` (for false
    interruptions: bool; else None), ``transcript``.

    A **stop** is a pause or hard interruption of the agent (:attr:`Decisions.interruptions`); a
    **commit** is a committed user turn or, when known, a reply start (:attr:`Decisions.replies`).

    * ``hold`` ``[start, end)`` (a mid-turn pause): outcome ``"cutoff"`` if a commit falls in
      ``[start, end + grace)`` (``grace`` covers the VAD's start-detection lag: the decision was
      made before the engine could hear the user resume), else ``"held"``. ``latency`` = the first
      such commit − ``start`` (how far into the pause the agent cut in).
    * ``eot`` (the silence after a turn's last word, starting at the true end of speech): the
      first commit in ``[start, min(start + timeout, next user turn's start + grace))`` — i.e.
      within ``timeout`` and before the user spoke again, which would merge the turns. Outcome
      ``"detected"`` with ``latency`` = commit − ``start`` (**end-of-turn latency**), else ``"missed"``.
      A detected eot also gets ``response_latency``: when the agent's first audio would start,
      − ``start``, modelled with LiveKit's measured rule (reference §6) from ``llm_ttft`` and
      ``tts_ttfb``: ``commit + llm_ttft + tts_ttfb`` without a used preemptive start;
      ``max(pre + llm_ttft, commit) + tts_ttfb`` with one started at ``pre``; and
      ``max(pre + llm_ttft + tts_ttfb, commit)`` when ``preemptive_tts`` also starts the TTS early.
    * ``barge_in`` (the user really interrupts agent speech ``agent``): if the agent was already
      silent at the overlap's start (that speech stopped, or paused and not resumed, by an earlier
      decision) the outcome is ``"agent_silent"`` (not scored); else ``"interrupted"`` if a stop
      falls in ``[start, end of the agent speech as played]`` — the recording's agent stopped at
      its labelled end, so a policy slower than that missed the barge-in — with ``latency`` = stop
      − ``start`` (**stop delay**), else ``"missed"``.
    * ``backchannel`` / ``noise`` (user sound that should not interrupt): ``"false_interruption"``
      if a stop falls in ``[start, min(end + reaction, end of the agent speech as played)]``, with
      ``latency`` = stop − ``start`` and ``resumed`` = whether the next of {resume, hard stop,
      commit} after it is a resume that found the speech still going; else ``"ignored"``.
    * ``commit`` (a decision row): outcome ``"cutoff"`` or ``"eot"`` when it decided a hold or eot
      row above, else ``"other"``; ``latency`` = its ``eou_delay``; ``turn`` = the labelled turn.
    * ``preemptive`` (a decision row): ``"used"`` if the first commit after it comes before any
      later preemptive start (which would cancel it) and its transcript has the same words
      (:func:`~agentlab.engine.words_of`) — the session's reuse rule — with ``latency`` = that
      commit's time − the start (the head start the LLM got); else ``"wasted"`` (superseded,
      different words, or never committed).

    Example::

        rows = span_outcomes(conv, replay_conversation(conv, options))
        rows[rows.kind == "hold"].outcome.value_counts()
    """
    import pandas as pd

    if timeout <= 0 or grace < 0 or reaction < 0 or llm_ttft < 0 or tts_ttfb < 0:
        raise ValueError(
            "span_outcomes: need timeout > 0 and grace, reaction, llm_ttft, tts_ttfb >= 0; got "
            f"{timeout!r}, {grace!r}, {reaction!r}, {llm_ttft!r}, {tts_ttfb!r}"
        )
    commit_times = [c.time for c in decisions.commits] + list(decisions.replies)
    stops = sorted(decisions.interruptions, key=lambda i: i.time)
    rows: list[dict[str, Any]] = []
    commit_label: dict[float, tuple[str, int]] = {}

    def row(
        kind: str,
        index: int,
        start: float,
        end: float,
        outcome: str,
        *,
        time: float | None = None,
        latency: float | None = None,
        turn: int = -1,
        agent: int = -1,
        resumed: bool | None = None,
        transcript: str | None = None,
        response_latency: float | None = None,
    ) -> None:
        rows.append(
            {
                "conversation": conv.id,
                "kind": kind,
                "index": index,
                "start": start,
                "end": end,
                "turn": turn,
                "agent": agent,
                "outcome": outcome,
                "time": _NAN if time is None else time,
                "latency": _NAN if latency is None else round(latency, 9),
                "resumed": resumed,
                "transcript": transcript,
                "response_latency": _NAN if response_latency is None else round(response_latency, 9),
            }
        )

    ordered_commits = sorted(decisions.commits, key=lambda c: c.time)
    pre = sorted(decisions.preemptive, key=lambda p: p.time)
    used_pre: dict[float, float] = {}  # commit time → start of the preemptive reply it reused
    for i, p in enumerate(pre):
        nxt_commit = next((c for c in ordered_commits if c.time >= p.time - 1e-9), None)
        nxt_pre = pre[i + 1].time if i + 1 < len(pre) else math.inf
        if nxt_commit is not None and nxt_commit.time < nxt_pre - 1e-9 and words_of(nxt_commit.transcript) == words_of(p.transcript):
            used_pre[nxt_commit.time] = p.time

    def reply_start(commit: float) -> float:
        p = used_pre.get(commit)
        if p is None:
            return commit + llm_ttft + tts_ttfb
        if preemptive_tts:
            return max(p + llm_ttft + tts_ttfb, commit)
        return max(p + llm_ttft, commit) + tts_ttfb

    for i, s in enumerate(conv.spans):
        # Both kinds look for the first commit in a window; only the window's end and the labels differ.
        if s.kind == "hold":
            hi, hit, miss, label = s.end + grace, "cutoff", "held", "cutoff"
        else:
            hi = s.start + timeout
            if s.turn + 1 < len(conv.turns):
                hi = min(hi, conv.turns[s.turn + 1].start + grace)
            hit, miss, label = "detected", "missed", "eot"
        t = _first(commit_times, s.start, hi)
        response = reply_start(t) - s.start if t is not None and s.kind == "eot" else None
        row(
            s.kind,
            i,
            s.start,
            s.end,
            miss if t is None else hit,
            time=t,
            latency=None if t is None else t - s.start,
            turn=s.turn,
            response_latency=response,
        )
        if t is not None:
            commit_label.setdefault(t, (label, s.turn))

    played = {p.index: p for p in decisions.agent}
    for i, o in enumerate(conv.overlaps):
        speech = conv.agent[o.agent] if 0 <= o.agent < len(conv.agent) else None
        p = played.get(o.agent)
        agent_end = p.end if p is not None else (speech.end if speech is not None else o.end)
        if o.kind == "barge_in":
            if _silent_at(decisions, o.start, p):
                row("barge_in", i, o.start, o.end, "agent_silent", agent=o.agent, transcript=o.transcript)
                continue
            t = _first((s.time for s in stops), o.start, agent_end, closed=True)
            row(
                "barge_in",
                i,
                o.start,
                o.end,
                "missed" if t is None else "interrupted",
                time=t,
                latency=None if t is None else t - o.start,
                agent=o.agent,
                transcript=o.transcript,
            )
        else:
            hi = min(o.end + reaction, agent_end)
            t = _first((s.time for s in stops), o.start, hi, closed=True)
            if t is None:
                row(o.kind, i, o.start, o.end, "ignored", agent=o.agent, transcript=o.transcript)
            else:
                row(
                    o.kind,
                    i,
                    o.start,
                    o.end,
                    "false_interruption",
                    time=t,
                    latency=t - o.start,
                    agent=o.agent,
                    resumed=_resumed_after(decisions, t),
                    transcript=o.transcript,
                )

    for i, c in enumerate(decisions.commits):
        outcome, turn = commit_label.get(c.time, ("other", -1))
        row("commit", i, c.time, c.time, outcome, time=c.time, latency=c.eou_delay, turn=turn, transcript=c.transcript)

    for i, s in enumerate(pre):
        commit = next((c for c, p in used_pre.items() if p == s.time), None)
        row(
            "preemptive",
            i,
            s.time,
            s.time,
            "wasted" if commit is None else "used",
            time=s.time,
            latency=None if commit is None else commit - s.time,
            transcript=s.transcript,
        )

    return pd.DataFrame(rows, columns=list(ROW_COLUMNS))


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

    * ``holds``, ``cutoffs``, ``false_cutoff_rate`` = cutoffs / holds (eot-bench's cut-off rate).
    * ``eots``, ``detected``, ``missed_turn_rate`` = missed eots / eots; ``eot_latency_p50``,
      ``_p90``, ``_p99`` (linear interpolation, as numpy) and ``eot_latency_mean`` over detected eots.
    * ``barge_ins`` (scored: interrupted + missed, not ``agent_silent``), ``barge_in_recall`` =
      interrupted / barge_ins, ``stop_delay_mean`` and ``stop_delay_p50`` over interrupted ones.
    * ``backchannels_noise`` (backchannel + noise rows), ``false_interruptions``,
      ``false_interruption_rate`` = false interruptions / backchannels_noise, ``resume_rate`` =
      resumed false interruptions / false interruptions.
    * ``commits``; ``preemptive_starts``, ``preemptive_per_turn`` = starts / commits,
      ``preemptive_wasted``, ``preemptive_wasted_rate`` = wasted / starts,
      ``llm_requests_per_turn`` = (starts + commits without a used preemptive reply) / commits,
      ``preemptive_saved_mean`` = mean head start (seconds) of used ones.
    * ``response_latency_p50``, ``_p90``, ``_p99``, ``_mean``: over detected eots (modelled, see
      :func:`span_outcomes`) and answered typed turns (measured).
    * Task conversations (:mod:`agentlab.sweeps.tasks`): ``user_turns``; ``tool_rounds_per_turn``
      and ``tool_rounds_max``; ``forced_replies`` and ``forced_reply_rate`` = forced / user_turns;
      ``tool_calls_expected``, ``tool_call_recall`` = called / expected; ``tasks``,
      ``task_success_rate`` = successful tasks / tasks. Their LLM requests count in
      ``llm_requests_per_turn`` (requests / (commits + user_turns)).

    Example::

        summarize(pd.concat([span_outcomes(c, replay_conversation(c, opts)) for c in ds]))["false_cutoff_rate"]
    """
    by_kind: dict[str, list[dict[str, Any]]] = {}
    for r in rows.to_dict("records"):
        by_kind.setdefault(r["kind"], []).append(r)

    def outcome(kind: str, name: str) -> list[dict[str, Any]]:
        return [r for r in by_kind.get(kind, []) if r["outcome"] == name]

    holds = len(by_kind.get("hold", []))
    cutoffs = len(outcome("hold", "cutoff"))
    eots = len(by_kind.get("eot", []))
    lat = [r["latency"] for r in outcome("eot", "detected")]
    interrupted = outcome("barge_in", "interrupted")
    scored_barge = len(interrupted) + len(outcome("barge_in", "missed"))
    bn = by_kind.get("backchannel", []) + by_kind.get("noise", [])
    fi = [r for r in bn if r["outcome"] == "false_interruption"]
    commits = len(by_kind.get("commit", []))
    pre = by_kind.get("preemptive", [])
    used = [r for r in pre if r["outcome"] == "used"]
    stop = [r["latency"] for r in interrupted]
    typed = by_kind.get("user_turn", [])
    resp = [r["response_latency"] for r in by_kind.get("eot", []) + typed if _valid(r["response_latency"])]
    typed_requests = sum(int(r["llm_requests"]) for r in typed if _valid(r["llm_requests"]))
    rounds = [int(r["tool_rounds"]) for r in typed if _valid(r["tool_rounds"])]
    forced = len([r for r in typed if r["outcome"] == "forced_reply"])
    expected = by_kind.get("tool_call", [])
    called = len([r for r in expected if r["outcome"] == "called"])
    tasks = by_kind.get("task", [])
    return {
        "holds": holds,
        "cutoffs": cutoffs,
        "false_cutoff_rate": _ratio(cutoffs, holds),
        "eots": eots,
        "detected": len(lat),
        "missed_turn_rate": _ratio(eots - len(lat), eots),
        "eot_latency_p50": _quantile(lat, 0.5),
        "eot_latency_p90": _quantile(lat, 0.9),
        "eot_latency_p99": _quantile(lat, 0.99),
        "eot_latency_mean": sum(lat) / len(lat) if lat else _NAN,
        "barge_ins": scored_barge,
        "barge_in_recall": _ratio(len(interrupted), scored_barge),
        "stop_delay_mean": sum(stop) / len(stop) if stop else _NAN,
        "stop_delay_p50": _quantile(stop, 0.5),
        "backchannels_noise": len(bn),
        "false_interruptions": len(fi),
        "false_interruption_rate": _ratio(len(fi), len(bn)),
        "resume_rate": _ratio(sum(1 for r in fi if r["resumed"]), len(fi)),
        "commits": commits,
        "preemptive_starts": len(pre),
        "preemptive_per_turn": _ratio(len(pre), commits),
        "preemptive_wasted": len(pre) - len(used),
        "preemptive_wasted_rate": _ratio(len(pre) - len(used), len(pre)),
        "llm_requests_per_turn": _ratio(len(pre) + commits - len(used) + typed_requests, commits + len(typed)),
        "preemptive_saved_mean": sum(r["latency"] for r in used) / len(used) if used else _NAN,
        "user_turns": len(typed),
        "response_latency_p50": _quantile(resp, 0.5),
        "response_latency_p90": _quantile(resp, 0.9),
        "response_latency_p99": _quantile(resp, 0.99),
        "response_latency_mean": sum(resp) / len(resp) if resp else _NAN,
        "tool_rounds_per_turn": _ratio(sum(rounds), len(rounds)),
        "tool_rounds_max": max(rounds) if rounds else _NAN,
        "forced_replies": forced,
        "forced_reply_rate": _ratio(forced, len(typed)),
        "tool_calls_expected": len(expected),
        "tool_call_recall": _ratio(called, len(expected)),
        "tasks": len(tasks),
        "task_success_rate": _ratio(len([r for r in tasks if r["outcome"] == "success"]), len(tasks)),
    }


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
