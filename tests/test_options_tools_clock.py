"""Options (both LiveKit forms, ranges), tool schemas and argument checks, and the virtual clock."""

from __future__ import annotations

import asyncio
import enum
import warnings
from typing import Annotated, Literal, Optional

import pytest

from agentlab import AgentSession, RealClock, VirtualClock, function_tool
from agentlab.session.options import SessionOptions, build_options
from agentlab.tools import RunContext, ToolArgumentsError

# --- options ---------------------------------------------------------------------------------


def test_defaults_match_livekit_189():
    o = AgentSession().options
    assert (o.endpointing.mode, o.endpointing.min_delay, o.endpointing.max_delay, o.endpointing.alpha) == ("fixed", 0.5, 3.0, 0.9)
    i = o.interruption
    assert (i.enabled, i.mode, i.min_duration, i.min_words, i.resume_false_interruption, i.false_interruption_timeout) == (
        True,
        None,
        0.5,
        0,
        True,
        2.0,
    )
    assert i.discard_audio_if_uninterruptible and i.backchannel_boundary == (1.0, 1.0)
    p = o.preemptive_generation
    assert (p.enabled, p.preemptive_tts, p.max_speech_duration, p.max_retries) == (True, False, 10.0, 3)
    assert (o.max_tool_steps, o.user_away_timeout, o.min_consecutive_speech_delay, o.aec_warmup_duration) == (3, 15.0, 0.0, 3.0)
    assert o.tts_text_transforms == ("filter_markdown", "filter_emoji")
    assert (o.max_unrecoverable_errors, o.session_close_transcript_timeout, o.transcription_timeout) == (3, 2.0, None)


def test_flat_kwargs_migrate_like_livekit():
    with pytest.warns(DeprecationWarning, match="deprecated"):
        o = build_options(
            min_endpointing_delay=0.3,
            max_endpointing_delay=2.0,
            allow_interruptions=False,
            min_interruption_duration=0.2,
            min_interruption_words=2,
            false_interruption_timeout=1.0,
            agent_false_interruption_timeout=1.5,
            preemptive_generation=False,
            turn_detection="stt",
        )
    assert (o.endpointing.min_delay, o.endpointing.max_delay) == (0.3, 2.0)
    assert (o.interruption.enabled, o.interruption.min_duration, o.interruption.min_words) == (False, 0.2, 2)
    assert o.interruption.false_interruption_timeout == 1.5  # the alias wins
    assert not o.preemptive_generation.enabled and o.turn_detection == "stt"
    # allow_interruptions=True is a no-op; preemptive_generation also accepts a dict (1.8.9)
    with pytest.warns(DeprecationWarning):
        o2 = build_options(allow_interruptions=True, preemptive_generation={"enabled": True, "preemptive_tts": True})
    assert o2.interruption.enabled and o2.preemptive_generation.preemptive_tts


def test_flat_kwargs_ignored_when_turn_handling_given():
    with pytest.warns(DeprecationWarning, match="ignored"):
        o = build_options(turn_handling={"endpointing": {"min_delay": 0.8}}, min_endpointing_delay=0.1)
    assert o.endpointing.min_delay == 0.8


def test_turn_handling_round_trip_and_replace():
    o = build_options(turn_handling={"endpointing": {"mode": "dynamic", "min_delay": 0.4}, "interruption": {"min_words": 2}})
    assert build_options(turn_handling=o.to_turn_handling()) == o
    o2 = o.replace(**{"endpointing.min_delay": 0.2, "max_tool_steps": 5})
    assert (o2.endpointing.min_delay, o2.endpointing.mode, o2.max_tool_steps, o2.interruption.min_words) == (0.2, "dynamic", 5, 2)
    assert isinstance(o2, SessionOptions)
    with pytest.raises(ValueError, match=r"endpointing\.min_delay = -1"):
        o.replace(**{"endpointing.min_delay": -1})
    with pytest.raises(ValueError, match="unknown option group 'endpoint'"):
        o.replace(**{"endpoint.min_delay": 1})


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"turn_handling": {"endpointing": {"min_delay": -0.1}}}, r"endpointing.min_delay = -0.1 is out of range; allowed: a number >= 0"),
        (
            {"turn_handling": {"endpointing": {"min_delay": 2.0, "max_delay": 1.0}}},
            r"endpointing.max_delay = 1.0 .*>= endpointing.min_delay",
        ),
        ({"turn_handling": {"endpointing": {"mode": "smart"}}}, r"endpointing.mode = 'smart'"),
        ({"turn_handling": {"endpointing": {"alpha": 1.5}}}, r"endpointing.alpha = 1.5"),
        ({"turn_handling": {"interruption": {"min_words": 1.5}}}, r"interruption.min_words = 1.5 .*an integer"),
        ({"turn_handling": {"interruption": {"false_interruption_timeout": float("nan")}}}, r"false_interruption_timeout = nan"),
        ({"turn_handling": {"preemptive_generation": {"max_speech_duration": 0}}}, r"max_speech_duration = 0 .*> 0"),
        ({"turn_handling": {"endpointing": {"min_dely": 0.3}}}, r"unknown key\(s\) \['min_dely'\] in turn_handling\['endpointing'\]"),
        ({"turn_handling": {"interuption": {}}}, r"unknown turn_handling key\(s\) \['interuption'\]"),
        ({"max_tool_steps": -1}, r"max_tool_steps = -1"),
        ({"max_tool_steps": True}, r"max_tool_steps = True"),
        ({"user_away_timeout": 0}, r"user_away_timeout = 0 .*> 0 or None"),
        ({"min_consecutive_speech_delay": -1}, r"min_consecutive_speech_delay = -1"),
        ({"wake_up": -5}, r"wake_up = -5"),
        ({"tts_text_transforms": ["filter_html"]}, r"tts_text_transforms entry 'filter_html'"),
    ],
)
def test_out_of_range_options_name_option_value_and_range(kwargs, message):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        with pytest.raises(ValueError, match=message):
            AgentSession(**kwargs)


