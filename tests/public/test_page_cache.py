"""The page cache: kept pages are served without rendering, and never outlive what they show.

Each test runs the real app on a real Redis (the session's ``redis-server``) with the cache on,
and changes stories through the real services, relay and index job.
"""

from __future__ import annotations

import time
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace

import pytest
from flask import template_rendered

from tests.conftest import _dispose, build_app


@pytest.fixture
def app(tmp_path, redis_server):
    app = build_app(tmp_path / "data", REDIS_URL=redis_server.url, PAGE_CACHE_SECONDS="300")
    yield app
    _dispose(app)


@contextmanager
def rendered_templates(app):
    names: list[str] = []

    def note(_sender, template, context, **_extra):
        names.append(template.name)

    template_rendered.connect(note, app)
    try:
        yield names
    finally:
        template_rendered.disconnect(note, app)


def keep(client, url: str):
    """Ask twice: a page is kept the second time it is rendered (one-off addresses are not)."""
    client.get(url)
    return client.get(url)


def kept_pages(app) -> int:
    from webapp.services import backends

    prefix = app.extensions["passages.settings"].queue_prefix
    with app.app_context():
        keys = backends.redis_connection().keys(f"{prefix}-pages:*")
    return len([k for k in keys if not k.endswith(b"generation") and b":asked:" not in k
                and b":budget:" not in k])  # fmt: skip


def cache_entries(app) -> int:
    """Every page and marker the cache holds in Redis (not its generation and budget counters)."""
    from webapp.services import backends

    prefix = app.extensions["passages.settings"].queue_prefix
    with app.app_context():
        keys = backends.redis_connection().keys(f"{prefix}-pages:*")
    return len([k for k in keys if not k.endswith(b"generation") and b":budget:" not in k])


@pytest.fixture
def archive(app, make_story):
    """Two published stories of one organisation, at one place, in a featured collection."""
    from webapp.extensions import db
    from webapp.models import Collection, CollectionItem, Organisation

    kept = make_story("Le marché de Vitry", organisation="Mémoires vives", media=1)
    gone = make_story(
        "La fonderie disparue",
        organisation="Mémoires vives",
        media=1,
        body="Mon père coulait le métal à la fonderie de Vitry.",
    )
    with app.app_context():
        collection = Collection(title="Quartiers", slug="quartiers", published=True,
                                featured=True)  # fmt: skip
        collection.items = [CollectionItem(story_id=kept, position=0),
                            CollectionItem(story_id=gone, position=1)]  # fmt: skip
        db.session.add(collection)
        db.session.commit()
        organisation_id = db.session.scalar(
            db.select(Organisation.id).where(Organisation.name == "Mémoires vives")
        )
    pages = {
        "story": f"/stories/{gone}-la-fonderie-disparue",
        "home": "/",
        "collection": "/collections/quartiers",
        "organisation": f"/organisations/{organisation_id}-memoires-vives",
        "place": "/places/vitry-sur-seine",
        "search": "/search?q=fonderie",
        "feed": "/feeds/stories.atom",
        "collection feed": "/feeds/collections/quartiers.atom",
        "sitemap": "/sitemap.xml",
    }
    return SimpleNamespace(kept=kept, gone=gone, pages=pages)


def _archivist(app):
    from tests.conftest import create_user_now

    with app.app_context():
        user, _ = create_user_now("archiviste@example.org", "archivist")
        return user.id


def _withdraw(app, story_id: int) -> None:
    from tests.conftest import in_action
    from webapp.extensions import db
    from webapp.models import User
    from webapp.services import review

    archivist_id = _archivist(app)
    with app.app_context():
        archivist = db.session.get(User, archivist_id)
        in_action(review.withdraw, story_id, "demande de la famille", archivist)


def _relay_and_index(app, story_id: int) -> None:
    """What the relay and the search worker do after the commit, in this process."""
    from workers import search
    from workers.context import use_app
    from workers.relay import relay_once

    use_app(app)
    with app.app_context():
        relay_once()
    search.index_story(story_id)


def _shows(response, story_id: int) -> bool:
    return response.status_code == 200 and (
        f"/stories/{story_id}-" in response.text or "La fonderie disparue" in response.text
    )


def test_every_kept_page_forgets_a_withdrawn_story_within_seconds(app, client, archive):
    for name, url in archive.pages.items():
        first = keep(client, url)
        assert _shows(first, archive.gone), name
        with rendered_templates(app) as rendered:
            again = client.get(url)
        assert again.data == first.data and rendered == [], f"{name} was not kept"
    assert kept_pages(app) == len(archive.pages)

    started = time.monotonic()
    _withdraw(app, archive.gone)
    _relay_and_index(app, archive.gone)
    for name, url in archive.pages.items():
        response = client.get(url)
        assert not _shows(response, archive.gone), f"{name} still shows the withdrawn story"
    assert time.monotonic() - started < 5
    assert client.get(archive.pages["story"]).status_code == 410
    assert "Le marché de Vitry" in client.get("/collections/quartiers").text


