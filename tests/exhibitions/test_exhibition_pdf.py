"""A published collection prints as A3 panels and an A4 booklet, read back with pypdf.

What a school would notice: every published title is in the PDF and nothing withdrawn or erased
ever is; each QR code is also a link to the story's public page; the pages are A3 / A4; an
Arabic story is set right to left; while the PDF is being made the address says so (202 and
``Retry-After``) instead of serving an old file; images come from the originals, upright and in
sRGB.
"""

from __future__ import annotations

import io

import pypdf
import pytest
from PIL import Image

from tests.conftest import make_jpeg

A3 = (841.89, 1190.55)
A4 = (595.28, 841.89)


def _pdf(response) -> pypdf.PdfReader:
    assert response.status_code == 200, response.text[:300]
    assert response.mimetype == "application/pdf"
    return pypdf.PdfReader(io.BytesIO(response.data))


def _text(reader: pypdf.PdfReader) -> str:
    return "\n".join(page.extract_text() for page in reader.pages)


def _links(reader: pypdf.PdfReader) -> list[str]:
    found = []
    for page in reader.pages:
        for annotation in page.get("/Annots", []):
            annotation = annotation.get_object()
            if annotation.get("/Subtype") == "/Link" and "/A" in annotation:
                found.append(annotation["/A"].get("/URI"))
    return found


def _size(page) -> tuple[float, float]:
    return round(float(page.mediabox.width), 2), round(float(page.mediabox.height), 2)


def test_answers_202_until_built_then_prints_every_title_with_links_on_a3_and_a4(exhibit, client):
    first = exhibit.story("Le marché de Vitry", [make_jpeg(900, 600, seed=1)])
    second = exhibit.story("L'usine de Choisy", [make_jpeg(600, 900, seed=2)], places=["Choisy"])
    slug = exhibit.collection("Mémoires ouvrières", [first, second])

    waiting = client.get(f"/collections/{slug}/exhibition.pdf")
    assert waiting.status_code == 202
    assert int(waiting.headers["Retry-After"]) > 0
    assert "en cours de préparation" in waiting.text  # the page says so, in French by default
    as_json = client.get(f"/collections/{slug}/exhibition.pdf?format=booklet",
                         headers={"Accept": "application/json"})  # fmt: skip
    assert as_json.status_code == 202 and as_json.json["state"] == "requested"
    assert as_json.headers["Retry-After"]
    collection_id = exhibit.collection_id(slug)
    # Asked for once (by collection.changed's job or the first request), not once per request.
    assert exhibit.events("exhibition.requested") == [{"collection_id": collection_id}]

    assert exhibit.build(slug)
    panels = _pdf(client.get(f"/collections/{slug}/exhibition.pdf"))
    booklet = _pdf(client.get(f"/collections/{slug}/exhibition.pdf?format=booklet"))
    for reader, size in ((panels, A3), (booklet, A4)):
        assert len(reader.pages) == 3  # the title panel and one per story
        assert {_size(page) for page in reader.pages} == {size}
        text = _text(reader)
        assert "Mémoires ouvrières" in text
        assert "Le marché de Vitry" in text and "L'usine de Choisy" in text
        assert "Vitry-sur-Seine" in text and "1962" in text and "CC-BY-4.0" in text
        links = _links(reader)
        for story_id in (first, second):
            assert exhibit.story_url(story_id) in links
        # Each story's links sit on its own panel.
        assert exhibit.story_url(first) in _links_of(reader.pages[1])
        assert exhibit.story_url(second) in _links_of(reader.pages[2])
    # The links open the stories' pages (the permanent address redirects to the readable one).
    for story_id in (first, second):
        path = exhibit.story_url(story_id).removeprefix("http://passages.test")
        opened = client.get(path, follow_redirects=True)
        assert opened.status_code == 200 and f"/stories/{story_id}-" in opened.request.path


def _links_of(page) -> list[str]:
    return [a.get_object()["/A"]["/URI"] for a in page.get("/Annots", [])]


