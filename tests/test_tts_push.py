"""The TTS pipe pushes the LLM's words into a ScriptedTTS instead of letting the TTS task read them.

That saves a task switch per streamed word (agentlab/session/playout.py). It is only allowed to be
faster: a TTS that reads its own text (``PulledTTS``, which declines the push) must hear the same
words at the same instants, so every event, message and played stretch is the same. The fuzz
(tests/fuzz_session.py) replays each random example both ways as well.
"""

from __future__ import annotations

import asyncio

import pytest
from lk_scenarios import run_agentlab
from spy_tts import PulledTTS, SpyTTS
from test_livekit_fidelity import SCENARIOS

import agentlab as al
from agentlab.engine import UserSpeech
from agentlab.session.playout import _TTSPipe

STORY = "Once upon a time there was a dragon. It told stories all day long! Nobody minded, because they were good. The end."


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_every_livekit_scenario_decides_the_same_pushed_or_pulled(name: str) -> None:
    spec = SCENARIOS[name]
    assert run_agentlab(spec) == run_agentlab(spec, pulled=True)


def _story_run(tts_cls: type, barge_in: float, *, pausable: bool, reply: str = STORY, transforms: list | None = None) -> tuple:
    """A reply of several sentences streamed a word every 50 ms (the first frame comes 0.5 s after
    the first word, so words keep coming while the TTS waits), the user barging in at ``barge_in``."""
    words = len(reply.split())
    llm = al.ScriptedLLM(rules=[al.Rule(reply=reply, ttft=0.3, duration=0.3 + 0.05 * (words - 1))])
    script = [UserSpeech(1.0, 2.0, "Tell me a story."), UserSpeech(barge_in, barge_in + 1.0, "Wait, stop there please.", stt_delay=0.2)]
    options: dict = {"llm": llm, "tts": tts_cls(ttfb=0.5, words_per_minute=200), "aec_warmup_duration": None}
    if transforms is not None:
        options["tts_text_transforms"] = transforms
    s = al.simulate(lambda: al.Agent(instructions="Tell stories."), options, script, pausable_output=pausable).session
    events = s.events_frame().drop(columns=["wall_time"]).to_json()
    return events, s.history_frame().to_json(), [(p.speech_id, p.start, p.duration, p.cut) for p in s.playback]


# Every 50 ms from before the reply's first word to after its last: words, the first frame and the
# user's speech fall on the same grid, so decisions land on the very instants words arrive.
BARGE_INS = [round(2.5 + 0.05 * i, 2) for i in range(50)]


@pytest.mark.parametrize("pausable", [False, True])
def test_a_streamed_reply_interrupted_anywhere_is_the_same_pushed_or_pulled(pausable: bool) -> None:
    cut = 0
    for barge_in in BARGE_INS:
        pushed = _story_run(al.ScriptedTTS, barge_in, pausable=pausable)
        assert pushed == _story_run(PulledTTS, barge_in, pausable=pausable), barge_in
        cut += any(c for *_, c in pushed[2])
    assert cut > len(BARGE_INS) // 2  # the scenes do cut the reply mid-audio


def test_markdown_split_across_words_is_spoken_the_same_pushed_or_pulled() -> None:
    reply = "Here is **a bold** claim. And `some code` too! Then [a link](http://x.y) ends it."
    transforms = ["filter_markdown", "filter_emoji"]
    for barge_in in (2.9, 3.2, 9.0):
        pushed = _story_run(al.ScriptedTTS, barge_in, pausable=False, reply=reply, transforms=transforms)
        assert pushed == _story_run(PulledTTS, barge_in, pausable=False, reply=reply, transforms=transforms)


def _pipes(agent_cls: type[al.Agent], tts: al.TTS, **session_options: object) -> list[_TTSPipe]:
    """The TTS pipes a one-turn run made."""
    made: list[_TTSPipe] = []
    original = _TTSPipe.__init__

    def spy(self: _TTSPipe, *args: object) -> None:
        original(self, *args)
        made.append(self)

    async def main() -> None:
        session = al.AgentSession(llm=al.ScriptedLLM(responses=["Hello there. How are you?"]), tts=tts, **session_options)
        await session.start(agent_cls(instructions="x"))
        await session.run(user_input="hi")
        await session.aclose()

    _TTSPipe.__init__ = spy  # type: ignore[method-assign]
    try:
        al.VirtualClock().run(main)
    finally:
        _TTSPipe.__init__ = original  # type: ignore[method-assign]
    return made


class _OwnTTSNode(al.Agent):
    async def tts_node(self, text, model_settings):  # type: ignore[no-untyped-def]
        async for frame in al.Agent.default.tts_node(self, text, model_settings):
            yield frame


class _OwnTranscription(al.Agent):
    async def transcription_node(self, text, model_settings):  # type: ignore[no-untyped-def]
        async for chunk in text:
            yield chunk.upper()


async def _shout(text):  # type: ignore[no-untyped-def]
    async for chunk in text:
        yield chunk.upper()


@pytest.mark.parametrize(
    ("agent_cls", "tts", "options", "pushed"),
    [
        (al.Agent, al.ScriptedTTS(), {}, True),
        (al.Agent, al.ScriptedTTS(ttfb_from="flush"), {}, True),
        (al.Agent, al.ScriptedTTS(), {"tts_text_transforms": ["filter_markdown"]}, True),
        (al.Agent, PulledTTS(), {}, False),  # declines the push
        (al.Agent, SpyTTS(), {}, False),  # its own stream() must see the text
        (_OwnTTSNode, al.ScriptedTTS(), {}, False),  # the node must see the text
        (_OwnTranscription, al.ScriptedTTS(), {}, False),  # the text is teed to the node
        (al.Agent, al.ScriptedTTS(), {"tts_text_transforms": [_shout]}, False),  # a stream transform
    ],
)
def test_words_are_pushed_only_when_nothing_else_reads_them(agent_cls, tts, options, pushed) -> None:  # type: ignore[no-untyped-def]
    pipes = _pipes(agent_cls, tts, **options)
    assert pipes and all((p._synthesis is not None) is pushed for p in pipes)


def _callbacks(tts_cls: type[al.ScriptedTTS]) -> int:
    """How many callbacks the virtual loop was handed (``call_soon``) during one streamed reply."""
    count = 0

    async def main() -> None:
        session = al.AgentSession(llm=al.ScriptedLLM(rules=[al.Rule(reply=STORY, ttft=0.3, duration=2.0)]), tts=tts_cls(ttfb=0.2))
        await session.start(al.Agent(instructions="x"))
        await session.run(user_input="hi")
        await session.aclose()

    loop = al.VirtualClock().new_loop()
    call_soon = loop.call_soon

    def counting(*args: object, **kwargs: object) -> asyncio.Handle:
        nonlocal count
        count += 1
        return call_soon(*args, **kwargs)  # type: ignore[arg-type]

    loop.call_soon = counting  # type: ignore[method-assign]
    try:
        loop.run_until_complete(main())
    finally:
        loop.close()
    return count


def test_pushing_spares_the_tts_task_a_wake_per_word() -> None:
    """What the push is for: the TTS task no longer wakes for every word, and the LLM's task no
    longer yields to it before each next word."""
    saved = _callbacks(PulledTTS) - _callbacks(al.ScriptedTTS)
    assert saved >= 2 * (len(STORY.split()) - 4)  # two per word, less the four that end a sentence
