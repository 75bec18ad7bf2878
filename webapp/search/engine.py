"""The story index on disk: one writer at a time, many readers, atomic rebuilds.

Layout of the index folder::

    <path>/CURRENT          name of the generation being served (replaced atomically)
    <path>/gen-<n>/         a complete Whoosh index, with SCHEMA_VERSION beside its files
    <path>/REBUILDING       present while ``rebuild`` runs: names the generation being built
    <path>/journal-<n>      updates made during that rebuild, replayed before the swap

Several processes share the folder: web processes read, one worker writes, and ``passages
reindex`` or tests may write too. Writers take Whoosh's lock with a bounded wait (``IndexBusy``
when it expires); readers keep one searcher per process and refresh it when ``CURRENT`` or the
index generation changes, so a commit is visible at the next search. Visibility is enforced here
and only here: a public request can never see or count a story whose status is not "published".
This module must never import Flask, RQ or the database.
"""

from __future__ import annotations

import heapq
import logging
import os
import pickle
import shutil
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from whoosh import index as windex
from whoosh.index import LockError
from whoosh.searching import Searcher
from whoosh.writing import SegmentWriter

from webapp.search.analysis import fold, primary_language
from webapp.search.columns_io import build_lengths
from webapp.search.contract import (
    FACET_NAMES,
    FILTER_KEYS,
    PUBLISHED,
    FacetValue,
    IndexBusy,
    SearchHit,
    SearchPage,
    SearchRequest,
    StoryDocument,
)
from webapp.search.facets import ColumnData
from webapp.search.highlight import MatchRules, snippet
from webapp.search.matching import Evaluator, Leaf, Snapshot
from webapp.search.query import ParsedQuery, parse
from webapp.search.schema import SCHEMA_VERSION, build_schema, document_fields, facet_term
from webapp.search.segments import BulkSegmentWriter, LeanSegmentWriter

log = logging.getLogger(__name__)

#: Fields scored with BM25 (their per-document lengths are kept in memory).
SCORED_FIELDS = ("title", "places", "body", "themes", "organisation", "collections")

#: Stories per segment in a full rebuild: bounds the rebuild's memory (~50 MB per 1,000
#: stories of 300–1,500 words) while keeping the segment count low for searches.
REBUILD_SEGMENT_DOCS = 8_000

#: Segments with fewer stories than this are merged by ``compact``.
SMALL_SEGMENT_DOCS = 2_000

MAX_PER_PAGE = 100
MAX_PAGE = 500

MESSAGE_EMPTY = "Type a word, a place or a name to search. Showing all stories."
MESSAGE_JUNK = "We could not find any words to search for. Try a word, a place or a name."
MESSAGE_FAILED = "Search is not available right now. Please try again in a moment."

_CURRENT = "CURRENT"
_REBUILDING = "REBUILDING"
_VERSION_FILE = "SCHEMA_VERSION"