def test_a_withdrawn_or_erased_story_is_never_served_from_an_old_pdf(exhibit, client):
    from webapp.services import erasure, review

    kept = exhibit.story("Le marché de Vitry")
    withdrawn = exhibit.story("Une histoire retirée")
    erased = exhibit.story("Une histoire effacée")
    slug = exhibit.collection("Mémoires", [kept, withdrawn, erased])
    exhibit.build(slug)
    before = exhibit.objects()
    assert "Une histoire retirée" in _text(_pdf(client.get(f"/collections/{slug}/exhibition.pdf")))

    exhibit.act(review.withdraw, withdrawn, "à la demande de la famille")
    # At once, before any job ran: the stored PDF still shows it, so it is not served.
    assert client.get(f"/collections/{slug}/exhibition.pdf").status_code == 202

    from workers.exhibitions import story_changed

    assert story_changed(withdrawn) == [exhibit.collection_id(slug)]
    assert exhibit.objects() == {}  # the stale files are gone from the store too
    assert set(before)  # (they were there)
    exhibit.build(slug)
    text = _text(_pdf(client.get(f"/collections/{slug}/exhibition.pdf")))
    assert "Le marché de Vitry" in text and "Une histoire retirée" not in text
    assert exhibit.story_url(withdrawn) not in _links(
        _pdf(client.get(f"/collections/{slug}/exhibition.pdf?format=booklet"))
    )

    exhibit.act(erasure.erase_story, erased)
    assert client.get(f"/collections/{slug}/exhibition.pdf").status_code == 202
    story_changed(erased)
    assert exhibit.objects() == {}
    exhibit.build(slug)
    for fmt in ("panels", "booklet"):
        text = _text(_pdf(client.get(f"/collections/{slug}/exhibition.pdf?format={fmt}")))
        assert "Une histoire effacée" not in text and "Le marché de Vitry" in text


def test_the_events_that_change_a_collection_or_its_stories_rebuild_it(exhibit, client):
    from webapp.models import OutboxEvent
    from webapp.services import editing
    from workers.exhibitions import story_changed
    from workers.relay import jobs_for

    story = exhibit.story("Le marché de Vitry")
    slug = exhibit.collection("Mémoires", [story])
    exhibit.build(slug)
    assert client.get(f"/collections/{slug}/exhibition.pdf").status_code == 200

    def routed(event_type: str, payload: dict) -> set[str]:
        return {job.func for job in jobs_for(OutboxEvent(event_type=event_type, payload=payload))}

    for event_type in ("story.published", "story.withdrawn", "story.metadata_edited",
                       "story.erased"):  # fmt: skip
        assert "workers.exhibitions.story_changed" in routed(
            event_type, {"story_id": story, "actor_id": None}
        )
    assert "workers.exhibitions.build_exhibition" in routed(
        "collection.changed", {"collection_id": 1, "story_ids": [story]}
    )

    exhibit.act(editing.edit_metadata, story, {"title": "Le marché du samedi"})
    assert client.get(f"/collections/{slug}/exhibition.pdf").status_code == 202
    assert any(e["story_id"] == story for e in exhibit.events("story.metadata_edited"))
    requests_before = len(exhibit.events("exhibition.requested"))
    assert story_changed(story) == [exhibit.collection_id(slug)]
    assert len(exhibit.events("exhibition.requested")) > requests_before
    exhibit.build(slug)
    text = _text(_pdf(client.get(f"/collections/{slug}/exhibition.pdf")))
    assert "Le marché du samedi" in text and "Le marché de Vitry" not in text


def test_a_job_run_twice_writes_the_same_objects(exhibit):
    from webapp.extensions import db
    from webapp.models import Exhibition

    slug = exhibit.collection("Mémoires", [exhibit.story("Le marché", [make_jpeg(800, 600)])])
    fingerprint = exhibit.build(slug)
    first = exhibit.objects()
    assert sorted(first) == [f"exhibitions/{exhibit.collection_id(slug)}/{fingerprint}/{f}.pdf"
                             for f in ("booklet", "panels")]  # fmt: skip
    assert exhibit.build(slug) is None  # a second delivery finds the work done
    assert exhibit.objects() == first
    with exhibit.app.app_context():  # a delivery after the row was lost rebuilds: same bytes
        db.session.get(Exhibition, exhibit.collection_id(slug)).state = "building"
        db.session.commit()
    assert exhibit.build(slug) == fingerprint
    assert exhibit.objects() == first


