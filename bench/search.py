"""Benchmark of the search layer at archive scale, with SQLite FTS5 and tantivy as references.

Generates (once, cached in ``bench/out/``) a corpus of French and English stories whose words are
drawn with a Zipf law from real word lists (the ``wordfreq`` package's frequency-ranked lists), so
that common words are common and rare words rare. Then measures, in one run and on the same
corpus: bulk reindex throughput, update-to-visible latency, full-results-page latency per query
class (total + facet counts over the whole result set + top 20 with highlights), and the peak RSS
of a process that only serves searches. Each engine runs in its own child process so that its
memory and warm caches do not leak into another's figures.

Every size is measured in one run and reported in one table (1,000, 10,000 and 100,000 stories
by default), the engines' query runs interleaved round by round so that a ratio compares figures
taken under the same load. Corpora and indexes are built once and kept in ``bench/out/``
(``--rebuild`` to build again); update runs work on a scratch copy, so the kept archives never
change.

Usage::

    .venv/bin/python bench/search.py                       # 1k, 10k, 100k; Whoosh ÷ FTS5
    .venv/bin/python bench/search.py --stories 2000 --rounds 1 --updates 0   # quick look

Bench-only dependencies: ``tantivy`` and ``wordfreq`` (not needed by the application).
This script prints its figures; it must never be imported by the application.
"""

from __future__ import annotations

import argparse
import gc
import json
import multiprocessing
import os
import random
import resource
import shutil
import sqlite3
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

OUT = ROOT / "bench" / "out"
SEED = 20240601
PER_PAGE = 20
FACETS_SHOWN = ("place", "decade", "theme", "language", "organisation", "collection")

PLACES = [
    "Vitry-sur-Seine",
    "Ivry-sur-Seine",
    "Créteil",
    "Champigny-sur-Marne",
    "Saint-Maur-des-Fossés",
    "Maisons-Alfort",
    "Fontenay-sous-Bois",
    "Villejuif",
    "Vincennes",
    "Choisy-le-Roi",
    "Alfortville",
    "Orly",
    "Cachan",
    "Arcueil",
    "Gentilly",
    "Le Kremlin-Bicêtre",
    "Thiais",
    "Villeneuve-Saint-Georges",
    "Bonneuil-sur-Marne",
    "Nogent-sur-Marne",
    "Saint-Denis",
    "Montreuil",
    "Aubervilliers",
    "Bobigny",
    "Saint-Ouen-sur-Seine",
    "Pantin",
    "Bondy",
    "Aulnay-sous-Bois",
    "Sevran",
    "Drancy",
    "La Courneuve",
    "Stains",
    "Épinay-sur-Seine",
    "Noisy-le-Grand",
    "Rosny-sous-Bois",
    "Clichy-sous-Bois",
    "Villepinte",
    "Tremblay-en-France",
    "Bagnolet",
    "Le Blanc-Mesnil",
    "Paris",
    "Marseille",
    "Lyon",
    "Lisbonne",
    "Porto",
    "Braga",
    "Alger",
    "Oran",
    "Tizi Ouzou",
    "Constantine",
    "Tunis",
    "Sfax",
    "Casablanca",
    "Fès",
    "Agadir",
    "Dakar",
    "Bamako",
    "Kayes",
    "Nouakchott",
    "Jaffna",
    "Colombo",
    "Chennai",
    "Hô Chi Minh-Ville",
    "Hanoï",
    "Phnom Penh",
    "Wenzhou",
    "Pékin",
    "Istanbul",
    "Ankara",
    "Diyarbakır",
    "Téhéran",
    "Kaboul",
    "Karachi",
    "Lahore",
    "Madrid",
    "Barcelone",
    "Varsovie",
    "Naples",
    "Erevan",
]
THEMES = [
    "travail",
    "famille",
    "école",
    "logement",
    "bidonville",
    "usine",
    "cuisine",
    "musique",
    "religion",
    "langue",
    "guerre",
    "exil",
    "retour",
    "mariage",
    "sport",
    "commerce",
    "santé",
    "papiers",
    "association",
    "fête",
    "voyage",
    "enfance",
    "militantisme",
    "quartier",
    "photos",
]
ORGANISATIONS = [f"Association {n}" for n in range(1, 120)] + [
    "Archives départementales du Val-de-Marne",
    "Archives de Seine-Saint-Denis",
    "Collège Henri Wallon",
    "Collège Jean Moulin",
    "Musée de l'histoire de l'immigration",
]
COLLECTIONS = [f"Collection {n}" for n in range(1, 40)]
STATUSES = ["published"] * 8 + ["submitted", "approved", "rejected", "withdrawn"]
ELIDED = {"l", "d", "qu", "j", "c", "n", "s", "m", "t", "jusqu", "lorsqu", "puisqu"}


