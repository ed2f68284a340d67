"""Voice turn-taking against LiveKit 1.8.9's measured behaviour (reference §4-§11, §17-§18).

Each scenario is scripted like LiveKit's own session tests: user speech with transcripts and STT
delays, an LLM with time to first token and duration, a TTS with time to first byte and audio
duration, LiveKit's test defaults (min_delay 0.5, max_delay 6.0, min_duration 0.5, false
interruption timeout 2.0, VAD min_speech 0.05 / min_silence 0.5, no AEC warm-up).
"""

from __future__ import annotations

import asyncio

import pytest

import agentlab as al
from agentlab.engine import CommitTurn, EngineConfig, TurnEngine, UserSpeech, replay, speech_events

# LiveKit's test VAD (tests/fake_vad.py): frames every min_speech_duration, duration counts voiced time
# LiveKit's real VAD on LiveKit's test cadence: the duration spans the trailing silence
TEST_SPAN_VAD = al.ScriptedVAD(min_speech_duration=0.05, min_silence_duration=0.5, interval=0.05)
TEST_VAD = al.ScriptedVAD(min_speech_duration=0.05, min_silence_duration=0.5, interval=0.05, speech_duration="voiced")


def voice_run(speech, *, llm_rules, tts=None, turn_handling=None, pausable=False, agent=None, during=None, **session_kwargs):
    """Run scripted speech through a session on the virtual clock; return the closed session."""
    th = {"endpointing": {"min_delay": 0.5, "max_delay": 6.0}, "interruption": {"min_duration": 0.5, "false_interruption_timeout": 2.0}}
    for key, value in (turn_handling or {}).items():
        th[key] = {**th.get(key, {}), **value} if isinstance(value, dict) else value
    session_kwargs.setdefault("aec_warmup_duration", None)

    async def main():
        s = al.AgentSession(
            llm=al.ScriptedLLM(rules=llm_rules), tts=tts or al.ScriptedTTS(ttfb=0.2), vad=TEST_VAD, turn_handling=th, **session_kwargs
        )
        await s.start(agent or al.Agent(instructions="x"))
        s.attach_user_input(speech, pausable_output=pausable)
        if during is not None:
            await during(s)
        await s.wait_for_input()
        await s.aclose()
        return s

    return al.VirtualClock().run(main)


def states(s, kind="agent_state_changed"):
    return [(round(e.created_at, 3), e.new_state) for e in s.events if e.type == kind]


def messages(s):
    return [(i.role, i.text_content, i.interrupted) for i in s.history.items if i.type == "message"]


REPLY = "I'm fine, thank you for asking."


def test_events_and_metrics_one_turn():
    s = voice_run(
        [UserSpeech(0.5, 2.5, "Hello, how are you?", stt_delay=0.2)],
        llm_rules=[al.Rule(r"Hello", reply=REPLY, ttft=0.1, duration=0.3)],
        tts=al.ScriptedTTS(ttfb=0.2, durations={REPLY: 2.0}),
    )
    # user states are backdated to the speech edges; emitted when the VAD reports them
    assert states(s, "user_state_changed") == [(0.5, "speaking"), (2.5, "listening")]
    # preemptive generation (on by default) makes the agent speak 0.3 s earlier than 3.5
    assert states(s) == [(0.0, "listening"), (3.0, "thinking"), (3.2, "speaking"), (5.2, "listening")]
    finals = [(e.created_at, e.transcript) for e in s.events if e.type == "user_input_transcribed" and e.is_final]
    assert finals == [(2.7, "Hello, how are you?")]
    eou = s.metrics_frame().query("type == 'eou_metrics'").iloc[0]
    assert (eou.end_of_utterance_delay, eou.transcription_delay) == (pytest.approx(0.5), pytest.approx(0.2))
    llm = s.metrics_frame().query("type == 'llm_metrics'").iloc[0]
    assert (llm.ttft, llm.duration) == (pytest.approx(0.1), pytest.approx(0.3))
    tts = s.metrics_frame().query("type == 'tts_metrics'").iloc[0]
    assert (tts.ttfb, tts.audio_duration) == (pytest.approx(0.2), pytest.approx(2.0))
    h = s.history_frame()
    user = h[h.role == "user"].iloc[0]
    # the reused preemptive reply keeps its message, created with the final transcript (LiveKit: 2.7)
    assert user.created_at == 2.7 and s.history.items[1].metrics["stopped_speaking_at"] == 2.5
    assistant = h[h.role == "assistant"].iloc[0]
    assert assistant.e2e_latency == pytest.approx(0.7) and assistant.created_at == 3.0  # LiveKit's reply_started_at
    # the order LiveKit emits at 3.0: user state, eou metrics, user item, thinking
    kinds = [
        "user_state"
        if e.type == "user_state_changed" and e.new_state == "listening"
        else "eou"
        if e.type == "metrics_collected" and e.metrics.type == "eou_metrics"
        else "user_item"
        if e.type == "conversation_item_added" and getattr(e.item, "role", None) == "user"
        else "thinking"
        if e.type == "agent_state_changed" and e.new_state == "thinking"
        else None
        for e in s.events
    ]
    assert [k for k in kinds if k] == ["user_state", "eou", "user_item", "thinking"]


