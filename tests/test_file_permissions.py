"""Files written for the user get the permissions any new file gets: 0o666 less the umask.

Every writer goes through ``agentlab._utils.atomic_write`` (a temporary file next to the target,
then ``os.replace``); a temporary file from ``tempfile.mkstemp`` would be 0o600 and make every WAV,
CSV and JSON private. Overwriting a file keeps the mode it had, as ``open(path, "w")`` would.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

import agentlab as al
from agentlab import datasets
from agentlab._utils import atomic_write
from agentlab.examples import scenario_path

pytestmark = pytest.mark.skipif(os.name != "posix", reason="POSIX permissions")


@pytest.fixture
def umask() -> Iterator[object]:
    """``umask(value)`` sets the process umask for the test; the old one comes back afterwards."""
    old = os.umask(0o022)
    os.umask(old)
    yield os.umask
    os.umask(old)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.parametrize(("mask", "expected"), [(0o022, 0o644), (0o027, 0o640), (0o077, 0o600)])
def test_a_new_file_gets_the_mode_the_umask_allows(tmp_path: Path, umask, mask: int, expected: int) -> None:
    umask(mask)
    target = atomic_write(tmp_path / "out.json", lambda tmp: Path(tmp).write_text("{}"))
    assert _mode(target) == expected
    assert [p.name for p in tmp_path.iterdir()] == ["out.json"], "the temporary file is gone"


def test_overwriting_keeps_the_files_mode(tmp_path: Path, umask) -> None:
    umask(0o022)
    target = tmp_path / "out.txt"
    target.write_text("old")
    target.chmod(0o660)
    atomic_write(target, lambda tmp: Path(tmp).write_text("new"))
    assert target.read_text() == "new" and _mode(target) == 0o660


def test_a_failed_write_leaves_the_target_and_no_temporary_file(tmp_path: Path) -> None:
    target = tmp_path / "out.txt"
    target.write_text("old")

    def fail(tmp: str) -> None:
        Path(tmp).write_text("half")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        atomic_write(target, fail)
    assert target.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["out.txt"]


def test_wav_sweep_dataset_and_scenario_files_are_readable_by_others(tmp_path: Path, umask) -> None:
    umask(0o022)
    scenario = al.load_scenario(scenario_path("weather_barge_in"))
    run = scenario.run()
    run.write_audio(tmp_path / "heard.wav")
    scenario.save(tmp_path / "scenario.json")
    run.report().save(tmp_path / "report.json")
    ds = datasets.load("tasks")
    ds.save(tmp_path / "tasks-copy")
    result = al.sweep(None, ds, {"max_tool_steps": [1]}, out=tmp_path / "sweep", progress=False)
    result.to_csv(tmp_path / "sweep.csv")
    written = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert len(written) > 10 and {".wav", ".json", ".csv"} <= {p.suffix for p in written}
    private = {str(p.relative_to(tmp_path)): oct(_mode(p)) for p in written if _mode(p) != 0o644}
    assert not private, f"not 0644 under umask 022: {private}"
