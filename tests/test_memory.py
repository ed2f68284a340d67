"""Memory stays bounded: no leak from session to session, a long session keeps only its records, the
analysis cache honours its limits, a Dask sweep does not hold finished results.

Measured with ``tracemalloc`` on the virtual clock, so the figures are deterministic; the bounds are
generous (several times what is measured today) yet far below what one leaked object per session or
per turn would cost. ``benchmarks/bench_load.py`` prints the full figures.
"""

from __future__ import annotations

import dataclasses
import gc
import random
import tracemalloc

import pytest

import agentlab as al
from agentlab.audio import AnalysisCache, CacheKey, default_cache
from agentlab.engine import UserSpeech

KIB = 1024
REPLY = "Sure, here is a short answer to that question."


# asyncio's registry of live tasks (a WeakSet): its table keeps the size it once needed, a high-water
# mark of the whole process rather than memory a session holds, so the per-turn figures leave it out.
_NOT_SESSIONS = [tracemalloc.Filter(False, "*/_weakrefset.py")]


@pytest.fixture
def traced():
    """``heap(exact=False)``: the Python heap in use now (after a full collection), while tracemalloc runs;
    ``exact=True`` leaves out asyncio's task registry (slower: takes a snapshot)."""
    tracemalloc.start()

    def heap(exact: bool = False) -> int:
        gc.collect()
        if exact:
            return sum(s.size for s in tracemalloc.take_snapshot().filter_traces(_NOT_SESSIONS).statistics("filename"))
        return tracemalloc.get_traced_memory()[0]

    try:
        yield heap
    finally:
        tracemalloc.stop()


def _text_run(i: int) -> al.Run:
    llm = al.ScriptedLLM(rules=[al.Rule(reply=REPLY, ttft=0.3, duration=0.6)])
    return al.simulate(lambda: al.Agent(instructions="Answer briefly."), {"llm": llm}, [f"Question {i}.{k}?" for k in range(3)])


def test_sequential_sessions_do_not_leak(traced):
    for i in range(10):  # first-call caches (imports, pandas, regexes) out of the way
        _text_run(i)
    before = traced()
    kept = _text_run(0)
    one_run = traced() - before  # what a leaked Run would cost per session (~100 KiB)
    del kept
    before = traced()
    for i in range(30):
        _text_run(i)
    growth = traced() - before
    # measured: under 10 KiB in all; one leaked Run per session would be 30 x ~100 KiB
    assert one_run > 20 * KIB
    assert growth < 30 * KIB, f"the heap grew {growth / 30:.0f} B per dropped session (a Run is {one_run} B)"


def _long_voice(turns: int) -> tuple[al.AgentSession, al.Agent, al.ScriptedLLM]:
    """A voice session: the user speaks every 15-30 s, ScriptedLLM + ScriptedTTS answer."""
    rng = random.Random(4)
    script, t = [], 1.0
    for k in range(turns):
        d = rng.uniform(1.5, 4.0)
        script.append(UserSpeech(round(t, 3), round(t + d, 3), f"Question number {k}, can you help me?", stt_delay=0.2))
        t += rng.uniform(15.0, 30.0)
    llm = al.ScriptedLLM(rules=[al.Rule(reply=REPLY, ttft=0.3, duration=0.6)])
    agent = al.Agent(instructions="Answer briefly.")
    run = al.simulate(agent, {"llm": llm, "tts": al.ScriptedTTS(ttfb=0.0, durations={REPLY: 3.0})}, script)
    assert int((run.history["role"] == "user").sum()) == turns
    return run.session, agent, llm


def test_the_scripted_llm_keeps_only_its_last_requests():
    _, _, llm = _long_voice(120)
    assert len(llm.requests) == 100, "each request holds a copy of the conversation: the log is bounded"


