"""Bring your own data: calls as RTTM (+ STM) or CSV segments, turned into a labelled dataset.

Both importers read *speaker segments* (who spoke from when to when, and optionally what) and
derive the labels of ``datasets/README.md`` from them. You name the speaker who is the **user**;
every other speaker is the **agent**.

The labelling rules, each a field of :class:`LabelRules` (defaults in brackets):

* **Agent speech**: the other speakers' segments, time-ordered; segments that overlap or touch are
  merged into one (their texts joined).
* **Overlaps**: a user segment that *starts inside* agent speech, with at least ``min_overlap``
  [0.5 s] of that agent speech still to come, is user sound during agent speech. It is a
  ``barge_in`` if it lasts at least ``barge_in_min_seconds`` [1.0 s] or has at least
  ``barge_in_min_words`` [3] words, else a ``backchannel`` if it has words, else ``noise`` (a
  segment with an empty transcript). Without transcripts (RTTM alone) the decision is by duration
  only, and there is no ``noise``. A barge-in is also the start of a user turn (the user takes the
  floor); backchannels and noise are not turns. A segment that starts with less than
  ``min_overlap`` of agent speech left is ordinary user speech: the agent was finishing, and no
  interruption setting could have stopped it in time (LiveKit's default ``min_duration`` is 0.5 s),
  so scoring it as a barge-in would only cap the recall.
* **Turns**: the remaining user segments (and barge-ins). Consecutive user segments with nobody
  else speaking in between are ONE turn, however long the silence: the turn ends when someone
  else takes the floor. ``merge_gap`` (seconds) also ends a turn at a silence at least that long
  [None: never]. The silences inside a turn of at least ``HOLD_MIN_SILENCE`` (0.1 s) are its
  **holds**. Overlapping segments of the user are merged first.
* **eot**: after each turn's last word, until the next user turn starts, the next agent speech
  starts or the conversation ends, whichever comes first (omitted when that is no time at all,
  e.g. the agent starts exactly as the user stops).
* **Words**: transcripts give words, but segments give only their own start and end, so a
  segment's words are spread evenly across it (equal durations, back to back). A turn gets word
  times only if every segment in it has a transcript (otherwise its first or last word could not
  match the turn's edges); it always gets the joined transcript.
* **Duration**: the audio file's length when ``audio`` is given, else the end of the last segment.

**Audio.** ``audio`` is the call's recording. A multi-channel file needs ``user_channel`` (0 is
the left): averaging the channels would put the agent's voice into the user's. A mono file that the
labels say holds several speakers (a mono mix) should be masked: ``mask_others=True`` silences the
other speakers' segments (where the user is not also speaking) before the VAD and STT hear it;
leaving ``mask_others`` unset on such a file gives a warning, because the VAD would take every voice
for the user's. ``agent_channel`` names the agent's channel of a multi-channel file: when the labels
have no segments of any other speaker, the agent's speech is found by the VAD on that channel.

**Speakers.** RTTM and STM files often name speakers differently (ids in one, names in the
other). ``speakers={"spk_a": "Ann"}`` renames RTTM speakers; ``speakers="auto"`` (the default)
matches each STM speaker to the RTTM speaker it overlaps most in time when the names disagree, and
says so in a warning (the mapping is kept in the conversation's ``metadata["speakers"]``).

Times are rounded to the microsecond. Every parse error names the file, the line and the value,
and all of them are reported at once in one :class:`~agentlab.datasets.DatasetError`. The result
is validated like a loaded dataset; ``.save(folder)`` writes it out.

Example::

    ds = import_rttm("call.rttm", "call.stm", user="caller", audio="call.wav", mask_others=True)
    ds = import_rttm("call.rttm", user="A", audio="stereo.wav", user_channel=0)
    ds = import_csv("calls.csv", user="customer", rules=LabelRules(merge_gap=3.0))
    ds.frame().kind.value_counts()
    ds.save("datasets/my_calls")
"""

from __future__ import annotations

import csv
import itertools
import math
import os
import re
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from .._frozen import frozen
from .io import Dataset, DatasetError, Problem
from .model import HOLD_MIN_SILENCE, AgentSpeech, Conversation, Overlap, Span, Turn, Word

__all__ = [
    "LabelRules",
    "Segment",
    "conversation_from_segments",
    "import_csv",
    "import_rttm",
]

AudioArg = str | os.PathLike[str] | Mapping[str, str | os.PathLike[str]] | None
SpeakersArg = Mapping[str, str] | Literal["auto"] | None


