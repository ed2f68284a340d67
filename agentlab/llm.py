"""The LLM-side names agentlab's own code and notebooks use: chat context, chunks, tools.

LiveKit agent files use :mod:`agentlab.livekit.llm` (all of ``livekit.agents.llm``'s names); this
module keeps the older ``livekit.agents`` → ``agentlab`` import form working.

Example::

    from agentlab.llm import ChatContext, ChatMessage
"""

from .chat import AgentHandoff, ChatContext, ChatMessage, FunctionCall, FunctionCallOutput
from .models.llm import LLM, ChatChunk, ChoiceDelta, CompletionUsage, FunctionToolCall
from .tools import FunctionTool, StopResponse, ToolError, function_tool

__all__ = [
    "LLM",
    "AgentHandoff",
    "ChatChunk",
    "ChatContext",
    "ChatMessage",
    "ChoiceDelta",
    "CompletionUsage",
    "FunctionCall",
    "FunctionCallOutput",
    "FunctionTool",
    "FunctionToolCall",
    "StopResponse",
    "ToolError",
    "function_tool",
]
