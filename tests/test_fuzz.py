"""The session and its turn engine under random steps (tests/fuzz_session.py says what is checked).

CI runs ``AGENTLAB_FUZZ_EXAMPLES`` examples (300 by default, derandomized so CI is repeatable);
``make fuzz`` runs 10,000 with fresh randomness and prints what they covered.
"""

from __future__ import annotations

import os

import pytest
from fuzz_session import STATS, Driver, SessionMachine, check_invariants, replay
from hypothesis import HealthCheck, settings
from hypothesis.stateful import run_state_machine_as_test

EXAMPLES = int(os.environ.get("AGENTLAB_FUZZ_EXAMPLES", "300"))
RANDOM = os.environ.get("AGENTLAB_FUZZ_RANDOM") == "1"

OPTIONS = {
    "min_delay": 0.5, "extra_delay": 3.0, "min_duration": 0.5, "min_words": 0, "false_timeout": 2.0, "resume": True,
    "preemptive": True, "max_tool_steps": 3, "aec_warmup": None, "away": 15.0, "pausable": True,
}  # fmt: skip


@pytest.mark.timeout(3600)
def test_random_steps_keep_every_invariant() -> None:
    run_state_machine_as_test(
        SessionMachine,
        settings=settings(
            max_examples=EXAMPLES,
            stateful_step_count=30,
            deadline=None,
            derandomize=not RANDOM,
            database=None,
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )
    print(
        f"\nfuzz: {STATS.examples} examples, {STATS.steps} steps, {STATS.turns} user turns, {STATS.events} events, "
        f"{STATS.simulated / 3600:.1f} h simulated, 0 invariant violations"
    )
    print("fuzz: events by type: " + ", ".join(f"{k} {v}" for k, v in sorted(STATS.kinds.items())))
    assert STATS.examples >= min(EXAMPLES, 50), "hypothesis ran fewer examples than asked"


def _interrupted_tool_story() -> Driver:
    driver = Driver(OPTIONS)
    driver.step("utterance", gap=0.5, duration=1.0, words=["weather", "please"], stt_delay=0.2, interim=True, final=True, advance=4.0)
    driver.step("utterance", gap=0.0, duration=1.0, words=["slow"], stt_delay=0.2, interim=False, final=True, advance=1.0)
    driver.step("utterance", gap=0.0, duration=0.3, words=["okay"], stt_delay=0.2, interim=False, final=False, advance=0.2)
    driver.step("api", call="say", arg={"words": ["hold", "on"], "interruptible": False})
    driver.step("api", call="update_agent", arg="second")
    driver.step("advance", seconds=15.0)
    return driver


def test_a_known_story_replays_identically_and_terminates() -> None:
    driver = _interrupted_tool_story()
    check_invariants(driver)
    driver.finish()
    again = replay(driver.options, driver.log)
    assert again.signature() == driver.signature()
    s = driver.session
    assert {"function_tools_executed", "close"} <= {e.type for e in s.events}, "the story covers what it says"
    handoffs = [i.new_agent_id for i in s.history.items if i.type == "agent_handoff"]
    assert len(handoffs) == 2, "the handoff completed after the uninterruptible say"
    said = [i.text_content for i in s.history.items if i.type == "message" and i.role == "assistant"]
    assert said[-1] == "second here.", "the new agent's on_enter spoke last"


def test_the_invariants_catch_a_broken_session() -> None:
    driver = _interrupted_tool_story()
    driver.finish()
    s = driver.session
    # An event slipped in after close, the way a bug would append it.
    s._events.append(s._events[0])
    with pytest.raises(AssertionError, match="events after close"):
        check_invariants(driver)
    s._events.pop()
    # The same user utterance committed twice.
    user = next(i for i in s.history.items if i.type == "message" and i.role == "user")
    s._history.items.append(user)
    with pytest.raises(AssertionError, match="committed more than once"):
        check_invariants(driver)
