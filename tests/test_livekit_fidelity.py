"""agentlab's AgentSession against the real livekit-agents 1.8.9, decision by decision.

Every scenario below runs twice: on LiveKit's own AgentSession (``tests/livekit_harness.py``, in a
subprocess, virtual time, fake VAD/STT/LLM/TTS at the edges only) and on agentlab's session with
the same scripted inputs (``tests/lk_scenarios.py``). The decisions must be identical to the
millisecond: agent and user states, transcripts, every message with its text, interruption flag,
speaking times and e2e latency, speech creation times, false interruptions.

The harness's STT is scripted, so it cannot hear that LiveKit feeds the STT silence during the AEC
warm-up and during uninterruptible speech: scenarios put an empty transcript on speech inside
those windows (what the real STT would hear); agentlab's own tests cover the discarding.
"""

from __future__ import annotations

import copy
import itertools
import re

import pytest
from lk_scenarios import decisions, diff, run_agentlab, run_livekit

STORY = "Once upon a time, in a land far away, there lived a very patient dragon who loved to tell long stories."
STOP_REPLY = "Okay, I'll stop."


def _story(*later: dict, **extra) -> dict:
    """The user asks for a story at 0.5-2.5 s; the 10 s story plays from 3.2 s; ``later`` speech follows."""
    spec = {
        "user": [{"start": 0.5, "end": 2.5, "transcript": "Tell me a long story.", "stt_delay": 0.2}, *later],
        "llm": [{"input": "Tell me a long story.", "content": STORY}, {"input": "Stop!", "content": STOP_REPLY}],
        "tts": [{"input": STORY, "audio_duration": 10.0}, {"input": STOP_REPLY, "audio_duration": 1.0}],
    }
    spec.update(extra)
    return spec


STOP = {"start": 5.0, "end": 6.0, "transcript": "Stop!", "stt_delay": 0.2}
WEATHER_TOOL = {
    "name": "get_weather",
    "output": "It is sunny in Tokyo.",
    "parameters": {"type": "object", "properties": {"location": {"type": "string"}}},
}

