"""Sweep answers on real human speech (the bundled ``real`` dataset): counted honestly, end to end.

Each check recomputes a figure a different way from the one the sweep used, on recordings of real
people (AMI meetings as mono mixes, read and dictated speech with real pauses).
"""

from __future__ import annotations

import math
import shutil
import warnings
from pathlib import Path

import pytest

import agentlab.datasets as ads
from agentlab.audio import VADOptions
from agentlab.datasets import Dataset
from agentlab.models.stt import STTOptions
from agentlab.sweeps import expected_hold_cutoffs, sweep

DELAYS = [0.2, 0.4, 0.6, 0.8, 1.0, 1.6, 2.0]
SOURCES = ads.datasets_root() / "real" / "sources"


@pytest.fixture(scope="module")
def real() -> Dataset:
    return ads.load("real")


@pytest.fixture(scope="module")
def delays(real):
    return sweep(None, real, {"endpointing.min_delay": DELAYS}, progress=False)


def _single(real: Dataset) -> Dataset:
    return Dataset("single", real.manifest, [c for c in real if c.metadata["kind"] != "meeting"])


def test_the_dataset_is_real_speech_with_its_licences(real):
    s = real.summary()
    assert s["hold"] >= 80 and s["eot"] >= 40 and s["turns"] >= 50
    kinds = {c.metadata["kind"] for c in real}
    assert {"meeting", "read", "dictation", "spontaneous"} <= kinds
    meetings = [c for c in real if c.metadata["kind"] == "meeting"]
    assert len({c.audio for c in meetings}) == 4 and all(c.mask and c.metadata["speakers"] >= 2 for c in meetings)
    assert all(c.metadata["license"] in ("CC-BY-4.0", "LicenseRef-public-domain", "Apache-2.0") and c.metadata["source"] for c in real)
    card = (ads.datasets_root() / "real" / "README.md").read_text()
    for needed in ("CC BY 4.0", "AMI", "LibriSpeech", "FLEURS", "LJ Speech", "LibriVox", "vosk-api", "Carletta"):
        assert needed in card, needed


def test_reported_cutoffs_match_an_independent_count(real, delays):
    """Per hold and per turn, recounted from the labels and the commit times alone."""
    turns = delays.turns
    for d in DELAYS:
        rows = turns[turns["endpointing.min_delay"] == d]
        commits = rows[rows.kind == "commit"]
        hold_cut = turn_cut = holds = n_turns = 0
        for conv in real:
            times = sorted(commits[commits.conversation == conv.id].time)
            for s in conv.spans:
                if s.kind == "hold":
                    holds += 1
                    hold_cut += any(s.start <= t < s.end + 0.1 for t in times)
            for ti, turn in enumerate(conv.turns):
                n_turns += 1
                in_holds = any(s.start <= t < s.end + 0.1 for s in conv.spans if s.kind == "hold" and s.turn == ti for t in times)
                turn_cut += in_holds or any(turn.start <= t < turn.end for t in times)
        summary = delays.summary.set_index("endpointing.min_delay").loc[d]
        assert (summary["holds"], summary["turns"]) == (holds, n_turns)
        assert summary["hold_cutoff_rate"] == pytest.approx(hold_cut / holds)
        assert summary["turn_cutoff_rate"] == pytest.approx(turn_cut / n_turns)
        assert summary["false_cutoff_rate"] == pytest.approx(max(hold_cut / holds, turn_cut / n_turns))


def test_hold_cutoffs_follow_the_label_derived_expectation(real):
    """On single speakers (no agent to change what is heard) the replay agrees with hold lengths vs min_delay."""
    single = _single(real)
    res = sweep(None, single, {"endpointing.min_delay": DELAYS}, progress=False)
    for d, measured in zip(res.summary["endpointing.min_delay"], res.summary["hold_cutoff_rate"], strict=True):
        expected = expected_hold_cutoffs(single, d)["rate"]
        assert abs(measured - expected) <= 0.06, (d, measured, expected)


