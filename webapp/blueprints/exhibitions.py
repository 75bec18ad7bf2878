"""The printable exhibition of a collection: the PDFs for everyone, the build's progress for
archivists.

``GET /collections/<slug>/exhibition.pdf[?format=booklet]`` streams the stored PDF when it shows
what the public sees of the collection now, and otherwise answers 202 with ``Retry-After`` (a
small page, or JSON for clients that ask for it) while the job makes it. The rules (published
only, never a stale file, one build request per content) are ``webapp.services.exhibitions``;
this module only parses and answers, and must never build a PDF inside a request.
"""

from __future__ import annotations

from flask import (
    Blueprint,
    flash,
    jsonify,
    make_response,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from flask_babel import gettext as _

from webapp import freshness, reasons
from webapp.auth import current_person
from webapp.errors import BadRequest
from webapp.services import access, backends
from webapp.services import collections as collection_service
from webapp.services import exhibitions as service
from webapp.unit_of_work import unit_of_work

bp = Blueprint("exhibitions", __name__)


def _wants_json() -> bool:
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return best == "application/json" and request.accept_mimetypes["application/json"] > 0


@bp.get("/collections/<slug>/exhibition.pdf")
def exhibition_pdf(slug: str):
    fmt = service.check_format(request.args.get("format"))
    with unit_of_work() as uow:
        answer = service.download(uow, slug, fmt)
    if answer.state == "ready":
        stream = backends.object_store().open(answer.key)
        response = send_file(
            stream,
            mimetype="application/pdf",
            download_name=f"{slug}-{fmt}.pdf",
            max_age=freshness.SHARED_MAX_AGE,
        )
        # Browsers and shared caches revalidate soon: a withdrawal must leave copies quickly.
        return freshness.keep_briefly(response)
    status_code = 503 if answer.state == "failed" else 202
    retry_after = service.RETRY_AFTER if status_code == 202 else service.FAILED_RETRY_AFTER
    if _wants_json():
        body = {
            "state": answer.state,
            "done": answer.done,
            "total": answer.total,
            "retry_after": retry_after,
            "url": url_for("exhibitions.exhibition_pdf", slug=slug, format=fmt, _external=True),
        }
        if answer.state == "failed":
            body["error"] = {
                "code": "exhibition_failed",
                "message": _("the exhibition could not be made; it will be tried again"),
            }
        response = jsonify(body)
    else:
        response = make_response(
            render_template(
                "public/exhibition_pending.html",
                answer=answer,
                collection=collection_service.get_public_collection(slug),
                retry_after=retry_after,
                fmt=fmt,
            )
        )
    response.status_code = status_code
    response.headers["Retry-After"] = str(retry_after)
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.post("/curation/collections/<int:collection_id>/exhibition")
def request_build(collection_id: int):
    """An archivist asks for the exhibition now (it is also made when the collection changes)."""
    try:
        with unit_of_work() as uow:
            service.request_now(uow, collection_id, current_person())
        flash(_("The exhibition is being made."), "info")
    except BadRequest as exc:
        flash(exc.message, "error")
    return redirect(
        url_for("curation.edit_collection", collection_id=collection_id) + "#exhibition"
    )


@bp.app_context_processor
def _template_helpers():
    return {"exhibition_progress": lambda c: progress_json(c, service.status(c))}


@bp.get("/curation/collections/<int:collection_id>/exhibition.json")
def exhibition_progress(collection_id: int):
    """The build's progress for the curation screen (polled, or read on reload)."""
    access.require_archivist(current_person())
    collection = collection_service.get_collection(collection_id)
    return jsonify(progress_json(collection, service.status(collection)))


def progress_json(collection, row) -> dict:
    """What the curation screen shows of a build (also rendered into the page on reload)."""
    current = service.is_current(collection, row)
    links = {}
    if current:
        links = {
            fmt: url_for("exhibitions.exhibition_pdf", slug=collection.slug, format=fmt)
            for fmt in service.FORMATS
        }
    return {
        "state": row.state if row is not None else "none",
        "current": current,
        "done": row.done if row is not None else 0,
        "total": row.total if row is not None else 0,
        "error": reasons.words(row.error) if row is not None and row.error else None,
        "error_code": reasons.code_of(row.error) if row is not None else None,
        "finished_at": row.finished_at.isoformat() if row is not None and row.finished_at else None,
        "downloads": links,
        "bytes": {"panels": row.panels_bytes, "booklet": row.booklet_bytes} if current else {},
    }