@pytest.mark.parametrize(
    ("min_delay", "stt_delay", "min_silence", "eou"),
    [
        (0.5, 0.2, 0.5, 0.5),
        (0.5, 0.8, 0.5, 0.8),
        (1.0, 0.2, 0.5, 1.0),
        (0.2, 0.1, 0.5, 0.5),
        (0.2, 0.1, 0.25, 0.25),
        (0.0, 0.3, 0.55, 0.55),
    ],
)
def test_commit_time_is_max_of_vad_end_final_transcript_and_min_delay(min_delay, stt_delay, min_silence, eou):
    # The reference's verified sweep (§18): commit = max(VAD EOS, final transcript, speech end + min_delay).
    vad = al.ScriptedVAD(min_silence_duration=min_silence)
    events = speech_events([UserSpeech(0.5, 2.5, "Hello, how are you?", stt_delay=stt_delay)], vad)
    commits = [(t, a) for t, a in replay(TurnEngine(EngineConfig(min_delay=min_delay)), events) if isinstance(a, CommitTurn)]
    assert len(commits) == 1
    t, c = commits[0]
    assert t == pytest.approx(2.5 + eou) and c.end_of_utterance_delay == pytest.approx(eou)
    assert c.transcription_delay == pytest.approx(stt_delay)


def test_commit_time_through_the_session_with_a_slow_stt():
    s = voice_run(
        [UserSpeech(0.5, 2.5, "Hello, how are you?", stt_delay=0.8)],
        llm_rules=[al.Rule(reply="Hi.")],
        turn_handling={"preemptive_generation": {"enabled": False}},
    )
    eou = s.metrics_frame().query("type == 'eou_metrics'").iloc[0]
    assert eou.end_of_utterance_delay == pytest.approx(0.8) and eou.created_at == pytest.approx(3.3)


def test_new_speech_cancels_a_pending_commit_and_joins_the_turn():
    # VAD EOS at 2.0, the commit would come at 1.5 + 1.0 = 2.5; the user resumes at 2.2
    s = voice_run(
        [UserSpeech(0.5, 1.5, "I'd like", stt_delay=0.1), UserSpeech(2.2, 3.0, "a table please", stt_delay=0.1)],
        llm_rules=[al.Rule(reply="Sure.")],
        turn_handling={"endpointing": {"min_delay": 1.0}},
    )
    users = [m[1] for m in messages(s) if m[0] == "user"]
    assert users == ["I'd like a table please"]  # one turn, the transcript joined
    eou = s.metrics_frame().query("type == 'eou_metrics'")
    assert len(eou) == 1 and eou.iloc[0].created_at == pytest.approx(4.0)


def _story(s):
    return [
        al.Rule(
            r"story", reply="Once upon a time there was a tiny robot who loved to count the stars every night.", ttft=0.1, duration=0.3
        ),
        al.Rule(r"stop", reply="Okay."),
    ]


STORY_TTS = al.ScriptedTTS(ttfb=0.2, words_per_minute=60)  # a word a second: easy positions


def test_interruption_by_vad_duration_hard_stop():
    s = voice_run(
        [UserSpeech(0.5, 1.5, "Tell me a story", stt_delay=0.1), UserSpeech(5.0, 6.0, "Stop!", stt_delay=0.1)],
        llm_rules=_story(None),
        tts=STORY_TTS,
    )
    speaking = next(t for t, st in states(s) if st == "speaking")
    assert speaking == pytest.approx(2.2)  # commit 2.0 (VAD EOS 1.5+0.5), TTS ttfb 0.2 (preemptive LLM was ready)
    # the user's speech reaches min_duration at 5.5: the agent stops there
    assert (5.5, "listening") in states(s)
    cut = next(m for m in messages(s) if m[0] == "assistant")
    assert cut[2] is True and cut[1] == "Once upon a"  # 3.3 s of a word-per-second reply was heard
    assert messages(s)[-2:] == [("user", "Stop!", False), ("assistant", "Okay.", False)]
    assert (6.5, "thinking") in states(s)  # the next turn commits at VAD EOS 6.0 + 0.5


def test_interruption_by_transcript_bypasses_min_duration():
    s = voice_run(
        [UserSpeech(0.5, 1.5, "Tell me a story", stt_delay=0.1), UserSpeech(5.0, 5.3, "Stop!", stt_delay=0.1)],
        llm_rules=_story(None),
        tts=STORY_TTS,
    )
    # 0.3 s of speech never reaches min_duration 0.5 (the VAD's frames go quiet at 5.3); the final at 5.4 interrupts
    assert (5.4, "listening") in states(s)
    assert next(m for m in messages(s) if m[0] == "assistant")[2] is True


def test_interruption_needs_min_words():
    s = voice_run(
        [
            UserSpeech(0.5, 1.5, "Tell me a story", stt_delay=0.1),
            UserSpeech(5.0, 6.0, "Stop!", stt_delay=0.0),
            UserSpeech(6.5, 7.5, "ok, stop it now", stt_delay=0.0),
        ],
        llm_rules=_story(None),
        tts=STORY_TTS,
        turn_handling={"interruption": {"min_words": 3}},
    )
    # "Stop!" alone (1 word) neither interrupts nor commits; it is kept and joins the next utterance
    assert (7.5, "listening") in states(s)
    users = [m[1] for m in messages(s) if m[0] == "user"]
    assert users == ["Tell me a story", "Stop! ok, stop it now"]


