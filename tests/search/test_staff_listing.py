"""Queues and the staff listing API lose nothing (issue 11.2).

Every list is the whole matching set, scoped in SQL, with its total and a cursor that reaches
every story; a teacher lists their classes' stories however old, and never another
organisation's. Data is written straight to the database and indexed through the real index.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

from tests.search.test_failures import _break_engine


@pytest.fixture
def archive(app):
    return make_archive(app)


def make_archive(app) -> dict[str, int]:
    """Two schools with a class each, an association, an archivist; returns ids."""
    from webapp.extensions import db
    from webapp.models import Organisation, SchoolClass, User

    with app.app_context():
        school = Organisation(name="Collège Romain Rolland", kind="school")
        other = Organisation(name="Collège Paul Éluard", kind="school")
        db.session.add_all([school, other])
        db.session.flush()
        people = {
            "archivist": User(email="a@example.org", display_name="A", role="archivist"),
            "teacher": User(
                email="t@example.org", display_name="T", role="teacher", organisation_id=school.id
            ),
            "other_teacher": User(
                email="o@example.org", display_name="O", role="teacher", organisation_id=other.id
            ),
            "contributor": User(email="c@example.org", display_name="C", role="contributor"),
        }
        db.session.add_all(people.values())
        db.session.flush()
        klass = SchoolClass(name="4e B", code="CLASSE4B", teacher_id=people["teacher"].id)
        other_class = SchoolClass(
            name="5e A", code="CLASSE5A", teacher_id=people["other_teacher"].id
        )
        db.session.add_all([klass, other_class])
        db.session.flush()
        student = User(display_name="Amina", role="student", class_id=klass.id)
        other_student = User(display_name="Léa", role="student", class_id=other_class.id)
        db.session.add_all([student, other_student])
        db.session.commit()
        ids = {name: user.id for name, user in people.items()}
        ids.update(
            school=school.id,
            other_school=other.id,
            class_id=klass.id,
            other_class_id=other_class.id,
            student=student.id,
            other_student=other_student.id,
        )
        return ids


def add_stories(app, specs: list[dict]) -> list[int]:
    """Insert stories (``title``, ``body``, ``status`` and any column) and index them."""
    from webapp.extensions import db
    from webapp.models import Story
    from webapp.services import backends
    from webapp.services.indexing import document_for

    with app.app_context():
        stories = []
        for spec in specs:
            values = {
                "body": "Un souvenir.",
                "language": "fr",
                "places": [],
                "themes": [],
                "licence": "CC-BY-4.0",
                "consent": {"contributor": True},
                "status": "submitted",
                **spec,
            }
            stories.append(Story(**values))
        db.session.add_all(stories)
        db.session.commit()
        backends.search_index().upsert_many(document_for(s) for s in stories)
        return [s.id for s in stories]


def follow(client, token: str, query: str) -> tuple[list[int], set[int]]:
    """Every id of a listing, following ``next``; and the totals each page reported."""
    headers = {"Authorization": f"Bearer {token}"}
    seen: list[int] = []
    totals: set[int] = set()
    url = f"/api/v1/stories?{query}"
    for _ in range(100):
        response = client.get(url, headers=headers)
        assert response.status_code == 200, response.text
        body = response.json
        totals.add(body["total"])
        seen.extend(r["id"] for r in body["results"])
        if body["next"] is None:
            return seen, totals
        url = f"/api/v1/stories?{query}&cursor={body['next']}"
    raise AssertionError("the listing never ended")


@pytest.mark.parametrize("count", [130, 620])
def test_word_search_of_the_archive_reaches_every_matching_story(
    app, client, archive, api_token, count
) -> None:
    statuses = ["submitted", "in_review", "published", "rejected", "withdrawn", "draft"]
    matching = add_stories(
        app,
        [
            # Long bodies rank low: with a top-n search most would fall outside.
            {"title": f"Histoire {n}", "body": "usine " + "mot " * (n % 50), "status": s}
            for n, s in ((n, statuses[n % len(statuses)]) for n in range(count))
        ],
    )
    others = add_stories(app, [{"title": f"Autre {n}", "body": "gare"} for n in range(20)])
    token = api_token(archive["archivist"])

    seen, totals = follow(client, token, "q=usine&limit=200")
    assert sorted(seen) == sorted(matching) and len(seen) == len(set(seen))
    assert totals == {count}
    assert not set(others) & set(seen)
    # Positive control for the negative above: the other stories are listed by their word.
    assert sorted(follow(client, token, "q=gare")[0]) == sorted(others)

    submitted = [i for n, i in enumerate(matching) if statuses[n % len(statuses)] == "submitted"]
    seen, totals = follow(client, token, "q=usine&status=submitted&limit=37")
    assert seen == sorted(submitted) and totals == {len(submitted)}


def test_the_moderation_queue_shows_the_total_and_pages_through_every_match(
    app, client, archive, login
) -> None:
    matching = add_stories(
        app, [{"title": f"Témoignage {n}", "body": "gare " + "mot " * n} for n in range(140)]
    )
    add_stories(app, [{"title": "Sans rapport", "body": "usine"}])
    login("archivist")
    seen: list[int] = []
    url = "/moderation/?q=gare&status=submitted"
    for _ in range(10):
        html = client.get(url).text
        assert "140" in re.sub(r"\s+", " ", html)
        seen.extend(int(i) for i in re.findall(r'name="story_id" value="(\d+)"', html))
        found = re.search(r'<a rel="next" href="([^"]+)"', html)
        if not found:
            break
        url = found.group(1).replace("&amp;", "&")
    assert sorted(seen) == sorted(matching)


def test_a_teacher_lists_an_old_story_of_their_class_and_nothing_of_another_organisation(
    app, client, archive, api_token, login
) -> None:
    long_ago = datetime.now(UTC) - timedelta(days=3 * 365)
    (old,) = add_stories(
        app,
        [
            {
                "title": "Le vieux cahier",
                "class_id": archive["class_id"],
                "submitted_by_id": archive["student"],
                "organisation_id": archive["school"],
                "created_at": long_ago,
            }
        ],
    )
    # Six hundred newer stories elsewhere: another school's class, its organisation, and none.
    others = add_stories(
        app,
        [
            {
                "title": f"Ailleurs {n}",
                "class_id": archive["other_class_id"] if n % 3 == 0 else None,
                "submitted_by_id": archive["other_student"] if n % 3 == 0 else None,
                "organisation_id": archive["other_school"] if n % 3 != 2 else None,
            }
            for n in range(600)
        ],
    )
    (draft,) = add_stories(
        app,
        [
            {
                "title": "Brouillon",
                "status": "draft",
                "class_id": archive["class_id"],
                "submitted_by_id": archive["student"],
            }
        ],
    )
    (by_org,) = add_stories(
        app, [{"title": "Par l'établissement", "organisation_id": archive["school"]}]
    )

    seen, totals = follow(client, api_token(archive["teacher"]), "")
    assert sorted(seen) == sorted([old, by_org]) and totals == {2}
    assert draft not in seen  # a student's draft stays theirs
    other_seen, _ = follow(client, api_token(archive["other_teacher"]), "limit=200")
    # Positive control: the other teacher does list their own organisation's stories.
    assert old not in other_seen and by_org not in other_seen
    assert set(other_seen) == {i for n, i in enumerate(others) if n % 3 == 0 or n % 3 == 1}
    assert follow(client, api_token(archive["contributor"]), "")[0] == []

    login("teacher")  # a different teacher account, with no class: sees nothing
    assert "Le vieux cahier" not in client.get("/moderation/").text


def test_the_teacher_queue_page_shows_the_old_story(app, client, archive) -> None:
    from tests.conftest import PASSWORD
    from webapp.extensions import db
    from webapp.models import User

    long_ago = datetime.now(UTC) - timedelta(days=3 * 365)
    add_stories(
        app,
        [{"title": f"Récent {n}", "organisation_id": archive["other_school"]} for n in range(550)]
        + [
            {
                "title": "Le vieux cahier",
                "class_id": archive["class_id"],
                "submitted_by_id": archive["student"],
                "created_at": long_ago,
            }
        ],
    )
    with app.app_context():
        teacher = db.session.get(User, archive["teacher"])
        teacher.set_password(PASSWORD)
        db.session.commit()
    response = client.post("/login", data={"email": "t@example.org", "password": PASSWORD})
    assert response.status_code == 302
    html = client.get("/moderation/").text
    assert "Le vieux cahier" in html and "Récent" not in html


def test_bad_listing_parameters_get_specific_errors(app, client, archive, api_token) -> None:
    headers = {"Authorization": f"Bearer {api_token(archive['archivist'])}"}
    for query, field in [
        ("cursor=nonsense", "cursor"),
        ("status=lost", "status"),
        ("organisation=abc", "organisation"),
        ("limit=0", "limit"),
        ("order=sideways", "order"),
    ]:
        response = client.get(f"/api/v1/stories?{query}", headers=headers)
        assert response.status_code == 400, query
        assert response.json["error"]["field"] == field
    assert client.get("/api/v1/stories", headers=headers).status_code == 200  # control
    # Without a token it is the public listing (published stories only), never the staff one.
    public = client.get("/api/v1/stories")
    assert public.status_code == 200
    assert all("status" not in story for story in public.json["results"])
    assert client.get("/api/v1/stories?status=lost").status_code == 400


def test_a_failed_word_search_is_not_an_empty_queue(app, client, archive, api_token, login) -> None:
    add_stories(app, [{"title": "Le marché", "body": "usine"}])
    token = api_token(archive["archivist"])
    assert follow(client, token, "q=usine")[1] == {1}  # positive control
    login("archivist")
    assert "Le marché" in client.get("/moderation/?q=usine").text
    _break_engine(app)
    api = client.get("/api/v1/stories?q=usine", headers={"Authorization": f"Bearer {token}"})
    assert api.status_code == 503 and api.json["error"]["code"] == "search_unavailable"
    page = client.get("/moderation/?q=usine")
    assert page.status_code == 503
    assert "Le marché" not in page.text
    # Without words the queue does not need the index and keeps working.
    assert "Le marché" in client.get("/moderation/").text


def _token(app, user_id: int) -> str:
    from webapp.extensions import db
    from webapp.models import ApiToken, User

    with app.app_context():
        row, token = ApiToken.issue(db.session.get(User, user_id), "test")
        db.session.add(row)
        db.session.commit()
        return token


@pytest.mark.postgres
def test_the_listing_scopes_and_pages_the_same_on_postgresql(tmp_path, postgres_url) -> None:
    from tests.conftest import _dispose, build_app

    app = build_app(tmp_path / "data", DATABASE_URL=postgres_url)
    try:
        archive = make_archive(app)
        (old,) = add_stories(
            app,
            [
                {
                    "title": "Le vieux cahier",
                    "body": "usine",
                    "class_id": archive["class_id"],
                    "submitted_by_id": archive["student"],
                }
            ],
        )
        others = add_stories(
            app,
            [
                {
                    "title": f"Ailleurs {n}",
                    "body": "usine",
                    "organisation_id": archive["other_school"],
                }
                for n in range(120)
            ],
        )
        client = app.test_client()
        seen, totals = follow(client, _token(app, archive["teacher"]), "")
        assert seen == [old] and totals == {1}
        seen, totals = follow(client, _token(app, archive["archivist"]), "q=usine&limit=50")
        assert seen == sorted([old, *others]) and totals == {121}
        seen, _ = follow(client, _token(app, archive["other_teacher"]), "q=usine&limit=50")
        assert seen == sorted(others)
    finally:
        _dispose(app)