def test_the_relayed_event_alone_retires_the_kept_pages(app, client, archive, monkeypatch):
    """Without the quick path after the commit, the outbox event still clears every page."""
    from webapp.services import publication

    monkeypatch.setattr(publication, "page_cache", SimpleNamespace(invalidate=lambda: True))
    story, home = archive.pages["story"], archive.pages["home"]
    assert _shows(keep(client, story), archive.gone) and _shows(keep(client, home), archive.gone)
    _withdraw(app, archive.gone)
    assert _shows(client.get(story), archive.gone)  # the cache answers until the relay runs
    from workers.relay import relay_once

    with app.app_context():
        relay_once()
    assert client.get(story).status_code == 410
    assert not _shows(client.get(home), archive.gone)


def test_an_unpublished_story_is_never_kept_nor_served_from_the_cache(app, client, make_story):
    from webapp.extensions import db
    from webapp.models import Story

    draft = make_story("Brouillon secret", status="submitted")
    with app.app_context():
        token = db.session.get(Story, draft).status_token
    assert client.get(f"/stories/{draft}?t={token}").status_code == 200  # the private preview
    assert client.get(f"/stories/{draft}").status_code == 404
    assert client.get(f"/stories/{draft}?t={token}").status_code == 200
    assert client.get(f"/stories/{draft}").status_code == 404
    assert "Brouillon secret" not in keep(client, "/").text
    assert kept_pages(app) == 1  # the home page only: neither the preview nor the 404
    with app.app_context():
        story = db.session.get(Story, draft)
        story.status = "published"
        db.session.commit()  # the publication hook retires the pages at once
    assert client.get(f"/stories/{draft}").status_code in (200, 301)
    assert "Brouillon secret" in client.get("/").text


def test_logged_in_people_neither_read_nor_fill_the_cache(app, client, archive, login):
    assert "Se connecter" in client.get("/").text
    before = kept_pages(app)
    login("archivist")
    html = client.get("/").text
    assert "Se déconnecter" in html  # their own page, with the logout form and its CSRF token
    assert kept_pages(app) == before


def test_kept_pages_vary_by_interface_language(app, client, archive):
    assert '<html lang="fr"' in client.get("/").text
    client.set_cookie("lang", "en", domain="passages.test")
    assert '<html lang="en"' in client.get("/").text
    client.set_cookie("lang", "fr", domain="passages.test")
    assert '<html lang="fr"' in client.get("/").text