def test_none_disables_optional_timers():
    o = AgentSession(
        user_away_timeout=None,
        aec_warmup_duration=None,
        tts_text_transforms=None,
        turn_handling={"interruption": {"false_interruption_timeout": None}},
    ).options
    assert o.user_away_timeout is None and o.aec_warmup_duration is None and o.tts_text_transforms is None
    assert o.interruption.false_interruption_timeout is None


# --- tools -----------------------------------------------------------------------------------


class Area(enum.Enum):
    INSIDE = "inside"
    TERRACE = "terrace"


def test_schema_from_hints_annotated_and_docstring():
    @function_tool
    async def book(
        ctx: RunContext,
        party: int,
        when: Annotated[str, "24h time"],
        area: Area = Area.INSIDE,
        tags: Optional[list[str]] = None,
        kind: Literal["dinner", "lunch"] = "dinner",
        vip: bool = False,
    ) -> str:
        """Book a table.

        Longer text is part of the description.

        Args:
            party: number of guests
            when: ignored, Annotated wins
        """

    params = book.parameters
    assert book.name == "book" and book.description == "Book a table.\n\nLonger text is part of the description."
    assert params["required"] == ["party", "when"]
    assert params["properties"]["party"] == {"type": "integer", "description": "number of guests"}
    assert params["properties"]["when"] == {"type": "string", "description": "24h time"}
    assert params["properties"]["area"] == {"type": "string", "enum": ["inside", "terrace"]}
    assert params["properties"]["tags"] == {"type": ["array", "null"], "items": {"type": "string"}, "default": None}
    assert params["properties"]["kind"] == {"type": "string", "enum": ["dinner", "lunch"], "default": "dinner"}
    assert params["properties"]["vip"] == {"type": "boolean", "default": False}
    assert "ctx" not in params["properties"] and book.context_param == "ctx"
    assert book.to_openai()["function"]["name"] == "book"


def test_sphinx_docstring_and_name_override_and_raw_schema():
    @function_tool(name="weather", description="Weather now.")
    def lookup(city: str) -> str:
        """:param city: the city name"""
        return city

    assert lookup.name == "weather" and lookup.description == "Weather now."
    assert lookup.parameters["properties"]["city"]["description"] == "the city name"

    @function_tool(
        raw_schema={"name": "raw", "description": "d", "parameters": {"type": "object", "properties": {"a": {"type": "number"}}}}
    )
    async def raw(raw_arguments: dict) -> str:
        return str(raw_arguments)

    assert raw.name == "raw" and raw.prepare_arguments({"a": 1}) == {"raw_arguments": {"a": 1}}


def test_argument_coercion_and_errors():
    @function_tool
    async def f(n: int, x: float, flag: bool, area: Area, items: list[int], maybe: Optional[int] = None) -> str:
        """F."""
        return "ok"

    ok = f.prepare_arguments({"n": "4", "x": 2, "flag": "true", "area": "terrace", "items": ["1", 2], "extra": "ignored"})
    assert ok == {"n": 4, "x": 2.0, "flag": True, "area": Area.TERRACE, "items": [1, 2]}
    for bad, msg in [
        ({"x": 1, "flag": True, "area": "inside", "items": []}, r"missing required argument\(s\) 'n'"),
        ({"n": "four", "x": 1, "flag": True, "area": "inside", "items": []}, r"f.n: expected an integer, got 'four'"),
        ({"n": 1, "x": 1, "flag": "maybe", "area": "inside", "items": []}, r"f.flag: expected a boolean"),
        ({"n": 1, "x": 1, "flag": True, "area": "roof", "items": []}, r"f.area: 'roof' is not one of \['inside', 'terrace'\]"),
        ({"n": 1, "x": 1, "flag": True, "area": "inside", "items": ["a"]}, r"f.items\[0\]: expected an integer"),
        ({"n": True, "x": 1, "flag": True, "area": "inside", "items": []}, r"f.n: expected an integer, got True"),
    ]:
        with pytest.raises(ToolArgumentsError, match=msg):
            f.prepare_arguments(bad)