def _retained(heap, turns: int) -> tuple[int, int, int]:
    """(heap after close, freed by dropping the records, left after dropping the LLM's log too), above the baseline."""
    base, exact_base = heap(), heap(exact=True)
    session, agent, llm = _long_voice(turns)
    closed = heap() - base
    for records in (session._events, session._playback, session._voice.input_events, session._voice.user_speech):
        records.clear()
    session._history._items.clear()
    agent._chat_ctx._items.clear()
    no_records = heap() - base
    # The scripted LLM's own log: every request (with its copy of the context) and per-item counts.
    llm.requests.clear()
    llm._char_counts.clear()
    llm._prefix = ([], 0)
    return closed, closed - no_records, heap(exact=True) - exact_base


def test_long_voice_session_keeps_only_its_records(traced):
    _long_voice(10)  # first-call caches out of the way
    closed1, _, left1 = _retained(traced, 25)
    closed2, records2, left2 = _retained(traced, 100)
    per_turn_records = records2 / 100
    per_turn_rest = (left2 - left1) / 75
    # measured: records ~10 KiB per turn (mostly events); the rest does not grow (the turn engine drops
    # agent-speech spans older than 5 minutes; the scripted LLM keeps its last 100 requests). A
    # SpeechHandle, task or reply kept per turn outside the records would cost 1 KiB or more per turn.
    assert 2 * KIB < per_turn_records < 32 * KIB, per_turn_records
    assert per_turn_rest < 512, f"besides its records the session grew {per_turn_rest:.0f} B per turn"
    assert left2 < 256 * KIB, left2
    assert closed2 - closed1 < 75 * 48 * KIB


def test_analysis_cache_never_exceeds_its_limits(traced):
    rng = random.Random(1)
    max_entries, max_bytes = 16, 20_000
    base = traced()
    cache = AnalysisCache(max_entries=max_entries, max_bytes=max_bytes)
    for i in range(500):
        cache.put(CacheKey(f"audio-sha256:{i:064x}", "vad-segments", "silero", "v1"), {"segments": "x" * rng.randint(10, 6000)})
        st = cache.stats
        assert st.bytes <= max_bytes and st.entries <= max_entries and len(cache) == st.entries
    held = traced() - base
    assert cache.stats.evictions > 400
    assert held <= max_bytes + max_entries * KIB, f"the cache holds {held} B on the heap"
    cache.put(CacheKey("audio-sha256:big", "vad-segments", "silero", "v1"), {"segments": "x" * (2 * max_bytes)})
    assert cache.stats.bytes <= max_bytes and CacheKey("audio-sha256:big", "vad-segments", "silero", "v1") not in cache
    d = default_cache()
    assert 0 < d.max_entries <= 100_000 and 0 < d.max_bytes <= 2**30


def test_dask_sweep_forgets_finished_results(tmp_path):
    distributed = pytest.importorskip("distributed")
    from agentlab import datasets
    from agentlab.sweeps import sweep

    # scripted voice conversations (no recording): the fast path without VAD
    convs = [dataclasses.replace(c, audio=None) for c in datasets.load("dictation").conversations[:12]]
    data = datasets.Dataset("scripted", {"name": "scripted"}, convs)
    held: list[tuple[int, int]] = []
    with distributed.Client(processes=False, n_workers=1, threads_per_worker=1, dashboard_address=None) as client:
        res = sweep(
            None, data, {"endpointing.min_delay": [0.3, 0.6]}, executor=client, out=tmp_path / "out",
            progress=lambda done, total: held.append((done, len(client.futures))),
        )  # fmt: skip
    assert res.failed.empty and len(res.cells) == 24
    # 12 tasks (one per conversation, both settings): a task's future is dropped once the driver has its
    # result, so the cluster forgets it; holding them all would keep every result in the workers' memory.
    # (the client forgets a dropped future on its own thread, so the count may lag a little)
    assert all(n <= 12 - done // 2 + 3 for done, n in held[1:]), held
    assert held[-1][1] <= 3, held
