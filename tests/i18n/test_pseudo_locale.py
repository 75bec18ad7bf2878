"""Every screen, in a pseudo-locale, shows no word outside the catalog but people's own content.

The app runs in a test-only locale whose catalog wraps every translation in ⟦…⟧ (``pseudo.py``).
Demo-like data is created through the screens themselves (each form's answer and flash is
checked too); then every route of ``app.url_map`` is rendered as each kind of person (visitor,
student, contributor, teacher, archivist, admin) and the error pages are provoked. Any visible
text (text nodes, ``<title>``, ``alt``, ``title``, ``placeholder``, ``aria-label``, button
values; in JSON, ``message`` and ``*_label``) left with words once the marked parts and the data
this test created are taken out is reported with its route: wrap it in ``_()`` (a stored code:
``|label(…)`` from ``webapp/labels.py``), run the extract/update/compile commands of
``webapp/i18n.py``, translate it in French.

A route this test cannot render for people is listed in ``NOT_RENDERED`` with its reason; a new
route that is in neither list fails ``test_every_route_is_rendered_or_listed_with_a_reason``.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import PASSWORD, make_jpeg
from tests.i18n import pseudo

#: Routes not rendered here, and why (formats whose words are not the interface's).
NOT_RENDERED: dict[str, str] = {
    "static": "files (CSS, scripts, logos); their words are data-* attributes of the pages",
    "public.derivative": "image bytes",
    "iiif.image": "image bytes",
    "iiif.image_base": "a redirect to info.json",
    "iiif.image_info": "IIIF Image API technical description (no words)",
    "iiif.manifest": "IIIF JSON-LD: labels are the story's own title and metadata, per language",
    "iiif.collection": "IIIF JSON-LD: labels are the collection's own title",
    "iiif.collections": "IIIF JSON-LD: labels are the collections' own titles",
    "oai.endpoint": "OAI-PMH XML for harvesters; its error texts are the protocol's (English)",
    "syndication.sitemap_xml": "XML for search engines (addresses only)",
    "syndication.sitemap_pages": "XML for search engines (addresses only)",
    "syndication.sitemap_stories": "XML for search engines (addresses only)",
    "syndication.stories_feed": "Atom XML: entries are the stories' own titles and texts",
    "syndication.collection_feed": "Atom XML: entries are the stories' own titles and texts",
    "metrics.metrics": "Prometheus figures for operators (names are the format's)",
    "health.healthz": "a liveness probe for the orchestrator",
    "health.readyz": "a readiness probe for the orchestrator (dependency codes)",
    "api.openapi": "the API's description for developers (English, like the API's codes)",
    "api.story_schema": "JSON Schema for developers",
    "public_api.payload_schema": "JSON Schema for developers",
    "curation.download_export": "a BagIt zip for machines: stories.csv headers are the import "
    "format's column codes, read back by `passages import`",
    "public.set_language": "a redirect that sets the language cookie",
}

#: People whose pages are rendered (the visitor has no login).
ROLES = ("visitor", "student", "contributor", "teacher", "archivist", "admin")
TEACHER, ARCHIVIST, ADMIN, MEMBER = (
    "teacher@example.org",
    "archivist@example.org",
    "admin@example.org",
    "member@example.org",
)


@pytest.fixture(scope="session")
def pseudo_catalog(tmp_path_factory) -> Path:
    return pseudo.build_catalog(tmp_path_factory.mktemp("pseudo-locale"))


@dataclass
class Visit:
    """Every page seen while the test runs, and what was wrong on it."""

    allowed: pseudo.Allowed
    problems: dict[str, list[str]] = field(default_factory=dict)
    rendered: set[str] = field(default_factory=set)

    def check(self, route: str, response) -> None:
        if 300 <= response.status_code < 400:
            return  # a redirect's body is never shown: the browser follows it
        kind = response.mimetype or ""
        if kind == "text/html":
            found = pseudo.page_problems(response.get_data(as_text=True), self.allowed)
        elif kind.endswith("json"):
            found = pseudo.json_problems(response.get_json(silent=True), self.allowed)
        elif kind == "application/pdf":
            from pypdf import PdfReader

            text = "\n".join(page.extract_text() or "" for page in
                              PdfReader(io.BytesIO(response.get_data())).pages)  # fmt: skip
            found = pseudo.untranslated([("PDF", line) for line in text.splitlines()],
                                        self.allowed)  # fmt: skip
        elif kind == "text/csv":
            header = response.get_data(as_text=True).splitlines()[:1]
            found = pseudo.untranslated([("CSV header", h) for h in header], self.allowed)
        else:
            return
        for problem in found:
            self.problems.setdefault(problem, [])
            if route not in self.problems[problem]:
                self.problems[problem].append(route)

    def report(self) -> str:
        lines = [
            f"{', '.join(routes[:4])}{' …' if len(routes) > 4 else ''} → {problem}"
            for problem, routes in sorted(self.problems.items(), key=lambda kv: kv[1][0])
        ]
        return "untranslated text (route → where: text):\n" + "\n".join(lines)


@pytest.fixture
def pseudo_app(app, pseudo_catalog) -> Iterator[Any]:
    """The test app answering in the pseudo-locale, with a route that raises each error."""
    from flask import abort

    from webapp.errors import ServiceUnavailable

    settings = app.extensions["babel"]
    settings.translation_directories = [str(pseudo_catalog), *settings.translation_directories]
    settings.locale_selector = lambda: pseudo.LOCALE
    app.config["PROPAGATE_EXCEPTIONS"] = False

    def provoke(code: int):
        if code == 500:
            raise RuntimeError("provoked by the pseudo-locale test")
        if code == 503:
            raise ServiceUnavailable("object_store", "provoked")
        abort(code)

    app.add_url_rule("/_pseudo/<int:code>", "pseudo_error", provoke, methods=["GET", "POST"])
    yield app


def _login(app, email: str):
    client = app.test_client()
    response = client.post("/login", data={"email": email, "password": PASSWORD})
    assert response.status_code in (302, 303), response.status_code
    return client


def _create_world(app, world_ids) -> dict[str, Any]:
    """Demo-like data through the services: published stories with ready images, a class with a
    student's returned story, a collection, a takedown request, an export and an import."""
    from webapp.demo import load_demo
    from webapp.extensions import db
    from webapp.models import MediaAsset, Story
    from workers.context import use_app
    from workers.images import derive_media
    from workers.search import rebuild_index

    with app.app_context():
        load_demo()
        use_app(app)
        for media_id in db.session.scalars(db.select(MediaAsset.id)).all():
            derive_media(media_id)
        rebuild_index()
        published = db.session.scalar(
            db.select(Story.id).where(Story.status == "published").order_by(Story.id)
        )
        waiting = db.session.scalar(
            db.select(Story.id).where(Story.status != "published").order_by(Story.id)
        )
        media_id = db.session.scalar(
            db.select(MediaAsset.id).where(MediaAsset.story_id == published)
        )
    return {"published": published, "waiting": waiting, "media_id": media_id, **world_ids}


