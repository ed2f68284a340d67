"""A multi-agent handoff in LiveKit Agents 1.8's documented style (userdata, tools returning agents)."""

from dataclasses import dataclass

from livekit.agents import Agent, AgentSession, JobContext, RunContext, WorkerOptions, cli, function_tool


@dataclass
class CallData:
    name: str | None = None
    topic: str | None = None


class Receptionist(Agent):
    def __init__(self) -> None:
        super().__init__(instructions="Greet the caller, ask their name and what they need, then transfer them.")

    async def on_enter(self) -> None:
        self.session.generate_reply(instructions="Greet the caller.")

    @function_tool
    async def transfer_to_billing(self, context: RunContext[CallData], name: str):
        """Transfer the caller to billing once you know their name.

        Args:
            name: the caller's name
        """
        context.userdata.name = name
        context.userdata.topic = "billing"
        return BillingAgent(), f"Transferring {name} to billing."


class BillingAgent(Agent):
    def __init__(self) -> None:
        super().__init__(instructions="You handle billing questions. Address the caller by name.")

    async def on_enter(self) -> None:
        userdata: CallData = self.session.userdata
        self.session.generate_reply(instructions=f"Say hello to {userdata.name} and ask about their bill.")


async def entrypoint(ctx: JobContext):
    session = AgentSession[CallData](userdata=CallData(), llm="openai/gpt-4.1-mini")
    await session.start(agent=Receptionist(), room=ctx.room)


if __name__ == "__main__":
    cli.run_app(WorkerOptions(entrypoint_fnc=entrypoint))
