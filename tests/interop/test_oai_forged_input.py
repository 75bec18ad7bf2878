"""A hostile client's OAI-PMH requests and sitemap pages: forged resumption tokens, dates at the
edge of the calendar, other scripts' digits, huge page numbers. Each gets the protocol's error
(or a 404 for a page that is not there), never a 500, and every OAI answer stays schema-valid.
"""

from __future__ import annotations

import base64
import json

import pytest

from tests.interop.test_oai import OAI, error_code, oai_get
from tests.interop.xmlschemas import assert_valid_oai

OAI_ID = "{http://www.openarchives.org/OAI/2.0/oai-identifier}"


def token_of(raw: bytes) -> str:
    """A token as ``Position.encode`` writes one: URL-safe base64 without padding."""
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def forged(**changes) -> str:
    data = {
        "v": 1,
        "m": "oai_dc",
        "s": None,
        "f": None,
        "e": "2100-01-01T00:00:00+00:00",
        "a": ["2026-11-30T00:00:00+00:00", 1],
        "c": 10,
    }
    data.update(changes)
    return token_of(json.dumps(data, separators=(",", ":")).encode())


def test_a_well_formed_forged_token_is_accepted_as_a_control(client, archive):
    archive.story()
    root = oai_get(client, {"verb": "ListIdentifiers", "resumptionToken": forged(a=None, c=0)})
    assert error_code(root) is None


@pytest.mark.parametrize(
    "token",
    [
        forged(a=["2026-11-30T00:00:00+00:00", 10**23]),
        forged(a=["2026-11-30T00:00:00+00:00", 2**63]),
        forged(c=10**23),
        forged(e="9999-12-31T23:59:59-23:59"),
        forged(f="0001-01-01T00:00:00+23:59"),
        forged(a=["9999-12-31T23:59:59-23:59", 1]),
        token_of(b"[" * 50000 + b"]" * 50000),
        token_of(b'{"v":1,"a":' + b"[" * 50000 + b"]" * 50000 + b"}"),
    ],
)
def test_a_forged_token_out_of_range_is_a_bad_resumption_token(client, archive, token):
    archive.story()
    for verb in ("ListIdentifiers", "ListRecords"):
        root = oai_get(client, {"verb": verb, "resumptionToken": token})
        assert error_code(root) == "badResumptionToken"


@pytest.mark.parametrize("until", ["9999-12-31", "9999-12-31T23:59:59Z"])
def test_until_the_last_day_of_the_calendar_lists_everything(client, archive, until):
    story_id = archive.story()
    root = oai_get(client, {"verb": "ListIdentifiers", "metadataPrefix": "oai_dc", "until": until})
    assert error_code(root) is None
    identifiers = [h.findtext(f"{OAI}identifier") for h in root.iter(f"{OAI}header")]
    assert identifiers == [f"oai:passages.test:stories/{story_id}"]


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("from", "٢٠٢٦-12-02T10:51:04Z"),
        ("until", "٢٠٢٦-12-02T10:51:04Z"),
        ("from", "2026-١٢-02"),
        ("until", "２０２６-12-02"),
    ],
)
def test_dates_in_other_scripts_digits_are_a_bad_argument(client, archive, name, value):
    archive.story()
    root = oai_get(client, {"verb": "ListIdentifiers", "metadataPrefix": "oai_dc", name: value})
    assert error_code(root) == "badArgument"
    assert root.find(f"{OAI}request").attrib == {}


def test_identify_names_no_oai_identifier_scheme_for_an_ip_address(app, archive):
    from webapp.interop import oai
    from webapp.models import utcnow

    archive.story()

    def descriptions(base_url: str) -> list:
        repository = oai.Repository(base_url, "admin@example.org", 10, utcnow())
        with app.test_request_context():
            root = assert_valid_oai(oai.respond([("verb", "Identify")], repository))
        return list(root.iter(f"{OAI_ID}oai-identifier"))

    assert descriptions("http://127.0.0.1/oai") == []
    assert descriptions("http://localhost/oai") == []
    (scheme,) = descriptions("http://archive.passages.test/oai")
    assert scheme.findtext(f"{OAI_ID}repositoryIdentifier") == "archive.passages.test"


@pytest.mark.parametrize("number", [2, 200000000000000, 2**62, 2**63 - 1, 2**63, 0])
def test_a_sitemap_page_past_the_last_is_not_found(client, archive, number):
    archive.story()
    assert client.get("/sitemaps/stories-1.xml").status_code == 200
    assert client.get(f"/sitemaps/stories-{number}.xml").status_code == 404