SCENARIOS: dict[str, dict] = {
    # endpointing, preemptive generation, metrics
    "reply_with_preemptive": _story(),
    "reply_without_preemptive": _story(options={"turn_handling": {"preemptive_generation": {"enabled": False}}}),
    "preemptive_llm_only": _story(options={"turn_handling": {"preemptive_generation": {"preemptive_tts": False}}}),
    "new_final_regenerates": _story(
        user=[
            {"start": 0.5, "end": 1.5, "transcript": "Tell me", "stt_delay": 0.2},
            {"start": 1.8, "end": 2.5, "transcript": "a long story.", "stt_delay": 0.2},
        ],
        llm=[{"input": "Tell me", "content": "Tell you what?"}, {"input": "Tell me a long story.", "content": STORY}],
    ),
    "no_retries_left": _story(
        user=[
            {"start": 0.5, "end": 1.5, "transcript": "Tell me", "stt_delay": 0.2},
            {"start": 1.8, "end": 2.5, "transcript": "a long story.", "stt_delay": 0.2},
        ],
        llm=[{"input": "Tell me", "content": "Tell you what?"}, {"input": "Tell me a long story.", "content": STORY}],
        options={"turn_handling": {"preemptive_generation": {"max_retries": 0}}},
    ),
    "hold_then_continue": _story(
        user=[
            {"start": 0.5, "end": 1.5, "transcript": "Tell me", "stt_delay": 0.2},
            {"start": 2.3, "end": 2.8, "transcript": "a long story.", "stt_delay": 0.2},
        ],
        llm=[{"input": "Tell me", "content": "Tell you what?"}, {"input": "Tell me a long story.", "content": STORY}],
        options={"turn_handling": {"endpointing": {"min_delay": 1.0}}},
    ),
    "turn_starts_at_a_noise": _story(
        user=[
            {"start": 0.5, "end": 0.8, "transcript": ""},
            {"start": 1.2, "end": 2.5, "transcript": "Tell me a long story.", "stt_delay": 0.2},
        ]
    ),
    # interruptions: VAD duration, words, noise, the VAD's two ways of counting
    "interrupt_hard": _story(STOP),
    "interrupt_hard_no_sync": _story(STOP, sync_transcription=False),
    "interrupt_pause": _story(STOP, can_pause=True),
    "interrupt_pause_no_sync": _story(STOP, can_pause=True, sync_transcription=False),
    "min_words_from_interims": _story(
        {
            "start": 5.0,
            "end": 7.0,
            "transcript": "wait wait stop please",
            "interim": [[5.3, "wait"], [5.9, "wait wait"], [6.5, "wait wait stop"]],
        },
        options={"turn_handling": {"interruption": {"min_words": 2}}},
    ),
    "min_words_counted_before_the_final": _story(
        {"start": 5.0, "end": 5.6, "transcript": "no stop now", "interim": [[5.7, "no"]]},
        options={"turn_handling": {"interruption": {"min_words": 3}}},
    ),
    "min_words_counted_before_the_final_voiced_vad": _story(
        {"start": 5.0, "end": 5.6, "transcript": "no stop now", "interim": [[5.7, "no"]]},
        options={"turn_handling": {"interruption": {"min_words": 3}}},
        vad={"speech_duration": "voiced"},
    ),
    "resume_inside_one_vad_segment": _story(
        {"start": 5.0, "end": 5.3, "transcript": "hm"}, {"start": 5.5, "end": 5.9, "transcript": "ok"}, vad={"speech_duration": "voiced"}
    ),
    "interrupt_action": _story(actions=[{"at": 5.0, "call": "interrupt"}]),
    # the AEC warm-up (3 s from 3.2): the STT hears silence inside it, the VAD does not
    "aec_commit_interrupts": _story({"start": 4.0, "end": 5.0, "transcript": ""}, options={"aec_warmup_duration": 3.0}),
    "aec_first_frame_after_warmup_voiced": _story(
        {"start": 5.5, "end": 6.5, "transcript": ""}, options={"aec_warmup_duration": 3.0}, vad={"speech_duration": "voiced"}
    ),
    "aec_over": _story({"start": 6.5, "end": 7.5, "transcript": "Stop!", "stt_delay": 0.2}, options={"aec_warmup_duration": 3.0}),
    # queueing and states
    "say_never_thinks": {
        "actions": [{"at": 1.0, "call": "say", "text": "Hello there."}],
        "tts": [{"input": "Hello there.", "audio_duration": 2.0}],
    },
    "reply_queued_behind_a_say": {
        "actions": [{"at": 1.0, "call": "say", "text": "Hello there."}, {"at": 1.5, "call": "generate_reply", "instructions": "Say sure"}],
        "tts": [{"input": "Hello there.", "audio_duration": 2.0}, {"input": "Sure thing.", "audio_duration": 1.0}],
        "llm": [{"input": "Say sure", "content": "Sure thing."}],
    },
    "say_queued_behind_a_reply": {
        "actions": [{"at": 1.0, "call": "generate_reply", "instructions": "Say sure"}, {"at": 1.1, "call": "say", "text": "Hello there."}],
        "tts": [{"input": "Hello there.", "audio_duration": 2.0}, {"input": "Sure thing.", "audio_duration": 1.0}],
        "llm": [{"input": "Say sure", "content": "Sure thing."}],
    },
    "reply_while_the_user_speaks": {
        "user": [{"start": 0.5, "end": 3.0, "transcript": "I am talking for a while", "stt_delay": 0.2}],
        "actions": [{"at": 1.0, "call": "generate_reply", "instructions": "Greet"}],
        "llm": [{"input": "Greet", "content": "Hello there!"}, {"input": "I am talking for a while", "content": "Go on."}],
        "tts": [{"input": "Hello there!", "audio_duration": 1.0}, {"input": "Go on.", "audio_duration": 1.0}],
    },
    "user_speaks_over_an_uninterruptible_say": {
        "user": [
            {"start": 1.5, "end": 3.0, "transcript": ""},
            {"start": 6.0, "end": 7.0, "transcript": "Hello are you there", "stt_delay": 0.2},
        ],
        "actions": [{"at": 1.0, "call": "say", "text": "Welcome to the service, please hold.", "allow_interruptions": False}],
        "tts": [
            {"input": "Welcome to the service, please hold.", "audio_duration": 4.0},
            {"input": "Yes I am here.", "audio_duration": 1.0},
        ],
        "llm": [{"input": "Hello are you there", "content": "Yes I am here."}],
        "can_pause": True,
    },
    # tools, false interruptions, a dropped turn
    "tools_noise_resume_and_a_dropped_turn": {
        "user": [
            {
                "start": 4.0,
                "end": 5.5,
                "transcript": "What's the weather in Tokyo?",
                "interim": [[4.6, "What's"], [5.2, "What's the weather"]],
            },
            {"start": 9.0, "end": 9.8, "transcript": ""},
            {"start": 14.0, "end": 14.4, "transcript": "ok"},
        ],
        "llm": [
            {"input": "Greet the user", "content": "Hi there!"},
            {
                "input": "What's the weather in Tokyo?",
                "content": "Let me check.",
                "tool_calls": [{"name": "get_weather", "arguments": '{"location": "Tokyo"}', "call_id": "c1"}],
            },
            {
                "input": "It is sunny in Tokyo.",
                "content": "It's sunny in Tokyo today, with clear skies all afternoon and a light breeze from the bay.",
            },
        ],
        "tts": [
            {"input": "Hi there!", "audio_duration": 1.0},
            {"input": "Let me check.", "audio_duration": 1.0},
            {"input": "It's sunny in Tokyo today, with clear skies all afternoon and a light breeze from the bay.", "audio_duration": 5.0},
            {"input": "Please hold on.", "audio_duration": 1.5},
        ],
        "tools": [WEATHER_TOOL],
        "actions": [
            {"at": 0.0, "call": "generate_reply", "instructions": "Greet the user"},
            {"at": 12.0, "call": "say", "text": "Please hold on.", "allow_interruptions": False},
        ],
        "can_pause": True,
    },
    "noise_while_a_tool_runs": {
        "user": [{"start": 0.5, "end": 2.5, "transcript": "What's the weather?"}, {"start": 6.0, "end": 6.3, "transcript": ""}],
        "vad": {"speech_duration": "voiced"},
        "llm": [
            {
                "input": "What's the weather?",
                "content": "Let me check.",
                "tool_calls": [{"name": "slow", "arguments": '{"city": "P"}', "call_id": "c1"}],
            },
            {"input": "sunny", "content": "It is sunny."},
        ],
        "tools": [{"name": "slow", "output": "sunny", "delay": 6.0}],
        "tts": [{"input": "Let me check.", "audio_duration": 2.0}, {"input": "It is sunny.", "audio_duration": 2.0}],
        "can_pause": True,
    },
    "e2e_latency_after_a_silent_tool_step": {
        "user": [{"start": 0.5, "end": 2.0, "transcript": "Weather in Paris?"}],
        "llm": [
            {"input": "Weather in Paris?", "content": "", "tool_calls": [{"name": "weather", "arguments": "{}", "call_id": "c1"}]},
            {"input": "sunny", "content": "It is sunny in Paris."},
        ],
        "tools": [{"name": "weather", "output": "sunny", "delay": 0.5}],
        "tts": [{"input": "It is sunny in Paris.", "audio_duration": 2.0}],
    },
}
for _vad, _pause in itertools.product(("silero", "voiced"), (True, False)):
    # LiveKit's real VAD counts a 0.3 s noise's trailing silence: it reaches min_duration; the test VAD does not.
    SCENARIOS[f"noise_{_vad}_vad_{'pause' if _pause else 'no_pause'}"] = _story(
        {"start": 5.0, "end": 5.3, "transcript": ""}, vad={"speech_duration": _vad}, can_pause=_pause
    )

