"""OAI-PMH 2.0 at /oai, as a harvester meets it: every answer is HTTP 200 and valid against the
official OAI-PMH and oai_dc schemas (cached in tests/interop/xsd, checked offline), lists page
with resumption tokens that survive changes, and nothing unpublished ever shows.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.interop.xmlschemas import assert_valid_oai

OAI = "{http://www.openarchives.org/OAI/2.0/}"
DC = "{http://purl.org/dc/elements/1.1/}"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"


def oai_get(client, query: str | bytes, method: str = "GET"):
    """One protocol request; asserts the HTTP 200 and the schemas, returns the parsed root."""
    if method == "POST":
        response = client.post("/oai", data=query, content_type="application/x-www-form-urlencoded")
    else:  # raw bytes go as the WSGI environ carries them (latin-1), undecoded
        raw = query.decode("latin-1") if isinstance(query, bytes) else query
        response = client.get("/oai", query_string=raw)
    assert response.status_code == 200
    assert response.mimetype == "text/xml"
    return assert_valid_oai(response.data)


def error_code(root) -> str | None:
    error = root.find(f"{OAI}error")
    return error.get("code") if error is not None else None


def identifier(story_id: int) -> str:
    return f"oai:passages.test:stories/{story_id}"


def harvest(client, query: str) -> tuple[list, list[str]]:
    """Follow resumption tokens to the end; return the headers and the responseDates."""
    headers, dates = [], []
    root = oai_get(client, query)
    verb = query.split("verb=")[1].split("&")[0]
    while True:
        dates.append(root.findtext(f"{OAI}responseDate"))
        if error_code(root) == "noRecordsMatch":
            return headers, dates
        assert error_code(root) is None, root.findtext(f"{OAI}error")
        container = root.find(f"{OAI}{verb}")
        headers += list(container.iter(f"{OAI}header"))
        token = container.findtext(f"{OAI}resumptionToken")
        if not token:
            return headers, dates
        root = oai_get(client, {"verb": verb, "resumptionToken": token})


def ids_of(headers) -> list[str]:
    return [h.findtext(f"{OAI}identifier") for h in headers]


def test_identify_describes_a_repository_that_keeps_deletions_to_the_second(client, archive):
    archive.story()
    root = oai_get(client, "verb=Identify")
    identify = root.find(f"{OAI}Identify")
    assert identify.findtext(f"{OAI}baseURL") == "http://passages.test/oai"
    assert identify.findtext(f"{OAI}protocolVersion") == "2.0"
    assert identify.findtext(f"{OAI}deletedRecord") == "persistent"
    assert identify.findtext(f"{OAI}granularity") == "YYYY-MM-DDThh:mm:ssZ"
    assert identify.findtext(f"{OAI}earliestDatestamp").endswith("Z")
    assert root.find(f"{OAI}request").attrib == {"verb": "Identify"}


def test_a_published_story_is_harvested_as_dublin_core_with_every_public_fact(client, archive):
    organisation = archive.organisation("Mémoires du Val-de-Marne")
    story_id = archive.story(
        images=2,
        organisation_id=organisation,
        title="Les épices du samedi",
        places=["Vitry-sur-Seine", "Oran"],
        period="1962-1975",
        themes=["work", "family"],
        language="fr",
        licence="CC-BY-SA-4.0",
    )
    root = oai_get(
        client, f"verb=GetRecord&metadataPrefix=oai_dc&identifier={identifier(story_id)}"
    )
    record = root.find(f"{OAI}GetRecord/{OAI}record")
    assert record.find(f"{OAI}header").get("status") is None
    assert f"organisation:{organisation}" in [s.text for s in record.iter(f"{OAI}setSpec")]
    dc = record.find(f"{OAI}metadata")[0]

    def values(name: str) -> list[str]:
        return [e.text for e in dc.iter(f"{DC}{name}")]

    assert values("title") == ["Les épices du samedi"]
    assert dc.find(f"{DC}title").get(XML_LANG) == "fr"
    assert "samedi" in values("description")[0]
    assert values("subject") == ["work", "family"]
    assert values("coverage") == ["Vitry-sur-Seine", "Oran", "1962-1975"]
    assert values("language") == ["fr"]
    assert values("rights") == ["https://creativecommons.org/licenses/by-sa/4.0/", "CC-BY-SA-4.0"]
    assert values("creator") == ["Mémoires du Val-de-Marne"]
    assert values("publisher") == ["Mémoires du Val-de-Marne"]
    assert values("date") == [datetime.now(UTC).date().isoformat()]
    (public_url,) = values("identifier")
    assert public_url.startswith(f"http://passages.test/stories/{story_id}-")
    assert client.get(public_url).status_code == 200
    relations = values("relation")
    assert len(relations) == 2
    for url in relations:  # the images' public addresses answer, as JPEG
        image = client.get(url)
        assert image.status_code == 200 and image.mimetype == "image/jpeg"


def test_nothing_unpublished_is_ever_harvested(client, archive):
    published = archive.story(title="Publiée")
    waiting = archive.story(publish=False, title="En attente")
    archive.act("start_review", waiting)
    draft_like = archive.story(publish=False, title="Soumise")
    headers, _ = harvest(client, "verb=ListIdentifiers&metadataPrefix=oai_dc")
    assert ids_of(headers) == [identifier(published)]
    records, _ = harvest(client, "verb=ListRecords&metadataPrefix=oai_dc")
    assert ids_of(records) == [identifier(published)]
    for hidden in (waiting, draft_like):
        root = oai_get(
            client, f"verb=GetRecord&metadataPrefix=oai_dc&identifier={identifier(hidden)}"
        )
        assert error_code(root) == "idDoesNotExist"
        root = oai_get(client, f"verb=ListMetadataFormats&identifier={identifier(hidden)}")
        assert error_code(root) == "idDoesNotExist"


def test_a_withdrawn_story_stays_a_deleted_header_and_its_page_is_gone(client, archive):
    organisation = archive.organisation("Association Passerelles")
    story_id = archive.story(organisation_id=organisation, title="Retirée bientôt")
    url = oai_get(
        client, f"verb=GetRecord&metadataPrefix=oai_dc&identifier={identifier(story_id)}"
    ).findtext(f".//{DC}identifier")
    archive.act("withdraw", story_id, "asked by the family")

    root = oai_get(
        client, f"verb=GetRecord&metadataPrefix=oai_dc&identifier={identifier(story_id)}"
    )
    header = root.find(f"{OAI}GetRecord/{OAI}record/{OAI}header")
    assert header.get("status") == "deleted"
    assert root.find(f".//{OAI}metadata") is None
    assert (
        b"Retir"
        not in client.get(
            "/oai",
            query_string=f"verb=ListRecords&metadataPrefix=oai_dc&set=organisation:{organisation}",
        ).data
    )
    headers, _ = harvest(
        client, f"verb=ListIdentifiers&metadataPrefix=oai_dc&set=organisation:{organisation}"
    )
    assert [h.get("status") for h in headers] == ["deleted"]  # set harvesters hear of it too
    page = client.get(url)
    assert page.status_code == 410
    assert b"Retir" not in page.data
    assert client.get(f"/stories/{story_id}").status_code == 410


def test_an_erased_story_stays_a_deleted_header_that_keeps_nothing_of_it(app, client, archive):
    story_id = archive.story(title="Effacée", body="Un texte à effacer entièrement.")
    archive.erase(story_id)
    records, _ = harvest(client, "verb=ListRecords&metadataPrefix=oai_dc")
    assert ids_of(records) == [identifier(story_id)]
    assert records[0].get("status") == "deleted"
    response = client.get("/oai", query_string="verb=ListRecords&metadataPrefix=oai_dc")
    assert b"effacer" not in response.data and "Effacée".encode() not in response.data
    assert client.get(f"/stories/{story_id}").status_code == 410
    with app.app_context():
        from webapp.extensions import db
        from webapp.models import PublicRecord

        record = db.session.get(PublicRecord, story_id)
        assert record.deleted and record.fingerprint is None
    never_published = archive.story(publish=False)
    archive.erase(never_published)
    assert client.get(f"/stories/{never_published}").status_code == 404
    assert (
        error_code(
            oai_get(
                client,
                f"verb=GetRecord&metadataPrefix=oai_dc&identifier={identifier(never_published)}",
            )
        )
        == "idDoesNotExist"
    )


def test_sets_per_collection_and_per_organisation_select_records(client, archive):
    first = archive.organisation("École Romain-Rolland")
    second = archive.organisation("Centre social des Portes")
    a = archive.story(organisation_id=first, title="A")
    b = archive.story(organisation_id=second, title="B")
    c = archive.story(organisation_id=second, title="C")
    markets = archive.collection("Les marchés", [a, c])
    draft_collection = archive.collection("Brouillon", [b], published=False)

    sets = oai_get(client, "verb=ListSets").find(f"{OAI}ListSets")
    specs = {s.findtext(f"{OAI}setSpec"): s.findtext(f"{OAI}setName") for s in sets}
    assert specs[f"collection:{markets}"] == "Les marchés"
    assert specs[f"organisation:{first}"] == "École Romain-Rolland"
    assert f"collection:{draft_collection}" not in specs

    def members(set_spec: str) -> set[str]:
        return set(
            ids_of(harvest(client, f"verb=ListIdentifiers&metadataPrefix=oai_dc&set={set_spec}")[0])
        )

    assert members(f"collection:{markets}") == {identifier(a), identifier(c)}
    assert members(f"organisation:{second}") == {identifier(b), identifier(c)}
    assert members("organisation") == {identifier(a), identifier(b), identifier(c)}
    assert members(f"collection:{draft_collection}") == set()

    archive.publish_collection(draft_collection, True)  # b's sets changed: its datestamp moves
    assert members(f"collection:{draft_collection}") == {identifier(b)}
    archive.publish_collection(markets, False)
    assert members(f"collection:{markets}") == set()


def _age_records(app, **ages: timedelta) -> None:
    """Move the records' datestamps into the past (the clock, not the content, is simulated)."""
    from webapp.extensions import db
    from webapp.models import PublicRecord
    from webapp.unit_of_work import unit_of_work

    with app.app_context(), unit_of_work():
        for story_id, age in ages.items():
            record = db.session.get(PublicRecord, int(story_id))
            record.changed_at = datetime.now(UTC) - age


