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
    Discarded,
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
        ("turn", "cutoff", None),
        ("turn", "intact", None),
        ("eot", "detected", 0.4),
        ("eot", "missed", None),
        ("backchannel", "false_interruption", 0.5),
        ("barge_in", "interrupted", 0.6),
        ("noise", "agent_silent", None),  # the agent was stopped at 10.7: nothing to interrupt, not scored
        ("commit", "cutoff", 0.3),
        ("commit", "eot", 0.4),
        ("preemptive", "used", 0.1),
        ("preemptive", "wasted", None),
        ("preemptive", "used", 0.15),
    ]
    assert rows.loc[rows.kind == "backchannel", "resumed"].item() is True
    assert rows.loc[rows.kind == "commit", "turn"].tolist() == [0, 0]
    assert rows.loc[rows.kind == "eot", "time"].iloc[0] == 3.4
    assert rows.loc[rows.kind == "turn", "time"].iloc[0] == 1.3


def test_worked_example_summary():
    s = summarize(span_outcomes(worked_conversation(), worked_decisions()))
    assert (s["holds"], s["hold_cutoffs"], s["hold_cutoff_rate"]) == (2, 1, 0.5)
    assert (s["turns"], s["turn_cutoffs"], s["turn_cutoff_rate"], s["false_cutoff_rate"]) == (2, 1, 0.5, 0.5)
    assert (s["eots"], s["detected"], s["late"], s["missed_turn_rate"]) == (2, 1, 0, 0.5)
    assert s["eot_latency_p50"] == pytest.approx(0.4) and s["eot_latency_mean"] == pytest.approx(0.4)
    assert (s["barge_ins_labelled"], s["barge_ins_scored"], s["barge_in_recall"]) == (1, 1, 1.0)
    assert s["stop_delay_mean"] == pytest.approx(0.6)
    assert (s["backchannels_noise"], s["backchannels_noise_scored"], s["false_interruptions"]) == (2, 1, 1)
    assert (s["false_interruption_rate"], s["resume_rate"]) == (1.0, 1.0)
    assert (s["commits"], s["preemptive_starts"], s["preemptive_wasted"]) == (2, 3, 1)
    assert s["preemptive_per_turn"] == pytest.approx(1.5)
    assert s["preemptive_wasted_rate"] == pytest.approx(1 / 3)
    assert s["llm_requests_per_turn"] == pytest.approx(1.5)
    assert s["preemptive_saved_mean"] == pytest.approx(0.125)


def test_windows_grace_timeout_and_silent_agent():
    conv = worked_conversation()
    # A commit 50 ms after the second hold ends: the VAD could not have heard the user resume yet.
    d = Decisions("worked", commits=(Commit(2.45, "one two", 0.0, 2.0, 0.45, 0.2), Commit(7.9, "four", 5.0, 6.0, 1.9, 0.2)))
    rows = span_outcomes(conv, d)
    assert rows[rows.kind == "hold"].outcome.tolist() == ["held", "cutoff"]
    # The second eot's commit comes 1.9 s after it, before the agent speaks at 8.0: detected; with a 1.5 s timeout, missed.
    assert rows[rows.kind == "eot"].outcome.tolist() == ["missed", "detected"]
    assert span_outcomes(conv, d, timeout=1.5).query("kind == 'eot'").outcome.tolist() == ["missed", "missed"]
    assert span_outcomes(conv, d, grace=0.0).query("kind == 'hold'").outcome.tolist() == ["held", "held"]
    # ... but with grace 0 the commit at 2.45 is still before the turn's end (3.0): a cut-off between words
    tight = span_outcomes(conv, d, grace=0.0)
    assert tight.query("kind == 'turn'").outcome.tolist() == ["cutoff", "intact"]
    assert tight.query("kind == 'commit'").outcome.tolist() == ["cutoff_mid_speech", "eot"]
    # Paused by the backchannel and never resumed: the barge-in finds the agent silent and is not scored.
    d = Decisions("worked", interruptions=(Interruption(9.0, "pause"),), agent=(AgentPlayback(0, 8.0, 12.0, stopped=False),))
    rows = span_outcomes(conv, d)
    assert rows[rows.kind.isin(["backchannel", "barge_in"])].outcome.tolist() == ["false_interruption", "agent_silent"]
    s = summarize(rows)
    assert (s["barge_ins_labelled"], s["barge_ins_scored"]) == (1, 0) and math.isnan(s["barge_in_recall"]) and s["resume_rate"] == 0.0
    with pytest.raises(ValueError):
        span_outcomes(conv, d, timeout=0)


