"""Export → import into an empty instance (its own data folder and database) → the same public
archive: titles, texts, places, periods, themes, licences, and the images by checksum."""

from __future__ import annotations

import hashlib

import pytest

from tests.conftest import _dispose, build_app, create_user_now
from tests.interop_bags.conftest import add_story, invoke, read_stories_csv, unpack
from tests.ops.conftest import derive_all
from webapp.interop.commands import export_command, import_command


def public_archive(app) -> list[dict]:
    """What the public sees of each story, keyed by title (ids differ between instances)."""
    from webapp.extensions import db
    from webapp.services.visibility import public_stories

    with app.app_context():
        return sorted(
            (
                {
                    "title": s.title,
                    "body": s.body,
                    "language": s.language,
                    "places": s.places,
                    "period": s.period,
                    "themes": s.themes,
                    "licence": s.licence,
                    "published": s.published_at.strftime("%Y-%m-%d %H:%M:%S"),
                    "images": [
                        (m.state, m.alt_text) for m in sorted(s.media, key=lambda m: m.position)
                    ],
                }
                for s in db.session.scalars(public_stories())
            ),
            key=lambda d: d["title"],
        )


def _describe_second_image(app, story_id: int, text: str) -> None:
    """An archivist describes only the second image: the first stays without a description."""
    from tests.conftest import in_action
    from webapp.extensions import db
    from webapp.models import MediaAsset, User
    from webapp.services import collections

    with app.app_context():
        keeper = db.session.scalar(db.select(User).where(User.email == "keeper@example.org"))
        media = db.session.scalars(
            db.select(MediaAsset)
            .where(MediaAsset.story_id == story_id)
            .order_by(MediaAsset.position)
        ).all()
        in_action(collections.describe_images, story_id, {media[1].id: text}, keeper)


@pytest.fixture
def second_instance(tmp_path):
    instance = build_app(tmp_path / "instance-b", SERVER_NAME="archive-b.test")
    with instance.app_context():
        create_user_now("admin@b.example.org", "admin")
    yield instance
    _dispose(instance)


def _sha_by_title(app, of: str) -> dict[str, list[str]]:
    from webapp.extensions import db
    from webapp.services.visibility import public_stories

    with app.app_context():
        return {
            s.title: [getattr(m, of) for m in sorted(s.media, key=lambda m: m.position)]
            for s in db.session.scalars(public_stories())
        }


@pytest.mark.parametrize(
    "originals",
    [
        pytest.param(False, id="public-images", marks=pytest.mark.slow),
        pytest.param(True, id="originals"),
    ],
)
def test_export_then_import_into_an_empty_instance_gives_the_same_archive(
    app, story, derive, second_instance, tmp_path, originals
):
    first = story(1, 2, title="Le marché de Vitry", places=["Vitry-sur-Seine", "Oran | Algérie"])
    _describe_second_image(app, first, "Le stand | les épices")
    story(3, title="-- Souvenirs", body="=SOMME(A1:A3) n'est pas une formule ici.",
          language="ar", period="1960s", themes=["exil", "famille"], licence="CC0-1.0")  # fmt: skip
    story(title="Sans image", language="zh-Hant", period="~1980")
    story(4, publish=False, title="Jamais publié")
    derive()
    bag = tmp_path / "bag.zip"
    options = ["--originals"] if originals else []
    assert invoke(app, export_command, "--out", str(bag), *options).exit_code == 0
    rows = read_stories_csv(unpack(bag, tmp_path / "unpacked"))

    result = invoke(second_instance, import_command, str(bag), "--as", "published")
    assert result.exit_code == 0, result.output
    assert "3 stories created" in result.stdout
    derive_all(second_instance)  # what the workers do after story.submitted

    assert public_archive(second_instance) == public_archive(app)
    imported = _sha_by_title(second_instance, "sha256")
    exported = {
        r["title"].lstrip("'"): [d for d in r["image_sha256"].split("|") if d] for r in rows
    }
    assert imported == exported
    if originals:
        assert imported == _sha_by_title(app, "sha256")  # the very same files
    else:
        from webapp.services import backends

        with app.app_context():  # the public derivative each image was exported as
            store = backends.object_store()
            served = {
                title: [hashlib.sha256(store.get(d["download"]["key"])).hexdigest() for d in derivs]
                for title, derivs in _sha_by_title(app, "derivatives").items()
            }
        assert imported == served

    # The same bag again, unpacked this time: nothing new.
    again = invoke(second_instance, import_command, str(tmp_path / "unpacked" / "bag"))
    assert again.exit_code == 0, again.output
    assert "0 stories created, 3 rows already imported" in again.stdout


