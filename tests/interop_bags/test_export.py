"""``passages export``: a BagIt bag of the published archive that the ``bagit`` library validates,
with a spreadsheet-safe stories.csv, the API's JSON per story and the images with checksums."""

from __future__ import annotations

import hashlib
import json

import bagit

from tests.interop_bags.conftest import invoke, read_stories_csv, unpack
from webapp.interop.commands import export_command


def test_export_is_a_valid_bag_of_published_stories_only(app, client, story, derive, tmp_path):
    published = story(1, 2, title="Le marché de Vitry", places=["Vitry-sur-Seine", "Oran"])
    story(3, publish=False, title="Pas encore relu")
    derive()
    out = tmp_path / "archive.zip"
    result = invoke(app, export_command, "--out", str(out))
    assert result.exit_code == 0, result.output

    folder = unpack(out, tmp_path / "unpacked")
    bag = bagit.Bag(str(folder))
    bag.validate()  # manifests, Payload-Oxum, tag manifest: raises on any mismatch
    assert "sha256" in bag.algorithms

    rows = read_stories_csv(folder)
    assert [r["title"] for r in rows] == ["Le marché de Vitry"]
    row = rows[0]
    assert row["places"] == "Vitry-sur-Seine|Oran"
    assert row["licence"] == "CC-BY-4.0" and row["language"] == "fr" and row["period"] == "1962"
    assert row["identifier"].endswith(f"/stories/{published}")
    names = row["images"].split("|")
    assert len(names) == 2
    for name, digest in zip(names, row["image_sha256"].split("|"), strict=True):
        assert hashlib.sha256((folder / "data" / name).read_bytes()).hexdigest() == digest

    # The story's JSON is the public API document.
    document = json.loads((folder / "data" / "stories" / f"{published}.json").read_text())
    assert document == client.get(f"/api/v1/stories/{published}").get_json()
    assert len(list((folder / "data" / "stories").glob("*.json"))) == 1

    # The images are the largest public derivative, byte for byte as the site serves it.
    served = client.get(document["media"][0]["derivatives"]["download"]).data
    assert (folder / "data" / names[0]).read_bytes() == served


def test_cells_that_spreadsheets_would_run_are_neutralised(app, story, derive, tmp_path):
    story(title='=HYPERLINK("http://evil.example","clic")', themes=["+33", "@home"])
    story(title="-- Souvenirs d'Alger")
    derive()
    out = tmp_path / "archive.zip"
    assert invoke(app, export_command, "--out", str(out)).exit_code == 0
    rows = read_stories_csv(unpack(out, tmp_path / "u"))
    titles = sorted(r["title"] for r in rows)
    assert titles == ["'-- Souvenirs d'Alger", '\'=HYPERLINK("http://evil.example","clic")']
    themes = {r["themes"] for r in rows}
    assert "'+33|@home" in themes  # the cell's start is what a spreadsheet reads
    readme = (next((tmp_path / "u").iterdir()) / "data" / "README.txt").read_text()
    assert "formula" in readme and "|" in readme


def test_collection_export_and_originals(app, story, derive, tmp_path):
    from tests.conftest import in_action
    from webapp.extensions import db
    from webapp.models import MediaAsset, User
    from webapp.services import collections

    inside = story(4, title="Dans la collection")
    story(5, title="Hors collection")
    derive()
    with app.app_context():
        keeper = db.session.scalar(db.select(User).where(User.email == "keeper@example.org"))
        fields = collections.CollectionFields(
            title="Usines", slug="usines", introduction="", published=True, featured=False
        )
        collection = in_action(collections.save_collection, fields, keeper)
        in_action(collections.add_story, collection.id, inside, keeper)
        original_sha = db.session.scalar(
            db.select(MediaAsset.sha256).where(MediaAsset.story_id == inside)
        )
    out = tmp_path / "usines.zip"
    result = invoke(app, export_command, "--out", str(out), "--collection", "usines", "--originals")
    assert result.exit_code == 0, result.output
    folder = unpack(out, tmp_path / "u")
    bagit.Bag(str(folder)).validate()
    (row,) = read_stories_csv(folder)
    assert row["title"] == "Dans la collection" and row["collections"] == "usines"
    assert row["image_sha256"] == original_sha  # the untouched original

    unknown = invoke(app, export_command, "--out", str(tmp_path / "x.zip"), "--collection", "nope")
    assert unknown.exit_code != 0 and "no collection" in unknown.output
