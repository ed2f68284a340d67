"""A hypothesis state machine that drives an AgentSession (and so the turn engine) at random.

Theory of operation
-------------------
Each example builds a voice session on its own :class:`~agentlab.VirtualClock` with random timing
options (endpointing, interruption thresholds, false-interruption resume, preemptive generation,
tool-step limit, AEC warm-up), an agent with a quick tool, a slow tool, a tool that raises and a
tool that hands off, and a scripted LLM that calls them when the user's words ask for them.

Hypothesis then picks a sequence of *steps*. Each step is carried out on the session's own loop:
user speech arrives as raw VAD and STT observations (interim and final transcripts, early or
late, sometimes none at all), or the test calls ``say``, ``generate_reply``, ``interrupt``,
``update_agent`` or ``aclose`` as an application would, or virtual time just passes. Steps run in
one long-lived context (as :func:`agentlab.simulate` does), so ids count per example.

After every step the invariants hold (:meth:`SessionMachine.check_invariants`):

* at most one agent speech is audible at a time (the playback log never overlaps);
* every user utterance is committed at most once (each carries a unique token);
* every state change is legal and continues from the previous state;
* no event follows ``close``, and ``close`` happens once.

At teardown the session is closed; closing must finish within a bounded virtual time and leave no
task running (every run terminates). Then the very same steps are replayed on a fresh session and
clock: the events and the history must be identical (the same seed gives the same events).

``tests/test_fuzz.py`` runs a few hundred examples in CI; ``make fuzz`` runs 10,000 and prints the
count (``AGENTLAB_FUZZ_EXAMPLES`` sets it).
"""

from __future__ import annotations

import asyncio
import contextvars
import itertools
import logging
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule
from spy_tts import PulledTTS

import agentlab as al
from agentlab._utils import IdFactory, current_ids
from agentlab.engine.inputs import InputEvent

#: The agent's state changes a session may make (LiveKit's: it never goes back to ``initializing``).
AGENT_TRANSITIONS = {
    ("initializing", "listening"),
    ("listening", "thinking"),
    ("listening", "speaking"),  # a say() with audio, or a paused reply resuming
    ("thinking", "speaking"),
    ("thinking", "listening"),  # the reply was interrupted or empty before any audio
    ("speaking", "listening"),
    ("speaking", "thinking"),  # a tool follow-up is pending
}
#: The user's: ``away`` only comes from ``listening`` (both sides quiet for user_away_timeout).
USER_TRANSITIONS = {
    ("listening", "speaking"),
    ("speaking", "listening"),
    ("listening", "away"),
    ("away", "speaking"),
    ("away", "listening"),
}
#: Words the user says; the first four make the scripted LLM call a tool.
VOCABULARY = ["weather", "slow", "broken", "transfer", "hello", "okay", "yes", "no", "please", "book", "table", "tonight"]
#: Virtual seconds the final close may take: the longest tool plus LiveKit's 5 s watchdog, with room.
CLOSE_BUDGET = 120.0
TEST_VAD = SimpleNamespace(min_speech_duration=0.05, min_silence_duration=0.25)


class FuzzAgent(al.Agent):
    """An agent whose tools cover the cases that matter: quick, slow, failing, handing off."""

    def __init__(self, name: str = "main") -> None:
        super().__init__(instructions=f"You are the {name} agent.")
        self.name = name

    async def on_enter(self) -> None:
        if self.name != "main":
            self.session.say(f"{self.name} here.")

    @al.function_tool
    async def lookup(self, city: str) -> str:
        """Look up the weather."""
        await asyncio.sleep(0.4)
        return f"sunny in {city}"

    @al.function_tool
    async def slow_search(self) -> str:
        """A search that takes long."""
        await asyncio.sleep(7.0)
        return "found it"

    @al.function_tool
    async def broken(self) -> str:
        """A tool with a bug."""
        raise RuntimeError("tool bug")

    @al.function_tool
    async def transfer(self) -> al.Agent:
        """Hand the caller to another agent."""
        return FuzzAgent("second" if self.name == "main" else "main")


def fuzz_llm() -> al.ScriptedLLM:
    """Replies of a few lengths; tool calls when the user asks (the latest message decides)."""
    call = al.ScriptedToolCall
    return al.ScriptedLLM(
        rules=[
            al.Rule(after_tool="lookup", reply="It is {output}, enjoy your evening out there."),
            al.Rule(after_tool="slow_search", reply="The search says {output}."),
            al.Rule(after_tool="broken", reply="Sorry, something went wrong."),
            al.Rule(r"weather", tool_calls=[call("lookup", {"city": "Paris"})]),
            al.Rule(r"slow", tool_calls=[call("slow_search")]),
            al.Rule(r"broken", tool_calls=[call("broken")]),
            al.Rule(r"transfer", reply="Transferring you now.", tool_calls=[call("transfer")]),
            al.Rule(r"book", reply="Sure, for how many people and at what time would you like the table?"),
        ],
        default="Okay.",
        ttft=0.3,
    )


