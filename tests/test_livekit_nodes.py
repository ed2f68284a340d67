"""Node overrides behave as in LiveKit 1.8.9 (reference §20.4): what each node's output changes,
what its return shapes may be, and what happens when one raises."""

from __future__ import annotations

import pytest
from spy_tts import SpyTTS

import agentlab as al
from agentlab import Agent, AgentSession, ScriptedLLM, ScriptedTTS, VirtualClock


class Redacting(Agent):
    def __init__(self) -> None:
        super().__init__(instructions="x")

    async def transcription_node(self, text, model_settings):
        async for chunk in text:
            yield chunk.replace("secret", "[redacted]")


def _texts(session: AgentSession) -> list[str]:
    return [i.text_content for i in session.history.items if i.type == "message" and i.role == "assistant"]


@pytest.mark.parametrize("with_tts", [True, False])
def test_transcription_node_writes_the_stored_text_not_the_spoken_one(with_tts):
    tts = SpyTTS(ttfb=0.1) if with_tts else None
    shown: list[str] = []

    class Sink:
        async def capture_text(self, text: str) -> None:
            shown.append(text)

        def flush(self) -> None:
            pass

    async def main():
        session = AgentSession(llm=ScriptedLLM(responses=["My secret is here."]), tts=tts)
        if not with_tts:
            session.output.transcription = Sink()
        await session.start(Redacting())
        await session.run(user_input="tell me")
        await session.say("Another secret.")
        await session.aclose()
        return session

    session = VirtualClock().run(main)
    assert _texts(session) == ["My [redacted] is here.", "Another [redacted]."]
    if with_tts:
        assert "".join(tts.heard) == "My secret is here.Another secret."  # the TTS is not affected
    else:
        assert "".join(shown) == "My [redacted] is here.Another [redacted]."  # the text output shows the node's text


def test_a_transcription_node_returning_none_stores_nothing_though_audio_played():
    class Silent(Agent):
        def transcription_node(self, text, model_settings):
            return None

    async def main():
        session = AgentSession(llm=ScriptedLLM(responses=["Hello there."]), tts=ScriptedTTS(ttfb=0.1))
        await session.start(Silent(instructions="x"))
        await session.run(user_input="hi")
        await session.aclose()
        return session

    session = VirtualClock().run(main)
    assert _texts(session) == []
    assert sum(p.duration for p in session.playback) > 0  # the audio played


def test_a_transcription_node_that_raises_keeps_what_it_yielded_and_run_goes_on():
    class Broken(Agent):
        async def transcription_node(self, text, model_settings):
            async for chunk in text:
                yield chunk
                raise ValueError("node bug")

    async def main():
        llm = ScriptedLLM(responses=["One two three."], tokens_per_second=100)
        session = AgentSession(llm=llm, tts=ScriptedTTS(ttfb=0.1))
        await session.start(Broken(instructions="x"))
        await session.run(user_input="hi")  # does not raise (LiveKit: logged)
        await session.aclose()
        return session

    session = VirtualClock().run(main)
    assert _texts(session) == ["One"]
    errors = [e for e in session.events if e.type == "error"]
    assert [(e.source, str(e.error), e.recoverable) for e in errors] == [("transcription_node", "node bug", True)]


def test_no_override_means_no_extra_work():
    assert not al.session.agent.overrides(Agent(instructions="x"), "transcription_node")
    assert al.session.agent.overrides(Redacting(), "transcription_node")


def _reply_with(agent: Agent, *, llm: ScriptedLLM | None = None) -> tuple[list[str], list]:
    async def main():
        session = AgentSession(llm=llm or ScriptedLLM(responses=["hello there"]))
        await session.start(agent)
        result = await session.run(user_input="hi")
        await session.aclose()
        return _texts(session), result

    return VirtualClock().run(main)


def test_llm_node_return_shapes():
    class Whole(Agent):
        async def llm_node(self, chat_ctx, tools, model_settings):
            return "Exactly this."  # a coroutine returning a string: sent whole

    class Returned(Agent):
        async def llm_node(self, chat_ctx, tools, model_settings):
            return Agent.default.llm_node(self, chat_ctx, tools, model_settings)  # a coroutine returning a stream

    class Plain(Agent):
        def llm_node(self, chat_ctx, tools, model_settings):
            return Agent.default.llm_node(self, chat_ctx, tools, model_settings)  # a plain function returning a stream

    class OneChunk(Agent):
        async def llm_node(self, chat_ctx, tools, model_settings):
            return al.models.llm.ChatChunk(delta=al.models.llm.ChoiceDelta(content="lost"))  # LiveKit ignores it

    class Nothing(Agent):
        async def llm_node(self, chat_ctx, tools, model_settings):
            return None

    class Managed(Agent):
        async def llm_node(self, chat_ctx, tools, model_settings):
            async with self.llm.chat(chat_ctx=chat_ctx, tools=tools) as stream:  # LiveKit's LLMStream is a context manager
                async for chunk in stream:
                    yield chunk

    assert _reply_with(Whole(instructions="x"))[0] == ["Exactly this."]
    assert _reply_with(Returned(instructions="x"))[0] == ["hello there"]
    assert _reply_with(Plain(instructions="x"))[0] == ["hello there"]
    assert _reply_with(OneChunk(instructions="x"))[0] == []
    assert _reply_with(Nothing(instructions="x"))[0] == []
    assert _reply_with(Managed(instructions="x"))[0] == ["hello there"]


def test_an_llm_node_may_edit_the_chunks_it_passes_on():
    tts = SpyTTS(ttfb=0.1)

    class Loud(Agent):
        async def llm_node(self, chat_ctx, tools, model_settings):
            async for chunk in Agent.default.llm_node(self, chat_ctx, tools, model_settings):
                if chunk.delta is not None and chunk.delta.content:
                    chunk.delta.content = chunk.delta.content.upper()  # LiveKit's chunks are mutable
                yield chunk

    async def main():
        session = AgentSession(llm=ScriptedLLM(responses=["hello there"]), tts=tts)
        await session.start(Loud(instructions="x"))
        await session.run(user_input="hi")
        await session.aclose()
        return session

    session = VirtualClock().run(main)
    assert _texts(session) == ["HELLO THERE"] and "".join(tts.heard) == "HELLO THERE"


def test_an_llm_node_that_raises_fails_the_run_with_its_own_error():
    class Broken(Agent):
        async def llm_node(self, chat_ctx, tools, model_settings):
            yield "Partial "
            raise ValueError("node bug")

    async def main():
        session = AgentSession(llm=ScriptedLLM(responses=["unused"]))
        await session.start(Broken(instructions="x"))
        with pytest.raises(ValueError, match="node bug"):
            await session.run(user_input="hi")
        await session.aclose()
        return session

    session = VirtualClock().run(main)
    assert _texts(session) == ["Partial"]  # kept, as LiveKit keeps it (agentlab marks it incomplete)
    assert [e for e in session.events if e.type == "error"] == []  # LiveKit: no error event for a node's own bug
