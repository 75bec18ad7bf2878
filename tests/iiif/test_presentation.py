"""IIIF Presentation 3.0: manifests of published stories and collections of curated collections,
loaded by the ``iiif-prezi3`` library as a viewer's tooling would, and linked from the API and
the story page."""

from __future__ import annotations

import pytest
from iiif_prezi3 import Collection, Manifest

from tests.conftest import PASSWORD, create_user_now, in_action
from tests.iiif.conftest import archivist_of, decode, photo

PRESENTATION = 'application/ld+json;profile="http://iiif.io/api/presentation/3/context.json"'


@pytest.fixture
def story(make_story):
    return make_story(
        photo(2400, 1600),
        photo(900, 1200, seed=4),
        title="حكاية السوق",
        language="ar",
        body="كانت جدتي تبيع التوابل في سوق فيتري كل يوم سبت.",
        themes=["عمل"],
        credit="Association Mémoires de Vitry",
        licence="CC-BY-SA-4.0",
    )


def test_manifest_of_a_published_story_loads_in_iiif_prezi3(client, story):
    response = client.get(f"/iiif/stories/{story.story_id}/manifest.json")

    assert response.status_code == 200
    assert response.headers["Content-Type"] == PRESENTATION
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    document = response.get_json(force=True)
    loaded = Manifest(**document)  # the library validates the whole tree against its models
    assert len(loaded.items) == 2

    assert document["@context"] == "http://iiif.io/api/presentation/3/context.json"
    assert document["id"] == f"http://passages.test/iiif/stories/{story.story_id}/manifest.json"
    assert document["label"] == {"ar": ["حكاية السوق"]}
    assert document["summary"] == {"ar": ["كانت جدتي تبيع التوابل في سوق فيتري كل يوم سبت."]}
    names = [entry["label"] for entry in document["metadata"]]
    assert {"en": ["Places"], "fr": ["Lieux"]} in names
    assert {"en": ["Themes"], "fr": ["Thèmes"]} in names
    language = next(e for e in document["metadata"] if e["label"]["en"] == ["Language"])
    assert language["value"] == {"en": ["Arabic"], "fr": ["arabe"]}
    themes = next(e for e in document["metadata"] if e["label"]["en"] == ["Themes"])
    assert themes["value"] == {"ar": ["عمل"]}
    assert document["requiredStatement"]["label"] == {"en": ["Attribution"], "fr": ["Attribution"]}
    assert document["requiredStatement"]["value"] == {
        "none": ["Association Mémoires de Vitry — CC-BY-SA-4.0"]
    }
    assert document["rights"] == "http://creativecommons.org/licenses/by-sa/4.0/"
    homepage = document["homepage"][0]
    assert homepage["id"].startswith(f"http://passages.test/stories/{story.story_id}-")
    assert homepage["format"] == "text/html" and homepage["language"] == ["ar"]
    assert document["thumbnail"][0]["width"] == 256


def test_each_canvas_paints_a_served_image_with_its_service(client, story):
    document = client.get(f"/iiif/stories/{story.story_id}/manifest.json").get_json(force=True)

    sizes = []
    for canvas, media_id in zip(document["items"], story.media_ids, strict=True):
        annotation = canvas["items"][0]["items"][0]
        assert annotation["motivation"] == "painting"
        assert annotation["target"] == canvas["id"]
        body = annotation["body"]
        service = body["service"][0]
        assert service == {
            "id": f"http://passages.test/iiif/3/{media_id}",
            "type": "ImageService3",
            "profile": "level2",
        }
        info = client.get(service["id"].removeprefix("http://passages.test") + "/info.json")
        assert (info.get_json(force=True)["width"], info.get_json(force=True)["height"]) == (
            canvas["width"],
            canvas["height"],
        )
        image = client.get(body["id"].removeprefix("http://passages.test"))
        assert image.status_code == 200 and image.mimetype == body["format"]
        assert decode(image.data).size == (body["width"], body["height"])
        assert image.headers["X-IIIF-Source"] == "derivative"  # the stored JPEG, not re-encoded
        thumbnail = client.get(canvas["thumbnail"][0]["id"].removeprefix("http://passages.test"))
        assert thumbnail.headers["X-IIIF-Source"] == "derivative"
        sizes.append((canvas["width"], canvas["height"]))
    assert sizes == [(2400, 1600), (900, 1200)]