def test_interruptions_disabled_play_in_full():
    s = voice_run(
        [UserSpeech(0.5, 1.5, "Tell me a story", stt_delay=0.1), UserSpeech(5.0, 6.0, "Stop!", stt_delay=0.1)],
        llm_rules=_story(None),
        tts=STORY_TTS,
        turn_handling={"interruption": {"enabled": False}},
    )
    story = next(m for m in messages(s) if m[0] == "assistant")
    assert story[2] is False and story[1].endswith("every night.")
    # the user turn that completed during uninterruptible speech was dropped (LiveKit logs a warning)
    assert [m[1] for m in messages(s) if m[0] == "user"] == ["Tell me a story"]


def test_false_interruption_pauses_then_resumes():
    # A cough (VAD speech, no words) during the agent's speech, with a pausable output.
    s = voice_run(
        [UserSpeech(0.5, 1.5, "Tell me a story", stt_delay=0.1), UserSpeech(5.0, 5.7, "", stt_delay=0.1)],
        llm_rules=_story(None),
        tts=STORY_TTS,
        pausable=True,
    )
    # paused at 5.5 (min_duration), VAD EOS at 6.2, resumed 2.0 s later at 8.2; 17 s of story + 2.7 s paused
    assert states(s)[2:6] == [(2.2, "speaking"), (5.5, "listening"), (8.2, "speaking"), (pytest.approx(21.9), "listening")]
    fi = [e for e in s.events if e.type == "agent_false_interruption"]
    assert len(fi) == 1 and fi[0].resumed and fi[0].created_at == pytest.approx(8.2)
    story = next(m for m in messages(s) if m[0] == "assistant")
    assert story[2] is False and story[1].endswith("every night.")


def test_false_interruption_with_words_becomes_a_real_interruption():
    s = voice_run(
        [UserSpeech(0.5, 1.5, "Tell me a story", stt_delay=0.1), UserSpeech(5.0, 5.7, "stop please", stt_delay=0.1)],
        llm_rules=_story(None),
        tts=STORY_TTS,
        pausable=True,
    )
    assert not any(e.type == "agent_false_interruption" for e in s.events)
    story = next(m for m in messages(s) if m[0] == "assistant")
    # LiveKit's transcript synchronizer released "Once upon a time" by the pause at 5.5 (run in livekit_harness.py)
    assert story[2] is True and story[1] == "Once upon a time"


E2E_SPEECH = [UserSpeech(0.5, 2.0, "What's the weather like today?", stt_delay=0.1)]
WEATHER = "It is sunny."


@pytest.mark.parametrize(
    ("preemptive", "expected"),
    [({"enabled": True, "preemptive_tts": True}, 0.7), ({"enabled": True}, 0.8), ({"enabled": False}, 1.1)],
)
def test_preemptive_generation_latency(preemptive, expected):
    # Reference §6: user stops at 2.0, STT +0.1, LLM TTFT 0.3, TTS TTFB 0.3, min_delay 0.5 (commit at 2.5).
    s = voice_run(
        E2E_SPEECH,
        llm_rules=[al.Rule(r"weather", reply=WEATHER, ttft=0.3)],
        tts=al.ScriptedTTS(ttfb=0.3),
        turn_handling={"preemptive_generation": preemptive},
    )
    e2e = s.history_frame().query("role == 'assistant'").iloc[0].e2e_latency
    assert e2e == pytest.approx(expected)
    llm_calls = len(s.metrics_frame().query("type == 'llm_metrics'"))
    assert llm_calls == 1  # reused: no second request


def test_preemptive_generation_discarded_when_the_hook_changes_the_context():
    class Rag(al.Agent):
        async def on_user_turn_completed(self, turn_ctx, new_message):
            turn_ctx.add_message(role="system", content="Context: it will rain at noon.")

    s = voice_run(
        E2E_SPEECH, llm_rules=[al.Rule(r"weather", reply=WEATHER, ttft=0.3)], tts=al.ScriptedTTS(ttfb=0.3), agent=Rag(instructions="x")
    )
    m = s.metrics_frame().query("type == 'llm_metrics'")
    assert len(m) == 2  # the preemptive reply was dropped at commit and a fresh request made
    assert s.history_frame().query("role == 'assistant'").iloc[0].e2e_latency == pytest.approx(1.1)
    assert len([i for i in s.history.items if i.type == "message" and i.role == "assistant"]) == 1


def test_preemptive_regenerates_on_each_new_final_transcript():
    s = voice_run(
        [UserSpeech(0.5, 1.5, "Book a table", stt_delay=0.1), UserSpeech(1.6, 2.5, "for two people", stt_delay=0.1)],
        llm_rules=[al.Rule(reply="Sure.", ttft=2.0)],
    )
    m = s.metrics_frame().query("type == 'llm_metrics'")
    assert m.cancelled.tolist() == [True, False]  # the first attempt (for "Book a table") was cancelled and regenerated
    assert [x[1] for x in messages(s) if x[0] == "user"] == ["Book a table for two people"]