def test_right_to_left_stories_are_set_right_to_left(exhibit, client):
    body = "وصلت جدتي إلى فيتري في عام ألف وتسعمائة واثنين وستين"
    story = exhibit.story("حكاية من الجزائر", language="ar", body=body, places=["الجزائر"])
    hebrew = exhibit.story("סיפור מהעיר", language="he", body="סבתא שלי הגיעה לויטרי")
    slug = exhibit.collection("Mémoires", [story, hebrew])
    exhibit.build(slug)
    reader = _pdf(client.get(f"/collections/{slug}/exhibition.pdf"))
    text = reader.pages[1].extract_text()
    assert body in text  # shaped, and extracted in its logical order
    assert "حكاية من الجزائر" in text and "الجزائر" in text
    assert "סבתא שלי הגיעה לויטרי" in reader.pages[2].extract_text()
    # Set from the right: the short line of the story starts right of the page's middle, where
    # a left-to-right line would start at the margin.
    assert _x_of(reader.pages[1], "وصلت") > A3[0] / 2
    assert _x_of(reader.pages[2], "סבתא") > A3[0] / 2


def test_a_long_separator_in_a_right_to_left_story_or_introduction_still_prints(exhibit, client):
    # A run of a thousand neutral characters in a right-to-left paragraph used to overflow the
    # PDF library's recursion and fail the whole exhibition for every story in it.
    body = "وصلت جدتي إلى فيتري\n" + "- " * 600 + "\nفي عام ألف وتسعمائة"
    story = exhibit.story("حكاية طويلة", language="ar", body=body)
    ornament = exhibit.story("بسم الله", language="ar", body="﷽" * 2000 + " قالت لي أمي")
    other = exhibit.story("Le quai de la gare", body="Nous sommes arrivés un matin.")
    slug = exhibit.collection("Séparateurs", [story, ornament, other])
    exhibit.build(slug)
    reader = _pdf(client.get(f"/collections/{slug}/exhibition.pdf"))
    assert "وصلت جدتي إلى فيتري" in reader.pages[1].extract_text()
    assert "قالت لي أمي" in reader.pages[2].extract_text()
    assert "Le quai de la gare" in reader.pages[3].extract_text()


def _x_of(page, word: str) -> float:
    """The x where the text run holding ``word`` starts on the page (points)."""
    found = []

    def visit(text, cm, tm, font, size):
        if word in text:
            found.append(cm[0] * tm[4] + cm[2] * tm[5] + cm[4])

    page.extract_text(visitor_text=visit)
    assert found, f"{word!r} not drawn on the page"
    return found[0]


def test_images_print_from_the_original_upright_in_srgb(exhibit, client):
    rotated = io.BytesIO()  # stored landscape, shown portrait (EXIF orientation 6)
    exif = Image.Exif()
    exif[0x0112] = 6
    Image.open(io.BytesIO(make_jpeg(3000, 2000))).save(rotated, "JPEG", exif=exif, quality=90)
    cmyk = io.BytesIO()
    Image.new("CMYK", (1200, 800), (0, 255, 255, 0)).save(cmyk, "JPEG", quality=95)
    story = exhibit.story("Photos", [rotated.getvalue(), cmyk.getvalue()])
    slug = exhibit.collection("Mémoires", [story])
    exhibit.build(slug)
    images = _pdf(client.get(f"/collections/{slug}/exhibition.pdf")).pages[1].images
    assert len(images) == 2
    main, red = (image.image for image in images)
    # Larger than any web derivative (1600 px): the original, decoded to the print size.
    assert (main.width, main.height) == (1600, 2400)
    assert red.mode == "RGB"
    r, g, b = red.getpixel((600, 400))
    assert r > 200 and g < 90 and b < 90  # red, not the inverted cyan of a raw CMYK copy


