"""Reading, validating and writing labelled turn datasets (the format is in ``datasets/README.md``).

:func:`load` reads a dataset folder (or a bundled dataset by name) and checks every rule of the
format, collecting *all* problems before it raises one :class:`DatasetError` that lists them, each
as a :class:`Problem` naming the file, the field, the index and the value. Loading never decodes
audio: the checks read only the audio files' headers (``soundfile.info``), and
:meth:`Conversation.load_audio` decodes on demand.

:class:`Dataset` is the in-memory dataset: iterate it, index it by position or conversation id,
look at its labels as a DataFrame (:meth:`Dataset.frame`), count them (:meth:`Dataset.summary`),
and write it back (:meth:`Dataset.save`, atomically, file by file).

Bundled datasets ship inside the package (``agentlab/datasets/bundled``, built from the
repository's top-level ``datasets/`` folder, which a source checkout reads directly); the
environment variable ``AGENTLAB_DATASETS`` points elsewhere; :func:`list_datasets` names them.

Example::

    ds = load("dictation")
    ds.summary()["hold"]
    ds.frame().query("kind == 'hold'")["duration"].describe()
    ds["conv_0001"].spans
"""

from __future__ import annotations

import contextlib
import dataclasses
import html
import itertools
import json
import os
import re
import shutil
import warnings
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, NamedTuple

import pandas as pd

from .._utils import atomic_write, is_finite_number
from .model import (
    SPAN_KINDS,
    AgentSpeech,
    Conversation,
    ExpectedToolCall,
    Overlap,
    Span,
    Turn,
    Word,
)

__all__ = [
    "FRAME_COLUMNS",
    "Dataset",
    "DatasetError",
    "Problem",
    "conversation_from_dict",
    "conversation_to_dict",
    "datasets_root",
    "list_datasets",
    "load",
]

#: Columns of :meth:`Dataset.frame`, in order.
FRAME_COLUMNS = ["conversation", "kind", "start", "end", "duration", "turn", "agent", "transcript"]
#: Tolerance (seconds) for "matches": a turn's first/last word, an eot's start, words inside their turn.
TIME_TOLERANCE = 0.01
#: Tolerance (seconds) between an audio file's length and the conversation's ``duration``; label
#: times may also end up to this much past ``duration`` (annotation tools round to frames).
AUDIO_DURATION_TOLERANCE = 0.05
MANIFEST = "manifest.json"
ENV_VAR = "AGENTLAB_DATASETS"

_NAME_RE = re.compile(r"^[a-z0-9_-]+$")
_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
_MANIFEST_KEYS = {"name", "version", "description", "license", "source", "sample_rate", "conversations", "generator", "session_options"}
_MANIFEST_REQUIRED = ("name", "version", "description", "license", "source", "sample_rate", "conversations")
_CONV_KEYS = (
    "id",
    "audio",
    "channel",
    "mask",
    "duration",
    "turns",
    "spans",
    "agent",
    "overlaps",
    "expected_tools",
    "text_turns",
    "metadata",
)
_CONV_REQUIRED = ("id", "duration")
_TURN_KEYS = {"start", "end", "transcript", "words"}
_SPAN_KEYS = {"kind", "start", "end", "turn"}
_AGENT_KEYS = {"start", "end", "text"}
_OVERLAP_KEYS = {"kind", "start", "end", "agent", "transcript"}
_TOOL_KEYS = {"name", "arguments", "turn"}
_SPAN_KINDS = ("hold", "eot")
_OVERLAP_KINDS = ("barge_in", "backchannel", "noise")
# metadata: the documented keys are type-checked; anything else is allowed.
_METADATA_TYPES: dict[str, tuple[str, Callable[[Any], bool]]] = {
    "voice": ("a string or null", lambda v: v is None or isinstance(v, str)),
    "speaking_rate": ("a number (words per minute) or null", lambda v: v is None or is_finite_number(v)),
    "noise": ("a string (the noise kind) or null", lambda v: v is None or isinstance(v, str)),
    "snr_db": ("a number or null", lambda v: v is None or is_finite_number(v)),
    "language": ("a BCP-47 string", lambda v: v is None or isinstance(v, str)),
    "source": ("a string", lambda v: v is None or isinstance(v, str)),
    "license": ("a string (SPDX id)", lambda v: v is None or isinstance(v, str)),
}


# --------------------------------------------------------------------------------------------------
# problems


class Problem(NamedTuple):
    """One thing wrong with a dataset.

    ``file`` is the file the problem is in (``manifest.json``, ``<id>.json``; for imports
    ``<file>:<line>``), ``field`` the field (for list entries the list, e.g. ``spans`` or
    ``turns[2].words``), ``index`` the entry's index in that list (or ``None``), ``value`` the
    offending value and ``message`` what is wrong (naming the entry's key when there is one).
    """

    file: str
    field: str
    index: int | None
    value: Any
    message: str

    def __str__(self) -> str:
        where = self.field if self.index is None else f"{self.field}[{self.index}]"
        return f"{self.file}: {where} = {_short(self.value)}: {self.message}"


class DatasetError(ValueError):
    """A dataset (or an import) is invalid; ``problems`` lists every :class:`Problem` found.

    The message lists each as ``file: field[index] = value: message``.

    Example::

        try:
            load("my_data")
        except DatasetError as e:
            for p in e.problems:
                print(p.file, p.field, p.index, p.value, p.message)
    """

    def __init__(self, source: str, problems: list[Problem]) -> None:
        self.source = source
        self.problems = list(problems)
        lines = "\n".join(f"  {p}" for p in self.problems)
        super().__init__(f"{len(self.problems)} problem(s) in dataset {source}:\n{lines}")