def test_tool_call_during_speech():
    @al.function_tool
    async def get_weather(city: str) -> str:
        """Weather."""
        return "sunny"

    rules = [
        al.Rule(
            r"weather", reply="Let me check.", tool_calls=[al.ScriptedToolCall("get_weather", {"city": "Paris"})], ttft=0.1, duration=0.3
        ),
        al.Rule(after_tool="get_weather", reply="It is sunny in Paris.", ttft=0.1, duration=0.3),
    ]
    s = voice_run(
        [UserSpeech(0.5, 2.5, "What's the weather in Paris?", stt_delay=0.2)],
        llm_rules=rules,
        tts=al.ScriptedTTS(ttfb=0.2, durations={"Let me check.": 2.0, "It is sunny in Paris.": 3.0}),
        agent=al.Agent(instructions="x", tools=[get_weather]),
    )
    assert states(s) == [(0.0, "listening"), (3.0, "thinking"), (3.2, "speaking"), (5.2, "thinking"), (5.5, "speaking"), (8.5, "listening")]
    kinds = [(i.type, getattr(i, "role", None)) for i in s.history.items]
    assert kinds == [
        ("agent_handoff", None),
        ("message", "user"),
        ("message", "assistant"),
        ("function_call", None),
        ("function_call_output", None),
        ("message", "assistant"),
    ]
    assert len([e for e in s.events if e.type == "function_tools_executed"]) == 1


def test_user_away_after_silence():
    s = voice_run(
        [UserSpeech(0.5, 1.5, "Hi", stt_delay=0.1)],
        llm_rules=[al.Rule(reply="Hello!")],
        user_away_timeout=5.0,
        during=lambda s: asyncio.sleep(20),
    )
    away = [(t, st) for t, st in states(s, "user_state_changed") if st == "away"]
    end = [t for t, st in states(s) if st == "listening"][-1]
    assert away == [(pytest.approx(end + 5.0), "away")]


def test_aec_warmup_delays_vad_interruption_to_the_first_frame_after_it():
    # Warm-up 3 s from the agent's first speech; the user talks 4-5 s while the agent speaks. The VAD
    # interruption (4.5) is ignored; LiveKit 1.8.9 (run in tests/livekit_harness.py) interrupts on the
    # VAD's first frame after the warm-up, in the speech's silence tail, whose frames still count 1 s.
    def run(warmup):
        async def main():
            s = al.AgentSession(
                llm=al.ScriptedLLM(rules=_story(None)),
                tts=STORY_TTS,
                vad=TEST_VAD,
                aec_warmup_duration=warmup,
                turn_handling={"endpointing": {"min_delay": 0.5}},
            )
            await s.start(al.Agent(instructions="x"))
            s.attach_user_input([UserSpeech(4.0, 5.0, "")], pausable_output=False, stt=False)
            await asyncio.sleep(2.0)
            s.say("Once upon a time there was a tiny robot who loved to count the stars every night.")  # speaks from 2.2
            await s.wait_for_input()
            await s.aclose()
            return s

        s = al.VirtualClock().run(main)
        return next(i for i in s.history.items if i.type == "message").metrics["stopped_speaking_at"]

    # The warm-up ends at 5.2, after the speech itself (4-5) but before the VAD's end of speech (5.5).
    assert run(3.0) == pytest.approx(5.2)
    assert run(None) == pytest.approx(4.5)  # without warm-up: VAD speech reached min_duration at 4.5


def test_transcripts_during_aec_warmup_are_not_heard():
    s = voice_run(
        [UserSpeech(0.5, 1.5, "Tell me a story", stt_delay=0.1), UserSpeech(4.0, 5.0, "wait", stt_delay=0.1)],
        llm_rules=_story(None),
        tts=STORY_TTS,
        aec_warmup_duration=3.0,
    )
    # the agent first spoke at 2.2: until 5.2 the STT hears silence while it speaks
    assert not any(e.type == "user_input_transcribed" and e.transcript == "wait" for e in s.events)


def test_aec_warmup_drops_only_the_words_said_while_the_agent_spoke():
    # LiveKit (AgentActivity.push_audio) feeds the STT silence while the agent is *speaking* and the
    # warm-up timer (3 s from its first speech) runs; the words after it stopped are heard.
    from agentlab.engine import Transcribed, TranscriptDiscarded

    engine = TurnEngine(EngineConfig(min_delay=0.5, aec_warmup_duration=3.0))
    engine.on_agent(1.0, active=True, audible=True, interruptible=True)
    engine.on_agent(2.5, active=False, audible=False, interruptible=True)
    words = (("wait", 2.0, 2.3), ("a", 2.35, 2.45), ("minute", 2.6, 3.0))
    actions = engine.on_transcript(3.2, "wait a minute", is_final=True, word_end=3.0, words=words)
    assert actions[0] == TranscriptDiscarded("wait a", "aec_warmup", 2.45)
    assert [a.transcript for a in actions if isinstance(a, Transcribed)] == ["minute"]
    assert engine.turn.finals == ["minute"] and engine.turn.last_speaking == 3.0  # no VAD speech here: the heard word anchors
    # A transcript whose words all fell in the discard window is dropped whole, and says so.
    engine2 = TurnEngine(EngineConfig(aec_warmup_duration=3.0))
    engine2.on_agent(1.0, active=True, audible=True, interruptible=True)
    assert engine2.on_transcript(2.2, "hello", is_final=True, word_end=2.0) == [TranscriptDiscarded("hello", "aec_warmup", 2.0)]


