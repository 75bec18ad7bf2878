"""Security headers on every page type, no inline script or style in any page, HSTS over TLS,
links written from PUBLIC_URL (never from the Host header), TRUSTED_HOSTS, cookie flags, short
revalidated caching of public images, private data folder."""

from __future__ import annotations

import re
import stat
from html.parser import HTMLParser

import pytest

from tests.conftest import _dispose, build_app
from tests.security.conftest import login


class InlineCodeFinder(HTMLParser):
    """Collects what a CSP without 'unsafe-inline' would block."""

    def __init__(self) -> None:
        super().__init__()
        self.problems: list[str] = []

    def handle_starttag(self, tag, attrs):
        names = {k for k, _ in attrs}
        data_block = dict(attrs).get("type") == "application/ld+json"  # JSON-LD is never run
        if tag == "script" and "src" not in names and not data_block:
            self.problems.append("inline <script>")
        if tag == "style":
            self.problems.append("<style> element")
        if "style" in names:
            self.problems.append(f"style attribute on <{tag}>")
        for name, value in attrs:
            if name.startswith("on"):
                self.problems.append(f"{name} handler on <{tag}>")
            if name in ("href", "src", "action") and (value or "").strip().lower().startswith(
                "javascript:"
            ):
                self.problems.append(f"javascript: URL on <{tag}>")


@pytest.fixture
def published(app, make_user, api_token, submit_via_api, publish, sample_jpeg, run_worker_burst):
    contributor = make_user("contributor")
    token = api_token(contributor)
    response = submit_via_api(token, images=[("photo.jpg", sample_jpeg())])
    story_id = response.json["id"]
    publish(story_id)
    run_worker_burst(app)
    return story_id


def _pages(client, story_id: int) -> list[str]:
    from webapp.extensions import db
    from webapp.models import MediaAsset

    with client.application.app_context():
        media = db.session.scalar(db.select(MediaAsset).where(MediaAsset.story_id == story_id))
        media_id = media.id
    story_page = client.get(f"/stories/{story_id}", follow_redirects=True)
    assert story_page.status_code == 200
    return [
        "/",
        f"/stories/{story_id}",
        story_page.request.path,
        "/collections/",
        "/places/",
        "/search?q=marché",
        "/search?q=",
        "/submit",
        "/takedown",
        "/join",
        "/class-login",
        "/login",
        "/healthz",
        "/nowhere-404",
        f"/media/{media_id}/thumb",
        "/api/v1/openapi.json",
        "/api/v1/search?q=x",
    ]


@pytest.mark.slow
def test_every_page_type_carries_the_security_headers(app, client, published):
    for path in _pages(client, published):
        response = client.get(path)
        headers = response.headers
        csp = headers.get("Content-Security-Policy", "")
        assert "frame-ancestors 'none'" in csp, path
        assert "'unsafe-inline'" not in csp and "script-src 'self'" in csp, path
        assert "style-src 'self'" in csp, path
        assert headers.get("X-Content-Type-Options") == "nosniff", path
        assert headers.get("Referrer-Policy") == "same-origin", path
        assert headers.get("X-Frame-Options") == "DENY", path
        assert "Strict-Transport-Security" not in headers, path  # plain HTTP here
        if response.mimetype == "text/html":
            finder = InlineCodeFinder()
            finder.feed(response.get_data(as_text=True))
            assert finder.problems == [], (path, finder.problems)


def test_logged_in_pages_have_no_inline_code_either(app, client, make_user):
    make_user("admin", email="root@example.org")
    assert login(client, "root@example.org").status_code == 302
    for path in [
        "/me",
        "/account",
        "/admin/",
        "/admin/people",
        "/admin/throttled",
        "/moderation/",
        "/curation/",
        "/indicators/",
    ]:
        response = client.get(path)
        assert response.status_code == 200, path
        finder = InlineCodeFinder()
        finder.feed(response.get_data(as_text=True))
        assert finder.problems == [], (path, finder.problems)
        assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]


def test_no_template_has_inline_script_or_style():
    from pathlib import Path

    root = Path(__file__).resolve().parents[2] / "webapp" / "templates"
    for template in root.rglob("*.html"):
        text = template.read_text()
        # A JSON-LD data block is never run (and holds only escaped JSON): not a script.
        assert not re.search(r'<script(?![^>]*\b(src=|type="application/ld\+json"))', text), (
            template
        )
        assert not re.search(r"<style\b|\sstyle=|\son[a-z]+=", text), template