@frozen
class LabelRules:
    """How speaker segments become labels (see the module docstring for what each rule does).

    Example::

        LabelRules(merge_gap=3.0)                    # a silence of 3 s ends a turn even if nobody else speaks
        LabelRules(min_overlap=0.3, barge_in_min_seconds=0.8)
    """

    merge_gap: float | None = None
    min_overlap: float = 0.5
    barge_in_min_seconds: float = 1.0
    barge_in_min_words: int = 3

    def __post_init__(self) -> None:
        if self.merge_gap is not None and not (isinstance(self.merge_gap, (int, float)) and self.merge_gap > 0):
            raise ValueError(f"LabelRules.merge_gap = {self.merge_gap!r} must be None or a number of seconds > 0")
        for name in ("min_overlap", "barge_in_min_seconds"):
            v = getattr(self, name)
            if not (isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) and v >= 0):
                raise ValueError(f"LabelRules.{name} = {v!r} must be a number of seconds >= 0")
        if isinstance(self.barge_in_min_words, bool) or not isinstance(self.barge_in_min_words, int) or self.barge_in_min_words < 1:
            raise ValueError(f"LabelRules.barge_in_min_words = {self.barge_in_min_words!r} must be an integer >= 1")


@frozen
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
    rules: LabelRules | None = None,
    channel: int | None = None,
    mask_others: bool = False,
) -> Conversation:
    """Label one conversation from its speaker segments (rules in the module docstring).

    ``duration`` defaults to the end of the last segment; ``channel`` is the user's channel of
    ``audio``; ``mask_others`` silences the other speakers (where the user is silent) for analysis.
    Not validated here (see ``Dataset.validate``).

    Example::

        conv = conversation_from_segments("c1", [Segment("u", 0.0, 1.2, "hello there"), Segment("a", 1.5, 3.0, "hi")], user="u")
    """
    rules = rules or LabelRules()
    has_text = any(s.text is not None for s in segments)
    user_segs = _merge_user([s for s in segments if s.speaker == user])
    agent = _merge_agent([s for s in segments if s.speaker != user])
    if duration is None:
        duration = max((s.end for s in segments), default=0.0)

    turn_groups: list[list[Segment]] = []
    overlaps: list[Overlap] = []
    for seg in user_segs:
        ai = next((i for i, a in enumerate(agent) if a.start <= seg.start < a.end - rules.min_overlap + 1e-9), None)
        if ai is not None:
            n_words = len(seg.text.split()) if seg.text else 0
            if seg.end - seg.start >= rules.barge_in_min_seconds - 1e-9 or n_words >= rules.barge_in_min_words:
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
            someone_between = any(a.start < seg.start and a.end > last.end for a in agent)
            too_long = rules.merge_gap is not None and seg.start - last.end >= rules.merge_gap - 1e-9
            if not someone_between and not too_long:
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
    mask = _subtract([(a.start, a.end) for a in agent], [(s.start, s.end) for s in user_segs]) if mask_others else []
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
        channel=channel,
        mask=tuple((_r(a), _r(b)) for a, b in mask),
    )


