"""The public read API: published stories, collections, organisations and places, no token.

``GET /api/v1/stories`` without a token is answered here (the staff listing, with a token, stays
in ``webapp.blueprints.api``). Every answer carries an ETag (a repeated request with
``If-None-Match`` gets 304) and ``Cache-Control``; the shapes are the JSON Schemas
``schemas/public-*.schema.json``, served beside the OpenAPI document. Views parse and shape;
what is public is decided by the services.
"""

from __future__ import annotations

from flask import Blueprint, Response, abort, jsonify, request
from flask_babel import gettext

from schemas import load_schema
from webapp import freshness
from webapp.errors import BadRequest
from webapp.identifiers import parse_id
from webapp.interop import documents
from webapp.services import catalog, listing
from webapp.services import collections as collection_service

bp = Blueprint("public_api", __name__, url_prefix="/api/v1")

#: The payload schemas this API serves beside ``openapi.json`` (as its ``$ref``s expect).
SCHEMAS = frozenset(
    {
        "public-story-list",
        "public-collection-list",
        "public-collection",
        "public-organisation-list",
        "public-place-list",
    }
)


def cacheable(body: object) -> Response:
    """A public JSON answer with its ETag, revalidated by shared caches within seconds
    (``webapp.freshness``): a withdrawn story leaves every listing quickly."""
    response = freshness.keep_briefly(jsonify(body))
    response.vary.add("Authorization")  # with a token, /stories is another (private) listing
    response.add_etag()
    return response.make_conditional(request)


def public_story_listing() -> Response:
    """``GET /api/v1/stories`` for the public: published stories, search's filters, cursor."""
    args = request.args
    if args.getlist("status"):
        raise BadRequest(
            gettext(
                "status is for staff listings (send a token); the public listing is published "
                "stories only"
            ),
            field="status",
        )
    order = args.get("order", "newest")
    if order not in ("oldest", "newest"):
        raise BadRequest(gettext("order must be oldest or newest"), field="order")
    limit = parse_id(args.get("limit", str(listing.DEFAULT_LIMIT)).strip())
    if limit is None or limit > listing.MAX_LIMIT:
        raise BadRequest(f"limit must be a number from 1 to {listing.MAX_LIMIT}", field="limit")
    organisation = args.get("organisation", "").strip()
    if organisation and parse_id(organisation) is None:
        raise BadRequest(
            gettext("organisation must be an organisation id (a number)"), field="organisation"
        )
    collection_id = None
    if slug := args.get("collection", "").strip():
        collection_id = collection_service.get_public_collection(slug).id
    wanted = listing.PublicFilter(
        words=args.get("q", "")[:500],
        facets={
            name: [v for v in args.getlist(name) if v.strip()][:20]
            for name in listing.PUBLIC_FACETS
        },
        organisation_id=parse_id(organisation),
        collection_id=collection_id,
        newest_first=order == "newest",
    )
    page = listing.list_public_stories(wanted, args.get("cursor"), limit)
    changes = catalog.changed_at_of_stories([s.id for s in page.stories])
    return cacheable(
        {
            "total": page.total,
            "results": [documents.story_summary(s, changes.get(s.id)) for s in page.stories],
            "next": page.next_cursor,
        }
    )


@bp.get("/collections")
def collections():
    return cacheable(
        {"results": [documents.collection_summary(c) for c in catalog.public_collections()]}
    )


@bp.get("/collections/<slug>")
def collection(slug: str):
    found = collection_service.get_public_collection(slug)
    counted = next(c for c in catalog.public_collections() if c.record.id == found.id)
    stories = catalog.public_collection_stories(found)
    changes = catalog.changed_at_of_stories([s.id for s in stories])
    return cacheable(documents.collection_document(counted, stories, changes))


@bp.get("/organisations")
def organisations():
    return cacheable(
        {"results": [documents.organisation_summary(o) for o in catalog.public_organisations()]}
    )


@bp.get("/places")
def places():
    return cacheable({"results": [documents.place_summary(p) for p in catalog.public_places()]})


@bp.get("/<name>.schema.json")
def payload_schema(name: str):
    """The payload schemas, beside the OpenAPI document as its relative ``$ref``s expect."""
    if name not in SCHEMAS:
        abort(404)
    return jsonify(load_schema(f"{name}.schema.json"))
