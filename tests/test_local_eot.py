"""LocalAudioTurnDetector: per-segment end-of-turn probabilities, cached, looked up by the turn engine.

Most tests use stand-in models (``predict(int16 array) -> float``), so the analysis, the cache,
the lookups and the engine's timing are checked without ``livekit-local-inference``. The tests of
the real LiveKit model run only when that package is installed (``pip install 'agentlab-voice[local-eot]'``);
it is not part of the test extra (see the licence note in ``agentlab/models/local_eot.py``).
"""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf
from speech import SENTENCES, conversation

import agentlab as al
from agentlab.audio import AnalysisCache, Audio, VADTrack, analyze_vad, load_audio
from agentlab.engine.turns import CommitTurn, EngineConfig, TurnEngine
from agentlab.examples.restaurant import Host, scripted_llm
from agentlab.models import local_eot
from agentlab.models.local_eot import EOT_MAX_SAMPLES, LocalAudioTurnDetector
from agentlab.models.stt import AlignedSTT, recording_events


class QuietTail:
    """A stand-in model: P(end) grows with how quiet the last 0.2 s are. Records what it was given."""

    cache_id = "quiet-tail/1"

    def __init__(self) -> None:
        self.calls: list[np.ndarray] = []

    def predict(self, pcm: np.ndarray) -> float:
        assert pcm.dtype == np.int16 and pcm.ndim == 1 and len(pcm) <= EOT_MAX_SAMPLES
        self.calls.append(pcm.copy())
        tail = pcm[-3200:].astype(np.float64) / 32768
        return float(np.exp(-50 * np.sqrt(np.mean(tail**2))))


class Sequence:
    """A stand-in model answering preset probabilities in order (no ``cache_id``: never cached)."""

    def __init__(self, *probabilities: float) -> None:
        self.probabilities = list(probabilities)

    def predict(self, pcm: np.ndarray) -> float:
        return self.probabilities.pop(0)


@pytest.fixture(scope="module")
def speech3():
    samples, truth = conversation(SENTENCES[:3], gaps=[1.0, 0.7])
    audio = load_audio(samples, input_rate=16000)
    return audio, analyze_vad(audio), truth


def test_one_probability_per_segment_from_the_audio_after_the_speech_end(speech3):
    audio, track, _ = speech3
    model = QuietTail()
    detector = LocalAudioTurnDetector(model=model, cache=False)
    table = detector.analyze(audio, track)
    ends = [s.end for s in track.segments]
    assert list(table) == ends and detector.probabilities == table
    assert all(0.0 <= p <= 1.0 for p in table.values())
    assert len(model.calls) == len(ends)
    for pcm, end in zip(model.calls, ends, strict=True):
        b = round((end + 0.2) * 16000)
        assert len(pcm) == EOT_MAX_SAMPLES  # the last 1.2 s ...
        expected = np.round(np.clip(audio.samples[b - EOT_MAX_SAMPLES : b], -1, 1) * 32767).astype(np.int16)
        np.testing.assert_array_equal(pcm, expected)  # ... up to 0.2 s after the speech end
    assert detector.analyze(audio, track) == table  # deterministic


def test_window_is_clipped_at_the_edges_of_the_recording():
    samples = np.linspace(-0.5, 0.5, 32000, dtype=np.float32)  # 2 s
    detector = LocalAudioTurnDetector(model=QuietTail(), cache=False)
    early = detector.window(samples, 0.3)
    assert len(early) == round(0.5 * 16000)  # only 0.5 s of audio so far: the model left-pads it
    late = detector.window(samples, 1.9)
    assert len(late) == EOT_MAX_SAMPLES and late[-1] == round(0.5 * 32767)  # the file ends before end + 0.2 s
    assert len(LocalAudioTurnDetector(model=QuietTail(), context=0.5).window(samples, 1.0)) == 8000


