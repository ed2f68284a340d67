"""Build the `real` dataset from its sources: recordings of real people, with word times.

This is how every file of this folder was made, kept so that each label can be traced back. It reads
the sources (audio, word times, speaker turns) collected from public repositories under open licences
(see README.md for each source, its commit and its licence) and writes the dataset in agentlab's format:

* **meetings** (AMI Meeting Corpus, CC BY 4.0): four 30 s excerpts, each one mono mix of all the
  room's speakers, and the AMI manual word annotations of each speaker. Every speaker with enough
  words becomes the *user* of one conversation: the other speakers are the agent, and their
  speech is masked out of the mix (``mask``) so that only the user's voice reaches the VAD. The same
  turns are written as RTTM (speakers by AMI letter) and STM (speakers by participant id) in
  ``sources/``, to import them the way a user would (``tests/test_real_speech.py``).
* **single speakers** (LibriSpeech, FLEURS, LJ Speech, LibriVox, AMI excerpts, a spoken ZIP-code
  recording): one turn each, word times from forced alignment, padded with 0.5 s before and 1.5 s
  after of faint noise (-70 dBFS) so that the VAD hears the start and the end of the speech. Clips
  cut while the speaker was still talking get no end-of-turn label (their end is not a turn's end).

Labels follow agentlab's importer rules (:mod:`agentlab.datasets.importers`): holds are word gaps of
at least 0.1 s inside a turn; a turn ends when someone else speaks.

Run:  python datasets/real/build.py SOURCES_DIR     (writes next to this file)
"""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path

import numpy as np
import soundfile as sf

from agentlab.datasets import Turn, Word
from agentlab.datasets.importers import Segment, conversation_from_segments

RATE = 16000
HERE = Path(__file__).resolve().parent
LEAD, TAIL = 0.5, 1.5
MEETINGS = ["ES2003a", "EN2001a", "EN2002a", "EN2006b"]
MIN_USER_WORDS = 12  # a speaker with fewer words in the 30 s has no turn worth scoring
WORD_GAP = 0.1  # words closer than this are one speaker segment (a hold starts at 0.1 s)
SINGLES = {  # file stem -> (kind, conversation id)
    "vosk_zipcodes_10001_90210_01803": ("dictation", "dictation-zipcodes"),
    "librispeech_2412-153948-0000": ("read", "librispeech-2412-153948-0000"),
    "librispeech_2412-153948-0001": ("read", "librispeech-2412-153948-0001"),
}


def _noise(seconds: float, seed: int) -> np.ndarray:
    return (np.random.default_rng(seed).standard_normal(round(seconds * RATE)) * 10 ** (-70 / 20)).astype(np.float32)


def _write(path: Path, samples: np.ndarray) -> None:
    sf.write(str(path), samples, RATE, format="FLAC", subtype="PCM_16")


def _words(raw: list) -> list[tuple[str, float, float]]:
    out = []
    for w in raw:
        text, start, end = (w["word"], w["start"], w["end"]) if isinstance(w, dict) else w
        out.append((str(text), float(start), float(end)))
    return out


def single(src: Path, kind: str, cid: str, meta: dict, seed: int) -> tuple:
    """One speaker, one turn: padded audio, the aligned words, holds at gaps >= 0.1 s."""
    audio, rate = sf.read(str(src), dtype="float32")
    assert rate == RATE and audio.ndim == 1, src
    samples = np.concatenate([_noise(LEAD, seed), audio, _noise(TAIL, seed + 1)])
    _write(HERE / f"{cid}.flac", samples)
    words = [(w, s + LEAD, e + LEAD) for w, s, e in _words(meta["words"])]
    duration = len(samples) / RATE
    segs = [Segment("user", s, e, w) for w, s, e in words]
    conv = conversation_from_segments(cid, segs, user="user", duration=duration, audio=HERE / f"{cid}.flac")
    conv = _exact_words(conv, words)
    if not meta.get("ends_at_turn_end", True):
        conv = dataclasses.replace(conv, spans=tuple(s for s in conv.spans if s.kind != "eot"))
    info = {"kind": kind, "speakers": 1, "source": _source_line(meta), "license": _licence(meta)}
    return conv, info


def _exact_words(conv, words: list[tuple[str, float, float]]):
    """Give each turn the real word times (the importer spreads a segment's words evenly)."""
    turns = []
    for t in conv.turns:
        inside = [Word(w, round(s, 6), round(e, 6)) for w, s, e in words if s >= t.start - 1e-6 and e <= t.end + 1e-6]
        turns.append(Turn(t.start, t.end, " ".join(w.text for w in inside), tuple(inside)))
    return dataclasses.replace(conv, turns=tuple(turns))


def _segments(words: list[tuple[str, float, float]], speaker: str) -> list[Segment]:
    """Words closer than WORD_GAP joined into speaker segments (with their text)."""
    out: list[list] = []
    for w, s, e in sorted(words, key=lambda x: x[1]):
        if out and s - out[-1][2] < WORD_GAP:
            out[-1][2] = max(out[-1][2], e)
            out[-1][3].append(w)
        else:
            out.append([speaker, s, e, [w]])
    return [Segment(sp, round(s, 6), round(e, 6), " ".join(ws)) for sp, s, e, ws in out]