# What an interrupted reply keeps: LiveKit's transcript synchronizer, over texts with punctuation,
# numbers and long words, interrupted at different points, paused or not, the LLM text whole or spread.
SYNC_TEXTS = (
    STORY,
    "Certainly! The 3 quickest routes are: Highway-101, the coastal road (scenic), and I-280; expect 45 minutes.",
    "Well... it's complicated. Photosynthesis, respiration and transpiration are extraordinarily interdependent processes.",
)
for (_i, _text), _at, _pause, _spread in itertools.product(enumerate(SYNC_TEXTS), (3.3, 4.4, 6.3, 9.6), (False, True), (False, True)):
    _spec = _story({"start": _at, "end": _at + 0.8, "transcript": "Stop!", "stt_delay": 0.2}, can_pause=_pause)
    _spec["llm"][0] = {"input": "Tell me a long story.", "content": _text, "spread": _spread, "duration": 2.5 if _spread else 0.3}
    _spec["tts"][0] = {"input": _text, "audio_duration": 9.0 + _i, "duration": 3.0 if _spread else 0.3}
    SCENARIOS[f"sync_text{_i}_at{_at}_{'pause' if _pause else 'stop'}_{'spread' if _spread else 'whole'}"] = _spec


# Speech a tool creates (reference §20.3): `say` or `generate_reply` from inside a tool, awaited or
# not, plays right after the step's own text; the tool follow-up queues up behind it.
def _tool_speech(**tool: object) -> dict:
    pre = tool.pop("pre", "Let me check.")
    return {
        "user": [{"start": 0.5, "end": 2.0, "transcript": "Weather in Paris?"}],
        "llm": [
            {"input": "Weather in Paris?", "content": pre, "tool_calls": [{"name": "weather", "arguments": "{}", "call_id": "c1"}]},
            {"input": "sunny", "content": "It is sunny in Paris."},
            {"input": "Tell a joke", "content": "Why did the cloud cry?"},
        ],
        "tools": [{"name": "weather", "output": "sunny", "delay": 0.5, **tool}],
        "tts": [
            {"input": pre, "audio_duration": 1.5},
            {"input": "It is sunny in Paris.", "audio_duration": 2.0},
            {"input": "One moment please.", "audio_duration": 1.0},
            {"input": "Why did the cloud cry?", "audio_duration": 1.2},
        ],
    }


