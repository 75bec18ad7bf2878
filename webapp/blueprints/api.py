"""JSON API v1: submit, follow, review and search stories.

Authentication is ``Authorization: Bearer <token>`` (``passages create-token``). Errors are
``{"error": {"code", "message", "field"?}}`` with a 4xx status (see ``webapp.errorhandlers``).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

from flask import Blueprint, jsonify, request, url_for
from flask_babel import gettext, lazy_gettext
from sqlalchemy.exc import IntegrityError

from schemas import FieldError, load_schema, not_text
from webapp.auth import current_person
from webapp.errors import BadRequest, PayloadTooLarge, ValidationFailed
from webapp.identifiers import parse_id
from webapp.models import Story
from webapp.presenters import collection_json, story_json, transcript_json
from webapp.search.contract import SearchHit
from webapp.services import (
    access,
    editing,
    idempotency,
    listing,
    review,
    stories,
    submissions,
    transcripts,
)
from webapp.services import collections as collection_service
from webapp.services.searching import search_request_from_args, search_stories
from webapp.unit_of_work import unit_of_work

bp = Blueprint("api", __name__, url_prefix="/api/v1")

#: Lists and objects inside one another a story's metadata may hold; a story needs 3 or 4. Deeper
#: JSON is refused with a 400 before anything reads it (past ~1,000 levels ``json.loads`` itself
#: raises ``RecursionError``, which would otherwise be a 500).
METADATA_MAX_DEPTH = 32


def _json_body() -> dict:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise BadRequest(
            gettext(
                "send the fields as one JSON object (names and values in braces), with the "
                "header Content-Type: application/json"
            )
        )
    if problems := not_text(body):  # malformed like a body that is not JSON: 400
        raise BadRequest(problems[0].message, field=problems[0].field)
    return body


def _nesting(value: object) -> int:
    """How many lists and objects are inside one another in ``value`` (walked without
    recursion, so any depth ``json.loads`` accepted can be measured)."""
    deepest = 0
    pending = [(value, 1)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, dict | list):
            deepest = max(deepest, depth)
            pending.extend(
                (v, depth + 1) for v in (item.values() if isinstance(item, dict) else item)
            )
    return deepest


def _bounded_metadata_part(part) -> str:
    """A ``metadata`` part sent as a file is read up to the text-field limit, never whole."""
    limit = request.max_form_memory_size or 0
    data = part.stream.read(limit + 1)
    if len(data) > limit:
        raise PayloadTooLarge(
            gettext(
                "The description of the story is too long: at most %(size)s KB",
                size=limit // 1024,
            ),
            field="metadata",
        )
    return data.decode("utf-8", errors="replace")


@bp.post("/stories")
def create_story():
    user = access.require_contributor(current_person())
    raw = request.form.get("metadata")
    if raw is None and request.files.get("metadata"):
        raw = _bounded_metadata_part(request.files["metadata"])
    if raw is None:
        raise BadRequest(
            gettext("send the story as multipart/form-data with a 'metadata' part holding JSON"),
            field="metadata",
        )
    try:
        metadata = json.loads(raw)
        too_deep = _nesting(metadata) > METADATA_MAX_DEPTH
    except json.JSONDecodeError as exc:
        raise BadRequest(
            gettext(
                "The description of the story is not valid JSON: look at "
                "line %(line)s, character %(column)s",
                line=exc.lineno,
                column=exc.colno,
            ),
            field="metadata",
        ) from exc
    except RecursionError:
        too_deep = True  # past Python's own limit: json.loads gave up
    if too_deep:
        raise BadRequest(
            gettext(
                "The description of the story is nested too deeply: at most %(levels)s levels "
                "of lists and groups of fields",
                levels=METADATA_MAX_DEPTH,
            ),
            field="metadata",
        )
    unexpected = sorted(set(request.files) - {"images", "files", "metadata"})
    if unexpected:
        raise BadRequest(
            gettext(
                "The part named “%(part)s” is not expected: send images, recordings and videos "
                "as parts named “files” (or “images”)",
                part=unexpected[0],
            ),
            field=unexpected[0],
        )
    images = [
        submissions.IncomingFile(filename=f.filename or "", stream=f.stream)
        for name, f in request.files.items(multi=True)
        if name in ("images", "files")
    ]
    key = idempotency.check_key(request.headers.get(idempotency.HEADER))
    if key is None:
        with unit_of_work() as uow:
            story = submissions.submit_story(uow, metadata, images, submitter=user)
            body = story_json(story, include_private=True)
        return _created(body, story.id)
    caller = idempotency.caller_for(user)
    request_fingerprint = idempotency.fingerprint(
        "POST /api/v1/stories",
        json.dumps(metadata, sort_keys=True, ensure_ascii=False),
        [f"{i.filename}:{idempotency.stream_digest(i.stream)}" for i in images],
    )
    if (first := idempotency.find(caller, key, request_fingerprint)) is not None:
        return _replayed(first)
    try:
        with unit_of_work() as uow:
            story = submissions.submit_story(uow, metadata, images, submitter=user)
            body = story_json(story, include_private=True)
            idempotency.remember(uow, caller, key, request_fingerprint, 202, body, story.id)
    except IntegrityError:
        # The same key raced us and committed first (the unit of work has rolled this one
        # back): answer what it answered.
        if (first := idempotency.find(caller, key, request_fingerprint)) is None:
            raise
        return _replayed(first)
    return _created(body, story.id)


def _created(body: dict, story_id: int):
    response = jsonify(body)
    response.status_code = 202
    response.headers["Location"] = url_for("api.get_story", story_id=story_id, _external=True)
    return response


def _replayed(record):
    """The first answer again, marked as a replay (nothing was created this time)."""
    response = _created(record.response, record.story_id)
    response.status_code = record.status_code
    response.headers["Idempotent-Replayed"] = "true"
    return response


@bp.get("/stories/<int:story_id>")
def get_story(story_id: int):
    user = current_person()
    story = access.require_view(stories.find_story(story_id), user, request.args.get("t"))
    private = story.status_token == request.args.get("t") or (
        user is not None and (user.is_staff or story.submitted_by_id == user.id)
    )
    return jsonify(story_json(story, include_private=private))


@bp.patch("/stories/<int:story_id>")
def edit_story(story_id: int):
    """Change a story's description: ``{"title"?, "body"?, "places"?, "period"?, "themes"?,
    "licence"?, "credit"?, "source"?, "responds_to"?}``. Archivists change any of them (a
    document's ``source`` included); an author changes title, body and ``responds_to`` while
    the story is with them. Who may change what is ``webapp.services.editing``'s rule."""
    user = access.require_contributor(current_person())
    body = _json_body()
    if not body:
        raise BadRequest(gettext("send at least one field to change"))
    with unit_of_work() as uow:
        editing.edit_metadata(uow, story_id, body, user)
    return jsonify(story_json(stories.find_story(story_id), include_private=True))


@bp.post("/stories/<int:story_id>/review")
def review_story(story_id: int):
    body = _json_body()
    with unit_of_work() as uow:
        story = review.review(
            uow, story_id, body.get("decision"), body.get("note"), current_person()
        )
    return jsonify(story_json(story, include_private=True))


@bp.post("/stories/<int:story_id>/withdraw")
def withdraw_story(story_id: int):
    body = _json_body()
    with unit_of_work() as uow:
        story = review.withdraw(uow, story_id, body.get("note"), current_person())
    return jsonify(story_json(story, include_private=True))


@bp.get("/openapi.json")
def openapi():
    """The API description; its ``$ref``s point at the JSON Schemas served beside it."""
    return jsonify(load_schema("openapi.json"))


@bp.get("/story.schema.json")
def story_schema():
    """The submission metadata schema, beside the OpenAPI document as its ``$ref`` expects (the
    same relative layout as in ``schemas/``)."""
    return jsonify(load_schema("story.schema.json"))


@bp.get("/search")
def search():
    page = search_stories(search_request_from_args(request.args))
    return jsonify(
        {
            "total": page.total,
            "page": page.page,
            "per_page": page.per_page,
            "results": [_search_result(hit) for hit in page.hits],
            "facets": {
                name: [{"value": f.value, "count": f.count} for f in values]
                for name, values in page.facets.items()
            },
            "suggestion": page.suggestion,
            "message": gettext(page.error) if page.error else page.error,
        }
    )


# --- collections (archivists; the curation screens call the same service) --------------------

#: The fields of the API's collection document a client may send, with their JSON types.
COLLECTION_FIELDS: dict[str, type] = {
    "title": str,
    "slug": str,
    "introduction": str,
    "published": bool,
    "featured": bool,
    "story_ids": list,
}


#: The collection fields in words, as the curation form names them (the story API's fields take
#: theirs from ``schemas.FIELD_WORDS``): messages never name a field by its code.
COLLECTION_FIELD_WORDS = {
    "title": lazy_gettext("Title"),
    "slug": lazy_gettext("Address (slug)"),
    "introduction": lazy_gettext("Introduction"),
    "published": lazy_gettext("Published"),
    "featured": lazy_gettext("Featured"),
    "story_ids": lazy_gettext("Stories of the collection"),
}
_COLLECTION_TYPE_WORDS = {
    str: lazy_gettext("a string of text"),
    bool: lazy_gettext("true or false"),
    list: lazy_gettext("a list"),
}


def _collection_body(*, partial: bool) -> dict:
    """The JSON body of a collection write, checked for shape (the rules are the service's).
    Messages are in the caller's language; ``field`` keeps the JSON name for programs."""
    body = _json_body()
    known = ", ".join(COLLECTION_FIELDS)
    problems = [
        FieldError(
            name,
            gettext("“%(name)s” is not a known field (use: %(known)s)", name=name, known=known),
        )
        for name in sorted(set(body) - set(COLLECTION_FIELDS))
    ]
    for name, kind in COLLECTION_FIELDS.items():
        value = body.get(name)
        if name in body and (not isinstance(value, kind) or (kind is not bool and value is True)):
            problems.append(
                FieldError(
                    name,
                    gettext(
                        "%(field)s: must be %(type)s",
                        field=COLLECTION_FIELD_WORDS[name],
                        type=_COLLECTION_TYPE_WORDS[kind],
                    ),
                )
            )
    ids = body.get("story_ids")
    if isinstance(ids, list) and not all(parse_id(i) == i for i in ids):
        problems.append(
            FieldError(
                "story_ids",
                gettext(
                    "%(field)s: must be a list of story numbers",
                    field=COLLECTION_FIELD_WORDS["story_ids"],
                ),
            )
        )
    if not partial and "title" not in body:
        problems.append(
            FieldError(
                "title", gettext("%(field)s: required", field=COLLECTION_FIELD_WORDS["title"])
            )
        )
    if problems:
        raise ValidationFailed(problems)
    return body


def _collection_fields(body: dict, current=None) -> collection_service.CollectionFields:
    """The fields to save: what the body says, else what the collection has (a new collection:
    the defaults). The slug is kept unless sent, so a new title never breaks its address."""

    def pick(name: str, default):
        return body[name] if name in body else getattr(current, name, default)

    return collection_service.CollectionFields(
        title=pick("title", ""),
        slug=pick("slug", ""),
        introduction=pick("introduction", ""),
        published=pick("published", False),
        featured=pick("featured", False),
    )


@bp.post("/collections")
def create_collection():
    user = access.require_archivist(current_person())
    body = _collection_body(partial=False)
    with unit_of_work() as uow:
        collection = collection_service.save_with_stories(
            uow, _collection_fields(body), body.get("story_ids"), user
        )
        document = collection_json(collection)
    response = jsonify(document)
    response.status_code = 201
    response.headers["Location"] = url_for(
        "api.collection", slug=str(document["id"]), _external=True
    )
    return response


@bp.route("/collections/<slug>", methods=["PUT", "PATCH"])
def change_collection(slug: str):
    """``PUT`` replaces every field (absent ones take their defaults; ``story_ids`` absent
    empties the collection), ``PATCH`` changes only those sent. ``slug`` is the collection's
    id or short name; the short name is kept unless sent."""
    user = access.require_archivist(current_person())
    partial = request.method == "PATCH"
    body = _collection_body(partial=partial)
    current = collection_service.find_collection(slug)
    if not partial:
        body = {"story_ids": [], **body, "slug": body.get("slug", current.slug)}
    with unit_of_work() as uow:
        collection = collection_service.save_with_stories(
            uow,
            _collection_fields(body, current if partial else None),
            body.get("story_ids"),
            user,
            current.id,
        )
        document = collection_json(collection)
    return jsonify(document)


@bp.get("/collections/<slug>")
def collection(slug: str):
    """An archivist (with a token) gets the collection by id or short name, drafts and
    unpublished members included; everyone else gets the public document by short name."""
    person = current_person()
    if person is None or not person.is_staff:
        from webapp.blueprints.public_api import collection as public_collection

        return public_collection(slug)
    response = jsonify(collection_json(collection_service.find_collection(slug)))
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.post("/media/<int:media_id>/transcripts")
def attach_transcript(media_id: int):
    """Attach (or replace) a recording's transcript in ``language``: the body is the WebVTT or
    SRT file itself (or a multipart part named ``file``). Archivists and the story's contributor
    only; a file that cannot be read is 422 with the ``line`` to fix."""
    part = request.files.get("file")
    limit = transcripts.MAX_TRANSCRIPT_BYTES
    data = part.stream.read(limit + 1) if part is not None else request.get_data(cache=False)
    language = request.args.get("language") or request.form.get("language")
    with unit_of_work() as uow:
        transcript = transcripts.attach_file(uow, media_id, language, data, current_person())
        body = transcript_json(transcript)
    return jsonify(body), 201


@bp.post("/media/<int:media_id>/consent")
def recording_consent(media_id: int):
    """The consent of the person heard or seen in a recording: ``{"person", "consent": true,
    "minor"?, "guardian_by"?, "guardian_consent"?}``. Until it is recorded (and a guardian's for
    a minor, by a teacher or an archivist) the story cannot be published. ``"guardian_consent":
    false`` records that the guardian withdrew (a teacher or an archivist); ``person`` or
    ``minor`` left out keep what is recorded."""
    from webapp.services import consent

    body = _json_body()
    given, minor = body.get("consent"), body.get("minor")
    if not isinstance(given, bool):
        raise BadRequest(gettext("consent must be true or false"), field="consent")
    if minor is not None and not isinstance(minor, bool):
        raise BadRequest(gettext("minor must be true or false"), field="minor")
    guardian = body.get("guardian_consent")
    if guardian is not None and not isinstance(guardian, bool):
        raise BadRequest(
            gettext("guardian_consent must be true or false"), field="guardian_consent"
        )
    person, guardian_by = body.get("person"), body.get("guardian_by", "")
    if person is not None and not isinstance(person, str):
        raise BadRequest(gettext("person and guardian_by are text"), field="person")
    if not isinstance(guardian_by, str):
        raise BadRequest(gettext("person and guardian_by are text"), field="guardian_by")
    if guardian is True and not guardian_by.strip():
        raise BadRequest(
            gettext("write who gave the guardian's consent in guardian_by"), field="guardian_by"
        )
    with unit_of_work() as uow:
        row = consent.record_recording_consent(
            uow,
            media_id,
            person=person,
            given=given,
            minor=minor,
            guardian_by=guardian_by,
            actor=current_person(),
            guardian_withdrawn=guardian is False,
        )
        media = stories.find_media(media_id)
        body = {
            "media": row.media_id,
            "person": row.person,
            "consent": row.consent_given,
            "minor": row.minor,
            "guardian_by": row.guardian_consent_by,
            "guardian_consent": row.guardian_consent_at is not None,
            "story_status": media.story.status,
            "blockers": consent.recording_blockers(media),
        }
    return jsonify(body)


def _search_result(hit: SearchHit) -> dict:
    """One API search result; a word said in a recording adds ``at`` (the recording and the
    second it is said) and a ``url`` that opens the story page there
    (``#t=mm:ss&media=<id>``: a story may have several recordings)."""
    result = {
        "id": hit.id,
        "title": hit.title,
        "url": url_for("public.story", story_id=hit.id, _external=True),
        "snippet": hit.snippet_html,
        "language": hit.language,
        "places": hit.places,
    }
    if hit.moment is not None:
        anchor = transcripts.moment_anchor(hit.moment.media_id, hit.moment.start)
        result["url"] = url_for("public.story", story_id=hit.id, _external=True, _anchor=anchor)
        result["at"] = {
            "media": hit.moment.media_id,
            "start": hit.moment.start,
            "said": hit.moment.snippet_html,
        }
    return result


# --- moderation (issue 4): every workflow move, consent, takedown and erasure ------------------


@bp.post("/stories/<int:story_id>/transitions")
def story_transition(story_id: int):
    """Any move of the review workflow: ``{"action": "forward"|"return"|…, "note": "…"}``.

    Who may make which move is decided by ``review.WHO``; invalid moves answer 409.
    """
    body = _json_body()
    action = body.get("action")
    moves = sorted(set(review.WHO) - review.CONSEQUENCES)
    if not isinstance(action, str) or action not in moves:
        raise BadRequest(
            gettext("action must be one of: %(actions)s", actions=", ".join(moves)),
            field="action",
        )
    with unit_of_work() as uow:
        story = review.apply(uow, story_id, action, current_person(), body.get("note"))
    return jsonify(story_json(story, include_private=True))


@bp.post("/stories/<int:story_id>/guardian-consent")
def guardian_consent(story_id: int):
    """A teacher or archivist records a guardian's consent: ``{"given_by": "mother, form"}``."""
    from webapp.services import consent

    body = _json_body()
    with unit_of_work() as uow:
        story = consent.record_guardian_consent(
            uow, story_id, body.get("given_by") or "", current_person()
        )
    return jsonify(
        {
            "id": story.id,
            "guardian_consent": story.guardian_consent,
            "given_by": story.guardian_consent_by,
            "at": _rfc3339(story.guardian_consent_at),
        }
    )


@bp.post("/takedown-requests")
def takedown_request():
    """Anyone may ask for removal: ``{"story_id"?, "reason", "name"?, "contact"?, "erasure"?}``."""
    from webapp.services import erasure

    body = _json_body()
    story_id = body.get("story_id")
    if story_id is not None and (isinstance(story_id, bool) or not isinstance(story_id, int)):
        raise BadRequest(gettext("story_id must be a number"), field="story_id")
    if story_id is not None:
        story_id = parse_id(story_id)  # out of range: an unknown story, answered alike
    with unit_of_work() as uow:
        row = erasure.request_takedown(
            uow,
            story_id,
            body.get("reason") if isinstance(body.get("reason"), str) else "",
            requester=current_person(),
            name=str(body.get("name") or ""),
            contact=str(body.get("contact") or ""),
            erasure=body.get("erasure") is True,
        )
    response = jsonify({"id": row.id, "state": row.state})
    response.status_code = 202
    return response


@bp.post("/stories/<int:story_id>/erase")
def erase_story(story_id: int):
    """GDPR erasure by an archivist; answers what was removed (counts only)."""
    from webapp.services import erasure

    with unit_of_work() as uow:
        counts = erasure.erase_story(uow, story_id, current_person())
    return jsonify({"id": story_id, "erased": True, "removed": counts})


@bp.get("/stories")
def list_stories():
    """The staff listing: every story the caller may list that matches, page by page.

    Without a token: the public listing of published stories (``webapp.blueprints.public_api``).
    """
    person = current_person()
    if person is None:
        from webapp.blueprints.public_api import public_story_listing

        return public_story_listing()
    user = access.require_contributor(person)
    args = request.args
    organisation = args.get("organisation", "").strip()
    if organisation and parse_id(organisation) is None:
        raise BadRequest(
            gettext("organisation must be an organisation id (a number)"), field="organisation"
        )
    order = args.get("order", "oldest")
    if order not in ("oldest", "newest"):
        raise BadRequest(gettext("order must be oldest or newest"), field="order")
    limit = args.get("limit", str(listing.DEFAULT_LIMIT)).strip()
    if (parse_id(limit) or 0) > listing.MAX_LIMIT or parse_id(limit) is None:
        raise BadRequest(
            gettext("limit must be a number from 1 to %(max)s", max=listing.MAX_LIMIT),
            field="limit",
        )
    wanted = listing.StoryFilter(
        statuses=listing.parse_statuses(args.getlist("status")),
        words=args.get("q", "")[:500],
        organisation_id=parse_id(organisation),
        language=args.get("language", "").strip(),
        newest_first=order == "newest",
    )
    page = listing.list_stories(user, wanted, args.get("cursor"), int(limit))
    return jsonify(
        {
            "total": page.total,
            "results": [_listed(story) for story in page.stories],
            "next": page.next_cursor,
        }
    )


def _rfc3339(moment: datetime | None) -> str | None:
    """A stored moment as the document's ``date-time`` (RFC 3339, with its offset): SQLite
    hands back naive datetimes, and everything stored is UTC."""
    if moment is None:
        return None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).isoformat()


def _listed(story: Story) -> dict:
    return {
        "id": story.id,
        "title": story.title,
        "status": story.status,
        "language": story.language,
        "organisation": (
            {"id": story.organisation.id, "name": story.organisation.name}
            if story.organisation
            else None
        ),
        "images": len(story.media),
        "created_at": _rfc3339(story.created_at),
        "updated_at": _rfc3339(story.updated_at),
        "url": url_for("api.get_story", story_id=story.id, _external=True),
        "public_url": (
            url_for("public.story", story_id=story.id, _external=True) if story.is_public else None
        ),
    }