def test_hsts_only_over_tls(client):
    assert "Strict-Transport-Security" in client.get("/", base_url="https://passages.test").headers
    assert "Strict-Transport-Security" not in client.get("/").headers


def test_public_url_writes_links_whatever_the_host_header(tmp_path, make_user):
    app = build_app(tmp_path / "pub", PUBLIC_URL="https://memoire.example.fr", SERVER_NAME=None)
    try:
        client = app.test_client()
        for host in ["evil.example", "memoire.example.fr:8443", "localhost"]:
            page = client.get("/login", headers={"Host": host})
            assert page.status_code == 200
            assert "Strict-Transport-Security" in page.headers  # the public scheme is https
        with app.app_context():
            from tests.conftest import (
                create_user_now,
                issue_token_now,
                story_metadata,
                submit_story_via_api,
            )

            create_user_now("c@example.org", "contributor")
            token = issue_token_now("c@example.org")
        response = submit_story_via_api(client, token, story_metadata())
        for host in ["evil.example", "attacker.test:81"]:
            got = client.get(
                f"/api/v1/stories/{response.json['id']}",
                headers={"Host": host, "Authorization": f"Bearer {token}"},
            )
            assert got.json["status_url"].startswith("https://memoire.example.fr/status/"), host
        assert response.headers["Location"].startswith("https://memoire.example.fr/api/v1/")
    finally:
        _dispose(app)


def test_trusted_hosts_refuse_other_hosts(tmp_path):
    app = build_app(
        tmp_path / "th", TRUSTED_HOSTS="memoire.example.fr,.archives.example", SERVER_NAME=None
    )
    try:
        client = app.test_client()
        assert client.get("/", headers={"Host": "memoire.example.fr"}).status_code == 200
        assert client.get("/", headers={"Host": "www.archives.example"}).status_code == 200
        for host in [
            "evil.example",
            "memoire.example.fr.evil.example",
            "archives.example.evil",
            "",
        ]:
            assert client.get("/", headers={"Host": host}).status_code == 400, host
    finally:
        _dispose(app)


def test_session_cookie_is_secure_when_the_site_is_https(tmp_path):
    app = build_app(tmp_path / "sec", PUBLIC_URL="https://memoire.example.fr")
    plain = build_app(tmp_path / "plain")
    try:
        assert app.config["SESSION_COOKIE_SECURE"] is True
        assert app.config["SESSION_COOKIE_HTTPONLY"] is True
        assert plain.config["SESSION_COOKIE_SECURE"] is False
    finally:
        _dispose(app)
        _dispose(plain)


@pytest.mark.slow
def test_public_images_are_cached_briefly_and_revalidated(app, client, published):
    from webapp.extensions import db
    from webapp.models import MediaAsset

    with app.app_context():
        media_id = db.session.scalar(
            db.select(MediaAsset.id).where(MediaAsset.story_id == published)
        )
    response = client.get(f"/media/{media_id}/thumb")
    assert response.status_code == 200
    cache = response.headers["Cache-Control"]
    max_age = int(re.search(r"max-age=(\d+)", cache).group(1))
    assert max_age <= 5 and "must-revalidate" in cache and "public" in cache


def test_data_folder_is_private(app, client):
    """Whatever creates files inside later, nobody else can reach into the folder."""
    settings = app.extensions["passages.settings"]
    client.get("/")
    assert stat.S_IMODE(settings.data_dir.stat().st_mode) == 0o700
    database = settings.data_dir / "passages.sqlite3"
    assert stat.S_IMODE(database.stat().st_mode) & 0o077 == 0


@pytest.mark.slow
def test_files_made_by_the_passages_command_are_private(tmp_path):
    """``passages`` processes (web, worker, relay, CLI) create files with a 0077 umask."""
    import subprocess
    import sys

    from tests.conftest import REPO

    data = tmp_path / "cli-data"
    env = {
        "PATH": "/usr/bin:/bin",
        "PASSAGES_DATA_DIR": str(data),
        "RATE_LIMITS_ENABLED": "false",
        "PASSAGES_LOG_LEVEL": "WARNING",
    }
    for args in (["db", "upgrade"], ["reindex"]):
        done = subprocess.run(
            [sys.executable, "-m", "webapp.cli", *args],
            env=env,
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr
    found = list(data.rglob("*"))
    assert any(p.name == "passages.sqlite3" for p in found) and any(p.is_dir() for p in found)
    for path in [data, *found]:
        assert stat.S_IMODE(path.stat().st_mode) & 0o077 == 0, (path, oct(path.stat().st_mode))
