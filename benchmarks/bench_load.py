"""Load and memory: many sessions in one process, an 8-hour conversation, a 10,000-conversation Dask sweep,
and the analysis cache's limit (issue "Reliability", part 4).

Each part prints wall time, simulated seconds per wall second, peak memory and the memory-growth figures:

* ``sessions``: ``--sessions`` short conversations (text, tools + handoff, voice; a third each) through
  :func:`agentlab.simulate`, one after another in one process, with the Runs dropped (Python heap and RSS
  after every 100: flat means nothing leaks from one session to the next) and with the Runs kept (bytes each
  Run retains); the bare sessions (no Run, so no DataFrames); then the same sessions ``--concurrency`` at a
  time, and all at once, on one :class:`~agentlab.VirtualClock` loop (checked equal to ``simulate``'s).
* ``long``: one voice session of ``--hours`` simulated hours, the user speaking every 15-30 s and the agent
  answering through ScriptedLLM/ScriptedTTS. The Python heap is sampled every ``--every`` turns and set
  against the size of the session's records (history, events, playback, input); at the end the records are
  dropped to show what else the session kept. The LLM's request log (``ScriptedLLM.requests``) is shown apart.
* ``sweep``: a sweep of ``--conversations`` labelled conversations (the bundled datasets replicated: voice
  ones take the fast path, task ones the full simulation path) x 2 settings on a ``dask.distributed``
  LocalCluster (``--workers`` processes, 1 thread each), written cell by cell to ``out=``, after a warm-up
  (each worker analyses the recordings once). Driver and worker memory are sampled as cells finish.
  ``--scaling`` (the default) first runs a tenth of it, to show how the time scales.
* ``cache``: :class:`~agentlab.audio.AnalysisCache` fed far beyond ``max_bytes`` and ``max_entries``.
* ``openai``: the real ``openai`` client against the local test server (``tests/openai_server.py``, in its
  own process so its work does not share this interpreter): ``--openai-sessions`` sessions built as
  ``AgentSession(llm="openai/...")``, all at once on one loop, ``--openai-turns`` turns each (wall time, peak
  RSS, clients built), and the same with one client per session for comparison (its own process); then
  one conversation of ``--long-turns`` turns, its per-turn time at turn 100 and at the end split into the
  ``openai`` client's share (converting the message list) and agentlab's own.

Python-heap figures come from ``tracemalloc`` (which slows the code it traces; wall times are measured in
separate, untraced passes), peaks from ``getrusage(...).ru_maxrss``. Without ``--only`` every part runs in
its own process, so each peak is that part's.

Run:  python benchmarks/bench_load.py [--sessions 1000] [--hours 8] [--conversations 10000] [--only NAME]
      python benchmarks/bench_load.py --only openai [--openai-sessions 1000] [--openai-turns 1] [--long-turns 500]
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import gc
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import tracemalloc
import types
from collections.abc import Callable
from typing import Any

import agentlab as al
from agentlab._utils import IdFactory, current_ids
from agentlab.engine import UserSpeech
from agentlab.examples.restaurant import QUICKSTART_SCRIPT, Host, scripted_llm
from agentlab.sim import play as sim_play

PARTS = ("sessions", "long", "sweep", "cache", "openai")
REPLY = "Sure, here is a short answer to that question."
MB = 2**20
KB = 1024


# --- memory helpers --------------------------------------------------------------------------------


def peak_rss_mb() -> float:
    """This process's peak resident set (Linux reports ru_maxrss in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def rss_mb() -> float:
    """This process's resident set now."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / MB


def heap() -> int:
    """Python heap in use now (tracemalloc), after a full collection."""
    gc.collect()
    return tracemalloc.get_traced_memory()[0]


_STOP_TYPES = (type, types.ModuleType, types.FunctionType, types.BuiltinFunctionType, types.MethodType, types.CodeType, types.FrameType)


def deep_size(roots: list[Any], stop: list[Any], seen: set[int] | None = None) -> int:
    """Bytes of every object reachable from ``roots`` (each counted once), not entering ``stop`` objects.

    ``stop`` are the long-lived objects records point back to (the session, its agent, the loop...): they
    are not records. ``seen`` (ids) carries over between calls so shared objects count once. An estimate:
    ``sys.getsizeof`` plus, for instances whose attributes live in the object's inline values (3.11+), 16 B
    and 8 B per attribute (without this an instance counts about half its real size).
    """
    seen = set() if seen is None else seen
    seen.update(id(o) for o in stop)
    todo = list(roots)
    total = 0
    while todo:
        o = todo.pop()
        if id(o) in seen or isinstance(o, _STOP_TYPES) or isinstance(o, asyncio.AbstractEventLoop):
            continue
        seen.add(id(o))
        refs = gc.get_referents(o)
        total += sys.getsizeof(o)
        if type(o).__flags__ & _MANAGED_DICT:
            total += 16 + 8 * sum(1 for r in refs if r is not type(o))
        todo.extend(refs)
    return total


_MANAGED_DICT = 1 << 4  # Py_TPFLAGS_MANAGED_DICT


# --- part 1: many short sessions -------------------------------------------------------------------

VOICE_PERIOD = 2.0 + 0.5 + 0.3 + 3.0 + 1.0  # speech, endpointing, LLM TTFT, reply audio, gap (bench_voice_session)


def _text_job(i: int) -> tuple[Any, dict[str, Any], list[Any]]:
    llm = al.ScriptedLLM(rules=[al.Rule(reply=REPLY, ttft=0.3, duration=0.6)])
    return (lambda: al.Agent(instructions="Answer briefly.")), {"llm": llm}, [al.UserTurn(f"Question {i}.{k}?") for k in range(5)]


def _tools_job(i: int) -> tuple[Any, dict[str, Any], list[Any]]:
    return Host, {"llm": scripted_llm(), "userdata": {}}, list(QUICKSTART_SCRIPT)


def _voice_job(i: int) -> tuple[Any, dict[str, Any], list[Any]]:
    llm = al.ScriptedLLM(rules=[al.Rule(reply=REPLY, ttft=0.3, duration=0.6)])
    tts = al.ScriptedTTS(ttfb=0.0, durations={REPLY: 3.0})
    script = [UserSpeech(1.0 + k * VOICE_PERIOD, 3.0 + k * VOICE_PERIOD, f"Question {i}.{k}, please?", stt_delay=0.2) for k in range(5)]
    return (lambda: al.Agent(instructions="Answer briefly.")), {"llm": llm, "tts": tts}, script


JOBS: tuple[Callable[[int], tuple[Any, dict[str, Any], list[Any]]], ...] = (_text_job, _tools_job, _voice_job)


def job(i: int) -> tuple[Any, dict[str, Any], list[Any]]:
    """Session ``i`` of the mix: text, tools + handoff, voice, text, ..."""
    return JOBS[i % len(JOBS)](i)


async def play(agent: Any, options: dict[str, Any], script: list[Any]) -> tuple[al.AgentSession, float]:
    """:func:`agentlab.sim.play` (what ``simulate`` does inside its loop; many can share one loop):
    the closed session and its simulated duration."""
    session, _ = await sim_play(agent, options, script)
    return session, session.now()  # now(): the loop's clock is shared, so read it when this session ends


def bench_sessions(n: int, concurrency: int) -> None:
    batch = 100
    print(f"== {n:,} short sessions in one process (text 5 turns, tools + handoff 5 turns, voice 5 turns; a third each) ==")

    async def together(start: int, count: int) -> list[tuple[al.AgentSession, float]]:
        return list(await asyncio.gather(*(play(*job(i)) for i in range(start, min(n, start + count)))))

    def concurrently(count: int) -> tuple[float, float]:
        t0 = time.perf_counter()
        sim = 0.0
        for start in range(0, n, count):
            sim += sum(d for _, d in al.VirtualClock().run(lambda start=start: together(start, count)))
        return time.perf_counter() - t0, sim

    # Untraced, timed. simulate() one by one, Runs dropped (RSS after each batch); the bare sessions one
    # by one (no Run: no DataFrames); many sessions sharing one VirtualClock loop.
    al.simulate(*job(0))  # imports and first-call caches out of the way
    rss0 = rss_mb()
    sim = 0.0
    rss_batches = []
    t0 = time.perf_counter()
    for i in range(n):
        sim += al.simulate(*job(i)).duration
        if (i + 1) % batch == 0:
            rss_batches.append(rss_mb())
    wall = time.perf_counter() - t0
    t0 = time.perf_counter()
    bare = sum(al.VirtualClock().run(lambda i=i: play(*job(i)))[1] for i in range(n))
    bare_wall = time.perf_counter() - t0
    conc_wall, conc_sim = concurrently(concurrency)
    peak_before = peak_rss_mb()
    all_wall, all_sim = concurrently(n)
    all_peak = peak_rss_mb() - peak_before
    first = al.VirtualClock().run(lambda: together(0, concurrency))
    same = all(
        s.history_frame()[["role", "text", "created_at"]].equals(al.simulate(*job(i)).history[["role", "text", "created_at"]])
        for i, (s, _) in enumerate(first)
    )
    del first

    # Traced: the Python heap after each batch, Runs dropped; what a kept Run retains, per kind; the heap
    # peak of ``concurrency`` sessions alive together.
    tracemalloc.start()
    h0 = heap()
    heap_batches = []
    for i in range(n):
        al.simulate(*job(i))
        if (i + 1) % batch == 0:
            heap_batches.append(heap() - h0)
    per_kind = []
    for k, make in enumerate(JOBS):
        base = heap()
        runs = [al.simulate(*make(i)) for i in range(k, 3 * batch, 3)]
        per_kind.append((make.__name__.strip("_").replace("_job", ""), (heap() - base) / len(runs), runs[0]))
        del runs
    kept = sum(size for _, size, _ in per_kind) / len(per_kind)
    h1 = heap()
    tracemalloc.reset_peak()
    al.VirtualClock().run(lambda: together(0, concurrency))
    conc_heap = tracemalloc.get_traced_memory()[1] - h1
    tracemalloc.stop()

    print(f"{'mode':46} {'wall s':>8} {'ms/session':>11} {'sim s / wall s':>15} {'vs real time':>13}")
    for name, w, sm in (
        ("simulate() one by one, Runs dropped", wall, sim),
        ("sessions one by one, no Run (no DataFrames)", bare_wall, bare),
        (f"{concurrency} at a time on one VirtualClock loop", conc_wall, conc_sim),
        (f"all {n:,} at once on one VirtualClock loop", all_wall, all_sim),
    ):
        print(f"{name:46} {w:8.2f} {w / n * 1000:11.2f} {sm / w:15,.0f} {sm / w:12,.0f}x")
    print(f"  {n:,} sessions simulate {sim / 3600:.1f} h of conversation; concurrent sessions give the same histories as")
    print(f"  simulate() one by one: {same}; all {n:,} at once raised the process peak RSS by {all_peak:.0f} MiB")
    print(f"\n  memory after each batch of {batch} sessions, Runs dropped (flat = no leak from session to session)")
    print(f"  {'sessions':>10} {'heap growth KiB':>16} {'per session B':>14} {'RSS MiB':>9} {'RSS growth MiB':>15}")
    for b, (hg, r) in enumerate(zip(heap_batches, rss_batches, strict=True)):
        done = (b + 1) * batch
        print(f"  {done:10,} {hg / KB:16.1f} {hg / done:14.1f} {r:9.1f} {r - rss0:15.1f}")
    if len(heap_batches) > 1:
        tail = (heap_batches[-1] - heap_batches[0]) / (n // batch * batch - batch)
        print(
            f"  heap growth from session {batch} to {n // batch * batch:,}: {tail:.1f} B/session; "
            f"a leaked Run would be ~{kept / KB:.0f} KiB/session"
        )
    print("\n  memory retained per Run when Runs are kept (the closed session + history/events/metrics DataFrames)")
    print(f"  {'kind':10} {'KiB / Run':>10} {'history rows':>13} {'events':>7}")
    for name, size, run in per_kind:
        print(f"  {name:10} {size / KB:10.1f} {len(run.history):13} {len(run.events):7}")
    print(f"  {'mix':10} {kept / KB:10.1f}   ({n:,} Runs kept: ~{kept * n / MB:.0f} MiB)")
    print(
        f"  heap peak of {concurrency} sessions alive at once on one loop: {conc_heap / MB:.1f} MiB "
        f"({conc_heap / concurrency / KB:.1f} KiB each)"
    )
    print(f"  process peak RSS: {peak_rss_mb():.0f} MiB")


# --- part 2: an 8-hour conversation ----------------------------------------------------------------


def long_script(hours: float, seed: int = 8) -> list[UserSpeech]:
    """A user turn every 15-30 s (1.5-4 s of speech) for ``hours`` hours."""
    rng = random.Random(seed)
    out: list[UserSpeech] = []
    t = 1.0
    while True:
        dur = rng.uniform(1.5, 4.0)
        if t + dur + 10.0 > hours * 3600:
            return out
        out.append(UserSpeech(round(t, 3), round(t + dur, 3), f"Question number {len(out)}, can you help me with that?", stt_delay=0.2))
        t += rng.uniform(15.0, 30.0)


def _records(session: al.AgentSession) -> dict[str, list[Any]]:
    """What the session keeps on purpose: its history (and the agent's view of it), events, playback, input."""
    agent = session.agent_for_bench  # type: ignore[attr-defined]
    return {
        "history": [session._history, agent._chat_ctx],
        "events": [session._events],
        "playback": [session._playback],
        "input": [session._voice.input_events, session._voice.user_speech],
    }


def _drop_records(session: al.AgentSession) -> None:
    for obj in (session._events, session._playback, session._voice.input_events, session._voice.user_speech):
        obj.clear()
    session._history._items.clear()
    session.agent_for_bench._chat_ctx._items.clear()  # type: ignore[attr-defined]


def _long_run(script: list[UserSpeech], every: int | None) -> tuple[al.AgentSession, Any, list[tuple[Any, ...]], Any]:
    """The conversation; with ``every`` (tracing on), heap samples every ``every`` turns and a snapshot diff."""
    llm = al.ScriptedLLM(rules=[al.Rule(reply=REPLY, ttft=0.3, duration=0.6)])
    tts = al.ScriptedTTS(ttfb=0.0, durations={REPLY: 3.0})
    samples: list[tuple[Any, ...]] = []
    snaps: dict[int, Any] = {}
    step = every or 1
    mid = (len(script) // 4 // step * step, 3 * len(script) // 4 // step * step)

    async def main() -> al.AgentSession:
        current_ids.set(IdFactory())
        session = al.AgentSession(llm=llm, tts=tts)
        agent = al.Agent(instructions="Answer briefly.")
        session.agent_for_bench = agent  # type: ignore[attr-defined]  # the agent outlives the session's activity
        await session.start(agent)
        session.attach_user_input(script)

        async def sampler() -> None:
            loop = asyncio.get_running_loop()
            stop = [session, agent, session._activity, llm, tts, loop, session.clock, session.output]
            for i in range(0, len(script) + 1, step):
                if i < len(script):  # just before turn i starts: the previous turns are done
                    await asyncio.sleep(max(0.0, script[i].start - 0.5 - session.now()))
                else:
                    await session.wait_for_input()
                used = heap()
                if i in mid:
                    snaps[i] = tracemalloc.take_snapshot()
                seen: set[int] = set()
                parts = {k: deep_size(v, stop, seen) for k, v in _records(session).items()}
                requests = deep_size([llm.requests, llm._char_counts], stop, seen)
                timers = sum(sys.getsizeof(h) + sys.getsizeof(h._args) for _, _, h in loop._scheduled)  # input not yet played
                samples.append((i, session.now(), used, sum(parts.values()), requests, timers, parts))
                del seen  # the measurement's own memory is not the session's

        task = asyncio.create_task(sampler()) if every else None
        await session.wait_for_input()
        if task is not None:
            await task
        await session.aclose()
        return session

    session = al.VirtualClock().run(main)
    diff = snaps[mid[1]].compare_to(snaps[mid[0]], "lineno") if len(snaps) == 2 else None
    return session, llm, samples, (diff, mid[1] - mid[0])


def _slope(xs: list[float], ys: list[float]) -> float:
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sum((x - mx) ** 2 for x in xs)


def _drop_test(script: list[UserSpeech]) -> list[int]:
    """Heap above the baseline after close, then after dropping in turn: the records, the LLM's log
    (``requests`` and its per-item character counts), the turn engine's agent-speech spans."""
    base = heap()
    session, llm, _, _ = _long_run(script, None)
    out = [heap() - base]
    _drop_records(session)
    out.append(heap() - base)
    llm.requests.clear()
    llm._char_counts.clear()
    out.append(heap() - base)
    session._voice.engine.agent.audible_spans.clear()
    session._voice.engine.agent.uninterruptible_spans.clear()
    out.append(heap() - base)
    return out


def bench_long(hours: float, every: int) -> None:
    script = long_script(hours)
    n = len(script)
    print(f"== one {hours:g}-hour voice conversation: {n:,} user turns, one every 15-30 s, ScriptedLLM + ScriptedTTS ==")
    t0 = time.perf_counter()
    session, _, _, _ = _long_run(script, None)
    wall = time.perf_counter() - t0
    turns = sum(1 for it in session._history.items if getattr(it, "role", None) == "user")
    replies = sum(1 for it in session._history.items if getattr(it, "role", None) == "assistant")
    print(f"{'simulated s':>12} {'wall s':>8} {'sim s / wall s':>15} {'vs real time':>13} {'user turns':>11} {'replies':>8} {'events':>7}")
    print(
        f"{session.now():12,.0f} {wall:8.2f} {session.now() / wall:15,.0f} {session.now() / wall:12,.0f}x "
        f"{turns:11,} {replies:8,} {len(session._events):7,}"
    )
    del session
    gc.collect()

    tracemalloc.start()
    base = heap()
    session, llm, samples, (diff, span) = _long_run(script, every)
    peak = tracemalloc.get_traced_memory()[1] - base
    print(f"\n  Python heap above the pre-session baseline, every {every} turns. records: deep size of history, events,")
    print("  playback, input (an estimate); LLM log: ScriptedLLM.requests; pending: timers of input not yet played")
    print(f"  {'turns':>6} {'sim h':>6} {'heap KiB':>10} {'records KiB':>12} {'LLM log KiB':>12} {'pending KiB':>12} {'other KiB':>10}")
    rows = []
    for i, t, used, records, requests, timers, _ in samples:
        other = used - base - records - requests - timers
        rows.append((i, used - base, records, requests, timers, other))
        print(
            f"  {i:6,} {t / 3600:6.2f} {(used - base) / KB:10.1f} {records / KB:12.1f} {requests / KB:12.1f} "
            f"{timers / KB:12.1f} {other / KB:10.1f}"
        )
    last = samples[-1][6]
    print("  records at the end: " + ", ".join(f"{k} {v / KB:,.0f} KiB" for k, v in last.items()))
    half = [r for r in rows if r[0] >= rows[-1][0] // 2]
    xs = [float(r[0]) for r in half]
    s = [_slope(xs, [float(r[k]) for r in half]) for k in range(1, 6)]
    print(f"\n  bytes per turn over the second half (turns {half[0][0]:,}-{half[-1][0]:,}), linear fit")
    print(f"  {'heap':>10} {'records':>10} {'LLM log':>10} {'pending':>10} {'other':>10} {'other / heap':>13}")
    print(f"  {s[0]:10.0f} {s[1]:10.0f} {s[2]:10.0f} {s[3]:10.0f} {s[4]:10.0f} {s[4] / s[0]:13.1%}")
    first = [r for r in rows if r[0] <= rows[-1][0] // 2]
    s1 = _slope([float(r[0]) for r in first], [float(r[3]) for r in first])
    shape = "grows with the square of the turns" if s[2] > 1.5 * s1 else "linear: the last requests' copies of the history"
    print(f"  LLM log per turn: {s1:.0f} B over the first half, {s[2]:.0f} B over the second ({shape})")
    if diff is not None:
        print(f"\n  largest heap growth by allocating line, over {span:,} turns (tracemalloc snapshot diff), per turn")
        for d in diff[:10]:
            frame = d.traceback[0]
            name = frame.filename.split("/work/main/")[-1].split("/lib/python3")[-1]
            print(f"  {d.size_diff / span:9.0f} B {d.count_diff / span:6.1f} blocks  {name}:{frame.lineno}")
    del session, llm, samples, diff
    gc.collect()

    # Exact: drop what is kept on purpose after close; what is left must not grow with the turns.
    print("\n  after close, exact (tracemalloc): the heap freed by dropping, in turn, the records, the LLM's log")
    print("  (ScriptedLLM.requests and ._char_counts) and the turn engine's agent-speech spans; then what is left")
    print(f"  {'user turns':>11} {'heap KiB':>10} {'records KiB':>12} {'B/turn':>7} {'LLM log KiB':>12} {'B/turn':>7} "
          f"{'engine spans KiB':>17} {'B/turn':>7} {'left KiB':>9}")  # fmt: skip
    lefts = []
    for part in (script[: n // 4], script):
        closed, no_records, no_log, left = _drop_test(part)
        k = len(part)
        recs, log, spans = closed - no_records, no_records - no_log, no_log - left
        lefts.append((k, left))
        print(f"  {k:11,} {closed / KB:10.1f} {recs / KB:12.1f} {recs / k:7.0f} {log / KB:12.1f} {log / k:7.0f} "
              f"{spans / KB:17.1f} {spans / k:7.0f} {left / KB:9.1f}")  # fmt: skip
    (k0, l0), (k1, l1) = lefts
    print(f"  left grows {(l1 - l0) / (k1 - k0):.1f} B/turn from {k0:,} to {k1:,} turns (bounded: ~0)")
    print(f"  heap peak {peak / MB:.1f} MiB above the baseline, process peak RSS {peak_rss_mb():.0f} MiB")
    tracemalloc.stop()


# --- part 3: a 10,000-conversation sweep on Dask ---------------------------------------------------


def replicated_dataset(n: int) -> Any:
    """``n`` conversations: the bundled datasets' conversations repeated (new ids), in order."""
    from agentlab import datasets
    from agentlab.datasets import Dataset

    pool = [c for name in ("dictation", "conversational", "overlaps", "tasks") for c in datasets.load(name)]
    convs = [dataclasses.replace(pool[i % len(pool)], id=f"{pool[i % len(pool)].id}-r{i // len(pool)}") for i in range(n)]
    manifest = {"name": "load", "version": "1.0.0", "description": "bundled conversations, replicated", "license": "CC0-1.0",
                "source": "generated", "sample_rate": 16000, "conversations": [c.id for c in convs]}  # fmt: skip
    return Dataset("load", manifest, convs)


def _worker_rss() -> tuple[float, float]:
    with open("/proc/self/statm") as f:
        now = int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / MB
    return now, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _sweep_once(client: Any, n: int, grid: dict[str, list[Any]], out: str, samples: int) -> dict[str, Any]:
    from agentlab.sweeps import sweep
    from agentlab.sweeps.run import expand_grid

    data = replicated_dataset(n)
    total = n * len(expand_grid(grid))
    step = max(1, total // samples)
    trace: list[tuple[int, float, float, float, int]] = []

    def progress(done: int, total: int) -> None:
        if done % step == 0 or done == total:
            w = client.run(_worker_rss)
            files = sum(1 for _ in os.scandir(os.path.join(out, "cells"))) if os.path.isdir(os.path.join(out, "cells")) else 0
            trace.append((done, time.perf_counter() - t0, rss_mb(), sum(v[0] for v in w.values()), files))

    client.run(gc.collect)
    t0 = time.perf_counter()
    res = sweep(None, data, grid, executor=client, out=out, progress=progress)
    wall = time.perf_counter() - t0
    workers = client.run(_worker_rss)
    return {"n": n, "cells": len(res.cells), "rows": len(res.turns), "failed": len(res.failed), "wall": wall, "trace": trace,
            "worker_peak": max(v[1] for v in workers.values()), "worker_now": sum(v[0] for v in workers.values()),
            "driver_peak": peak_rss_mb(), "result_mb": res.turns.memory_usage(deep=True).sum() / MB}  # fmt: skip


def bench_sweep(n: int, workers: int, scaling: bool) -> None:
    import logging

    from dask.distributed import Client, LocalCluster

    grid = {"endpointing.min_delay": [0.3, 0.6]}
    print(f"== a {n:,}-conversation sweep x {len(grid['endpointing.min_delay'])} settings on dask.distributed "
          f"(LocalCluster: {workers} worker processes x 1 thread), out= on disk ==")  # fmt: skip
    logging.getLogger("distributed").setLevel(logging.ERROR)
    tmp = tempfile.mkdtemp(prefix="bench_load_")
    try:
        with (
            LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None) as cluster,
            Client(cluster) as client,
        ):
            # One of each bundled conversation first: every worker analyses the recordings it gets (VAD, cached).
            warm = _sweep_once(client, 92, grid, os.path.join(tmp, "warm"), 1)
            print(f"  warm-up, 92 conversations (VAD analysis of the recordings in each worker): {warm['wall']:.1f} s")
            sizes = [max(1, n // 10), n] if scaling and n >= 10 else [n]
            results = [_sweep_once(client, k, grid, os.path.join(tmp, f"out{k}"), 10) for k in sizes]
        print(f"{'conversations':>14} {'cells':>7} {'turn rows':>10} {'wall s':>8} {'cells/s':>8} {'ms/conv':>8} "
              f"{'driver peak MiB':>16} {'worker peak MiB':>16} {'result MiB':>11} {'failed':>7}")  # fmt: skip
        for r in results:
            print(f"{r['n']:14,} {r['cells']:7,} {r['rows']:10,} {r['wall']:8.1f} {r['cells'] / r['wall']:8.1f} "
                  f"{r['wall'] / r['n'] * 1000:8.2f} "
                  f"{r['driver_peak']:16.0f} {r['worker_peak']:16.0f} {r['result_mb']:11.1f} {r['failed']:7}")  # fmt: skip
        if len(results) == 2:
            a, b = results
            print(
                f"  scaling {a['n']:,} -> {b['n']:,} conversations: wall x{b['wall'] / a['wall']:.1f} "
                f"(linear would be x{b['n'] / a['n']:.0f})"
            )
        r = results[-1]
        print(f"\n  as cells finish ({r['n']:,} conversations): cell files on disk, driver RSS (scheduler included), workers' RSS summed")
        print(f"  {'cells done':>11} {'wall s':>7} {'cell files':>11} {'driver MiB':>11} {'workers MiB':>12}")
        for done, t, drv, wrk, files in r["trace"]:
            print(f"  {done:11,} {t:7.1f} {files:11,} {drv:11.0f} {wrk:12.0f}")
        (d0, _, drv0, wrk0, _), (d1, _, drv1, wrk1, _) = r["trace"][1], r["trace"][-1]
        print(f"  assembling the SweepResult at the end took the driver from {drv1:.0f} MiB to its peak, {r['driver_peak']:.0f} MiB")
        print(f"  from {d0:,} to {d1:,} cells: driver +{(drv1 - drv0) * KB / (d1 - d0):.1f} KiB/cell, "
              f"workers +{(wrk1 - wrk0) * KB / (d1 - d0):.1f} KiB/cell; the result holds {r['rows'] / r['cells']:.0f} rows/cell "
              f"({r['result_mb'] * KB / r['cells']:.1f} KiB/cell as a DataFrame)")  # fmt: skip
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


# --- part 4: the analysis cache --------------------------------------------------------------------


def bench_cache() -> None:
    from agentlab.audio import AnalysisCache, CacheKey, default_cache

    print("== AnalysisCache: fed far beyond its limits ==")
    rows = []
    for max_entries, max_bytes, count, size in ((64, 1 * MB, 2000, 50_000), (64, 64 * MB, 10_000, 100), (1024, 256 * MB, 2000, 400_000)):
        tracemalloc.start()
        base = heap()
        cache = AnalysisCache(max_entries=max_entries, max_bytes=max_bytes)
        worst = 0
        for i in range(count):
            cache.put(CacheKey(f"audio-sha256:{i:064x}", "vad-probabilities", "silero", "v1"), {"probabilities": "A" * size, "i": i})
            worst = max(worst, cache.stats.bytes)
        held = heap() - base
        st = cache.stats
        tracemalloc.stop()
        rows.append((max_entries, max_bytes, count, size, st.entries, st.bytes, worst, held, st.evictions))
        del cache
    print(f"{'max_entries':>12} {'max_bytes':>11} {'puts':>7} {'entry B':>8} {'entries':>8} {'bytes':>11} {'max bytes seen':>15} "
          f"{'heap held':>11} {'overhead/entry':>15} {'evictions':>10} {'within limit':>13}")  # fmt: skip
    for me, mb, count, size, entries, nbytes, worst, held, ev in rows:
        ok = entries <= me and worst <= mb
        print(f"{me:12,} {mb:11,} {count:7,} {size:8,} {entries:8,} {nbytes:11,} {worst:15,} {held:11,} "
              f"{(held - nbytes) / entries:15,.0f} {ev:10,} {ok!s:>13}")  # fmt: skip
    big = AnalysisCache(max_entries=10, max_bytes=1000)
    big.put(CacheKey("x", "k", "b", "s"), {"v": "A" * 5000})
    d = default_cache()
    print(f"  an entry larger than max_bytes alone is not kept in memory: entries={len(big)}")
    print(f"  default_cache(): max_entries={d.max_entries:,}, max_bytes={d.max_bytes:,} ({d.max_bytes / MB:.0f} MiB of JSON text)")
    print("  'bytes' counts the entries' JSON text; 'heap held' is the whole cache on the Python heap (keys, dict, str headers)")


# --- part 5: the real openai client, many sessions and a long conversation -------------------------

SERVER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "openai_server.py")


class _Server:
    """``tests/openai_server.py`` in a child process, answering every completion with ``REPLY``."""

    def __enter__(self) -> str:
        self.proc = subprocess.Popen([sys.executable, SERVER, "--reply", REPLY], stdout=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline().strip() if self.proc.stdout else ""
        if not line.startswith("base_url="):
            self.proc.kill()
            raise RuntimeError(f"the test server did not start ({line!r})")
        return line.split("=", 1)[1]

    def __exit__(self, *exc: Any) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)


async def _openai_sessions(n: int, turns: int, per_session_client: bool) -> tuple[int, int]:
    """``n`` sessions at once, ``turns`` runs each; (clients built, replies received)."""
    import openai

    from agentlab.models import openai as oa

    def llm() -> Any:
        if not per_session_client:
            return "openai/gpt-4.1-mini"  # what users write: OPENAI_BASE_URL / OPENAI_API_KEY come from the environment
        # Before issue 21 every string-built LLM made its own client; built here as it was.
        return oa.OpenAILLM(client=openai.AsyncOpenAI(max_retries=0))

    sessions = [al.AgentSession(llm=llm()) for _ in range(n)]
    for s in sessions:
        await s.start(al.Agent(instructions="Answer briefly."))

    async def talk(s: al.AgentSession, i: int) -> int:
        got = 0
        for k in range(turns):
            result = await s.run(user_input=f"Question {i}.{k}, please?")
            got += [e.item.text_content for e in result.events if e.type == "message"][-1:] == [REPLY]
        return got

    replies = sum(await asyncio.gather(*(talk(s, i) for i, s in enumerate(sessions))))
    loop = asyncio.get_running_loop()
    clients = len({id(s.llm.client) for s in sessions}) if per_session_client else oa._SHARED.count(loop)
    for s in sessions:
        await s.aclose()
        if per_session_client:
            await s.llm.client.close()
        else:
            await s.llm.aclose()
    return clients, replies


def _openai_load(n: int, turns: int, per_session_client: bool) -> None:
    """One measurement, in this process (its peak RSS is this measurement's)."""
    al.VirtualClock  # noqa: B018 - agentlab fully imported before the baseline
    rss0 = rss_mb()
    t0 = time.perf_counter()
    clients, replies = asyncio.run(_openai_sessions(n, turns, per_session_client))
    wall = time.perf_counter() - t0
    how = "one client per session (as before)" if per_session_client else 'AgentSession(llm="openai/...")'
    print(
        f"  {how:36} {wall:7.1f} {peak_rss_mb():9.0f} {peak_rss_mb() - rss0:9.0f} {clients:8,} {replies:8,} {n * turns / wall:10,.0f}",
        flush=True,
    )


def _per_turn_split(turns: int, url: str, marks: tuple[int, ...] = ()) -> list[tuple[int, float, float, float]]:
    """(turn, real-client per-turn ms, the client's conversion ms, agentlab's own ms) at each of ``marks``
    (default: turn 100 and the last), each a mean over the 10 turns up to it."""
    from openai._utils import async_maybe_transform
    from openai.types.chat import completion_create_params

    from agentlab.models.llm import LLM, ChatChunk, ChoiceDelta, CompletionUsage, LLMRequest
    from agentlab.models.openai import OpenAILLM

    class _Instant(OpenAILLM):
        """agentlab's whole per-turn work with an OpenAI LLM (the session, building the request's
        parameters and message list), and nothing of the client's: the answer comes at once."""

        async def _stream(self, request: LLMRequest) -> Any:
            self.build_params(request)
            yield ChatChunk(delta=ChoiceDelta(content=REPLY))
            yield ChatChunk(usage=CompletionUsage(5, 10, 15))

    marks = sorted(set(marks) or {min(100, turns), turns})
    window = 10

    async def conversation(llm: LLM, convert: bool) -> dict[int, tuple[float, float]]:
        session = al.AgentSession(llm=llm)
        await session.start(al.Agent(instructions="Answer briefly."))
        times: list[float] = []
        out: dict[int, tuple[float, float]] = {}
        for i in range(1, turns + 1):
            t = time.perf_counter()
            await session.run(user_input=f"Question number {i}, can you help me with that?")
            times.append(time.perf_counter() - t)
            if i in marks:
                client_ms = float("nan")
                if convert:  # what create() does to the parameters before sending them, timed alone
                    ctx = al.ChatContext([al.ChatMessage(role="system", content=["Answer briefly."]), *session.history.items])
                    params = llm.build_params(LLMRequest(chat_ctx=ctx))  # type: ignore[attr-defined]
                    t = time.perf_counter()
                    for _ in range(window):
                        await async_maybe_transform(params, completion_create_params.CompletionCreateParamsStreaming)
                    client_ms = (time.perf_counter() - t) / window * 1000
                out[i] = (sum(times[-window:]) / window * 1000, client_ms)
        await session.aclose()
        await llm.aclose()
        return out

    real = asyncio.run(conversation(OpenAILLM(base_url=url, api_key="bench-no-key"), True))
    own = asyncio.run(conversation(_Instant(base_url=url, api_key="bench-no-key"), False))
    return [(i, real[i][0], real[i][1], own[i][0]) for i in marks]


def bench_openai(n: int, turns: int, long_turns: int) -> None:
    print(f"== the real openai client against tests/openai_server.py (own process): {n:,} sessions x {turns} turns ==")
    with _Server() as url:
        os.environ["OPENAI_BASE_URL"] = url
        os.environ.setdefault("OPENAI_API_KEY", "bench-no-key")
        print(f"  {'how':36} {'wall s':>7} {'peak RSS':>9} {'RSS +MiB':>9} {'clients':>8} {'replies':>8} {'requests/s':>10}")
        _openai_load(n, turns, per_session_client=False)
        # The comparison in its own process: its peak must not mix with the first.
        flags = ["--only", "openai-per-session", "--openai-sessions", str(n), "--openai-turns", str(turns)]
        subprocess.run([sys.executable, __file__, *flags], check=True)
        print("  (peak RSS: this process's, agentlab and the openai client imported; replies: runs that got the answer)")

        print(f"\n  one conversation of {long_turns} turns: per-turn time, mean of the {10} turns up to the one shown")
        print(f"  {'turn':>6} {'per turn ms':>12} {'client converts ms':>19} {'agentlab own ms':>16} {'other ms':>9}")
        for i, total, client, own in _per_turn_split(long_turns, url):
            print(f"  {i:6} {total:12.1f} {client:19.1f} {own:16.2f} {total - client - own:9.1f}")
        print("  client converts: openai's own transform of the parameters (async_maybe_transform), timed alone on")
        print("  the turn's messages; agentlab own: the same turns with an LLM that builds the same parameters and")
        print("  answers at once (the session's work and agentlab's message list); other: HTTP, server, SSE parsing")
    print(f"  process peak RSS {peak_rss_mb():.0f} MiB")


# --- main ------------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sessions", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=100, help="sessions sharing one loop in the concurrent pass")
    parser.add_argument("--hours", type=float, default=8.0)
    parser.add_argument("--every", type=int, default=100, help="turns between heap samples of the long conversation")
    parser.add_argument("--conversations", type=int, default=10000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--scaling", action=argparse.BooleanOptionalAction, default=True, help="also sweep a tenth first")
    parser.add_argument("--openai-sessions", type=int, default=1000, help="sessions at once with the real openai client")
    parser.add_argument("--openai-turns", type=int, default=1, help="turns of each of those sessions")
    parser.add_argument("--long-turns", type=int, default=500, help="turns of the long conversation with the real client")
    parser.add_argument("--only", choices=(*PARTS, "openai-per-session"))
    args = parser.parse_args()
    if args.only is None:  # each part in its own process: ru_maxrss is then that part's peak
        flags = sys.argv[1:]
        for part in PARTS:
            t0 = time.perf_counter()
            subprocess.run([sys.executable, __file__, *flags, "--only", part], check=True)
            load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
            print(f"({part}: {time.perf_counter() - t0:.0f} s in all; load average {load} on {os.cpu_count()} cores)\n", flush=True)
        return
    if args.only == "sessions":
        bench_sessions(args.sessions, args.concurrency)
    elif args.only == "long":
        bench_long(args.hours, args.every)
    elif args.only == "sweep":
        bench_sweep(args.conversations, args.workers, args.scaling)
    elif args.only == "openai":
        bench_openai(args.openai_sessions, args.openai_turns, args.long_turns)
    elif args.only == "openai-per-session":
        _openai_load(args.openai_sessions, args.openai_turns, per_session_client=True)
    else:
        bench_cache()


if __name__ == "__main__":
    main()