def test_manifest_as_plain_json_when_asked(client, story):
    response = client.get(
        f"/iiif/stories/{story.story_id}/manifest.json", headers={"Accept": "application/json"}
    )
    assert response.headers["Content-Type"] == "application/json"


def test_no_manifest_for_unpublished_withdrawn_or_imageless_stories(app, client, make_story):
    from webapp.services import review

    draft = make_story(photo(400, 300), publish=False)
    withdrawn = make_story(photo(400, 300))
    with app.app_context():
        in_action(review.withdraw, withdrawn.story_id, None, archivist_of(app))
    imageless = make_story()
    for story_id in (draft.story_id, withdrawn.story_id, imageless.story_id, 9999):
        response = client.get(f"/iiif/stories/{story_id}/manifest.json")
        assert response.status_code == 404
        assert response.headers["Access-Control-Allow-Origin"] == "*"


def test_collection_lists_the_manifests_of_its_published_stories(app, client, make_story):
    from webapp.services import collections as collection_service
    from webapp.services import review

    first = make_story(photo(400, 300), title="Premier")
    second = make_story(photo(400, 300), title="Second")
    later_withdrawn = make_story(photo(400, 300), title="Retiré")
    with app.app_context():
        archivist = archivist_of(app)
        fields = collection_service.CollectionFields(
            title="Marchés", slug="marches", introduction="Les *marchés* du Val-de-Marne.",
            published=True, featured=False,
        )  # fmt: skip
        record = in_action(collection_service.save_collection, fields, archivist)
        for story in (second, first, later_withdrawn):
            in_action(collection_service.add_story, record.id, story.story_id, archivist)
        in_action(review.withdraw, later_withdrawn.story_id, None, archivist)

    response = client.get("/iiif/collections/marches.json")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == PRESENTATION
    document = response.get_json(force=True)
    Collection(**document)
    assert document["label"] == {"none": ["Marchés"]}
    assert [item["id"] for item in document["items"]] == [
        f"http://passages.test/iiif/stories/{second.story_id}/manifest.json",
        f"http://passages.test/iiif/stories/{first.story_id}/manifest.json",
    ]
    assert all(item["type"] == "Manifest" for item in document["items"])

    top = client.get("/iiif/collections.json").get_json(force=True)
    Collection(**top)
    assert [item["id"] for item in top["items"]] == [
        "http://passages.test/iiif/collections/marches.json"
    ]


def test_unpublished_collection_has_no_iiif_collection(app, client):
    from webapp.services import collections as collection_service

    with app.app_context():
        archivist, _ = create_user_now("curator@example.org", "archivist", PASSWORD)
        fields = collection_service.CollectionFields(
            title="Brouillon", slug="brouillon", introduction="", published=False, featured=False
        )
        in_action(collection_service.save_collection, fields, archivist)
    assert client.get("/iiif/collections/brouillon.json").status_code == 404
    assert client.get("/iiif/collections.json").get_json(force=True)["items"] == []


def test_api_document_carries_the_manifest_and_each_image_service(
    app, client, make_story, make_user, api_token
):
    published = make_story(photo(800, 600))
    body = client.get(f"/api/v1/stories/{published.story_id}").get_json()
    assert body["manifest"] == (
        f"http://passages.test/iiif/stories/{published.story_id}/manifest.json"
    )
    service = body["media"][0]["iiif"]
    assert service == f"http://passages.test/iiif/3/{published.media_ids[0]}"
    assert (
        client.get(service.removeprefix("http://passages.test") + "/info.json").status_code == 200
    )

    draft = make_story(photo(800, 600), publish=False)
    token = api_token(make_user("archivist"))
    private = client.get(
        f"/api/v1/stories/{draft.story_id}", headers={"Authorization": f"Bearer {token}"}
    ).get_json()
    assert "manifest" not in private
    assert "iiif" not in private["media"][0]


def test_story_page_links_to_the_manifest_with_the_iiif_logo(client, make_story):
    story = make_story(photo(800, 600))
    page = client.get(f"/stories/{story.story_id}", follow_redirects=True).get_data(as_text=True)
    manifest = f"http://passages.test/iiif/stories/{story.story_id}/manifest.json"
    assert f'href="{manifest}?manifest=http%3A//passages.test/iiif/stories/' in page
    assert 'src="/static/iiif-logo.svg"' in page
    assert client.get("/static/iiif-logo.svg").status_code == 200

    imageless = make_story()
    page = client.get(f"/stories/{imageless.story_id}", follow_redirects=True).get_data(
        as_text=True
    )
    assert "iiif-logo.svg" not in page
