"""One action, one transaction: only the unit of work commits the database session.

Services take the caller's unit of work and never commit; views, jobs and CLI commands open it
(``webapp.unit_of_work``). A ``.commit()`` anywhere else in the application code would make one
user action several transactions again, so this test reads every module (by its syntax tree, so
comments and docstrings do not count) and fails on any call it does not expect.
"""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PACKAGES = ("webapp", "workers", "storage", "schemas")

#: Files allowed to call ``.commit()``, and why. Keep this list short and each reason true.
ALLOWED = {
    "webapp/unit_of_work.py": "the unit of work itself: the one place that commits",
    "webapp/search/engine.py": "Whoosh's index writer commits segments; not the database",
}


def _commit_calls(path: Path) -> list[int]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    return [
        node.lineno
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "commit"
    ]


def _application_modules() -> list[Path]:
    return [
        path
        for package in PACKAGES
        for path in sorted((REPO / package).rglob("*.py"))
        if "migrations/versions" not in path.as_posix()
    ]


def test_nothing_but_the_unit_of_work_commits_the_database():
    found = {
        path.relative_to(REPO).as_posix(): lines
        for path in _application_modules()
        if (lines := _commit_calls(path))
    }
    unexpected = {path: lines for path, lines in found.items() if path not in ALLOWED}
    assert unexpected == {}, (
        "commit() outside the unit of work (take a `uow` and let the opener commit): "
        + ", ".join(f"{path}:{lines}" for path, lines in unexpected.items())
    )
    # The positive control: the scan does find the unit of work's own commit.
    assert "webapp/unit_of_work.py" in found


def test_the_list_of_allowed_commit_sites_has_no_stale_entry():
    """An entry whose file no longer commits must go, so the list stays a true inventory."""
    stale = [
        path for path in ALLOWED if not (REPO / path).exists() or not _commit_calls(REPO / path)
    ]
    assert stale == [], f"remove from ALLOWED (no commit() there any more): {stale}"