def _dictation() -> Conversation:
    # "call me at | five five five | one two" with a labelled hold (0.6 s) and a 60 ms gap between
    # "five" and "one" that is too short to be a hold; then the recorded agent answers at 5.3.
    words = (
        Word("call", 0.0, 0.3), Word("me", 0.3, 0.5), Word("at", 0.5, 0.8),
        Word("five", 1.4, 1.7), Word("five", 1.7, 2.0), Word("five", 2.0, 2.4),
        Word("one", 2.46, 2.8), Word("two", 2.8, 3.2),
    )  # fmt: skip
    return Conversation(
        id="dict",
        duration=9.0,
        turns=(Turn(0.0, 3.2, "call me at five five five one two", words),),
        spans=(Span("hold", 0.8, 1.4, 0), Span("eot", 3.2, 5.3, 0)),
        agent=(AgentSpeech(5.3, 7.0, "thanks"),),
    )


def test_a_commit_in_a_hold_is_a_cutoff_per_hold_and_per_turn():
    d = Decisions(
        "dict", commits=(Commit(1.3, "call me at", 0.0, 0.8, 0.5, 0.2), Commit(3.7, "five five five one two", 1.4, 3.2, 0.5, 0.2))
    )
    rows = span_outcomes(_dictation(), d)
    assert rows.query("kind == 'hold'").outcome.tolist() == ["cutoff"]
    assert rows.query("kind == 'turn'").outcome.tolist() == ["cutoff"]
    assert rows.query("kind == 'commit'").outcome.tolist() == ["cutoff", "eot"]
    s = summarize(rows)
    assert (s["hold_cutoff_rate"], s["turn_cutoff_rate"], s["false_cutoff_rate"], s["cutoffs_mid_speech"]) == (1.0, 1.0, 1.0, 0)


def test_a_commit_between_words_outside_any_hold_is_still_a_cutoff():
    # The VAD ended its segment in the 60 ms gap (say a breathy "five") and the agent committed at 2.43:
    # no hold was cut, yet the user was cut off with "one two" still to say. It must not be scored "other".
    d = Decisions(
        "dict", commits=(Commit(2.43, "call me at five five five", 0.0, 2.4, 0.03, 0.02), Commit(3.7, "one two", 2.46, 3.2, 0.5, 0.2))
    )
    rows = span_outcomes(_dictation(), d)
    assert rows.query("kind == 'hold'").outcome.tolist() == ["held"]
    assert rows.query("kind == 'turn'").outcome.tolist() == ["cutoff"]
    assert rows.query("kind == 'commit'").outcome.tolist() == ["cutoff_mid_speech", "eot"]
    s = summarize(rows)
    assert (s["hold_cutoff_rate"], s["turn_cutoff_rate"], s["cutoffs_mid_speech"]) == (0.0, 1.0, 1)
    assert s["false_cutoff_rate"] == 1.0  # the worse of the two: the per-hold figure alone would say 0


def test_a_commit_after_the_next_speech_is_late_not_detected():
    # The recorded agent answered 2.1 s after the user stopped; a commit at 6.2 (3.0 s) came after that.
    d = Decisions("dict", commits=(Commit(5.9, "call me at five five five one two", 0.0, 3.2, 2.7, 0.2),))
    rows = span_outcomes(_dictation(), d)
    eot = rows.query("kind == 'eot'").iloc[0]
    assert (eot.outcome, round(eot.latency, 6)) == ("late", 2.7)
    assert rows.query("kind == 'commit'").outcome.tolist() == ["late"]
    s = summarize(rows)
    assert (s["detected"], s["late"], s["missed"], s["late_rate"]) == (0, 1, 0, 1.0)
    assert s["eot_latency_p50"] == pytest.approx(2.7)  # late commits count in the latency: slowness is not hidden
    early = summarize(span_outcomes(_dictation(), Decisions("dict", commits=(Commit(3.7, "x", 0.0, 3.2, 0.5, 0.2),))))
    assert (early["detected"], early["late"]) == (1, 0)
    # After the 3 s timeout nothing counts: missed.
    gone = span_outcomes(_dictation(), Decisions("dict", commits=(Commit(6.3, "x", 0.0, 3.2, 3.1, 0.2),)))
    assert gone.query("kind == 'eot'").outcome.tolist() == ["missed"]


def test_turns_lost_to_the_aec_warmup_are_their_own_outcome():
    lost = Discarded(3.4, "call me at five five five one two", "aec_warmup", 3.2)
    rows = span_outcomes(_dictation(), Decisions("dict", discarded=(lost,)))
    assert rows.query("kind == 'eot'").outcome.tolist() == ["aec_warmup"]
    s = summarize(rows)
    assert (s["aec_warmup_losses"], s["aec_warmup_loss_rate"], s["missed"], s["missed_turn_rate"]) == (1, 1.0, 0, 0.0)


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
