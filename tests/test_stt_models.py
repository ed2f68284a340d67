"""The modelled STT and the STT options a sweep hears through: errors, delays and interims as specified."""

from __future__ import annotations

import itertools
import statistics

import pytest

from agentlab.models.stt import AlignedSTT, ModelledSTT, STTOptions, Utterance

WORDS = "please book a table for four people at seven tonight under the name rivera".split()


def _labels(n: int = 200) -> list[Utterance]:
    out = []
    for i in range(n):
        start = 3.0 * i
        words = tuple((w, round(start + 0.15 * k, 6), round(start + 0.15 * k + 0.12, 6)) for k, w in enumerate(WORDS))
        out.append(Utterance(start, words[-1][2], " ".join(WORDS), words))
    return out


def _finals(stt, heard):
    return [(t, d) for t, kind, d in stt.transcript_events(heard) if kind == "on_transcript" and d["is_final"]]


def test_word_errors_follow_the_rate_and_the_mix():
    labels = _labels()
    heard = ModelledSTT(labels, wer=0.2, seed=3).transcribe(None, None)
    said = sum(len(u.words) for u in labels)
    changed = deleted = inserted = 0
    for ref, hyp in zip(labels, heard, strict=True):
        ref_words, hyp_words = [w for w, _, _ in ref.words], [w for w, _, _ in hyp.words]
        inserted += sum(1 for w in hyp_words if w in ("uh", "um"))
        deleted += max(0, len(ref_words) - len(hyp_words) + sum(1 for w in hyp_words if w in ("uh", "um")))
        changed += sum(1 for w in hyp_words if w not in ref_words and w not in ("uh", "um"))
    assert 0.15 < (changed + deleted + inserted) / said < 0.26  # about the 20 % asked for (substitutes can hit a real word)
    assert deleted > inserted > 0 and changed > deleted
    # deterministic for a seed, different for another
    assert ModelledSTT(labels, wer=0.2, seed=3).transcribe(None, None) == heard
    assert ModelledSTT(labels, wer=0.2, seed=4).transcribe(None, None) != heard
    assert ModelledSTT(labels).transcribe(None, None) == [Utterance(u.start, u.end, u.text, u.words) for u in labels]  # wer 0: exact


def test_final_delays_have_the_asked_median_and_p90_and_stay_in_order():
    labels = _labels(3000)
    stt = ModelledSTT(labels, final_delay=0.3, final_delay_p90=0.8, seed=1)
    heard = stt.transcribe(None, None)
    finals = _finals(stt, heard)
    delays = sorted(t - u.end for (t, _), u in zip(finals, heard, strict=True))
    assert statistics.median(delays) == pytest.approx(0.3, rel=0.15)
    assert delays[int(0.9 * len(delays))] == pytest.approx(0.8, rel=0.2)
    times = [t for t, _ in finals]
    assert times == sorted(times)
    # close utterances: a late final is never overtaken by the next one
    close = [Utterance(0.0, 1.0, "a b"), Utterance(1.05, 1.2, "c")]
    t = [
        ts for ts, _ in _finals(ModelledSTT(close, final_delay=0.5, final_delay_p90=2.0, seed=0), ModelledSTT(close).transcribe(None, None))
    ]
    assert t == sorted(t)


def test_interims_grow_while_the_user_speaks_and_word_times_are_jittered():
    (u,) = _labels(1)
    stt = ModelledSTT([u], interim_interval=0.5, timing_jitter=0.05, seed=2)
    (heard,) = stt.transcribe(None, None)
    interims = [(t, d["text"]) for t, kind, d in stt.transcript_events([heard]) if kind == "on_transcript" and not d["is_final"]]
    assert len(interims) >= 3 and all(b[0] - a[0] == pytest.approx(0.5) for a, b in itertools.pairwise(interims))
    assert all(len(b[1].split()) > len(a[1].split()) for a, b in itertools.pairwise(interims))
    moved = [abs(h[2] - r[2]) for h, r in zip(heard.words, u.words, strict=True)]
    assert max(moved) > 0.01 and all(heard.start <= s <= e <= heard.end for _, s, e in heard.words)
    final = _finals(stt, [heard])[0][1]
    assert final["word_end"] == heard.words[-1][2] and final["words"] == heard.words
    assert [k for _, k, _ in ModelledSTT([u], interim_interval=None).transcript_events([u])] == ["on_transcript"]


def test_stt_options_validate_describe_and_build():
    labels = _labels(2)
    stt, heard = STTOptions().build(labels)
    assert isinstance(stt, AlignedSTT) and heard == labels and stt.interim_delay == pytest.approx(0.1)
    stt, heard = STTOptions(model="modelled", wer=0.5, seed=9).build(labels)
    assert isinstance(stt, ModelledSTT) and heard != labels
    assert STTOptions(model="modelled", wer=0.1, final_delay=0.25).describe().startswith("modelled: WER 10%, final 0.25 s p50 / 0.5 s p90")
    for bad, field in [
        ({"model": "deepgram"}, "model"),
        ({"wer": 1.5}, "wer"),
        ({"final_delay": -1}, "final_delay"),
        ({"final_delay": 0.5, "final_delay_p90": 0.2}, "final_delay_p90"),
        ({"interim_delay": 0.9}, "interim_delay"),
        ({"split_pause": 0}, "split_pause"),
    ]:
        with pytest.raises(ValueError, match=f"STTOptions.{field}"):
            STTOptions(**bad)
    with pytest.raises(ValueError, match="needs the conversation's audio"):
        STTOptions(model="whisper").build(labels)
