"""The indicators page for archivists and admins: counts that follow the work, read only.

It must never be public: every request asks ``access.require_archivist`` first.
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

from flask import Blueprint, make_response, render_template, request

from webapp.auth import current_person
from webapp.errors import BadRequest
from webapp.services import access
from webapp.services import indicators as service

bp = Blueprint("indicators", __name__, url_prefix="/indicators")


def _year_arg() -> int | None:
    """``?year=2026`` for the yearly report; empty means every year."""
    text = request.args.get("year", "").strip()
    if not text:
        return None
    if not (text.isascii() and text.isdecimal() and 1900 <= int(text) <= 2999):
        raise BadRequest("year must be a year such as 2026", field="year")
    return int(text)


@bp.get("/")
def index():
    access.require_archivist(current_person())
    year = _year_arg()
    response = make_response(
        render_template(
            "curation/indicators.html",
            data=service.compute(),
            documents=service.document_indicators(year),
            year=year,
            years=range(datetime.now(UTC).year, 2019, -1),
        )
    )
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.get("/documents.csv")
def documents_csv():
    """Projects, classes and responses per archive document, as a spreadsheet (UTF-8 with a
    byte order mark, so spreadsheet programs read the accents)."""
    access.require_archivist(current_person())
    year = _year_arg()
    out = io.StringIO()
    csv.writer(out).writerows(service.documents_csv_rows(service.document_indicators(year)))
    response = make_response("\ufeff" + out.getvalue())
    response.mimetype = "text/csv"
    name = f"documents-{year}.csv" if year else "documents.csv"
    response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    response.headers["Cache-Control"] = "private, no-store"
    return response