# --------------------------------------------------------------------------- corpus


def zipf_weights(n: int, exponent: float = 1.0) -> list[float]:
    return [1.0 / (rank + 2.7) ** exponent for rank in range(1, n + 1)]


def vocabulary(language: str, size: int) -> list[str]:
    from wordfreq import top_n_list

    words = [w for w in top_n_list(language, size * 2) if w.isalpha() or w in ELIDED]
    return words[:size]


def render_words(words: list[str], rng: random.Random) -> str:
    """Words → sentences, with French elisions glued with a straight or typographic apostrophe."""
    out: list[str] = []
    sentence_left = 0
    glue = ""
    for word in words:
        if sentence_left == 0:
            if out:
                out[-1] += "."
            sentence_left = rng.randint(8, 22)
            word = word[:1].upper() + word[1:]
        sentence_left -= 1
        if glue:
            out.append(glue + word)
            glue = ""
        elif word.lower() in ELIDED:
            glue = word + rng.choice("'’")
        else:
            out.append(word)
    return " ".join(out) + "."


def generate_corpus(path: Path, count: int) -> None:
    import numpy as np

    rng = random.Random(SEED)
    nrng = np.random.default_rng(SEED)
    vocab = {lang: vocabulary(lang, 40000) for lang in ("fr", "en")}
    probs = {}
    for lang, words in vocab.items():
        w = np.array(zipf_weights(len(words)))
        probs[lang] = w / w.sum()
    place_w = zipf_weights(len(PLACES), 0.8)
    org_w = zipf_weights(len(ORGANISATIONS), 0.9)
    tmp = path.with_suffix(".tmp")
    started = time.perf_counter()
    with open(tmp, "w", encoding="utf-8") as out:
        for story_id in range(1, count + 1):
            lang = "fr" if rng.random() < 0.7 else "en"
            words = vocab[lang]
            length = rng.randint(300, 1500)
            idx = nrng.choice(len(words), size=length + 8, p=probs[lang])
            body_words = [words[i] for i in idx[:length]]
            places = rng.choices(PLACES, weights=place_w, k=rng.randint(1, 3))
            # Places also appear in the text, as they do in real stories.
            for place in places:
                body_words.insert(rng.randrange(len(body_words)), place)
            title_words = [words[i] for i in idx[length:]][: rng.randint(3, 8)]
            start = rng.randint(1925, 2015)
            end = min(2024, start + rng.choice([0, 0, 2, 5, 10, 20, 30]))
            record = {
                "id": story_id,
                "title": render_words(title_words, rng).rstrip(".") + f" — {places[0]}",
                "body": render_words(body_words, rng),
                "language": lang,
                "places": sorted(set(places)),
                "period_start": start,
                "period_end": end,
                "themes": sorted(set(rng.choices(THEMES, k=rng.randint(1, 3)))),
                "organisation": rng.choices(ORGANISATIONS, weights=org_w)[0]
                if rng.random() < 0.8
                else None,
                "collections": sorted(set(rng.sample(COLLECTIONS, rng.randint(0, 2)))),
                "status": rng.choice(STATUSES),
            }
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
            if story_id % 20000 == 0:
                print(f"  corpus: {story_id} stories, {time.perf_counter() - started:.0f}s")
    os.replace(tmp, path)


def corpus_path(count: int) -> Path:
    return OUT / f"corpus-{count}.jsonl"


def iter_records(count: int) -> Iterator[dict]:
    with open(corpus_path(count), encoding="utf-8") as f:
        for line in f:
            yield json.loads(line)


def iter_documents(count: int):  # -> Iterator[StoryDocument]
    from webapp.search import StoryDocument

    now = datetime(2024, 1, 1)
    for r in iter_records(count):
        yield StoryDocument(updated_at=now, **r)


