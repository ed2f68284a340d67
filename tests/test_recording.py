"""A recorded conversation end to end: WAV → VAD → transcripts → turn engine → agent → timeline and stereo audio."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import soundfile as sf
from matplotlib.figure import Figure
from speech import conversation

import agentlab as al
from agentlab.audio import default_cache
from agentlab.examples.restaurant import Host, scripted_llm
from agentlab.models.stt import AlignedSTT

TEXTS = ["Hi, do you have a table for four at 7pm tonight?", "Great, it's under Rivera.", "Thanks, that's all!"]


@pytest.fixture(scope="module")
def call(tmp_path_factory):
    samples, truth = conversation(TEXTS, gaps=[4.5, 6.0], tail=6.0)
    path = tmp_path_factory.mktemp("rec") / "call.wav"
    sf.write(path, samples, 16000)
    labels = [(round(a, 3), round(b, 3), text) for (a, b), text in zip(truth, TEXTS, strict=True)]
    return path, labels


def _run(path, labels, **extra):
    options = {"llm": scripted_llm(), "stt": AlignedSTT(labels), "tts": al.ScriptedTTS(audio=True, words_per_minute=170), **extra}
    return al.simulate(Host, options, str(path))


def test_recorded_conversation_runs_end_to_end(call, tmp_path):
    path, labels = call
    run = _run(path, labels)
    h = run.history
    users = h[h.role == "user"]
    assert users["text"].tolist() == TEXTS
    # each turn commits after the speech ends: VAD end-of-speech (Silero) and the min_delay both passed
    ends = [b for _, b, _ in labels]
    for (_, row), end in zip(users.iterrows(), ends, strict=True):
        assert end + 0.5 <= row.created_at <= end + 1.0
    assert h[h.type == "function_call"]["name"].tolist() == ["check_availability", "book_table"]
    assert h[h.role == "assistant"]["text"].iloc[-1] == "My pleasure. See you soon at Chez Lab!"
    vad = [e for e in run.session.input_events if e.kind == "on_vad_start"]
    assert len(vad) == 3  # Silero found the three utterances

    fig = run.timeline()
    assert isinstance(fig, Figure)
    assert [t.get_text() for t in fig.axes[0].get_yticklabels()] == ["user speech", "VAD", "transcripts", "agent state", "agent speech"]

    out = run.write_audio(tmp_path / "heard.wav")
    stereo, rate = sf.read(out)
    assert rate == 16000 and stereo.ndim == 2 and stereo.shape[1] == 2
    assert abs(len(stereo) / rate - max(run.duration, run.user_audio.duration)) < 0.01  # the whole recording is kept

    def rms(channel, a, b):
        return float(np.sqrt(np.mean(stereo[int(a * rate) : int(b * rate), channel] ** 2)))

    a, b, _ = labels[1]
    assert rms(0, a, b) > 0.02  # the user's recording on the left
    spoken = [p for p in run.session.playback if p.duration > 0.5]
    p = spoken[-1]
    assert rms(1, p.start, p.start + p.duration) > 0.02  # the agent's voice on the right, where it played
    quiet = (labels[0][0] + 0.1, labels[0][0] + 0.3)
    if not any(q.start <= quiet[0] <= q.start + q.duration for q in run.session.playback):
        assert rms(1, *quiet) < 1e-3


def test_second_simulation_reuses_the_vad_analysis(call):
    path, labels = call
    _run(path, labels)
    before = default_cache().stats.hits
    a = _run(path, labels)
    assert default_cache().stats.hits > before
    b = _run(path, labels)
    pd.testing.assert_frame_equal(a.events, b.events)  # deterministic, audio and all


def test_recording_without_an_stt_is_a_clear_error(call):
    path, _ = call
    with pytest.raises(ValueError, match="a recording needs an STT"):
        al.simulate(Host, {"llm": scripted_llm()}, str(path))


def test_unreadable_recording_names_the_file(tmp_path):
    bad = tmp_path / "broken.wav"
    bad.write_bytes(b"RIFF....WAVEfmt garbage")
    with pytest.raises(ValueError, match=r"broken\.wav"):
        al.simulate(Host, {"llm": scripted_llm(), "stt": AlignedSTT([(0.1, 0.5, "hi")])}, str(bad))


def test_aligned_stt_labels_are_checked():
    with pytest.raises(ValueError, match=r"labels\[1\] starts at 1.0 before labels\[0\] ends at 2.0"):
        AlignedSTT([(0.0, 2.0, "a"), (1.0, 3.0, "b")])
    with pytest.raises(ValueError, match=r"labels\[0\] needs 0 <= start < end"):
        AlignedSTT([(2.0, 1.0, "a")])
    with pytest.raises(ValueError, match=r"labels\[0\] = 'oops'"):
        AlignedSTT(["oops"])
    stt = AlignedSTT([{"start": 0.5, "end": 1.5, "text": "hello there friend"}], final_delay=0.3, interim_delay=0.1)
    from agentlab.models.stt import stt_events

    events = stt_events(stt.transcribe(None, None), stt)
    assert [(round(t, 3), d["is_final"], d["text"]) for t, _, d in events] == [
        (1.6, False, "hello there"),
        (1.8, True, "hello there friend"),
    ]


def test_scripted_tts_audio_is_fitted_to_the_duration_model():
    tts = al.ScriptedTTS(audio=True, words_per_minute=120)

    async def frames():
        async def text():
            yield "One two three four. Five six."

        return [f async for f in tts.stream(text())]

    out = al.VirtualClock().run(frames)
    assert [f.duration for f in out] == [2.0, 1.0]  # 4 and 2 words at 120 wpm
    assert [len(f.data) for f in out] == [32000, 16000]
    assert all(np.sqrt(np.mean(f.data**2)) > 0.02 for f in out)  # real speech, not silence


def test_timeline_draws_into_a_given_axes():
    from matplotlib.figure import Figure as F

    run = al.simulate(
        lambda: al.Agent(instructions="x"),
        {"llm": al.ScriptedLLM(responses=["Hello!"])},
        [al.UserSpeech(0.5, 1.5, "hi there", stt_delay=0.1)],
    )
    fig = F()
    ax = fig.add_subplot()
    assert run.timeline(ax=ax) is fig
    assert ax.get_xlabel() == "session time (s)"