def test_importing_a_sites_own_export_creates_nothing_and_brings_nothing_back(app, story, tmp_path):
    from tests.conftest import in_action
    from webapp.extensions import db
    from webapp.models import Story, User
    from webapp.services import review

    kept = story(title="Toujours là")
    withdrawn = story(title="Retirée ensuite")
    bag = tmp_path / "bag.zip"
    assert invoke(app, export_command, "--out", str(bag)).exit_code == 0
    with app.app_context():
        keeper = db.session.scalar(db.select(User).where(User.email == "keeper@example.org"))
        in_action(review.withdraw, withdrawn, "demande de la famille", keeper)
    result = invoke(
        app, import_command, str(bag), "--as", "published", "--by", "keeper@example.org"
    )
    assert result.exit_code == 0, result.output
    assert "0 stories created, 2 rows already imported" in result.stdout
    with app.app_context():
        statuses = {s.id: s.status for s in db.session.scalars(db.select(Story))}
    assert statuses == {kept: "published", withdrawn: "withdrawn"}


def _serve_at(app, public_url: str | None) -> None:
    """The site now answers at ``public_url`` (``None``: a command run without ``PUBLIC_URL``)."""
    import dataclasses

    settings = app.extensions["passages.settings"]
    app.config["SERVER_NAME"] = None  # as in production: the address comes from the request
    app.extensions["passages.settings"] = dataclasses.replace(settings, public_url=public_url)


@pytest.mark.parametrize("later_url", [None, "https://archive.example.org"])
def test_the_sites_own_export_is_recognised_after_the_address_changed(
    app, story, tmp_path, later_url
):
    """Exported while the site ran at http://127.0.0.1:5077, imported after a story was
    withdrawn from a command without PUBLIC_URL, or after a move to https and a new domain."""
    from tests.conftest import in_action
    from webapp.extensions import db
    from webapp.models import Story, User
    from webapp.services import review

    kept = story(title="Toujours là")
    withdrawn = story(title="Retirée ensuite")
    _serve_at(app, "http://127.0.0.1:5077")
    bag = tmp_path / "bag.zip"
    assert invoke(app, export_command, "--out", str(bag)).exit_code == 0
    rows = read_stories_csv(unpack(bag, tmp_path / "unpacked"))
    assert {r["identifier"] for r in rows} == {
        f"http://127.0.0.1:5077/stories/{kept}",
        f"http://127.0.0.1:5077/stories/{withdrawn}",
    }
    with app.app_context():
        keeper = db.session.scalar(db.select(User).where(User.email == "keeper@example.org"))
        in_action(review.withdraw, withdrawn, "demande de la famille", keeper)
    _serve_at(app, later_url)

    dry = invoke(app, import_command, str(bag), "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert "2 already imported" in dry.output
    result = invoke(
        app, import_command, str(bag), "--as", "published", "--by", "keeper@example.org"
    )
    assert result.exit_code == 0, result.output
    assert "0 stories created, 2 rows already imported" in result.stdout
    with app.app_context():
        statuses = {s.id: s.status for s in db.session.scalars(db.select(Story))}
    assert statuses == {kept: "published", withdrawn: "withdrawn"}


def test_a_bag_from_another_installation_at_the_same_address_is_imported(
    app, story, second_instance, tmp_path
):
    """Identifiers that look like this site's own (same address) but a bag written by another
    installation: its stories are new here, whatever their numbers."""
    story(title="Venue d'ailleurs")
    story(title="Elle aussi")
    _serve_at(app, "https://archive.example.org")
    bag = tmp_path / "bag.zip"
    assert invoke(app, export_command, "--out", str(bag)).exit_code == 0
    _serve_at(second_instance, "https://archive.example.org")
    # Stories with the same numbers already exist there.
    add_story(second_instance, title="Locale 1")
    add_story(second_instance, title="Locale 2")
    result = invoke(second_instance, import_command, str(bag), "--as", "published")
    assert result.exit_code == 0, result.output
    assert "2 stories created" in result.stdout
    titles = {s["title"] for s in public_archive(second_instance)}
    assert titles == {"Venue d'ailleurs", "Elle aussi", "Locale 1", "Locale 2"}


@pytest.mark.slow
def test_round_trip_into_an_instance_on_postgresql(app, story, derive, tmp_path, postgres_url):
    story(1, title="Vers PostgreSQL", places=["Saint-Denis"], themes=["école"])
    story(title="Sans image, vers PostgreSQL", language="pt-BR", period="1970s")
    derive()
    bag = tmp_path / "bag.zip"
    assert invoke(app, export_command, "--out", str(bag)).exit_code == 0
    target = build_app(tmp_path / "pg", DATABASE_URL=postgres_url, SERVER_NAME="pg.test")
    try:
        with target.app_context():
            create_user_now("admin@pg.example.org", "admin")
        first = invoke(target, import_command, str(bag), "--as", "published")
        assert first.exit_code == 0, first.output
        again = invoke(target, import_command, str(bag), "--as", "published")
        assert "0 stories created, 2 rows already imported" in again.stdout
        derive_all(target)
        assert public_archive(target) == public_archive(app)
    finally:
        _dispose(target)