def _post_steps(ids: dict[str, Any]) -> list[tuple[str, str, str, dict[str, Any]]]:
    """(route, who, URL, form) of the forms people send, each answer checked, in this order."""
    story, published = ids["student_story"], ids["published"]
    picture = (io.BytesIO(make_jpeg(seed=3)), "photo.jpg")
    csv = "title,body,language\nUn titre,Un texte,fr\n,sans titre,xx\n"
    return [
        ("submit.submit_form", "visitor", "/submit", {
            "title": "Le quai de la gare", "body": "Nous sommes arrivés un matin d’hiver.",
            "language": "fr", "places": "Ivry-sur-Seine", "period": "1975", "themes": "voyage",
            "licence": "CC-BY-4.0", "consent": "yes", "images": [picture],
            "alt_texts": "Un quai de gare sous la neige",
        }),
        ("submit.submit_form", "visitor", "/submit", {"title": "", "body": ""}),
        ("submit.submit_form", "student", "/submit", {
            "title": "Brouillon d’Amina", "body": "À finir.", "language": "fr",
            "licence": "CC-BY-4.0", "consent": "yes", "draft": "yes",
        }),
        ("submit.takedown", "visitor", "/takedown", {
            "story_id": str(published), "reason": "Ma photo y figure sans mon accord.",
            "name": "Nadia", "contact": "nadia@example.org",
        }),
        ("submit.takedown", "visitor", "/takedown", {"reason": ""}),
        ("accounts.join", "visitor", "/join", {"code": "NOPE", "pseudonym": "Zoé"}),
        ("accounts.class_login", "visitor", "/class-login", {"code": "NOPE", "pseudonym": "Zoé"}),
        ("public.login", "visitor", "/login", {"email": "nobody@example.org", "password": "x"}),
        ("moderation.story", "teacher", f"/moderation/stories/{story}",
         {"decision": "return", "note": "Ajoute une date, s’il te plaît."}),
        ("moderation.story", "teacher", f"/moderation/stories/{story}", {"decision": "approve"}),
        ("moderation.record_consent", "teacher", f"/moderation/stories/{story}/consent",
         {"what": "guardian", "given_by": ""}),
        ("moderation.record_consent", "teacher", f"/moderation/stories/{story}/consent",
         {"what": "guardian", "given_by": "sa mère, formulaire signé"}),
        ("moderation.record_consent", "teacher", f"/moderation/stories/{story}/consent",
         {"what": "persons", "identifiable": "yes"}),
        ("accounts.my_story", "student", f"/me/stories/{story}",
         {"title": "Le voyage de ma tante", "body": "En 1975, ma tante est venue.",
          "resubmit": "yes"}),
        ("accounts.mark_notifications_read", "student", "/me/notifications/read", {}),
        ("classes.index", "teacher", "/classes/", {"name": ""}),
        ("classes.index", "teacher", "/classes/", {"name": "3e C"}),
        ("classes.joining", "teacher", f"/classes/{ids['class_id']}/joining", {"open": "no"}),
        ("classes.reset", "teacher",
         f"/classes/{ids['class_id']}/students/{ids['classmate']}/reset", {}),
        ("moderation.bulk", "archivist", "/moderation/bulk",
         {"action": "start_review", "story_id": [str(story), str(published)]}),
        ("moderation.bulk", "archivist", "/moderation/bulk", {"action": ""}),
        ("moderation.edit", "archivist", f"/moderation/stories/{story}/metadata",
         {"title": "Le voyage de ma tante", "places": "Ivry-sur-Seine", "period": "vers 1975",
          "themes": "voyage", "licence": "CC-BY-4.0", "credit": "Famille A."}),
        ("moderation.edit", "archivist", f"/moderation/stories/{story}/metadata",
         {"period": "pas une date"}),
        ("moderation.media_rights", "archivist", f"/moderation/media/{ids['media_id']}/rights",
         {"licence": "CC-BY-SA-4.0", "credit": "Famille B."}),
        ("moderation.erase", "archivist", f"/moderation/stories/{story}/erase",
         {"confirm": "non"}),
        ("quarantine.index", "archivist", "/moderation/quarantine/", {"action": ""}),
        ("quarantine.index", "archivist", "/moderation/quarantine/", {"action": "release"}),
        ("curation.new_collection", "archivist", "/curation/collections/new", {"title": ""}),
        ("curation.new_collection", "archivist", "/curation/collections/new", {
            "title": "Marchés d’ici", "slug": "marches", "published": "yes",
            "introduction": "Les marchés du Val-de-Marne.",
        }),
        ("curation.add_item", "archivist", "/curation/collections/{collection_id}/items",
         {"story_id": "abc"}),
        ("curation.add_item", "archivist", "/curation/collections/{collection_id}/items",
         {"story_id": str(published)}),
        ("curation.add_item", "archivist", "/curation/collections/{collection_id}/items",
         {"story_id": str(ids["other_published"])}),
        ("curation.edit_collection", "archivist", "/curation/collections/{collection_id}", {
            "title": "Marchés d’ici", "slug": "marches", "published": "yes",
            "introduction": "Les marchés du Val-de-Marne.",
        }),
        ("curation.move_item", "archivist",
         "/curation/collections/{collection_id}/items/{item_id}/move", {"direction": "down"}),
        ("curation.set_order", "archivist", "/curation/collections/{collection_id}/order", {}),
        ("curation.set_cover", "archivist", "/curation/collections/{collection_id}/cover",
         {"cover_media_id": "999999"}),
        ("curation.set_cover", "archivist", "/curation/collections/{collection_id}/cover",
         {"cover_media_id": "auto"}),
        ("curation.describe_images", "archivist", f"/curation/stories/{published}/descriptions",
         {f"alt_{ids['media_id']}": ""}),
        ("curation.add_place", "archivist", "/curation/places", {"name": ""}),
        ("curation.add_place", "archivist", "/curation/places",
         {"name": "Oran", "latitude": "35,7", "longitude": "-0,6"}),
        ("curation.request_export", "archivist", "/curation/exports", {"collection": "nope"}),
        ("curation.request_export", "archivist", "/curation/exports", {}),
        ("curation.upload_import", "archivist", "/curation/imports", {}),
        ("curation.upload_import", "archivist", "/curation/imports",
         {"table": (io.BytesIO(csv.encode()), "histoires.csv"), "as_status": "submitted"}),
        ("curation.start_import", "archivist", "/curation/imports/{import_id}/start", {}),
        ("curation.remove_item", "archivist",
         "/curation/collections/{collection_id}/items/{item_id}/remove", {}),
        ("moderation.close_takedown", "archivist", "/moderation/takedowns/{request_id}",
         {"state": "done"}),
        ("jobs.retry", "admin", "/admin/jobs/retry", {"job_id": "nope"}),
        ("jobs.purge", "admin", "/admin/jobs/purge", {}),
        ("jobs.rederive", "admin", "/admin/jobs/rederive", {}),
        ("admin.index", "admin", "/admin/", {"what": "organisation", "name": "", "kind": ""}),
        ("admin.index", "admin", "/admin/", {"what": "organisation", "name": "Amicale du Maroc",
                                             "kind": "association"}),
        ("admin.index", "admin", "/admin/", {"what": "invitation", "email": "new@example.org",
                                             "role": "teacher", "organisation_id": ""}),
        ("admin.people", "admin", "/admin/people", {"what": "role", "id": "999999",
                                                    "role": "teacher"}),
        ("admin.throttled", "admin", "/admin/throttled", {"key": "nope"}),
        ("accounts.account", "archivist", "/account", {"what": "password",
                                                       "current": "wrong", "new": "x"}),
        ("accounts.account", "archivist", "/account", {"what": "token", "label": "Zotero"}),
        ("accounts.invitation", "visitor", "/invitations/not-a-token", {"password": "x"}),
        ("api.create_story", "api", "/api/v1/stories", {"metadata": "{}"}),
        ("api.create_story", "visitor", "/api/v1/stories", {"metadata": "{}"}),
        ("api.edit_story", "api", f"/api/v1/stories/{published}", {"json": {"period": "xx"}},
         "PATCH"),
        ("api.erase_story", "api", "/api/v1/stories/999999/erase", {"json": {}}),
        ("api.guardian_consent", "api", f"/api/v1/stories/{story}/guardian-consent",
         {"json": {"given_by": ""}}),
        ("api.review_story", "api", f"/api/v1/stories/{story}/review",
         {"json": {"decision": "maybe"}}),
        ("api.story_transition", "api", f"/api/v1/stories/{published}/transitions",
         {"json": {"action": "return"}}),
        ("api.withdraw_story", "api", "/api/v1/stories/999999/withdraw", {"json": {}}),
        ("api.takedown_request", "api", "/api/v1/takedown-requests", {"json": {"reason": ""}}),
        ("api.takedown_request", "api", "/api/v1/takedown-requests", {"text": "x"}),
        ("api.attach_transcript", "api", f"/api/v1/media/{ids['media_id']}/transcripts", {}),
        ("api.create_collection", "api", "/api/v1/collections", {"json": {"title": ""}}),
        ("api.change_collection", "api", "/api/v1/collections/marches", {"json": {"slug": ""}},
         "PATCH"),
        ("api.recording_consent", "api", f"/api/v1/media/{ids['media_id']}/consent",
         {"json": {"consent": "yes"}}),
        ("exhibitions.request_build", "archivist",
         "/curation/collections/{collection_id}/exhibition", {}),
        ("recordings.recording_consent", "archivist", f"/recordings/{ids['media_id']}/consent",
         {}),
        ("recordings.index_points", "archivist", f"/recordings/{ids['media_id']}/index-points",
         {}),
        ("recordings.upload", "archivist", f"/recordings/{ids['media_id']}/transcript-file", {}),
        ("recordings.remove", "archivist", f"/recordings/{ids['media_id']}/transcript-removal",
         {}),
        ("recordings.typed", "archivist", f"/recordings/{ids['media_id']}/transcript-text", {}),
        # Teaching: dossiers and class projects (their error paths carry most of their words).
        ("dossiers.add_document", "archivist", "/curation/dossiers/999999/documents",
         {"story_id": "abc"}),
        ("dossiers.move_document", "archivist", "/curation/dossiers/999999/documents/1/move",
         {"direction": "up"}),
        ("dossiers.remove_document", "archivist",
         "/curation/dossiers/999999/documents/1/remove", {}),
        ("projects.start", "teacher", "/projects/", {"class_id": "", "dossier_id": "",
                                                     "deadline": "demain"}),
        ("projects.settings", "teacher", "/projects/999999/settings", {"deadline": "x"}),
        ("projects.assignments", "teacher", "/projects/999999/assignments", {}),
        ("projects.move_response", "teacher", "/projects/999999/responses/1",
         {"decision": "forward"}),
        ("projects.choose", "student", "/projects/999999/choose", {"document_id": "1"}),
        ("projects.save", "student", "/projects/999999/write", {"title": ""}),
        ("projects.make_collection", "archivist", "/projects/999999/collection", {}),
        ("public.logout", "contributor", "/logout", {}),
    ]  # fmt: skip


