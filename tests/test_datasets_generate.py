"""The dataset generator (``agentlab.datasets.generate``) and the bundled datasets it produced.

Regeneration runs espeak-ng only (no Piper) on a small ``scale``. Labels must be byte-identical
between runs with the same seed. Audio can't be: espeak-ng output jitters by a few samples from call
to call, which shifts waveforms enough that sample-wise differences are as large as the signal. So
the audio check is on lengths (exact) and on the 20 ms RMS envelope: relative RMS difference of the
envelopes below 0.25 and correlation above 0.97 (measured: below 0.11 and above 0.985).
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import numpy as np
import pytest

sf = pytest.importorskip("soundfile")
pytest.importorskip("espeakng_loader")

from agentlab.datasets import generate as gen  # noqa: E402

ROOT = Path(__file__).resolve().parents[1] / "datasets"
AUDIO_SETS = ("dictation", "conversational", "overlaps")
SCALE = 0.05  # one conversation per audio dataset, two tasks
ENVELOPE_RMS_TOL = 0.25
ENVELOPE_CORR_MIN = 0.97


def _envelope(x: np.ndarray) -> np.ndarray:
    n = len(x) // 320
    return np.sqrt((x[: n * 320].astype(np.float64).reshape(n, 320) ** 2).mean(axis=1))


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory):
    a, b = tmp_path_factory.mktemp("run_a"), tmp_path_factory.mktemp("run_b")
    gen.generate(a, seed=0, scale=SCALE, piper=False)
    gen.generate(b, seed=0, scale=SCALE, piper=False)
    return a, b


def _label_files(folder: Path) -> list[Path]:
    return sorted(p.relative_to(folder) for p in folder.rglob("*.json"))


def test_same_seed_same_labels_and_manifests(two_runs):
    a, b = two_runs
    files = _label_files(a)
    assert files == _label_files(b)
    assert {f.parts[0] for f in files} == set(gen.DATASETS)
    for f in files:
        assert (a / f).read_bytes() == (b / f).read_bytes(), f


def test_same_seed_audio_within_tolerance(two_runs):
    a, b = two_runs
    flacs = sorted(p.relative_to(a) for p in a.rglob("*.flac"))
    assert len(flacs) == len(AUDIO_SETS)
    for f in flacs:
        x, rx = sf.read(a / f, dtype="float32")
        y, ry = sf.read(b / f, dtype="float32")
        assert rx == ry == 16000 and x.ndim == 1
        assert len(x) == len(y), f
        ex, ey = _envelope(x), _envelope(y)
        rel = np.sqrt(np.mean((ex - ey) ** 2)) / np.sqrt(np.mean(ex**2))
        assert rel < ENVELOPE_RMS_TOL, (f, rel)
        assert np.corrcoef(ex, ey)[0, 1] > ENVELOPE_CORR_MIN, f


def test_different_seed_changes_labels(tmp_path):
    gen.generate(tmp_path / "s0", seed=0, scale=SCALE, piper=False, only=["dictation", "tasks"])
    gen.generate(tmp_path / "s1", seed=1, scale=SCALE, piper=False, only=["dictation", "tasks"])
    for name in ("dictation", "tasks"):
        c0 = json.loads((tmp_path / "s0" / name / f"{name}-000.json").read_text())
        c1 = json.loads((tmp_path / "s1" / name / f"{name}-000.json").read_text())
        assert c0["id"] == c1["id"]
        assert (c0["turns"], c0["text_turns"], c0["expected_tools"]) != (c1["turns"], c1["text_turns"], c1["expected_tools"])


def _check_conversation(conv: dict, sample_rate: int = 16000, folder: Path | None = None) -> None:
    """The rules of datasets/README.md, and the span convention recomputed from the words."""
    dur = conv["duration"]
    assert set(conv) == {"id", "audio", "duration", "turns", "spans", "agent", "overlaps", "expected_tools", "text_turns", "metadata"}
    for k in ("voice", "speaking_rate", "noise", "snr_db", "language", "source", "license"):
        assert k in conv["metadata"]
    prev_end = 0.0
    for t in conv["turns"]:
        assert prev_end <= t["start"] < t["end"] <= dur
        w_prev = t["start"]
        for w, s, e in t["words"]:
            assert isinstance(w, str) and w
            assert w_prev <= s < e <= t["end"]
            w_prev = e
        assert abs(t["words"][0][1] - t["start"]) < 0.01 and abs(t["words"][-1][2] - t["end"]) < 0.01
        assert t["transcript"].split() == [w for w, _, _ in t["words"]]
        prev_end = t["end"]
    prev_end = 0.0
    for a in conv["agent"]:
        assert prev_end <= a["start"] < a["end"] <= dur
        prev_end = a["end"]
    for o in conv["overlaps"]:
        assert o["kind"] in ("barge_in", "backchannel", "noise")
        a = conv["agent"][o["agent"]]
        assert a["start"] <= o["start"] < a["end"] and o["start"] < o["end"] <= dur
        assert (o["transcript"] is None) == (o["kind"] == "noise")
    # spans: recompute independently of gen.compute_spans
    expected = []
    for i, t in enumerate(conv["turns"]):
        for (_, _, e1), (_, s2, _) in itertools.pairwise(t["words"]):
            gap = s2 - e1
            assert not (0.09 < gap < 0.11), f"pause {gap} too close to the 100 ms threshold"
            if gap >= 0.1:
                expected.append(("hold", e1, s2, i))
        nxt = [dur] + [a["start"] for a in conv["agent"] if a["start"] >= t["end"]]
        if i + 1 < len(conv["turns"]):
            nxt.append(conv["turns"][i + 1]["start"])
        expected.append(("eot", t["end"], min(nxt), i))
    got = [(s["kind"], s["start"], s["end"], s["turn"]) for s in conv["spans"]]
    assert got == expected
    spans = sorted((s["start"], s["end"]) for s in conv["spans"])
    assert all(e1 <= s2 + 1e-9 for (_, e1), (s2, _) in itertools.pairwise(spans))
    for s in conv["spans"]:
        assert 0 <= s["start"] < s["end"] <= dur
    if conv["audio"] is None:
        assert conv["turns"] == [] and conv["text_turns"] and conv["expected_tools"]
        for call in conv["expected_tools"]:
            assert call["name"] and isinstance(call["arguments"], dict)
    elif folder is not None:
        info = sf.info(str(folder / conv["audio"]))
        assert info.samplerate == sample_rate and info.channels == 1 and info.subtype == "PCM_16" and info.format == "FLAC"
        assert abs(info.frames / info.samplerate - dur) < 0.05


def test_generated_conversations_follow_the_spec(two_runs):
    a, _ = two_runs
    for name in gen.DATASETS:
        manifest = json.loads((a / name / "manifest.json").read_text())
        assert manifest["name"] == name and manifest["sample_rate"] == 16000
        assert manifest["generator"] == {"script": "agentlab.datasets.generate", "seed": 0, "version": gen.GENERATOR_VERSION}
        assert (a / name / "README.md").exists()
        for cid in manifest["conversations"]:
            conv = json.loads((a / name / f"{cid}.json").read_text())
            assert conv["id"] == cid
            _check_conversation(conv, folder=a / name)


def test_labels_match_the_audio(two_runs):
    """Speech sits where the words are: inside every word there is sound; in clean audio holds are silent."""
    a, _ = two_runs
    for name in AUDIO_SETS:
        conv = json.loads((a / name / f"{name}-000.json").read_text())
        x, sr = sf.read(a / name / conv["audio"], dtype="float32")
        for t in conv["turns"]:
            for _, s, e in t["words"]:
                assert np.abs(x[round(s * sr) : round(e * sr)]).max() > 0.01
        if conv["metadata"]["noise"] is None:
            events = conv["metadata"].get("events", [])
            for sp in conv["spans"]:
                if sp["kind"] == "hold" and not any(ev["start"] < sp["end"] and sp["start"] < ev["end"] for ev in events):
                    assert np.abs(x[round(sp["start"] * sr) + 1 : round(sp["end"] * sr) - 1]).max() < 1e-3


def test_compute_spans_convention():
    words = [[("a", 0.0, 0.5), ("b", 0.55, 1.0), ("c", 1.4, 1.8)], [("d", 5.0, 5.5)]]
    spans = gen.compute_spans(words, [(2.3, 4.0), (6.0, 7.0)], 8.0)
    assert spans == [
        {"kind": "hold", "start": 1.0, "end": 1.4, "turn": 0},
        {"kind": "eot", "start": 1.8, "end": 2.3, "turn": 0},
        {"kind": "eot", "start": 5.5, "end": 6.0, "turn": 1},
    ]
    assert gen.compute_spans([[("x", 0.0, 1.0)]], [], 3.0) == [{"kind": "eot", "start": 1.0, "end": 3.0, "turn": 0}]


def test_duration_model_is_deterministic_and_rate_scaled():
    assert gen.phrase_ms("five five five", 175) == 3 * gen.word_ms("five", 175)
    assert gen.word_ms("seven", 140) > gen.word_ms("seven", 200)


# ---------------------------------------------------------------------------------------------------
# the committed, bundled datasets


def _bundled(name: str) -> tuple[dict, list[dict]]:
    folder = ROOT / name
    manifest = json.loads((folder / "manifest.json").read_text())
    return manifest, [json.loads((folder / f"{cid}.json").read_text()) for cid in manifest["conversations"]]


@pytest.mark.parametrize("name", gen.DATASETS)
def test_bundled_dataset_parses_and_audio_exists(name):
    folder = ROOT / name
    assert (folder / "README.md").read_text().startswith(f"# {name}")
    manifest, convs = _bundled(name)
    assert manifest["name"] == name and manifest["license"] == "CC0-1.0" and manifest["sample_rate"] == 16000
    assert len(set(manifest["conversations"])) == len(convs) > 0
    for conv in convs:
        _check_conversation(conv, folder=folder)
    listed = {f"{c['id']}.json" for c in convs} | {c["audio"] for c in convs if c["audio"]}
    present = {p.name for p in folder.iterdir() if p.suffix in (".json", ".flac") and p.name != "manifest.json"}
    assert present == listed


def test_bundled_counts_and_size():
    spans = overlaps = tasks = 0
    for name in gen.DATASETS:
        _, convs = _bundled(name)
        spans += sum(s["kind"] in ("hold", "eot") for c in convs for s in c["spans"])
        overlaps += sum(len(c["overlaps"]) for c in convs)
        tasks += sum(1 for c in convs if c["expected_tools"] and c["text_turns"])
    assert spans >= 400
    assert overlaps >= 100
    assert tasks >= 30
    total = sum(p.stat().st_size for name in gen.DATASETS for p in (ROOT / name).glob("*.flac"))
    assert total < 40_000_000


@pytest.mark.parametrize("name", gen.DATASETS)
def test_bundled_labels_are_the_generators_output(name):
    """Regenerating the first conversation (seed from the manifest, espeak only) gives the committed labels."""
    manifest, convs = _bundled(name)
    seed = manifest["generator"]["seed"]
    conv, _ = gen._conversation(name, 0, seed, False)
    committed = convs[0]
    piper_only = ("voice", "tts", "language")  # a Piper conversation falls back to en-us without Piper
    for key in conv:
        if key == "metadata":
            strip = lambda m: {k: v for k, v in m.items() if k not in piper_only}  # noqa: E731
            assert strip(conv[key]) == strip(committed[key])
        else:
            assert conv[key] == committed[key], key