def _short(value: Any, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _tool_dict(c: ExpectedToolCall) -> dict[str, Any]:
    return {"name": c.name, "arguments": dict(c.arguments), **({"turn": c.turn} if c.turn is not None else {})}


def _is_index(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


# --------------------------------------------------------------------------------------------------
# locating datasets


def datasets_root() -> Path:
    """The folder of bundled datasets: ``$AGENTLAB_DATASETS``; else the copy an installed wheel
    holds (``agentlab/datasets/bundled``); else, in a source checkout, the repository's ``datasets/``.

    Example::

        datasets_root() / "dictation" / "manifest.json"
    """
    env = os.environ.get(ENV_VAR)
    if env:
        return Path(env).expanduser()
    here = Path(__file__).resolve().parent
    packaged = here / "bundled"  # a wheel maps the top-level datasets/ here (pyproject's package-dir)
    return packaged if packaged.is_dir() else here.parents[1] / "datasets"


def _no_bundled_fix(root: Path) -> str:
    """How to get the bundled datasets back when ``root`` holds none (one clause, for error messages)."""
    if os.environ.get(ENV_VAR):
        return f"${ENV_VAR} points to {root}, which holds none: unset it, or point it to a folder of datasets"
    return f"none found in {root}: reinstall with pip install --force-reinstall agentlab-voice, or set ${ENV_VAR} to a folder of datasets"


def list_datasets() -> list[str]:
    """Names of the bundled datasets (folders of :func:`datasets_root` holding a ``manifest.json``), sorted.

    Example::

        agentlab.datasets.list()    # ['dictation', 'tasks', ...]
    """
    root = datasets_root()
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir() if p.is_dir() and (p / MANIFEST).is_file())


def _locate(name_or_path: str | os.PathLike[str]) -> tuple[Path, bool]:
    """The dataset folder, and whether it is a bundled dataset (its name must equal the folder's)."""
    if not isinstance(name_or_path, (str, os.PathLike)):
        raise TypeError(f"load: expected a dataset name or folder (str or path), got {type(name_or_path).__name__} {name_or_path!r}")
    if name_or_path == "":
        raise FileNotFoundError("no dataset '': give a bundled dataset's name or a folder (use '.' for the current folder)")
    root = datasets_root()
    if isinstance(name_or_path, str) and name_or_path and not any(sep in name_or_path for sep in ("/", "\\", os.sep)):
        if (root / name_or_path / MANIFEST).is_file():
            return root / name_or_path, True
    p = Path(name_or_path).expanduser()
    if p.is_file() and p.name == MANIFEST:
        p = p.parent
    if p.is_dir():
        try:
            bundled = p.resolve().parent == root.resolve()
        except OSError:
            bundled = False
        return p, bundled
    names = list_datasets()
    bundled_names = f"bundled in {root}: {', '.join(names)}" if names else f"bundled: {_no_bundled_fix(root)}"
    raise FileNotFoundError(f"no dataset {str(name_or_path)!r}: not a dataset folder, nor a bundled dataset ({bundled_names})")


# --------------------------------------------------------------------------------------------------
# validation (on the JSON data, so that files and in-memory datasets share every rule)


def _read_json(path: Path, file: str, problems: list[Problem]) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        problems.append(Problem(file, "<file>", None, str(path), "does not exist"))
        return None
    except (OSError, UnicodeDecodeError) as exc:
        problems.append(Problem(file, "<file>", None, str(path), f"cannot be read ({exc})"))
        return None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        problems.append(Problem(file, "<file>", None, f"line {exc.lineno}, column {exc.colno}", f"invalid JSON: {exc.msg}"))
        return None


def _check_manifest(data: Any, problems: list[Problem], *, folder_name: str | None) -> list[str]:
    """Check the manifest's fields; returns the conversation ids worth reading."""
    file = MANIFEST
    if not isinstance(data, Mapping):
        problems.append(Problem(file, "<top>", None, type(data).__name__, "expected a JSON object"))
        return []
    for key in sorted(set(data) - _MANIFEST_KEYS, key=str):
        problems.append(Problem(file, str(key), None, data[key], f"unknown field (expected one of {sorted(_MANIFEST_KEYS)})"))
    for key in _MANIFEST_REQUIRED:
        if key not in data:
            problems.append(Problem(file, key, None, None, "missing required field"))
    for key in ("name", "version", "description", "license", "source"):
        if key in data and not isinstance(data[key], str):
            problems.append(Problem(file, key, None, data[key], "must be a string"))
    name = data.get("name")
    if isinstance(name, str):
        if not _NAME_RE.match(name):
            problems.append(Problem(file, "name", None, name, "must match [a-z0-9_-]+"))
        elif folder_name is not None and name != folder_name:
            problems.append(Problem(file, "name", None, name, f"a bundled dataset's name must equal its folder's name {folder_name!r}"))
    if "sample_rate" in data and not (_is_index(data["sample_rate"]) and data["sample_rate"] > 0):
        problems.append(Problem(file, "sample_rate", None, data["sample_rate"], "must be a positive integer (Hz)"))
    if "generator" in data and not isinstance(data["generator"], Mapping):
        problems.append(Problem(file, "generator", None, data["generator"], "must be an object {script, seed, version}"))
    if "session_options" in data:
        problems += _session_option_problems(file, data["session_options"])
    ids: list[str] = []
    convs = data.get("conversations", [])
    if not isinstance(convs, list):
        problems.append(Problem(file, "conversations", None, convs, "must be a list of conversation ids"))
        return []
    seen: set[str] = set()
    for i, cid in enumerate(convs):
        if not isinstance(cid, str) or not _ID_RE.match(cid):
            problems.append(Problem(file, "conversations", i, cid, "must be a conversation id (letters, digits, '_', '-', '.')"))
        elif cid in seen:
            problems.append(Problem(file, "conversations", i, cid, "duplicate conversation id"))
        else:
            seen.add(cid)
            ids.append(cid)
    return ids


def _session_option_problems(file: str, value: Any) -> list[Problem]:
    """A manifest's ``session_options``: AgentSession keyword arguments its recordings call for."""
    if not isinstance(value, Mapping):
        return [Problem(file, "session_options", None, value, "must be an object of AgentSession option arguments")]
    from ..sweeps.run import base_session_options

    try:
        base_session_options(dict(value))
    except (TypeError, ValueError) as e:
        return [Problem(file, "session_options", None, value, str(e).removeprefix("sweep: base_options "))]
    return []


class _ConvChecker:
    """Checks one conversation's JSON data; collects problems and builds the :class:`Conversation`."""

    def __init__(self, file: str, problems: list[Problem]) -> None:
        self.file = file
        self.problems = problems
        self.ok = True

    def bad(self, field: str, index: int | None, value: Any, message: str) -> None:
        self.problems.append(Problem(self.file, field, index, value, message))
        self.ok = False

    def keys(self, field: str, index: int | None, entry: Any, allowed: set[str], required: tuple[str, ...]) -> bool:
        if not isinstance(entry, Mapping):
            self.bad(field, index, entry, f"expected an object with {', '.join(sorted(allowed))}")
            return False
        for key in sorted(set(entry) - allowed, key=str):
            self.bad(field, index, key, f"unknown field {key!r} (expected one of {sorted(allowed)})")
        good = True
        for key in required:
            if key not in entry:
                self.bad(field, index, None, f"missing required field {key!r}")
                good = False
        return good

    def interval(self, field: str, index: int | None, start: Any, end: Any, duration: float | None) -> bool:
        """``0 <= start < end <= duration``; reports each broken part."""
        good = True
        if not is_finite_number(start):
            self.bad(field, index, start, "start must be a number")
            good = False
        elif start < 0:
            self.bad(field, index, start, "start must be >= 0")
            good = False
        if not is_finite_number(end):
            self.bad(field, index, end, "end must be a number")
            good = False
        elif duration is not None and end > duration + AUDIO_DURATION_TOLERANCE:
            self.bad(field, index, end, f"end must be <= duration ({duration}), within {AUDIO_DURATION_TOLERANCE * 1000:g} ms")
            good = False
        if good and end <= start:
            self.bad(field, index, end, f"end must be greater than start ({start}); negative or empty interval")
            good = False
        return good

    def check(self, data: Any, cid: str, *, sample_rate: int | None, audio_path: Path | None, check_rate: bool) -> Conversation | None:
        if not isinstance(data, Mapping):
            self.bad("<top>", None, type(data).__name__, "expected a JSON object")
            return None
        for key in sorted(set(data) - set(_CONV_KEYS), key=str):
            self.bad(str(key), None, data[key], f"unknown field (expected one of {list(_CONV_KEYS)})")
        for key in _CONV_REQUIRED:
            if key not in data:
                self.bad(key, None, None, "missing required field")
        if "id" in data and data["id"] != cid:
            self.bad("id", None, data["id"], f"must equal the file name without .json ({cid!r})")
        duration = data.get("duration")
        if "duration" in data and not (is_finite_number(duration) and duration > 0):
            self.bad("duration", None, duration, "must be a number > 0 (seconds)")
            duration = None
        dur = float(duration) if duration is not None else None

        turns = self.turns(self.list_field(data, "turns"), dur)
        spans = self.spans(self.list_field(data, "spans"), turns, dur)
        agent = self.agent(self.list_field(data, "agent"), dur)
        overlaps = self.overlaps(self.list_field(data, "overlaps"), agent, dur)
        text_turns = self.list_field(data, "text_turns")
        tools = self.tools(self.list_field(data, "expected_tools"), len(text_turns))
        for i, t in enumerate(text_turns):
            if not isinstance(t, str):
                self.bad("text_turns", i, t, "must be a string (a user message)")
        metadata = data.get("metadata", {})
        if metadata is None:
            metadata = {}
        if not isinstance(metadata, Mapping):
            self.bad("metadata", None, metadata, "must be an object")
            metadata = {}
        for key, (what, ok) in _METADATA_TYPES.items():
            if key in metadata and not ok(metadata[key]):
                self.bad(f"metadata.{key}", None, metadata[key], f"must be {what}")

        audio = data.get("audio")
        channel = data.get("channel")
        if channel is not None and not (_is_index(channel) and channel >= 0):
            self.bad("channel", None, channel, "must be the user's channel index (0 = first/left) or null")
            channel = None
        mask = []
        for i, m in enumerate(self.list_field(data, "mask")):
            if not (isinstance(m, list) and len(m) == 2):
                self.bad("mask", i, m, "must be a [start, end] pair (seconds)")
            elif self.interval("mask", i, m[0], m[1], dur):
                mask.append((float(m[0]), float(m[1])))
        if mask and audio is None:
            self.bad("mask", None, data.get("mask"), "a mask silences stretches of the audio; this conversation has none")
        resolved: Path | None = None
        if audio is not None:
            if not isinstance(audio, str) or not audio:
                self.bad("audio", None, audio, "must be a relative file name (string) or null")
            elif audio_path is None:
                self.bad("audio", None, audio, "must be relative to the dataset folder")
            else:
                resolved = audio_path
                self.audio(audio, resolved, dur, sample_rate, check_rate, channel)
        elif channel is not None:
            self.bad("channel", None, channel, "picks a channel of the audio; this conversation has none")
        if not self.ok or dur is None:
            return None
        return Conversation(
            id=cid,
            duration=dur,
            turns=tuple(turns),  # type: ignore[arg-type]
            spans=tuple(spans),  # type: ignore[arg-type]
            agent=tuple(agent),  # type: ignore[arg-type]
            overlaps=tuple(overlaps),  # type: ignore[arg-type]
            expected_tools=tuple(tools),
            text_turns=tuple(text_turns),
            audio=resolved,
            sample_rate=sample_rate or 16000,
            metadata=dict(metadata),
            channel=channel,
            mask=tuple(sorted(mask)),
        )

    def list_field(self, data: Mapping[str, Any], key: str) -> list[Any]:
        value = data.get(key, [])
        if value is None:
            return []
        if not isinstance(value, list):
            self.bad(key, None, value, "must be a list")
            return []
        return value

    def turns(self, raw: list[Any], dur: float | None) -> list[Turn | None]:
        out: list[Turn | None] = []
        prev: Turn | None = None
        prev_i = -1
        for i, t in enumerate(raw):
            if not self.keys("turns", i, t, _TURN_KEYS, ("start", "end")):
                out.append(None)
                continue
            good = self.interval("turns", i, t["start"], t["end"], dur)
            transcript = t.get("transcript", "")
            if not isinstance(transcript, str):
                self.bad("turns", i, transcript, "transcript must be a string")
                good = False
            # Bad words are reported but keep the turn (its interval is fine) for the ordering and span checks.
            words = self.words(i, t.get("words", []), t["start"], t["end"], good)
            if not good:
                out.append(None)
                continue
            turn = Turn(float(t["start"]), float(t["end"]), transcript, tuple(words or ()))
            if prev is not None and turn.start < prev.end - 1e-9:
                self.bad(
                    "turns", i, turn.start, f"start is before turns[{prev_i}] ends ({prev.end}): turns must be ordered and not overlap"
                )
            prev, prev_i = turn, i
            out.append(turn)
        return out

    def words(self, ti: int, raw: Any, start: Any, end: Any, turn_ok: bool) -> list[Word] | None:
        field = f"turns[{ti}].words"
        if raw is None:
            return []
        if not isinstance(raw, list):
            self.bad(field, None, raw, "must be a list of [word, start, end]")
            return None
        words: list[Word] = []
        good = True
        for j, w in enumerate(raw):
            triple = isinstance(w, (list, tuple)) and len(w) == 3
            if not (triple and isinstance(w[0], str) and is_finite_number(w[1]) and is_finite_number(w[2])):
                self.bad(field, j, w, "must be [word, start, end] (a string and two numbers)")
                good = False
                continue
            word = Word(w[0], float(w[1]), float(w[2]))
            if word.end <= word.start:
                self.bad(field, j, list(w), "end must be greater than start")
                good = False
            if turn_ok and (word.start < start - TIME_TOLERANCE or word.end > end + TIME_TOLERANCE):
                self.bad(field, j, list(w), f"word lies outside its turn [{start}, {end}]")
                good = False
            if words and word.start < words[-1].end - TIME_TOLERANCE:
                self.bad(field, j, list(w), f"starts before the previous word ends ({words[-1].end}): words must be in order")
                good = False
            words.append(word)
        if good and words and turn_ok:
            if abs(words[0].start - start) > TIME_TOLERANCE:
                self.bad(field, 0, words[0].start, f"the first word must start at the turn's start ({start}, within 10 ms)")
                good = False
            if abs(words[-1].end - end) > TIME_TOLERANCE:
                self.bad(field, len(words) - 1, words[-1].end, f"the last word must end at the turn's end ({end}, within 10 ms)")
                good = False
        return words if good else None

    def spans(self, raw: list[Any], turns: list[Turn | None], dur: float | None) -> list[Span | None]:
        out: list[Span | None] = []
        for i, s in enumerate(raw):
            if not self.keys("spans", i, s, _SPAN_KEYS, ("kind", "start", "end", "turn")):
                out.append(None)
                continue
            good = True
            if s["kind"] not in _SPAN_KINDS:
                self.bad("spans", i, s["kind"], f"kind must be one of {', '.join(_SPAN_KINDS)} (overlap kinds go under overlaps)")
                good = False
            good = self.interval("spans", i, s["start"], s["end"], dur) and good
            ti = s["turn"]
            turn = None
            if not _is_index(ti) or not 0 <= ti < len(turns):
                self.bad("spans", i, ti, f"turn must be the index of a turn (0..{len(turns) - 1})")
                good = False
            else:
                turn = turns[ti]
            if good and turn is not None:
                if s["kind"] == "hold" and (s["start"] < turn.start - TIME_TOLERANCE or s["end"] > turn.end + TIME_TOLERANCE):
                    self.bad("spans", i, [s["start"], s["end"]], f"a hold must lie inside its turn turns[{ti}] [{turn.start}, {turn.end}]")
                    good = False
                if s["kind"] == "eot" and abs(s["start"] - turn.end) > TIME_TOLERANCE:
                    self.bad("spans", i, s["start"], f"an eot must start at its turn's end ({turn.end}, within 10 ms)")
                    good = False
            out.append(Span(s["kind"], float(s["start"]), float(s["end"]), ti) if good else None)
        ordered = sorted(((s, i) for i, s in enumerate(out) if s is not None), key=lambda p: (p[0].start, p[1]))
        for (a, ia), (b, ib) in itertools.pairwise(ordered):
            if b.start < a.end - 1e-9:
                self.bad("spans", ib, [b.start, b.end], f"overlaps spans[{ia}] [{a.start}, {a.end}]: spans must not overlap")
        return out

    def agent(self, raw: list[Any], dur: float | None) -> list[AgentSpeech | None]:
        out: list[AgentSpeech | None] = []
        prev: tuple[int, AgentSpeech] | None = None
        for i, a in enumerate(raw):
            if not self.keys("agent", i, a, _AGENT_KEYS, ("start", "end")):
                out.append(None)
                continue
            good = self.interval("agent", i, a["start"], a["end"], dur)
            text = a.get("text", "")
            if not isinstance(text, str):
                self.bad("agent", i, text, "text must be a string")
                good = False
            if not good:
                out.append(None)
                continue
            speech = AgentSpeech(float(a["start"]), float(a["end"]), text)
            if prev is not None and speech.start < prev[1].end - 1e-9:
                self.bad(
                    "agent",
                    i,
                    speech.start,
                    f"starts before agent[{prev[0]}] ends ({prev[1].end}): agent speech must be ordered, not overlapping",
                )
            prev = (i, speech)
            out.append(speech)
        return out

    def overlaps(self, raw: list[Any], agent: list[AgentSpeech | None], dur: float | None) -> list[Overlap | None]:
        out: list[Overlap | None] = []
        for i, o in enumerate(raw):
            if not self.keys("overlaps", i, o, _OVERLAP_KEYS, ("kind", "start", "end", "agent")):
                out.append(None)
                continue
            good = True
            if o["kind"] not in _OVERLAP_KINDS:
                self.bad("overlaps", i, o["kind"], f"kind must be one of {', '.join(_OVERLAP_KINDS)}")
                good = False
            good = self.interval("overlaps", i, o["start"], o["end"], dur) and good
            transcript = o.get("transcript")
            if transcript is not None and not isinstance(transcript, str):
                self.bad("overlaps", i, transcript, "transcript must be a string or null")
                good = False
            ai = o["agent"]
            if not _is_index(ai) or not 0 <= ai < len(agent):
                self.bad("overlaps", i, ai, f"agent must be the index of an agent speech (0..{len(agent) - 1})")
                good = False
            elif good and (a := agent[ai]) is not None and not (a.start - TIME_TOLERANCE <= o["start"] < a.end):
                self.bad("overlaps", i, o["start"], f"must start inside agent[{ai}] [{a.start}, {a.end})")
                good = False
            out.append(Overlap(o["kind"], float(o["start"]), float(o["end"]), ai, transcript) if good else None)
        return out

    def tools(self, raw: list[Any], n_text_turns: int) -> list[ExpectedToolCall]:
        out = []
        for i, c in enumerate(raw):
            if not self.keys("expected_tools", i, c, _TOOL_KEYS, ("name", "arguments")):
                continue
            good = True
            if not isinstance(c["name"], str) or not c["name"].strip():
                self.bad("expected_tools", i, c["name"], "name must be a non-empty string")
                good = False
            if not isinstance(c["arguments"], Mapping):
                self.bad("expected_tools", i, c["arguments"], "arguments must be an object")
                good = False
            turn = c.get("turn")
            if turn is not None and not (_is_index(turn) and 0 <= turn < n_text_turns):
                self.bad("expected_tools", i, turn, f"turn must be the index of a text turn (0..{n_text_turns - 1}) or null")
                good = False
            if good:
                out.append(ExpectedToolCall(c["name"], dict(c["arguments"]), turn))
        return out

    def audio(self, rel: str, path: Path, dur: float | None, sample_rate: int | None, check_rate: bool, channel: int | None = None) -> None:
        import soundfile as sf

        if path.is_dir():
            self.bad("audio", None, rel, f"{path.name} is a directory, not an audio file ({path})")
            return
        if not path.is_file():
            self.bad("audio", None, rel, f"audio file {path.name} does not exist ({path})")
            return
        try:
            info = sf.info(str(path))
        except (sf.SoundFileError, RuntimeError, TypeError, ValueError) as exc:
            self.bad("audio", None, rel, f"audio file {path.name} is not readable audio: {exc}")
            return
        if info.frames <= 0 or info.samplerate <= 0:
            self.bad("audio", None, rel, f"audio file {path.name} is empty")
            return
        if check_rate and sample_rate is not None and info.samplerate != sample_rate:
            self.bad(
                "audio",
                None,
                info.samplerate,
                f"audio file {path.name} has sample rate {info.samplerate} Hz; the manifest says {sample_rate} Hz",
            )
        if channel is not None and channel >= info.channels:
            self.bad("channel", None, channel, f"audio file {path.name} has {info.channels} channel(s) (indices 0..{info.channels - 1})")
        elif channel is None and info.channels > 1:
            warnings.warn(
                f"{self.file}: audio file {path.name} has {info.channels} channels and no 'channel' says which is the user's; "
                "they are averaged, so a voice on another channel (the agent's) reaches the VAD and STT as the user's",
                UserWarning,
                stacklevel=2,
            )
        length = info.frames / info.samplerate
        if dur is not None and abs(length - dur) > AUDIO_DURATION_TOLERANCE:
            self.bad("duration", None, dur, f"audio file {path.name} lasts {length:.3f} s; duration must match it within 50 ms")


# --------------------------------------------------------------------------------------------------
# serialisation


def conversation_to_dict(conv: Conversation, *, audio: str | None = None) -> dict[str, Any]:
    """The ``<id>.json`` data of ``conv``; ``audio`` is the relative file name to record (default ``<id>.flac``).

    ``channel`` and ``mask`` are written only when set.
    """
    optional: dict[str, Any] = {}
    if conv.channel is not None:
        optional["channel"] = conv.channel
    if conv.mask:
        optional["mask"] = [[a, b] for a, b in conv.mask]
    return {
        "id": conv.id,
        "audio": (audio or f"{conv.id}.flac") if conv.audio is not None else None,
        **optional,
        "duration": conv.duration,
        "turns": [
            {"start": t.start, "end": t.end, "transcript": t.transcript, "words": [[w.text, w.start, w.end] for w in t.words]}
            for t in conv.turns
        ],
        "spans": [{"kind": s.kind, "start": s.start, "end": s.end, "turn": s.turn} for s in conv.spans],
        "agent": [{"start": a.start, "end": a.end, "text": a.text} for a in conv.agent],
        "overlaps": [{"kind": o.kind, "start": o.start, "end": o.end, "agent": o.agent, "transcript": o.transcript} for o in conv.overlaps],
        "expected_tools": [_tool_dict(c) for c in conv.expected_tools],
        "text_turns": list(conv.text_turns),
        "metadata": dict(conv.metadata),
    }


def conversation_from_dict(data: Any, *, folder: str | os.PathLike[str] | None = None, sample_rate: int = 16000) -> Conversation:
    """Validate one conversation's JSON data and build it; raises :class:`DatasetError` listing every problem.

    ``folder`` resolves the relative ``audio`` file (and enables the audio checks).
    """
    cid = data.get("id") if isinstance(data, Mapping) else None
    file = f"{cid}.json" if isinstance(cid, str) else "<conversation>"
    problems: list[Problem] = []
    audio_path = (
        Path(folder) / data["audio"] if folder is not None and isinstance(data, Mapping) and isinstance(data.get("audio"), str) else None
    )
    conv = _ConvChecker(file, problems).check(
        data, cid if isinstance(cid, str) else "", sample_rate=sample_rate, audio_path=audio_path, check_rate=True
    )
    if problems or conv is None:
        raise DatasetError(file, problems)
    return conv


def _load_conversation(folder: Path, cid: str, sample_rate: int | None, problems: list[Problem]) -> Conversation | None:
    file = f"{cid}.json"
    n = len(problems)
    data = _read_json(folder / file, file, problems)
    if len(problems) > n:
        return None
    audio = data.get("audio") if isinstance(data, Mapping) else None
    audio_path = None
    if isinstance(audio, str) and audio:
        if Path(audio).is_absolute() or ".." in Path(audio).parts:
            problems.append(Problem(file, "audio", None, audio, "must be a file name relative to the dataset folder (inside it)"))
            return None
        audio_path = folder / audio
    return _ConvChecker(file, problems).check(data, cid, sample_rate=sample_rate, audio_path=audio_path, check_rate=True)


def load(name_or_path: str | os.PathLike[str]) -> Dataset:
    """Read and validate a dataset: a folder, or the name of a bundled dataset (see :func:`list_datasets`).

    Checks every rule of ``datasets/README.md`` and raises one :class:`DatasetError` listing all the
    problems found. Audio is not decoded (only its header is read); use
    :meth:`Conversation.load_audio`.

    Example::

        ds = load("dictation")              # bundled
        ds = load("~/data/my_calls")        # a folder
    """
    folder, bundled = _locate(name_or_path)
    problems: list[Problem] = []
    manifest = _read_json(folder / MANIFEST, MANIFEST, problems)
    if problems:
        raise DatasetError(str(folder), problems)
    ids = _check_manifest(manifest, problems, folder_name=folder.name if bundled else None)
    rate = manifest.get("sample_rate") if isinstance(manifest, Mapping) else None
    rate = rate if _is_index(rate) and rate > 0 else None
    convs = []
    for i, cid in enumerate(ids):
        if not (folder / f"{cid}.json").is_file():
            problems.append(
                Problem(MANIFEST, "conversations", _manifest_index(manifest, cid, i), cid, f"{cid}.json does not exist in {folder}")
            )
            continue
        conv = _load_conversation(folder, cid, rate, problems)
        if conv is not None:
            convs.append(conv)
    if problems:
        raise DatasetError(str(folder), problems)
    return Dataset(manifest["name"], dict(manifest), convs, path=folder)


def _manifest_index(manifest: Mapping[str, Any], cid: str, default: int) -> int:
    try:
        return list(manifest["conversations"]).index(cid)
    except (KeyError, ValueError, TypeError):
        return default


# --------------------------------------------------------------------------------------------------
# the dataset


class Dataset:
    """A labelled turn dataset: ``name``, ``path`` (the folder, ``None`` for an unsaved import),
    ``manifest`` (the manifest's fields, a dict) and ``conversations`` (a tuple of
    :class:`~agentlab.datasets.Conversation`).

    ``len(ds)``, ``for conv in ds``, ``ds[0]`` and ``ds["conv_0001"]`` work as expected.

    Example::

        ds = agentlab.datasets.load("dictation")
        ds.summary()
        ds.frame().groupby("kind")["duration"].median()
        ds.save("/tmp/copy")
    """

    def __init__(self, name: str, manifest: Mapping[str, Any], conversations: Any, *, path: str | os.PathLike[str] | None = None) -> None:
        self.name = name
        self.manifest = dict(manifest)
        self.conversations: tuple[Conversation, ...] = tuple(conversations)
        self.path = Path(path) if path is not None else None

    # --- access ---------------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self.conversations)

    def __iter__(self) -> Iterator[Conversation]:
        return iter(self.conversations)

    def __getitem__(self, key: int | str) -> Conversation:
        if isinstance(key, str):
            for conv in self.conversations:
                if conv.id == key:
                    return conv
            ids = [c.id for c in self.conversations]
            some = ", ".join(repr(i) for i in ids[:5]) + (", ..." if len(ids) > 5 else "")
            raise KeyError(f"no conversation {key!r} in dataset {self.name!r}; ids are {some or 'none'} ({len(ids)} in all)")
        if _is_index(key):
            if not -len(self.conversations) <= key < len(self.conversations):
                raise IndexError(
                    f"conversation index {key} out of range: dataset {self.name!r} has {len(self.conversations)} conversations"
                )
            return self.conversations[key]
        raise TypeError(f"Dataset indices are ints or conversation ids (str), got {type(key).__name__}")

    @property
    def ids(self) -> list[str]:
        """The conversation ids, in order."""
        return [c.id for c in self.conversations]

    @property
    def sample_rate(self) -> int:
        """The sample rate every audio file has (from the manifest; 16000 if absent)."""
        rate = self.manifest.get("sample_rate", 16000)
        return rate if _is_index(rate) else 16000

    # --- views ----------------------------------------------------------------------------------

    def frame(self) -> pd.DataFrame:
        """One row per labelled span, in conversation order, then by start time.

        ============  ==================================================================================
        conversation  the conversation id
        kind          one of ``SPAN_KINDS``: ``hold`` / ``eot`` (from ``spans``), ``barge_in`` /
                      ``backchannel`` / ``noise`` (from ``overlaps``)
        start, end    seconds from the conversation's start
        duration      ``end - start`` (seconds)
        turn          hold/eot: index of the user turn (nullable Int64; ``<NA>`` for overlaps)
        agent         overlaps: index of the agent speech overlapped (``<NA>`` for hold/eot)
        transcript    hold/eot: the turn's transcript; overlaps: what the user said (``None`` if unknown)
        ============  ==================================================================================
        """
        rows = []
        for conv in self.conversations:
            items = []
            for s in conv.spans:
                text = conv.turns[s.turn].transcript if 0 <= s.turn < len(conv.turns) else None
                items.append((conv.id, s.kind, s.start, s.end, s.end - s.start, s.turn, None, text))
            for o in conv.overlaps:
                items.append((conv.id, o.kind, o.start, o.end, o.end - o.start, None, o.agent, o.transcript))
            items.sort(key=lambda r: (r[2], SPAN_KINDS.index(r[1])))
            rows += items
        df = pd.DataFrame(rows, columns=FRAME_COLUMNS)
        df = df.astype({"conversation": "object", "kind": "object", "start": "float64", "end": "float64", "duration": "float64"})
        df["turn"] = pd.array([r[5] for r in rows], dtype="Int64")
        df["agent"] = pd.array([r[6] for r in rows], dtype="Int64")
        df["transcript"] = pd.Series([r[7] for r in rows], dtype="object")
        return df

    def summary(self) -> dict[str, Any]:
        """Counts: ``conversations``, ``turns``, one per kind (``hold``, ``eot``, ``barge_in``,
        ``backchannel``, ``noise``), ``tasks`` (conversations with expected tool calls),
        ``audio_conversations``, ``audio_seconds`` (total duration of the conversations with audio)
        and ``audio_mb`` (their files' size on disk, in 10^6 bytes)."""
        kinds = dict.fromkeys(SPAN_KINDS, 0)
        for conv in self.conversations:
            for s in conv.spans:
                kinds[s.kind] += 1
            for o in conv.overlaps:
                kinds[o.kind] += 1
        with_audio = [c for c in self.conversations if c.audio is not None]
        size = 0
        for c in with_audio:
            with contextlib.suppress(OSError):
                size += os.path.getsize(c.audio)  # type: ignore[arg-type]
        return {
            "conversations": len(self.conversations),
            "turns": sum(len(c.turns) for c in self.conversations),
            **kinds,
            "tasks": sum(1 for c in self.conversations if c.expected_tools),
            "audio_conversations": len(with_audio),
            "audio_seconds": round(sum(c.duration for c in with_audio), 3),
            "audio_mb": round(size / 1e6, 3),
        }

    def __repr__(self) -> str:
        s = self.summary()
        kinds = ", ".join(f"{s[k]} {k}" for k in SPAN_KINDS if s[k])
        where = f", path={str(self.path)!r}" if self.path else ""
        return f"Dataset({self.name!r}, {s['conversations']} conversations, {s['turns']} turns, {kinds or 'no spans'}{where})"

    def _repr_html_(self) -> str:
        s = self.summary()
        m = self.manifest
        total = sum(c.duration for c in self.conversations)
        cells = "".join(f"<th style='padding:0 6px'>{html.escape(k)}</th>" for k in ("turns", *SPAN_KINDS, "tasks"))
        vals = "".join(f"<td style='padding:0 6px;text-align:right'>{s[k]}</td>" for k in ("turns", *SPAN_KINDS, "tasks"))
        frame = self.frame()
        med = frame.groupby("kind")["duration"].median() if len(frame) else pd.Series(dtype=float)
        durs = " · ".join(f"median {k} {med[k] * 1000:.0f} ms" for k in ("hold", "eot") if k in med)
        audio = f" · audio {s['audio_seconds'] / 60:.1f} min, {s['audio_mb']:.1f} MB" if s["audio_conversations"] else ""
        return (
            "<div style='font-family:var(--jp-ui-font-family,sans-serif);font-size:13px'>"
            f"<b>Dataset {html.escape(self.name)}</b> · {html.escape(str(m.get('version', '')))} · "
            f"licence {html.escape(str(m.get('license', '?')))} · source {html.escape(str(m.get('source', '?')))}<br>"
            f"{s['conversations']} conversations, {total / 60:.1f} min{audio}"
            f"<table style='border-collapse:collapse;margin-top:4px'><tr>{cells}</tr><tr>{vals}</tr></table>"
            f"{html.escape(durs)}</div>"
        )

    # --- checking and writing -----------------------------------------------------------------

    def validate(self) -> Dataset:
        """Check every rule of the format on the in-memory data; raises :class:`DatasetError` listing all problems.

        Audio files are checked where they are (exists, readable, duration). For a dataset without
        a ``path`` (an unsaved import), audio at another sample rate is allowed: :meth:`save`
        resamples it. Returns ``self``.
        """
        problems: list[Problem] = []
        _check_manifest(self.manifest, problems, folder_name=None)
        listed = self.manifest.get("conversations")
        ids = [c.id for c in self.conversations]
        if isinstance(listed, list) and listed != ids:
            problems.append(Problem(MANIFEST, "conversations", None, listed, f"must list the conversations' ids in order: {ids}"))
        rate = self.manifest.get("sample_rate")
        rate = rate if _is_index(rate) and rate > 0 else None
        for conv in self.conversations:
            data = conversation_to_dict(conv)
            file = f"{conv.id}.json"
            if not _ID_RE.match(conv.id):
                problems.append(Problem(file, "id", None, conv.id, "must be a conversation id (letters, digits, '_', '-', '.')"))
            _ConvChecker(file, problems).check(data, conv.id, sample_rate=rate, audio_path=conv.audio, check_rate=self.path is not None)
        if problems:
            raise DatasetError(str(self.path or self.name), problems)
        return self

    def save(self, folder: str | os.PathLike[str]) -> Dataset:
        """Write the dataset to ``folder`` (created if needed) in the on-disk format; returns it loaded from there.

        The data is validated first, so nothing is written for an invalid dataset. Each file is
        written to a temporary file in ``folder`` and moved into place with ``os.replace``: a failure
        never leaves a half-written file. Every audio file is decoded once before anything is written,
        so corrupt audio or NaN samples raise an :class:`~agentlab.audio.AudioError` naming the file
        and leave ``folder`` as it was. Audio becomes ``<id>.flac``: a mono FLAC file at the
        manifest's rate is copied byte for byte; anything else is decoded, downmixed, resampled and
        encoded (16-bit FLAC). The manifest is written last; a ``README.md`` dataset card is written
        if the folder has none.
        """
        self.validate()
        target = Path(folder).expanduser()
        if target.exists() and not target.is_dir():
            raise NotADirectoryError(f"Dataset.save: {target} exists and is not a folder; a dataset is saved as a folder")
        _check_audio_decodes(self.conversations)
        target.mkdir(parents=True, exist_ok=True)
        rate = self.sample_rate
        for conv in self.conversations:
            rel = None
            if conv.audio is not None:
                rel = f"{conv.id}.flac"
                _write_audio(Path(conv.audio), target / rel, rate, conv.channel)
            data = conversation_to_dict(dataclasses.replace(conv, channel=None), audio=rel)  # the file written is the user's channel
            _atomic_write_text(target / f"{conv.id}.json", json.dumps(data, indent=1, ensure_ascii=False) + "\n")
        manifest = {**self.manifest, "conversations": [c.id for c in self.conversations]}
        if not (target / "README.md").exists():
            _atomic_write_text(target / "README.md", self._card())
        _atomic_write_text(target / MANIFEST, json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")
        return load(target)

    def _card(self) -> str:
        m, s = self.manifest, self.summary()
        counts = "\n".join(f"| {k} | {v} |" for k, v in s.items())
        return (
            f"# {self.name}\n\n{m.get('description', '')}\n\n"
            f"- version: {m.get('version', '')}\n- license: {m.get('license', '')}\n- source: {m.get('source', '')}\n"
            f"- sample rate: {m.get('sample_rate', '')} Hz\n\n| count | value |\n|---|---|\n{counts}\n\n"
            "Format: see `datasets/README.md` in the agentlab repository.\n"
        )


def _atomic_write_text(path: Path, text: str) -> None:
    _atomic(path, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))


def _atomic(path: Path, write: Callable[[str], Any]) -> None:
    atomic_write(path, write)


def _check_audio_decodes(conversations: Any) -> None:
    """Decode every audio file once (block by block) before anything is written.

    Validation reads only headers, and a file at the dataset's rate is copied byte for byte, so a
    corrupt or NaN-filled file would otherwise be written out, or fail halfway through a save that
    has already replaced some of the folder's files.
    """
    import soundfile as sf

    from ..audio.io import iter_audio_blocks

    for conv in conversations:
        if conv.audio is not None:
            rate = sf.info(str(conv.audio)).samplerate  # the file's own rate: decode, do not resample
            for _ in iter_audio_blocks(conv.audio, sample_rate=rate, allow_silent=True):
                pass


def _write_audio(src: Path, dst: Path, rate: int, channel: int | None = None) -> None:
    import soundfile as sf

    from ..audio.io import load_audio

    with contextlib.suppress(OSError):
        if src.resolve() == dst.resolve() and channel is None:
            return
    info = sf.info(str(src))
    if info.format == "FLAC" and info.samplerate == rate and info.channels == 1:
        _atomic(dst, lambda tmp: shutil.copyfile(src, tmp))
        return
    audio = load_audio(src, sample_rate=rate, allow_silent=True, channel=channel)
    _atomic(dst, lambda tmp: sf.write(tmp, audio.samples, rate, format="FLAC", subtype="PCM_16"))