def _write_atomically(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


class SearchIndex:
    """The story index in one folder, shared safely between processes.

    One instance per process is enough (it is thread-safe): it keeps a long-lived searcher and
    the decoded facet columns of each segment, both refreshed only when the index changed.
    """

    def __init__(self, path: Path | str, *, writer_timeout: float = 30.0) -> None:
        self.path = Path(path)
        self.writer_timeout = writer_timeout
        self._lock = threading.RLock()
        self._generation: str | None = None
        self._index: windex.FileIndex | None = None
        self._searcher: Searcher | None = None
        self._snap: Snapshot | None = None
        self._snapshot_key: tuple[Any, ...] | None = None
        # (generation, segment id) -> (columns, field lengths, published local docnums)
        self._segment_cache: dict[tuple[str, str], tuple[Any, ...]] = {}
        self._schema_version: int | None = None
        self.path.mkdir(parents=True, exist_ok=True)
        self._ensure_index()

    # ------------------------------------------------------------------ lifecycle

    def _ensure_index(self) -> None:
        """Create generation 1 when the folder holds no index yet (race-safe across processes)."""
        if (self.path / _CURRENT).exists():
            return
        import fcntl

        with open(self.path / ".create.lock", "a+") as lockfile:
            fcntl.flock(lockfile, fcntl.LOCK_EX)
            try:
                if (self.path / _CURRENT).exists():
                    return
                generation = self._new_generation()
                _write_atomically(self.path / _CURRENT, generation)
                log.info("search index created", extra={"generation": generation})
            finally:
                fcntl.flock(lockfile, fcntl.LOCK_UN)

    def _new_generation(self) -> str:
        generation = f"gen-{time.time_ns()}"
        folder = self.path / generation
        folder.mkdir()
        windex.create_in(str(folder), build_schema())
        (folder / _VERSION_FILE).write_text(str(SCHEMA_VERSION), encoding="utf-8")
        return generation

    def _current_generation(self) -> str:
        return (self.path / _CURRENT).read_text(encoding="utf-8").strip()

    def _open_index(self, generation: str) -> windex.FileIndex:
        return windex.open_dir(str(self.path / generation))

    def needs_rebuild(self) -> bool:
        """True when the served index was built with another schema version: run a rebuild."""
        folder = self.path / self._current_generation()
        try:
            version = int((folder / _VERSION_FILE).read_text(encoding="utf-8").strip())
        except (OSError, ValueError):
            return True
        return version != SCHEMA_VERSION

    def refresh(self) -> None:
        """Make the next search see every committed change (cheap when nothing changed)."""
        with self._lock:
            self._fresh_searcher()

    def close(self) -> None:
        with self._lock:
            if self._searcher is not None:
                self._searcher.close()
            self._searcher = None
            self._index = None
            self._generation = None
            self._snap = None
            self._snapshot_key = None
            self._segment_cache.clear()

    def __enter__(self) -> SearchIndex:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ reading

    def _fresh_searcher(self) -> Searcher:
        """The process's searcher, reopened if another generation is served or a commit landed."""
        generation = self._current_generation()
        if generation != self._generation or self._searcher is None:
            index = self._open_index(generation)
            searcher = self._retry_open(index.searcher)
            if self._searcher is not None:
                self._searcher.close()
            self._segment_cache = {
                k: v for k, v in self._segment_cache.items() if k[0] == generation
            }
            self._index, self._searcher, self._generation = index, searcher, generation
        elif not self._searcher.up_to_date():
            # A fresh searcher, not ``refresh()``: Whoosh's refresh reuses a segment's reader by
            # segment id and would miss deletions committed since (a withdrawn story would stay
            # visible). Opening readers is cheap; the decoded columns are cached per segment.
            assert self._index is not None
            searcher = self._retry_open(self._index.searcher)
            self._searcher.close()
            self._searcher = searcher
        return self._searcher

    @staticmethod
    def _retry_open(opener: Any) -> Any:
        # A concurrent commit may delete a merged segment between listing and opening; the next
        # try sees the new table of contents.
        for attempt in range(5):
            try:
                return opener()
            except (OSError, EOFError):
                if attempt == 4:
                    raise
                time.sleep(0.02 * (attempt + 1))
        raise AssertionError("unreachable")

    def _snapshot(self) -> Snapshot:
        """A consistent view of the served index, rebuilt only when a commit landed.

        Segments never change once written, so their decoded columns and field lengths are
        cached per segment: after an update only the new, small segment is decoded.
        """
        searcher = self._fresh_searcher()
        leaves = searcher.leaf_searchers()
        key = tuple(
            (sub.reader().segment().segment_id(), offset, len(sub.reader().deleted_docs_set))
            for sub, offset in leaves
        )
        if key == self._snapshot_key and self._snap is not None:
            return self._snap
        assert self._generation is not None
        parts: list[ColumnData] = []
        lengths: dict[str, list[int]] = {f: [] for f in SCORED_FIELDS}
        deleted: set[int] = set()
        public: list[int] = []
        live_keys = set()
        leaf_list = []
        for sub, offset in leaves:
            reader = sub.reader()
            seg_key = (self._generation, reader.segment().segment_id())
            live_keys.add(seg_key)
            cached = self._segment_cache.get(seg_key)
            if cached is None:
                if reader.has_column("facets"):
                    raw = list(reader.column_reader("facets"))
                else:
                    raw = [b""] * reader.doc_count_all()
                data = ColumnData.from_column(raw)
                cached = (
                    data,
                    build_lengths(reader._perdoc, reader.doc_count_all(), SCORED_FIELDS),  # noqa: SLF001
                    [d for d, value in enumerate(data.status) if value == PUBLISHED],
                )
                self._segment_cache[seg_key] = cached
            parts.append(cached[0])
            for fieldname in SCORED_FIELDS:
                lengths[fieldname].extend(cached[1][fieldname])
            public.extend(map(offset.__add__, cached[2]) if offset else cached[2])
            deleted.update(offset + d for d in reader.deleted_docs_set)
            leaf_list.append(Leaf(reader, offset))
        self._segment_cache = {k: v for k, v in self._segment_cache.items() if k in live_keys}
        columns = ColumnData.concatenate(parts) if parts else ColumnData.from_column([])
        total = len(columns.status)
        whole = searcher.reader()
        avg = {f: whole.field_length(f) / max(1, total) for f in SCORED_FIELDS}
        snap = Snapshot(
            leaves=leaf_list,
            columns=columns,
            lengths=lengths,
            deleted=frozenset(deleted),
            doc_count=max(1, total - len(deleted)),
            avg_length=avg,
        )
        snap.term_sets["\x00live"] = frozenset(range(total)).difference(deleted)
        snap.term_sets["\x00public"] = frozenset(public).difference(deleted)
        self._snap, self._snapshot_key = snap, key
        return snap

    @staticmethod
    def _visible(snap: Snapshot, public: bool) -> frozenset[int]:
        """The documents a request may see: published ones only for the public."""
        return snap.term_sets["\x00public" if public else "\x00live"]

    def count(self, public: bool = True) -> int:
        """Stories in the index; with ``public`` only the published ones."""
        with self._lock:
            return len(self._visible(self._snapshot(), public))

    def indexed_statuses(self) -> dict[int, str]:
        """Story id → status of every story in the served index.

        For the reconciler (``workers.reconcile``), which compares it with the database to find
        stories whose index entry is missing, outdated or no longer allowed.
        """
        with self._lock:
            if self._fresh_searcher().doc_count_all() == 0:
                return {}  # an empty index has no segment to take a snapshot of
            snap = self._snapshot()
            ids, status = snap.columns.story_id, snap.columns.status
            return {ids[d]: status[d] for d in snap.term_sets["\x00live"] if ids[d] >= 0}

    def search(self, request: SearchRequest) -> SearchPage:
        """One page of results with facets over the whole result set; never raises on input."""
        page = min(max(int(request.page or 1), 1), MAX_PAGE)
        per_page = min(max(int(request.per_page or 20), 1), MAX_PER_PAGE)
        try:
            with self._lock:
                return self._search(request, page, per_page)
        except Exception:
            log.exception("search failed", extra={"q": request.q})
            return SearchPage(0, [], {}, page, per_page, None, MESSAGE_FAILED)

    def _search(self, request: SearchRequest, page: int, per_page: int) -> SearchPage:
        snap = self._snapshot()
        columns = snap.columns
        text = (request.q or "").strip()
        parsed = parse(text)
        error: str | None = None
        visible = self._visible(snap, request.public)
        scores = Evaluator(snap, allow_status=not request.public, within=visible).evaluate(parsed)
        if scores is None:
            if text:
                return SearchPage(0, [], {}, page, per_page, None, MESSAGE_JUNK)
            scores = dict.fromkeys(visible, 0.0)
            if not any(request.filters.values()):
                error = MESSAGE_EMPTY
        base = scores.keys() & visible
        filter_sets = self._filter_sets(snap, request)
        result = base.intersection(*filter_sets.values()) if filter_sets else base

        facets: dict[str, list[FacetValue]] = {}
        for name in FACET_NAMES:
            if name in filter_sets:
                # Counting without this facet's own filter lets people widen a selection.
                others = [s for key, s in filter_sets.items() if key != name]
                docs = base.intersection(*others) if others else base
            else:
                docs = result
            facets[name] = columns.count(name, docs)

        start = (page - 1) * per_page
        story_id = columns.story_id
        if request.sort == "period":
            period = columns.period_start
            big = 1 << 30
            ordered = sorted(
                result,
                key=lambda d: (period[d] if period[d] is not None else big, story_id[d]),
            )
        else:
            wanted = start + per_page
            pool: Iterable[int] = result
            if len(result) > 4 * wanted:
                # Only documents scoring at least the wanted-th best score can be on the page:
                # find that score over plain floats (C comparisons), then order the few
                # survivors with the full key (score, then story id for stable pages).
                cutoff = heapq.nlargest(wanted, map(scores.__getitem__, result))[-1]
                pool = [d for d in result if scores[d] >= cutoff]
            ordered = heapq.nsmallest(wanted, pool, key=lambda d: (-scores[d], story_id[d]))
        hits = [(d, scores.get(d, 0.0)) for d in ordered[start : start + per_page]]

        suggestion = None
        if not result and parsed.groups:
            suggestion = self._suggest(snap, text, parsed)
        return SearchPage(
            total=len(result),
            hits=self._hits(hits, parsed),
            facets=facets,
            page=page,
            per_page=per_page,
            suggestion=suggestion,
            error=error,
        )

    def _filter_sets(self, snap: Snapshot, request: SearchRequest) -> dict[str, frozenset[int]]:
        """Documents allowed by each filter key (values of one key are ORed)."""
        sets: dict[str, frozenset[int]] = {}
        for key, values in (request.filters or {}).items():
            if key not in FILTER_KEYS or not values:
                continue
            if key == "status" and request.public:
                continue  # the public sees published stories only, whatever the URL says
            if isinstance(values, str):
                values = [values]
            wanted = [str(v) for v in values if str(v).strip()]
            if key == "language":
                wanted = [primary_language(v) for v in wanted] + wanted
            if not wanted:
                continue
            union: set[int] = set()
            for value in wanted:
                union.update(snap.term_set("facet", facet_term(key, value)))
            sets[key] = frozenset(union)
        return sets

    def _hits(self, hits: list[tuple[int, float]], parsed: ParsedQuery) -> list[SearchHit]:
        tokens: list[str] = []
        prefixes: list[str] = []
        for clause in parsed.words():
            if clause.field in (None, "title", "place"):
                if clause.kind == "prefix":
                    prefixes.extend(clause.tokens)
                else:
                    tokens.extend(clause.tokens)
        rules = MatchRules.build(tokens, prefixes)
        out = []
        assert self._searcher is not None
        stored_fields = self._searcher.stored_fields
        for docnum, score in hits:
            stored = stored_fields(docnum)
            data = stored.get("data") or {}
            language = data.get("language") or ""
            primary = language.split("-", 1)[0].lower()
            out.append(
                SearchHit(
                    id=int(stored["id"]),
                    title=data.get("title") or "",
                    snippet_html=snippet(data.get("excerpt") or "", rules, primary),
                    score=float(score),
                    places=list(data.get("places") or []),
                    period_start=data.get("period_start"),
                    period_end=data.get("period_end"),
                    language=language,
                )
            )
        return out

    def _suggest(self, snap: Snapshot, text: str, parsed: ParsedQuery) -> str | None:
        """A did-you-mean query: unknown words replaced by the closest frequent indexed word."""
        assert self._searcher is not None
        corrector = self._searcher.corrector("body")
        replacements: dict[str, str] = {}
        for clause in parsed.words():
            if clause.field not in (None, "title", "place") or clause.kind == "prefix":
                continue
            for token in clause.tokens:
                if len(token) < 3 or any(
                    snap.doc_frequency(f, token) for f in ("body", "title", "places")
                ):
                    continue
                prefix = 2 if len(token) >= 6 else 1
                found = corrector.suggest(token, limit=1, maxdist=2, prefix=prefix)
                if found:
                    replacements[token] = found[0]
        if not replacements:
            return None
        words = []
        for word in text.split():
            key = fold(word).strip("\"'*-")
            words.append(replacements.get(key, word))
        suggestion = " ".join(words)
        return suggestion if suggestion != text else None

    # ------------------------------------------------------------------ writing

    @contextmanager
    def _writer(self) -> Iterator[tuple[SegmentWriter, str]]:
        """The writer of the served generation, taken with a bounded wait.

        If a rebuild swapped generations while we waited for the lock, we let go and take the
        new generation's lock instead, so no update lands in an index that is no longer served.
        """
        deadline = time.monotonic() + self.writer_timeout
        while True:
            generation = self._current_generation()
            index = self._open_index(generation)
            remaining = max(0.0, deadline - time.monotonic())
            try:
                writer = LeanSegmentWriter(index, timeout=remaining, delay=0.05)
            except LockError as exc:
                raise IndexBusy(
                    f"search index writer lock not free after {self.writer_timeout:.1f}s"
                ) from exc
            if self._current_generation() == generation:
                break
            writer.cancel()
        try:
            yield writer, generation
        except BaseException:
            writer.cancel()
            raise

    def upsert(self, doc: StoryDocument) -> None:
        """Index or re-index one story (idempotent by id)."""
        self.upsert_many([doc])

    def upsert_many(self, docs: Iterable[StoryDocument]) -> int:
        """Index or re-index several stories in one commit; returns how many."""
        latest: dict[int, StoryDocument] = {}
        for doc in docs:
            latest[doc.id] = doc
        if not latest:
            return 0
        prepared = [(doc, document_fields(doc)) for doc in latest.values()]
        with self._writer() as (writer, generation):
            self._journal(generation, [("upsert", doc) for doc in latest.values()])
            searcher = writer.searcher()
            try:
                for doc, fields in prepared:
                    writer.delete_by_term("id", str(doc.id), searcher=searcher)
                    writer.add_document(**fields)
            finally:
                searcher.close()
            # Never merge here: Whoosh merges segment by segment, term by term, in Python
            # (seconds for a few dozen small segments). ``compact`` does it on a schedule.
            writer.commit(merge=False)
        log.info("search index updated", extra={"stories": len(latest)})
        return len(latest)

    def remove(self, story_id: int) -> None:
        """Remove one story from the index; removing an absent story is fine."""
        with self._writer() as (writer, generation):
            self._journal(generation, [("remove", story_id)])
            writer.delete_by_term("id", str(story_id))
            writer.commit(merge=False)
        log.info("search index removed story", extra={"story_id": story_id})

    def segment_count(self) -> int:
        """Segments of the served index; each update adds one until ``compact`` runs."""
        with self._lock:
            return len(self._fresh_searcher().leaf_searchers())

    def compact(self, small_docs: int = SMALL_SEGMENT_DOCS) -> int:
        """Merge the small segments left by updates into one; returns how many were merged.

        Scheduled maintenance (the worker every few minutes, or when ``segment_count`` grows
        past a few dozen), never on the update path: it holds the writer lock for about a
        second per hundred small segments. Large segments from a rebuild are left alone; a
        full ``rebuild`` is the way to re-pack everything.
        """
        merged: list[int] = []

        def merge_small(writer: Any, segments: list[Any]) -> list[Any]:
            from whoosh.reading import SegmentReader

            small = [seg for seg in segments if seg.doc_count_all() < small_docs]
            if len(small) < 2:
                return segments
            for seg in small:
                reader = SegmentReader(writer.storage, writer.schema, seg)
                writer.add_reader(reader)
                reader.close()
            merged.append(len(small))
            return [seg for seg in segments if seg.doc_count_all() >= small_docs]

        with self._writer() as (writer, _generation):
            writer.commit(mergetype=merge_small)
        count = merged[0] if merged else 0
        log.info("search index compacted", extra={"segments_merged": count})
        return count

    # ------------------------------------------------------------------ rebuild

    def _journal(self, generation: str, records: list[tuple[str, Any]]) -> None:
        """While a rebuild runs, remember updates so they are replayed into the new index.

        Called with the served generation's writer lock held; the rebuild replays under the same
        lock just before swapping, so no update falls between the two.
        """
        marker = self.path / _REBUILDING
        try:
            target = marker.read_text(encoding="utf-8").strip()
        except FileNotFoundError:
            return
        if not target:
            return
        with open(self.path / f"journal-{target}", "ab") as journal:
            for record in records:
                pickle.dump(record, journal)

    def rebuild(self, docs: Iterable[StoryDocument]) -> int:
        """Build a fresh index aside from ``docs`` and swap it in atomically.

        Searches keep being served from the old generation until the swap; updates made meanwhile
        are journaled and replayed into the new generation before it is served.
        """
        import fcntl

        lock_path = self.path / ".rebuild.lock"
        with open(lock_path, "a+") as lockfile:
            try:
                fcntl.flock(lockfile, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError as exc:
                raise IndexBusy("another rebuild of the search index is running") from exc
            try:
                return self._rebuild(docs)
            finally:
                fcntl.flock(lockfile, fcntl.LOCK_UN)

    def _rebuild(self, docs: Iterable[StoryDocument]) -> int:
        generation = self._new_generation()
        journal_path = self.path / f"journal-{generation}"
        _write_atomically(self.path / _REBUILDING, generation)
        started = time.monotonic()
        try:
            index = self._open_index(generation)
            count, seen = self._bulk_load(index, docs)
            with self._writer() as (old_writer, _old_generation):
                replayed = self._replay(index, journal_path)
                _write_atomically(self.path / _CURRENT, generation)
                (self.path / _REBUILDING).unlink(missing_ok=True)
                old_writer.cancel()
        except BaseException:
            (self.path / _REBUILDING).unlink(missing_ok=True)
            journal_path.unlink(missing_ok=True)
            shutil.rmtree(self.path / generation, ignore_errors=True)
            raise
        journal_path.unlink(missing_ok=True)
        self._remove_old_generations(keep=generation)
        log.info(
            "search index rebuilt",
            extra={
                "generation": generation,
                "stories": count,
                "replayed": replayed,
                "seconds": round(time.monotonic() - started, 1),
            },
        )
        return len(seen)

    def _bulk_load(
        self, index: windex.FileIndex, docs: Iterable[StoryDocument]
    ) -> tuple[int, set[int]]:
        """Write ``docs`` into a new, empty generation, :data:`REBUILD_SEGMENT_DOCS` per segment.

        Segments are built in memory (no external sort), which keeps a full reindex within
        minutes; a story seen twice keeps its last version.
        """
        seen: set[int] = set()
        count = 0
        writer = BulkSegmentWriter(index)
        in_segment: set[int] = set()
        try:
            for doc in docs:
                if doc.id in in_segment or len(in_segment) >= REBUILD_SEGMENT_DOCS:
                    writer.commit(merge=False)
                    writer = BulkSegmentWriter(index)
                    in_segment = set()
                if doc.id in seen:
                    writer.delete_by_term("id", str(doc.id))
                seen.add(doc.id)
                in_segment.add(doc.id)
                writer.add_document(**document_fields(doc))
                count += 1
            writer.commit(merge=False)
        except BaseException:
            writer.cancel()
            raise
        return count, seen

    def _replay(self, index: windex.FileIndex, journal_path: Path) -> int:
        records: list[tuple[str, Any]] = []
        try:
            with open(journal_path, "rb") as journal:
                while True:
                    try:
                        records.append(pickle.load(journal))
                    except EOFError:
                        break
        except FileNotFoundError:
            return 0
        if not records:
            return 0
        writer = LeanSegmentWriter(index, timeout=self.writer_timeout)
        try:
            searcher = writer.searcher()
            for op, payload in records:
                if op == "upsert":
                    writer.delete_by_term("id", str(payload.id), searcher=searcher)
                    writer.add_document(**document_fields(payload))
                else:
                    writer.delete_by_term("id", str(payload), searcher=searcher)
            searcher.close()
            writer.commit()
        except BaseException:
            writer.cancel()
            raise
        return len(records)

    def _remove_old_generations(self, keep: str) -> None:
        """Delete generations older than the previous one.

        The previous generation stays: a reader in another process may still be answering from
        it until its next search notices the swap.
        """
        generations = sorted(
            (p for p in self.path.glob("gen-*") if p.is_dir()),
            key=lambda p: int(p.name.split("-", 1)[1]),
        )
        keep_names = {keep}
        older = [p for p in generations if p.name != keep]
        if older:
            keep_names.add(older[-1].name)
        for folder in generations:
            if folder.name not in keep_names:
                shutil.rmtree(folder, ignore_errors=True)