#: Values for route arguments, by name (``_create_world`` and the forms fill the ids).
def _arguments(ids: dict[str, Any]) -> dict[str, Any]:
    return {
        "story_id": ids["student_story"],
        "media_id": ids["media_id"],
        "collection_id": ids.get("collection_id", 1),
        "item_id": ids.get("item_id", 1),
        "slug": "marches",
        "class_id": ids["class_id"],
        "student_id": ids["classmate"],
        "export_id": ids.get("export_id", 1),
        "import_id": ids.get("import_id", 1),
        "organisation_id": ids["school_id"],
        "request_id": ids.get("request_id", 1),
        "token": ids["status_token"],
        "number": 1,
        "name": "thumb",
        "code": "en",
    }


#: Arguments a route needs that differ from the defaults above.
ROUTE_ARGUMENTS: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "public.story": lambda ids: {"story_id": ids["published"]},
    "public.place": lambda ids: {"slug": "vitry-sur-seine"},
    "public.organisation": lambda ids: {"organisation_id": ids["demo_organisation"]},
    "accounts.invitation": lambda ids: {"token": ids.get("invitation", "not-a-token")},
    "curation.describe_images": lambda ids: {"story_id": ids["published"]},
}

#: Pages whose errors are part of what people see: (route, who, URL).
ERRORS = [
    ("403 (teacher on the admin page)", "teacher", "/admin/"),
    ("401/403 (visitor on moderation)", "visitor", "/moderation/"),
    ("404 page", "visitor", "/no/such/page"),
    ("404 story", "visitor", "/stories/999999"),
    ("404 API", "visitor", "/api/v1/stories/999999"),
    ("410 withdrawn story", "visitor", "/stories/{withdrawn}"),
    ("400", "visitor", "/_pseudo/400"),
    ("405", "visitor", "/_pseudo/405"),
    ("413", "visitor", "/_pseudo/413"),
    ("429", "visitor", "/_pseudo/429"),
    ("500", "visitor", "/_pseudo/500"),
    ("503", "visitor", "/_pseudo/503"),
    ("API 401", "visitor", "/api/v1/stories/1/withdraw"),
]


