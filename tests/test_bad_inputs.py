"""Bad input, tried systematically through the public entry points (docs/reliability.md, "Bad input").

Every error case asserts the exact exception type, that the message names the source (a file or
the object), the field and the offending value, and that the error is raised by agentlab's own code
(not from inside numpy, soundfile, pandas or yaml). Every handling case asserts what happens instead.
Cases already tested elsewhere are listed in docs/reliability.md rather than repeated here.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import json
import tracemalloc
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf

import agentlab as al
import agentlab.datasets as ads
from agentlab import AgentSession
from agentlab.audio import Audio, AudioError, VADOptions, analyze_vad, load_audio
from agentlab.cli import main as cli_main
from agentlab.datasets import DatasetError
from agentlab.models.stt import AlignedSTT
from agentlab.scenario import ScenarioError, load_scenario

AGENTLAB = Path(al.__file__).parent
NAN, INF = float("nan"), float("inf")


def tone(seconds: float, rate: int = 16000, amp: float = 0.3, channels: int = 1) -> np.ndarray:
    t = np.arange(round(seconds * rate)) / rate
    x = (amp * np.sin(2 * np.pi * 300 * t)).astype(np.float32)
    return np.stack([x] * channels, axis=1) if channels > 1 else x


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One folder of bad (and a few merely unusual) audio files, made once."""
    d = tmp_path_factory.mktemp("bad_audio")
    sf.write(d / "good.wav", tone(1.0), 16000)
    (d / "zero.wav").write_bytes(b"")
    header = bytearray((d / "good.wav").read_bytes())
    header[22:24] = (0).to_bytes(2, "little")  # WAV fmt chunk: 0 channels
    (d / "zero_channels.wav").write_bytes(bytes(header))
    sf.write(d / "good.flac", tone(2.0), 16000)
    flac = (d / "good.flac").read_bytes()
    noise = np.random.default_rng(0).integers(0, 256, len(flac) - 4000, dtype=np.uint8).tobytes()
    (d / "scrambled.flac").write_bytes(flac[:2000] + noise + flac[-2000:])  # intact header, garbage frames
    x = tone(2.0)
    x[100] = np.nan
    sf.write(d / "nan.wav", x, 16000, subtype="FLOAT")
    sf.write(d / "silent.wav", np.zeros(16000, np.float32), 16000)
    sf.write(d / "stereo_44k.wav", tone(1.0, 44100, channels=2), 44100)
    sf.write(d / "clipped.wav", np.clip(tone(1.0, amp=3.0), -1, 1), 16000)  # int16 at full scale for 2/3 of the time
    sf.write(d / "hot.wav", tone(1.0, amp=3.0), 16000, subtype="FLOAT")  # float beyond [-1, 1]
    good = (d / "good.wav").read_bytes()
    (d / "cut_data.wav").write_bytes(good[: len(good) // 2])  # the header still says 1 s
    (d / "sub").mkdir()
    return d


@dataclass(frozen=True)
class Bad:
    """A bad input: ``run(env)`` must raise exactly ``error`` with every string of ``names`` in its message."""

    run: Callable[[Any], Any]
    error: type[BaseException]
    names: tuple[str, ...]


@dataclass(frozen=True)
class Env:
    files: Path
    tmp: Path


def _stt_options(**extra: Any) -> dict[str, Any]:
    from agentlab.examples.restaurant import scripted_llm

    return {"llm": scripted_llm(), "stt": AlignedSTT([(0.1, 0.5, "hi")]), **extra}


def _simulate(script: Any, **kw: Any) -> Any:
    from agentlab.examples.restaurant import Host

    options = kw.pop("options", None) or _stt_options()
    return al.simulate(Host, options, script, vad_backend="energy", **kw)


CONV = {
    "id": "c",
    "duration": 2.0,
    "turns": [{"start": 0.5, "end": 1.0, "transcript": "hi"}],
    "spans": [{"kind": "eot", "start": 1.0, "end": 1.5, "turn": 0}],
}
MANIFEST = {
    "name": "t",
    "version": "1",
    "description": "d",
    "license": "CC0-1.0",
    "source": "s",
    "sample_rate": 16000,
    "conversations": ["c"],
}


def _dataset(folder: Path, conv: dict[str, Any] | None = None, manifest: dict[str, Any] | bytes | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    m = MANIFEST if manifest is None else manifest
    (folder / "manifest.json").write_bytes(m if isinstance(m, bytes) else json.dumps(m).encode())
    (folder / "c.json").write_text(json.dumps(CONV if conv is None else conv))  # NaN/inf as JSON's NaN/Infinity
    return folder


def _load_with_audio(env: Env, audio: str) -> Any:
    folder = _dataset(env.tmp / "ds", {**CONV, "audio": audio})
    (folder / "sub").mkdir()
    return ads.load(folder)


def _csv(env: Env, text: str, **kw: Any) -> Any:
    (env.tmp / "calls.csv").write_text("conversation,speaker,start,end,text\n" + text)
    return ads.import_csv(env.tmp / "calls.csv", user="u", **kw)


def _ambiguous_array() -> Any:
    return load_audio(np.full((20, 1000), 0.1, np.float32), input_rate=16000)


def bad(case_id: str, run: Callable[[Env], Any], error: type[BaseException], *names: str) -> Any:
    return pytest.param(Bad(run, error, names), id=case_id)


BAD = [
    # -- audio files, through load_audio, analyze_vad and simulate(..., "recording.wav") -------------
    bad("audio-zero-byte-file", lambda e: load_audio(e.files / "zero.wav"), AudioError, "zero.wav", "contents", "Format not recognised"),
    bad(
        "audio-zero-channels",
        lambda e: load_audio(e.files / "zero_channels.wav"),
        AudioError,
        "zero_channels.wav",
        "contents",
        "Channel count is zero",
    ),
    bad(
        "audio-corrupt-flac-frames",
        lambda e: load_audio(e.files / "scrambled.flac"),
        AudioError,
        "scrambled.flac",
        "contents",
        "cannot decode",
    ),
    bad(
        "analyze_vad-directory",
        lambda e: analyze_vad(e.files / "sub", backend="energy", cache=False),
        AudioError,
        "sub",
        "path",
        "is a directory",
    ),
    bad(
        "analyze_vad-corrupt-flac",
        lambda e: analyze_vad(e.files / "scrambled.flac", backend="energy", cache=False),
        AudioError,
        "scrambled.flac",
        "contents",
    ),
    bad("audio-array-ambiguous-layout", lambda e: _ambiguous_array(), AudioError, "array", "shape", "(20, 1000)", "ambiguous"),
    bad("simulate-recording-nan", lambda e: _simulate(str(e.files / "nan.wav")), AudioError, "nan.wav", "samples", "first at sample 100"),
    bad("simulate-recording-silent", lambda e: _simulate(e.files / "silent.wav"), AudioError, "silent.wav", "samples", "peak |x| = 0"),
    bad("simulate-recording-empty-file", lambda e: _simulate(str(e.files / "zero.wav")), AudioError, "zero.wav", "contents"),
    # -- simulate() arguments --------------------------------------------------------------------------
    bad(
        "simulate-text-taken-for-a-path",
        lambda e: _simulate("Hello there"),
        FileNotFoundError,
        "script 'Hello there'",
        "no such file",
        "['Hello there']",
    ),
    bad("simulate-numpy-samples", lambda e: _simulate(tone(1.0)), TypeError, "script", "numpy array", "(16000,)", "load_audio"),
    bad("simulate-script-none", lambda e: _simulate(None), TypeError, "script", "NoneType", "None"),
    bad("simulate-script-bytes", lambda e: _simulate(b"hi"), TypeError, "script", "bytes", "b'hi'"),
    bad(
        "simulate-vad-as-dict",
        lambda e: _simulate(e.files / "good.wav", options=_stt_options(vad={"min_silence_duration": 0.5})),
        TypeError,
        "vad = {'min_silence_duration': 0.5} is a dict",
        "VADOptions",
    ),
    bad("simulate-end-delay-nan", lambda e: _simulate(["hi"], end_delay=NAN), ValueError, "end_delay", "nan"),
    bad("userturn-delay-nan", lambda e: al.UserTurn("hi", delay=NAN), ValueError, "UserTurn.delay", "nan"),
    bad("userturn-delay-string", lambda e: al.UserTurn("hi", delay="1"), ValueError, "UserTurn.delay", "'1'"),
    bad("userturn-at-inf", lambda e: al.UserTurn("hi", at=INF), ValueError, "UserTurn.at", "inf"),
    # -- datasets: manifests, labels, audio references, import, save ---------------------------------
    bad("dataset-load-not-a-path", lambda e: ads.load(5), TypeError, "load", "int", "5"),
    bad(
        "dataset-manifest-not-utf8",
        lambda e: ads.load(_dataset(e.tmp / "ds", manifest=b"\xff\xfe{}")),
        DatasetError,
        "manifest.json: <file>",
        "utf-8",
    ),
    bad(
        "dataset-duration-nan",
        lambda e: ads.load(_dataset(e.tmp / "ds", {**CONV, "duration": NAN})),
        DatasetError,
        "c.json: duration = nan",
    ),
    bad(
        "dataset-turn-end-infinity",
        lambda e: ads.load(_dataset(e.tmp / "ds", {**CONV, "turns": [{"start": 0.5, "end": INF}]})),
        DatasetError,
        "c.json: turns[0] = inf",
        "end must be a number",
    ),
    bad(
        "dataset-manifest-rate-nan",
        lambda e: ads.load(_dataset(e.tmp / "ds", manifest={**MANIFEST, "sample_rate": NAN})),
        DatasetError,
        "manifest.json: sample_rate = nan",
    ),
    bad("dataset-audio-is-a-directory", lambda e: _load_with_audio(e, "sub"), DatasetError, "c.json: audio = 'sub'", "is a directory"),
    bad("import_csv-nan-time", lambda e: _csv(e, "c,u,0,nan,hi\n"), DatasetError, "calls.csv:2: end = 'nan'", "finite"),
    bad(
        "import_csv-audio-directory",
        lambda e: _csv(e, "c,u,0,1,hi\n", audio=e.files / "sub"),
        DatasetError,
        "calls.csv: audio",
        "sub",
        "is a directory",
    ),
    bad(
        "dataset-save-onto-a-file",
        lambda e: ads.load(_dataset(e.tmp / "ds")).save(e.files / "good.wav"),
        NotADirectoryError,
        "good.wav",
        "not a folder",
    ),
]


def _raised_by_agentlab(exc: BaseException) -> bool:
    """The innermost frame of the traceback is agentlab's own code, not a library's."""
    tb = exc.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    return tb is not None and Path(tb.tb_frame.f_code.co_filename).resolve().is_relative_to(AGENTLAB.resolve())


@pytest.mark.parametrize("case", BAD)
def test_bad_input_is_a_clear_error(case: Bad, files: Path, tmp_path: Path) -> None:
    with pytest.raises(BaseException) as info:  # the exact type is asserted below
        case.run(Env(files, tmp_path))
    assert type(info.value) is case.error, f"{type(info.value).__name__}: {info.value}"
    message = str(info.value)
    for part in case.names:
        assert part in message, f"{part!r} not in {message!r}"
    assert _raised_by_agentlab(info.value), "raised from inside a library"
    if isinstance(info.value, AudioError):
        assert info.value.source and info.value.field and info.value.value is not None


# --------------------------------------------------------------------------------------------------
# scenario files: every problem names the file, the field and the value

SCENARIO = "user: [{start: 0.5, end: 1.5, transcript: hi}]\nllm: [{reply: ok}]\n"


@pytest.mark.parametrize(
    ("text", "field", "value"),
    [
        pytest.param(SCENARIO.replace("end: 1.5", "end: .inf"), "user[0].end", "inf", id="user-end-infinite"),  # hung the run
        pytest.param(SCENARIO.replace("hi}", "hi, stt_delay: .inf}"), "user[0].stt_delay", "inf", id="stt-delay-infinite"),
        pytest.param(SCENARIO.replace("ok}", "ok, ttft: .inf}"), "llm[0].ttft", "inf", id="ttft-infinite"),
        pytest.param(SCENARIO + "tts: {ttfb: .inf}\n", "tts.ttfb", "inf", id="tts-ttfb-infinite"),
        pytest.param(SCENARIO + "tts: {words_per_minute: 0}\n", "tts.words_per_minute", "0", id="tts-wpm-zero"),
        pytest.param(SCENARIO + "tts: {durations: [1, 2]}\n", "tts.durations", "[1, 2]", id="tts-durations-list"),
        pytest.param(SCENARIO + "tts: {durations: {ok: -1}}\n", "tts.durations['ok']", "-1", id="tts-duration-negative"),
        pytest.param(SCENARIO.replace("reply: ok", "reply: 5"), "llm[0].reply", "5", id="reply-not-text"),
        pytest.param(SCENARIO.replace("ok}", "ok, tool_calls: {name: t}}"), "llm[0].tool_calls", "{'name': 't'}", id="tool-calls-not-list"),
        pytest.param(SCENARIO + "pausable_output: 'no'\n", "pausable_output", "'no'", id="flag-as-string"),  # bool('no') is True
        pytest.param(SCENARIO.replace("hi}", "hi, interim: 'no'}"), "user[0].interim", "'no'", id="interim-as-string"),
        pytest.param(SCENARIO.replace("hi}", "hi, confidence: high}"), "user[0].confidence", "'high'", id="confidence-not-number"),
        pytest.param(SCENARIO.replace("hi}", "hi, language: 5}"), "user[0].language", "5", id="language-not-text"),
        pytest.param(SCENARIO + "agent: be nice\n", "agent", "'be nice'", id="agent-not-mapping"),
        pytest.param(SCENARIO + "agent: {instruction: be nice}\n", "agent.instruction", "unknown field", id="agent-unknown-field"),
        pytest.param(SCENARIO + "name: [1]\n", "name", "[1]", id="name-not-text"),
        pytest.param(
            SCENARIO + "tools: {t: {parameters: {x: [1]}}}\n", "tools.t.parameters", "{'x': [1]}", id="tool-parameter-type-unhashable"
        ),
        pytest.param(
            SCENARIO + "tools: {t: {output: 'It is {weather}'}}\n", "tools.t.output", "{weather}", id="tool-output-undeclared-field"
        ),
        pytest.param(
            SCENARIO + "session: {vad: {min_silence: 0.5}}\n", "session.vad.min_silence", "unknown field", id="session-vad-unknown-field"
        ),
        pytest.param(SCENARIO + "session: {vad: silero}\n", "session.vad", "'silero'", id="session-vad-not-mapping"),
        pytest.param(
            SCENARIO + "session: {turn_handling: {turn_detection: 5}}\n",
            "session.turn_handling.turn_detection",
            "5",
            id="turn-detection-not-a-mode",
        ),
        pytest.param(
            SCENARIO + "session: {turn_handling: {endpointing: {min_delay: .nan}}}\n",
            "session",
            "min_delay = nan",
            id="session-min-delay-nan",
        ),
        pytest.param(SCENARIO + "llm: [{reply: again}]\n", "line 3, column 1", "duplicate key 'llm'", id="yaml-duplicate-key"),
        pytest.param(b"user: \xff\n", "<file>", "not UTF-8", id="not-utf8"),
    ],
)
def test_bad_scenario_names_file_field_and_value(tmp_path: Path, text: str | bytes, field: str, value: str) -> None:
    path = tmp_path / "scenario.yaml"
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    assert any(where == field and value in msg for where, msg in info.value.problems), info.value.problems
    assert f"{path}: {field}: " in str(info.value)
    assert _raised_by_agentlab(info.value)


def test_json_scenario_with_a_duplicate_key(tmp_path: Path) -> None:
    path = tmp_path / "s.json"
    path.write_text('{"user": [{"start": 0.5, "end": 1.5, "transcript": "hi"}], "llm": [], "llm": [{"reply": "ok"}]}')
    with pytest.raises(ScenarioError, match=r"s\.json: <file>: invalid JSON: duplicate key 'llm'"):
        load_scenario(path)


def test_scenario_vad_mapping_becomes_vad_options(tmp_path: Path) -> None:
    """Handling: ``session: {vad: {...}}`` is built into VADOptions (the session would ignore a mapping)."""
    path = tmp_path / "s.yaml"
    path.write_text(SCENARIO + "session: {vad: {min_silence_duration: 0.6}}\n")
    assert load_scenario(path).session["vad"] == VADOptions(min_silence_duration=0.6)


# --------------------------------------------------------------------------------------------------
# AgentSession options (the table in tests/test_options_tools_clock.py has negative delays,
# min_delay > max_delay, unknown keys, bad modes; these are the other invalid kinds)


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        pytest.param({"turn_handling": {"endpointing": {"min_delay": NAN}}}, ValueError, "endpointing.min_delay = nan", id="min-delay-nan"),
        pytest.param({"turn_handling": {"endpointing": {"min_delay": INF}}}, ValueError, "endpointing.min_delay = inf", id="min-delay-inf"),
        pytest.param({"turn_handling": {"endpointing": {"max_delay": NAN}}}, ValueError, "endpointing.max_delay = nan", id="max-delay-nan"),
        pytest.param(
            {"turn_handling": {"endpointing": {"min_delay": "0.5"}}}, ValueError, "endpointing.min_delay = '0.5'", id="min-delay-string"
        ),
        pytest.param(
            {"turn_handling": {"endpointing": {"min_delay": None}}}, ValueError, "endpointing.min_delay = None", id="min-delay-none"
        ),
        pytest.param(
            {"turn_handling": {"interruption": {"min_duration": INF}}}, ValueError, "interruption.min_duration = inf", id="min-duration-inf"
        ),
        pytest.param(
            {"turn_handling": {"interruption": {"min_words": NAN}}}, ValueError, "interruption.min_words = nan", id="min-words-nan"
        ),
        pytest.param(
            {"turn_handling": {"endpointing": "fast"}},
            ValueError,
            "turn_handling['endpointing'] must be a dict, got 'fast'",
            id="group-not-dict",
        ),
        pytest.param({"turn_handling": "fast"}, ValueError, "turn_handling must be a dict, got str", id="turn-handling-not-dict"),
        pytest.param({"turn_handling": {"turn_detection": "VAD"}}, ValueError, "turn_detection = 'VAD'", id="turn-detection-unknown-mode"),
        pytest.param({"min_endpointing_delay": NAN}, ValueError, "endpointing.min_delay = nan", id="flat-keyword-nan"),
        pytest.param({"max_tool_steps": 2.0}, ValueError, "max_tool_steps = 2.0", id="max-tool-steps-float"),
        pytest.param({"transcription_timeout": NAN}, ValueError, "transcription_timeout = nan", id="timeout-nan"),
        pytest.param({"min_delay": 0.5}, TypeError, "unknown argument(s) ['min_delay']", id="unknown-keyword"),
    ],
)
def test_invalid_session_options(kwargs: dict[str, Any], error: type[Exception], message: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        with pytest.raises(error) as info:
            AgentSession(**kwargs)
    assert type(info.value) is error and message in str(info.value)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        pytest.param({"turn_handling": {"interruption": {"enabled": "no"}}}, "interruption.enabled = 'no'", id="bool-option-as-string"),
        pytest.param(
            {"turn_handling": {"preemptive_generation": {"enabled": "false"}}},
            "preemptive_generation.enabled = 'false'",
            id="preemptive-as-string",
        ),
        pytest.param({"allow_interruptions": "no"}, "allow_interruptions = 'no'", id="flat-bool-as-string"),
        pytest.param({"min_consecutive_speech_delay": INF}, "min_consecutive_speech_delay = inf", id="delay-inf-hangs-run"),
        pytest.param(
            {"turn_handling": {"preemptive_generation": {"max_speech_duration": INF}}}, "max_speech_duration = inf", id="max-speech-inf"
        ),
        pytest.param(
            {"turn_handling": {"interruption": {"backchannel_boundary": 5}}},
            "interruption.backchannel_boundary = 5",
            id="pair-not-iterable",
        ),
        pytest.param({"tts_text_transforms": "filter_markdown"}, "tts_text_transforms = 'filter_markdown'", id="transforms-string"),
        pytest.param({"turn_handling": {"turn_detection": 5}}, "turn_detection = 5", id="turn-detector-not-a-detector"),
        pytest.param({"vad": {"min_silence_duration": 0.5}}, "vad", id="vad-as-dict"),
        pytest.param({"tools": "abc"}, "tools", id="tools-not-a-list"),
        pytest.param({"tools": [5]}, "tools = [5]", id="tools-not-tools"),
        pytest.param({"llm": 5}, "llm = 5 is not an agentlab LLM", id="llm-not-an-llm"),
        pytest.param({"tts": "alloy"}, "tts = 'alloy' is not an agentlab TTS", id="tts-not-a-tts"),
        pytest.param({"wake_up": INF}, "wake_up = inf", id="wake-up-inf"),
        pytest.param({"preemptive_generation": "no"}, "preemptive_generation = 'no'", id="flat-preemptive-as-string"),
    ],
)
def test_session_options_of_the_wrong_kind_are_refused(kwargs: dict[str, Any], message: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        with pytest.raises((ValueError, TypeError)) as info:
            AgentSession(**kwargs)
    assert message in str(info.value)


# --------------------------------------------------------------------------------------------------
# sweeps: agentlab.sweep(...) and `agentlab sweep CONFIG`


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> ads.Dataset:
    """One recorded dictation conversation, saved as a dataset folder (the CLI needs one)."""
    src = ads.load("dictation")
    manifest = {**{k: v for k, v in src.manifest.items() if k != "generator"}, "name": "tiny", "conversations": [src[0].id]}
    return ads.Dataset("tiny", manifest, [src[0]]).save(tmp_path_factory.mktemp("sweep") / "tiny")


@pytest.mark.parametrize(
    ("kwargs", "error", "names"),
    [
        pytest.param({"grid": {"endpointing.min_delay": [NAN]}}, ValueError, ("endpointing.min_delay = nan",), id="grid-nan"),
        pytest.param(
            {"grid": {"endpointing.min_delay": [2.0], "endpointing.max_delay": [1.0]}},
            ValueError,
            ("endpointing.max_delay = 1.0", "min_delay (2.0)"),
            id="grid-min-above-max",
        ),
        pytest.param({"base_options": [1]}, TypeError, ("base_options", "list", "[1]"), id="base-options-not-dict"),
        pytest.param({"base_options": {"min_delay": 0.3}}, ValueError, ("base_options", "['min_delay']"), id="base-options-unknown"),
        pytest.param(
            {"base_options": {"endpointing": {"min_delay": 0.3}}},
            ValueError,
            ("base_options", "['endpointing']", "put endpointing under turn_handling"),
            id="base-options-group-not-nested",
        ),
        pytest.param(
            {"base_vad": {"min_silence_duration": 0.5}}, TypeError, ("base_vad", "dict", "min_silence_duration"), id="base-vad-dict"
        ),
        pytest.param({"timeout": True}, ValueError, ("timeout", "True"), id="timeout-bool"),
        pytest.param({"llm_ttft": NAN}, ValueError, ("llm_ttft", "nan"), id="llm-ttft-nan"),
    ],
)
def test_bad_sweep_arguments(tiny: ads.Dataset, kwargs: dict[str, Any], error: type[Exception], names: tuple[str, ...]) -> None:
    grid = kwargs.pop("grid", {})
    with pytest.raises(error) as info:
        al.sweep(None, tiny, grid, progress=False, **kwargs)
    assert type(info.value) is error
    assert all(n in str(info.value) for n in names), str(info.value)
    assert _raised_by_agentlab(info.value)


def test_sweep_never_overwrites_what_it_cannot_read(tiny: ads.Dataset, tmp_path: Path) -> None:
    a_file = tmp_path / "results"
    a_file.write_text("keep me")
    with pytest.raises(ValueError, match=r"out='.*results' exists and is not a folder"):
        al.sweep(None, tiny, {}, out=a_file, progress=False)
    assert a_file.read_text() == "keep me"
    folder = tmp_path / "run"
    folder.mkdir()
    (folder / "sweep.json").write_text('{"format": 1, "grid": ')  # damaged by hand, not by agentlab (atomic writes)
    with pytest.raises(ValueError, match=r"sweep\.json' cannot be read .*fix or delete it"):
        al.sweep(None, tiny, {}, out=folder, progress=False)
    assert (folder / "sweep.json").read_text() == '{"format": 1, "grid": ' and sorted(p.name for p in folder.iterdir()) == ["sweep.json"]


def test_damaged_cell_file_is_computed_again(tiny: ads.Dataset, tmp_path: Path) -> None:
    """Handling: a cell file that is not a record is recomputed (with a warning), not a traceback."""
    grid = {"endpointing.min_delay": [0.3]}
    fresh = al.sweep(None, tiny, grid, out=tmp_path / "out", progress=False)
    cell = next((tmp_path / "out" / "cells").iterdir())
    for damage in ('{"setting": "x"', "[1, 2]", '{"setting": "x"}'):
        cell.write_text(damage)
        with pytest.warns(UserWarning, match=rf"{cell.name} is not a readable cell record"):
            again = al.sweep(None, tiny, grid, out=tmp_path / "out", progress=False)
        assert again.cells.equals(fresh.cells) and again.turns.equals(fresh.turns)
        assert json.loads(cell.read_text())["status"] == "ok"


def test_numpy_grid_values_are_taken_as_python_values(tiny: ads.Dataset) -> None:
    """Handling: numpy scalars, e.g. list(np.arange(2)), work (np.int64 used to fail the integer check)."""
    res = al.sweep(None, tiny, {"interruption.min_words": list(np.arange(2)), "endpointing.min_delay": [np.float64(0.4)]}, progress=False)
    assert (res.cells.status == "ok").all()
    assert [type(v) for v in res.summary["interruption.min_words"]] == [int, int]


@pytest.mark.parametrize(
    ("text", "field", "value"),
    [
        pytest.param(b"dataset: tiny\ngrid: {endpointing.min_delay: [\xff]}\n", "not UTF-8", "0xff", id="not-utf8"),
        pytest.param(
            "dataset: tiny\ngrid: {endpointing.min_delay: [0.2]}\ngrid: {endpointing.min_delay: [0.9]}\n",
            "duplicate key 'grid'",
            "line 3",
            id="duplicate-key",
        ),
        pytest.param("dataset: tiny\ngrid: {endpointing.min_delay: [.nan]}\n", "'grid.endpointing.min_delay'", "[nan]", id="grid-nan"),
        pytest.param("dataset: tiny\ngrid: {turn_detection: [5]}\n", "'grid.turn_detection'", "[5]", id="grid-turn-detection-not-a-mode"),
        pytest.param(
            "dataset: tiny\ngrid: {}\nbase_options: {turn_handling: {turn_detection: 5}}\n",
            "'base_options.turn_handling.turn_detection'",
            "5",
            id="base-turn-detection-not-a-mode",
        ),
        pytest.param(
            "dataset: tiny\ngrid: {}\nbase_options: {min_delay: 0.3}\n", "'base_options'", "'min_delay'", id="base-options-unknown"
        ),
    ],
)
def test_bad_sweep_config(tiny: ads.Dataset, tmp_path: Path, text: str | bytes, field: str, value: str) -> None:
    cfg = Path(tiny.path).parent / "bad.yaml"  # next to the dataset, so `dataset: tiny` resolves
    cfg.write_bytes(text if isinstance(text, bytes) else text.encode())
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        code = cli_main(["sweep", str(cfg), "--out", str(tmp_path / "out"), "--no-progress"])
    assert code == 2
    message = err.getvalue()
    assert str(cfg) in message and field in message and value in message, message
    assert "Traceback" not in message and not (tmp_path / "out").exists()


def test_sweep_cli_out_is_an_existing_file(tiny: ads.Dataset, tmp_path: Path) -> None:
    cfg = Path(tiny.path).parent / "ok.yaml"
    cfg.write_text("dataset: tiny\ngrid: {}\n")
    target = tmp_path / "summary.csv"
    target.write_text("keep me")
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        assert cli_main(["sweep", str(cfg), "--out", str(target), "--no-progress"]) == 2
    assert f"out='{target}' exists and is not a folder" in err.getvalue()
    assert target.read_text() == "keep me"


# --------------------------------------------------------------------------------------------------
# nothing already written is lost: saving a dataset with bad audio over an existing one


@pytest.mark.parametrize("bad_audio", ["nan.wav", "scrambled.flac"])
def test_saving_bad_audio_leaves_the_old_dataset_intact(files: Path, tmp_path: Path, bad_audio: str) -> None:
    folder = _dataset(tmp_path / "src", {**CONV, "audio": "c.flac"})
    sf.write(folder / "c.flac", tone(2.0), 16000)
    out = tmp_path / "out"
    good = ads.load(folder).save(out)
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    conv = dataclasses.replace(good[0], audio=files / bad_audio)
    with pytest.raises(AudioError) as info:
        ads.Dataset("t", good.manifest, [conv]).save(out)  # scrambled.flac would be copied byte for byte unchecked
    assert bad_audio in str(info.value) and info.value.field in ("samples", "contents")
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


# --------------------------------------------------------------------------------------------------
# documented handling


def test_clipped_audio_is_analysed_as_recorded(files: Path) -> None:
    """Clipping is what a microphone delivered: no error, no rescaling; the VAD still finds the speech."""
    assert load_audio(files / "hot.wav").peak == pytest.approx(3.0)
    assert load_audio(files / "clipped.wav").peak == pytest.approx(1.0, abs=1e-4)
    track = analyze_vad(files / "clipped.wav", backend="energy", cache=False)
    assert len(track) == 1 and track.segments[0].start < 0.1


def test_other_rates_and_channels_become_16k_mono_in_a_simulation(files: Path) -> None:
    run = _simulate(files / "stereo_44k.wav")
    audio = run.user_audio
    assert audio.sample_rate == 16000 and audio.samples.ndim == 1 and audio.duration == pytest.approx(1.0)
    assert audio.peak == pytest.approx(0.3, abs=0.01)  # the channels' mean, not their sum


def test_wav_cut_short_is_an_error_unless_allowed(files: Path) -> None:
    """The header says 1 s; half the data is there: an error naming both durations (issue 21), or,
    allowed, a warning and the half that is there (what libsndfile and players do silently)."""
    with pytest.raises(AudioError, match=r"cut_data\.wav: duration: .*promises 1\.000 s .* holds 0\.4\d\d s"):
        load_audio(files / "cut_data.wav")
    with pytest.warns(UserWarning, match=r"cut_data\.wav: duration: the file is cut short"):
        audio = load_audio(files / "cut_data.wav", allow_truncated=True)
    assert 0.45 < audio.duration < 0.55
    assert np.array_equal(audio.samples, load_audio(files / "good.wav").samples[: len(audio)])


def test_dataset_loading_reads_headers_only(files: Path, tmp_path: Path) -> None:
    """Corrupt samples pass ads.load (no decoding, by design); the first decode names the file."""
    folder = _dataset(tmp_path / "ds", {**CONV, "audio": "c.wav"})
    x = np.full(32000, 0.1, np.float32)
    x[7] = np.nan
    sf.write(folder / "c.wav", x, 16000, subtype="FLOAT")
    conv = ads.load(folder)[0]
    with pytest.raises(AudioError, match=r"c\.wav: samples: 1 non-finite value\(s\) .*first at sample 7"):
        conv.load_audio()


# --------------------------------------------------------------------------------------------------
# long audio: bounded memory


def test_long_file_vad_streams_in_blocks(tmp_path: Path) -> None:
    """20 minutes (over LONG_AUDIO_SECONDS): the VAD's peak allocation is a few blocks, not the file."""
    path = tmp_path / "long.flac"
    minute = tone(60.0, amp=0.2)
    with sf.SoundFile(path, "w", 16000, 1, format="FLAC") as f:
        for _ in range(20):
            f.write(minute)
    tracemalloc.start()
    try:
        track = analyze_vad(path, backend="energy", cache=False)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert track.duration == pytest.approx(1200.0)
    # 77 MB of float32 if loaded whole; measured 11.7 MB: 30 s blocks and their temporaries, whatever the length
    assert peak < 16e6, f"peak {peak / 1e6:.1f} MB"


# Decoding 44.1 kHz stereo whole held ~15x the 16 kHz result (float32 frames, their float64 mean, the
# mono copy); in blocks it is 2x (blocks, then their concatenation) plus one 10 s block's temporaries.
@pytest.mark.parametrize(("rate", "channels", "limit"), [(16000, 1, 1.15), (44100, 2, 3.5)])
def test_load_audio_holds_the_result_not_the_file(tmp_path: Path, rate: int, channels: int, limit: float) -> None:
    """Peak allocation relative to the 16 kHz result: 1x at the file's own rate and mono, ~2-3x otherwise."""
    path = tmp_path / "a.flac"
    sf.write(path, tone(120.0, rate, channels=channels), rate)
    result = 120 * 16000 * 4
    tracemalloc.start()
    try:
        audio = load_audio(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert isinstance(audio, Audio) and audio.duration == pytest.approx(120.0)
    assert peak < limit * result, f"peak {peak / result:.2f}x the result"


def test_numpy_integers_are_accepted_as_integer_options() -> None:
    """Handling: grids built with numpy (np.arange) give numpy integers; they are integers."""
    assert AgentSession(max_tool_steps=np.int64(2)).options.max_tool_steps == 2


def test_a_turn_detector_that_raises_ends_the_run_with_an_error_instead_of_hanging() -> None:
    class Broken:
        latency = 0.0

        def unlikely_threshold(self, language: str | None) -> float:
            return 0.5

        def predict(self, transcript: str, **kwargs: Any) -> float:
            raise RuntimeError("model file missing")

    run = al.simulate(
        lambda: al.Agent(instructions="x"),
        {"llm": al.ScriptedLLM(["Hi."]), "turn_handling": {"turn_detection": Broken()}},
        [al.UserSpeech(0.5, 1.5, "hello there")],
    )
    errors = run.events[run.events["type"] == "error"]
    assert errors[["source", "recoverable"]].values.tolist() == [["turn_detection", False]]
    assert "model file missing" in errors["error"].iloc[0]
    close = run.events.iloc[-1]
    assert (close["type"], close["reason"]) == ("close", "error")
