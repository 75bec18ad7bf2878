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
from whoosh import query as wq
from whoosh.index import LockError
from whoosh.searching import Searcher
from whoosh.writing import SegmentWriter

from webapp.search.analysis import fold
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
from webapp.search.query import ParsedQuery, parse, to_whoosh
from webapp.search.schema import SCHEMA_VERSION, build_schema, document_fields, facet_term

log = logging.getLogger(__name__)

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
        self._columns: ColumnData | None = None
        self._columns_key: tuple[Any, ...] | None = None
        self._segment_columns: dict[tuple[str, str], ColumnData] = {}
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
            self._columns = None
            self._columns_key = None
            self._segment_columns.clear()

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
            self._segment_columns = {
                k: v for k, v in self._segment_columns.items() if k[0] == generation
            }
            self._index, self._searcher, self._generation = index, searcher, generation
        elif not self._searcher.up_to_date():
            self._searcher = self._retry_open(self._searcher.refresh)
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

    def _column_data(self, searcher: Searcher) -> ColumnData:
        """Facet columns of every document of ``searcher``, by global docnum (cached)."""
        leaves = searcher.leaf_searchers()
        key = tuple((sub.reader().segment().segment_id(), offset) for sub, offset in leaves)
        if key == self._columns_key and self._columns is not None:
            return self._columns
        assert self._generation is not None
        parts = []
        live = set()
        for sub, _offset in leaves:
            seg_key = (self._generation, sub.reader().segment().segment_id())
            live.add(seg_key)
            data = self._segment_columns.get(seg_key)
            if data is None:
                reader = sub.reader()
                if reader.has_column("facets"):
                    raw = list(reader.column_reader("facets"))
                else:
                    raw = [b""] * reader.doc_count_all()
                data = self._segment_columns[seg_key] = ColumnData.from_column(raw)
            parts.append(data)
        self._segment_columns = {k: v for k, v in self._segment_columns.items() if k in live}
        self._columns = ColumnData.concatenate(parts) if parts else ColumnData.from_column([])
        self._columns_key = key
        return self._columns

    def count(self, public: bool = True) -> int:
        """Stories in the index; with ``public`` only the published ones."""
        with self._lock:
            searcher = self._fresh_searcher()
            if not public:
                return searcher.doc_count()
            columns = self._column_data(searcher)
            docs = searcher.docs_for_query(wq.Term("facet", facet_term("status", PUBLISHED)))
            return len(columns.published(docs))

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
        searcher = self._fresh_searcher()
        columns = self._column_data(searcher)
        text = (request.q or "").strip()
        parsed = parse(text)
        error: str | None = None
        user_query = to_whoosh(parsed, allow_status=not request.public)
        if user_query is None:
            if text:
                return SearchPage(0, [], {}, page, per_page, None, MESSAGE_JUNK)
            user_query = wq.Every()
            if not any(request.filters.values()):
                error = MESSAGE_EMPTY

        constraints: list[wq.Query] = []
        if request.public:
            constraints.append(wq.Term("facet", facet_term("status", PUBLISHED)))
        filter_queries = self._filter_queries(request)
        base_query = wq.And([user_query, *constraints]) if constraints else user_query

        base = searcher.docs_for_query(base_query)
        if request.public:
            base = columns.published(base)
        base_set = set(base)
        filter_sets = {key: set(searcher.docs_for_query(q)) for key, q in filter_queries.items()}
        result = base_set.intersection(*filter_sets.values()) if filter_sets else base_set
        ordered_result = sorted(result)

        facets: dict[str, list[FacetValue]] = {}
        for name in FACET_NAMES:
            others = [s for key, s in filter_sets.items() if key != name]
            if name in filter_sets:
                # Counting without this facet's own filter lets people widen a selection.
                docs = sorted(base_set.intersection(*others)) if others else sorted(base_set)
            else:
                docs = ordered_result
            facets[name] = columns.count(name, docs)

        start = (page - 1) * per_page
        full_query = wq.And([base_query, *filter_queries.values()])
        hits: list[tuple[int, float]]
        if request.sort == "period":
            period = columns.period_start
            story_id = columns.story_id
            big = 1 << 30
            ordered = sorted(
                result,
                key=lambda d: (period[d] if period[d] is not None else big, story_id[d]),
            )
            hits = [(d, 0.0) for d in ordered[start : start + per_page]]
        elif not result:
            hits = []
        else:
            results = searcher.search(full_query, limit=start + per_page)
            hits = [
                (hit.docnum, hit.score)
                for hit in results[start : start + per_page]
                if hit.docnum in result
            ]

        suggestion = None
        if len(result) == 0 and parsed.groups:
            suggestion = self._suggest(searcher, text, parsed)
        return SearchPage(
            total=len(result),
            hits=self._hits(searcher, hits, parsed),
            facets=facets,
            page=page,
            per_page=per_page,
            suggestion=suggestion,
            error=error,
        )

    def _filter_queries(self, request: SearchRequest) -> dict[str, wq.Query]:
        queries: dict[str, wq.Query] = {}
        for key, values in (request.filters or {}).items():
            if key not in FILTER_KEYS or not values:
                continue
            if key == "status" and request.public:
                continue  # the public sees published stories only, whatever the URL says
            if isinstance(values, str):
                values = [values]
            terms = [wq.Term("facet", facet_term(key, v)) for v in values if str(v).strip()]
            if terms:
                queries[key] = terms[0] if len(terms) == 1 else wq.Or(terms)
        return queries

    def _hits(
        self, searcher: Searcher, hits: list[tuple[int, float]], parsed: ParsedQuery
    ) -> list[SearchHit]:
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
        for docnum, score in hits:
            stored = searcher.stored_fields(docnum)
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

    def _suggest(self, searcher: Searcher, text: str, parsed: ParsedQuery) -> str | None:
        """A did-you-mean query: unknown words replaced by the closest frequent indexed word."""
        reader = searcher.reader()
        corrector = searcher.corrector("body")
        replacements: dict[str, str] = {}
        for clause in parsed.words():
            if clause.field not in (None, "title", "place") or clause.kind == "prefix":
                continue
            for token in clause.tokens:
                if len(token) < 3 or any(
                    reader.doc_frequency(f, token) for f in ("body", "title", "places")
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
                writer = index.writer(timeout=remaining, delay=0.05)
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
            writer.commit()
        log.info("search index updated", extra={"stories": len(latest)})
        return len(latest)

    def remove(self, story_id: int) -> None:
        """Remove one story from the index; removing an absent story is fine."""
        with self._writer() as (writer, generation):
            self._journal(generation, [("remove", story_id)])
            writer.delete_by_term("id", str(story_id))
            writer.commit()
        log.info("search index removed story", extra={"story_id": story_id})

    def optimize(self) -> None:
        """Merge all segments into one: scheduled maintenance, never on the request path."""
        with self._writer() as (writer, _generation):
            writer.commit(optimize=True)

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
            writer = index.writer(limitmb=256)
            seen: set[int] = set()
            count = 0
            try:
                for doc in docs:
                    if doc.id in seen:
                        writer.delete_by_term("id", str(doc.id))
                    seen.add(doc.id)
                    writer.add_document(**document_fields(doc))
                    count += 1
                writer.commit(merge=False)
            except BaseException:
                writer.cancel()
                raise
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
        writer = index.writer(timeout=self.writer_timeout)
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