def test_aec_warmup_blocks_interruptions_even_after_the_agent_stops_speaking():
    # LiveKit's _interrupt_by_audio_activity returns early while the warm-up timer runs, whatever the
    # agent state: a reply still thinking (a tool step after its first sentence) is not interrupted.
    config = EngineConfig(min_delay=0.5, aec_warmup_duration=3.0, pausable=False)
    engine = TurnEngine(config)
    engine.on_agent(1.0, active=True, audible=True, interruptible=True)
    engine.on_agent(2.0, active=True, audible=False, interruptible=True)  # thinking: a follow-up is coming
    events = speech_events([UserSpeech(2.5, 3.5, "hold on please", stt_delay=0.2)], TEST_SPAN_VAD)
    kinds = [(t, type(a).__name__) for t, a in replay(engine, events)]
    assert not any(k == "InterruptAgent" and t < 4.0 for t, k in kinds)  # neither the VAD (3.0) nor the final (3.7)
    after = TurnEngine(config)  # the same speech once the warm-up is over interrupts at min_duration
    after.on_agent(1.0, active=True, audible=True, interruptible=True)
    after.on_agent(2.0, active=True, audible=False, interruptible=True)
    late = speech_events([UserSpeech(4.5, 5.5, "hold on please", stt_delay=0.2)], TEST_SPAN_VAD)
    assert (5.0, "InterruptAgent") in [(round(t, 6), type(a).__name__) for t, a in replay(after, late)]


def test_manual_turn_detection_commits_only_on_request():
    async def commit_later(s):
        await asyncio.sleep(4.0)
        assert s.history_frame().query("role == 'user'").empty
        await s.commit_user_turn()

    s = voice_run(
        [UserSpeech(0.5, 1.5, "Hello there", stt_delay=0.1)],
        llm_rules=[al.Rule(reply="Hi!")],
        turn_handling={"turn_detection": "manual"},
        during=commit_later,
    )
    assert [m[1] for m in messages(s)] == ["Hello there", "Hi!"]
    assert s.history_frame().query("role == 'user'").iloc[0].created_at == pytest.approx(4.0)


def test_dynamic_endpointing_learns_longer_pauses():
    engine = TurnEngine(EngineConfig(min_delay=0.3, max_delay=2.0, dynamic=True, alpha=0.5))
    speeches = [UserSpeech(0.5 + 3 * i, 1.5 + 3 * i, "so um", stt_delay=0.1) for i in range(3)]
    replay(engine, speech_events(speeches))
    assert engine.min_delay > 0.3  # pauses of 2 s pulled the learned delay up, within [min, max]
    assert engine.min_delay <= 2.0


def test_text_detector_chooses_max_delay_when_unlikely():
    class Detector:
        latency = 0.05

        def predict(self, transcript, *, language=None, speech_end=None):
            return 0.1 if transcript.rstrip().endswith(("and", ",")) else 0.9

        def unlikely_threshold(self, language):
            return 0.36

    events = speech_events([UserSpeech(0.5, 1.5, "I want a table and", stt_delay=0.1)])
    commits = [
        (t, a)
        for t, a in replay(TurnEngine(EngineConfig(min_delay=0.5, max_delay=2.0, detector=Detector())), events)
        if isinstance(a, CommitTurn)
    ]
    assert commits[0][0] == pytest.approx(3.5) and commits[0][1].probability == 0.1  # speech end + max_delay
    events = speech_events([UserSpeech(0.5, 1.5, "A table for two.", stt_delay=0.1)])
    commits = [
        (t, a)
        for t, a in replay(TurnEngine(EngineConfig(min_delay=0.5, max_delay=2.0, detector=Detector())), events)
        if isinstance(a, CommitTurn)
    ]
    assert commits[0][0] == pytest.approx(2.0)  # likely complete: min_delay


def test_voice_runs_are_deterministic():
    def once():
        s = voice_run(
            [
                UserSpeech(0.5, 1.5, "Tell me a story", stt_delay=0.1),
                UserSpeech(5.0, 5.7, "", stt_delay=0.1),
                UserSpeech(12.0, 13.0, "stop", stt_delay=0.1),
            ],
            llm_rules=_story(None),
            tts=STORY_TTS,
            pausable=True,
        )
        return s.events_frame(), s.history_frame(), s.metrics_frame()

    a, b = once(), once()
    for x, y in zip(a, b, strict=True):
        import pandas as pd

        pd.testing.assert_frame_equal(x, y)


@pytest.mark.parametrize(("stt_delay", "eou"), [(0.2, 0.5), (0.8, 0.8)])
def test_stt_turn_detection_commits_on_the_stt_end_of_speech(stt_delay, eou):
    # turn_detection="stt": the STT's end of speech (with its final transcript) drives the commit,
    # still no earlier than min_delay after the speech; the VAD end does not.
    s = voice_run(
        [UserSpeech(0.5, 2.5, "Hello, how are you?", stt_delay=stt_delay)],
        llm_rules=[al.Rule(reply="Hi.")],
        turn_handling={"turn_detection": "stt"},
    )
    e = s.metrics_frame().query("type == 'eou_metrics'").iloc[0]
    assert e.end_of_utterance_delay == pytest.approx(eou) and e.created_at == pytest.approx(2.5 + eou)


def test_stt_mode_ignores_vad_end_without_stt_end():
    engine = TurnEngine(EngineConfig(mode="stt"))
    events = speech_events([UserSpeech(0.5, 2.5, "Hello there friend", stt_delay=0.2)])  # no STT end-of-speech events
    assert not [a for _, a in replay(engine, events) if isinstance(a, CommitTurn)]


