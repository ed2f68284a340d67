"""What a core install (``pip install agentlab``, no extras) can import.

``make demo`` runs on the core install plus the voice extra; a module-level import of a package that
only arrives through the test extras (``httpx`` did: the ``openai`` client now ships ``httpx2``)
passes every test here and breaks the demo on a fresh machine. Optional components import their
packages inside functions instead.
"""

from __future__ import annotations

import ast
import importlib.metadata as md
import re
import sys
from pathlib import Path

PACKAGE = Path(__file__).parent.parent / "agentlab"


def _core_distributions() -> set[str]:
    core = [r for r in md.requires("agentlab") or [] if "extra ==" not in r]
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
