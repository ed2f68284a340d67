"""A tool agent in LiveKit Agents 1.8's documented style (imports from livekit.agents)."""

import logging

from livekit.agents import Agent, AgentSession, JobContext, RunContext, WorkerOptions, cli, function_tool

logger = logging.getLogger("weather-agent")


class WeatherAgent(Agent):
    def __init__(self) -> None:
        super().__init__(instructions="You are a weather assistant. Use the lookup_weather tool. Keep answers short.")

    @function_tool
    async def lookup_weather(self, context: RunContext, location: str, unit: str = "celsius") -> str:
        """Look up the current weather for a location.

        Args:
            location: the city or place to look up
            unit: celsius or fahrenheit
        """
        logger.info("looking up weather for %s", location)
        return f"sunny, 21 degrees {unit} in {location}"


async def entrypoint(ctx: JobContext):
    session = AgentSession(
        llm="openai/gpt-4.1-mini",
        turn_handling={"endpointing": {"min_delay": 0.4}, "interruption": {"min_words": 1}},
        max_tool_steps=2,
    )

    @session.on("function_tools_executed")
    def _on_tools(ev):
        logger.info("tools: %s", [c.name for c in ev.function_calls])

    await session.start(agent=WeatherAgent(), room=ctx.room)
    await session.generate_reply(instructions="Greet the user and offer a forecast.")


if __name__ == "__main__":
    cli.run_app(WorkerOptions(entrypoint_fnc=entrypoint))