def meeting(sources: Path, name: str) -> list[tuple]:
    """Every speaker of one AMI excerpt as the user of one conversation (the others masked)."""
    ami = sources / "ami_meeting_excerpts"
    clip = f"{name}_0000-0030"
    audio, rate = sf.read(str(ami / f"{clip}.flac"), dtype="float32")
    assert rate == RATE
    _write(HERE / f"ami-{name}.flac", audio)
    duration = len(audio) / RATE
    # a word still being said when the excerpt ends is cut with it
    words = {
        spk: [(w, s, min(e, duration)) for w, s, e in _words(ws) if s < duration - 0.05]
        for spk, ws in json.loads((ami / f"{clip}.words.json").read_text()).items()
    }
    letters = {v: k for k, v in json.loads((ami / f"{clip}.words.meta.json").read_text())["agent_to_speaker"].items()}
    segs = [seg for spk, ws in words.items() for seg in _segments(ws, spk)]
    _sources(name, segs, letters)
    out = []
    for spk, ws in sorted(words.items()):
        if len(ws) < MIN_USER_WORDS:
            continue
        cid = f"ami-{name}-{spk}"
        conv = conversation_from_segments(cid, segs, user=spk, duration=duration, audio=HERE / f"ami-{name}.flac", mask_others=True)
        conv = _exact_words(conv, ws)
        info = {
            "kind": "meeting",
            "speakers": len(words),
            "user_speaker": spk,
            "source": f"AMI Meeting Corpus {name}, 0-30 s (pyannote/pyannote-audio tests/data; AMI manual words 1.6.2)",
            "license": "CC-BY-4.0",
        }
        out.append((conv, info))
    return out


def _sources(name: str, segs: list[Segment], letters: dict[str, str]) -> None:
    """RTTM (AMI letters) and STM (participant ids) of one excerpt, for importing it as a user would."""
    folder = HERE / "sources"
    folder.mkdir(exist_ok=True)
    rttm = [f"SPEAKER ami-{name} 1 {s.start:.2f} {s.end - s.start:.2f} <NA> <NA> {letters[s.speaker]} <NA> <NA>" for s in segs]
    stm = [f"ami-{name} 1 {s.speaker} {s.start:.2f} {s.end:.2f} {s.text}" for s in segs]
    (folder / f"ami-{name}.rttm").write_text("\n".join(sorted(rttm, key=lambda r: float(r.split()[3]))) + "\n")
    (folder / f"ami-{name}.stm").write_text("\n".join(sorted(stm, key=lambda r: float(r.split()[3]))) + "\n")


def _source_line(meta: dict) -> str:
    src = meta.get("source") or {}
    if isinstance(src, dict):
        return f"{src.get('repo') or src.get('audio_repo')} {src.get('path') or src.get('audio_path', '')} @ {(src.get('commit') or src.get('audio_commit') or '')[:10]}"
    return str(src)


def _licence(meta: dict) -> str:
    text = str(meta.get("license", "")).lower()
    return "LicenseRef-public-domain" if "public domain" in text else "CC-BY-4.0"


def main(sources: Path) -> None:
    convs, infos = [], {}
    for name in MEETINGS:
        for conv, info in meeting(sources, name):
            convs.append(conv)
            infos[conv.id] = info
    singles = sorted((sources / "more_speech").glob("*.words.json")) + sorted((sources / "more_speech" / "long").glob("*.words.json"))
    for k, path in enumerate(singles):
        stem = path.name.removesuffix(".words.json")
        meta = json.loads(path.read_text())
        kind = "spontaneous" if stem.startswith("ami_") else "read"
        cid = stem.replace("_", "-").replace(".", "_")
        conv, info = single(path.with_name(f"{stem}.flac"), kind, cid, meta, 100 + k)
        convs.append(conv)
        infos[cid] = info
    for k, (stem, (kind, cid)) in enumerate(SINGLES.items()):
        meta = json.loads((sources / "single_speaker_pauses" / f"{stem}.words.json").read_text())
        meta["ends_at_turn_end"] = True
        conv, info = single(sources / "single_speaker_pauses" / f"{stem}.flac", kind, cid, meta, 200 + k)
        info["license"] = "Apache-2.0" if stem.startswith("vosk") else "CC-BY-4.0"
        info["source"] = {
            "vosk_zipcodes_10001_90210_01803": "alphacep/vosk-api python/example/test.wav @ 9adbd76c77",
            "librispeech_2412-153948-0000": "lhotse-speech/lhotse test/fixtures/mix_cut_test/audio/storage/2412-153948-0000.flac @ a79cc864e4",
            "librispeech_2412-153948-0001": "lhotse-speech/lhotse test/fixtures/mix_cut_test/audio/storage/2412-153948-0001.flac @ a79cc864e4",
        }[stem]
        convs.append(conv)
        infos[cid] = info
    convs = [dataclasses.replace(c, audio=Path(c.audio.name), metadata={**infos[c.id], "language": "en"}) for c in convs]
    manifest = {
        "name": "real",
        "version": "1.0.0",
        "description": (
            "Real human speech, nobody here made it: four AMI meeting excerpts (a mono mix of 2-4 people, each speaker in "
            "turn the user, the others masked) and single speakers reading, dictating or talking with real pauses "
            "(LibriSpeech, FLEURS, LJ Speech, LibriVox, AMI, a spoken ZIP-code recording). Word times are AMI's manual "
            "annotation or forced alignment (about +-0.1 s)."
        ),
        "license": "CC-BY-4.0 AND LicenseRef-public-domain AND Apache-2.0",
        "source": "AMI Meeting Corpus; LibriSpeech; FLEURS; LJ Speech; LibriVox; alphacep/vosk-api (see README.md)",
        "sample_rate": RATE,
        "conversations": [c.id for c in convs],
    }
    for conv in convs:
        data = conv.to_dict() | {"audio": conv.audio.name}
        (HERE / f"{conv.id}.json").write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n")
    (HERE / "manifest.json").write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")
    from agentlab.datasets import load

    ds = load(HERE)
    print(ds, ds.summary())


if __name__ == "__main__":
    main(Path(sys.argv[1]))
