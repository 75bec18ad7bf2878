"""The JSON the status and review pages poll for each image's state: what it says, and who may
read it (exactly who may read the page it belongs to)."""

from __future__ import annotations

import io

from tests.conftest import PASSWORD, make_jpeg, story_metadata, submit_story_now
from webapp.models import User


def _login(app, email: str):
    client = app.test_client()
    response = client.post("/login", data={"email": email, "password": PASSWORD})
    assert response.status_code in (302, 303), response.status_code
    return client


def _student(app, world):
    client = app.test_client()
    response = client.post(
        "/class-login",
        data={"code": world.class_code, "pseudonym": "Amina", "access_code": world.student_code},
    )
    assert response.status_code in (302, 303)
    return client


def _story_with_two_images(app, world) -> tuple[int, str, list[int]]:
    """A student's story (so it is in the teacher's queue) with two images still pending."""
    from webapp.extensions import db
    from webapp.services.submissions import IncomingImage

    with app.app_context():
        student = db.session.get(User, world.student)
        story = submit_story_now(
            story_metadata(title="Le jardin de Bobigny", alt_texts=["Le potager", "Le canal"]),
            [
                IncomingImage("potager.jpg", io.BytesIO(make_jpeg(800, 600, seed=1))),
                IncomingImage("canal.jpg", io.BytesIO(make_jpeg(640, 480, seed=2))),
            ],
            submitter=student,
        )
        return story.id, story.status_token, [m.id for m in story.media]


def _derive(app, media_id: int) -> None:
    """What the image worker does for one image: derivatives written, state ``ready``."""
    from webapp.extensions import db
    from webapp.media.imaging import build_derivatives
    from webapp.media.keys import derivative_key
    from webapp.models import MediaAsset
    from webapp.services import backends

    with app.app_context():
        media = db.session.get(MediaAsset, media_id)
        store = backends.object_store()
        written = {}
        for d in build_derivatives(store.get(media.original_key)):
            key = derivative_key(media.id, d.name, d.ext)
            store.put(key, d.data, content_type=d.mime)
            written[d.name] = {"key": key, "mime": d.mime, "width": d.width,
                               "height": d.height, "bytes": len(d.data)}  # fmt: skip
        media.derivatives = written
        media.state = "ready"
        db.session.commit()


def test_status_link_holder_sees_each_image_become_ready_with_its_thumbnail(app, world):
    story_id, token, (first, second) = _story_with_two_images(app, world)
    visitor = app.test_client()  # no account: the status link is the key

    before = visitor.get(f"/status/{token}/media.json")
    assert before.status_code == 200
    assert before.headers["Cache-Control"] == "private, no-store"
    body = before.get_json()
    assert body["done"] is False and body["counts"]["pending"] == 2
    assert [m["state"] for m in body["media"]] == ["pending", "pending"]
    assert [m["thumbnail"] for m in body["media"]] == [None, None]
    assert body["media"][0]["state_label"] == "en préparation"  # French, the default
    assert body["media"][0]["kind"] == "image"

    _derive(app, first)
    after = visitor.get(f"/status/{token}/media.json").get_json()
    ready = after["media"][0]
    assert ready["state"] == "ready" and ready["state_label"] == "prête"
    assert ready["alt_text"] == "Le potager"
    assert after["done"] is False and after["counts"] == {"pending": 1, "ready": 1, "failed": 0}
    picture = visitor.get(ready["thumbnail"]["url"])  # loads for the link holder, unpublished
    assert picture.status_code == 200 and picture.mimetype.startswith("image/")
    assert ready["thumbnail"]["width"] <= 400

    _derive(app, second)
    assert visitor.get(f"/status/{token}/media.json").get_json()["done"] is True


def test_status_json_answers_404_to_a_wrong_link(app, world):
    _story_with_two_images(app, world)
    response = app.test_client().get("/status/not-the-token/media.json")
    assert response.status_code == 404
    assert response.get_json()["error"]["code"] == "not_found"


def test_review_json_follows_the_review_page_rules(app, world):
    story_id, _token, _ids = _story_with_two_images(app, world)
    url = f"/moderation/stories/{story_id}/media.json"

    for email in ("teacher@example.org", "archivist@example.org", "admin@example.org"):
        client = _login(app, email)
        assert client.get(f"/moderation/stories/{story_id}").status_code == 200
        answer = client.get(url)
        assert answer.status_code == 200, email
        assert [m["filename"] for m in answer.get_json()["media"]] == ["potager.jpg", "canal.jpg"]

    other_teacher = _login(app, "other.teacher@example.org")
    assert other_teacher.get(f"/moderation/stories/{story_id}").status_code == 404
    assert other_teacher.get(url).status_code == 404
    member = _login(app, "member@example.org")
    assert member.get(url).status_code == 403
    student = _student(app, world)  # the author: has the status page, not the review page
    assert student.get(f"/moderation/stories/{story_id}").status_code == 403
    assert student.get(url).status_code == 403
    anonymous = app.test_client().get(url)
    assert anonymous.status_code in (302, 401)


def test_review_page_shows_images_beside_the_text_and_the_decision_first(app, world):
    story_id, _token, _ids = _story_with_two_images(app, world)
    html = _login(app, "teacher@example.org").get(f"/moderation/stories/{story_id}").text
    decision = html.index('class="decision"')
    assert decision < html.index('class="review-layout') < html.index("Consentement")
    layout = html[html.index('class="review-layout') :]
    assert layout.index('class="body"') < layout.index('class="gallery"')
    assert f'data-media-states="/moderation/stories/{story_id}/media.json"' in html
    assert html.count('data-state="pending"') == 2
    assert "0 images prêtes sur 2" in html