SCENARIOS |= {
    # the reply hold-off lifts on the VAD frame whose silence passes min_delay / 2, before end of speech
    "tool_follow_up_after_a_noise": {
        "user": [
            {"start": 0.5, "end": 2.5, "transcript": "What's the weather?", "stt_delay": 0.2},
            {"start": 5.0, "end": 5.3, "transcript": "", "stt_delay": 0.1},
        ],
        "llm": [
            {
                "input": "What's the weather?",
                "content": "Let me check.",
                "tool_calls": [{"name": "slow", "arguments": '{"city": "P"}', "call_id": "c1"}],
                "ttft": 0.1,
                "duration": 0.3,
            },
            {"input": "sunny", "content": "It is sunny.", "ttft": 0.1, "duration": 0.3},
        ],
        "tools": [{"name": "slow", "output": "sunny", "delay": 1.0}],
        "tts": [
            {"input": "Let me check.", "audio_duration": 2.0, "ttfb": 0.2},
            {"input": "It is sunny.", "audio_duration": 2.0, "ttfb": 0.2},
        ],
        "options": {"turn_handling": {"interruption": {"min_duration": 1.0}}},
    },
    "tool_say_not_awaited": _tool_speech(say={"text": "One moment please."}),
    "tool_say_awaited": _tool_speech(say={"text": "One moment please.", "await": True}),
    "tool_say_awaited_without_text_before": _tool_speech(say={"text": "One moment please.", "await": True}, pre=""),
    "tool_generate_reply_not_awaited": _tool_speech(reply={"instructions": "Tell a joke"}),
    "tool_generate_reply_awaited": _tool_speech(reply={"instructions": "Tell a joke", "await": True}),
    "tool_says_and_returns_none": _tool_speech(say={"text": "One moment please."}, output=None),
}