def test_only_published_collections_print_and_bad_formats_are_refused(exhibit, client):
    story = exhibit.story("Le marché de Vitry")
    draft = exhibit.collection("Brouillon", [story], published=False)
    assert client.get(f"/collections/{draft}/exhibition.pdf").status_code == 404
    assert client.get(f"/collections/{draft}/exhibition.pdf?format=booklet").status_code == 404
    assert client.get("/collections/nothing-here/exhibition.pdf").status_code == 404
    assert exhibit.events("exhibition.requested") == []
    assert exhibit.build(draft) is None and exhibit.objects() == {}

    slug = exhibit.collection("Publiée", [story])
    refused = client.get(f"/collections/{slug}/exhibition.pdf?format=poster")
    assert refused.status_code == 400 and "booklet" in refused.text


@pytest.mark.parametrize("role", [None, "contributor", "teacher"])
def test_the_build_progress_is_for_archivists_only(exhibit, client, login, role):
    slug = exhibit.collection("Mémoires", [exhibit.story("Le marché")])
    if role:
        login(role)
    response = client.get(f"/curation/collections/{exhibit.collection_id(slug)}/exhibition.json")
    assert response.status_code in (302, 401, 403)


def test_the_curation_screen_shows_the_build_and_its_progress(exhibit, client, login):
    from tests.public.htmlcheck import check_html
    from webapp.extensions import db
    from webapp.models import Exhibition

    slug = exhibit.collection("Mémoires", [exhibit.story("Le marché")])
    collection_id = exhibit.collection_id(slug)
    login("archivist")
    page = client.get(f"/curation/collections/{collection_id}")
    assert check_html(page.text) == []
    assert "Pas encore préparée" in page.text
    response = client.post(f"/curation/collections/{collection_id}/exhibition")
    assert response.status_code == 302
    assert client.get(f"/curation/collections/{collection_id}/exhibition.json").json["state"] == (
        "requested"
    )
    with exhibit.app.app_context():  # what the job writes as it goes
        row = db.session.get(Exhibition, collection_id)
        row.state, row.done, row.total = "building", 2, 5
        db.session.commit()
    page = client.get(f"/curation/collections/{collection_id}")
    assert 'value="2" max="5"' in page.text and "2 étapes faites sur 5" in page.text
    progress = client.get(f"/curation/collections/{collection_id}/exhibition.json").json
    assert (progress["state"], progress["done"], progress["total"]) == ("building", 2, 5)

    exhibit.build(slug)
    page = client.get(f"/curation/collections/{collection_id}")
    assert f"/collections/{slug}/exhibition.pdf?format=booklet" in page.text
    progress = client.get(f"/curation/collections/{collection_id}/exhibition.json").json
    assert progress["current"] and progress["bytes"]["panels"] > 1000
    public = client.get(f"/collections/{slug}")
    assert f"/collections/{slug}/exhibition.pdf" in public.text


def test_stored_pdfs_of_other_content_are_never_served_nor_rebuilt_on_every_request(
    exhibit, client
):
    from webapp.extensions import db
    from webapp.models import Exhibition

    slug = exhibit.collection("Mémoires", [exhibit.story("Le marché")])
    exhibit.build(slug)
    with exhibit.app.app_context():  # PDFs recorded for content the site no longer shows
        row = db.session.get(Exhibition, exhibit.collection_id(slug))
        row.built = row.wanted = "0" * 32
        row.requested_at = None
        db.session.commit()
    asked = len(exhibit.events("exhibition.requested"))
    for _ in range(3):
        response = client.get(f"/collections/{slug}/exhibition.pdf")
        assert response.status_code == 202 and response.headers["Retry-After"]
    assert len(exhibit.events("exhibition.requested")) == asked + 1
    exhibit.build(slug)
    assert client.get(f"/collections/{slug}/exhibition.pdf").status_code == 200