def test_from_and_until_select_by_datestamp_at_second_or_day_granularity(app, client, archive):
    old = archive.story(title="Ancienne")
    recent = archive.story(title="Récente")
    _age_records(app, **{str(old): timedelta(days=3), str(recent): timedelta(minutes=5)})
    now = datetime.now(UTC)
    two_days_ago = (now - timedelta(days=2)).strftime("%Y-%m-%d")
    ten_minutes_ago = (now - timedelta(minutes=10)).strftime("%Y-%m-%dT%H:%M:%SZ")

    def listed(query: str) -> set[str]:
        return set(
            ids_of(harvest(client, "verb=ListIdentifiers&metadataPrefix=oai_dc&" + query)[0])
        )

    assert listed(f"from={two_days_ago}") == {identifier(recent)}
    assert listed(f"until={two_days_ago}") == {identifier(old)}
    assert listed(f"from={ten_minutes_ago}") == {identifier(recent)}
    assert listed(f"until={ten_minutes_ago}") == {identifier(old)}
    datestamp = harvest(
        client, f"verb=ListIdentifiers&metadataPrefix=oai_dc&from={ten_minutes_ago}"
    )[0][0].findtext(f"{OAI}datestamp")
    assert listed(f"from={datestamp}&until={datestamp}") == {identifier(recent)}  # inclusive
    root = oai_get(
        client,
        f"verb=ListRecords&metadataPrefix=oai_dc&from={two_days_ago}&until={ten_minutes_ago}",
    )
    assert error_code(root) == "badArgument"  # mixed granularities