def test_predict_looks_up_the_speech_end():
    detector = LocalAudioTurnDetector(model=Sequence(0.2, 0.8), cache=False)
    track = VADTrack.from_segments([(0.5, 1.25), (2.0, 3.0)], duration=4.0)
    detector.analyze(Audio(np.full(64000, 0.01, np.float32), 16000), track)
    assert detector.predict("", speech_end=1.25) == 0.2
    assert detector.predict("anything", speech_end=3.0 + 5e-7, language="fr") == 0.8  # nearest within 1e-6
    assert detector.predict("", speech_end=3.0 + 1e-3) == 0.5  # not analysed: no opinion
    assert detector.predict("") == 0.5


def test_thresholds_are_livekits_v1_mini_table():
    detector = LocalAudioTurnDetector(model=QuietTail())
    assert detector.unlikely_threshold("en") == 0.36
    assert detector.unlikely_threshold("en-US") == 0.36
    assert detector.unlikely_threshold(None) == 0.36
    assert detector.unlikely_threshold("fr") == 0.285
    assert detector.unlikely_threshold("xx") == 0.36  # unknown → English
    assert LocalAudioTurnDetector(model=QuietTail(), thresholds={"en": 0.5}).unlikely_threshold("en") == 0.5
    assert detector.latency == 0.037  # modelled, as measured on the reference machine (36.9 ms)


def test_analysis_is_cached_by_content_settings_and_segments(speech3):
    audio, track, _ = speech3
    cache = AnalysisCache()
    model = QuietTail()
    first = LocalAudioTurnDetector(model=model, cache=cache).analyze(audio, track)
    assert (cache.stats.hits, cache.stats.misses, len(model.calls)) == (0, 1, 3)
    again = LocalAudioTurnDetector(model=model, cache=cache)
    assert again.analyze(audio, track) == first
    assert (cache.stats.hits, len(model.calls)) == (1, 3)  # the model did not run
    assert again.predict("", speech_end=track.segments[1].end) == first[track.segments[1].end]
    LocalAudioTurnDetector(model=model, cache=cache, ask_after=0.3).analyze(audio, track)
    assert len(model.calls) == 6  # other settings: computed again
    uncached = LocalAudioTurnDetector(model=Sequence(0.1, 0.2, 0.3), cache=cache)
    assert list(uncached.analyze(audio, track).values()) == [0.1, 0.2, 0.3]  # no cache_id: never served from the cache
    assert cache.stats.entries == 2


def _replay(engine: TurnEngine, events) -> list[tuple[float, CommitTurn]]:
    """Drive the engine like the session does: events in time order, timers in between."""
    commits = []

    def timers(until: float) -> None:
        while (d := engine.next_deadline()) is not None and d <= until:
            commits.extend((d, a) for a in engine.on_timer(d) if isinstance(a, CommitTurn))

    for ev in events:
        timers(ev.t)
        commits.extend((ev.t, a) for a in getattr(engine, ev.kind)(ev.t, **ev.data) if isinstance(a, CommitTurn))
    timers(float("inf"))
    return commits


@pytest.mark.parametrize("latency", [0.037, 0.4])
def test_the_engine_waits_max_delay_when_unlikely_and_models_the_latency(latency):
    track = VADTrack.from_segments([(1.0, 2.5), (8.0, 9.0)], duration=12.0)  # VAD end detected 0.25 s after each end
    stt = AlignedSTT([(1.0, 2.5, "I'd like a table"), (8.0, 9.0, "for two please.")], final_delay=0.1)
    detector = LocalAudioTurnDetector(model=Sequence(0.1, 0.9), latency=latency, cache=False)
    detector.analyze(Audio(np.full(12 * 16000, 0.01, np.float32), 16000), track)
    engine = TurnEngine(EngineConfig(min_delay=0.5, max_delay=3.0, detector=detector))
    (t1, c1), (t2, c2) = _replay(engine, recording_events(track, stt.transcribe(None, None), stt))

    assert c1.probability == 0.1  # below 0.36: unlikely over → max_delay
    assert t1 == pytest.approx(2.5 + 3.0)
    assert c1.end_of_utterance_delay == pytest.approx(3.0)
    assert c2.probability == 0.9  # likely over → min_delay, but not before the prediction is back
    vad_end = track.segments[1].end_detected
    assert t2 == pytest.approx(max(9.0 + 0.5, vad_end + latency))
    assert t2 == pytest.approx(9.5 if latency == 0.037 else 9.65)


