"""Views call services; they never query the database themselves.

A blueprint parses the request, calls services and renders (docs/architecture.md, "Layers").
A query written in a view is a rule hidden where nobody looks for it — who may see a story, which
stories are public — and it is how "only published is public" came to be written seven times.
So this test reads every view module (by its syntax tree: comments and docstrings do not count)
and fails on any use of the database handle ``db`` (``db.session``, ``db.select``,
``db.paginate``…) and on any ``.session`` or ``.query`` attribute (``uow.session``,
``Model.query``). What a view needs is a named function in ``webapp/services/`` (or the
``webapp.places`` module, which owns place records).

``webapp/auth.py`` is scanned too: it identifies the person behind a request (Flask-Login's user
loader, bearer tokens), which is view-layer work, and its reads live in
``webapp.services.accounts`` (``get_user``, ``find_token``) like every other account read.

Allowed, and why: the health endpoints (functions named ``healthz`` or ``readyz``, and a module
``webapp/blueprints/health.py``). A probe's whole job is to prove a dependency answers right now
(``SELECT 1``) — a check of the connection, not a read of data — so running that statement
where the probe is written hides nothing. Today's probes ask ``webapp.services.readiness`` and
use no exemption; the allowance stays so that a probe written the direct way is not mistaken
for a view reading data.
"""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

#: View functions allowed to touch the database: health probes (see the module docstring).
ALLOWED_FUNCTIONS = frozenset({"healthz", "readyz"})
#: View modules allowed to touch the database: the health blueprint, probes only.
ALLOWED_MODULES = frozenset({"webapp/blueprints/health.py"})
#: Attributes that reach the database whatever object they hang off.
DATABASE_ATTRIBUTES = frozenset({"session", "query"})


def _view_modules() -> list[Path]:
    return [*sorted((REPO / "webapp" / "blueprints").glob("*.py")), REPO / "webapp" / "auth.py"]


def database_uses(source: str, filename: str = "<view>") -> list[tuple[int, str]]:
    """``(line, what)`` for each database access in ``source`` outside the allowed functions."""
    found: list[tuple[int, str]] = []

    def visit(node: ast.AST) -> None:
        if (
            isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
            and node.name in ALLOWED_FUNCTIONS
        ):
            return
        if isinstance(node, ast.Name) and node.id == "db" and isinstance(node.ctx, ast.Load):
            found.append((node.lineno, "db"))
        elif isinstance(node, ast.Attribute) and node.attr in DATABASE_ATTRIBUTES:
            found.append((node.lineno, f".{node.attr}"))
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(ast.parse(source, filename=filename))
    return sorted(set(found))


def test_no_view_queries_the_database_itself():
    found = {
        path.relative_to(REPO).as_posix(): uses
        for path in _view_modules()
        if path.relative_to(REPO).as_posix() not in ALLOWED_MODULES
        and (uses := database_uses(path.read_text(encoding="utf-8"), str(path)))
    }
    assert found == {}, (
        "a view reaches the database; move the read into a service function: "
        + "; ".join(
            f"{path}: " + ", ".join(f"line {line} ({what})" for line, what in uses)
            for path, uses in found.items()
        )
    )
    # The scan really covers the views (a renamed folder must not make this test pass empty).
    assert {p.name for p in _view_modules()} >= {"public.py", "api.py", "moderation.py", "auth.py"}


def test_the_scan_finds_every_way_a_view_could_query():
    """Positive control: each forbidden form is caught, in any function or at module level."""
    source = """
from webapp.extensions import db

def story(story_id):
    return db.session.get(Story, story_id)

def stories():
    return db.paginate(db.select(Story), page=1)

def legacy():
    return Story.query.all()

def through_the_unit_of_work(uow):
    return uow.session.scalars(select(Story))

TOP = db.session
"""
    lines = sorted({line for line, _what in database_uses(source)})
    assert lines == [5, 8, 11, 14, 16]
    assert {what for _line, what in database_uses(source)} == {"db", ".query", ".session"}


def test_health_probes_may_ask_the_database_and_nothing_else_may():
    source = """
def healthz():
    db.session.execute(text("SELECT 1"))

def readyz():
    db.session.execute(text("SELECT 1"))

def home():
    return db.session.scalars(db.select(Story)).all()
"""
    assert {line for line, _what in database_uses(source)} == {9}
