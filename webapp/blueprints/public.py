"""Public pages: home, stories, collections, organisations, places, search, images, login.

Only published stories and published collections appear here; ``webapp.services.access`` is asked
for every story and image, and every list filters on the published status in its query. Pages an
anonymous visitor sees carry ETag/Last-Modified so that browsers and proxies can revalidate
cheaply. This module must never show a draft, a withdrawn story or an original file.
"""

from __future__ import annotations

import logging
import math
import re
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import unquote, urlencode

from flask import (
    Blueprint,
    Response,
    abort,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from flask_babel import gettext as _
from flask_login import login_user, logout_user
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.exceptions import RequestedRangeNotSatisfiable

from webapp import freshness, i18n, page_cache, places
from webapp.auth import current_person
from webapp.errors import Gone, NotFound, SearchUnavailable
from webapp.models import Organisation, Story
from webapp.redirects import safe_next_path
from webapp.search.contract import FACET_NAMES, SearchHit, SearchRequest
from webapp.services import (
    access,
    accounts,
    backends,
    catalog,
    documents,
    paging,
    publication,
    stories,
    visibility,
)
from webapp.services import collections as collection_service
from webapp.services.searching import search_request_from_args, search_stories
from webapp.services.transcripts import clock, moment_anchor, recording_views
from webapp.slugs import slugify
from webapp.unit_of_work import unit_of_work

log = logging.getLogger(__name__)

bp = Blueprint("public", __name__)

PER_PAGE = 12


# --- helpers shared by the pages ----------------------------------------------------------------


def story_slug(title: str) -> str:
    """The readable part of a story URL; the id before it is what identifies the story."""
    return slugify(title)


def story_url(story: Story | SearchHit, **kwargs) -> str:
    """The canonical URL of a story (or of a search hit, which has the same id and title)."""
    slug = story_slug(story.title)
    if slug:
        return url_for("public.story", story_id=story.id, slug=slug, **kwargs)
    return url_for("public.story", story_id=story.id, **kwargs)


def organisation_url(organisation: Organisation, **kwargs) -> str:
    return url_for(
        "public.organisation",
        organisation_id=organisation.id,
        slug=story_slug(organisation.name) or "organisation",
        **kwargs,
    )


def _page_arg() -> int:
    try:
        return max(1, min(10_000, int(request.args.get("page", 1))))
    except ValueError:
        return 1


def _cacheable(html: str, last_modified: datetime | None = None) -> Response:
    """Anonymous pages are public and revalidated by ETag; a logged-in view is private."""
    response = make_response(html)
    if current_person() is not None:
        response.headers["Cache-Control"] = "private, no-cache"
        return response
    freshness.keep_briefly(response)  # a withdrawn story leaves shared caches within seconds
    response.vary.add("Cookie")  # the interface language comes from a cookie
    if last_modified is not None:
        response.last_modified = last_modified
    response.add_etag()
    return response.make_conditional(request)


def _latest(*values: datetime | None) -> datetime | None:
    present = [v for v in values if v is not None]
    return max(present) if present else None


@bp.url_defaults
def _story_slug_default(endpoint: str, values: dict) -> None:
    """``url_for("public.story", story_id=…)`` anywhere (API, status page) gives the readable URL.

    The id alone still works as a permanent link and redirects to the readable one.
    """
    if endpoint == "public.story" and "slug" not in values and "story_id" in values:
        story = stories.find_story(values["story_id"])
        slug = story_slug(story.title) if story is not None else ""
        if slug:
            values["slug"] = slug


@bp.app_context_processor
def _template_helpers():
    return {
        "story_url": story_url,
        "organisation_url": organisation_url,
        "clock": clock,
        "moment_anchor": moment_anchor,
    }


# --- language -----------------------------------------------------------------------------------


@bp.get("/language/<code>")
def set_language(code: str):
    """Remember the interface language in a cookie and go back where the visitor was."""
    if code not in i18n.LANGUAGES:
        abort(404)
    target = safe_next_path(request.args.get("next")) or url_for("public.home")
    response = redirect(target)
    response.set_cookie(
        i18n.COOKIE_NAME,
        code,
        max_age=i18n.COOKIE_MAX_AGE,
        samesite="Lax",
        httponly=True,
        secure=request.is_secure,
    )
    return response


# --- home and stories ---------------------------------------------------------------------------


@bp.get("/")
@page_cache.cached_page()
def home():
    featured = collection_service.featured_collections(6)
    try:
        facets, search_down = search_stories(SearchRequest(q="", per_page=1)).facets, False
    except SearchUnavailable:
        facets, search_down = {}, True  # the home page still works, and says what is missing
    html = render_template(
        "home.html",
        stories=visibility.newest_public_stories(PER_PAGE),
        featured=[(c, collection_service.cover_image(c)) for c in featured],
        facets=facets,
        search_down=search_down,
    )
    response = _cacheable(html)  # ETag only: collections change without touching any story
    if search_down:
        response.headers["Cache-Control"] = "no-store"  # never kept: the outage will end
    return response


@bp.get("/stories/<int:story_id>")
@bp.get("/stories/<int:story_id>-<slug>")
@page_cache.cached_page()
def story(story_id: int, slug: str | None = None):
    token = request.args.get("t")
    try:
        story = access.require_view(stories.find_story(story_id), current_person(), token)
    except NotFound:
        if publication.is_gone(story_id):  # withdrawn or erased after publication
            raise Gone(_("This story has been withdrawn from the archive.")) from None
        raise
    if story.is_public and not token and (slug or "") != story_slug(story.title):
        return redirect(story_url(story), code=301)  # old or mistyped URLs keep working
    linked_places = places.places_for_story(story)
    # What the public sees of the links is the service's rule: published documents only, and
    # on a document's page its published responses only, newest first.
    answered = [] if story.is_document else documents.responded_documents(story)
    responses = documents.published_responses(story) if story.is_document else []
    html = render_template(
        "story.html",
        story=story,
        token=token,
        recordings=recording_views(story),
        linked_places=linked_places,
        provenance=documents.provenance(story),
        archival_citation=documents.citation(story),
        answered=answered,
        responses=responses,
        collections=collection_service.public_collections_of(story) if story.is_public else [],
        canonical_url=story_url(story, _external=True),
        # For people: "/stories/7-حكاية" rather than its percent-encoded form.
        readable_url=unquote(story_url(story, _external=True)),
        today=datetime.now(),
    )
    if not story.is_public:
        response = make_response(html)
        response.headers["Cache-Control"] = "private, no-store"
        return response
    return _cacheable(
        html,
        _latest(
            story.updated_at,
            *(m.updated_at for m in story.media),
            *(r.published_at for r in responses),
        ),
    )


# --- collections --------------------------------------------------------------------------------


@bp.get("/collections/")
@page_cache.cached_page(page_cache.PAGED)
def collections():
    pagination = paging.page_of(
        collection_service.public_collections_query(), _page_arg(), PER_PAGE
    )
    items = [(c, collection_service.cover_image(c)) for c in pagination.items]
    return _cacheable(render_template("public/collections.html", pagination=pagination,
                                      items=items))  # fmt: skip


@bp.get("/collections/<slug>")
def collection(slug: str):
    person = current_person()
    if _page_arg() == 1 and not (person and person.is_staff):
        _count_view(slug)  # every reading counts, rendered now or served from the page cache
    return _collection_page(slug)


@page_cache.cached_page(page_cache.PAGED)
def _collection_page(slug: str):
    collection = collection_service.get_public_collection(slug)
    pagination = paging.page_of(
        collection_service.public_items_query(collection), _page_arg(), PER_PAGE
    )
    html = render_template(
        "public/collection.html",
        collection=collection,
        introduction=collection_service.render_introduction(collection.introduction),
        cover=collection_service.cover_image(collection),
        pagination=pagination,
    )
    return _cacheable(html)


# --- organisations and places -------------------------------------------------------------------


@bp.get("/organisations/<int:organisation_id>")
@bp.get("/organisations/<int:organisation_id>-<slug>")
@page_cache.cached_page(page_cache.PAGED)
def organisation(organisation_id: int, slug: str | None = None):
    organisation = accounts.find_organisation(organisation_id)
    if organisation is None:
        abort(404)
    pagination = paging.page_of(
        visibility.public_stories_of_organisation(organisation.id), _page_arg(), PER_PAGE
    )
    if pagination.total == 0:
        abort(404)  # an organisation with nothing published has no public page
    if slug != (story_slug(organisation.name) or "organisation"):
        # Keep the visitor's other parameters (page…), never ones that name the route's own.
        kept = {k: v for k, v in request.args.items() if k not in ("slug", "organisation_id")}
        return redirect(organisation_url(organisation, **kept), code=301)
    html = render_template(
        "public/organisation.html", organisation=organisation, pagination=pagination
    )
    return _cacheable(html)


@bp.get("/places/")
@page_cache.cached_page()
def place_list():
    counts = places.public_story_counts()
    rows = places.all_places()
    groups: dict[str, list[tuple[places.Place, int]]] = {}
    for place in rows:
        label = place.department_name or _("Places of origin")
        groups.setdefault(label, []).append((place, counts.get(place.key, 0)))
    pins = _map_pins([(p, counts.get(p.key, 0)) for p in rows if p.department])
    return _cacheable(render_template("public/places.html", groups=groups, pins=pins))


@dataclass
class MapPin:
    place: places.Place
    count: int
    x: float
    y: float


def _map_pins(rows: list[tuple[places.Place, int]], width: float = 360.0) -> list[MapPin]:
    """Place the communes on a small SVG map (equirectangular, corrected for latitude).

    Drawn by the server with no tiles and no script, so the map costs no third-party request;
    the list beside it remains the accessible way in.
    """
    located = [(p, n) for p, n in rows if p.latitude is not None and p.longitude is not None]
    if not located:
        return []
    lats = [p.latitude for p, _ in located]
    lons = [p.longitude for p, _ in located]
    x_scale = math.cos(math.radians(sum(lats) / len(lats)))
    span = max((max(lons) - min(lons)) * x_scale, max(lats) - min(lats)) or 1.0
    factor = (width - 20) / span
    return [
        MapPin(
            place=p,
            count=n,
            x=round(10 + (p.longitude - min(lons)) * x_scale * factor, 1),
            y=round(10 + (max(lats) - p.latitude) * factor, 1),
        )
        for p, n in located
    ]


@bp.get("/places/<slug>")
@page_cache.cached_page(page_cache.PAGED)
def place(slug: str):
    place = places.find_by_slug(slug)
    if place is None:
        abort(404)
    pagination = paging.page_of(places.public_stories_at(place), _page_arg(), PER_PAGE)
    return _cacheable(render_template("public/place.html", place=place, pagination=pagination))


# --- search -------------------------------------------------------------------------------------


def search_url(query: SearchRequest, **changes) -> str:
    """The URL of ``query`` with some changes; ``toggle=(name, value)`` adds or removes a filter.

    Every parameter lives in the URL so a search can be bookmarked and shared.
    """
    filters = {k: list(v) for k, v in query.filters.items()}
    toggle = changes.pop("toggle", None)
    if toggle:
        name, value = toggle
        values = filters.setdefault(name, [])
        if value in values:
            values.remove(value)
        else:
            values.append(value)
    params: list[tuple[str, str]] = []
    q = changes.get("q", query.q)
    if q:
        params.append(("q", q))
    for name in FACET_NAMES:
        params.extend((name, v) for v in filters.get(name, []))
    sort = changes.get("sort", query.sort)
    if sort != "relevance":
        params.append(("sort", sort))
    page = changes.get("page", 1 if toggle or "sort" in changes else query.page)
    if page > 1:
        params.append(("page", str(page)))
    base = url_for("public.search")
    return f"{base}?{urlencode(params)}" if params else base


@bp.get("/search")
@page_cache.cached_page(page_cache.SEARCH)
def search():
    search_request = search_request_from_args(request.args)
    try:
        page, failure = search_stories(search_request), None
    except SearchUnavailable as exc:
        # Visible, translated, and a 503: a failure must never look like "no results".
        page, failure = None, exc
    html = render_template(
        "search.html",
        page=page,
        failure=failure,
        pictures=catalog.result_pictures([h.id for h in page.hits]) if page else {},
        query=search_request,
        search_url=search_url,
        facet_names=FACET_NAMES,
        active=[(n, v) for n in FACET_NAMES for v in search_request.filters.get(n, [])],
        clear_url=search_url(SearchRequest(q=search_request.q, sort=search_request.sort)),
    )
    if failure is not None:
        response = make_response(html, 503)
        response.headers["Cache-Control"] = "no-store"
        response.headers["Retry-After"] = "60"
        return response
    return _cacheable(html)


# --- images, login -------------------------------------------------------------------------------


@bp.get("/media/<int:media_id>/<name>")
def derivative(media_id: int, name: str):
    """Serve a derivative to whoever may see its story; originals are never served here."""
    media = stories.find_media(media_id)
    if media is None:
        abort(404)
    access.require_view(media.story, current_person(), request.args.get("t"))
    entry = (media.derivatives or {}).get(name)
    if entry is None:
        abort(404)
    store = backends.object_store()
    if media.story.is_public:
        # Ten minutes, recordings too (issue 17: a withdrawn voice must not stay downloadable
        # for hours): a player still playing when its link expires comes back here for a new
        # one (static/player.js) — and gets a 404 once the story is withdrawn.
        url = backends.public_object_url(entry["key"])
        if url:
            return redirect(url, code=302)
    try:
        info = store.stat(entry["key"])
        stream = store.open(entry["key"])
    except FileNotFoundError:
        abort(404)
    response = send_file(stream, mimetype=entry["mime"], max_age=0, conditional=False, etag=False)
    try:
        # The object's own ETag and date: a browser or proxy revalidates with a 304, and a
        # player resuming a download (If-Range) gets the parts of the same file it began.
        if info.etag:
            response.set_etag(info.etag.strip('"'))
        if info.last_modified is not None:
            response.last_modified = info.last_modified
        response = response.make_conditional(
            _one_range_at_most(request.environ, info.size),
            accept_ranges=True,
            complete_length=info.size,
        )
    except BaseException:
        stream.close()
        raise
    if not media.story.is_public:
        response.headers["Cache-Control"] = "private, no-store"
    else:
        # A few seconds, then revalidated (a 304 costs nothing): a story withdrawn from
        # publication stops being served, from shared caches too, within seconds.
        freshness.keep_briefly(response)
    return response


def _one_range_at_most(environ: dict, size: int) -> dict:
    """The request as ``make_conditional`` should see it (RFC 9110 §14.2).

    One byte range that Werkzeug reads is left as asked (206, or 416 if it starts past the
    end). Any other ``Range`` is ignored and the whole file is answered (200), which every
    player and download manager handles: several parts (rather than a multipart/byteranges
    body), another unit, a syntax error, a reversed part, overlapping or unordered parts
    (which Werkzeug refuses, and ``make_conditional`` would answer with a 416 page). Only when
    every part can be read and none of them exists in the file is the answer 416.
    """
    header = environ.get("HTTP_RANGE")
    if header is None:
        return environ
    parsed = request.range
    if parsed is not None and parsed.units == "bytes" and len(parsed.ranges) == 1:
        return environ
    parts = _byte_range_parts(header)
    if parts and not any(_part_exists(first, last, size) for first, last in parts):
        raise RequestedRangeNotSatisfiable(length=size)
    whole = dict(environ)
    whole.pop("HTTP_RANGE", None)
    return whole


_RANGE_PART = re.compile(r"([0-9]*)-([0-9]*)")


def _byte_range_parts(header: str) -> list[tuple[int | None, int | None]]:
    """The parts of a ``bytes=`` range as (first, last) — ``(None, n)`` for the last n bytes —
    or ``[]`` when the header is not one: another unit, or a part that cannot be read."""
    unit, _, spec = header.partition("=")
    if unit.strip().lower() != "bytes":
        return []
    parts: list[tuple[int | None, int | None]] = []
    for part in spec.split(","):
        match = _RANGE_PART.fullmatch(part.strip())
        if match is None or match.group(0) == "-":
            return []
        first, last = match.groups()
        if first and last and int(last) < int(first):
            return []  # reversed: invalid, so the whole header is ignored
        parts.append((int(first) if first else None, int(last) if last else None))
    return parts


def _part_exists(first: int | None, last: int | None, size: int) -> bool:
    """Whether a part names at least one byte of a ``size``-byte file."""
    if first is None:
        return bool(last) and size > 0  # "-n": the last n bytes; "-0" names none
    return first < size


@bp.route("/login", methods=["GET", "POST"])
def login():
    """E-mail + password login, throttled per account name and per address (``webapp.auth``).

    A wrong password, an unknown address and a deactivated account get the same answer.
    """
    if request.method == "POST":
        from webapp.auth import password_login
        from webapp.errors import AuthenticationRequired
        from webapp.services import accounts
        from webapp.services.throttle import LoginThrottled

        email = (request.form.get("email") or "").strip().lower()
        password = request.form.get("password") or ""
        try:
            user = password_login(email, lambda: accounts.authenticate(email, password))
        except LoginThrottled as exc:
            message = _("Too many attempts. Wait %(seconds)s seconds and try again.",
                        seconds=exc.retry_after)  # fmt: skip
            response = make_response(render_template("login.html", email=email, locked=message))
            response.status_code = 429
            response.headers["Retry-After"] = str(exc.retry_after)
            return response
        except AuthenticationRequired:
            flash(_("Wrong e-mail address or password."), "error")
            return render_template("login.html", email=email), 401
        login_user(user)
        default = url_for("moderation.queue") if user.is_staff else url_for("public.home")
        return redirect(safe_next_path(request.args.get("next")) or default)
    return render_template("login.html", email="")


@bp.post("/logout")
def logout():
    """Log out everywhere: the session epoch moves on, so a copy of this cookie is dead too."""
    from webapp.auth import log_out_everywhere

    log_out_everywhere(current_person())
    logout_user()
    return redirect(url_for("public.home"))


def _count_view(slug: str) -> None:
    """Count one reading: in Redis beside the page cache, else in its own unit of work; a
    failure is logged and never breaks the page."""
    if collection_service.count_view_later(slug):
        return
    try:
        with unit_of_work() as uow:
            collection_service.record_view_by_slug(uow, slug)
    except SQLAlchemyError:
        log.warning("could not count a view of collection %s", slug, exc_info=True)
