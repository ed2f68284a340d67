"""Scenarios: a voice conversation written down as data, to share and replay.

A scenario holds everything a simulation needs, in JSON or YAML:

.. code-block:: yaml

    name: weather with a barge-in
    agent:
      instructions: You are a weather assistant.
    session:                       # AgentSession keyword arguments
      turn_handling:
        endpointing: {min_delay: 0.5}
      vad: {min_silence_duration: 0.55}   # VADOptions fields (built into a VADOptions)
    user:                          # spoken user turns (seconds from session start)
      - {start: 0.5, end: 2.5, transcript: "What's the weather in Paris?", stt_delay: 0.2}
      - {start: 5.0, end: 6.0, transcript: "Thanks!"}
    llm:                           # responses, first match wins (ScriptedLLM rules)
      - match: weather
        reply: Let me check.
        tool_calls: [{name: get_weather, arguments: {city: Paris}}]
        ttft: 0.3
        duration: 0.6
      - after_tool: get_weather
        reply: "It is {output} in Paris."
    tools:                         # tools answering with fixed outputs
      get_weather: {description: Weather for a city, output: sunny, parameters: {city: string}}
    tts: {ttfb: 0.2, words_per_minute: 165, durations: {"Let me check.": 1.0}}
    pausable_output: true

``load_scenario(path)`` checks every field and reports *all* problems at once, each naming the
file, the field and the value. Times must be finite (an infinite delay would never arrive), flags
must be true/false (not strings, which ``bool()`` would read as true), and a key given twice is an
error rather than the last one winning. ``scenario.run()`` simulates it and returns the :class:`~agentlab.Run`.

Example::

    run = load_scenario("scenarios/weather.yaml").run()
    run.timeline()
"""

from __future__ import annotations

import dataclasses
import json
import os
import string
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ._files import MODE_NAME_ONLY, DuplicateKey, load_json, load_yaml, non_mode_turn_detection, not_utf8
from ._utils import atomic_write, is_finite_number
from .engine.inputs import UserSpeech
from .models.scripted import Rule, ScriptedLLM, ScriptedToolCall
from .models.tts import ScriptedTTS
from .session.agent import Agent
from .tools import FunctionTool, ToolError, function_tool

__all__ = ["Scenario", "ScenarioError", "load_scenario"]

_TOP_KEYS = {"name", "agent", "session", "user", "llm", "tools", "tts", "pausable_output", "default_reply"}
_TYPES = {"string": "string", "integer": "integer", "number": "number", "boolean": "boolean", "array": "array", "object": "object"}


class ScenarioError(ValueError):
    """A scenario file is invalid; ``problems`` lists every ``(field, message)`` found."""

    def __init__(self, source: str, problems: list[tuple[str, str]]) -> None:
        self.source = source
        self.problems = problems
        lines = "\n".join(f"  {source}: {where}: {msg}" for where, msg in problems)
        super().__init__(f"{len(problems)} problem(s) in scenario {source}:\n{lines}")