def _clients(app) -> dict[str, Any]:
    clients = {"visitor": app.test_client()}
    for role, email in (("teacher", TEACHER), ("archivist", ARCHIVIST), ("admin", ADMIN),
                        ("contributor", MEMBER)):  # fmt: skip
        clients[role] = _login(app, email)
    return clients


def _student(app, world) -> Any:
    client = app.test_client()
    client.post(
        "/class-login",
        data={"code": world.class_code, "pseudonym": "Amina", "access_code": world.student_code},
    )
    return client


#: Stored codes people must never read as such: excluded from the user content that may show.
CODE_COLUMNS = {"status", "guardian_consent", "state", "kind", "role", "action", "language",
                "subject_type", "mime_type", "event_type", "failure_reason"}  # fmt: skip


def _texts(value: object) -> list[str]:
    """The strings inside a column's value (text, list of texts, JSON object of texts)."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, list | tuple):
        return [t for item in value for t in _texts(item)]
    if isinstance(value, dict):
        return [t for item in value.values() for t in _texts(item)]
    return []


def _allowed(app, extra: list[str]) -> pseudo.Allowed:
    """The data this test created (read back from the database), CLDR names and the brand."""
    from webapp.extensions import db
    from webapp.i18n import LANGUAGES
    from webapp.models import (
        ApiToken,
        AuditEntry,
        Collection,
        MediaAsset,
        Organisation,
        Place,
        SchoolClass,
        Story,
        TakedownRequest,
        User,
    )
    from webapp.models.places import DEPARTMENTS
    from webapp.services.consent import LICENCES

    words: set[str] = {"Passages", "IIIF", "API", "CSV", "BagIt", "SHA-256", "GitHub",
                       *LANGUAGES.values(), *extra}  # fmt: skip
    words.update(code for code in LICENCES)
    with app.app_context():
        for model in (Story, MediaAsset, Organisation, User, SchoolClass, Collection, Place,
                      TakedownRequest, AuditEntry, ApiToken):  # fmt: skip
            columns = [c.key for c in model.__table__.columns if c.key not in CODE_COLUMNS]
            for row in db.session.scalars(db.select(model)):
                for name in columns:
                    words.update(_texts(getattr(row, name, None)))
        for story in db.session.scalars(db.select(Story)):
            words.update(story.body.split("\n\n"))
            words.add(story.language)  # shown beside its name: "arabe (ar)"
    words.update(DEPARTMENTS.values())  # the gazetteer's proper nouns
    words.update(pseudo.cldr_words())
    return pseudo.Allowed(w for w in words if w and w.strip())


def _rule_url(app, rule, values: dict[str, Any]) -> str | None:
    adapter = app.url_map.bind("passages.test")
    try:
        return adapter.build(rule.endpoint, {a: values[a] for a in rule.arguments})
    except Exception:  # noqa: BLE001 - a rule this table cannot fill is reported as not rendered
        return None


def _ids_after_forms(app, ids: dict[str, Any]) -> None:
    from webapp.extensions import db
    from webapp.models import Collection, CollectionItem, ExportRun, ImportRun, TakedownRequest

    with app.app_context():
        collection = db.session.scalar(db.select(Collection).where(Collection.slug == "marches"))
        if collection is not None:
            ids["collection_id"] = collection.id
            item = db.session.scalar(
                db.select(CollectionItem.id).where(CollectionItem.collection_id == collection.id)
            )
            ids["item_id"] = item or 1
        ids["export_id"] = db.session.scalar(db.select(ExportRun.id)) or 1
        ids["import_id"] = db.session.scalar(db.select(ImportRun.id)) or 1
        ids["request_id"] = db.session.scalar(db.select(TakedownRequest.id)) or 1


@pytest.mark.slow
def test_every_screen_is_translated_in_the_pseudo_locale(pseudo_app, world, api_token):
    app = pseudo_app
    from webapp.extensions import db
    from webapp.models import Story
    from webapp.services import notifications, review
    from webapp.unit_of_work import unit_of_work

    with app.app_context():
        student_story = _submit_as(app, world.student, "Le voyage de ma tante")
        token = db.session.get(Story, student_story).status_token
    ids = _create_world(
        app,
        {
            "student_story": student_story,
            "status_token": token,
            "class_id": world.class_id,
            "classmate": world.classmate,
            "school_id": world.school_id,
        },
    )
    with app.app_context():
        stories = db.session.scalars(
            db.select(Story).where(Story.status == "published").order_by(Story.id)
        ).all()
        ids["other_published"] = stories[-1].id
        ids["demo_organisation"] = stories[0].organisation_id
        withdrawn = stories[-1].id
        _fail_the_image_of(student_story)  # after the world's images were derived
    clients = _clients(app)
    clients["student"] = _student(app, world)
    clients["api"] = app.test_client()
    clients["api"].environ_base["HTTP_AUTHORIZATION"] = f"Bearer {api_token(world.archivist)}"
    visit = Visit(allowed=_allowed(app, []))

    for route, who, url, form, *method in _post_steps(ids):
        _ids_after_forms(app, ids)
        url = url.format(**ids)
        send = {"json": form["json"]} if "json" in form else {"data": form.get("text", form)}
        response = clients[who].open(
            url, method=(method or ["POST"])[0], follow_redirects=True, **send
        )
        visit.rendered.add(route)
        visit.allowed = _allowed(app, [])
        visit.check(f"POST {route}", response)
        if route == "admin.index" and form.get("what") == "invitation":
            found = re.search(r"/invitations/([\w-]+)", response.get_data(as_text=True))
            if found:
                ids["invitation"] = found.group(1)
    _ids_after_forms(app, ids)
    with app.app_context(), unit_of_work() as uow:
        review.withdraw(uow, withdrawn, "Retirée à la demande de la famille.", _user(ARCHIVIST))
    visit.allowed = _allowed(app, [])

    for rule in app.url_map.iter_rules():
        if rule.endpoint in NOT_RENDERED or rule.endpoint == "pseudo_error":
            continue
        if "GET" not in rule.methods:
            continue
        values = {**_arguments(ids), **ROUTE_ARGUMENTS.get(rule.endpoint, lambda _: {})(ids)}
        url = _rule_url(app, rule, values)
        if url is None:
            continue
        for who in ROLES:
            response = clients[who].get(url)
            visit.rendered.add(rule.endpoint)
            visit.check(f"GET {url} ({who})", response)

    for route, who, url in ERRORS:
        response = clients[who].get(url.format(withdrawn=withdrawn))
        visit.check(f"{route}: {url}", response)
        post = clients[who].post(url.format(withdrawn=withdrawn))
        visit.check(f"{route}: POST {url}", post)

    with app.test_request_context("/"):
        for kind, template in notifications.MESSAGES.items():
            row = type("Row", (), {"kind": kind, "message": template % {
                "title": "Le voyage de ma tante",
                "note": notifications.NOTE % {"note": "Ajoute une date"},
            }})()  # fmt: skip
            for problem in pseudo.untranslated(
                [("e-mail", notifications.text_of(row))],
                pseudo.Allowed(["Le voyage de ma tante", "Ajoute une date"]),
            ):
                visit.problems.setdefault(problem, []).append(f"notification {kind}")

    assert not visit.problems, visit.report()


def _user(email: str):
    from webapp.extensions import db
    from webapp.models import User

    return db.session.scalar(db.select(User).where(User.email == email))


def _submit_as(app, user_id: int, title: str) -> int:
    from tests.conftest import story_metadata, submit_story_now
    from webapp.extensions import db
    from webapp.models import User
    from webapp.services.submissions import IncomingImage

    story = submit_story_now(
        story_metadata(title=title, body="En 1975, ma tante est venue."),
        [IncomingImage("tante.jpg", io.BytesIO(make_jpeg(seed=7)))],
        submitter=db.session.get(User, user_id),
    )
    return story.id


def _fail_the_image_of(story_id: int) -> None:
    """The student's image failed in the worker, and an export failed on a time limit, as the
    workers store them (codes): the status, review and jobs pages show why, in words."""
    from webapp import reasons
    from webapp.extensions import db
    from webapp.models import ExportRun, Story, utcnow

    media = db.session.get(Story, story_id).media[0]
    media.state, media.failure_reason = "failed", reasons.encode("truncated", format="JPEG")
    db.session.add(ExportRun(state="failed", done=3, total=7, finished_at=utcnow(),
                             error=reasons.encode("job_timeout_after", seconds=600)))  # fmt: skip
    db.session.commit()


def test_every_route_is_rendered_or_listed_with_a_reason(app):
    """A new screen must be visited by the pseudo-locale test (or say why it cannot be)."""
    known = set(NOT_RENDERED) | {step[0] for step in _post_steps(_placeholder_ids())}
    missing = sorted(
        rule.endpoint
        for rule in app.url_map.iter_rules()
        if rule.endpoint not in known and "GET" not in rule.methods
    )
    assert missing == [], (
        "POST-only routes the pseudo-locale test does not send a form to: add a step to "
        f"_post_steps in {Path(__file__).name} (or a reason to NOT_RENDERED): {missing}"
    )
    stale = sorted(set(NOT_RENDERED) - {rule.endpoint for rule in app.url_map.iter_rules()})
    assert stale == []


def _placeholder_ids() -> dict[str, Any]:
    return {
        "student_story": 1, "published": 2, "other_published": 3, "media_id": 1,
        "class_id": 1, "classmate": 1, "collection_id": 1, "item_id": 1, "import_id": 1,
        "request_id": 1,
    }  # fmt: skip
