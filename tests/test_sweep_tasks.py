"""The full simulation path: task conversations, tool rounds, forced replies, task success.

Hand-computed timings: the reference agent's ScriptedLLM answers after ttft 0.3 s; a tool round
is one request (a tool call, no text), the reply "Done." starts speaking 0.3 s after its request.
Typed user turns come 1 s after the agent goes quiet (text output: at once).
"""

from __future__ import annotations

import dataclasses
import json
import math

import pandas as pd
import pytest
from openai_server import OpenAIServer, ToolCall, reply

import agentlab
import agentlab.datasets as ads
from agentlab import Agent, OpenAILLM, Rule, ScriptedLLM, ScriptedToolCall, function_tool
from agentlab.datasets.model import Conversation, ExpectedToolCall
from agentlab.session.options import build_options
from agentlab.sweeps import make_agent, reference_agent, run_task, summarize, sweep, task_outcomes
from agentlab.sweeps.tasks import _same

TOOLS = {"lookup_order": ["order_id"], "change_delivery_address": ["order_id", "address"], "send_confirmation": ["channel", "to"]}


def order_task() -> Conversation:
    return Conversation(
        id="order",
        duration=10.0,
        text_turns=("Where is order A1?", "Send it to 1 Main St and text me at 555."),
        expected_tools=(
            ExpectedToolCall("lookup_order", {"order_id": "A1"}, turn=0),
            ExpectedToolCall("change_delivery_address", {"order_id": "A1", "address": "1 Main St"}, turn=1),
            ExpectedToolCall("send_confirmation", {"channel": "sms", "to": "555"}, turn=1),
        ),
        metadata={"domain": "order", "tools": TOOLS},
    )


def outcomes(conv, factory, max_tool_steps):
    return task_outcomes(conv, run_task(conv, factory, build_options(max_tool_steps=max_tool_steps)), max_tool_steps=max_tool_steps)


def test_worked_example_tool_step_limits():
    conv = order_task()
    # max_tool_steps=0: one tool round per reply, then a forced text reply; the confirmation is never sent.
    r0 = outcomes(conv, None, 0)
    turns = r0[r0.kind == "user_turn"]
    assert turns.outcome.tolist() == ["forced_reply", "forced_reply"]
    assert turns.tool_rounds.tolist() == [1, 1] and turns.llm_requests.tolist() == [2, 2]
    assert turns.start.tolist() == [1.0, 2.6]  # 1.0, then 1 s after "Done." at 1.6
    assert turns.latency.round(6).tolist() == [0.6, 0.6] and turns.response_latency.round(6).tolist() == [0.6, 0.6]
    assert r0[r0.kind == "tool_call"].outcome.tolist() == ["called", "called", "not_called"]
    assert r0[r0.kind == "task"].outcome.item() == "failure"
    # max_tool_steps=1: two rounds allowed, then the reply is forced (LiveKit's rule) but the task is done.
    r1 = outcomes(conv, None, 1)
    turns = r1[r1.kind == "user_turn"]
    assert turns.outcome.tolist() == ["replied", "forced_reply"]
    assert turns.tool_rounds.tolist() == [1, 2] and turns.llm_requests.tolist() == [2, 3]
    assert turns.latency.round(6).tolist() == [0.6, 0.9]
    calls = r1[r1.kind == "tool_call"]
    assert calls.outcome.tolist() == ["called"] * 3 and calls.turn.tolist() == [0, 1, 1]
    assert calls.time.round(6).tolist() == [1.3, 2.9, 3.2]
    assert r1[r1.kind == "task"].outcome.item() == "success"
    # max_tool_steps=2: nothing forced.
    r2 = outcomes(conv, None, 2)
    assert r2[r2.kind == "user_turn"].outcome.tolist() == ["replied", "replied"]

    s0, s2 = summarize(r0), summarize(r2)
    assert (s0["user_turns"], s0["forced_replies"], s0["forced_reply_rate"]) == (2, 2, 1.0)
    assert (s0["tool_calls_expected"], s0["tool_call_recall"], s0["tasks"], s0["task_success_rate"]) == (3, pytest.approx(2 / 3), 1, 0.0)
    assert s0["tool_rounds_per_turn"] == 1.0 and s0["llm_requests_per_turn"] == 2.0
    assert (s2["forced_replies"], s2["tool_call_recall"], s2["task_success_rate"]) == (0, 1.0, 1.0)
    assert (s2["tool_rounds_per_turn"], s2["tool_rounds_max"], s2["llm_requests_per_turn"]) == (1.5, 2, 2.5)
    assert s2["response_latency_p50"] == pytest.approx(0.75) and s2["response_latency_p90"] == pytest.approx(0.87)


