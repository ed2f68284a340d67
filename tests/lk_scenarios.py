"""One scenario spec, two sessions: agentlab's and LiveKit 1.8.9's, reduced to comparable decisions.

A spec (the format of ``tests/livekit_harness.py``: user speech with its VAD and STT timing,
scripted LLM and TTS responses, tools, session options, timed actions) is run on LiveKit by the
harness in a subprocess (``run_livekit``: it patches ``time`` for LiveKit, so it gets a process
of its own) and on agentlab by :func:`run_agentlab`. :func:`decisions` reduces either output to
the decisions that matter, with times rounded to the millisecond:

* ``agent``: agent state changes ``(time, new state)``;
* ``user``: user state changes ``(created_at, new state)`` (LiveKit backdates them);
* ``transcripts``: ``(time, is_final, text)``;
* ``messages``: each user or assistant message ``(time added, role, text, interrupted,
  created_at, started_speaking_at, stopped_speaking_at, e2e_latency)``;
* ``speeches``: ``speech_created`` times; ``false_interruptions``: ``(time, resumed)``.

Example::

    lk = run_livekit([spec])[0]
    al = run_agentlab(spec)
    assert decisions(al) == decisions(lk)
"""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

from spy_tts import PulledTTS

import agentlab as al
from agentlab._utils import rounded
from agentlab.engine import ScriptedVAD, UserSpeech

HARNESS = Path(__file__).with_name("livekit_harness.py")
DEFAULT_OPTIONS = {
    "turn_handling": {
        "turn_detection": None,
        "endpointing": {"min_delay": 0.5, "max_delay": 6.0},
        "interruption": {"min_duration": 0.5, "false_interruption_timeout": 2.0},
    },
    "aec_warmup_duration": None,
}


