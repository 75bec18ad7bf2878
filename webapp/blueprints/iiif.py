"""IIIF endpoints: the Image API 3.0 under ``/iiif/3/<media id>/`` and Presentation 3.0 manifests
and collections under ``/iiif/``.

Thin views over ``webapp.services.iiif`` (which applies the visibility rule and the cache) and the
IIIF presenters: every answer, errors included, carries ``Access-Control-Allow-Origin: *`` so
viewers on other sites can read it; JSON documents are ``application/ld+json`` with the IIIF
profile unless the client asks for plain ``application/json``. This module must never serve
anything of a story that is not public, nor decide that itself.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from flask import Blueprint, Response, redirect, request, url_for

from storage import StorageUnavailable
from webapp import freshness
from webapp.errors import PassagesError
from webapp.iiif import presentation
from webapp.iiif.image_api import IMAGE_CONTEXT, PROFILE_URI, ImageRequestError
from webapp.services import iiif as iiif_service

log = logging.getLogger(__name__)

bp = Blueprint("iiif", __name__, url_prefix="/iiif")


@bp.app_context_processor
def _template_helpers():
    """``iiif_manifest_for(story)`` in pages: the manifest URL, or ``None`` when there is none."""
    return {"iiif_manifest_for": presentation.manifest_url_if_any}


@bp.after_request
def _cors(response: Response) -> Response:
    response.headers["Access-Control-Allow-Origin"] = "*"
    return response


@bp.errorhandler(ImageRequestError)
def _bad_request(exc: ImageRequestError):
    return _error(exc.status, "bad_iiif_request", exc.message)


@bp.errorhandler(PassagesError)
def _domain_error(exc: PassagesError):
    return _error(exc.status, exc.code, exc.message)


@bp.errorhandler(StorageUnavailable)
def _storage_down(exc: StorageUnavailable):
    log.warning("IIIF: storage unavailable: %s", exc)
    response = _error(503, "storage_unavailable", "images cannot be read right now; try again")
    response.headers["Retry-After"] = "30"
    return response


def _error(status: int, code: str, message: str) -> Response:
    response = Response(
        json.dumps({"error": {"code": code, "message": message}}),
        status=status,
        mimetype="application/json",
    )
    response.headers["Cache-Control"] = "no-store"
    return response


def _json_ld(document: dict[str, Any], context: str) -> Response:
    """A IIIF document: JSON-LD with the API's context as profile, or plain JSON when asked."""
    accept = request.accept_mimetypes
    if accept.quality("application/json") > accept.quality("application/ld+json"):
        mimetype = "application/json"
    else:
        mimetype = f'application/ld+json;profile="{context}"'
    response = Response(json.dumps(document, ensure_ascii=False), content_type=mimetype)
    freshness.keep_briefly(response)  # a withdrawn story's images leave caches in seconds
    response.vary.add("Accept")
    response.add_etag()
    return response.make_conditional(request)


# --- Image API ------------------------------------------------------------------------------------


@bp.get("/3/<int:media_id>")
def image_base(media_id: int):
    """The base URI redirects to the image information (Image API 3.0, section 2.2)."""
    iiif_service.public_image(media_id)
    return redirect(url_for("iiif.image_info", media_id=media_id, _external=True), code=303)


@bp.get("/3/<int:media_id>/info.json")
def image_info(media_id: int):
    image = iiif_service.public_image(media_id)
    document = iiif_service.image_info(image, presentation.image_service_url(media_id))
    response = _json_ld(document, IMAGE_CONTEXT)
    response.headers["Link"] = f'<{PROFILE_URI}>;rel="profile"'
    return response


@bp.get("/3/<int:media_id>/<region>/<size>/<rotation>/<quality_format>")
def image(media_id: int, region: str, size: str, rotation: str, quality_format: str):
    image = iiif_service.public_image(media_id)
    rendered = iiif_service.render_image(image, region, size, rotation, quality_format)
    response = Response(rendered.data, mimetype=rendered.media_type)
    base = presentation.image_service_url(media_id)
    response.headers["Link"] = (
        f'<{base}/{rendered.canonical}>;rel="canonical", <{PROFILE_URI}>;rel="profile"'
    )
    freshness.keep_briefly(response)  # a withdrawn story's images leave caches in seconds
    response.headers["X-IIIF-Source"] = rendered.source
    response.add_etag()
    return response.make_conditional(request)


# --- Presentation API -----------------------------------------------------------------------------


@bp.get("/stories/<int:story_id>/manifest.json")
def manifest(story_id: int):
    story = iiif_service.public_story(story_id)
    return _json_ld(presentation.manifest(story), presentation.PRESENTATION_CONTEXT)


@bp.get("/collections/<slug>.json")
def collection(slug: str):
    record, stories = iiif_service.public_collection(slug)
    return _json_ld(presentation.collection(record, stories), presentation.PRESENTATION_CONTEXT)


@bp.get("/collections.json")
def collections():
    records = iiif_service.public_collections()
    return _json_ld(presentation.collections_index(records), presentation.PRESENTATION_CONTEXT)
