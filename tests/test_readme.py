"""The README's python blocks run as pasted.

All of them run in order in one Jupyter kernel (top-level ``await`` included), and each block that
compiles as plain Python (no top-level ``await``) also runs on its own, in a fresh namespace, in a
plain Python process outside the repository (so paths must be package-relative). The one block
whose first line says it needs your own files is an example with placeholder paths and is skipped.

In Jupyter, every figure a block makes must be shown (a figure that is not the block's last
expression and is not passed to ``display`` would be silently dropped): the script run counts the
figures each block creates, and the kernel run must show at least as many images for that block.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from test_jupyter import KERNEL_NAME, jupyter_dirs  # noqa: F401  (the fixture, with its private kernelspec)

README = Path(__file__).resolve().parents[1] / "README.md"
OWN_FILES = "your own files"

pytestmark = pytest.mark.timeout(240)

# Runs the block files given as arguments, each in a fresh namespace, and prints how many matplotlib
# figures each one created.
_SCRIPT_DRIVER = """
import json, sys
import matplotlib
matplotlib.use("Agg")
from matplotlib.figure import Figure

made = [0]
_init = Figure.__init__
def _counting_init(self, *args, **kwargs):
    made[0] += 1
    _init(self, *args, **kwargs)
Figure.__init__ = _counting_init

counts = []
for path in sys.argv[1:]:
    before = made[0]
    with open(path, encoding="utf-8") as f:
        code = compile(f.read(), path, "exec")
    exec(code, {"__name__": "__main__"})
    counts.append(made[0] - before)
print("FIGURES " + json.dumps(counts))
"""


def _blocks() -> list[str]:
    return re.findall(r"^```python\n(.*?)^```", README.read_text(encoding="utf-8"), flags=re.S | re.M)


def _needs_own_files(block: str) -> bool:
    return OWN_FILES in block.splitlines()[0]


def _is_sync(block: str) -> bool:
    try:
        compile(block, "<README block>", "exec")
    except SyntaxError:
        return False  # top-level await / async with: Jupyter only
    return True


def test_only_the_rttm_example_is_marked_as_needing_your_own_files() -> None:
    blocks = _blocks()
    marked = [b for b in blocks if _needs_own_files(b)]
    assert len(marked) == 1 and "import_rttm" in marked[0], marked
    assert not any("import_rttm(" in b for b in blocks if not _needs_own_files(b)), "an import of placeholder files is not marked"
    assert any(not _is_sync(b) for b in blocks) and sum(_is_sync(b) for b in blocks) >= 5


def _run_as_scripts(blocks: list[str], folder: Path) -> list[int]:
    files = []
    for i, block in enumerate(blocks):
        path = folder / f"block_{i}.py"
        path.write_text(block, encoding="utf-8")
        files.append(str(path))
    p = subprocess.run(
        [sys.executable, "-c", _SCRIPT_DRIVER, *files], cwd=folder, capture_output=True, text=True, timeout=180, env=_clean_env()
    )
    assert p.returncode == 0, f"a README block failed as a script:\n{p.stderr[-3000:]}"
    (line,) = [x for x in p.stdout.splitlines() if x.startswith("FIGURES ")]
    return json.loads(line.removeprefix("FIGURES "))


def _clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k not in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "AGENTLAB_DATASETS", "PYTHONPATH")}


def test_readme_blocks_run_in_jupyter_and_as_scripts(jupyter_dirs: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: F811
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "AGENTLAB_DATASETS"):
        monkeypatch.delenv(name, raising=False)
    # the kernel as JupyterLab starts it: matplotlib's inline backend, not the Agg the fixture sets
    spec_file = jupyter_dirs / "path" / "kernels" / KERNEL_NAME / "kernel.json"
    spec = json.loads(spec_file.read_text())
    spec["env"].pop("MPLBACKEND", None)
    spec_file.write_text(json.dumps(spec))

    blocks = [b for b in _blocks() if not _needs_own_files(b)]
    sync = [b for b in blocks if _is_sync(b)]
    script_dir = tmp_path / "script"
    script_dir.mkdir()
    figures = dict(zip(sync, _run_as_scripts(sync, script_dir), strict=True))
    assert sum(figures.values()) >= 3, "the README's plotting blocks made no figures"
    assert (script_dir / "heard.wav").is_file() and (script_dir / "sweep-real").is_dir()

    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": KERNEL_NAME, "display_name": "agentlab test kernel", "language": "python"}
    nb.cells = [nbformat.v4.new_code_cell(b) for b in blocks]
    lab_dir = tmp_path / "lab"
    lab_dir.mkdir()
    client = nbclient.NotebookClient(
        nb, timeout=180, startup_timeout=60, kernel_name=KERNEL_NAME, resources={"metadata": {"path": str(lab_dir)}}
    )
    client.execute()  # raises CellExecutionError, with the block and its traceback, if a block fails
    for block, cell in zip(blocks, nb.cells, strict=True):
        images = sum("image/png" in o.get("data", {}) for o in cell.outputs)
        assert images >= figures.get(block, 0), f"this block makes {figures[block]} figure(s) but Jupyter shows {images}:\n{block}"
        assert cell.outputs, f"this block shows nothing in Jupyter:\n{block}"