# user_turn_limit (reference §20.6): counted on each final transcript, across turns, until the agent
# speaks; past the limit the agent's default on_user_turn_exceeded cuts in once the agent is idle.
_LONG_TALK = [
    {"start": 0.5, "end": 1.5, "transcript": "one two"},
    {"start": 3.0, "end": 4.0, "transcript": "three, four"},
    {"start": 5.5, "end": 6.5, "transcript": "five-six seven"},
    {"start": 9.0, "end": 10.0, "transcript": "eight nine"},
]
SCENARIOS |= {
    f"user_turn_limit_{name}": {"user": _LONG_TALK, "llm": llm, "tts": tts, "options": {"turn_handling": {"user_turn_limit": limit}}}
    for name, limit, llm, tts in (
        ("6_words", {"max_words": 6}, [], []),
        ("3_words", {"max_words": 3}, [], []),
        ("4_seconds", {"max_duration": 4.0}, [], []),
        (
            "reset_by_an_answer",
            {"max_words": 6},
            [{"input": "three, four", "content": "Got it."}],
            [{"input": "Got it.", "audio_duration": 1.0}],
        ),
    )
}


@pytest.fixture(scope="module")
def livekit() -> dict[str, dict]:
    """Every scenario's LiveKit run (one subprocess for all)."""
    names = list(SCENARIOS)
    return dict(zip(names, run_livekit([copy.deepcopy(SCENARIOS[n]) for n in names]), strict=True))


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_decides_as_livekit(name: str, livekit: dict[str, dict]) -> None:
    ours, theirs = decisions(run_agentlab(copy.deepcopy(SCENARIOS[name]))), decisions(livekit[name])
    assert theirs["agent"], "the LiveKit run produced no agent states: the harness is broken"
    problems = diff(ours, theirs)
    assert not problems, f"{name} differs from LiveKit 1.8.9:\n" + "\n".join(problems)


def test_the_scenarios_reach_the_rules_they_name(livekit: dict[str, dict]) -> None:
    """The comparison is only as good as the situations: check that LiveKit really did what each
    family of scenarios is about, so a scenario that drifted into a no-op fails here."""
    d = {n: decisions(r) for n, r in livekit.items()}
    interrupted = lambda n: any(m[1] == "assistant" and m[3] for m in d[n]["messages"])  # noqa: E731
    assert interrupted("interrupt_hard") and interrupted("interrupt_pause") and interrupted("min_words_from_interims")
    assert d["noise_silero_vad_pause"]["false_interruptions"] and not d["noise_voiced_vad_pause"]["false_interruptions"]
    assert len(d["new_final_regenerates"]["speeches"]) > len(d["reply_with_preemptive"]["speeches"])
    kept = {m[2] for n in d if n.startswith("sync_") for m in d[n]["messages"] if m[1] == "assistant" and m[3]}
    assert len(kept) >= 10, f"the synchronizer scenarios cut the replies in too few places: {kept}"
    assert any(re.search(r"\bsunny\b", m[2]) for m in d["e2e_latency_after_a_silent_tool_step"]["messages"])


def _corpus() -> str:
    """Real text for the word and syllable checks: the docs, the datasets' transcripts, a few hard cases."""
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    parts = [p.read_text(errors="ignore") for p in sorted((root / "docs").glob("*.md"))]
    parts += [p.read_text(errors="ignore") for p in sorted((root / "datasets").rglob("*.stm"))]
    parts.append("  leading space, trailing  \n\tTabs—dashes… 3.5%  e-mail I-280 (scenic); 你好，世界。 สวัสดีครับ ｢quote｣ 1，000 don't")
    return "\n".join(parts) + "\n" + "\n".join(SYNC_TEXTS)


def test_words_and_syllables_are_livekits() -> None:
    """The synchronizer's word split and syllable counts against LiveKit's own tokenizer and
    hyphenator (livekit.agents.tokenize), on every word of the docs and datasets."""
    from livekit.agents.tokenize import basic
    from livekit.agents.tokenize._basic_word import split_words

    from agentlab.session.playout import _syllables, _tokens

    text = _corpus()
    theirs = [
        (w, end)
        for w, _, end in split_words(text, ignore_punctuation=False, split_character=True, retain_format=True, split_cjk_clauses=True)
    ]
    ours = _tokens(text)
    assert ours == theirs
    words = {w for w, _ in ours}
    assert len(words) > 5000, "the corpus is too small to say much"
    wrong = [w for w in words if _syllables(w) != (len(basic.hyphenate_word(w)) if w.strip() else 0)]
    assert not wrong, wrong[:20]
