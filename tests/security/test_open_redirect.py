"""Open redirect: ``next=`` on /login and /language/<code> only ever leads to a same-site path.

The hostile values are generated: every way we know to make a browser leave the site (schemes,
``//``, backslashes, encoded whitespace and control characters, Unicode look-alikes, userinfo,
double encoding) combined with several hosts and prefixes.
"""

from __future__ import annotations

import itertools
from urllib.parse import quote, urlsplit

import pytest

from tests.security.conftest import login

HOSTS = ["evil.example", "evil.example:8080", "127.0.0.1", "[::1]", "xn--vil-9la.example"]
PREFIXES = [
    "//",
    "///",
    "/\\",
    "\\\\",
    "\\/",
    "/\t/",
    "/\n/",
    "/\r\n/",
    " //",
    "\x00//",
    "/%2F",
    "%2F%2F",
    "/%5C",
    "/%09/",
    "/%0D%0A/",
    "https://",
    "http:",
    "HTTPS://",
    "javascript:",
    "data:",
    "／／",  # full-width solidus
    "/／",
    "﹨﹨",  # small reverse solidus
    "\u2215\u2215",  # division slash
    "/\u200b/",  # zero-width space
    "/\u202e/",  # right-to-left override
    "https:/\\",
    "/@",
    "//user:pw@",
]


def hostile_values() -> list[str]:
    values = [prefix + host for prefix, host in itertools.product(PREFIXES, HOSTS)]
    values += [quote(v, safe="") for v in values[:: len(HOSTS)]]  # fully percent-encoded
    values += ["javascript:alert(1)", "/%0D%0ASet-Cookie:x=1", "/%0D%0A", "\r\n/", "/" + "a" * 3000]
    return values


HOSTILE = hostile_values()
SAME_SITE = ["/", "/search?q=a%20b", "/stories/1", "/places/vitry?page=2", "/collections/"]


def _stays_on_site(location: str) -> bool:
    parts = urlsplit(location)
    return (
        parts.netloc in ("", "passages.test")
        and parts.scheme in ("", "http", "https")
        and "\\" not in location
        and not location.startswith("//")
        and not any(ord(ch) < 32 for ch in location)
    )


def test_there_are_many_hostile_variants():
    assert len(HOSTILE) > 150


@pytest.mark.parametrize("code", ["fr", "en"])
def test_language_switch_never_leaves_the_site(client, code):
    for value in HOSTILE:
        response = client.get(f"/language/{code}", query_string={"next": value})
        assert response.status_code == 302, (value, response.status_code)
        assert _stays_on_site(response.headers["Location"]), (value, response.headers["Location"])


def test_language_switch_keeps_a_same_site_return_address(client):
    for value in SAME_SITE:
        response = client.get("/language/en", query_string={"next": value})
        assert urlsplit(response.headers["Location"]).path == urlsplit(value).path


def test_language_switch_answers_crlf_without_an_error(client):
    response = client.get("/language/fr?next=/%0D%0A")
    assert response.status_code == 302
    assert "\r" not in response.headers["Location"] and "\n" not in response.headers["Location"]


def test_login_never_sends_the_person_off_site(app, client, make_user):
    from tests.conftest import PASSWORD

    make_user("contributor", email="walker@example.org")
    for value in HOSTILE[::3] + HOSTILE[-5:]:
        client.post("/logout")
        response = client.post(
            "/login",
            query_string={"next": value},
            data={"email": "walker@example.org", "password": PASSWORD},
        )
        assert response.status_code == 302, (value, response.status_code)
        assert _stays_on_site(response.headers["Location"]), (value, response.headers["Location"])


def test_login_follows_a_same_site_next(client, make_user):
    make_user("contributor", email="walker@example.org")
    response = login(client, "walker@example.org")  # no next: home
    assert urlsplit(response.headers["Location"]).path == "/"
    client.post("/logout")
    from tests.conftest import PASSWORD

    response = client.post(
        "/login",
        query_string={"next": "/places/?page=2"},
        data={"email": "walker@example.org", "password": PASSWORD},
    )
    assert response.headers["Location"].endswith("/places/?page=2")