def _subtract(spans: list[tuple[float, float]], holes: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """The parts of ``spans`` (sorted, disjoint) outside every hole."""
    out: list[tuple[float, float]] = []
    for a, b in spans:
        pieces = [(a, b)]
        for h0, h1 in holes:
            pieces = [p for lo, hi in pieces for p in ((lo, min(hi, h0)), (max(lo, h1), hi)) if p[1] - p[0] > 1e-6]
        out += pieces
    return out


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


def _audio_info(path: Path, source: str, problems: list[Problem]) -> tuple[float, int] | None:
    """(duration in seconds, channels) of an audio file, or ``None`` after reporting why not."""
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
    return info.frames / info.samplerate, info.channels


def _channel_ok(name: str, value: int | None, channels: int, source: str, problems: list[Problem]) -> bool:
    if value is None or (isinstance(value, int) and not isinstance(value, bool) and 0 <= value < channels):
        return True
    problems.append(Problem(source, name, None, value, f"must be a channel index 0..{channels - 1} (the audio has {channels} channel(s))"))
    return False


def _agent_from_channel(path: Path, channel: int) -> list[Segment]:
    """The agent's speech as the VAD hears it on its own channel (labels without agent segments)."""
    from ..audio import analyze_vad
    from ..audio.io import load_audio

    track = analyze_vad(load_audio(path, channel=channel, allow_silent=True))
    return [Segment("<agent channel>", s.start, s.end, None) for s in track.segments]


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
    rules: LabelRules | None,
    user_channel: int | None,
    agent_channel: int | None,
    mask_others: bool | None,
    metadata: Mapping[str, dict[str, Any]] | None = None,
) -> Dataset:
    rules = rules or LabelRules()
    if mask_others is not None and not isinstance(mask_others, bool):
        problems.append(Problem(source, "mask_others", None, mask_others, "must be True, False or None"))
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
        info = _audio_info(path, source, problems) if path is not None else None
        if path is not None and info is None:
            continue
        duration, channels = info if info is not None else (None, 1)
        if not (
            _channel_ok("user_channel", user_channel, channels, source, problems)
            and _channel_ok("agent_channel", agent_channel, channels, source, problems)
        ):
            continue
        if path is not None and channels > 1 and user_channel is None:
            problems.append(
                Problem(
                    source, "user_channel", None, None,
                    f"{path.name} has {channels} channels: say which is the user's (user_channel=0 is the left); "
                    "averaging them would put the agent's voice into the user's",
                )
            )  # fmt: skip
            continue
        others = [sp for sp in speakers if sp != user]
        if path is not None and agent_channel is not None and not others:
            segs = segs + _agent_from_channel(path, agent_channel)
        if path is not None and channels == 1 and others and mask_others is None:
            warnings.warn(
                f"{source}: {path.name} is one mono track and the labels name {len(others) + 1} speakers ({', '.join(speakers)}); "
                f"the VAD will hear every voice as the user {user!r}. Pass mask_others=True to silence the others' segments "
                "(or mask_others=False if the file holds only the user's voice)",
                UserWarning,
                stacklevel=3,
            )
        meta = {"source": f"{kind} {source}", **(metadata or {}).get(key, {})}
        if agent_channel is not None:
            meta["agent_channel"] = agent_channel
        convs.append(
            conversation_from_segments(
                ids[key], segs, user=user, duration=duration, audio=path, sample_rate=sample_rate, metadata=meta,
                rules=rules, channel=user_channel if channels > 1 else None, mask_others=bool(mask_others) and bool(others),
            )
        )  # fmt: skip
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


def _match_speakers(
    rttm: list[tuple[Segment, str]], stm: list[tuple[Segment, str]], speakers: SpeakersArg, source: str, problems: list[Problem]
) -> dict[str, str]:
    """RTTM speaker -> STM speaker for one file: ``speakers`` as given, or matched by time overlap ("auto")."""
    rttm_names = {s.speaker for s, _ in rttm}
    stm_names = {s.speaker for s, _ in stm}
    if isinstance(speakers, Mapping):
        return {r: str(speakers.get(r, r)) for r in rttm_names}
    if speakers is None or stm_names <= rttm_names:
        return {r: r for r in rttm_names}
    overlap: dict[tuple[str, str], float] = {}
    for a, _ in stm:
        for b, _ in rttm:
            o = min(a.end, b.end) - max(a.start, b.start)
            if o > 0:
                overlap[b.speaker, a.speaker] = overlap.get((b.speaker, a.speaker), 0.0) + o
    mapping: dict[str, str] = {}
    for (r, t), _ in sorted(overlap.items(), key=lambda kv: -kv[1]):  # greedy, one to one, largest overlap first
        if r not in mapping and t not in mapping.values():
            mapping[r] = t
    for t in sorted(stm_names - set(mapping.values())):
        problems.append(Problem(source, "speakers", None, t, f"STM speaker {t!r} overlaps no RTTM speaker in time; pass speakers={{...}}"))
    return {r: mapping.get(r, r) for r in rttm_names}