def test_eou_metrics_name_the_turn_detection():
    speech = [UserSpeech(0.5, 1.5, "A table for two.", stt_delay=0.1)]
    s = voice_run(speech, llm_rules=[al.Rule(reply="Sure.")], turn_handling={"turn_detection": "vad"})
    e = s.metrics_frame().query("type == 'eou_metrics'").iloc[0]
    assert (e.model, e.provider) == ("unknown", "vad")
    s = voice_run(speech, llm_rules=[al.Rule(reply="Sure.")], turn_handling={"turn_detection": al.TextTurnDetector()})
    e = s.metrics_frame().query("type == 'eou_metrics'").iloc[0]
    assert (e.model, e.provider) == ("text-baseline", "agentlab")
    # likely complete, so min_delay; but the prediction (asked at VAD end 2.0, 20 ms of modelled inference) comes last
    assert e.created_at == pytest.approx(2.0 + 0.02)


# --- regressions found in review (LiveKit's own session tests ported, and edge cases) -------------------


@pytest.mark.parametrize(("hook_delay", "states_expected"), [(0.0, 6), (2.0, 4)])
def test_interrupt_during_on_user_turn_completed(hook_delay, states_expected):
    # LiveKit's test_interrupt_during_on_user_turn_completed: the user resumes before the agent speaks.
    class A(al.Agent):
        async def on_user_turn_completed(self, turn_ctx, new_message):
            await asyncio.sleep(hook_delay)

    s1, s2 = "Here is a story for you...", "Here is a story about a firefighter..."
    s = voice_run(
        [UserSpeech(0.5, 2.0, "Tell me a story", stt_delay=0.2), UserSpeech(2.6, 3.2, "about a firefighter.", stt_delay=0.2)],
        llm_rules=[al.Rule(r"firefighter", reply=s2, ttft=0.1, duration=0.3), al.Rule(r"story", reply=s1, ttft=0.1, duration=0.3)],
        tts=al.ScriptedTTS(ttfb=1.0, durations={s1: 10.0, s2: 10.0}),
        agent=A(instructions="x"),
    )
    assert len(states(s)) == states_expected
    assert [m[:2] for m in messages(s)] == [("user", "Tell me a story"), ("user", "about a firefighter."), ("assistant", s2)]


def test_false_interruption_before_speaking_resumes_at_end_of_noise():
    # LiveKit's test_false_interruption_before_speaking_resumes: noise 3.0-3.3 while the reply is still thinking.
    reply = "Here is a short reply."
    s = voice_run(
        [UserSpeech(0.5, 2.5, "Tell me a story.", stt_delay=0.2), UserSpeech(3.0, 3.3, "", stt_delay=0.2)],
        llm_rules=[al.Rule(reply=reply, ttft=0.05, duration=0.05)],
        tts=al.ScriptedTTS(ttfb=0.05, durations={reply: 5.0}),
        pausable=True,
    )
    assert [st for t, st in states(s) if st == "speaking"] == ["speaking"]
    assert (3.8, "speaking") in states(s)  # resumed right at the VAD's end of speech, not 2 s later
    assert [(p.start, p.duration) for p in s.playback] == [(3.8, 5.0)]  # the whole reply played


def test_speech_during_a_running_tool_pauses_nothing():
    @al.function_tool
    async def slow(city: str) -> str:
        """Slow."""
        await asyncio.sleep(6)
        return "sunny"

    rules = [
        al.Rule(r"weather", reply="Let me check.", tool_calls=[al.ScriptedToolCall("slow", {"city": "P"})], ttft=0.1, duration=0.3),
        al.Rule(after_tool="slow", reply="It is sunny.", ttft=0.1, duration=0.3),
    ]
    s = voice_run(
        [UserSpeech(0.5, 2.5, "What's the weather?", stt_delay=0.2), UserSpeech(6.0, 6.3, "", stt_delay=0.1)],
        llm_rules=rules,
        tts=al.ScriptedTTS(ttfb=0.2, durations={"Let me check.": 2.0, "It is sunny.": 2.0}),
        agent=al.Agent(instructions="x", tools=[slow]),
        pausable=True,
    )
    # LiveKit 1.8.9 runs the tool in the background with no speech current: the noise at 6.0-6.3
    # pauses nothing and the state stays "thinking" until the follow-up speaks.
    assert states(s)[-4:] == [(3.2, "speaking"), (5.2, "thinking"), (9.3, "speaking"), (11.3, "listening")]
    assert not any(e.type == "agent_false_interruption" for e in s.events)


def test_commit_user_turn_waits_for_the_final_and_can_skip_the_reply():
    async def commit_early(s):
        await asyncio.sleep(2.6)  # the speech ended at 2.5; the final arrives at 3.3
        assert await s.commit_user_turn(transcript_timeout=2.0) == "Book a table for two"

    s = voice_run(
        [UserSpeech(0.5, 2.5, "Book a table for two", stt_delay=0.8)],
        llm_rules=[al.Rule(reply="Sure.")],
        turn_handling={"turn_detection": "manual"},
        during=commit_early,
    )
    assert [m[:2] for m in messages(s)] == [("user", "Book a table for two"), ("assistant", "Sure.")]

    async def commit_silently(s):
        await asyncio.sleep(4.0)
        await s.commit_user_turn(skip_reply=True)

    s = voice_run(
        [UserSpeech(0.5, 2.5, "Book a table for two", stt_delay=0.2)],
        llm_rules=[al.Rule(reply="Sure.")],
        turn_handling={"turn_detection": "manual"},
        during=commit_silently,
    )
    assert [m[:2] for m in messages(s)] == [("user", "Book a table for two")]


