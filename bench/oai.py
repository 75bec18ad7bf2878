"""How fast a harvester takes the whole archive over OAI-PMH, against the public read API.

Builds a throw-away archive of N published stories (one unit of work each way a bulk import
would, so the public-record hook runs for every story), then times, through the app's test
client (no network): a full ``ListRecords`` harvest following resumption tokens, a full
``ListIdentifiers`` harvest, and — the baseline — the public listing ``GET /api/v1/stories``
followed by cursor over the same stories. Prints records/s and the ratios.

    python bench/oai.py [--stories 2000] [--page 100]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

NS = "{http://www.openarchives.org/OAI/2.0/}"


def build(stories: int, page: int):
    from tests.conftest import build_app

    app = build_app(Path(tempfile.mkdtemp(prefix="bench-oai-")) / "data",
                    PASSAGES_OAI_PAGE_SIZE=str(page))  # fmt: skip
    from webapp.models import Organisation, Story, utcnow
    from webapp.unit_of_work import unit_of_work

    started = time.perf_counter()
    with app.app_context():
        with unit_of_work() as uow:
            organisation = uow.add(Organisation(name="Mémoires du 94", kind="association"))
        for n in range(stories):
            with unit_of_work() as uow:
                uow.add(Story(title=f"Histoire {n}", body="Au marché de Vitry. " * 40,
                              language="fr", places=["Vitry-sur-Seine", "Oran"], period="1962",
                              themes=["work", "family"], licence="CC-BY-4.0",
                              consent={"contributor": True}, status="published",
                              published_at=utcnow(), organisation_id=organisation.id))  # fmt: skip
    per_story = (time.perf_counter() - started) / stories
    return app, per_story


def harvest(client, first: str, verb: str) -> tuple[int, list[float]]:
    from lxml import etree

    count, times, query = 0, [], first
    while True:
        t = time.perf_counter()
        root = etree.fromstring(client.get("/oai", query_string=query).data)
        times.append(time.perf_counter() - t)
        count += sum(1 for _ in root.iter(f"{NS}header"))
        token = root.findtext(f".//{NS}resumptionToken")
        if not token:
            return count, times
        query = {"verb": verb, "resumptionToken": token}


def listing(client, page: int) -> tuple[int, list[float]]:
    count, times, cursor = 0, [], None
    while True:
        t = time.perf_counter()
        body = client.get(
            "/api/v1/stories",
            query_string={"limit": page, **({"cursor": cursor} if cursor else {})},
        ).json
        times.append(time.perf_counter() - t)
        count += len(body["results"])
        cursor = body["next"]
        if cursor is None:
            return count, times


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--stories", type=int, default=2000)
    parser.add_argument("--page", type=int, default=100)
    args = parser.parse_args()
    app, per_story = build(args.stories, args.page)
    client = app.test_client()
    results = {}
    for name, run in (
        (
            "ListRecords",
            lambda: harvest(client, "verb=ListRecords&metadataPrefix=oai_dc", "ListRecords"),
        ),
        (
            "ListIdentifiers",
            lambda: harvest(
                client, "verb=ListIdentifiers&metadataPrefix=oai_dc", "ListIdentifiers"
            ),
        ),
        ("API listing (baseline)", lambda: listing(client, args.page)),
    ):
        run()  # warm
        t = time.perf_counter()
        count, times = run()
        total = time.perf_counter() - t
        assert count == args.stories, (name, count)
        results[name] = total
        q = statistics.quantiles(times, n=20)
        p50, p95 = statistics.median(times) * 1000, q[18] * 1000
        print(f"{name:24} {count} records in {total:6.2f} s = {count / total:7.0f} records/s; "
              f"page p50 {p50:6.1f} ms, p95 {p95:6.1f} ms")  # fmt: skip
    base = results["API listing (baseline)"]
    print(f"commit with the public-record hook: {per_story * 1000:.1f} ms per story published")
    for name in ("ListRecords", "ListIdentifiers"):
        print(f"{name} / API listing: {results[name] / base:.2f}×")


if __name__ == "__main__":
    main()
