"""A LiveKit 1.8 agent built from provider plugins and deep import paths (written for these tests).

With the real livekit-agents it needs the plugins installed; in agentlab the import hook maps them
to offline components.
"""

from livekit.agents import Agent, AgentServer, AgentSession, JobContext, room_io
from livekit.agents.beta.tools.end_call import EndCallTool
from livekit.agents.llm.tool_context import ToolError
from livekit.plugins import cartesia, deepgram, noise_cancellation, openai, silero
from livekit.plugins.turn_detector.multilingual import MultilingualModel

server = AgentServer()


def prewarm(proc) -> None:
    proc.userdata["vad"] = silero.VAD.load()


server.setup_fnc = prewarm


class Support(Agent):
    def __init__(self) -> None:
        super().__init__(instructions="You are a support agent.", tools=[EndCallTool()])

    async def on_enter(self) -> None:
        self.session.generate_reply(instructions="Greet the caller.")


@server.rtc_session()
async def entrypoint(ctx: JobContext) -> None:
    session = AgentSession(
        stt=deepgram.STT(model="nova-3"),
        llm=openai.LLM(model="gpt-4.1-mini"),
        tts=cartesia.TTS(voice="support"),
        vad=ctx.proc.userdata["vad"],
        turn_detection=MultilingualModel(),
    )
    session.userdata = {"errors": ToolError}
    await session.start(
        agent=Support(),
        room=ctx.room,
        room_options=room_io.RoomOptions(audio_input=room_io.AudioInputOptions(noise_cancellation=noise_cancellation.BVC())),
    )