def test_turn_handling_follows_the_active_agent():
    class B(al.Agent):
        def __init__(self):
            super().__init__(instructions="b", turn_handling={"endpointing": {"min_delay": 2.0}})

    @al.function_tool
    async def transfer() -> al.Agent:
        """Transfer."""
        return B()

    rules = [al.Rule(r"transfer", tool_calls=[al.ScriptedToolCall("transfer", {})]), al.Rule(reply="Hi.")]
    s = voice_run(
        [UserSpeech(0.5, 1.5, "transfer me", stt_delay=0.1), UserSpeech(6.0, 7.0, "hello B", stt_delay=0.1)],
        llm_rules=rules,
        agent=al.Agent(instructions="a", tools=[transfer]),
    )
    eou = s.metrics_frame().query("type == 'eou_metrics'")["end_of_utterance_delay"].tolist()
    assert eou == [pytest.approx(0.5), pytest.approx(2.0)]


def test_tool_follow_up_waits_for_the_user_to_be_silent():
    @al.function_tool
    async def slow(city: str) -> str:
        """Slow."""
        await asyncio.sleep(1.0)
        return "sunny"

    rules = [
        al.Rule(r"weather", reply="Let me check.", tool_calls=[al.ScriptedToolCall("slow", {"city": "P"})], ttft=0.1, duration=0.3),
        al.Rule(after_tool="slow", reply="It is sunny.", ttft=0.1, duration=0.3),
    ]
    s = voice_run(
        [UserSpeech(0.5, 2.5, "What's the weather?", stt_delay=0.2), UserSpeech(5.0, 5.3, "", stt_delay=0.1)],
        llm_rules=rules,
        tts=al.ScriptedTTS(ttfb=0.2, durations={"Let me check.": 2.0, "It is sunny.": 2.0}),
        agent=al.Agent(instructions="x", tools=[slow]),
        turn_handling={"interruption": {"min_duration": 1.0}},
    )
    follow_up = [p.start for p in s.playback][-1]
    # The noise ended at 5.3: the hold-off lifts on the first VAD frame with more than min_delay / 2
    # (0.25 s) of silence, 5.6, before the VAD's end of speech at 5.8; the follow-up was synthesized
    # already (LiveKit starts its TTS with its LLM), so it plays then (checked against LiveKit in
    # test_livekit_fidelity.py's "tool_follow_up_after_a_noise").
    assert follow_up == pytest.approx(5.6)


def test_final_transcript_rearms_the_away_timer():
    s = voice_run(
        [UserSpeech(0.5, 1.0, "hmm let me think", stt_delay=3.0)],
        llm_rules=[al.Rule(reply="Hi.")],
        turn_handling={"turn_detection": "manual"},
        user_away_timeout=5.0,
        during=lambda s: asyncio.sleep(12),
    )
    assert [(t, st) for t, st in states(s, "user_state_changed") if st == "away"] == [(9.0, "away")]  # final at 4.0 + 5


def test_a_turn_starts_at_its_first_vad_speech_even_a_noise():
    # LiveKit (audio_recognition: _speech_start_time is set once per turn, at the first VAD start since
    # the last commit): a wordless noise at 1.0, real words at 16.0 -> the turn started at 1.0.
    s = voice_run(
        [UserSpeech(1.0, 1.3, "", stt_delay=0.1), UserSpeech(16.0, 17.0, "Hello there", stt_delay=0.1)],
        llm_rules=[al.Rule(reply="Hi.", ttft=0.3)],
    )
    user = next(i for i in s.history.items if i.type == "message" and i.role == "user")
    assert user.metrics["started_speaking_at"] == 1.0


def test_input_in_the_past_is_a_clear_error():
    async def main():
        s = al.AgentSession(llm=al.ScriptedLLM(), tts=al.ScriptedTTS())
        await s.start(al.Agent(instructions="x"))
        await asyncio.sleep(5.0)
        with pytest.raises(ValueError, match=r"input starts at 0.550s but the session is already at 5.000s"):
            s.attach_user_input([UserSpeech(0.5, 2.5, "Hello there", stt_delay=0.2)])
        await s.aclose()

    al.VirtualClock().run(main)


def test_words_are_judged_heard_at_the_time_they_were_spoken():
    # Spoken while an uninterruptible greeting played (then discarded) vs after it ended (heard).
    class A(al.Agent):
        async def on_enter(self):
            self.session.say("Welcome to the bank.", allow_interruptions=False)

    s = voice_run(
        [UserSpeech(1.5, 4.0, "hello can you hear me", stt_delay=0.2)],
        llm_rules=[al.Rule(reply="Yes.")],
        tts=al.ScriptedTTS(ttfb=0.0, durations={"Welcome to the bank.": 2.0}),
        agent=A(instructions="x"),
    )
    assert [m[:2] for m in messages(s)][-2:] == [("user", "hello can you hear me"), ("assistant", "Yes.")]
    s = voice_run(
        [UserSpeech(0.5, 1.5, "hello", stt_delay=0.8)],
        llm_rules=[al.Rule(reply="Yes.")],
        tts=al.ScriptedTTS(ttfb=0.0, durations={"Welcome to the bank.": 3.0}),
        agent=A(instructions="x"),
    )
    assert [m for m in messages(s) if m[0] == "user"] == []  # said during the uninterruptible greeting