class Thing:
    pass


def test_unsupported_parameter_type_is_a_clear_error():
    with pytest.raises(TypeError, match=r"unsupported parameter type .*Thing"):

        @function_tool
        def g(t: Thing) -> None:
            """G."""


def test_method_tools_bind_to_instance():
    from agentlab import Agent

    class A(Agent):
        def __init__(self):
            super().__init__(instructions="x")
            self.hits = 0

        @function_tool
        async def hit(self) -> str:
            """Hit."""
            self.hits += 1
            return str(self.hits)

    a = A()
    assert [t.name for t in a.tools] == ["hit"]
    assert asyncio.run(a.tools[0].invoke({}, None)) == "1" and a.hits == 1

    with pytest.raises(ValueError, match="duplicate tool name"):
        Agent(instructions="x", tools=[a.tools[0], a.tools[0]])


# --- clock -----------------------------------------------------------------------------------


def test_virtual_clock_jumps_and_counts_nanoseconds():
    clock = VirtualClock()

    async def main():
        loop = asyncio.get_running_loop()
        for _ in range(10):
            await asyncio.sleep(0.1)
        t1 = loop.time()
        await asyncio.wait_for(asyncio.sleep(3600), timeout=7200)
        return t1, loop.time()

    t1, t2 = clock.run(main)
    assert t1 == 1.0  # ten 0.1 s sleeps land exactly on 1.0, not 0.9999999999999999
    assert t2 == 3601.0 and clock.now() == 3601.0


def test_same_instant_timers_fire_in_scheduling_order():
    async def main():
        loop = asyncio.get_running_loop()
        order = []
        for i in range(50):
            loop.call_at(5.0, order.append, i)
        await asyncio.sleep(6)
        return order

    assert VirtualClock().run(main) == list(range(50))


def test_a_timer_never_reads_the_clock_below_its_own_deadline():
    """A timer fires at its whole nanosecond; ``loop.time()`` must not read below its float deadline
    then. anyio (httpx's timeouts) re-arms a timeout that fires "early": before, it re-armed at the
    same instant forever and virtual time stood still (a stalled provider looked like a dropped one)."""

    async def main():
        loop = asyncio.get_running_loop()
        deadline = 0.1 * 7  # 0.7000000000000001: its nanosecond, 700000000, reads 0.7
        fired = asyncio.Event()
        checks = []

        def check():  # what anyio's CancelScope._timeout does
            checks.append(loop.time())
            if loop.time() >= deadline:
                fired.set()
            elif len(checks) < 100:  # bounded, so a regression fails instead of spinning for ever
                loop.call_at(deadline, check)

        loop.call_at(deadline, check)
        await asyncio.wait_for(fired.wait(), 1.0)
        return checks, loop.time()

    checks, end = VirtualClock().run(main)
    assert len(checks) == 1 and checks[0] >= 0.1 * 7
    assert end == pytest.approx(0.7, abs=1e-9)


def test_a_failing_callback_is_reported_and_the_loop_goes_on():
    """The virtual loop runs callbacks inline (not through ``Handle._run``): a failure must still
    reach the loop's exception handler, and the callbacks after it still run, in order."""

    async def main():
        loop = asyncio.get_running_loop()
        seen, order = [], []
        loop.set_exception_handler(lambda _loop, context: seen.append(context))

        def boom():
            raise ValueError("bad callback")

        loop.call_soon(order.append, 1)
        loop.call_soon(boom)
        loop.call_soon(order.append, 2)
        loop.call_later(1.0, boom)
        loop.call_later(1.0, order.append, 3)
        await asyncio.sleep(2)
        return seen, order

    seen, order = VirtualClock().run(main)
    assert order == [1, 2, 3]
    assert [type(c["exception"]) for c in seen] == [ValueError, ValueError]
    assert all("boom" in c["message"] and isinstance(c["handle"], asyncio.Handle) for c in seen)


def test_cancelled_timers_never_fire_and_are_purged():
    """A voice turn cancels a dozen timers; cancelled ones must neither fire nor pile up in the heap."""

    async def main():
        loop = asyncio.get_running_loop()
        fired = []
        keep = [loop.call_later(10.0 + i, fired.append, i) for i in range(300)]
        for i, timer in enumerate(keep):
            if i % 3:
                timer.cancel()
                timer.cancel()  # twice is harmless
        await asyncio.sleep(1)  # the loop's first idle moment: enough cancelled timers to purge them all
        pending = len(loop._scheduled)
        await asyncio.sleep(400)
        return fired, pending, len(loop._scheduled)

    fired, pending, left = VirtualClock().run(main)
    assert fired == list(range(0, 300, 3))
    assert pending == 100  # the 200 cancelled ones were purged at once, not when they fell due
    assert left == 0