def test_simulate_analyses_the_recording_for_the_detector(tmp_path):
    texts = ["Hi, do you have a table for four at 7pm tonight?", "Great, it's under Rivera."]
    samples, truth = conversation(texts, gaps=[5.0], tail=5.0)
    path = tmp_path / "call.wav"
    sf.write(path, samples, 16000)
    labels = [(round(a, 3), round(b, 3), t) for (a, b), t in zip(truth, texts, strict=True)]
    detector = LocalAudioTurnDetector(model=Sequence(0.1, 0.9), cache=False)
    options = {
        "llm": scripted_llm(),
        "stt": AlignedSTT(labels),
        "turn_handling": {"turn_detection": detector, "endpointing": {"min_delay": 0.5, "max_delay": 2.0}},
    }
    run = al.simulate(Host, options, str(path))
    track = analyze_vad(str(path))
    assert list(detector.probabilities) == [s.end for s in track.segments]  # simulate() ran the analysis
    users = run.history[run.history.role == "user"]
    assert users["text"].tolist() == texts
    first, second = users["created_at"].tolist()
    assert first == pytest.approx(track.segments[0].end + 2.0, abs=1e-3)  # P=0.1 < 0.36: max_delay
    assert second == pytest.approx(track.segments[1].end + 0.5, abs=1e-3)  # P=0.9: min_delay


def test_missing_package_names_the_extra(monkeypatch):
    monkeypatch.setattr(local_eot, "available", lambda: False)
    with pytest.raises(ImportError, match=r"livekit-local-inference.*pip install 'agentlab-voice\[local-eot\]'"):
        LocalAudioTurnDetector(accept_livekit_model_license=True)


def test_livekit_model_needs_its_license_acknowledged():
    # The model is licensed for LiveKit Agents only: it never loads by accident.
    with pytest.raises(ValueError, match="licensed for use with LiveKit Agents only"):
        LocalAudioTurnDetector()
    LocalAudioTurnDetector(model=QuietTail())  # your own model needs no acknowledgement


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="latency"):
        LocalAudioTurnDetector(model=QuietTail(), latency=-0.1)
    with pytest.raises(ValueError, match="context"):
        LocalAudioTurnDetector(model=QuietTail(), context=1.5)
    with pytest.raises(TypeError, match="predict"):
        LocalAudioTurnDetector(model=object())
    with pytest.raises(ValueError, match="needs the recording as an Audio"):
        LocalAudioTurnDetector(model=QuietTail()).analyze("call.wav", VADTrack.from_segments([(0.1, 0.5)]))
    bad = LocalAudioTurnDetector(model=Sequence(float("nan")), cache=False)
    with pytest.raises(ValueError, match="returned nan"):
        bad.analyze(Audio(np.full(16000, 0.01, np.float32), 16000), VADTrack.from_segments([(0.1, 0.5)]))


# --- the real LiveKit model (only when installed) ---------------------------------------------------


@pytest.mark.skipif(not local_eot.available(), reason="livekit-local-inference is not installed: pip install 'agentlab-voice[local-eot]'")
def test_livekit_model_gives_deterministic_probabilities(speech3):
    audio, track, _ = speech3
    first = LocalAudioTurnDetector(cache=False, accept_livekit_model_license=True).analyze(audio, track)
    second = LocalAudioTurnDetector(cache=False, accept_livekit_model_license=True).analyze(audio, track)
    assert len(first) == len(track.segments)
    assert all(0.0 <= p <= 1.0 for p in first.values())
    assert first == second
    cache = AnalysisCache()
    LocalAudioTurnDetector(cache=cache, accept_livekit_model_license=True).analyze(audio, track)
    assert LocalAudioTurnDetector(cache=cache, accept_livekit_model_license=True).analyze(audio, track) == first
    assert cache.stats.hits == 1