def choose_queries(count: int) -> dict[str, list[dict]]:
    """Query words picked by their measured document frequency on a sample of the corpus."""
    from webapp.search.analysis import tokens

    rng = random.Random(SEED + 1)
    df: Counter[str] = Counter()
    bigrams: Counter[tuple[str, str]] = Counter()
    sample = 0
    for r in iter_records(count):
        if r["id"] % max(1, count // 2000):
            continue
        sample += 1
        body = r["body"].split()
        words = {w.strip(".,").lower() for w in body}
        df.update(w for w in words if w.isalpha())
        pairs = {(a.lower(), b.lower()) for a, b in zip(body, body[1:], strict=False)}
        bigrams.update(p for p in pairs if p[0].isalpha() and p[1].isalpha())
    frac = {w: c / sample for w, c in df.items() if len(tokens(w)) == 1 and len(w) > 2}

    def pick(low: float, high: float, k: int) -> list[str]:
        candidates = sorted(w for w, f in frac.items() if low <= f <= high)
        return rng.sample(candidates, min(k, len(candidates)))

    common = pick(0.30, 0.95, 10)
    rare = pick(0.004, 0.05, 10)
    mid = pick(0.08, 0.35, 20)
    phrase_pool = sorted(
        (a, b)
        for (a, b), c in bigrams.items()
        if 0.01 <= c / sample <= 0.2 and len(a) > 2 and len(b) > 2
    )
    phrases = rng.sample(phrase_pool, min(10, len(phrase_pool)))
    top_place = "Vitry-sur-Seine"
    return {
        "common word": [{"q": w} for w in common],
        "rare word": [{"q": w} for w in rare],
        "two words": [{"q": f"{a} {b}"} for a, b in zip(mid[::2], mid[1::2], strict=False)],
        "phrase": [{"q": f'"{a} {b}"', "phrase": [a, b]} for a, b in phrases],
        "facet filter": [{"q": w, "place": top_place} for w in common[:5] + rare[:5]],
    }


# --------------------------------------------------------------------------- helpers


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    k = (len(ordered) - 1) * p / 100
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def summary(values_ms: list[float]) -> dict[str, float]:
    return {
        "p50": round(percentile(values_ms, 50), 1),
        "p95": round(percentile(values_ms, 95), 1),
        "n": len(values_ms),
    }


def peak_rss_mb() -> float:
    """Peak RSS of this process (VmHWM: unlike ru_maxrss, not inherited from the parent)."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return round(usage.ru_utime + usage.ru_stime, 1)


def time_queries(
    run: Callable[[dict], int], queries: dict[str, list[dict]], repeats: int
) -> dict[str, dict]:
    """Run every query once to warm up, then ``repeats`` times, interleaved; ms per class."""
    for items in queries.values():
        for item in items:
            run(item)
    times: dict[str, list[float]] = {cls: [] for cls in queries}
    totals: dict[str, list[int]] = {cls: [] for cls in queries}
    for _ in range(repeats):
        for cls, items in queries.items():
            for item in items:
                t0 = time.perf_counter()
                total = run(item)
                times[cls].append((time.perf_counter() - t0) * 1000)
                totals[cls].append(total)
    return {
        cls: {**summary(times[cls]), "median_total": int(statistics.median(totals[cls]))}
        for cls in queries
    }


# --------------------------------------------------------------------------- whoosh


def whoosh_build(count: int, folder: Path) -> dict:
    from webapp.search import SearchIndex

    shutil.rmtree(folder, ignore_errors=True)
    index = SearchIndex(folder)
    t0 = time.perf_counter()
    n = index.rebuild(iter_documents(count))
    seconds = time.perf_counter() - t0
    size = sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())
    return {
        "stories": n,
        "seconds": round(seconds, 1),
        "stories_per_s": round(n / seconds, 1),
        "cpu_s": cpu_seconds(),
        "index_mb": round(size / 2**20),
        "peak_rss_mb": round(peak_rss_mb()),
    }


def open_and_search_first(folder: Path, q: str) -> tuple[Any, float]:
    """Open the index as a starting web process does (warm-up thread started), send ``q`` at
    once, and return the index (warm-up finished) and the ms from opening to the answer."""
    from webapp.search import SearchIndex, SearchRequest

    t0 = time.perf_counter()
    index = SearchIndex(folder)
    warming = index.warm_up_in_background()
    index.search(SearchRequest(q=q, per_page=PER_PAGE))
    first_ms = (time.perf_counter() - t0) * 1000
    warming.join()
    return index, first_ms


def whoosh_first_search(count: int, folder: Path, q: str) -> float:
    """:func:`open_and_search_first` in a fresh process; the ms."""
    index, first_ms = open_and_search_first(folder, q)
    index.close()
    return first_ms


def first_searches_after_rebuild(n: int, processes: int = 3) -> None:
    """Rebuild the Whoosh index of ``n`` stories as a reindex does, then start ``processes``
    fresh processes in turn, each sending the bench's first query at once."""
    ensure_corpus(n)
    q = choose_queries(n)["common word"][0]["q"]
    folder = ensure_index("whoosh", n, True)
    times = [round(in_child(whoosh_first_search, n, folder, q)) for _ in range(processes)]
    print(f"{n:>8} first search of each fresh process after the rebuild, in turn, ms: {times}")


def whoosh_queries(count: int, folder: Path, queries: dict, repeats: int) -> dict:
    from webapp.search import SearchRequest

    # A fresh web process, as the app starts one: open the index, start its warm-up in a thread
    # (``webapp.search_warmup``), and send the first query (the first common word) at once — the
    # worst case for a visitor, arriving with the process. ``first_search_ms`` runs from opening
    # to the answer. (A rebuild writes every segment's decoded file and warms the index up, which
    # keeps its stems and its assembled snapshot beside it; a process finding none of these —
    # an index built before 3a432f8, or its derived files deleted — decodes and assembles, and
    # its warm-up keeps them: then round 1 is that first start and rounds 2 and 3 restarts.
    # ``--first-after-rebuild`` times the first processes after a rebuild on their own.)
    index, first_ms = open_and_search_first(folder, queries["common word"][0]["q"])

    def run(item: dict) -> int:
        filters = {"place": [item["place"]]} if "place" in item else {}
        page = index.search(SearchRequest(q=item["q"], filters=filters, per_page=PER_PAGE))
        assert page.error is None, page.error
        return page.total

    result = time_queries(run, queries, repeats)
    period = []
    for item in queries["two words"]:
        t = time.perf_counter()
        index.search(SearchRequest(q=item["q"], sort="period"))
        period.append((time.perf_counter() - t) * 1000)
    result["two words, sorted by period"] = summary(period)
    return {
        "queries": result,
        "first_search_ms": round(first_ms),
        "peak_rss_mb": round(peak_rss_mb()),
    }


def whoosh_updates(count: int, folder: Path, updates: int) -> dict:
    from webapp.search import SearchIndex, SearchRequest

    reader = SearchIndex(folder)
    writer = SearchIndex(folder)
    reader.search(SearchRequest(q="warm"))
    docs = {}
    for doc in iter_documents(count):
        if doc.id % max(1, count // updates) == 0:
            docs[doc.id] = doc
        if len(docs) >= updates:
            break
    visible, write_only, fresh = [], [], []
    from dataclasses import replace

    for i, doc in enumerate(docs.values()):
        marker = f"zqxmarker{i}"
        changed = replace(doc, title=f"{doc.title} {marker}", status="published")
        t0 = time.perf_counter()
        writer.upsert(changed)
        t1 = time.perf_counter()
        while reader.search(SearchRequest(q=marker)).total != 1:
            if time.perf_counter() - t0 > 30:
                raise RuntimeError("update not visible after 30 s")
        t2 = time.perf_counter()
        write_only.append((t1 - t0) * 1000)
        visible.append((t2 - t0) * 1000)
        if i < 3:
            t3 = time.perf_counter()
            cold = SearchIndex(folder)
            assert cold.search(SearchRequest(q=marker)).total == 1
            fresh.append((time.perf_counter() - t3) * 1000)
            cold.close()
    segments = writer.segment_count()
    t0 = time.perf_counter()
    merged = writer.compact()
    compact_s = time.perf_counter() - t0
    return {
        "update_to_visible": summary(visible),
        "commit_only": summary(write_only),
        "cold_reader_first_search": summary(fresh),
        "segments_before_compact": segments,
        "compact": {"segments_merged": merged, "seconds": round(compact_s, 2)},
    }


# --------------------------------------------------------------------------- SQLite FTS5


def fts_build(count: int, path: Path) -> dict:
    path.unlink(missing_ok=True)
    db = sqlite3.connect(path)
    db.executescript(
        """
        PRAGMA journal_mode=WAL;
        CREATE TABLE story(id INTEGER PRIMARY KEY, status TEXT, period_start INT, language TEXT);
        CREATE TABLE facet(story_id INT, name TEXT, value TEXT);
        CREATE VIRTUAL TABLE fts USING fts5(title, body, places,
            tokenize='unicode61 remove_diacritics 2');
        """
    )
    t0 = time.perf_counter()
    n = 0
    for r in iter_records(count):
        n += 1
        db.execute(
            "INSERT INTO story VALUES (?,?,?,?)",
            (r["id"], r["status"], r["period_start"], r["language"]),
        )
        db.execute(
            "INSERT INTO fts(rowid,title,body,places) VALUES (?,?,?,?)",
            (r["id"], r["title"], r["body"], " ; ".join(r["places"])),
        )
        rows = [("place", p) for p in r["places"]] + [("theme", t) for t in r["themes"]]
        rows += [("collection", c) for c in r["collections"]]
        rows.append(("language", r["language"]))
        if r["organisation"]:
            rows.append(("organisation", r["organisation"]))
        start, end = r["period_start"], r["period_end"]
        rows += [("decade", str(d)) for d in range(start - start % 10, end - end % 10 + 1, 10)]
        db.executemany("INSERT INTO facet VALUES (?,?,?)", [(r["id"], a, b) for a, b in rows])
    db.execute("CREATE INDEX facet_story ON facet(story_id)")
    db.execute("CREATE INDEX facet_value ON facet(name, value, story_id)")
    db.commit()
    seconds = time.perf_counter() - t0
    db.close()
    return {
        "stories": n,
        "seconds": round(seconds, 1),
        "stories_per_s": round(n / seconds, 1),
        "cpu_s": cpu_seconds(),
    }


def fts_match(item: dict) -> str:
    if "phrase" in item:
        return '"' + " ".join(item["phrase"]) + '"'
    return " AND ".join(f'"{w}"' for w in item["q"].split())


def fts_queries(count: int, path: Path, queries: dict, repeats: int) -> dict:
    db = sqlite3.connect(path)

    def run(item: dict) -> int:
        match = fts_match(item)
        # All matching, visible, filtered stories first (the page's total and facets need
        # them all), then the top 20 with snippets among them.
        db.execute("DROP TABLE IF EXISTS temp.hits")
        sql = (
            "CREATE TEMP TABLE hits AS SELECT m.rowid AS id FROM fts m "
            "JOIN story s ON s.id = m.rowid WHERE fts MATCH ? AND s.status = 'published'"
        )
        params: list = [match]
        if "place" in item:
            sql += (
                " AND EXISTS (SELECT 1 FROM facet f WHERE f.story_id = m.rowid"
                " AND f.name = 'place' AND f.value = ?)"
            )
            params.append(item["place"])
        db.execute(sql, params)
        total = db.execute("SELECT count(*) FROM hits").fetchone()[0]
        db.execute(
            "SELECT f.name, f.value, count(*) FROM hits h JOIN facet f ON f.story_id = h.id "
            "GROUP BY f.name, f.value"
        ).fetchall()
        top = sql.replace("CREATE TEMP TABLE hits AS SELECT m.rowid AS id", "SELECT m.rowid")
        db.execute(
            top.replace(
                "SELECT m.rowid", "SELECT m.rowid, snippet(fts, 1, '<mark>', '</mark>', '…', 24)"
            )
            + " ORDER BY bm25(fts, 3.0, 1.0, 2.5) LIMIT 20",
            params,
        ).fetchall()
        return total

    result = time_queries(run, queries, repeats)
    return {"queries": result, "peak_rss_mb": round(peak_rss_mb())}


def fts_updates(count: int, path: Path, updates: int) -> dict:
    writer = sqlite3.connect(path)
    visible = []
    for i in range(updates):
        story_id = 1 + i * max(1, count // updates)
        marker = f"zqxmarker{i}"
        t0 = time.perf_counter()
        writer.execute(
            "UPDATE fts SET title = title || ' ' || ? WHERE rowid = ?", (marker, story_id)
        )
        writer.execute("UPDATE story SET status='published' WHERE id=?", (story_id,))
        writer.commit()
        reader = sqlite3.connect(path)
        found = reader.execute(
            "SELECT count(*) FROM fts WHERE fts MATCH ?", (f'"{marker}"',)
        ).fetchone()[0]
        reader.close()
        assert found == 1
        visible.append((time.perf_counter() - t0) * 1000)
    return {"update_to_visible": summary(visible)}


# --------------------------------------------------------------------------- tantivy


def tantivy_schema():
    import tantivy

    sb = tantivy.SchemaBuilder()
    sb.add_integer_field("id", stored=True, indexed=True, fast=True)
    sb.add_text_field("title", stored=True, tokenizer_name="fold")
    sb.add_text_field("body", stored=True, tokenizer_name="fold")
    sb.add_text_field("places", stored=True, tokenizer_name="fold")
    for name in ("place", "decade", "theme", "language", "organisation", "collection", "status"):
        sb.add_text_field(name, stored=False, fast=True, tokenizer_name="raw")
    return sb.build()


def tantivy_open(folder: Path, create: bool):
    import tantivy

    if create:
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
    index = tantivy.Index(tantivy_schema(), path=str(folder))
    analyzer = (
        tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.simple())
        .filter(tantivy.Filter.lowercase())
        .filter(tantivy.Filter.ascii_fold())
        .build()
    )
    index.register_tokenizer("fold", analyzer)
    return index


def tantivy_doc(r: dict):
    import tantivy

    start, end = r["period_start"], r["period_end"]
    return tantivy.Document(
        id=r["id"],
        title=r["title"],
        body=r["body"],
        places=" ; ".join(r["places"]),
        place=r["places"],
        decade=[str(d) for d in range(start - start % 10, end - end % 10 + 1, 10)],
        theme=r["themes"],
        language=[r["language"]],
        organisation=[r["organisation"]] if r["organisation"] else [],
        collection=r["collections"],
        status=[r["status"]],
    )


def tantivy_build(count: int, folder: Path) -> dict:
    index = tantivy_open(folder, create=True)
    t0 = time.perf_counter()
    writer = index.writer(heap_size=512_000_000, num_threads=2)
    n = 0
    for r in iter_records(count):
        writer.add_document(tantivy_doc(r))
        n += 1
    writer.commit()
    writer.wait_merging_threads()
    seconds = time.perf_counter() - t0
    return {
        "stories": n,
        "seconds": round(seconds, 1),
        "stories_per_s": round(n / seconds, 1),
        "cpu_s": cpu_seconds(),
    }


def tantivy_query(index, item: dict):
    import tantivy

    if "phrase" in item:
        text = '"' + " ".join(item["phrase"]) + '"'
    else:
        text = " AND ".join(item["q"].split())
    q = index.parse_query(text, ["title", "body", "places"], field_boosts={"title": 3.0})
    must = [(tantivy.Occur.Must, q)]
    must.append((tantivy.Occur.Must, tantivy.Query.term_query(index.schema, "status", "published")))
    if "place" in item:
        must.append(
            (tantivy.Occur.Must, tantivy.Query.term_query(index.schema, "place", item["place"]))
        )
    return tantivy.Query.boolean_query(must)


def tantivy_queries(count: int, folder: Path, queries: dict, repeats: int) -> dict:
    import tantivy

    index = tantivy_open(folder, create=False)
    index.reload()
    searcher = index.searcher()
    aggs = {name: {"terms": {"field": name, "size": 50}} for name in FACETS_SHOWN}

    def run(item: dict) -> int:
        query = tantivy_query(index, item)
        result = searcher.search(query, limit=PER_PAGE, count=True)
        searcher.aggregate(query, aggs)
        generator = tantivy.SnippetGenerator.create(searcher, query, index.schema, "body")
        for _score, address in result.hits:
            generator.snippet_from_doc(searcher.doc(address)).to_html()
        return result.count

    result = time_queries(run, queries, repeats)
    return {"queries": result, "peak_rss_mb": round(peak_rss_mb())}


def tantivy_updates(count: int, folder: Path, updates: int) -> dict:
    records = {}
    for r in iter_records(count):
        if r["id"] % max(1, count // updates) == 0:
            records[r["id"]] = r
        if len(records) >= updates:
            break
    index = tantivy_open(folder, create=False)
    writer = index.writer(heap_size=100_000_000, num_threads=1)
    visible = []
    for i, r in enumerate(records.values()):
        marker = f"zqxmarker{i}"
        t0 = time.perf_counter()
        writer.delete_documents("id", r["id"])
        writer.add_document(tantivy_doc({**r, "title": f"{r['title']} {marker}"}))
        writer.commit()
        index.reload()
        found = index.searcher().search(index.parse_query(marker, ["title"]), limit=1).count
        assert found == 1, found
        visible.append((time.perf_counter() - t0) * 1000)
    writer.wait_merging_threads()
    return {"update_to_visible": summary(visible)}


# --------------------------------------------------------------------------- driver


def in_child(fn: Callable, *args) -> dict:
    """Run ``fn`` in a fresh process (own memory, own peak RSS) and return its result."""
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(1) as pool:
        return pool.apply(fn, args)


def ensure_corpus(n: int) -> None:
    """The corpus of ``n`` stories: the first ``n`` lines of a larger one already generated
    (same seed, same sequence: identical to generating ``n``), else generated."""
    path = corpus_path(n)
    if path.exists():
        return
    larger = sorted(
        (int(p.stem.split("-")[1]), p)
        for p in OUT.glob("corpus-*.jsonl")
        if p.stem.split("-")[1].isdigit() and int(p.stem.split("-")[1]) > n
    )
    if larger:
        tmp = path.with_suffix(".tmp")
        with open(larger[0][1], encoding="utf-8") as src, open(tmp, "w", encoding="utf-8") as out:
            for _, line in zip(range(n), src, strict=False):
                out.write(line)
        os.replace(tmp, path)
        print(f"corpus: first {n} stories of {larger[0][1].name}")
        return
    t0 = time.perf_counter()
    generate_corpus(path, n)
    print(f"corpus generated in {time.perf_counter() - t0:.0f}s → {path}")


ENGINES = {
    "whoosh": ("whoosh-{n}", whoosh_build, whoosh_queries, whoosh_updates),
    "fts5": ("fts5-{n}.sqlite", fts_build, fts_queries, fts_updates),
    "tantivy": ("tantivy-{n}", tantivy_build, tantivy_queries, tantivy_updates),
}


def ensure_index(engine: str, n: int, rebuild: bool) -> Path:
    """The engine's index of the ``n``-story corpus, built once and kept in ``bench/out``
    (a ``.built`` file beside it records the build figures and marks it complete)."""
    name, build, _, _ = ENGINES[engine]
    folder = OUT / name.format(n=n)
    marker = folder.with_name(folder.name + ".built")
    if rebuild or not marker.exists():
        marker.unlink(missing_ok=True)
        stats = in_child(build, n, folder)
        marker.write_text(json.dumps(stats))
        print(f"  {engine} build: {json.dumps(stats)}", flush=True)
    return folder


def scratch_copy(folder: Path) -> Path:
    """A throw-away copy of an index, so that update runs never change the cached archive."""
    copy = folder.with_name(folder.name + ".scratch")
    if copy.is_dir():
        shutil.rmtree(copy)
    else:
        copy.unlink(missing_ok=True)
    if folder.is_dir():
        shutil.copytree(folder, copy)
    else:
        shutil.copy2(folder, copy)
    return copy


def drop(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)
        for extra in (path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
            extra.unlink(missing_ok=True)


def load_average() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "?"


def run_size(n: int, engines: list[str], args: argparse.Namespace) -> dict:
    """Build (once) and measure one archive size: query rounds with the engines interleaved
    (each round runs every engine once, in alternating order, each in a fresh process), then
    update-to-visible on a scratch copy of each index."""
    print(f"\n# {n} stories (load average {load_average()})", flush=True)
    ensure_corpus(n)
    queries = choose_queries(n)
    for cls, items in queries.items():
        print(
            f"  {cls}: "
            + ", ".join(i["q"] + (f" [place={i['place']}]" if "place" in i else "") for i in items)
        )
    folders = {e: ensure_index(e, n, args.rebuild) for e in engines}
    rounds: dict[str, list[dict]] = {e: [] for e in engines}
    loads = [load_average()]
    for r in range(args.rounds):
        order = engines if r % 2 == 0 else engines[::-1]
        for e in order:
            res = in_child(ENGINES[e][2], n, folders[e], queries, args.repeats)
            rounds[e].append(res)
            loads.append(load_average())
            brief = {c: q["p95"] for c, q in res["queries"].items()}
            print(f"  round {r + 1} {e}: p95 {json.dumps(brief, ensure_ascii=False)}", flush=True)
    updates: dict[str, dict] = {}
    if args.updates:
        for e in engines:
            copy = scratch_copy(folders[e])
            try:
                updates[e] = in_child(ENGINES[e][3], n, copy, args.updates)
            finally:
                drop(copy)
            print(f"  {e} updates: {json.dumps(updates[e])}", flush=True)
            loads.append(load_average())
    return {"rounds": rounds, "updates": updates, "load": loads, "classes": list(queries)}


def median_of(rounds: list[dict], cls: str, key: str) -> float:
    values = [r["queries"][cls][key] for r in rounds if cls in r["queries"]]
    return round(statistics.median(values), 1) if values else float("nan")


def report(results: dict[int, dict], engines: list[str]) -> None:
    """One table for every size: medians over the rounds of each round's p50 and p95, and the
    ratio of the first engine's p95 to the second's (median of the per-round ratios)."""
    print("\n## full results page (total + 6 facets over all matches + top 20 highlighted), ms")
    print("## medians over rounds; ratio = median over rounds of (first engine p95 ÷ second's)")
    head = f"{'stories':>8} {'query class':30}"
    head += "".join(f"{e + ' p50':>13}{e + ' p95':>13}" for e in engines)
    if len(engines) >= 2:
        head += f"{'ratio':>8}"
    print(head)
    for n, res in results.items():
        rounds = res["rounds"]
        classes = list(rounds[engines[0]][0]["queries"])
        for cls in classes:
            row = f"{n:>8} {cls:30}"
            for e in engines:
                if any(cls in r["queries"] for r in rounds[e]):
                    row += f"{median_of(rounds[e], cls, 'p50'):>13}"
                    row += f"{median_of(rounds[e], cls, 'p95'):>13}"
                else:
                    row += f"{'':>13}{'':>13}"
            if len(engines) >= 2 and all(cls in r["queries"] for r in rounds[engines[1]]):
                ratios = [
                    a["queries"][cls]["p95"] / b["queries"][cls]["p95"]
                    for a, b in zip(rounds[engines[0]], rounds[engines[1]], strict=False)
                ]
                row += f"{statistics.median(ratios):>8.2f}"
            print(row)
    print("\n## first search of a fresh process (open + first query), update to visible, ms")
    for n, res in results.items():
        if "whoosh" in res["rounds"]:
            runs = res["rounds"]["whoosh"]
            first = [r["first_search_ms"] for r in runs]
            print(
                f"{n:>8} whoosh fresh process (warm-up thread started, first query sent at once):"
                f" first search median {statistics.median(first):.0f} {first}"
            )
        for e, u in res["updates"].items():
            v = u["update_to_visible"]
            print(f"{n:>8} {e:8} update to visible p50 {v['p50']:>8}  p95 {v['p95']:>8}")
        print(f"{n:>8} load averages during the size: {', '.join(res['load'])}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--stories", default="1000,10000,100000", help="comma-separated archive sizes"
    )
    parser.add_argument("--repeats", type=int, default=3, help="timed rounds per query")
    parser.add_argument(
        "--rounds", type=int, default=3, help="query runs per engine, interleaved with the others"
    )
    parser.add_argument("--updates", type=int, default=40, help="0 to skip update-to-visible")
    parser.add_argument("--engines", default="whoosh,fts5", help="comma-separated; first ÷ second")
    parser.add_argument(
        "--rebuild", action="store_true", help="rebuild the indexes kept in bench/out"
    )
    parser.add_argument("--reuse-index", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument(
        "--first-after-rebuild",
        action="store_true",
        help="only: rebuild each size's Whoosh index, time three fresh processes' first search",
    )
    args = parser.parse_args()
    engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    unknown = [e for e in engines if e not in ENGINES]
    if unknown:
        raise SystemExit(f"unknown engine(s): {', '.join(unknown)}")
    sizes = [int(x) for x in args.stories.split(",") if x.strip()]
    OUT.mkdir(parents=True, exist_ok=True)
    print(
        f"# search bench: sizes {sizes}, {os.cpu_count()} cores, python {sys.version.split()[0]},"
        f" load average {load_average()}"
    )
    # The largest corpus first: the smaller ones are its first lines.
    ensure_corpus(max(sizes))
    if args.first_after_rebuild:
        for n in sizes:
            first_searches_after_rebuild(n)
        return
    results: dict[int, dict] = {}
    gc.collect()
    for n in sizes:
        results[n] = run_size(n, engines, args)
        (OUT / "results-sizes.json").write_text(
            json.dumps({str(k): v for k, v in results.items()}, indent=1, ensure_ascii=False)
        )
    report(results, engines)


if __name__ == "__main__":
    main()
