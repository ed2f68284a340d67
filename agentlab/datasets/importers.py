"""Bring your own data: two-party calls as RTTM (+ STM) or CSV segments, turned into a labelled dataset.

Both importers read *speaker segments* (who spoke from when to when, and optionally what) and
derive the labels of ``datasets/README.md`` from them. You name the speaker who is the **user**;
every other speaker is the **agent**.

The rules (constants below):

* **Agent speech**: the other speakers' segments, time-ordered; segments that overlap or touch are
  merged into one (their texts joined).
* **Overlaps**: a user segment that *starts inside* agent speech is user sound during agent speech.
  It is a ``barge_in`` if it lasts at least ``BARGE_IN_MIN_SECONDS`` (1.0 s) or has at least
  ``BARGE_IN_MIN_WORDS`` (3) words, else a ``backchannel`` if it has words, else ``noise`` (a
  segment with an empty transcript). Without transcripts (RTTM alone) the decision is by duration
  only: ``barge_in`` from 1.0 s, ``backchannel`` below; there is then no ``noise``. A barge-in is
  also the start of a user turn (the user takes the floor); backchannels and noise are not turns.
* **Turns**: the remaining user segments (and barge-ins). Consecutive user segments separated by
  less than ``TURN_MERGE_GAP`` (1.5 s) of user silence, with no agent speech in between, are ONE
  turn; the silences between them of at least ``HOLD_MIN_SILENCE`` (0.1 s) are its **holds**.
  Overlapping segments of the user are merged first.
* **eot**: after each turn's last word, until the next user turn starts, the next agent speech
  starts or the conversation ends, whichever comes first (omitted when that is no time at all,
  e.g. the agent starts exactly as the user stops).
* **Words**: transcripts give words, but segments give only their own start and end, so a
  segment's words are spread evenly across it (equal durations, back to back). A turn gets word
  times only if every segment in it has a transcript (otherwise its first or last word could not
  match the turn's edges); it always gets the joined transcript.
* **Duration**: the audio file's length when ``audio`` is given, else the end of the last segment.

Times are rounded to the microsecond. Every parse error names the file, the line and the value,
and all of them are reported at once in one :class:`~agentlab.datasets.DatasetError`. The result
is validated like a loaded dataset; ``.save(folder)`` writes it out.

Example::

    ds = import_rttm("call.rttm", "call.stm", user="caller", audio="call.wav")
    ds.frame().kind.value_counts()
    ds.save("datasets/my_calls")
"""

from __future__ import annotations

import csv
import itertools
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .io import Dataset, DatasetError, Problem
from .model import HOLD_MIN_SILENCE, AgentSpeech, Conversation, Overlap, Span, Turn, Word

__all__ = [
    "BARGE_IN_MIN_SECONDS",
    "BARGE_IN_MIN_WORDS",
    "TURN_MERGE_GAP",
    "Segment",
    "conversation_from_segments",
    "import_csv",
    "import_rttm",
]

#: User segments closer than this (seconds of user silence, nobody else speaking) form one turn.
TURN_MERGE_GAP = 1.5
#: A user segment during agent speech lasting at least this long (seconds) is a barge-in.
BARGE_IN_MIN_SECONDS = 1.0
#: ... or having at least this many words.
BARGE_IN_MIN_WORDS = 3

AudioArg = str | os.PathLike[str] | Mapping[str, str | os.PathLike[str]] | None


@dataclass(frozen=True)
class Segment:
    """One speaker segment: ``text`` is ``None`` when no transcript is known."""

    speaker: str
    start: float
    end: float
    text: str | None = None


def _r(x: float) -> float:
    return round(float(x), 6)


# --------------------------------------------------------------------------------------------------
# segments -> conversation


