"""Importing your own calls: RTTM (+ STM) and CSV segments become a labelled dataset."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf
from speech import synthesize

import agentlab.datasets as ads
from agentlab.datasets import AgentSpeech, DatasetError, Overlap, Span
from agentlab.datasets.io import conversation_from_dict

# A two-party call: the caller (user) pauses mid-turn (a hold), says "okay" while the bot talks (a
# backchannel), then cuts in with a correction (a barge-in); a cough during the bot's second reply
# has no transcript (noise).
RTTM = """\
SPEAKER call 1 0.50 1.00 <NA> <NA> caller <NA> <NA>
SPEAKER call 1 1.80 0.70 <NA> <NA> caller <NA> <NA>
SPKR-INFO call 1 <NA> <NA> <NA> unknown caller <NA> <NA>
SPEAKER call 1 3.00 3.00 <NA> <NA> bot <NA> <NA>
SPEAKER call 1 3.50 0.40 <NA> <NA> caller <NA> <NA>
SPEAKER call 1 5.00 1.50 <NA> <NA> caller <NA> <NA>

SPEAKER call 1 7.50 2.00 <NA> <NA> bot <NA> <NA>
SPEAKER call 1 8.00 0.20 <NA> <NA> caller <NA> <NA>
"""

STM = """\
;; a comment
call 1 caller 0.50 1.50 <o,f0,female> hi I need
call 1 caller 1.80 2.50 <o,f0,female> a taxi
call 1 bot 3.00 6.00 <o,f0,male> sure where would you like to go
call 1 caller 3.50 3.90 okay
call 1 caller 5.00 6.50 no wait I mean tomorrow
call 1 bot 7.50 9.50 of course tomorrow then
"""

CSV = """\
conversation,speaker,start,end,text
call,caller,0.5,1.5,hi I need
call,caller,1.8,2.5,a taxi
call,bot,3.0,6.0,"sure, where would you like to go"
call,caller,3.5,3.9,okay
call,caller,5.0,6.5,no wait I mean tomorrow
call,bot,7.5,9.5,of course tomorrow then
call,caller,8.0,8.2,
"""


@pytest.fixture
def call(tmp_path: Path) -> dict[str, Path]:
    (tmp_path / "call.rttm").write_text(RTTM)
    (tmp_path / "call.stm").write_text(STM)
    (tmp_path / "calls.csv").write_text(CSV)
    rate = 8000  # telephone audio: save() resamples to the dataset's 16 kHz
    t = np.arange(10 * rate) / rate
    sf.write(str(tmp_path / "call.wav"), (0.2 * np.sin(2 * np.pi * 300 * t)).astype(np.float32), rate)
    return {"rttm": tmp_path / "call.rttm", "stm": tmp_path / "call.stm", "csv": tmp_path / "calls.csv", "wav": tmp_path / "call.wav"}


def check_call(conv: ads.Conversation, *, transcripts: bool) -> None:
    assert [(t.start, t.end) for t in conv.turns] == [(0.5, 2.5), (5.0, 6.5)]
    assert list(conv.spans) == [Span("hold", 1.5, 1.8, 0), Span("eot", 2.5, 3.0, 0), Span("eot", 6.5, 7.5, 1)]
    assert [(a.start, a.end) for a in conv.agent] == [(3.0, 6.0), (7.5, 9.5)]
    kinds = [(o.kind, o.start, o.end, o.agent) for o in conv.overlaps]
    assert kinds[:2] == [("backchannel", 3.5, 3.9, 0), ("barge_in", 5.0, 6.5, 0)]
    assert kinds[2] == (("noise" if transcripts else "backchannel"), 8.0, 8.2, 1)


def test_import_rttm_with_stm(call: dict[str, Path], tmp_path: Path) -> None:
    ds = ads.import_rttm(call["rttm"], call["stm"], user="caller", audio=call["wav"], name="taxi", mask_others=False)
    assert ds.path is None and ds.name == "taxi" and ds.manifest["source"] == "imported" and ds.manifest["sample_rate"] == 16000
    conv = ds["call"]
    assert conv.duration == 10.0 and conv.audio == call["wav"]
    check_call(conv, transcripts=True)
    assert [t.transcript for t in conv.turns] == ["hi I need a taxi", "no wait I mean tomorrow"]
    assert conv.agent[0] == AgentSpeech(3.0, 6.0, "sure where would you like to go")
    assert conv.overlaps[0] == Overlap("backchannel", 3.5, 3.9, 0, "okay")
    assert conv.overlaps[2].transcript is None
    words = conv.turns[0].words
    assert [w.text for w in words] == ["hi", "I", "need", "a", "taxi"]
    assert (words[0].start, words[2].end, words[3].start, words[-1].end) == (0.5, 1.5, 1.8, 2.5)  # spread evenly per segment
    assert words[1].start == pytest.approx(0.5 + 1 / 3, abs=1e-6)
    counts = ds.frame()["kind"].value_counts().to_dict()
    assert counts == {"eot": 2, "hold": 1, "backchannel": 1, "barge_in": 1, "noise": 1}

    saved = ds.save(tmp_path / "taxi")  # validates on load; audio becomes 16 kHz FLAC
    assert sf.info(str(saved["call"].audio)).samplerate == 16000
    pd.testing.assert_frame_equal(saved.frame(), ds.frame())
    assert ads.load(tmp_path / "taxi").summary()["barge_in"] == 1
    utts = ads.utterances(saved["call"], split_pause=0.3)
    assert [u.text for u in utts] == ["hi I need", "a taxi", "okay", "no wait I mean tomorrow"]


def test_import_rttm_without_stm(call: dict[str, Path]) -> None:
    ds = ads.import_rttm(call["rttm"], user="caller", conversation_id="taxi_call")
    conv = ds["taxi_call"]
    assert conv.audio is None and conv.duration == 9.5  # the last segment's end
    check_call(conv, transcripts=False)
    assert all(t.transcript == "" and t.words == () for t in conv.turns)
    assert all(o.transcript is None for o in conv.overlaps)
    speech = ads.user_speech(conv)
    assert [(s.start, s.end) for s in speech][:2] == [(0.5, 1.5), (1.8, 2.5)]  # split at the 0.3 s hold


MERGING = (
    "SPEAKER c 1 0.0 1.0 <NA> <NA> u <NA> <NA>\n"
    "SPEAKER c 1 1.05 0.5 <NA> <NA> u <NA> <NA>\n"  # 50 ms gap: same turn, no hold
    "SPEAKER c 1 2.9 0.5 <NA> <NA> u <NA> <NA>\n"  # 1.35 s gap: same turn, a hold
    "SPEAKER c 1 4.9 0.5 <NA> <NA> u <NA> <NA>\n"  # 1.5 s gap: still the same turn (nobody else spoke)
    "SPEAKER c 1 5.6 0.2 <NA> <NA> a <NA> <NA>\n"
    "SPEAKER c 1 5.9 0.5 <NA> <NA> u <NA> <NA>\n"  # agent in between: a new turn
)


def test_rttm_turn_merging_rules(tmp_path: Path) -> None:
    rttm = tmp_path / "m.rttm"
    rttm.write_text(MERGING)
    conv = ads.import_rttm(rttm, user="u")[0]
    # A long silence is a hold as long as nobody else takes the floor (a dictated number's 1.5 s pause).
    assert [(t.start, t.end) for t in conv.turns] == [(0.0, 5.4), (5.9, 6.4)]
    assert [(s.kind, s.start, s.end, s.turn) for s in conv.spans] == [
        ("hold", 1.55, 2.9, 0),
        ("hold", 3.4, 4.9, 0),
        ("eot", 5.4, 5.6, 0),
    ]  # the last turn ends the conversation: no eot of zero length


def test_merge_gap_is_a_parameter(tmp_path: Path) -> None:
    rttm = tmp_path / "m.rttm"
    rttm.write_text(MERGING)
    conv = ads.import_rttm(rttm, user="u", rules=ads.LabelRules(merge_gap=1.5))[0]
    assert [(t.start, t.end) for t in conv.turns] == [(0.0, 3.4), (4.9, 5.4), (5.9, 6.4)]
    assert ("eot", 3.4, 4.9, 0) in [(s.kind, s.start, s.end, s.turn) for s in conv.spans]
    # with 1.6 s both silences (1.35 s and 1.5 s) are shorter than the gap: one turn again
    conv = ads.import_rttm(rttm, user="u", rules=ads.LabelRules(merge_gap=1.6))[0]
    assert [(t.start, t.end) for t in conv.turns] == [(0.0, 5.4), (5.9, 6.4)]
    csv_path = tmp_path / "m.csv"
    csv_path.write_text("conversation,speaker,start,end,text\nc,u,0.0,1.0,call me at\nc,u,2.55,3.0,five five five\n")
    (single,) = ads.import_csv(csv_path, user="u").conversations
    assert [(s.kind, round(s.duration, 2)) for s in single.spans] == [("hold", 1.55)]  # the CSV importer's 1.5 s is gone
    with pytest.raises(ValueError, match="merge_gap"):
        ads.LabelRules(merge_gap=0)


def test_short_overlaps_are_not_barge_ins(tmp_path: Path) -> None:
    # The user starts 30 ms before the agent finishes: no setting could stop that agent, so it is a turn.
    rttm = tmp_path / "o.rttm"
    rttm.write_text(
        "SPEAKER c 1 0.0 2.0 <NA> <NA> a <NA> <NA>\n"
        "SPEAKER c 1 1.97 1.5 <NA> <NA> u <NA> <NA>\n"
        "SPEAKER c 1 4.0 3.0 <NA> <NA> a <NA> <NA>\n"
        "SPEAKER c 1 5.0 1.5 <NA> <NA> u <NA> <NA>\n"  # 2 s of agent speech left: a real barge-in
    )
    conv = ads.import_rttm(rttm, user="u")[0]
    assert [(o.kind, o.start) for o in conv.overlaps] == [("barge_in", 5.0)]
    assert [(t.start, t.end) for t in conv.turns] == [(1.97, 3.47), (5.0, 6.5)]
    loose = ads.import_rttm(rttm, user="u", rules=ads.LabelRules(min_overlap=0.0))[0]
    assert [(o.kind, o.start) for o in loose.overlaps] == [("barge_in", 1.97), ("barge_in", 5.0)]


def test_import_errors_name_file_line_and_value(call: dict[str, Path], tmp_path: Path) -> None:
    rttm = tmp_path / "bad.rttm"
    rttm.write_text(
        "SPEAKER call 1 0.5 1.0 <NA> <NA> caller <NA> <NA>\nSPEAKER call 1 abc 1.0 <NA> <NA> caller <NA> <NA>\nSPEAKER call 1 2\n"
    )
    stm = tmp_path / "bad.stm"
    stm.write_text("call 1 caller 0.5 1.5 hello\ncall 1 caller 7.0 8.0 nobody said this\ncall 1 caller 3.0 2.0 backwards\n")
    with pytest.raises(DatasetError) as info:
        ads.import_rttm(rttm, stm, user="caller", audio=tmp_path / "missing.wav")
    got = {(p.file, p.field, p.value) for p in info.value.problems}
    assert ("bad.rttm:2", "start", "abc") in got
    assert ("bad.rttm:3", "line", "SPEAKER call 1 2") in got
    assert ("bad.stm:2", "start", 7.0) in got
    assert ("bad.stm:3", "end", "2.0") in got
    assert "bad.rttm:2: start = 'abc': must be a number (seconds)" in str(info.value)
    with pytest.raises(DatasetError, match="has no segments of this speaker"):
        ads.import_rttm(call["rttm"], user="nobody")
    with pytest.raises(DatasetError, match="audio file does not exist"):
        ads.import_rttm(call["rttm"], user="caller", audio=tmp_path / "missing.wav")
    short = tmp_path / "short.wav"
    sf.write(str(short), np.full(16000 * 5, 0.1, np.float32), 16000)
    with pytest.raises(DatasetError, match=r"call.json: agent\[1\] = 9.5: end must be <= duration"):
        ads.import_rttm(call["rttm"], user="caller", audio=short, mask_others=False)


def test_import_csv(call: dict[str, Path], tmp_path: Path) -> None:
    ds = ads.import_csv(call["csv"], user="caller", audio={"call": call["wav"]}, mask_others=False)
    assert ds.name == "calls"
    conv = ds["call"]
    check_call(conv, transcripts=True)
    assert conv.agent[0].text == "sure, where would you like to go"
    assert conv.overlaps[1].transcript == "no wait I mean tomorrow"
    saved = ds.save(tmp_path / "calls")
    pd.testing.assert_frame_equal(saved.frame(), ds.frame())


def test_import_csv_errors(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("conversation,speaker,start,end,text\nc1,u,1.0,0.5,hi\nc1,u,x,2.0,hi\n,u,3.0,4.0,hi\n")
    with pytest.raises(DatasetError) as info:
        ads.import_csv(bad, user="u")
    got = {(p.file, p.field, p.value) for p in info.value.problems}
    assert {("bad.csv:2", "end", "0.5"), ("bad.csv:3", "start", "x"), ("bad.csv:4", "conversation", "")} <= got
    nohead = tmp_path / "nohead.csv"
    nohead.write_text("conv,who,start,end\n")
    with pytest.raises(DatasetError, match=r"nohead.csv:1: header = .*missing column\(s\)"):
        ads.import_csv(nohead, user="u")


# --- real calls: channels, masks, speaker names -----------------------------------------------------

TWO_PARTY = """\
SPEAKER call 1 0.50 1.50 <NA> <NA> spk_a <NA> <NA>
SPEAKER call 1 2.40 1.20 <NA> <NA> spk_a <NA> <NA>
SPEAKER call 1 4.00 2.00 <NA> <NA> spk_b <NA> <NA>
SPEAKER call 1 6.50 1.00 <NA> <NA> spk_a <NA> <NA>
"""
NAMED_STM = """\
call 1 Ann 0.50 2.00 can you book
call 1 Ann 2.40 3.60 a table for two
call 1 Bob 4.00 6.00 sure what time
call 1 Ann 6.50 7.50 at eight
"""


def _tone(seconds: float, spans: list[tuple[float, float]], rate: int = 16000, freq: float = 220.0) -> np.ndarray:
    x = np.zeros(int(seconds * rate), np.float32)
    for a, b in spans:
        t = np.arange(int(a * rate), int(b * rate))
        x[t] = 0.3 * np.sin(2 * np.pi * freq * t / rate)
    return x


def test_speaker_names_are_matched_by_time_overlap(tmp_path: Path) -> None:
    (tmp_path / "c.rttm").write_text(TWO_PARTY)
    (tmp_path / "c.stm").write_text(NAMED_STM)
    with pytest.warns(UserWarning, match=r"matched by time overlap: spk_a -> Ann, spk_b -> Bob"):
        conv = ads.import_rttm(tmp_path / "c.rttm", tmp_path / "c.stm", user="Ann")[0]
    assert [t.transcript for t in conv.turns] == ["can you book a table for two", "at eight"]
    assert conv.agent[0].text == "sure what time" and conv.metadata["speakers"] == {"spk_a": "Ann", "spk_b": "Bob"}
    # the user may be named either way; a dict maps explicitly and says nothing
    by_id = ads.import_rttm(tmp_path / "c.rttm", tmp_path / "c.stm", user="spk_a", speakers={"spk_a": "Ann", "spk_b": "Bob"})[0]
    assert [t.transcript for t in by_id.turns] == [t.transcript for t in conv.turns]
    with pytest.raises(DatasetError, match="no RTTM segment of speaker 'Ann'"):
        ads.import_rttm(tmp_path / "c.rttm", tmp_path / "c.stm", user="spk_a", speakers=None)


def test_stereo_calls_need_a_channel_and_keep_the_user_only(tmp_path: Path) -> None:
    (tmp_path / "c.rttm").write_text(TWO_PARTY)
    user = _tone(8.0, [(0.5, 2.0), (2.4, 3.6), (6.5, 7.5)])
    agent = _tone(8.0, [(4.0, 6.0)], freq=330.0)
    sf.write(str(tmp_path / "call.wav"), np.stack([agent, user], axis=1), 16000)
    with pytest.raises(DatasetError, match=r"user_channel.*2 channels: say which is the user's"):
        ads.import_rttm(tmp_path / "c.rttm", user="spk_a", audio=tmp_path / "call.wav")
    with pytest.raises(DatasetError, match=r"user_channel = 2: must be a channel index 0..1"):
        ads.import_rttm(tmp_path / "c.rttm", user="spk_a", audio=tmp_path / "call.wav", user_channel=2)
    ds = ads.import_rttm(tmp_path / "c.rttm", user="spk_a", audio=tmp_path / "call.wav", user_channel=1)
    conv = ds[0]
    assert conv.channel == 1
    heard = conv.load_audio().samples
    assert np.abs(heard[int(4.5 * 16000) : int(5.5 * 16000)]).max() == 0.0  # the agent's side is not in the user's audio
    assert np.abs(heard[int(1.0 * 16000) : int(1.5 * 16000)]).max() > 0.2
    saved = ds.save(tmp_path / "saved")  # the user's channel is written, mono
    assert sf.info(str(saved[0].audio)).channels == 1 and saved[0].channel is None
    np.testing.assert_allclose(saved[0].load_audio().samples, heard, atol=1e-4)


def test_a_mono_mix_warns_and_masks_the_other_speakers(tmp_path: Path) -> None:
    (tmp_path / "c.rttm").write_text(TWO_PARTY + "SPEAKER call 1 5.50 1.20 <NA> <NA> spk_a <NA> <NA>\n")  # a barge-in
    sf.write(str(tmp_path / "mix.wav"), _tone(8.0, [(0.5, 2.0), (2.4, 3.6), (4.0, 6.0), (6.5, 7.5)]), 16000)
    with pytest.warns(UserWarning, match=r"one mono track and the labels name 2 speakers.*mask_others=True"):
        unmasked = ads.import_rttm(tmp_path / "c.rttm", user="spk_a", audio=tmp_path / "mix.wav")[0]
    assert unmasked.mask == ()
    masked = ads.import_rttm(tmp_path / "c.rttm", user="spk_a", audio=tmp_path / "mix.wav", mask_others=True)[0]
    assert masked.mask == ((4.0, 5.5),)  # the agent's speech, less where the user speaks over it
    x = masked.load_audio().samples
    assert np.abs(x[int(4.1 * 16000) : int(5.4 * 16000)]).max() == 0.0 and np.abs(x[int(5.6 * 16000) : int(5.9 * 16000)]).max() > 0.2
    saved = ads.Dataset("m", {**masked_manifest(), "conversations": [masked.id]}, [masked]).save(tmp_path / "m")
    assert saved[0].mask == masked.mask  # the mask is a label: kept, and applied when the audio is analysed


def masked_manifest() -> dict:
    return {"name": "m", "version": "1", "description": "d", "license": "CC0-1.0", "source": "imported", "sample_rate": 16000}


def test_agent_speech_from_the_agent_channel(tmp_path: Path) -> None:
    (tmp_path / "u.rttm").write_text("SPEAKER call 1 0.50 1.50 <NA> <NA> u <NA> <NA>\nSPEAKER call 1 6.5 1.0 <NA> <NA> u <NA> <NA>\n")
    user = _tone(8.0, [(0.5, 2.0), (6.5, 7.5)])
    agent = np.zeros(8 * 16000, np.float32)
    said = synthesize("Sure, a table for two at eight.")  # real (synthesized) speech: the VAD must hear it
    agent[3 * 16000 : 3 * 16000 + len(said)] = said
    sf.write(str(tmp_path / "call.wav"), np.stack([user, agent], axis=1), 16000)
    conv = ads.import_rttm(tmp_path / "u.rttm", user="u", audio=tmp_path / "call.wav", user_channel=0, agent_channel=1)[0]
    end = 3 + len(said) / 16000
    assert len(conv.agent) == 1 and abs(conv.agent[0].start - 3.0) < 0.1 and abs(conv.agent[0].end - end) < 0.15
    assert [(s.kind, s.turn) for s in conv.spans] == [("eot", 0), ("eot", 1)] and conv.metadata["agent_channel"] == 1


def test_labels_may_end_a_rounding_step_past_the_audio(tmp_path: Path) -> None:
    ds = ads.load("conversational")
    conv = ds[0]
    data = conv.to_dict()
    data["spans"][-1]["end"] = conv.duration + 0.0003  # an annotation tool rounded up
    ok = conversation_from_dict(data, folder=ds.path)
    assert ok.spans[-1].end == pytest.approx(conv.duration + 0.0003)
    data["spans"][-1]["end"] = conv.duration + 0.2
    with pytest.raises(DatasetError, match=r"end must be <= duration .* within 50 ms"):
        conversation_from_dict(data, folder=ds.path)
