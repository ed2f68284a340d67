"""What a core install (``pip install agentlab-voice``, no extras) can import, and what it is called.

``make demo`` runs on the core install plus the voice extra; a module-level import of a package that
only arrives through the test extras (``httpx`` did: the ``openai`` client now ships ``httpx2``)
passes every test here and breaks the demo on a fresh machine. Optional components import their
packages inside functions instead.

The distribution is ``agentlab-voice``: ``agentlab`` on PyPI is an unrelated project, so no install
hint may name it.
"""

from __future__ import annotations

import ast
import importlib.metadata as md
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "agentlab"
DIST = "agentlab-voice"
# `pip install agentlab`, `pip install 'agentlab[voice]'`, `agentlab[sweep]`, `-e '.[x]'` aside
_WRONG_HINT = re.compile(r"pip install\s+['\"]?agentlab(?![-\w])|(?<![-\w.])agentlab\\?\[[a-z-]+\\?\]")


def _core_distributions() -> set[str]:
    core = [r for r in md.requires(DIST) or [] if "extra ==" not in r]
    return {re.split(r"[<>=!~;\[ ]", r, maxsplit=1)[0].lower().replace("_", "-") for r in core}


def _module_level_imports(package: Path = PACKAGE) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for path in package.rglob("*.py"):
        for node in ast.parse(path.read_text()).body:  # module level only: imports in functions are lazy
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                if top not in sys.stdlib_module_names and top not in ("agentlab", "__future__"):
                    found.setdefault(top, set()).add(str(path.relative_to(package.parent)))
    return found


def test_module_level_imports_are_core_dependencies() -> None:
    core = _core_distributions()
    assert {"numpy", "pandas", "openai"} <= core, core
    owners = md.packages_distributions()
    stray = {
        top: sorted(files)
        for top, files in _module_level_imports().items()
        if not {d.lower().replace("_", "-") for d in owners.get(top, [top])} & core
    }
    assert not stray, f"imported at module level but not a core dependency (import it lazily, or add it): {stray}"


def test_the_check_sees_stray_imports_but_not_lazy_ones(tmp_path: Path) -> None:
    package = tmp_path / "agentlab"
    package.mkdir()
    (package / "m.py").write_text("import os\nimport httpx\nfrom faster_whisper import x\n\ndef f():\n    import torch\n")
    assert set(_module_level_imports(package)) == {"httpx", "faster_whisper"}


def _text_files() -> list[Path]:
    folders = ["agentlab", "docs", "binder", "datasets", "tests", "notebooks", "benchmarks"]
    files = [ROOT / "README.md", ROOT / "Makefile", ROOT / "pyproject.toml"]
    for folder in folders:
        files += [p for p in (ROOT / folder).rglob("*") if p.suffix in (".py", ".md", ".ipynb", ".txt", ".yaml", "") and p.is_file()]
    return [p for p in files if "__pycache__" not in p.parts and p != Path(__file__).resolve()]


def test_install_hints_name_agentlab_voice() -> None:
    assert md.metadata(DIST)["Name"] == DIST
    wrong = {}
    for path in _text_files():
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue  # binary
        hits = [m.group(0) for m in _WRONG_HINT.finditer(text)]
        if hits:
            wrong[str(path.relative_to(ROOT))] = hits
    assert not wrong, f"install hints naming the unrelated PyPI project `agentlab` (say agentlab-voice): {wrong}"


def test_the_hint_check_sees_wrong_hints_but_not_right_ones() -> None:
    wrong = ["pip install agentlab", "pip install 'agentlab[voice]'", "needs ``agentlab[sweep]``", "pip install agentlab\\[x\\]"]
    right = [
        "pip install agentlab-voice",
        "pip install 'agentlab-voice[voice]'",
        "pip install -e '.[test]'",
        "import agentlab",
        "agentlab.datasets[0]",
    ]
    assert all(_WRONG_HINT.search(s) for s in wrong), [s for s in wrong if not _WRONG_HINT.search(s)]
    assert not any(_WRONG_HINT.search(s) for s in right), [s for s in right if _WRONG_HINT.search(s)]