def test_curves_are_monotone(delays):
    s = delays.summary.sort_values("endpointing.min_delay")
    for col in ("hold_cutoff_rate", "turn_cutoff_rate", "false_cutoff_rate"):
        assert s[col].is_monotonic_decreasing, (col, s[col].tolist())
    assert s["eot_latency_p50"].is_monotonic_increasing and s["eot_latency_p90"].is_monotonic_increasing
    assert s["false_cutoff_rate"].iloc[0] > 0.3 > s["false_cutoff_rate"].iloc[-1]  # real pauses: eager settings cut people off


def test_the_recommendation_keeps_its_own_budget(real, delays):
    best = delays.best(max_cutoff_rate=0.10)
    assert best["hold_cutoff_rate"] <= 0.10 and best["turn_cutoff_rate"] <= 0.10
    # Every faster setting breaks the budget one way or the other.
    s = delays.summary
    faster = s[s["eot_latency_p50"] < best["eot_latency_p50"]]
    assert (faster["false_cutoff_rate"] > 0.10).all()


def _import_es2003a(tmp_path: Path, **kw) -> Dataset:
    audio = tmp_path / "ami-ES2003a.flac"
    shutil.copyfile(ads.datasets_root() / "real" / "ami-ES2003a.flac", audio)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ds = ads.import_rttm(SOURCES / "ami-ES2003a.rttm", SOURCES / "ami-ES2003a.stm", user="MEE009", audio=audio, **kw)
    return ds, [str(w.message) for w in caught]


def test_a_real_mono_mix_needs_masking_to_find_the_turn_ends(tmp_path):
    masked, said = _import_es2003a(tmp_path, mask_others=True)
    assert any("matched by time overlap: B -> MEE009, C -> MEE012" in m for m in said)  # RTTM letters, STM ids
    plain, said = _import_es2003a(tmp_path)
    assert any("one mono track and the labels name 2 speakers" in m for m in said)
    opts = {"turn_handling": {"endpointing": {"min_delay": 0.5}}}
    found = sweep(None, masked, {}, base_options=opts, progress=False).summary.iloc[0]
    blind = sweep(None, plain, {}, base_options=opts, progress=False).summary.iloc[0]
    eots = found["eots"]
    assert eots >= 4
    # masked: the user's turn ends are committed (before or after the other speaker's reply); unmasked: the other voice
    # holds the VAD open through the user's silences and most are missed
    assert found["detected"] + found["late"] >= eots - 1
    assert blind["detected"] + blind["late"] < found["detected"] + found["late"]


def test_sweeping_the_vad_activation_threshold_works_and_matters(real):
    single = _single(real)
    grid = {"vad.activation_threshold": [0.3, 0.5, 0.7, 0.9]}
    res = sweep(None, single, grid, base_options={"turn_handling": {"endpointing": {"min_delay": 0.4}}}, progress=False)
    assert res.failed.empty
    assert "activation 0.3/0.15" in res.summary["vad"].iloc[0] and "activation 0.9/0.75" in res.summary["vad"].iloc[3]
    assert res.summary["hold_cutoff_rate"].nunique() > 1
    # an explicit deactivation threshold is kept
    kept = sweep(None, single, {"vad.activation_threshold": [0.7]}, base_vad=VADOptions(deactivation_threshold=0.2), progress=False)
    assert "activation 0.7/0.2" in kept.summary["vad"].iloc[0]


def test_the_vad_backend_is_a_grid_parameter(real):
    single = _single(real)
    res = sweep(None, single, {"vad.backend": ["silero", "energy"]}, progress=False)
    assert res.failed.empty and res.summary["vad"].str.startswith(("silero", "energy")).all()
    assert res.summary["hold_cutoff_rate"].iloc[0] != res.summary["hold_cutoff_rate"].iloc[1]


