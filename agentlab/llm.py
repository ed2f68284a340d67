"""``livekit.agents.llm``'s names, so LiveKit agent code runs with ``livekit.agents`` → ``agentlab``.

Example::

    from agentlab.llm import ChatContext, ChatMessage   # was: from livekit.agents.llm import ...
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