def run_livekit(specs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Run ``specs`` on the real livekit-agents (one subprocess for all of them)."""
    out = subprocess.run(
        [sys.executable, str(HARNESS), "-"], input=json.dumps(specs), capture_output=True, text=True, timeout=600, check=False
    )
    if out.returncode != 0:
        raise RuntimeError(f"livekit harness failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout)


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in over.items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def _llm_key(ctx: Any) -> str:
    """What a request answers, as the harness's fake LLM reads it: the last user message, a tool
    output, or ``generate_reply`` instructions; else ""."""
    last = next((it for it in reversed(ctx.items) if not (it.type == "message" and it.role == "system" and it.id == "instructions")), None)
    if last is None:
        return ""
    if last.type == "function_call_output":
        return last.output
    if last.type == "message" and last.role in ("user", "system"):
        return last.text_content or ""
    return ""


def _llm(spec: dict[str, Any]) -> al.ScriptedLLM:
    rules: list[al.Rule] = []
    keys: set[str] = set()  # inputs matched by the last rule (consecutive same answers share one rule)
    last: tuple[Any, ...] | None = None
    for r in spec.get("llm", []):
        calls = [al.ScriptedToolCall(c["name"], c.get("arguments", "{}")) for c in r.get("tool_calls", [])]
        timing = {"ttft": r.get("ttft", 0.1), "duration": r.get("duration", 0.3), "whole": not r.get("spread", False)}
        answer = (r.get("content", ""), json.dumps(r.get("tool_calls", []), sort_keys=True), tuple(sorted(timing.items())))
        if "call" in r:
            rules.append(al.Rule(call=r["call"], reply=r.get("content", ""), tool_calls=calls, **timing))
            last = None
        elif answer == last:
            keys.add(r.get("input", ""))
        else:
            keys, last = {r.get("input", "")}, answer
            rules.append(al.Rule(when=lambda ctx, keys=keys: _llm_key(ctx) in keys, reply=r.get("content", ""), tool_calls=calls, **timing))
    rules.append(al.Rule(reply="", ttft=0.0, duration=0.0))  # the harness answers an unscripted request at once, empty
    return al.ScriptedLLM(rules=rules, default=None)


def _tts(spec: dict[str, Any], pulled: bool = False) -> al.ScriptedTTS:
    scripts = spec.get("tts", [])
    return (PulledTTS if pulled else al.ScriptedTTS)(
        ttfb_from="flush",
        durations={t["input"]: t["audio_duration"] for t in scripts},
        ttfbs={t["input"]: t.get("ttfb", 0.2) for t in scripts},
        synthesis={t["input"]: t.get("duration", 0.3) for t in scripts},
    )


def _tools(spec: dict[str, Any]) -> list[Any]:
    tools = []
    for t in spec.get("tools", []):

        async def tool(raw_arguments: dict[str, Any], context: al.RunContext, t: dict[str, Any] = t) -> str | None:
            if t.get("say"):
                handle = context.session.say(t["say"]["text"])
                if t["say"].get("await"):
                    await handle
            if t.get("reply"):
                handle = context.session.generate_reply(instructions=t["reply"]["instructions"])
                if t["reply"].get("await"):
                    await handle
            if t.get("delay"):
                await asyncio.sleep(t["delay"])
            return t.get("output", "")

        schema = {"name": t["name"], "description": t.get("description", ""), "parameters": t.get("parameters", {"type": "object"})}
        tools.append(al.function_tool(tool, raw_schema=schema))
    return tools


def _speech(spec: dict[str, Any]) -> list[UserSpeech]:
    out = []
    for u in spec.get("user", []):
        interim = u.get("interim", True)
        if isinstance(interim, list):
            interim = tuple((float(t), text) for t, text in interim)
        out.append(
            UserSpeech(
                u["start"],
                u["end"],
                u.get("transcript", ""),
                stt_delay=u.get("stt_delay", 0.2),
                interim=interim,
                final=u.get("final", True),
            )
        )
    return out


def run_agentlab(spec: dict[str, Any], *, pulled: bool = False) -> dict[str, Any]:
    """Run ``spec`` on agentlab's session (virtual clock); events and history as plain dicts.
    ``pulled``: the TTS reads its text itself instead of having it pushed (tests/test_tts_push.py)."""
    v = {"min_speech_duration": 0.05, "min_silence_duration": 0.5, "interval": 0.05, **spec.get("vad", {})}
    vad = ScriptedVAD(
        min_speech_duration=v["min_speech_duration"],
        min_silence_duration=v["min_silence_duration"],
        interval=v["interval"],
        speech_duration="voiced" if v.get("speech_duration") == "voiced" else "span",
    )
    options = _merge(DEFAULT_OPTIONS, spec.get("options", {}))
    speech = _speech(spec)
    until = spec.get("until") or max([u.end for u in speech] + [a["at"] for a in spec.get("actions", [])] + [0.0]) + 8.0

    async def main() -> dict[str, Any]:
        session = al.AgentSession(llm=_llm(spec), tts=_tts(spec, pulled), vad=vad, stt=None, tools=_tools(spec), **options)
        session.output.sync_transcription = spec.get("sync_transcription", True)
        await session.start(al.Agent(instructions=spec.get("instructions", "You are a helpful assistant.")))
        if speech:
            session.attach_user_input(speech, pausable_output=spec.get("can_pause", False))
        for action in sorted(spec.get("actions", []), key=lambda a: a["at"]):
            await asyncio.sleep(max(0.0, action["at"] - session.now()))
            kwargs = {k: v for k, v in action.items() if k not in ("at", "call")}
            try:
                getattr(session, action["call"])(**kwargs)
            except RuntimeError:
                pass  # as the harness: a refused call is not the scenario's failure
        await asyncio.sleep(max(0.0, until - session.now()))
        await session.drain()
        await session.aclose()
        # Converted inside the run, where the clock keeps the cyclic collector's passes rare: the
        # thousands of small dicts made here would set off several (the harness measures the session).
        return {
            "events": [_event(e) for e in session.events],
            "playback": [p.__dict__ for p in session.playback],
            "history": [_item(i) for i in session.history.items],
        }

    return al.VirtualClock().run(main)


def _item(item: Any) -> dict[str, Any]:
    d: dict[str, Any] = {"type": item.type, "created_at": item.created_at}
    if item.type == "message":
        d.update(role=item.role, text=item.text_content)
    elif item.type in ("function_call", "function_call_output"):
        d.update(name=item.name)
    return d


def _event(e: Any) -> dict[str, Any]:
    d: dict[str, Any] = {"type": e.type, "at": rounded(e.emitted_at, 3), "created_at": rounded(e.created_at, 3)}
    if e.type in ("agent_state_changed", "user_state_changed"):
        d.update(old_state=e.old_state, new_state=e.new_state)
    elif e.type == "user_input_transcribed":
        d.update(transcript=e.transcript, is_final=e.is_final)
    elif e.type == "conversation_item_added" and e.item.type == "message":
        m = e.item
        d["item"] = {
            "type": "message",
            "role": m.role,
            "text": m.text_content,
            "interrupted": m.interrupted,
            "created_at": rounded(m.created_at, 3),
            "metrics": {k: rounded(v, 3) for k, v in m.metrics.items() if isinstance(v, (int, float))},
        }
    elif e.type == "agent_false_interruption":
        d.update(resumed=e.resumed)
    return d


def _ms(x: Any) -> Any:
    return None if x is None else rounded(float(x), 3)


def decisions(output: dict[str, Any]) -> dict[str, list[Any]]:
    """The comparable decisions of one run's output (see the module docstring)."""
    out: dict[str, list[Any]] = {k: [] for k in ("agent", "user", "transcripts", "messages", "speeches", "false_interruptions", "history")}
    for e in output["events"]:
        t = e["type"]
        if t == "agent_state_changed":
            out["agent"].append((_ms(e["at"]), e["new_state"]))
        elif t == "user_state_changed":
            out["user"].append((_ms(e["created_at"]), e["new_state"]))
        elif t == "user_input_transcribed":
            out["transcripts"].append((_ms(e["at"]), e["is_final"], e["transcript"]))
        elif t == "conversation_item_added" and e.get("item", {}).get("type") == "message":
            m = e["item"]
            mx = m.get("metrics", {})
            text = re.sub(r"\s+", " ", m["text"] or "").strip()
            out["messages"].append(
                (
                    _ms(e["at"]),
                    m["role"],
                    text,
                    m["interrupted"],
                    _ms(m.get("created_at")),
                    _ms(mx.get("started_speaking_at")),
                    _ms(mx.get("stopped_speaking_at")),
                    _ms(mx.get("e2e_latency")),
                )
            )
        elif t == "speech_created":
            out["speeches"].append(_ms(e["at"]))
        elif t == "agent_false_interruption":
            out["false_interruptions"].append((_ms(e["at"]), e["resumed"]))
    # the history's order and times: messages, tool calls and outputs (LiveKit's config updates are not agentlab items)
    out["history"] = [
        (h["type"], h.get("role") or h.get("name"), _ms(h["created_at"]))
        for h in output.get("history", [])
        if h["type"] in ("message", "function_call", "function_call_output")
    ]
    return out


def diff(a: dict[str, list[Any]], b: dict[str, list[Any]]) -> list[str]:
    """Human-readable differences between two :func:`decisions` (empty when equal)."""
    lines = []
    for key in a:
        if a[key] != b[key]:
            lines.append(f"{key}:\n  agentlab: {a[key]}\n  livekit:  {b[key]}")
    return lines
