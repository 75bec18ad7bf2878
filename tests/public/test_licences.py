"""Every place that names a licence names it from one table, the story schema's codes."""

from __future__ import annotations

import pytest

from schemas import load_schema
from webapp import licences


def test_codes_are_the_story_schemas() -> None:
    enum = load_schema("story.schema.json")["properties"]["licence"]["enum"]
    assert tuple(enum) == licences.CODES and "CC-BY-SA-4.0" in licences.CODES


@pytest.mark.parametrize(
    ("code", "deed", "iiif"),
    [
        (
            "CC-BY-NC-SA-4.0",
            "https://creativecommons.org/licenses/by-nc-sa/4.0/",
            "http://creativecommons.org/licenses/by-nc-sa/4.0/",
        ),
        (
            "CC0-1.0",
            "https://creativecommons.org/publicdomain/zero/1.0/",
            "http://creativecommons.org/publicdomain/zero/1.0/",
        ),
        ("all-rights-reserved", None, "http://rightsstatements.org/vocab/InC/1.0/"),
        ("CC-BY-9.9", None, None),  # not a code the schema accepts: no invented address
        (None, None, None),
    ],
)
def test_each_code_has_its_deed_and_its_iiif_rights(code, deed, iiif) -> None:
    assert licences.deed_url(code) == deed
    assert licences.iiif_rights(code) == iiif


def test_the_story_page_links_the_deed_of_its_licence(client, make_story) -> None:
    story_id = make_story("Le marché", licence="CC0-1.0")  # unlinked before one table served all
    page = client.get(f"/stories/{story_id}", follow_redirects=True).get_data(as_text=True)
    assert 'href="https://creativecommons.org/publicdomain/zero/1.0/" rel="license"' in page
