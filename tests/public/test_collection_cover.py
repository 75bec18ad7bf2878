"""The archivist chooses a collection's cover among its published stories' ready images.

The public cover follows the choice only while that image's story is published and still in the
collection; otherwise the automatic rule (first ready image of the first published story) applies.
"""

from __future__ import annotations

import re

from tests.public.htmlcheck import check_html


def _media_ids(app, story_id: int) -> list[int]:
    from webapp.extensions import db
    from webapp.models import Story

    with app.app_context():
        media = db.session.get(Story, story_id).media
        return [m.id for m in sorted(media, key=lambda m: m.position)]


def _collection_with(client, app, *story_ids: int) -> int:
    client.post("/curation/collections/new",
                data={"title": "Les usines", "published": "yes", "featured": "yes"})  # fmt: skip
    from webapp.extensions import db
    from webapp.models import Collection

    with app.app_context():
        collection_id = db.session.scalar(db.select(Collection.id))
    for story_id in story_ids:
        client.post(f"/curation/collections/{collection_id}/items", data={"story_id": story_id})
    return collection_id


def _public_cover_id(client, path: str) -> int | None:
    match = re.search(r'<img class="cover" src="/media/(\d+)/medium"', client.get(path).text)
    return int(match.group(1)) if match else None


def test_archivist_picks_a_cover_and_the_public_page_and_cards_use_it(
    client, app, make_story, login
):
    first = make_story("Le marché", media=1)
    second = make_story("L'usine", media=2)
    login("archivist")
    collection_id = _collection_with(client, app, first, second)
    automatic = _media_ids(app, first)[0]
    chosen = _media_ids(app, second)[1]
    assert _public_cover_id(client, "/collections/les-usines") == automatic

    page = client.get(f"/curation/collections/{collection_id}")
    assert check_html(page.text) == []
    assert f'value="{chosen}"' in page.text and 'value="auto" checked' in page.text

    response = client.post(f"/curation/collections/{collection_id}/cover",
                           data={"cover_media_id": str(chosen)})  # fmt: skip
    assert response.status_code == 302
    assert _public_cover_id(client, "/collections/les-usines") == chosen
    assert f"/media/{chosen}/thumb" in client.get("/").text  # the featured card on the home page
    assert f'value="{chosen}" checked' in client.get(f"/curation/collections/{collection_id}").text

    client.post(f"/curation/collections/{collection_id}/cover", data={"cover_media_id": "auto"})
    assert _public_cover_id(client, "/collections/les-usines") == automatic


def test_cover_falls_back_when_its_story_is_withdrawn_or_leaves_the_collection(
    client, app, make_story, login
):
    from webapp.extensions import db
    from webapp.models import Collection, Story

    first = make_story("Le marché", media=1)
    second = make_story("L'usine", media=1)
    login("archivist")
    collection_id = _collection_with(client, app, first, second)
    chosen = _media_ids(app, second)[0]
    client.post(f"/curation/collections/{collection_id}/cover",
                data={"cover_media_id": str(chosen)})  # fmt: skip
    assert _public_cover_id(client, "/collections/les-usines") == chosen

    with app.app_context():
        db.session.get(Story, second).status = "withdrawn"
        db.session.commit()
    fallback = _public_cover_id(client, "/collections/les-usines")
    assert fallback == _media_ids(app, first)[0]
    assert f"/media/{chosen}/" not in client.get("/").text

    with app.app_context():
        db.session.get(Story, second).status = "published"
        db.session.commit()
        item_id = next(i.id for i in db.session.get(Collection, collection_id).items
                       if i.story_id == second)  # fmt: skip
    assert _public_cover_id(client, "/collections/les-usines") == chosen
    client.post(f"/curation/collections/{collection_id}/items/{item_id}/remove")
    assert _public_cover_id(client, "/collections/les-usines") == fallback


def test_cover_must_be_an_image_of_a_published_story_of_the_collection(
    client, app, make_story, login
):
    from webapp.extensions import db
    from webapp.models import Collection

    member = make_story("Le marché", media=1)
    outsider = make_story("Ailleurs", media=1)
    login("archivist")
    collection_id = _collection_with(client, app, member)
    for value in (str(_media_ids(app, outsider)[0]), "not-a-number"):
        client.post(f"/curation/collections/{collection_id}/cover",
                    data={"cover_media_id": value})  # fmt: skip
        with app.app_context():
            assert db.session.get(Collection, collection_id).cover_media_id is None


def test_only_archivists_choose_covers(client, app, make_story, login):
    story = make_story("Le marché", media=1)
    login("archivist")
    collection_id = _collection_with(client, app, story)
    client.post("/logout")
    login("contributor")
    response = client.post(f"/curation/collections/{collection_id}/cover",
                           data={"cover_media_id": str(_media_ids(app, story)[0])})  # fmt: skip
    assert response.status_code in (403, 404)
