"""The metrics contract on a hand-built conversation with hand-computed values (see agentlab.sweeps.score)."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from agentlab.datasets.model import AgentSpeech, Conversation, Overlap, Span, Turn, Word
from agentlab.sweeps import (
    ROW_COLUMNS,
    AgentPlayback,
    Commit,
    Decisions,
    Interruption,
    Preemptive,
    Resume,
    operating_points,
    pareto,
    span_outcomes,
    summarize,
)


def worked_conversation() -> Conversation:
    words = (Word("one", 0.0, 1.0), Word("two", 1.5, 2.0), Word("three", 2.4, 3.0))
    return Conversation(
        id="worked",
        duration=12.0,
        turns=(Turn(0.0, 3.0, "one two three", words), Turn(5.0, 6.0, "four", (Word("four", 5.0, 6.0),))),
        spans=(Span("hold", 1.0, 1.5, 0), Span("hold", 2.0, 2.4, 0), Span("eot", 3.0, 5.0, 0), Span("eot", 6.0, 8.0, 1)),
        agent=(AgentSpeech(8.0, 12.0, "a long answer"),),
        overlaps=(
            Overlap("backchannel", 8.5, 8.8, 0, "yeah"),
            Overlap("barge_in", 9.5, 10.5, 0, "wait no"),
            Overlap("noise", 11.0, 11.4, 0, None),
        ),
    )


def worked_decisions() -> Decisions:
    return Decisions(
        conversation="worked",
        commits=(Commit(1.3, "one", 0.0, 1.0, 0.3, 0.2), Commit(3.4, "two three", 1.5, 3.0, 0.4, 0.2)),
        interruptions=(
            Interruption(9.0, "pause"),
            Interruption(10.1, "pause"),
            Interruption(10.7, "hard", "false_interruption_confirmed"),
        ),
        resumes=(Resume(9.2, True),),
        preemptive=(Preemptive(1.2, "one"), Preemptive(3.1, "two"), Preemptive(3.25, "two three")),
        agent=(AgentPlayback(0, 8.0, 10.7, stopped=True),),
    )


def test_worked_example_rows():
    rows = span_outcomes(worked_conversation(), worked_decisions())
    assert list(rows.columns) == list(ROW_COLUMNS)
    got = [(r.kind, r.outcome, None if math.isnan(r.latency) else round(r.latency, 6)) for r in rows.itertuples()]
    assert got == [
        ("hold", "cutoff", 0.3),
        ("hold", "held", None),
        ("eot", "detected", 0.4),
        ("eot", "missed", None),
        ("backchannel", "false_interruption", 0.5),
        ("barge_in", "interrupted", 0.6),
        ("noise", "ignored", None),
        ("commit", "cutoff", 0.3),
        ("commit", "eot", 0.4),
        ("preemptive", "used", 0.1),
        ("preemptive", "wasted", None),
        ("preemptive", "used", 0.15),
    ]
    assert rows.loc[rows.kind == "backchannel", "resumed"].item() is True
    assert rows.loc[rows.kind == "commit", "turn"].tolist() == [0, 0]
    assert rows.loc[rows.kind == "eot", "time"].iloc[0] == 3.4


def test_worked_example_summary():
    s = summarize(span_outcomes(worked_conversation(), worked_decisions()))
    assert (s["holds"], s["cutoffs"], s["false_cutoff_rate"]) == (2, 1, 0.5)
    assert (s["eots"], s["detected"], s["missed_turn_rate"]) == (2, 1, 0.5)
    assert s["eot_latency_p50"] == pytest.approx(0.4) and s["eot_latency_mean"] == pytest.approx(0.4)
    assert (s["barge_ins"], s["barge_in_recall"]) == (1, 1.0)
    assert s["stop_delay_mean"] == pytest.approx(0.6)
    assert (s["backchannels_noise"], s["false_interruptions"], s["false_interruption_rate"], s["resume_rate"]) == (2, 1, 0.5, 1.0)
    assert (s["commits"], s["preemptive_starts"], s["preemptive_wasted"]) == (2, 3, 1)
    assert s["preemptive_per_turn"] == pytest.approx(1.5)
    assert s["preemptive_wasted_rate"] == pytest.approx(1 / 3)
    assert s["llm_requests_per_turn"] == pytest.approx(1.5)
    assert s["preemptive_saved_mean"] == pytest.approx(0.125)


def test_windows_grace_timeout_and_silent_agent():
    conv = worked_conversation()
    # A commit 50 ms after the second hold ends: the VAD could not have heard the user resume yet.
    d = Decisions("worked", commits=(Commit(2.45, "one two", 0.0, 2.0, 0.45, 0.2), Commit(8.5, "four", 5.0, 6.0, 2.5, 0.2)))
    rows = span_outcomes(conv, d)
    assert rows[rows.kind == "hold"].outcome.tolist() == ["held", "cutoff"]
    # The second eot's commit comes 2.5 s after it: detected with the default 3 s timeout, missed with 2 s.
    assert rows[rows.kind == "eot"].outcome.tolist() == ["missed", "detected"]
    assert span_outcomes(conv, d, timeout=2.0).query("kind == 'eot'").outcome.tolist() == ["missed", "missed"]
    assert span_outcomes(conv, d, grace=0.0).query("kind == 'hold'").outcome.tolist() == ["held", "held"]
    # Paused by the backchannel and never resumed: the barge-in finds the agent silent and is not scored.
    d = Decisions("worked", interruptions=(Interruption(9.0, "pause"),), agent=(AgentPlayback(0, 8.0, 12.0, stopped=False),))
    rows = span_outcomes(conv, d)
    assert rows[rows.kind.isin(["backchannel", "barge_in"])].outcome.tolist() == ["false_interruption", "agent_silent"]
    s = summarize(rows)
    assert s["barge_ins"] == 0 and math.isnan(s["barge_in_recall"]) and s["resume_rate"] == 0.0
    with pytest.raises(ValueError):
        span_outcomes(conv, d, timeout=0)


def test_summary_of_nothing_is_nan():
    s = summarize(pd.DataFrame(columns=list(ROW_COLUMNS)))
    assert s["holds"] == 0 and math.isnan(s["false_cutoff_rate"]) and math.isnan(s["eot_latency_p50"])


def test_operating_points_and_pareto():
    points = {
        0.2: {"false_cutoff_rate": 0.30, "eot_latency_p50": 0.25},
        0.5: {"false_cutoff_rate": 0.08, "eot_latency_p50": 0.55},
        0.7: {"false_cutoff_rate": 0.09, "eot_latency_p50": 0.75},  # dominated by 0.5
        1.0: {"false_cutoff_rate": 0.04, "eot_latency_p50": 1.05},
        2.0: {"false_cutoff_rate": float("nan"), "eot_latency_p50": 2.0},  # no holds: skipped
    }
    op = operating_points(points)
    assert op["latency@cutoff<=5%"] == {"budget": 0.05, "value": 1.05, "setting": 1.0}
    assert op["latency@cutoff<=10%"] == {"budget": 0.1, "value": 0.55, "setting": 0.5}
    assert op["cutoff@latency<=300ms"] == {"budget": 0.3, "value": 0.30, "setting": 0.2}
    assert op["cutoff@latency<=600ms"] == {"budget": 0.6, "value": 0.08, "setting": 0.5}
    assert operating_points(points, cutoff_budgets=(0.01,))["latency@cutoff<=1%"] == {"budget": 0.01, "value": None, "setting": None}
    assert pareto(points) == [1.0, 0.5, 0.2]
    assert pareto({"a": (0.10, 0.4), "b": (0.05, 0.9), "c": (0.12, 0.5), "d": (0.10, 0.4)}) == ["b", "a", "d"]


def test_response_latency_follows_livekits_measured_rule():
    # Reference §6's repo test: the user stops at 2.0, the final transcript (and a preemptive
    # start) comes at 2.1, min_delay 0.5 commits at 2.5; LLM ttft 0.3, TTS ttfb 0.3. LiveKit
    # measured 0.7 s (preemptive with TTS), 0.8 s (preemptive LLM only) and 1.1 s (disabled).
    words = (Word("hello", 0.5, 1.0), Word("there", 1.5, 2.0))
    conv = Conversation(
        id="lk", duration=6.0, turns=(Turn(0.5, 2.0, "hello there", words),), spans=(Span("hold", 1.0, 1.5, 0), Span("eot", 2.0, 6.0, 0))
    )
    commit = Commit(2.5, "hello there", 0.5, 2.0, 0.5, 0.1)
    pre = Decisions("lk", commits=(commit,), preemptive=(Preemptive(2.1, "Hello there."),))
    plain = Decisions("lk", commits=(commit,))

    def response(d, **kw):
        rows = span_outcomes(conv, d, llm_ttft=0.3, tts_ttfb=0.3, **kw)
        return round(rows.loc[rows.kind == "eot", "response_latency"].item(), 6)

    assert response(pre, preemptive_tts=True) == 0.7
    assert response(pre) == 0.8
    assert response(plain) == 1.1
    # A wasted preemptive start (other words) saves nothing.
    other = Decisions("lk", commits=(commit,), preemptive=(Preemptive(2.1, "hello"),))
    assert response(other) == 1.1


def test_worked_example_response_latency():
    rows = span_outcomes(worked_conversation(), worked_decisions())  # defaults: llm_ttft 0.3, tts_ttfb 0.2
    eot = rows[rows.kind == "eot"]
    # detected at 3.4 reusing the preemptive reply started at 3.25: max(3.25 + 0.3, 3.4) + 0.2 = 3.75
    assert eot.response_latency.iloc[0] == pytest.approx(0.75) and math.isnan(eot.response_latency.iloc[1])
    assert rows[rows.kind != "eot"].response_latency.isna().all()
    s = summarize(rows)
    assert s["response_latency_p50"] == pytest.approx(0.75) and s["response_latency_mean"] == pytest.approx(0.75)
    with pytest.raises(ValueError, match="llm_ttft"):
        span_outcomes(worked_conversation(), worked_decisions(), llm_ttft=-1)