def conversation_from_segments(
    cid: str,
    segments: list[Segment],
    *,
    user: str,
    duration: float | None = None,
    audio: str | os.PathLike[str] | None = None,
    sample_rate: int = 16000,
    metadata: Mapping[str, Any] | None = None,
) -> Conversation:
    """Label one two-party conversation from its speaker segments (rules in the module docstring).

    ``duration`` defaults to the end of the last segment. Not validated here (see ``Dataset.validate``).
    """
    has_text = any(s.text is not None for s in segments)
    user_segs = _merge_user([s for s in segments if s.speaker == user])
    agent = _merge_agent([s for s in segments if s.speaker != user])
    if duration is None:
        duration = max((s.end for s in segments), default=0.0)

    turn_groups: list[list[Segment]] = []
    overlaps: list[Overlap] = []
    for seg in user_segs:
        ai = next((i for i, a in enumerate(agent) if a.start <= seg.start < a.end), None)
        if ai is not None:
            n_words = len(seg.text.split()) if seg.text else 0
            if seg.end - seg.start >= BARGE_IN_MIN_SECONDS - 1e-9 or n_words >= BARGE_IN_MIN_WORDS:
                kind = "barge_in"
            elif n_words > 0 or not has_text:
                kind = "backchannel"
            else:
                kind = "noise"
            text = seg.text.strip() if seg.text and seg.text.strip() else None
            overlaps.append(Overlap(kind, _r(seg.start), _r(seg.end), ai, text))  # type: ignore[arg-type]
            if kind == "barge_in":
                turn_groups.append([seg])
            continue
        if turn_groups:
            last = turn_groups[-1][-1]
            agent_between = any(a.start < seg.start and a.end > last.end for a in agent)
            if seg.start - last.end < TURN_MERGE_GAP and not agent_between:
                turn_groups[-1].append(seg)
                continue
        turn_groups.append([seg])

    turns: list[Turn] = []
    spans: list[Span] = []
    for ti, group in enumerate(turn_groups):
        texts = [s.text.strip() for s in group if s.text and s.text.strip()]
        words: list[Word] = []
        if all(s.text and s.text.split() for s in group):
            for s in group:
                words += _spread(s.text.split(), s.start, s.end)  # type: ignore[union-attr]
        turns.append(Turn(_r(group[0].start), _r(group[-1].end), " ".join(texts), tuple(words)))
        for a, b in itertools.pairwise(group):
            if b.start - a.end >= HOLD_MIN_SILENCE - 1e-9:
                spans.append(Span("hold", _r(a.end), _r(b.start), ti))
    for ti, turn in enumerate(turns):
        ends = [duration]
        if ti + 1 < len(turns):
            ends.append(turns[ti + 1].start)
        ends += [a.start for a in agent if a.start >= turn.end]
        end = _r(min(ends))
        if end - turn.end > 1e-6:
            spans.append(Span("eot", turn.end, end, ti))
    spans.sort(key=lambda s: s.start)
    return Conversation(
        id=cid,
        duration=_r(duration),
        turns=tuple(turns),
        spans=tuple(spans),
        agent=tuple(agent),
        overlaps=tuple(overlaps),
        audio=Path(audio) if audio is not None else None,
        sample_rate=sample_rate,
        metadata=dict(metadata or {}),
    )


def _spread(words: list[str], start: float, end: float) -> list[Word]:
    step = (end - start) / len(words)
    times = [_r(start + i * step) for i in range(len(words))] + [_r(end)]
    return [Word(w, times[i], times[i + 1]) for i, w in enumerate(words)]


def _join(a: str | None, b: str | None) -> str | None:
    if a is None and b is None:
        return None
    return " ".join(t.strip() for t in (a, b) if t and t.strip())


def _merge_user(segs: list[Segment]) -> list[Segment]:
    out: list[Segment] = []
    for s in sorted(segs, key=lambda s: (s.start, s.end)):
        if out and s.start < out[-1].end:
            p = out[-1]
            out[-1] = Segment(p.speaker, p.start, max(p.end, s.end), _join(p.text, s.text))
        else:
            out.append(s)
    return out


def _merge_agent(segs: list[Segment]) -> list[AgentSpeech]:
    out: list[AgentSpeech] = []
    for s in sorted(segs, key=lambda s: (s.start, s.end)):
        if out and s.start <= out[-1].end:
            p = out[-1]
            out[-1] = AgentSpeech(p.start, max(p.end, _r(s.end)), _join(p.text, s.text) or "")
        else:
            out.append(AgentSpeech(_r(s.start), _r(s.end), (s.text or "").strip()))
    return out