def test_paging_sees_each_record_once_while_records_change(app, client, archive):
    stories = [archive.story(title=f"Histoire {n}") for n in range(7)]
    first = oai_get(client, "verb=ListRecords&metadataPrefix=oai_dc")
    started = first.findtext(f"{OAI}responseDate")
    page = first.find(f"{OAI}ListRecords")
    seen = ids_of(page.iter(f"{OAI}header"))
    assert len(seen) == 2
    token = page.find(f"{OAI}resumptionToken")
    assert token.get("completeListSize") == "7" and token.get("cursor") == "0"
    # During the harvest: one record already sent and one not yet reached change.
    sent, ahead = int(seen[0].rsplit("/", 1)[1]), stories[-1]
    archive.edit(sent, title="Histoire revue")
    archive.edit(ahead, title="Histoire corrigée")
    root = oai_get(client, {"verb": "ListRecords", "resumptionToken": token.text})
    while True:
        page = root.find(f"{OAI}ListRecords")
        seen += ids_of(page.iter(f"{OAI}header"))
        token = page.find(f"{OAI}resumptionToken")
        if not token.text:
            break
        root = oai_get(client, {"verb": "ListRecords", "resumptionToken": token.text})
    assert len(seen) == len(set(seen))  # never twice in one harvest
    unchanged = {identifier(s) for s in stories} - {identifier(ahead)}
    assert unchanged <= set(seen)
    # The next incremental harvest, from this one's first responseDate, brings both changes.
    later, _ = harvest(client, f"verb=ListRecords&metadataPrefix=oai_dc&from={started}")
    assert {identifier(sent), identifier(ahead)} <= set(ids_of(later))


def test_a_datestamp_moves_when_public_content_changes_and_only_then(app, client, archive):
    story_id = archive.story(title="Datée")
    _age_records(app, **{str(story_id): timedelta(days=1)})

    def stamp() -> str:
        root = oai_get(
            client, f"verb=GetRecord&metadataPrefix=oai_dc&identifier={identifier(story_id)}"
        )
        return root.findtext(f".//{OAI}datestamp")

    before = stamp()
    from webapp.extensions import db
    from webapp.models import Story
    from webapp.unit_of_work import unit_of_work

    with app.app_context(), unit_of_work():  # something the public never sees
        db.session.get(Story, story_id).consent = {"contributor": True, "noted": "by phone"}
    assert stamp() == before
    archive.edit(story_id, themes=["work", "school"])
    assert stamp() > before


