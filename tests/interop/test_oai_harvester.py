"""A real harvester (Sickle, over HTTP to a running server) takes the whole archive: every verb,
paging through resumption tokens, a record changed in the middle of the harvest, deletions.

Slow: it serves the app on a loopback port in a thread.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from werkzeug.serving import make_server

pytestmark = pytest.mark.slow


@pytest.fixture
def served(app) -> Iterator[str]:
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/oai"
    finally:
        server.shutdown()
        thread.join(timeout=10)


def test_sickle_harvests_the_whole_archive_page_by_page(app, archive, served):
    from sickle import Sickle
    from sickle.oaiexceptions import IdDoesNotExist

    organisation = archive.organisation("Mémoires du Val-de-Marne")
    stories = [
        archive.story(title=f"Histoire {n}", organisation_id=organisation, images=n % 2)
        for n in range(7)
    ]
    hidden = archive.story(publish=False, title="Pas encore publiée")
    withdrawn = stories[3]
    archive.act("withdraw", withdrawn)
    collection = archive.collection("Les marchés", stories[:2])
    # The test app answers for passages.test only (SERVER_NAME), as a deployment answers for
    # its own name; the harvester says that name, as it would through DNS.
    harvester = Sickle(served, headers={"Host": "passages.test"}, timeout=30)

    identify = harvester.Identify()
    assert identify.deletedRecord == "persistent"
    assert identify.granularity == "YYYY-MM-DDThh:mm:ssZ"
    assert [f.metadataPrefix for f in harvester.ListMetadataFormats()] == ["oai_dc"]
    assert f"collection:{collection}" in [s.setSpec for s in harvester.ListSets()]

    records = harvester.ListRecords(metadataPrefix="oai_dc", ignore_deleted=False)
    seen = {}
    for number, record in enumerate(records):
        seen[record.header.identifier] = record
        if number == 2:  # in the middle of the harvest (pages hold two records)
            archive.edit(stories[-1], title="Histoire corrigée")
    expected = {f"oai:passages.test:stories/{s}" for s in stories}
    edited = f"oai:passages.test:stories/{stories[-1]}"
    assert set(seen) - {edited} == expected - {edited}
    assert f"oai:passages.test:stories/{hidden}" not in seen
    gone = seen[f"oai:passages.test:stories/{withdrawn}"]
    assert gone.deleted and gone.header.deleted and not hasattr(gone, "metadata")
    first = seen[f"oai:passages.test:stories/{stories[1]}"]
    assert first.metadata["title"] == ["Histoire 1"]
    assert first.metadata["publisher"] == ["Mémoires du Val-de-Marne"]
    assert first.metadata["identifier"][0].startswith("http://passages.test/stories/")
    assert len(first.metadata["relation"]) == 1

    # The next incremental harvest brings the edited record, as edited.
    since = identify.xml.findtext(".//{http://www.openarchives.org/OAI/2.0/}responseDate")
    again = {
        r.header.identifier: r
        for r in harvester.ListRecords(
            metadataPrefix="oai_dc", ignore_deleted=False, **{"from": since}
        )
    }
    assert again[edited].metadata["title"] == ["Histoire corrigée"]

    in_collection = harvester.ListIdentifiers(
        metadataPrefix="oai_dc", set=f"collection:{collection}"
    )
    assert {h.identifier for h in in_collection} == {
        f"oai:passages.test:stories/{s}" for s in stories[:2]
    }
    record = harvester.GetRecord(identifier=f"oai:passages.test:stories/{stories[0]}",
                                 metadataPrefix="oai_dc")  # fmt: skip
    assert record.metadata["title"] == ["Histoire 0"]
    with pytest.raises(IdDoesNotExist):
        harvester.GetRecord(
            identifier=f"oai:passages.test:stories/{hidden}", metadataPrefix="oai_dc"
        )