# --------------------------------------------------------------------------------------------------
# files


def _safe_id(raw: str) -> str:
    cid = re.sub(r"[^A-Za-z0-9_.-]", "_", raw)
    return cid if cid[:1].isalnum() else f"c{cid}"


def _safe_name(raw: str) -> str:
    name = re.sub(r"[^a-z0-9_-]+", "-", raw.lower()).strip("-")
    return name or "imported"


def _number(text: str, where: str, field: str, problems: list[Problem], *, positive: bool = False) -> float | None:
    try:
        value = float(text)
    except ValueError:
        problems.append(Problem(where, field, None, text, "must be a number (seconds)"))
        return None
    if value != value or value in (float("inf"), float("-inf")) or value < 0 or (positive and value == 0):
        problems.append(Problem(where, field, None, text, "must be a finite number " + ("> 0" if positive else ">= 0")))
        return None
    return value


def _read_lines(path: Path, problems: list[Problem]) -> list[str]:
    try:
        return path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        problems.append(Problem(path.name, "<file>", None, str(path), f"cannot be read ({exc})"))
        return []


def _parse_rttm(path: Path, problems: list[Problem]) -> dict[str, list[tuple[Segment, str]]]:
    """Segments per file id, each with its ``file:line``."""
    out: dict[str, list[tuple[Segment, str]]] = {}
    for n, line in enumerate(_read_lines(path, problems), 1):
        f = line.split()
        if not f or f[0].startswith((";;", "#")):
            continue
        where = f"{path.name}:{n}"
        if f[0] != "SPEAKER":
            continue  # SPKR-INFO, LEXEME, ...: not speech turns
        if len(f) < 8:
            problems.append(
                Problem(where, "line", None, line.strip(), "expected SPEAKER <file> <chnl> <start> <dur> <NA> <NA> <speaker> <NA> <NA>")
            )
            continue
        start = _number(f[3], where, "start", problems)
        dur = _number(f[4], where, "duration", problems, positive=True)
        if start is None or dur is None:
            continue
        out.setdefault(f[1], []).append((Segment(f[7], _r(start), _r(start + dur)), where))
    return out


def _parse_stm(path: Path, problems: list[Problem]) -> list[tuple[str, Segment, str]]:
    """``(file id, segment, file:line)`` for each transcript line."""
    out = []
    for n, line in enumerate(_read_lines(path, problems), 1):
        stripped = line.strip()
        if not stripped or stripped.startswith(";;"):
            continue
        where = f"{path.name}:{n}"
        f = stripped.split(None, 5)
        if len(f) < 5:
            problems.append(
                Problem(where, "line", None, stripped, "expected <file> <channel> <speaker> <start> <end> [<label>] <transcript>")
            )
            continue
        start = _number(f[3], where, "start", problems)
        end = _number(f[4], where, "end", problems)
        if start is None or end is None:
            continue
        if end <= start:
            problems.append(Problem(where, "end", None, f[4], f"must be greater than start ({f[3]})"))
            continue
        rest = f[5] if len(f) > 5 else ""
        if rest.startswith("<"):
            close = rest.find(">")
            rest = rest[close + 1 :] if close >= 0 else rest
        text = rest.strip()
        if f[2] == "inter_segment_gap" or text == "ignore_time_segment_in_scoring":
            continue
        out.append((f[0], Segment(f[2], start, end, text), where))
    return out


def _audio_for(audio: AudioArg, key: str, keys: list[str], source: str, problems: list[Problem]) -> Path | None:
    if audio is None:
        return None
    if isinstance(audio, Mapping):
        if key not in audio:
            problems.append(
                Problem(source, "audio", None, key, f"no audio file given for conversation {key!r} (audio has {sorted(audio)})")
            )
            return None
        return Path(audio[key])
    if len(keys) > 1:
        problems.append(
            Problem(source, "audio", None, str(audio), f"one audio file for {len(keys)} conversations; pass a dict {{id: path}}")
        )
        return None
    return Path(audio)