def test_virtual_timeouts_fire_and_hold_freezes_time():
    clock = VirtualClock()

    async def main():
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(asyncio.Event().wait(), timeout=30)
        t = clock.now()
        with clock.hold():
            await asyncio.to_thread(lambda: sum(range(100000)))
        return t, clock.now()

    t, after = clock.run(main)
    assert t == 30.0 and after == 30.0  # the thread's real time did not leak into virtual time


def test_real_clock_wall_stamps():
    async def main():
        loop = asyncio.get_running_loop()
        c = RealClock(loop)
        import time

        return c.wall_time(c.now()), time.time()

    stamp, now = asyncio.run(main())
    assert abs(stamp - now) < 1.0


def test_virtual_clock_wall_time_is_fixed_epoch():
    c = VirtualClock(epoch=1000.0)
    assert c.wall_time(2.5) == 1002.5
    with pytest.raises(ValueError):
        c.advance(-1)


def test_model_strings_resolve_on_session_and_agent(monkeypatch):
    from agentlab import Agent, OpenAILLM

    monkeypatch.setenv("OPENAI_API_KEY", "test-not-used-00")
    s = AgentSession(llm="openai/gpt-4.1-mini")
    a = Agent(instructions="x", llm="openai/gpt-4o-mini")
    assert isinstance(s.llm, OpenAILLM) and s.llm.model == "gpt-4.1-mini"
    assert isinstance(a.llm, OpenAILLM) and a.llm.model == "gpt-4o-mini"
    monkeypatch.delenv("OPENAI_API_KEY")
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    with pytest.raises(ValueError, match="OPENAI_API_KEY"):
        AgentSession(llm="openai/gpt-4.1-mini")
    with pytest.raises(ValueError, match="unknown provider 'anthropic'"):
        AgentSession(llm="anthropic/claude")


def _sleep_trace(sleep):
    """Four tasks sleeping, waking each other and timers, with many same-instant ties: what ran when."""

    async def main():
        loop = asyncio.get_running_loop()
        pushed = []
        push = loop._push_timer

        def counting_push(*args):
            pushed.append(args[0])
            return push(*args)

        loop._push_timer = counting_push
        trace = []
        box: asyncio.Queue[int] = asyncio.Queue()

        async def sleeper(name, delays):
            for i, d in enumerate(delays):
                trace.append((loop.time(), name, i))
                if i % 3 == 0:
                    loop.call_soon(trace.append, (loop.time(), name, "soon"))
                if i % 4 == 1:
                    box.put_nowait(i)
                await sleep(d)

        async def reader():
            while True:
                item = await box.get()
                trace.append((loop.time(), "reader", item))

        for t in (0.3, 0.6, 0.6, 1.05):
            loop.call_at(t, trace.append, (t, "timer"))
        r = asyncio.ensure_future(reader())
        await asyncio.gather(
            sleeper("a", [0.1, 0.2, 0.3, 0.05, 0.25, 0.1]),
            sleeper("b", [0.3, 0.3, 0.0, 0.45, 0.05]),
            sleeper("c", [0.15, 0.15, 0.3, 0.2, 0.2]),
            sleeper("d", [0.6, 0.45, 0.1]),
        )
        r.cancel()
        return trace, len(pushed)

    return VirtualClock().run(main)


def test_clock_sleep_runs_exactly_as_asyncio_sleep_with_fewer_timers():
    from agentlab.clock import sleep

    expected, timers = _sleep_trace(asyncio.sleep)
    trace, fewer = _sleep_trace(sleep)
    assert trace == expected  # the same callbacks at the same instants, in the same order
    assert len({t for t, *_ in trace}) > 8 and fewer < timers  # where nothing else could run first, no timer


def test_clock_sleep_cancelled_while_waiting_leaves_no_timer():
    from agentlab.clock import sleep

    async def main():
        loop = asyncio.get_running_loop()
        loop.call_at(0.5, lambda: None)  # due first: the sleep must wait on its timer
        task = asyncio.ensure_future(sleep(2.0))
        await asyncio.sleep(1.0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        live = [e for e in loop._scheduled if not e[2].cancelled()]
        return loop.time(), live

    now, live = VirtualClock().run(main)
    assert now == 1.0 and live == []


def test_clock_sleep_on_a_real_loop_is_asyncio_sleep():
    from agentlab.clock import sleep

    async def main():
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        await sleep(0.01)
        return loop.time() - t0

    assert asyncio.run(main()) >= 0.009