def import_rttm(
    rttm_path: str | os.PathLike[str],
    stm_path: str | os.PathLike[str] | None = None,
    *,
    user: str,
    audio: AudioArg = None,
    user_channel: int | None = None,
    agent_channel: int | None = None,
    mask_others: bool | None = None,
    speakers: SpeakersArg = "auto",
    rules: LabelRules | None = None,
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
    most (lines overlapping none are errors). ``speakers`` maps RTTM speakers to STM names (a dict,
    or ``"auto"``: by time overlap when the names disagree; ``None``: names must agree). ``user``
    is the speaker who is the user (by either name). ``audio`` is the recording (a path, or
    ``{file id: path}`` for several conversations); ``user_channel``, ``agent_channel`` and
    ``mask_others`` say where the user's voice is in it, and ``rules`` how segments become labels
    (module docstring). ``sample_rate`` is the dataset's rate (``save`` resamples audio to it).

    Example::

        ds = import_rttm("call.rttm", "call.stm", user="A", audio="call_user.wav", name="my-calls")
        ds = import_rttm("meeting.rttm", "meeting.stm", user="Ann", audio="mix.wav", mask_others=True)
        ds.save("datasets/my-calls")
    """
    rttm = Path(rttm_path)
    problems: list[Problem] = []
    parsed = _parse_rttm(rttm, problems)
    if not parsed and not problems:
        problems.append(Problem(rttm.name, "<file>", None, str(rttm), "has no SPEAKER lines"))
    if speakers is not None and speakers != "auto" and not isinstance(speakers, Mapping):
        problems.append(Problem(rttm.name, "speakers", None, speakers, "must be a dict {RTTM speaker: STM speaker}, 'auto' or None"))
        speakers = None
    metadata: dict[str, dict[str, Any]] = {}
    if stm_path is not None:
        stm = Path(stm_path)
        lines = _parse_stm(stm, problems)
        by_file: dict[str, list[tuple[Segment, str]]] = {}
        for file_id, seg, where in lines:
            by_file.setdefault(file_id, []).append((seg, where))
        for file_id, segs in parsed.items():
            mapping = _match_speakers(segs, by_file.get(file_id, []), speakers, f"{stm.name}", problems)
            if any(k != v for k, v in mapping.items()):
                metadata[file_id] = {"speakers": dict(sorted(mapping.items()))}
                if speakers == "auto":
                    pairs = ", ".join(f"{k} -> {v}" for k, v in sorted(mapping.items()))
                    warnings.warn(
                        f"{stm.name}: its speaker names differ from {rttm.name}'s; matched by time overlap: {pairs}. "
                        "Pass speakers={...} to set them yourself",
                        UserWarning,
                        stacklevel=2,
                    )
            segs[:] = [(Segment(mapping[s.speaker], s.start, s.end, s.text), w) for s, w in segs]
        if isinstance(speakers, Mapping):
            user = str(speakers.get(user, user))
        elif any(user in m.get("speakers", {}) for m in metadata.values()):
            user = next(m["speakers"][user] for m in metadata.values() if user in m.get("speakers", {}))
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
    elif isinstance(speakers, Mapping):
        for segs in parsed.values():
            segs[:] = [(Segment(str(speakers.get(s.speaker, s.speaker)), s.start, s.end, s.text), w) for s, w in segs]
        user = str(speakers.get(user, user))
    if conversation_id is not None and len(parsed) > 1:
        problems.append(
            Problem(rttm.name, "conversation_id", None, conversation_id, f"only for a single conversation; the RTTM has {len(parsed)}")
        )
    ids = {k: conversation_id if conversation_id is not None and len(parsed) == 1 else _safe_id(k) for k in parsed}
    groups = {k: [s for s, _ in v] for k, v in parsed.items()}
    kind = "RTTM+STM" if stm_path is not None else "RTTM"
    return _build(
        rttm.name, kind, groups, user=user, audio=audio, name=name, ids=ids, sample_rate=sample_rate,
        license=license, description=description, problems=problems, rules=rules, user_channel=user_channel,
        agent_channel=agent_channel, mask_others=mask_others, metadata=metadata,
    )  # fmt: skip


def import_csv(
    path: str | os.PathLike[str],
    *,
    user: str,
    audio: AudioArg = None,
    user_channel: int | None = None,
    agent_channel: int | None = None,
    mask_others: bool | None = None,
    rules: LabelRules | None = None,
    name: str | None = None,
    sample_rate: int = 16000,
    license: str = "NOASSERTION",
    description: str | None = None,
) -> Dataset:
    """Import calls from a CSV of segments with the header ``conversation,speaker,start,end,text``.

    One conversation per distinct ``conversation`` value (in order of first appearance); ``start``
    and ``end`` are seconds; ``text`` is the segment's transcript (empty for noise). ``user``,
    ``audio`` (a path, or ``{conversation: path}``), ``user_channel``, ``agent_channel``,
    ``mask_others``, ``rules`` and ``sample_rate``: as for :func:`import_rttm`; the same labelling
    rules apply (a long silence is a hold unless ``rules.merge_gap`` says otherwise).

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
        license=license, description=description, problems=problems, rules=rules, user_channel=user_channel,
        agent_channel=agent_channel, mask_others=mask_others,
    )  # fmt: skip