def _audio_duration(path: Path, source: str, problems: list[Problem]) -> float | None:
    import soundfile as sf

    if path.is_dir():
        problems.append(Problem(source, "audio", None, str(path), "is a directory, not an audio file"))
        return None
    if not path.is_file():
        problems.append(Problem(source, "audio", None, str(path), "audio file does not exist"))
        return None
    try:
        info = sf.info(str(path))
    except (sf.SoundFileError, RuntimeError, TypeError, ValueError) as exc:
        problems.append(Problem(source, "audio", None, str(path), f"not readable audio: {exc}"))
        return None
    return info.frames / info.samplerate


def _build(
    source: str,
    kind: str,
    groups: dict[str, list[Segment]],
    *,
    user: str,
    audio: AudioArg,
    name: str | None,
    ids: dict[str, str],
    sample_rate: int,
    license: str,
    description: str | None,
    problems: list[Problem],
) -> Dataset:
    convs = []
    keys = list(groups)
    for key in keys:
        segs = groups[key]
        speakers = sorted({s.speaker for s in segs})
        if user not in speakers:
            problems.append(
                Problem(source, "user", None, user, f"conversation {key!r} has no segments of this speaker (speakers: {speakers})")
            )
            continue
        path = _audio_for(audio, key, keys, source, problems)
        duration = _audio_duration(path, source, problems) if path is not None else None
        if path is not None and duration is None:
            continue
        convs.append(
            conversation_from_segments(
                ids[key], segs, user=user, duration=duration, audio=path, sample_rate=sample_rate, metadata={"source": f"{kind} {source}"}
            )
        )
    if problems:
        raise DatasetError(source, problems)
    manifest = {
        "name": name or _safe_name(Path(source).stem),
        "version": "1.0.0",
        "description": description or f"Imported from {source} ({kind}); user speaker {user!r}.",
        "license": license,
        "source": "imported",
        "sample_rate": sample_rate,
        "conversations": [c.id for c in convs],
    }
    return Dataset(manifest["name"], manifest, convs).validate()


def import_rttm(
    rttm_path: str | os.PathLike[str],
    stm_path: str | os.PathLike[str] | None = None,
    *,
    user: str,
    audio: AudioArg = None,
    name: str | None = None,
    conversation_id: str | None = None,
    sample_rate: int = 16000,
    license: str = "NOASSERTION",
    description: str | None = None,
) -> Dataset:
    """Import calls from RTTM speaker segments (and optionally an STM transcript); returns an unsaved :class:`Dataset`.

    RTTM lines ``SPEAKER <file> <chnl> <start> <dur> <NA> <NA> <speaker> <NA> <NA>``: one
    conversation per ``<file>`` (its id, made filename-safe; ``conversation_id`` renames a single
    one). STM lines ``<file> <channel> <speaker> <start> <end> [<label>] <transcript>`` give the
    transcripts: each STM line goes to the RTTM segment of the same file and speaker it overlaps
    most (lines overlapping none are errors). ``user`` is the speaker who is the user; ``audio`` is
    the user channel's recording (a path, or ``{file id: path}`` for several conversations).
    ``sample_rate`` is the dataset's rate (``save`` resamples audio to it). Labelling rules: see the
    module docstring.

    Example::

        ds = import_rttm("call.rttm", "call.stm", user="A", audio="call_user.wav", name="my-calls")
        ds.save("datasets/my-calls")
    """
    rttm = Path(rttm_path)
    problems: list[Problem] = []
    parsed = _parse_rttm(rttm, problems)
    if not parsed and not problems:
        problems.append(Problem(rttm.name, "<file>", None, str(rttm), "has no SPEAKER lines"))
    if stm_path is not None:
        stm = Path(stm_path)
        lines = _parse_stm(stm, problems)
        texts: dict[tuple[str, int], list[tuple[float, str]]] = {}
        for file_id, seg, where in lines:
            cands = [
                (min(s.end, seg.end) - max(s.start, seg.start), i)
                for i, (s, _) in enumerate(parsed.get(file_id, []))
                if s.speaker == seg.speaker
            ]
            best = max(cands, default=(0.0, -1))
            if best[0] <= 0:
                problems.append(
                    Problem(
                        where,
                        "start",
                        None,
                        seg.start,
                        f"no RTTM segment of speaker {seg.speaker!r} in file {file_id!r} overlaps {seg.start}-{seg.end}",
                    )
                )
                continue
            texts.setdefault((file_id, best[1]), []).append((seg.start, seg.text or ""))
        for file_id, segs in parsed.items():
            segs[:] = [
                (Segment(s.speaker, s.start, s.end, " ".join(t for _, t in sorted(texts.get((file_id, i), [])) if t)), w)
                for i, (s, w) in enumerate(segs)
            ]
    if conversation_id is not None and len(parsed) > 1:
        problems.append(
            Problem(rttm.name, "conversation_id", None, conversation_id, f"only for a single conversation; the RTTM has {len(parsed)}")
        )
    ids = {k: conversation_id if conversation_id is not None and len(parsed) == 1 else _safe_id(k) for k in parsed}
    groups = {k: [s for s, _ in v] for k, v in parsed.items()}
    kind = "RTTM+STM" if stm_path is not None else "RTTM"
    return _build(
        rttm.name, kind, groups, user=user, audio=audio, name=name, ids=ids, sample_rate=sample_rate,
        license=license, description=description, problems=problems,
    )  # fmt: skip


