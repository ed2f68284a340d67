"""Labelled turn datasets: loading, validation (all problems at once), frames, saving, conversion."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

import agentlab as al
import agentlab.datasets as ads
from agentlab.datasets import Conversation, Dataset, DatasetError, Span, Turn, Word
from agentlab.datasets import io as dio

SCHEMAS = Path(__file__).resolve().parents[1] / "datasets" / "schema"


def tone(path: Path, seconds: float, rate: int = 16000, fmt: str = "FLAC") -> Path:
    t = np.arange(round(seconds * rate)) / rate
    sf.write(str(path), (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32), rate, format=fmt)
    return path


def manifest(ids: list[str], **extra) -> dict:
    return {
        "name": "tiny",
        "version": "1.0.0",
        "description": "A tiny test dataset.",
        "license": "CC0-1.0",
        "source": "generated",
        "sample_rate": 16000,
        "conversations": ids,
        **extra,
    }


def spoken(cid: str = "call", audio: str | None = "call.flac") -> dict:
    """A user turn with a hold, agent speech with a backchannel, a second turn; eots after both."""
    return {
        "id": cid,
        "audio": audio,
        "duration": 6.0,
        "turns": [
            {
                "start": 0.5,
                "end": 2.5,
                "transcript": "hello there I need help",
                "words": [["hello", 0.5, 0.9], ["there", 0.9, 1.2], ["I", 1.7, 1.8], ["need", 1.8, 2.1], ["help", 2.1, 2.5]],
            },
            {"start": 5.2, "end": 5.6, "transcript": "thanks", "words": [["thanks", 5.2, 5.6]]},
        ],
        "spans": [
            {"kind": "hold", "start": 1.2, "end": 1.7, "turn": 0},
            {"kind": "eot", "start": 2.5, "end": 3.0, "turn": 0},
            {"kind": "eot", "start": 5.6, "end": 6.0, "turn": 1},
        ],
        "agent": [{"start": 3.0, "end": 5.0, "text": "Sure, what do you need?"}],
        "overlaps": [{"kind": "backchannel", "start": 3.5, "end": 3.8, "agent": 0, "transcript": "mhm"}],
        "expected_tools": [],
        "text_turns": [],
        "metadata": {"voice": "af_test", "speaking_rate": 160, "noise": None, "snr_db": None, "language": "en-US"},
    }


def task(cid: str = "task") -> dict:
    return {
        "id": cid,
        "audio": None,
        "duration": 1.0,
        "turns": [],
        "spans": [],
        "text_turns": ["Book a table for two", "At eight"],
        "expected_tools": [{"name": "book_table", "arguments": {"party": 2}}],
        "metadata": {"language": "en-US"},
    }


def write(folder: Path, man: dict, convs: dict[str, dict]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "manifest.json").write_text(json.dumps(man))
    for cid, data in convs.items():
        (folder / f"{cid}.json").write_text(json.dumps(data))
    return folder


@pytest.fixture
def tiny(tmp_path: Path) -> Path:
    folder = write(tmp_path / "tiny", manifest(["call", "task"]), {"call": spoken(), "task": task()})
    tone(folder / "call.flac", 6.0)
    return folder


# --------------------------------------------------------------------------------------------------
# loading


def test_load_valid_dataset(tiny: Path) -> None:
    ds = ads.load(tiny)
    assert isinstance(ds, Dataset)
    assert (ds.name, len(ds), ds.path) == ("tiny", 2, tiny)
    assert [c.id for c in ds] == ["call", "task"] == ds.ids
    call = ds["call"]
    assert call.audio == tiny / "call.flac" and call.sample_rate == 16000
    assert call.turns[0].words[2] == Word("I", 1.7, 1.8)
    assert call.spans[0] == Span("hold", 1.2, 1.7, 0)
    assert call.overlaps[0].transcript == "mhm"
    assert ds[1].expected_tools[0].arguments == {"party": 2}
    assert ds[-1].text_turns == ("Book a table for two", "At eight")
    assert ds.manifest["license"] == "CC0-1.0"


def test_load_does_not_decode_audio(tiny: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_decode(*a, **k):
        raise AssertionError("loading must not decode audio")

    monkeypatch.setattr(sf.SoundFile, "read", no_decode)
    monkeypatch.setattr(sf, "read", no_decode)
    ds = ads.load(tiny)
    monkeypatch.undo()
    audio = ds["call"].load_audio()
    assert audio.sample_rate == 16000 and abs(audio.duration - 6.0) < 1e-6
    with pytest.raises(ValueError, match="scripted"):
        ds["task"].load_audio()


def test_broken_dataset_reports_every_problem_at_once(tmp_path: Path) -> None:
    folder = tmp_path / "broken"
    bad = spoken("bad", audio=None)
    bad["spans"] = [
        {"kind": "hold", "start": 1.2, "end": 1.7, "turn": 0},
        {"kind": "hold", "start": 1.5, "end": 1.9, "turn": 0},  # overlaps spans[0]
        {"kind": "eot", "start": 2.5, "end": 2.4, "turn": 0},  # negative
        {"kind": "eot", "start": 5.6, "end": 6.0, "turn": 7},  # no such turn
    ]
    bad["turns"][1]["words"] = [["thanks", 5.2, 5.6], ["bye", 5.9, 6.0]]  # outside its turn
    bad["overlaps"] = [{"kind": "laugh", "start": 3.5, "end": 3.8, "agent": 0, "transcript": None}]
    bad["colour"] = "red"
    bad["expected_tools"] = [{"name": "", "arguments": []}]
    convs = {
        "bad": bad,
        "noaudio": spoken("noaudio", "noaudio.flac"),
        "garbled": spoken("garbled", "garbled.flac"),
        "rate": spoken("rate", "rate.flac"),
        "dur": spoken("dur", "dur.flac"),
    }
    man = manifest([*convs, "missing"], sample_rate=16000, licence="typo")
    write(folder, man, convs)
    (folder / "garbled.flac").write_bytes(b"this is not audio" * 20)
    tone(folder / "rate.flac", 6.0, rate=22050)
    tone(folder / "dur.flac", 4.0)

    with pytest.raises(DatasetError) as info:
        ads.load(folder)
    err = info.value
    assert isinstance(err, ValueError)
    got = {(p.file, p.field, p.index, _freeze(p.value)) for p in err.problems}
    expected = {
        ("manifest.json", "licence", None, "typo"),  # unknown manifest field
        ("manifest.json", "conversations", 5, "missing"),  # missing conversation file
        ("bad.json", "spans", 1, (1.5, 1.9)),  # overlapping spans
        ("bad.json", "spans", 2, 2.4),  # negative span (end before start)
        ("bad.json", "spans", 3, 7),  # turn index does not exist
        ("bad.json", "turns[1].words", 1, ("bye", 5.9, 6.0)),  # word outside its turn
        ("bad.json", "overlaps", 0, "laugh"),  # unknown kind
        ("bad.json", "colour", None, "red"),  # unknown field
        ("bad.json", "expected_tools", 0, ""),  # empty tool name
        ("bad.json", "expected_tools", 0, ()),  # arguments not an object
        ("noaudio.json", "audio", None, "noaudio.flac"),  # missing audio
        ("garbled.json", "audio", None, "garbled.flac"),  # unreadable audio
        ("rate.json", "audio", None, 22050),  # sample-rate mismatch
        ("dur.json", "duration", None, 6.0),  # duration mismatch
    }
    assert expected <= got, f"missing: {expected - got}"
    text = str(err)
    assert f"{len(err.problems)} problem(s)" in text
    for p in err.problems:
        assert str(p) in text
    assert "bad.json: overlaps[0] = 'laugh': kind must be one of barge_in, backchannel, noise" in text
    assert "garbled.flac" in text and "rate.flac has sample rate 22050 Hz" in text and "dur.flac lasts 4.000 s" in text


def _freeze(v):
    return tuple(_freeze(x) for x in v) if isinstance(v, list) else v


@pytest.mark.parametrize(
    ("change", "field", "index", "value"),
    [
        (lambda d: d["turns"][0]["words"].__setitem__(0, ["hello", 0.6, 0.9]), "turns[0].words", 0, 0.6),  # first word != start
        (lambda d: d["turns"][1].__setitem__("start", 2.0), "turns", 1, 2.0),  # turns overlap
        (lambda d: d["spans"][1].__setitem__("start", 2.6), "spans", 1, 2.6),  # eot not at turn end
        (lambda d: d["spans"][0].__setitem__("end", 2.9), "spans", 0, [1.2, 2.9]),  # hold outside its turn
        (lambda d: d["overlaps"][0].__setitem__("start", 2.0), "overlaps", 0, 2.0),  # overlap not inside agent speech
        (lambda d: d["overlaps"][0].__setitem__("agent", 3), "overlaps", 0, 3),  # no such agent speech
        (lambda d: d["agent"].append({"start": 4.0, "end": 4.5}), "agent", 1, 4.0),  # agent speech overlaps
        (lambda d: d["spans"][2].__setitem__("end", 6.5), "spans", 2, 6.5),  # beyond duration
        (lambda d: d.__setitem__("id", "other"), "id", None, "other"),
        (lambda d: d["spans"][0].__setitem__("start", "1.2"), "spans", 0, "1.2"),  # not a number
        (lambda d: d["metadata"].__setitem__("snr_db", "loud"), "metadata.snr_db", None, "loud"),
        (lambda d: d["turns"][0].__setitem__("speaker", "A"), "turns", 0, "speaker"),  # unknown nested field
    ],
)
def test_single_rule(tmp_path: Path, change, field, index, value) -> None:
    data = spoken(audio=None)
    change(data)
    folder = write(tmp_path / "one", manifest(["call"]), {"call": data})
    with pytest.raises(DatasetError) as info:
        ads.load(folder)
    assert any((p.file, p.field, p.index, p.value) == ("call.json", field, index, value) for p in info.value.problems), info.value


def test_bad_manifest(tmp_path: Path) -> None:
    folder = tmp_path / "m"
    folder.mkdir()
    (folder / "manifest.json").write_text(json.dumps({"name": "Bad Name", "version": 1, "sample_rate": "16k", "conversations": "a"}))
    with pytest.raises(DatasetError) as info:
        ads.load(folder)
    got = {(p.field, _freeze(p.value)) for p in info.value.problems}
    assert {("name", "Bad Name"), ("version", 1), ("sample_rate", "16k"), ("conversations", "a"), ("license", None)} <= got
    (folder / "manifest.json").write_text("{not json")
    with pytest.raises(DatasetError, match="invalid JSON"):
        ads.load(folder)
    (folder / "manifest.json").unlink()
    with pytest.raises(DatasetError, match="does not exist"):
        ads.load(folder)
    with pytest.raises(FileNotFoundError, match="no dataset"):
        ads.load(tmp_path / "nowhere")


def test_bundled_datasets_by_name(tiny: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AGENTLAB_DATASETS", str(tiny.parent))
    (tiny.parent / "not_a_dataset").mkdir()
    assert ads.list() == ["tiny"]
    assert ads.load("tiny").path == tiny
    wrong = write(tiny.parent / "renamed", manifest(["task"]), {"task": task()})
    with pytest.raises(DatasetError, match="must equal its folder's name 'renamed'"):
        ads.load("renamed")
    monkeypatch.setenv("AGENTLAB_DATASETS", str(tmp_path / "empty"))
    assert ads.list() == []
    assert ads.load(wrong).name == "tiny"  # by path, a name differing from the folder is fine


def test_default_root_is_repository_datasets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AGENTLAB_DATASETS", raising=False)
    assert ads.datasets_root() == Path(al.__file__).resolve().parents[1] / "datasets"
    assert "schema" not in ads.list()


# --------------------------------------------------------------------------------------------------
# the dataset object


def test_getitem_errors(tiny: Path) -> None:
    ds = ads.load(tiny)
    with pytest.raises(KeyError) as info:
        ds["nope"]
    assert "'nope'" in str(info.value) and "'call', 'task'" in str(info.value)
    with pytest.raises(IndexError, match="out of range"):
        ds[2]
    with pytest.raises(TypeError):
        ds[1.5]  # type: ignore[index]


def test_frame_columns_and_counts(tiny: Path) -> None:
    ds = ads.load(tiny)
    df = ds.frame()
    assert list(df.columns) == ["conversation", "kind", "start", "end", "duration", "turn", "agent", "transcript"] == ads.FRAME_COLUMNS
    assert list(df["kind"]) == ["hold", "eot", "backchannel", "eot"]
    assert df["kind"].isin(ads.SPAN_KINDS).all()
    assert df["duration"].round(6).tolist() == [0.5, 0.5, 0.3, 0.4]
    assert df["turn"].tolist()[:2] == [0, 0] and pd.isna(df["turn"].iloc[2])
    assert df["agent"].iloc[2] == 0 and pd.isna(df["agent"].iloc[0])
    assert df["transcript"].tolist() == ["hello there I need help", "hello there I need help", "mhm", "thanks"]
    s = ds.summary()
    assert s["conversations"] == 2 and s["turns"] == 2 and s["hold"] == 1 and s["eot"] == 2
    assert (s["barge_in"], s["backchannel"], s["noise"], s["tasks"]) == (0, 1, 0, 1)
    assert s["audio_seconds"] == 6.0 and 0 < s["audio_mb"] < 1
    assert "Dataset('tiny', 2 conversations" in repr(ds)
    page = ds._repr_html_()
    assert "tiny" in page and "CC0-1.0" in page and "backchannel" in page and "median hold 500 ms" in page
    empty = Dataset("none", manifest([]), [])
    assert list(empty.frame().columns) == ads.FRAME_COLUMNS and len(empty.frame()) == 0


def test_save_round_trip(tiny: Path, tmp_path: Path) -> None:
    ds = ads.load(tiny)
    copy = ds.save(tmp_path / "copy")
    assert copy.path == tmp_path / "copy"
    pd.testing.assert_frame_equal(ds.frame(), copy.frame())
    assert ds.summary() == copy.summary()
    for a, b in zip(ds, copy, strict=True):
        assert a.to_dict() == b.to_dict()
    assert (tmp_path / "copy" / "call.flac").read_bytes() == (tiny / "call.flac").read_bytes()  # FLAC at the right rate: copied
    assert (tmp_path / "copy" / "README.md").exists()
    assert not list((tmp_path / "copy").glob(".*tmp"))
    again = copy.save(tmp_path / "copy")  # saving onto itself is fine
    pd.testing.assert_frame_equal(again.frame(), ds.frame())


def test_saved_files_match_the_json_schemas(tiny: Path, tmp_path: Path) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    ds = ads.load(tiny).save(tmp_path / "out")
    jsonschema.validate(json.loads((ds.path / "manifest.json").read_text()), json.loads((SCHEMAS / "manifest.schema.json").read_text()))
    conv_schema = json.loads((SCHEMAS / "conversation.schema.json").read_text())
    for cid in ds.ids:
        jsonschema.validate(json.loads((ds.path / f"{cid}.json").read_text()), conv_schema)
    broken = spoken()
    broken["spans"][0]["kind"] = "laugh"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, conv_schema)


def test_save_writes_nothing_for_an_invalid_dataset(tmp_path: Path) -> None:
    conv = Conversation("x", 1.0, turns=(Turn(0.5, 1.5, "too long"),))
    with pytest.raises(DatasetError, match=r"x.json: turns\[0\] = 1.5: end must be <= duration"):
        Dataset("bad", manifest(["x"]), [conv]).save(tmp_path / "out")
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_save_failure_leaves_no_half_written_files(tiny: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ds = ads.load(tiny)
    out = tmp_path / "out"
    real = dio.os.replace
    calls = []

    def flaky(src, dst):
        calls.append(dst)
        if len(calls) == 3:
            raise OSError("disk full")
        return real(src, dst)

    monkeypatch.setattr(dio.os, "replace", flaky)
    with pytest.raises(OSError, match="disk full"):
        ds.save(out)
    monkeypatch.undo()
    names = sorted(p.name for p in out.iterdir())
    assert names == ["call.flac", "call.json"]  # whole files only: no temp files, no manifest yet
    assert json.loads((out / "call.json").read_text())["id"] == "call"


def test_resaving_converts_audio_to_flac_at_the_dataset_rate(tmp_path: Path) -> None:
    wav = tone(tmp_path / "in.wav", 6.0, rate=8000, fmt="WAV")
    c = dataclasses.replace(dio.conversation_from_dict(spoken(audio=None)), audio=wav)
    ds = Dataset("tiny", manifest(["call"]), [c]).validate()  # unsaved: another rate is allowed (save resamples)
    saved = ds.save(tmp_path / "out")
    info = sf.info(str(saved["call"].audio))
    assert (info.format, info.samplerate, info.channels) == ("FLAC", 16000, 1)
    assert abs(info.frames / info.samplerate - 6.0) < 0.01


# --------------------------------------------------------------------------------------------------
# conversion to simulation inputs


def _conv(**changes) -> Conversation:
    data = spoken(audio=None)
    return dataclasses.replace(dio.conversation_from_dict(data), **changes)


def test_utterances_split_at_pauses() -> None:
    conv = _conv()
    us = ads.utterances(conv, split_pause=0.3)
    assert [(u.start, u.end, u.text) for u in us] == [
        (0.5, 1.2, "hello there"),
        (1.7, 2.5, "I need help"),
        (3.5, 3.8, "mhm"),  # the backchannel is heard and transcribed
        (5.2, 5.6, "thanks"),
    ]
    assert us[0].words == (("hello", 0.5, 0.9), ("there", 0.9, 1.2))
    assert [u.text for u in ads.utterances(conv, split_pause=0.6)][:2] == ["hello there I need help", "mhm"]
    with pytest.raises(ValueError, match="split_pause"):
        ads.utterances(conv, split_pause=0)


def test_utterances_without_words_split_at_holds() -> None:
    conv = _conv(turns=(Turn(0.5, 2.5, "hello there I need help"), Turn(5.2, 5.6, "thanks")))
    us = conv.utterances(split_pause=0.3)
    assert [(u.start, u.end, u.text) for u in us][:2] == [(0.5, 1.2, "hello there"), (1.7, 2.5, "I need help")]


def test_aligned_stt_and_user_speech() -> None:
    conv = _conv(overlaps=(ads.Overlap("noise", 3.5, 3.8, 0, None),))
    stt = ads.aligned_stt(conv, final_delay=0.3, interim_delay=0.1)
    assert isinstance(stt, al.AlignedSTT) and stt.final_delay == 0.3
    assert [u.text for u in stt.utterances] == ["hello there", "I need help", "thanks"]  # noise: nothing to transcribe
    speech = ads.user_speech(conv, stt_delay=0.25)
    assert [(s.start, s.transcript, s.stt_delay) for s in speech] == [
        (0.5, "hello there", 0.25),
        (1.7, "I need help", 0.25),
        (3.5, "", 0.25),  # the VAD hears the noise
        (5.2, "thanks", 0.25),
    ]


def test_simulate_scripted_conversation() -> None:
    conv = _conv()
    llm = al.ScriptedLLM(default="Okay.")
    run = ads.simulate_conversation(conv, lambda: al.Agent(instructions="Help."), {"llm": llm})
    assert isinstance(run, al.Run)
    user = run.history[run.history["role"] == "user"]
    assert len(user) >= 2
    assert "thanks" in " ".join(user["text"])
    assert run.session.input_events  # spoken: the turn engine decided


def test_simulate_text_task() -> None:
    conv = dio.conversation_from_dict(task())
    run = ads.simulate_conversation(conv, lambda: al.Agent(instructions="Book."), {"llm": al.ScriptedLLM(default="Done.")})
    assert run.history[run.history["role"] == "user"]["text"].tolist() == ["Book a table for two", "At eight"]
    with pytest.raises(ValueError, match="no audio"):
        ads.simulate_conversation(conv, lambda: al.Agent(instructions="x"), None, mode="audio")
