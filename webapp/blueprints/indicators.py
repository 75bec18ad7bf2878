"""The indicators page for archivists and admins: counts that follow the work, read only, each
drawn as a server-rendered SVG bar chart beside an accessible table, and each downloadable as CSV.

It must never be public: every request asks ``access.require_archivist`` first.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import UTC, date, datetime

from flask import Blueprint, abort, make_response, render_template, request
from flask_babel import gettext as _

from webapp import charts, labels
from webapp.auth import current_person
from webapp.errors import BadRequest
from webapp.i18n import language_name
from webapp.interop.columns import neutralise
from webapp.services import access, projects
from webapp.services import indicators as service

bp = Blueprint("indicators", __name__, url_prefix="/indicators")

#: The charts, in page order; each key is also its CSV's address (``/indicators/<key>.csv``).
CHARTS = (
    "per_month",
    "by_language",
    "by_place",
    "by_organisation",
    "collection_views",
    "by_status",
    "by_period",
)


@dataclass(frozen=True)
class Chart:
    key: str
    caption: str
    head: str
    unit: str
    rows: list[tuple[str, int]]

    @property
    def layout(self) -> charts.BarChart:
        return charts.horizontal_bars(self.rows)


def _charts(data: service.Indicators) -> dict[str, Chart]:
    """Each figure with its labels in the reader's language (the same for page and CSV)."""
    stories = _("Stories")
    built = [
        Chart("per_month", _("Stories published per month"), _("Month"), stories,
              list(data.published_per_month)),
        Chart("by_language", _("Stories by language"), _("Language"), stories,
              [(f"{language_name(code)} ({code})", n) for code, n in data.by_language]),
        Chart("by_place", _("Stories by place"), _("Place"), stories, list(data.by_place)),
        Chart("by_organisation", _("Stories by organisation"), _("Organisation"), stories,
              [(name or _("No organisation"), n) for name, n in data.by_organisation]),
        Chart("collection_views", _("Most viewed collections (last 30 days)"), _("Collection"),
              _("Views"), [(c.title, n) for c, n in data.most_viewed]),
        Chart("by_status", _("Stories by status"), _("Status"), stories,
              [(labels.label(status, "status"), n) for status, n in data.by_status]),
        Chart("by_period", _("Stories by period"), _("Decade"), stories,
              [(_("No period given") if decade is None else _("%(decade)ss", decade=decade), n)
               for decade, n in data.by_decade]),
    ]  # fmt: skip
    return {chart.key: chart for chart in built}


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
    data = service.compute()
    response = make_response(
        render_template(
            "curation/indicators.html",
            data=data,
            charts=_charts(data).values(),
            documents=service.document_indicators(year),
            year=year,
            years=range(datetime.now(UTC).year, 2019, -1),
            teaching=projects.indicators(),
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
    rows = service.documents_csv_rows(service.document_indicators(year))
    # Titles and call numbers are typed by people: a cell starting like a formula is neutralised
    # so a spreadsheet shows it instead of running it.
    csv.writer(out).writerows(
        [neutralise(cell) if isinstance(cell, str) else cell for cell in row] for row in rows
    )
    response = make_response("\ufeff" + out.getvalue())
    response.mimetype = "text/csv"
    name = f"documents-{year}.csv" if year else "documents.csv"
    response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.get("/<key>.csv")
def chart_csv(key: str):
    """One chart's table as CSV (UTF-8 with a byte-order mark, so spreadsheets read accents)."""
    access.require_archivist(current_person())
    if key not in CHARTS:
        abort(404)
    chart = _charts(service.compute())[key]
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([chart.head, chart.unit])
    writer.writerows([neutralise(label), count] for label, count in chart.rows)
    response = make_response(out.getvalue())
    response.content_type = "text/csv; charset=utf-8"
    filename = f"passages-{key.replace('_', '-')}-{date.today().isoformat()}.csv"
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.headers["Cache-Control"] = "private, no-store"
    return response
