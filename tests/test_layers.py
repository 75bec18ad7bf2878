"""The layers lean one way: the web app never imports the workers, neutral modules import
neither Flask views nor the search engine, and only one module spells object keys.

These are read from the code's syntax trees (docstrings and comments do not count), so a new
import or a hand-written key anywhere fails here with the file and line to fix.
"""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def _modules(*roots: str) -> list[Path]:
    return [
        path
        for root in roots
        for path in sorted((REPO / root).rglob("*.py"))
        if "migrations/versions" not in path.as_posix()
    ]


def _imports(path: Path) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.append((node.lineno, node.module))
    return found


def _where(path: Path, line: int) -> str:
    return f"{path.relative_to(REPO).as_posix()}:{line}"


#: The command line is the processes' entry point (it starts workers and the relay), not a layer.
ENTRY_POINT = REPO / "webapp/cli.py"


def test_the_web_app_never_imports_the_workers():
    wrong = [
        _where(path, line)
        for path in _modules("webapp")
        for line, name in _imports(path)
        if (name == "workers" or name.startswith("workers.")) and path != ENTRY_POINT
    ]
    assert wrong == []
    # Control: the scan sees the workers' own imports of the web app.
    assert any(name.startswith("webapp") for _, name in _imports(REPO / "workers/images.py"))


NEUTRAL = ["webapp/textfold.py", "webapp/ordering.py", "webapp/slugs.py", "webapp/media/imaging.py",
           "webapp/media/keys.py", "webapp/media/recording.py", "webapp/media/timedtext.py",
           "webapp/iiif/image_api.py", "webapp/iiif/rendering.py", "webapp/printing/exhibition.py",
           "webapp/charts.py"]  # fmt: skip


def test_neutral_modules_depend_on_no_engine_view_or_database():
    """Slugs and place keys must not change when the search engine changes; image inspection
    and the key layout must stay usable from both sides."""
    forbidden = ("webapp.search", "webapp.blueprints", "webapp.services", "webapp.extensions",
                 "flask", "whoosh", "workers", "sqlalchemy")  # fmt: skip
    wrong = [
        f"{_where(REPO / path, line)} imports {name}"
        for path in NEUTRAL
        for line, name in _imports(REPO / path)
        if name.startswith(forbidden)
    ]
    assert wrong == []
    places = {name for _, name in _imports(REPO / "webapp/places.py")}
    assert "webapp.textfold" in places and "webapp.search.analysis" not in places


def _string_literals(path: Path) -> list[tuple[int, str]]:
    """String constants and f-string heads that are not docstrings."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            if id(node) not in docstrings:
                found.append((node.lineno, node.value))
        elif isinstance(node, ast.JoinedStr) and node.values:
            head = node.values[0]
            if isinstance(head, ast.Constant) and isinstance(head.value, str):
                found.append((node.lineno, head.value))
    return found


def test_only_the_key_module_spells_object_keys():
    owner = REPO / "webapp/media/keys.py"
    spelled = [
        _where(path, line)
        for path in _modules("webapp", "workers", "storage")
        for line, text in _string_literals(path)
        if text.startswith(("originals/", "derivatives/")) and path != owner
    ]
    assert spelled == []
    assert any(text.startswith("originals/") for _, text in _string_literals(owner))  # control