@dataclass
class Driver:
    """One session on one virtual clock, driven step by step; ``log`` is the steps taken so far."""

    options: dict[str, Any]
    log: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    #: The TTS reads its text itself, as a TTS without ``_push_synthesis`` does.
    pulled: bool = False

    def __post_init__(self) -> None:
        self.clock = al.VirtualClock(deadlock_timeout=5.0)
        self.loop = self.clock.new_loop()
        # One context for every step, as simulate() has one task: ids count per example.
        self.context = contextvars.copy_context()
        self.context.run(current_ids.set, IdFactory())
        o = self.options
        self.session = al.AgentSession(
            llm=fuzz_llm(),
            tts=(PulledTTS if self.pulled else al.ScriptedTTS)(ttfb=0.2),
            vad=TEST_VAD,
            max_tool_steps=o["max_tool_steps"],
            aec_warmup_duration=o["aec_warmup"],
            user_away_timeout=o["away"],
            turn_handling={
                "endpointing": {"min_delay": o["min_delay"], "max_delay": o["min_delay"] + o["extra_delay"]},
                "interruption": {
                    "min_duration": o["min_duration"],
                    "min_words": o["min_words"],
                    "false_interruption_timeout": o["false_timeout"],
                    "resume_false_interruption": o["resume"],
                },
                "preemptive_generation": {"enabled": o["preemptive"]},
            },
        )
        # A session task that dies logs at ERROR: that is a bug the invariants must see.
        self.errors = _ErrorLog()
        logging.getLogger("agentlab").addHandler(self.errors)
        self.user_free_at = 0.0  # the VAD's next segment may start here
        self.utterances = 0
        self.texts = 0
        self.closed = False
        self._run(self._start())

    async def _start(self) -> None:
        await self.session.start(FuzzAgent())
        self.session.attach_user_input([], pausable_output=self.options["pausable"])

    def _run(self, coro: Any) -> Any:
        task = self.loop.create_task(coro, context=self.context)
        return self.loop.run_until_complete(task)

    def now(self) -> float:
        return self.clock.now()

    # --- steps (each logged, so the example can be replayed) ----------------------------------

    def step(self, name: str, **args: Any) -> Any:
        self.log.append((name, args))
        return getattr(self, f"_do_{name}")(**args)

    def _do_advance(self, seconds: float) -> None:
        self._run(asyncio.sleep(seconds))

    def _do_utterance(
        self, gap: float, duration: float, words: list[str], stt_delay: float, interim: bool, final: bool, advance: float
    ) -> None:
        self.utterances += 1
        text = " ".join([f"u{self.utterances}", *words])  # the token makes each utterance recognisable
        start = round(max(self.now(), self.user_free_at) + gap, 3)
        end = round(start + duration, 3)
        silence = TEST_VAD.min_silence_duration
        raw = [
            (start + TEST_VAD.min_speech_duration, "on_vad_start", {"speech_start": start}),
            (end, "on_vad_silence", {}),
            (end + silence, "on_vad_end", {"speech_end": end}),
        ]
        if interim:
            raw.append((start + duration / 2, "on_transcript", {"text": " ".join(text.split()[:2]), "is_final": False}))
        if final:  # an early final (negative delay) arrives while the user still speaks
            raw.append((max(start + 0.01, end + stt_delay), "on_transcript", {"text": text, "is_final": True, "word_end": end}))
        events = [InputEvent(round(t, 6), i, kind, data) for i, (t, kind, data) in enumerate(raw)]
        self.user_free_at = end + silence + 0.01
        self._run(self._attach(events))
        self._run(asyncio.sleep(advance))

    async def _attach(self, events: list[InputEvent]) -> None:
        self.session.attach_user_input(events, pausable_output=self.options["pausable"])

    def _do_api(self, call: str, arg: Any) -> str:
        """Call the session as an application would; a refusal (RuntimeError) is an outcome, not a bug."""
        return self._run(self._api(call, arg))

    async def _api(self, call: str, arg: Any) -> str:
        s = self.session
        try:
            if call == "say":
                s.say(" ".join(["Let me say", *arg["words"]]), allow_interruptions=arg["interruptible"])
            elif call == "generate_reply":
                if arg["user_input"]:
                    self.texts += 1
                    s.generate_reply(user_input=" ".join([f"t{self.texts}", *arg["words"]]))
                else:
                    s.generate_reply(instructions="Say something about " + " ".join(arg["words"]))
            elif call == "interrupt":
                s.interrupt(force=arg)
            elif call == "update_agent":
                s.update_agent(FuzzAgent(arg))
            elif call == "close":
                await asyncio.wait_for(s.aclose(), CLOSE_BUDGET)
                self.closed = True
            else:
                raise AssertionError(call)
        except RuntimeError as exc:
            return f"refused: {exc}"
        return "ok"

    def finish(self) -> None:
        """Close (bounded in virtual time) and check nothing is left running."""
        if not self.closed:
            self._run(asyncio.wait_for(self.session.aclose(), CLOSE_BUDGET))
            self.closed = True
        self._run(asyncio.sleep(10.0))  # nothing may happen after close, however long we wait
        pending = [t for t in asyncio.all_tasks(self.loop) if not t.done()]
        logging.getLogger("agentlab").removeHandler(self.errors)
        assert not pending, f"tasks still running after close: {pending}"
        self.loop.close()

    def signature(self) -> tuple[Any, ...]:
        """What must be identical between two runs of the same steps."""
        events = self.session.events_frame().drop(columns=["wall_time"], errors="ignore")
        played = [(p.speech_id, p.start, p.duration) for p in self.session.playback]
        return (events.to_json(), self.session.history_frame().to_json(), played)


