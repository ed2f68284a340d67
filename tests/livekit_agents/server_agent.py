"""A voice agent in LiveKit Agents 1.8's current style: AgentServer, rtc_session, inference models,
TurnHandlingOptions, text transforms, EndCallTool, metrics logging and a shutdown callback.

Written for these tests (in the shape of LiveKit's examples, not copied from them); it imports with
the real livekit-agents 1.8.9 and runs in agentlab through the import hook, unchanged.
"""

import logging

from livekit.agents import (
    Agent,
    AgentServer,
    AgentSession,
    JobContext,
    JobProcess,
    MetricsCollectedEvent,
    RunContext,
    TurnHandlingOptions,
    cli,
    inference,
    metrics,
    room_io,
    text_transforms,
)
from livekit.agents.beta import EndCallTool
from livekit.agents.llm import function_tool

logger = logging.getLogger("concierge")

server = AgentServer()


def prewarm(proc: JobProcess) -> None:
    proc.userdata["greeting"] = "Welcome to the Grand Hotel."


server.setup_fnc = prewarm


class Concierge(Agent):
    def __init__(self) -> None:
        super().__init__(
            instructions="You are the concierge of the Grand Hotel. Keep answers short. Use **no** markdown.",
            tools=[EndCallTool(end_instructions="thank the guest and say goodbye")],
        )

    async def on_enter(self) -> None:
        self.session.generate_reply(instructions="Greet the guest.")

    @function_tool
    async def book_table(self, context: RunContext, guests: int, time: str) -> str:
        """Book a table at the hotel restaurant.

        Args:
            guests: how many people
            time: when, e.g. 8pm
        """
        context.userdata["booked"] = (guests, time)
        return f"Table for {guests} at {time} is booked."


@server.rtc_session(agent_name="concierge")
async def entrypoint(ctx: JobContext) -> None:
    ctx.log_context_fields = {"room": ctx.room.name}
    session = AgentSession(
        userdata={"greeting": ctx.proc.userdata["greeting"]},
        llm=inference.LLM("openai/gpt-4.1-mini"),
        tts=inference.TTS("cartesia/sonic-3", voice="concierge"),
        turn_handling=TurnHandlingOptions(
            endpointing={"min_delay": 0.4},
            interruption={"resume_false_interruption": True, "false_interruption_timeout": 1.0},
            preemptive_generation={"enabled": True, "max_retries": 3},
        ),
        max_tool_steps=2,
        tts_text_transforms=["filter_markdown", text_transforms.replace({"Grand Hotel": "Grand Hotél"})],
    )
    collected = []

    @session.on("metrics_collected")
    def _on_metrics(ev: MetricsCollectedEvent) -> None:
        collected.append(ev.metrics)
        metrics.log_metrics(ev.metrics)

    async def report() -> None:
        ctx.proc.userdata["report"] = {"usage": session.usage, "metrics": len(collected)}

    ctx.add_shutdown_callback(report)
    await session.start(
        agent=Concierge(),
        room=ctx.room,
        room_options=room_io.RoomOptions(audio_input=room_io.AudioInputOptions()),
    )


if __name__ == "__main__":
    cli.run_app(server)