def test_a_conditional_request_for_a_kept_page_is_answered_without_rendering(app, client, archive):
    first = keep(client, archive.pages["story"])
    etag = first.headers["ETag"]
    with rendered_templates(app) as rendered:
        again = client.get(archive.pages["story"], headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.data == b""
    assert rendered == []


def test_pages_are_served_uncached_when_redis_is_down(tmp_path):
    app = build_app(tmp_path / "down", REDIS_URL="redis://127.0.0.1:9/0", PAGE_CACHE_SECONDS="300")
    try:
        client = app.test_client()
        with app.app_context():
            from webapp.extensions import db
            from webapp.models import Story

            story = Story(title="Le marché de Vitry", body="Épices.", language="fr",
                          places=["Vitry-sur-Seine"], themes=[], licence="CC-BY-4.0",
                          status="published")  # fmt: skip
            db.session.add(story)
            db.session.commit()  # the quick retirement fails quietly; the commit stands
            story_id = story.id
        for url in (f"/stories/{story_id}-le-marche-de-vitry", "/", "/places/", "/sitemap.xml"):
            assert client.get(url).status_code == 200, url
    finally:
        _dispose(app)


def test_readings_of_a_kept_collection_page_are_still_counted(app, client, archive):
    from webapp.services import collections
    from workers.relay import flush_view_counts

    for _ in range(3):
        assert client.get("/collections/quartiers").status_code == 200
    assert client.get("/collections/quartiers?page=2").status_code == 200  # page 1 only counts
    with app.app_context():
        assert collections.most_viewed() == []  # counted in Redis, not yet in the database
        assert flush_view_counts() == 3
        assert [(c.slug, n) for c, n in collections.most_viewed()] == [("quartiers", 3)]
        assert flush_view_counts() == 0  # taken once


@pytest.mark.slow
def test_a_withdrawal_through_the_api_leaves_the_kept_pages_with_the_relay_running(
    app, client, archive, make_user, api_token, monkeypatch
):
    """The real sequence: the API commits the withdrawal, the relay thread (as in ``passages
    run``) relays it on its own; the pages must change without anything else being called."""
    from webapp.services import publication
    from workers.relay import RelayThread

    monkeypatch.setattr(publication, "page_cache", SimpleNamespace(invalidate=lambda: True))
    pages = {k: v for k, v in archive.pages.items() if k != "search"}  # search: the index job's
    for url in pages.values():
        assert _shows(keep(client, url), archive.gone)
    token = api_token(make_user("archivist"))
    relay = RelayThread(app, 0.25)
    relay.start()
    try:
        answer = client.post(f"/api/v1/stories/{archive.gone}/withdraw", json={"note": "famille"},
                             headers={"Authorization": f"Bearer {token}"})  # fmt: skip
        assert answer.status_code == 200, answer.text
        started = time.monotonic()
        left = dict(pages)
        while left and time.monotonic() - started < 5:
            left = {k: u for k, u in left.items() if _shows(client.get(u), archive.gone)}
            time.sleep(0.1)
        assert left == {}, f"still showing the withdrawn story after 5 s: {sorted(left)}"
    finally:
        relay.stop()
        relay.join(5)


def test_a_page_asked_for_once_is_not_kept(app, client, archive):
    for n in range(5):
        assert client.get(f"/search?q=fonderie{n}").status_code == 200
    assert kept_pages(app) == 0
    keep(client, "/search?q=fonderie")
    assert kept_pages(app) == 1


def test_parameters_in_another_order_are_answered_from_the_same_kept_page(app, client, archive):
    first = keep(client, "/search?q=fonderie&sort=period&theme=travail")
    with rendered_templates(app) as rendered:
        again = client.get("/search?theme=travail&sort=period&q=fonderie")
    assert again.status_code == 200 and rendered == []
    assert again.data == first.data
    assert kept_pages(app) == 1


def test_parameters_a_page_does_not_read_get_the_kept_canonical_page(app, client, archive):
    story = archive.pages["story"]
    first = keep(client, story)
    with rendered_templates(app) as rendered:
        shared = client.get(f"{story}?utm_source=journal&fbclid=abc123")
        junk = client.get(f"{story}?page=3")  # the story page reads no page number
    assert rendered == []
    assert shared.data == first.data and junk.data == first.data
    # Never stored under their own address, nor over the canonical page: their links may repeat
    # the parameters, which the next visitors must not get.
    other = "/places/vitry-sur-seine"
    client.get(f"{other}?utm_source=journal")
    client.get(f"{other}?utm_source=journal")
    assert kept_pages(app) == 1
    assert "utm_source" not in keep(client, other).text


def test_values_out_of_bounds_are_rendered_and_never_kept(app, client, archive):
    before = cache_entries(app)
    for url in ("/collections/?page=abc", "/collections/?page=02", "/collections/?page=1&page=2",
                "/search?q=" + "fonderie " * 40, "/search?q=fonderie&sort=random",
                f"{archive.pages['story']}?t=anything"):  # fmt: skip
        for _ in range(2):
            assert client.get(url).status_code in (200, 404), url
    assert cache_entries(app) == before


@pytest.mark.slow
def test_ten_thousand_junk_parameters_do_not_make_ten_thousand_keys(app, client, archive):
    story = archive.pages["story"]
    keep(client, story)
    keep(client, "/collections/quartiers")
    before = cache_entries(app)
    for n in range(1_000):  # ten distinct parameters per request
        if n % 10:  # parameters the page does not read: answered from the kept page
            url = f"{story}?" + "&".join(f"x{n}_{i}={i}" for i in range(10))
        else:  # a parameter it reads, with values out of bounds: rendered, not kept
            url = "/collections/quartiers?" + "&".join(f"page=0{n}{i}" for i in range(10))
        assert client.get(url).status_code == 200
    assert cache_entries(app) == before


def test_what_the_cache_holds_stays_under_its_ceiling(tmp_path, redis_server):
    """Valid but endless addresses (a new search each time) fill the budget, not Redis; the
    pages without parameters keep their own share, so the story pages are still kept."""
    app = build_app(tmp_path / "data", REDIS_URL=redis_server.url, PAGE_CACHE_SECONDS="300",
                    PAGE_CACHE_MAX_KEYS="40")  # fmt: skip
    try:
        client = app.test_client()
        for n in range(20):  # 40 markers and pages if nothing bounded them
            keep(client, f"/search?q=mot{n}")
        assert cache_entries(app) <= 40 * page_cache_share()
        assert client.get("/").status_code == 200
        with rendered_templates(app) as rendered:
            keep(client, "/")
            client.get("/")
        assert rendered == ["home.html"]  # rendered twice is kept, then served from Redis
    finally:
        _dispose(app)


def page_cache_share() -> float:
    from webapp.page_cache import WITH_PARAMETERS_SHARE

    return WITH_PARAMETERS_SHARE


@pytest.mark.slow
def test_the_embedded_redis_refuses_writes_rather_than_evicting_jobs(tmp_path):
    """The queues share the embedded Redis with the cache: a memory ceiling, never eviction."""
    import redis

    from webapp import broker

    try:
        connection = redis.Redis.from_url(broker.embedded_redis_url(tmp_path / "data"))
        assert connection.config_get("maxmemory-policy") == {"maxmemory-policy": "noeviction"}
        assert 0 < int(connection.config_get("maxmemory")["maxmemory"]) <= 1024**3
        connection.close()
    finally:
        broker.stop_embedded_redis()
    command, _ = broker.server_command(tmp_path / "run")  # what ``passages run`` supervises
    lines = set(Path(command[-1]).read_text().splitlines())
    assert {"maxmemory-policy noeviction", "maxmemory 256mb"} <= lines