def replay(options: dict[str, Any], log: list[tuple[str, dict[str, Any]]], *, pulled: bool = False) -> Driver:
    """Run ``log``'s steps again on a fresh session and clock (``pulled``: see ``Driver``)."""
    driver = Driver(options, pulled=pulled)
    for name, args in log:
        driver.step(name, **args)
    driver.finish()
    return driver


class _ErrorLog(logging.Handler):
    """Keeps the ERROR records agentlab logs (a failed session task, a failed callback)."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(self.format(record))


# --- the checks ---------------------------------------------------------------------------------


def check_invariants(driver: Driver) -> None:
    """The properties that must hold after any step; an AssertionError names the one broken."""
    s = driver.session
    assert not driver.errors.records, "a session task failed:\n" + "\n".join(driver.errors.records)
    events = s.events
    closes = [i for i, e in enumerate(events) if e.type == "close"]
    assert len(closes) <= 1, f"{len(closes)} close events"
    if closes:
        assert closes[0] == len(events) - 1, f"events after close: {[e.type for e in events[closes[0] + 1 :]]}"

    tables = (("agent_state_changed", AGENT_TRANSITIONS, "initializing"), ("user_state_changed", USER_TRANSITIONS, "listening"))
    for kind, legal, first in tables:
        previous = first
        for e in (e for e in events if e.type == kind):
            assert e.old_state == previous, f"{kind} at {e.created_at:.3f}: from {e.old_state!r}, but the state was {previous!r}"
            assert (e.old_state, e.new_state) in legal, f"{kind} at {e.created_at:.3f}: illegal {e.old_state!r} -> {e.new_state!r}"
            previous = e.new_state
    assert s.agent_state == next((e.new_state for e in reversed(events) if e.type == "agent_state_changed"), "initializing")

    played = sorted(s.playback, key=lambda p: p.start)
    for a, b in itertools.pairwise(played):
        assert b.start >= a.start + a.duration - 1e-6, (
            f"two speeches audible at once: {a.speech_id} {a.start:.3f}+{a.duration:.3f}s and {b.speech_id} from {b.start:.3f}s"
        )

    seen: dict[str, int] = {}
    for item in s.history.items:
        if item.type == "message" and item.role == "user":
            for token in {w for w in (item.text_content or "").split() if w[:1] in "ut" and w[1:].isdigit()}:
                seen[token] = seen.get(token, 0) + 1
    twice = sorted(t for t, n in seen.items() if n > 1)
    assert not twice, f"user turns committed more than once: {twice}"


# --- the state machine --------------------------------------------------------------------------

_words = st.lists(st.sampled_from(VOCABULARY), min_size=1, max_size=6)


class SessionMachine(RuleBasedStateMachine):
    """Random steps against one session; see the module docstring."""

    driver: Driver | None = None

    @initialize(
        options=st.fixed_dictionaries(
            {
                "min_delay": st.sampled_from([0.0, 0.2, 0.5, 1.0]),
                "extra_delay": st.sampled_from([0.0, 0.5, 3.0]),
                "min_duration": st.sampled_from([0.0, 0.3, 0.5, 1.5]),
                "min_words": st.integers(0, 3),
                "false_timeout": st.sampled_from([None, 0.5, 2.0]),
                "resume": st.booleans(),
                "preemptive": st.booleans(),
                "max_tool_steps": st.integers(0, 3),
                "aec_warmup": st.sampled_from([None, 1.0]),
                "away": st.sampled_from([None, 4.0, 15.0]),
                "pausable": st.booleans(),
            }
        )
    )
    def start(self, options: dict[str, Any]) -> None:
        self.driver = Driver(options)

    def _open(self) -> bool:
        return self.driver is not None and not self.driver.closed

    @precondition(_open)
    @rule(
        gap=st.sampled_from([0.0, 0.1, 0.3, 1.0, 2.5]),
        duration=st.sampled_from([0.1, 0.3, 0.6, 1.5, 4.0]),
        words=_words,
        stt_delay=st.sampled_from([-0.5, 0.0, 0.2, 0.8, 3.0]),
        interim=st.booleans(),
        final=st.sampled_from([True, True, True, False]),  # sometimes the STT never finalises
        advance=st.sampled_from([0.0, 0.2, 0.7, 2.0, 5.0]),
    )
    def user_speaks(self, **args: Any) -> None:
        self.driver.step("utterance", **args)

    @precondition(_open)
    @rule(
        word=st.sampled_from(["okay", "yes", "mhm", "weather"]),
        duration=st.sampled_from([0.1, 0.2, 0.4, 0.6, 1.0]),
        final=st.booleans(),
        advance=st.sampled_from([0.0, 0.3, 1.0, 3.0]),
    )
    def user_backchannel(self, word: str, duration: float, final: bool, advance: float) -> None:
        """A short sound while the agent talks: a backchannel, a cough (no final), or a real barge-in."""
        self.driver.step("utterance", gap=0.0, duration=duration, words=[word], stt_delay=0.2, interim=False, final=final, advance=advance)

    @precondition(_open)
    @rule(words=_words, interruptible=st.booleans())
    def say(self, words: list[str], interruptible: bool) -> None:
        self.driver.step("api", call="say", arg={"words": words, "interruptible": interruptible})

    @precondition(_open)
    @rule(words=_words, user_input=st.booleans())
    def generate_reply(self, words: list[str], user_input: bool) -> None:
        self.driver.step("api", call="generate_reply", arg={"words": words, "user_input": user_input})

    @precondition(_open)
    @rule(force=st.booleans())
    def interrupt(self, force: bool) -> None:
        self.driver.step("api", call="interrupt", arg=force)

    @precondition(_open)
    @rule(name=st.sampled_from(["second", "third"]))
    def update_agent(self, name: str) -> None:
        self.driver.step("api", call="update_agent", arg=name)

    @precondition(lambda self: self.driver is not None)
    @rule(seconds=st.sampled_from([0.05, 0.3, 1.0, 3.0, 8.0, 20.0]))
    def time_passes(self, seconds: float) -> None:
        self.driver.step("advance", seconds=seconds)

    @precondition(_open)
    @rule()
    def close(self) -> None:
        before = len(self.driver.session.events)
        assert self.driver.step("api", call="close", arg=None) == "ok"
        assert self.driver.session.events[-1].type == "close" and len(self.driver.session.events) > before

    @precondition(lambda self: self.driver is not None and self.driver.closed)
    @rule(call=st.sampled_from(["say", "generate_reply", "interrupt"]), words=_words)
    def call_after_close(self, call: str, words: list[str]) -> None:
        before = list(self.driver.session.events)
        arg = {"say": {"words": words, "interruptible": True}, "generate_reply": {"words": words, "user_input": True}}.get(call, True)
        self.driver.step("api", call=call, arg=arg)
        self.driver.step("advance", seconds=5.0)
        assert self.driver.session.events == before, "a closed session emitted events"

    @invariant()
    def invariants_hold(self) -> None:
        if self.driver is not None:
            check_invariants(self.driver)

    def teardown(self) -> None:
        if self.driver is None:
            return
        driver, self.driver = self.driver, None
        driver.finish()
        check_invariants(driver)
        again = replay(driver.options, driver.log)
        assert again.signature() == driver.signature(), "the same steps gave different events"
        # The TTS pipe pushes each word into a ScriptedTTS; a TTS that reads its own text must hear
        # the same words at the same instants (agentlab/session/playout.py).
        pulled = replay(driver.options, driver.log, pulled=True)
        assert pulled.signature() == driver.signature(), "a TTS reading its own text changed the events"
        STATS.record(driver)


class _Stats:
    """What the fuzz run covered, for the report ``make fuzz`` prints."""

    def __init__(self) -> None:
        self.examples = self.steps = self.events = self.turns = 0
        self.simulated = 0.0
        self.kinds: dict[str, int] = {}

    def record(self, driver: Driver) -> None:
        self.examples += 1
        self.steps += len(driver.log)
        self.events += len(driver.session.events)
        self.simulated += driver.session.now()
        self.turns += sum(1 for i in driver.session.history.items if i.type == "message" and i.role == "user")
        for e in driver.session.events:
            self.kinds[e.type] = self.kinds.get(e.type, 0) + 1


STATS = _Stats()