def import_csv(
    path: str | os.PathLike[str],
    *,
    user: str,
    audio: AudioArg = None,
    name: str | None = None,
    sample_rate: int = 16000,
    license: str = "NOASSERTION",
    description: str | None = None,
) -> Dataset:
    """Import calls from a CSV of segments with the header ``conversation,speaker,start,end,text``.

    One conversation per distinct ``conversation`` value (in order of first appearance); ``start``
    and ``end`` are seconds; ``text`` is the segment's transcript (empty for noise). ``user``,
    ``audio`` (a path, or ``{conversation: path}``), ``sample_rate``: as for :func:`import_rttm`;
    the same labelling rules apply.

    Example::

        ds = import_csv("calls.csv", user="customer")
    """
    p = Path(path)
    problems: list[Problem] = []
    groups: dict[str, list[Segment]] = {}
    required = ["conversation", "speaker", "start", "end", "text"]
    try:
        with p.open(newline="", encoding="utf-8") as fh:
            reader = csv.DictReader(fh)
            header = [h.strip() for h in (reader.fieldnames or [])]
            missing = [c for c in required if c not in header]
            if missing:
                problems.append(
                    Problem(f"{p.name}:1", "header", None, header, f"missing column(s) {missing}; expected {','.join(required)}")
                )
            else:
                reader.fieldnames = header
                for row in reader:
                    where = f"{p.name}:{reader.line_num}"
                    if None in row:
                        problems.append(
                            Problem(where, "row", None, row[None], "more fields than the header has (quote text containing commas)")
                        )
                        continue
                    conv, speaker = (row["conversation"] or "").strip(), (row["speaker"] or "").strip()
                    if not conv:
                        problems.append(Problem(where, "conversation", None, row["conversation"], "must not be empty"))
                    if not speaker:
                        problems.append(Problem(where, "speaker", None, row["speaker"], "must not be empty"))
                    start = _number((row["start"] or "").strip(), where, "start", problems)
                    end = _number((row["end"] or "").strip(), where, "end", problems)
                    if start is not None and end is not None and end <= start:
                        problems.append(Problem(where, "end", None, row["end"], f"must be greater than start ({row['start']})"))
                        continue
                    if conv and speaker and start is not None and end is not None:
                        groups.setdefault(conv, []).append(Segment(speaker, _r(start), _r(end), (row["text"] or "").strip()))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        problems.append(Problem(p.name, "<file>", None, str(p), f"cannot be read ({exc})"))
    if not groups and not problems:
        problems.append(Problem(p.name, "<file>", None, str(p), "has no segments"))
    ids = {k: _safe_id(k) for k in groups}
    return _build(
        p.name, "CSV", groups, user=user, audio=audio, name=name, ids=ids, sample_rate=sample_rate,
        license=license, description=description, problems=problems,
    )  # fmt: skip