def test_post_answers_as_get_does(client, archive):
    story_id = archive.story()
    root = oai_get(
        client,
        f"verb=GetRecord&metadataPrefix=oai_dc&identifier={identifier(story_id)}",
        method="POST",
    )
    assert root.find(f".//{OAI}identifier").text == identifier(story_id)


PROTOCOL_ERRORS = [
    ("", "badVerb"),
    ("verb=Harvest", "badVerb"),
    ("verb=Identify&verb=Identify", "badVerb"),
    ("verb=Identify&metadataPrefix=oai_dc", "badArgument"),
    ("verb=ListRecords", "badArgument"),
    ("verb=ListRecords&metadataPrefix=oai_dc&metadataPrefix=oai_dc", "badArgument"),
    ("verb=ListRecords&metadataPrefix=", "badArgument"),
    ("verb=ListRecords&metadataPrefix=oai_dc&from=2026-13-01", "badArgument"),
    ("verb=ListRecords&metadataPrefix=oai_dc&from=2026-01-01T10:00:00", "badArgument"),
    ("verb=ListRecords&metadataPrefix=oai_dc&from=2026-02-01&until=2026-01-01", "badArgument"),
    ("verb=ListRecords&metadataPrefix=oai_dc&set=a b", "badArgument"),
    ("verb=ListRecords&resumptionToken=x&metadataPrefix=oai_dc", "badArgument"),
    ("verb=GetRecord&identifier=oai:passages.test:stories/1", "badArgument"),
    ("verb=ListRecords&metadataPrefix=marc21", "cannotDisseminateFormat"),
    (
        "verb=GetRecord&metadataPrefix=oai_dc&identifier=oai:passages.test:stories/99",
        "idDoesNotExist",
    ),
    (
        "verb=GetRecord&metadataPrefix=oai_dc&identifier=oai:elsewhere.org:stories/1",
        "idDoesNotExist",
    ),
    ("verb=ListRecords&metadataPrefix=oai_dc&until=2000-01-01", "noRecordsMatch"),
    ("verb=ListRecords&metadataPrefix=oai_dc&set=collection:999", "noRecordsMatch"),
    ("verb=ListRecords&resumptionToken=not-a-token", "badResumptionToken"),
    ("verb=ListIdentifiers&resumptionToken=eyJ2IjoxfQ", "badResumptionToken"),
    ("verb=ListSets&resumptionToken=abc", "badResumptionToken"),
]


def test_every_protocol_error_is_a_200_with_its_code(client, archive):
    archive.story()
    for query, code in PROTOCOL_ERRORS:
        root = oai_get(client, query)
        assert error_code(root) == code, query
        request_attributes = root.find(f"{OAI}request").attrib
        if code in ("badVerb", "badArgument"):
            assert request_attributes == {}  # the protocol forbids echoing a malformed request
        else:
            assert request_attributes["verb"] in query


UNCARRIABLE_ARGUMENTS = [
    b"verb=Identify%01",
    b"verb=%ED%A0%80",
    b"verb=ListRecords&metadataPrefix=oai_dc%00",
    b"verb=ListRecords&metadataPrefix=oai_dc&set=%EF%BF%BE",
    b"verb=GetRecord&metadataPrefix=oai_dc&identifier=oai:x%FF%FE%01",
    b"verb=ListRecords&resumptionToken=%ED%A0%80%01%1B%EF%BF%BF",
    b"verb=ListRecords&resumptionToken=%C3%28",
    b"verb=Identify&%01%02=%03",
    b"verb=ListRecords&metadataPrefix=oai_dc&from=%F0%9F%98%80",
]


def test_arguments_xml_cannot_carry_still_get_a_well_formed_valid_answer(client, archive):
    archive.story()
    for query in UNCARRIABLE_ARGUMENTS:
        for method in ("GET", "POST"):
            root = oai_get(client, query, method=method)
            assert error_code(root) in ("badVerb", "badArgument", "badResumptionToken"), query


def test_stories_holding_characters_xml_cannot_carry_are_harvested_well_formed(client, archive):
    story_id = archive.story(title="Titre")
    archive.edit(story_id, body="Un\x01texte\x1b avec \ufffe dedans")
    root = oai_get(client, "verb=ListRecords&metadataPrefix=oai_dc")
    description = root.find(f".//{DC}description").text
    assert description.startswith("Un\ufffdtexte\ufffd avec")