def test_unlabelled_calls_are_due_one_per_turn():
    conv = dataclasses.replace(order_task(), expected_tools=tuple(dataclasses.replace(c, turn=None) for c in order_task().expected_tools))
    rows = outcomes(conv, None, 3)
    # call k at text turn k, the last ones at the last turn
    assert rows[rows.kind == "tool_call"].turn.tolist() == [0, 1, 1]


@pytest.mark.parametrize(
    "expected, actual, same",
    [
        ("A1", " a1 ", True),
        ("1 Main St", "1  main st", True),
        (4, "4", True),
        (4, 4.0, True),
        ("4", 5, False),
        ("A1", "B2", False),
        (True, "True", False),
        ({"a": 1}, {"a": "1"}, True),
        ([1, 2], [1], False),
    ],
)
def test_argument_comparison(expected, actual, same):
    assert _same(expected, actual) is same


def _agent_calling(order_id, *, raise_in_tool=False):
    """A factory whose agent looks up ``order_id`` whatever the user says (to test the scoring)."""

    def factory():
        @function_tool
        async def lookup_order(order_id: str) -> str:
            """Look up an order."""
            if raise_in_tool:
                raise RuntimeError("order service down")
            return "in transit"

        llm = ScriptedLLM(
            rules=[
                Rule("order", tool_calls=[ScriptedToolCall("lookup_order", {"order_id": order_id})]),
                Rule(reply="OK."),
            ]
        )
        return Agent(instructions="Look up orders.", tools=[lookup_order], llm=llm)

    return factory


def test_wrong_arguments_and_tool_errors():
    conv = order_task()
    rows = outcomes(conv, _agent_calling("b2"), 3)
    calls = rows[rows.kind == "tool_call"]
    assert calls.outcome.tolist() == ["wrong_arguments", "not_called", "not_called"]
    assert calls.transcript.iloc[0] == 'lookup_order({"order_id": "b2"})'
    assert rows[rows.kind == "task"].outcome.item() == "failure"
    assert calls.outcome.iloc[0] != outcomes(conv, _agent_calling(" a1"), 3).query("kind == 'tool_call'").outcome.iloc[0]
    # The call was right but the tool raised: the session gives the model an error, the task fails.
    rows = outcomes(conv, _agent_calling("A1", raise_in_tool=True), 3)
    assert rows[rows.kind == "tool_call"].outcome.iloc[0] == "tool_error"
    assert rows[rows.kind == "task"].outcome.item() == "failure"


class OrderAgent(Agent):
    def __init__(self) -> None:
        super().__init__(instructions="orders", llm=ScriptedLLM(responses=["Hi."]))


def test_factories():
    conv = order_task()
    assert isinstance(make_agent(None, conv), Agent)
    assert isinstance(make_agent(OrderAgent, conv), OrderAgent)  # a class: called bare
    seen = []
    assert isinstance(make_agent(lambda c: seen.append(c.id) or OrderAgent(), conv), OrderAgent)
    assert seen == ["order"]
    assert isinstance(make_agent(lambda: OrderAgent(), conv), OrderAgent)
    with pytest.raises(TypeError, match="not an Agent instance"):
        make_agent(OrderAgent(), conv)
    with pytest.raises(TypeError, match="not an Agent instance"):
        sweep(OrderAgent(), ads.Dataset("t", {"name": "t"}, [conv]), {"max_tool_steps": [1]}, progress=False)
    with pytest.raises(TypeError, match="expected an Agent"):
        make_agent(lambda: "an agent", conv)