@dataclass
class Scenario:
    """A loaded, validated scenario (see the module docstring for the format)."""

    name: str
    user: list[UserSpeech]
    llm_rules: list[Rule]
    tools: dict[str, dict[str, Any]] = field(default_factory=dict)
    instructions: str = "You are a helpful voice assistant."
    session: dict[str, Any] = field(default_factory=dict)
    tts: dict[str, Any] = field(default_factory=dict)
    pausable_output: bool = True
    default_reply: str = "I'm sorry, I didn't catch that."
    source: str = "<dict>"
    raw: dict[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def from_dict(cls, data: Any, *, source: str = "<dict>") -> Scenario:
        """Validate ``data`` and build a scenario; raises :class:`ScenarioError` listing every problem."""
        problems: list[tuple[str, str]] = []

        def bad(where: str, msg: str) -> None:
            problems.append((where, msg))

        if not isinstance(data, Mapping):
            raise ScenarioError(source, [("<top>", f"expected a mapping of fields, got {type(data).__name__}")])
        for key in sorted(set(data) - _TOP_KEYS):
            bad(key, f"unknown field (expected one of {sorted(_TOP_KEYS)})")
        user = _parse_user(data.get("user"), bad)
        rules = _parse_llm(data.get("llm", []), bad)
        tools = _parse_tools(data.get("tools", {}), bad)
        tts = data.get("tts", {}) or {}
        if not isinstance(tts, Mapping):
            bad("tts", f"expected a mapping, got {tts!r}")
            tts = {}
        else:
            for key in sorted(set(tts) - {"ttfb", "words_per_minute", "durations"}, key=str):
                bad(f"tts.{key}", "unknown field (expected ttfb, words_per_minute, durations)")
            if "ttfb" in tts and not (is_finite_number(tts["ttfb"]) and tts["ttfb"] >= 0):
                bad("tts.ttfb", f"must be a finite number of seconds >= 0, got {tts['ttfb']!r}")
            if "words_per_minute" in tts and not (is_finite_number(tts["words_per_minute"]) and tts["words_per_minute"] > 0):
                bad("tts.words_per_minute", f"must be a finite number > 0, got {tts['words_per_minute']!r}")
            durations = tts.get("durations") or {}
            if not isinstance(durations, Mapping):
                bad("tts.durations", f"must map a reply's text to its seconds, got {durations!r}")
            for text, seconds in durations.items() if isinstance(durations, Mapping) else ():
                if not (isinstance(text, str) and is_finite_number(seconds) and seconds >= 0):
                    bad(f"tts.durations[{text!r}]", f"must be a finite number of seconds >= 0 for a text, got {seconds!r}")
        session = _parse_session(data.get("session", {}) or {}, bad)
        agent = data.get("agent", {}) or {}
        instructions = None
        if not isinstance(agent, Mapping):
            bad("agent", f"expected a mapping with instructions, got {agent!r}")
        else:
            for key in sorted(set(agent) - {"instructions"}, key=str):
                bad(f"agent.{key}", "unknown field (expected instructions)")
            instructions = agent.get("instructions", cls.instructions)
            if not isinstance(instructions, str):
                bad("agent.instructions", f"must be a string, got {instructions!r}")
        for key in ("name", "default_reply"):
            if key in data and not isinstance(data[key], str):
                bad(key, f"must be a string, got {data[key]!r}")
        # bool("no") is True: a quoted or misspelt flag must not flip the behaviour silently.
        if "pausable_output" in data and not isinstance(data["pausable_output"], bool):
            bad("pausable_output", f"must be true or false, got {data['pausable_output']!r}")
        for name in rules_tools(rules):
            if name not in tools:
                bad("llm", f"a response calls tool {name!r}, which is not declared under tools")
        if problems:
            raise ScenarioError(source, problems)
        return cls(
            name=str(data.get("name", Path(source).stem)),
            user=user,
            llm_rules=rules,
            tools=tools,
            instructions=instructions,  # type: ignore[arg-type]
            session=dict(session),
            tts=dict(tts),
            pausable_output=bool(data.get("pausable_output", True)),
            default_reply=str(data.get("default_reply", cls.default_reply)),
            source=source,
            raw=dict(data),
        )

    def make_agent(self) -> Agent:
        """A fresh agent with the scenario's instructions and tools."""
        return Agent(instructions=self.instructions, tools=[_fixed_tool(name, spec) for name, spec in self.tools.items()])

    def session_options(self) -> dict[str, Any]:
        """AgentSession keyword arguments: the scenario's options plus its scripted LLM and TTS."""
        return {
            **self.session,
            "llm": ScriptedLLM(rules=self.llm_rules, default=self.default_reply),
            "tts": ScriptedTTS(**self.tts),
        }

    def run(self) -> Any:
        """Simulate the scenario on a virtual clock; returns the :class:`~agentlab.Run`."""
        from .sim import simulate

        return simulate(self.make_agent, self.session_options(), self.user, pausable_output=self.pausable_output, name=self.name)

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the scenario back as JSON or YAML (by extension), atomically."""
        text = _dump(self.raw, Path(path).suffix)
        atomic_write(path, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))

    def __repr__(self) -> str:
        return f"Scenario({self.name!r}, {len(self.user)} user turns, {len(self.llm_rules)} responses, tools={sorted(self.tools)})"


def load_scenario(path: str | os.PathLike[str]) -> Scenario:
    """Read and validate a scenario from a ``.json``, ``.yaml`` or ``.yml`` file."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise ScenarioError(str(p), [("<file>", f"cannot be read ({exc.strerror or exc})")]) from None
    except UnicodeDecodeError as exc:
        raise ScenarioError(str(p), [("<file>", not_utf8(exc))]) from None
    if p.suffix.lower() in (".yaml", ".yml"):
        try:
            import yaml
        except ImportError:
            raise ScenarioError(str(p), [("<file>", "YAML needs PyYAML: pip install pyyaml (or use .json)")]) from None
        try:
            data = load_yaml(text)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "<file>"
            raise ScenarioError(str(p), [(where, f"invalid YAML: {getattr(exc, 'problem', exc)}")]) from None
    elif p.suffix.lower() == ".json":
        try:
            data = load_json(text)
        except json.JSONDecodeError as exc:
            raise ScenarioError(str(p), [(f"line {exc.lineno}, column {exc.colno}", f"invalid JSON: {exc.msg}")]) from None
        except DuplicateKey as exc:
            raise ScenarioError(str(p), [("<file>", f"invalid JSON: {exc}")]) from None
    else:
        raise ScenarioError(str(p), [("<file>", f"unsupported extension {p.suffix or '(none)'!r}; use .json, .yaml or .yml")])
    return Scenario.from_dict(data, source=str(p))


# --- parsing -----------------------------------------------------------------------------------


def _parse_session(raw: Any, bad: Any) -> dict[str, Any]:
    """AgentSession keyword arguments, validated by the session itself; ``vad`` is built from its fields."""
    from .audio.vad import VADOptions
    from .session.session import AgentSession

    if not isinstance(raw, Mapping):
        bad("session", f"expected a mapping of AgentSession options, got {raw!r}")
        return {}
    session = dict(raw)
    vad = session.get("vad")
    if vad is not None:
        # The session reads VAD settings by attribute, so a mapping would be ignored without a word.
        session.pop("vad")
        fields = [f.name for f in dataclasses.fields(VADOptions)]
        if not isinstance(vad, Mapping):
            bad("session.vad", f"expected a mapping of VADOptions fields ({', '.join(fields)}), got {vad!r}")
        elif set(vad) - set(fields):
            bad(f"session.vad.{sorted(map(str, set(vad) - set(fields)))[0]}", f"unknown field (expected one of {fields})")
        else:
            try:
                session["vad"] = VADOptions(**vad)
            except ValueError as exc:
                bad("session.vad", str(exc))
    problem = non_mode_turn_detection(session)
    if problem is not None:
        bad(f"session.{problem[0]}", f"{MODE_NAME_ONLY}, got {problem[1]!r}")
        return session
    try:
        AgentSession(**session)  # validates names, ranges and types with the session's own messages
    except (TypeError, ValueError) as exc:
        bad("session", str(exc))
    return session


def _parse_user(raw: Any, bad: Any) -> list[UserSpeech]:
    if not isinstance(raw, list) or not raw:
        bad("user", f"must be a non-empty list of spoken turns, got {raw!r}")
        return []
    out: list[UserSpeech] = []
    prev_end = None
    for i, turn in enumerate(raw):
        where = f"user[{i}]"
        if not isinstance(turn, Mapping):
            bad(where, f"expected a mapping with start, end and transcript, got {turn!r}")
            continue
        for key in sorted(set(turn) - {"start", "end", "transcript", "stt_delay", "interim", "confidence", "language"}):
            bad(f"{where}.{key}", "unknown field")
        start, end, text = turn.get("start"), turn.get("end"), turn.get("transcript", "")
        ok = True
        if not (is_finite_number(start) and start >= 0):
            bad(f"{where}.start", f"must be a finite number >= 0, got {start!r}")
            ok = False
        if not (is_finite_number(end) and (not is_finite_number(start) or end > start)):
            bad(f"{where}.end", f"must be a finite number greater than start ({start!r}), got {end!r}")
            ok = False
        if not isinstance(text, str):
            bad(f"{where}.transcript", f"must be a string, got {text!r}")
            ok = False
        stt = turn.get("stt_delay", 0.2)
        if not (is_finite_number(stt) and stt >= 0):
            bad(f"{where}.stt_delay", f"must be a finite number >= 0, got {stt!r}")
            ok = False
        if not isinstance(turn.get("interim", True), bool):
            bad(f"{where}.interim", f"must be true or false, got {turn['interim']!r}")
            ok = False
        confidence = turn.get("confidence")
        if confidence is not None and not (is_finite_number(confidence) and 0 <= confidence <= 1):
            bad(f"{where}.confidence", f"must be a number from 0 to 1 or null, got {confidence!r}")
            ok = False
        if not isinstance(turn.get("language"), (str, type(None))):
            bad(f"{where}.language", f"must be a language code (string) or null, got {turn['language']!r}")
            ok = False
        if ok and prev_end is not None and start < prev_end:
            bad(f"{where}.start", f"{start!r} overlaps the previous turn, which ends at {prev_end!r}")
            ok = False
        if ok:
            out.append(
                UserSpeech(
                    float(start),
                    float(end),
                    text,
                    stt_delay=float(stt),
                    interim=turn.get("interim", True),
                    confidence=confidence,
                    language=turn.get("language"),
                )
            )
            prev_end = end
    return out


def _parse_llm(raw: Any, bad: Any) -> list[Rule]:
    if not isinstance(raw, list):
        bad("llm", f"must be a list of responses, got {raw!r}")
        return []
    rules = []
    for i, r in enumerate(raw):
        where = f"llm[{i}]"
        if not isinstance(r, Mapping):
            bad(where, f"expected a mapping (match/after_tool, reply, tool_calls, ttft, duration), got {r!r}")
            continue
        for key in sorted(set(r) - {"match", "after_tool", "reply", "tool_calls", "ttft", "duration"}):
            bad(f"{where}.{key}", "unknown field")
        for key in ("ttft", "duration"):
            if key in r and not (is_finite_number(r[key]) and r[key] >= 0):
                bad(f"{where}.{key}", f"must be a finite number >= 0 (seconds), got {r[key]!r}")
        for key in ("reply", "after_tool"):
            if r.get(key) is not None and not isinstance(r[key], str):
                bad(f"{where}.{key}", f"must be a string, got {r[key]!r}")
        if "match" in r:
            import re

            try:
                re.compile(r["match"])
            except (re.error, TypeError) as exc:
                bad(f"{where}.match", f"is not a valid regular expression: {r['match']!r} ({exc})")
                continue
        calls = []
        raw_calls = r.get("tool_calls", []) or []
        if not isinstance(raw_calls, list):
            bad(f"{where}.tool_calls", f"must be a list of {{name: ..., arguments: {{...}}}}, got {raw_calls!r}")
            raw_calls = []
        for j, c in enumerate(raw_calls):
            if not isinstance(c, Mapping) or not isinstance(c.get("name"), str):
                bad(f"{where}.tool_calls[{j}]", f"expected {{name: ..., arguments: {{...}}}}, got {c!r}")
                continue
            args = c.get("arguments", {})
            if not isinstance(args, (Mapping, str)):
                bad(f"{where}.tool_calls[{j}].arguments", f"must be a mapping or a JSON string, got {args!r}")
                continue
            calls.append(ScriptedToolCall(c["name"], dict(args) if isinstance(args, Mapping) else args))
        rules.append(
            Rule(
                pattern=r.get("match"),
                reply=r.get("reply"),
                tool_calls=tuple(calls),
                after_tool=r.get("after_tool"),
                ttft=r.get("ttft"),
                duration=r.get("duration"),
            )
        )
    return rules


def rules_tools(rules: list[Rule]) -> set[str]:
    """Tool names the responses call."""
    return {c.name for r in rules for c in r.tool_calls}


def _parse_tools(raw: Any, bad: Any) -> dict[str, dict[str, Any]]:
    if not isinstance(raw, Mapping):
        bad("tools", f"must be a mapping of tool name to {{output|error, description, parameters}}, got {raw!r}")
        return {}
    out = {}
    for name, spec in raw.items():
        where = f"tools.{name}"
        if not isinstance(spec, Mapping):
            bad(where, f"expected a mapping, got {spec!r}")
            continue
        for key in sorted(set(spec) - {"output", "error", "description", "parameters"}):
            bad(f"{where}.{key}", "unknown field")
        params = spec.get("parameters", {}) or {}
        if not isinstance(params, Mapping) or any(not isinstance(t, str) or t not in _TYPES for t in params.values()):
            bad(f"{where}.parameters", f"must map parameter names to one of {sorted(_TYPES)}, got {params!r}")
            continue
        output = spec.get("output")
        if isinstance(output, str):
            # The output is filled from the call's arguments; an undeclared {field} fails every call.
            try:
                fields = {f.split(".")[0].split("[")[0] for _, f, _, _ in string.Formatter().parse(output) if f is not None}
            except ValueError as exc:
                bad(f"{where}.output", f"is not a valid template: {output!r} ({exc})")
                continue
            unknown = sorted(fields - {str(k) for k in params})
            if unknown:
                bad(f"{where}.output", f"uses {{{unknown[0]}}}, which is not one of its parameters {sorted(map(str, params))}: {output!r}")
                continue
        out[str(name)] = dict(spec)
    return out


def _fixed_tool(name: str, spec: Mapping[str, Any]) -> FunctionTool:
    params = spec.get("parameters", {}) or {}
    schema = {"type": "object", "properties": {p: {"type": _TYPES[t]} for p, t in params.items()}, "required": list(params)}

    async def call(raw_arguments: dict[str, Any]) -> Any:
        if "error" in spec:
            raise ToolError(str(spec["error"]))
        output = spec.get("output")
        return output.format(**raw_arguments) if isinstance(output, str) else output

    return function_tool(call, raw_schema={"name": name, "description": spec.get("description", ""), "parameters": schema})


def _dump(data: Any, suffix: str) -> str:
    if suffix.lower() in (".yaml", ".yml"):
        import yaml

        return yaml.safe_dump(data, sort_keys=False, allow_unicode=True)
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"
