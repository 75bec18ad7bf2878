"""JSON API v1: submit, follow, review and search stories.

Authentication is ``Authorization: Bearer <token>`` (``passages create-token``). Errors are
``{"error": {"code", "message", "field"?}}`` with a 4xx status (see ``webapp.errorhandlers``).
"""

from __future__ import annotations

import json

from flask import Blueprint, jsonify, request, url_for

from webapp.auth import current_person
from webapp.errors import BadRequest
from webapp.extensions import db
from webapp.models import Story
from webapp.presenters import story_json
from webapp.services import access, review, submissions
from webapp.services.searching import search_request_from_args, search_stories

bp = Blueprint("api", __name__, url_prefix="/api/v1")


def _json_body() -> dict:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise BadRequest("send a JSON object with Content-Type: application/json")
    return body


@bp.post("/stories")
def create_story():
    user = access.require_contributor(current_person())
    raw = request.form.get("metadata")
    if raw is None and request.files.get("metadata"):
        raw = request.files["metadata"].read().decode("utf-8", errors="replace")
    if raw is None:
        raise BadRequest(
            "send the story as multipart/form-data with a 'metadata' part holding JSON",
            field="metadata",
        )
    try:
        metadata = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise BadRequest(
            f"metadata is not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})",
            field="metadata",
        ) from exc
    unexpected = sorted(set(request.files) - {"images", "metadata"})
    if unexpected:
        raise BadRequest(
            f"unexpected file part {unexpected[0]!r}; send images as parts named 'images'",
            field=unexpected[0],
        )
    images = [
        submissions.IncomingImage(filename=f.filename or "", stream=f.stream)
        for f in request.files.getlist("images")
    ]
    story = submissions.submit_story(metadata, images, submitter=user)
    body = story_json(story, include_private=True)
    response = jsonify(body)
    response.status_code = 202
    response.headers["Location"] = url_for("api.get_story", story_id=story.id, _external=True)
    return response


@bp.get("/stories/<int:story_id>")
def get_story(story_id: int):
    user = current_person()
    story = access.require_view(db.session.get(Story, story_id), user, request.args.get("t"))
    private = story.status_token == request.args.get("t") or (
        user is not None and (user.is_staff or story.submitted_by_id == user.id)
    )
    return jsonify(story_json(story, include_private=private))


@bp.post("/stories/<int:story_id>/review")
def review_story(story_id: int):
    body = _json_body()
    story = review.review(story_id, body.get("decision"), body.get("note"), current_person())
    return jsonify(story_json(story, include_private=True))


@bp.post("/stories/<int:story_id>/withdraw")
def withdraw_story(story_id: int):
    body = _json_body()
    story = review.withdraw(story_id, body.get("note"), current_person())
    return jsonify(story_json(story, include_private=True))


@bp.get("/search")
def search():
    page = search_stories(search_request_from_args(request.args))
    return jsonify(
        {
            "total": page.total,
            "page": page.page,
            "per_page": page.per_page,
            "results": [
                {
                    "id": hit.id,
                    "title": hit.title,
                    "url": url_for("public.story", story_id=hit.id, _external=True),
                    "snippet": hit.snippet_html,
                    "language": hit.language,
                    "places": hit.places,
                }
                for hit in page.hits
            ],
            "facets": {
                name: [{"value": f.value, "count": f.count} for f in values]
                for name, values in page.facets.items()
            },
            "suggestion": page.suggestion,
            "message": page.error,
        }
    )