def test_broken_factory_fails_its_cells_only(tmp_path):
    good, bad = order_task(), dataclasses.replace(order_task(), id="bad")

    def factory(conv):
        if conv.id == "bad":
            raise RuntimeError("no agent for this one")
        return reference_agent(conv)

    res = sweep(factory, ads.Dataset("t", {"name": "t"}, [good, bad]), {"max_tool_steps": [0, 1]}, progress=False, out=tmp_path / "o")
    assert res.failed.conversation.tolist() == ["bad", "bad"]
    assert res.failed.error.str.contains("RuntimeError: no agent for this one").all()
    assert res.summary.task_success_rate.tolist() == [0.0, 1.0]
    assert json.loads((tmp_path / "o" / "sweep.json").read_text())["agent"].endswith("factory")


def test_bundled_tasks_tool_step_tradeoff():
    data = ads.load("tasks")
    res = agentlab.sweep(None, data, {"max_tool_steps": [0, 1, 3]}, progress=False)
    assert (res.cells.status == "ok").all()
    s = res.summary.set_index("max_tool_steps")
    # Tasks with a turn that needs two calls fail when only one tool round is allowed; count them from the labels.
    two_call = sum(1 for c in data if any(sum(1 for t in c.expected_tools if t.turn == i) >= 2 for i in range(len(c.text_turns))))
    assert 0 < two_call < len(data)
    assert s.loc[0, "task_success_rate"] == pytest.approx(1 - two_call / len(data))
    assert s.loc[1, "task_success_rate"] == 1.0 and s.loc[3, "task_success_rate"] == 1.0
    assert s.loc[0, "forced_reply_rate"] > s.loc[1, "forced_reply_rate"] > s.loc[3, "forced_reply_rate"] == 0.0
    assert s.loc[0, "llm_requests_per_turn"] < s.loc[1, "llm_requests_per_turn"]  # the forced turns stop early
    assert s.loc[0, "response_latency_p90"] <= s.loc[1, "response_latency_p90"]
    assert (s.tasks == len(data)).all() and not s.task_success_rate.isna().any()


def test_real_openai_client_on_the_virtual_clock():
    """A real model plugs into the same sweep: the openai client talks HTTP to a local server.

    The server answers each request 0.2 s late; the virtual clock runs at real speed while the
    socket is open (instead of jumping to the client's 30 s timeout), so the sweep sees real latency.
    """
    conv = order_task()
    calls = [ToolCall(c.name, json.dumps(c.arguments)) for c in conv.expected_tools]
    with OpenAIServer() as server:
        late = [
            dataclasses.replace(r, delay=0.2)
            for r in [reply(tool_calls=calls[:1]), reply("It is on its way."), reply(tool_calls=calls[1:]), reply("Done.")]
        ]
        server.enqueue(*late)

        def factory(c):
            llm = OpenAILLM(model="gpt-4.1-mini", base_url=server.base_url, api_key="test-not-a-key")
            return Agent(instructions="orders", tools=reference_agent(c).tools, llm=llm)

        res = sweep(factory, ads.Dataset("t", {"name": "t"}, [conv]), {"max_tool_steps": [0]}, progress=False)
        bodies = [r.body for r in server.requests if r.path.endswith("/chat/completions")]
    assert (res.cells.status == "ok").all(), res.failed.error.tolist()
    rows = res.turns
    assert rows[rows.kind == "task"].outcome.item() == "success"  # both calls of turn 1 came in one round
    turns = rows[rows.kind == "user_turn"]
    assert turns.outcome.tolist() == ["forced_reply", "forced_reply"] and turns.llm_requests.tolist() == [2, 2]
    assert (turns.latency >= 0.4).all() and (turns.latency < 5).all()  # two requests of 0.2 s each, not a 30 s timeout
    assert [b.get("tool_choice") for b in bodies] == [None, "none", None, "none"]


def test_sweep_result_roundtrip_keeps_task_rows(tmp_path):
    res = sweep(None, ads.Dataset("t", {"name": "t"}, [order_task()]), {"max_tool_steps": [0, 2]}, progress=False)
    res.to_csv(tmp_path / "r.csv")
    back = agentlab.SweepResult.from_csv(tmp_path / "r.csv")
    pd.testing.assert_frame_equal(res.summary, back.summary)
    assert not math.isnan(back.summary.task_success_rate.iloc[0])