def test_a_turn_dropped_by_uninterruptible_speech_is_an_event():
    async def say_first(s):
        s.say("Please hold while I transfer you to the next agent.", allow_interruptions=False)

    s = voice_run(
        [UserSpeech(1.0, 2.0, "hello", stt_delay=0.1)],
        llm_rules=[al.Rule(reply="Hi.")],
        tts=al.ScriptedTTS(ttfb=0.2, durations={"Please hold while I transfer you to the next agent.": 5.0}),
        # the STT hears the words (they are not discarded), the turn still cannot interrupt
        turn_handling={"interruption": {"discard_audio_if_uninterruptible": False}},
        during=say_first,
    )
    (dropped,) = [e for e in s.events if e.type == "user_turn_dropped"]
    say_id = next(e.speech_handle.id for e in s.events if e.type == "speech_created" and e.source == "say")
    assert (dropped.transcript, dropped.reason, dropped.speech_id) == ("hello", "uninterruptible", say_id)
    assert round(dropped.created_at, 3) == 2.5  # the VAD end of speech (2.0 + 0.5): the commit that was refused
    assert [m for m in messages(s) if m[0] == "user"] == []  # not in the history
    row = s.events_frame().query("type == 'user_turn_dropped'").iloc[0]
    assert (row["transcript"], row["reason"], row["speech_id"]) == ("hello", "uninterruptible", say_id)


def test_every_speech_is_created_scheduled_and_done_with_its_id():
    # Two finals in one turn: the first preemptive reply is cancelled unused (created, done, never
    # scheduled); the second is reused and scheduled at the commit; a later "Stop!" interrupts it.
    s = voice_run(
        [
            UserSpeech(0.5, 1.0, "Tell me", stt_delay=0.1),
            UserSpeech(1.3, 2.0, "a story", stt_delay=0.1),
            UserSpeech(5.0, 6.0, "Stop!", stt_delay=0.1),
        ],
        llm_rules=_story(None),
        tts=STORY_TTS,
    )
    life: dict[str, list[tuple[str, float]]] = {}
    for e in s.events:
        if e.type == "speech_created":
            life.setdefault(e.speech_handle.id, []).append(("created", round(e.created_at, 3)))
        elif e.type in ("speech_scheduled", "speech_done"):
            life.setdefault(e.speech_id, []).append((e.type.split("_")[1], round(e.created_at, 3)))
    first, story, stop = life.values()
    assert [k for k, _ in first] == ["created", "done"]  # the unused preemptive reply
    assert [k for k, _ in story] == ["created", "scheduled", "done"] and [k for k, _ in stop] == ["created", "scheduled", "done"]
    assert story[1][1] == 2.5  # queued at the commit (VAD end 2.0 + 0.5)
    done = {e.speech_id: e.interrupted for e in s.events if e.type == "speech_done"}
    assert list(done.values()) == [True, True, False]  # cancelled, cut by "Stop!", played out
    frame = s.events_frame()
    assert set(frame.loc[frame["type"].str.startswith("speech_"), "speech_id"]) == set(life)


def _hook_run(edit):
    """Two spoken turns; the agent's on_user_turn_completed applies ``edit`` to the second turn's context."""

    class Hooked(al.Agent):
        async def on_user_turn_completed(self, turn_ctx, new_message):
            if any(i.type == "message" and i.role == "assistant" for i in turn_ctx.items):
                edit(turn_ctx)

    speech = [UserSpeech(0.5, 2.0, "What's the weather like today?", stt_delay=0.1), UserSpeech(6.0, 7.5, "And tomorrow?", stt_delay=0.1)]
    rules = [al.Rule(r"tomorrow", reply="Rain.", ttft=0.3), al.Rule(r"weather", reply=WEATHER, ttft=0.3)]
    s = voice_run(speech, llm_rules=rules, tts=al.ScriptedTTS(ttfb=0.3), agent=Hooked(instructions="x"))
    return len(s.metrics_frame().query("type == 'llm_metrics'"))


def test_preemptive_reuse_compares_the_context_as_livekit_does():
    # LiveKit (ChatContext.is_equivalent): same ids and types, and the same role/content/interrupted.
    def same_text(ctx):
        first = next(i for i in ctx.items if i.type == "message")
        first.content[:] = [*first.content]  # edited in place: the preemptive reply's context shares the item

    def replaced(ctx):  # the same id, other words: not the context the preemptive reply was made from
        first = next(i for i in ctx.items if i.type == "message")
        i = ctx.items.index(first)
        words = ["What's the weather like in Oslo?"]
        ctx.items[i] = al.ChatMessage(role=first.role, content=words, id=first.id, created_at=first.created_at)

    def timestamp_only(ctx):  # metadata is not compared
        first = next(i for i in ctx.items if i.type == "message")
        i = ctx.items.index(first)
        ctx.items[i] = al.ChatMessage(role=first.role, content=list(first.content), id=first.id, created_at=first.created_at + 0.5)

    assert _hook_run(same_text) == 2  # one request per turn: the preemptive reply was reused
    assert _hook_run(timestamp_only) == 2
    assert _hook_run(replaced) == 3  # dropped at commit, asked again