def test_stt_mode_with_the_aligned_stt_is_flagged_and_the_modelled_one_is_not_an_oracle(real):
    single = _single(real)
    opts = {"turn_handling": {"turn_detection": "stt", "endpointing": {"min_delay": 0.5}}}
    with pytest.warns(UserWarning, match="aligned STT is an oracle"):
        oracle = sweep(None, single, {"stt.model": ["aligned"]}, base_options=opts, progress=False).summary.iloc[0]
    assert oracle["eot_latency_p50"] == pytest.approx(0.5) and oracle["eot_latency_p90"] == pytest.approx(0.5)
    grid = {"stt.model": ["modelled"], "stt.wer": [0.0, 0.2], "stt.final_delay": [0.25]}
    base_stt = STTOptions(timing_jitter=0.08, final_delay_p90=0.7)
    res = sweep(None, single, grid, base_options=opts, base_stt=base_stt, progress=False)
    s = res.summary
    assert res.failed.empty and s["stt"].str.contains("modelled: WER 20%").any()
    # jittered word times and late finals spread the latency around min_delay instead of pinning it there
    lat = res.turns[(res.turns.kind == "eot") & (res.turns.setting == s["setting"].iloc[0])].latency.dropna()
    assert lat.max() > 0.6 and lat.min() < 0.5 and s["eot_latency_p90"].iloc[0] > s["eot_latency_p50"].iloc[0] + 0.01
    assert (res.cells["stt"] == s["stt"].iloc[0]).sum() == len(single)  # every cell says which STT heard it


def test_whisper_transcribes_real_speech_on_the_fast_path(real):
    pytest.importorskip("faster_whisper")
    two = Dataset("two", real.manifest, [real["dictation-zipcodes"], real["fleurs-en-us-test-000"]])
    res = sweep(None, two, {"stt.model": ["aligned", "whisper"]}, progress=False)
    assert res.failed.empty
    s = res.summary
    assert s["stt"].iloc[1].startswith("whisper") and s["detected"].iloc[1] >= 1
    commits = res.turns[(res.turns.kind == "commit") & (res.turns["stt.model"] == "whisper")]
    assert any("zero" in str(t).lower() or "0" in str(t) for t in commits.transcript)  # Whisper's own words


def test_aec_warmup_losses_are_reported_and_sweepable(real):
    meetings = Dataset("m", real.manifest, [c for c in real if c.metadata["kind"] == "meeting"])
    res = sweep(None, meetings, {"aec_warmup_duration": [None, 3.0]}, progress=False)
    off, on = res.summary.iloc[0], res.summary.iloc[1]
    assert off["aec_warmup_losses"] == 0 and on["aec_warmup_losses"] >= 1
    assert off["aec_warmup_loss_rate"] == 0 and on["aec_warmup_loss_rate"] == pytest.approx(on["aec_warmup_losses"] / on["eots"])
    # a dataset can say its recordings need no echo guard
    quiet = Dataset("m", {**real.manifest, "session_options": {"aec_warmup_duration": None}}, meetings.conversations)
    assert sweep(None, quiet, {}, progress=False).summary.iloc[0]["aec_warmup_losses"] == 0


def test_barge_ins_are_scored_only_where_the_simulated_agent_speaks(delays):
    s = delays.summary
    assert (s["barge_ins_labelled"] >= s["barge_ins_scored"]).all() and (s["barge_ins_labelled"] > 0).all()
    for _, row in s.iterrows():
        assert math.isnan(row["barge_in_recall"]) == (row["barge_ins_scored"] == 0)


def test_turns_without_transcripts_fail_their_cells_with_the_fix(tmp_path):
    """An RTTM without STM has no words: the labels' STT would hear nothing and never commit; say so."""
    audio = tmp_path / "ami-ES2003a.flac"
    shutil.copyfile(ads.datasets_root() / "real" / "ami-ES2003a.flac", audio)
    ds = ads.import_rttm(SOURCES / "ami-ES2003a.rttm", user="B", audio=audio, mask_others=True)
    res = sweep(None, ds, {"stt.model": ["aligned", "modelled"]}, progress=False)
    assert len(res.failed) == 2 and res.failed["error"].str.contains("have no transcript.*model='whisper'").all()
