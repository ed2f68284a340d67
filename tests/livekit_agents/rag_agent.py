"""An agent using on_user_turn_completed, in LiveKit Agents 1.8's documented style (RAG lookup, StopResponse)."""

from livekit.agents import Agent, AgentSession, JobContext, StopResponse, WorkerOptions, cli
from livekit.agents.llm import ChatContext, ChatMessage

FAQ = {
    "opening hours": "We are open 9:00 to 17:00, Monday to Friday.",
    "parking": "Free parking is behind the building.",
}


class FaqAgent(Agent):
    def __init__(self) -> None:
        super().__init__(instructions="Answer questions about the office using the facts you are given.")

    async def on_user_turn_completed(self, turn_ctx: ChatContext, new_message: ChatMessage) -> None:
        text = (new_message.text_content or "").lower()
        if not text.strip() or text.strip() in ("um", "uh"):
            raise StopResponse()  # nothing worth answering
        facts = [answer for topic, answer in FAQ.items() if topic in text]
        if facts:
            turn_ctx.add_message(role="assistant", content="Relevant facts: " + " ".join(facts))


async def entrypoint(ctx: JobContext):
    session = AgentSession(llm="openai/gpt-4.1-mini", turn_handling={"preemptive_generation": {"enabled": False}})
    await session.start(agent=FaqAgent(), room=ctx.room)


if __name__ == "__main__":
    cli.run_app(WorkerOptions(entrypoint_fnc=entrypoint))
