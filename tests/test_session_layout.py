"""The session package keeps the shape docs/session.md describes: small modules, each with a header
saying what it owns, and imports that run one way (back references only for type checkers)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SESSION = Path(__file__).resolve().parents[1] / "agentlab" / "session"
MODULES = sorted(p for p in SESSION.glob("*.py") if p.name != "__init__.py")
MAX_LINES = 850  # the split's "about 800"


def _runtime_imports(path: Path) -> set[str]:
    """Sibling modules ``path`` imports when it is loaded (not under TYPE_CHECKING, not inside functions)."""
    tree = ast.parse(path.read_text())
    found: set[str] = set()
    for node in tree.body:  # module level only: an import inside a function runs later, on purpose
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            continue
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            if node.module:
                found.add(node.module.split(".")[0])
            else:
                found.update(alias.name for alias in node.names)
    return found & {p.stem for p in MODULES}


@pytest.mark.parametrize("path", MODULES, ids=lambda p: p.name)
def test_each_module_is_small_and_says_what_it_owns(path: Path) -> None:
    lines = path.read_text().splitlines()
    assert len(lines) <= MAX_LINES, f"{path.name} has {len(lines)} lines; split it along a seam (docs/session.md)"
    doc = ast.get_docstring(ast.parse(path.read_text()))
    assert doc and len(doc.split()) >= 8, f"{path.name} needs a header saying what it owns"


def test_session_modules_import_one_way() -> None:
    graph = {p.stem: _runtime_imports(p) for p in MODULES}

    def visit(name: str, trail: list[str]) -> None:
        if name in trail:
            cycle = " -> ".join([*trail[trail.index(name) :], name])
            raise AssertionError(f"import cycle in agentlab/session: {cycle}")
        for dep in sorted(graph[name]):
            visit(dep, [*trail, name])

    for name in graph:
        visit(name, [])
    # The check itself sees imports: the session module imports the activity at load time.
    assert "activity" in graph["session"]
