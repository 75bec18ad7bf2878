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

import dataclasses
import gc
import heapq
import json
import logging
import os
import shutil
import threading
import time
from array import array
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime
from itertools import compress, count
from pathlib import Path
from typing import Any

from whoosh import index as windex
from whoosh.index import LockError
from whoosh.searching import Searcher
from whoosh.writing import SegmentWriter

from webapp.search import decoded_segments, kept_snapshots, known_stems
from webapp.search.analysis import fold, primary_language, stems_computed
from webapp.search.columns_io import build_lengths, var_bytes_values
from webapp.search.contract import (
    FACET_NAMES,
    FILTER_KEYS,
    PUBLISHED,
    FacetValue,
    IndexBusy,
    IndexRebuilding,
    MomentHit,
    SearchHit,
    SearchPage,
    SearchRequest,
    SearchUnavailable,
    StoryDocument,
)
from webapp.search.facets import ColumnData, ComboCodes
from webapp.search.highlight import MatchRules, learn_words, mentions, snippet, text_tokens
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

#: Stories whose excerpt words a warming process analyses (``SearchIndex.warm_up``): every story
#: of a small archive, where most archives start, so that their snippets need no tokenisation
#: from the first page on. About 1.5 s of CPU in the starting process's background thread,
#: which steps aside while a search runs.
WARM_UP_EXCERPTS = 1_000

#: Longest a search waits for a warm-up that is opening the index (seconds): it then opens its
#: own reader, as it would with no warm-up at all.
WARM_UP_WAIT = 5.0

#: The warm-up rewrites the kept stems only when its process computed at least this many stems
#: itself (each gunicorn worker starting with a kept file must not rewrite the same file).
KEEP_STEMS_AFTER = 1_000

MESSAGE_EMPTY = "Type a word, a place or a name to search. Showing all stories."
MESSAGE_JUNK = "We could not find any words to search for. Try a word, a place or a name."

_CURRENT = "CURRENT"
_REBUILDING = "REBUILDING"
_VERSION_FILE = "SCHEMA_VERSION"


@contextmanager
def _failures_raised(what: str, q: str | None = None) -> Iterator[None]:
    """Turn any failure of the engine into :class:`SearchUnavailable` (logged, never hidden)."""
    try:
        yield
    except SearchUnavailable:
        raise
    except Exception as exc:
        log.exception("search %s failed", what, extra={"q": q})
        raise SearchUnavailable(f"search {what} failed: {type(exc).__name__}") from exc


def _journal_line(op: str, payload: Any) -> str:
    """One journal record as a JSON line (no pickles: nothing on disk names a Python class)."""
    if op == "upsert":
        doc = dataclasses.asdict(payload)
        doc["updated_at"] = payload.updated_at.isoformat() if payload.updated_at else None
        return json.dumps({"op": op, "doc": doc}, ensure_ascii=False) + "\n"
    return json.dumps({"op": op, "id": int(payload)}) + "\n"


def _journal_record(line: str) -> tuple[str, Any]:
    record = json.loads(line)
    if record["op"] == "upsert":
        doc = record["doc"]
        if doc.get("updated_at"):
            doc["updated_at"] = datetime.fromisoformat(doc["updated_at"])
        return "upsert", StoryDocument(**doc)
    return record["op"], record["id"]


def _write_atomically(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def _rewrite_segments_holding(writer: SegmentWriter, story_ids: set[int]) -> int:
    """Commit ``writer``, rewriting every segment whose term table names one of ``story_ids``
    (its deleted documents, and so their words, are left out of the copy); returns how many."""
    from whoosh.reading import SegmentReader

    rewritten: list[int] = []
    terms = [("id", str(story_id)) for story_id in story_ids]

    def rewrite(writer: Any, segments: list[Any]) -> list[Any]:
        keep = []
        for segment in segments:
            reader = SegmentReader(writer.storage, writer.schema, segment)
            try:
                if any(term in reader for term in terms):
                    writer.add_reader(reader)
                    rewritten.append(1)
                else:
                    keep.append(segment)
            finally:
                reader.close()
        return keep

    writer.commit(mergetype=rewrite)
    return len(rewritten)


def _decode_and_keep(folder: Path, segment_id: str, reader: Any) -> decoded_segments.DecodedSegment:
    """Decode one segment's facets column and field lengths, and keep them in its decoded
    file (``decoded_segments``) for every later process."""
    doc_count = reader.doc_count_all()
    if reader.has_column("facets"):
        raw = var_bytes_values(reader.column_reader("facets"))
    else:
        raw = [b""] * doc_count
    coded, status, period_start, story_id = ColumnData.decode(raw)
    lengths = build_lengths(reader._perdoc, doc_count, SCORED_FIELDS)  # noqa: SLF001
    decoded = decoded_segments.DecodedSegment(
        segment_id,
        doc_count,
        coded,
        status,
        period_start,
        array("q", story_id),
        {name: array("i", values) for name, values in lengths.items()},
    )
    decoded_segments.save(folder, segment_id, decoded)
    return decoded


class _Reader:
    """A Whoosh index, searcher and snapshot used by one thread at a time (Whoosh's files are
    read with seek-and-read, so two threads must never share a reader)."""

    def __init__(self, epoch: int) -> None:
        self.epoch = epoch
        self.generation: str | None = None
        self.index: windex.FileIndex | None = None
        self.searcher: Searcher | None = None
        self.snap: Snapshot | None = None
        self.snapshot_key: tuple[Any, ...] | None = None
        # Whether the snapshot was read from a kept file (then there is nothing to keep).
        self.snapshot_was_kept = False
        # The searcher whose segment readers the snapshot's leaves are.
        self.snapshot_searcher: Searcher | None = None

    def close(self) -> None:
        if self.searcher is not None:
            self.searcher.close()
        self.generation = self.index = self.searcher = self.snap = self.snapshot_key = None
        self.snapshot_searcher = None


class SearchIndex:
    """The story index in one folder, shared safely between processes.

    One instance per process is enough (it is thread-safe). Searches take no process-wide lock:
    each search checks a reader out of a small pool and searches its immutable
    :class:`Snapshot` over that reader's *own* Whoosh files (read with seek-and-read, which
    threads must not share), refreshed only when the index changed; the decoded columns of each
    segment, which never change, are shared by all readers (a short lock guards that cache and
    the pool only).
    """

    #: How queries are evaluated on a snapshot (tests put a failing one here to prove that a
    #: failure surfaces as :class:`SearchUnavailable`).
    evaluator_class: type[Evaluator] = Evaluator

    def __init__(self, path: Path | str, *, writer_timeout: float = 30.0) -> None:
        self.path = Path(path)
        self.writer_timeout = writer_timeout
        # Guards only the shared segment cache and the list of per-thread readers.
        self._shared = threading.Lock()
        self._local = threading.local()
        # Readers not in use; a search checks one out (or opens one) and gives it back, so
        # short-lived threads reuse warm readers and their number is bounded by concurrency.
        self._idle: list[_Reader] = []
        self._epoch = 0
        # (generation, segment id) -> (columns, field lengths, published local docnums)
        self._segment_cache: dict[tuple[str, str], tuple[Any, ...]] = {}
        self._codes = ComboCodes()
        # Searches running now: the warm-up thread steps aside for them (the GIL is shared).
        self._searching = 0
        self._searching_lock = threading.Lock()
        # Clear while a warm-up is opening the index: searches wait for its reader.
        self._opened = threading.Event()
        self._opened.set()
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

    def _schema_version_of(self, generation: str) -> int | None:
        try:
            text = (self.path / generation / _VERSION_FILE).read_text(encoding="utf-8")
            return int(text.strip())
        except (OSError, ValueError):
            return None

    def unreadable_reason(self) -> str | None:
        """Why the served index cannot be used as it is (so must be rebuilt), or None.

        Reasons: no ``CURRENT`` generation, another schema version, or a table of contents or
        segment that does not open (damaged files, another Whoosh format, a pickled class that
        no longer exists). Costs one open of the table of contents.
        """
        try:
            generation = self._current_generation()
        except OSError as exc:
            return f"no served generation ({exc})"
        version = self._schema_version_of(generation)
        if version != SCHEMA_VERSION:
            return f"schema version {version} where {SCHEMA_VERSION} is expected"
        try:
            index = self._open_index(generation)
            index.searcher().close()
        except Exception as exc:  # whatever Whoosh or pickle raise, the index is unusable
            return f"the index does not open: {type(exc).__name__}: {exc}"
        return None

    def needs_rebuild(self) -> bool:
        """True when the served index cannot be used as it is: run a rebuild."""
        return self.unreadable_reason() is not None

    def refresh(self) -> None:
        """Make the next search see every committed change (cheap when nothing did)."""
        with self._use_reader():
            self._fresh_searcher()

    def warm_up(self) -> None:
        """Open the served index and decode its columns now, so that the first search does not.

        A web process calls this in a thread as it starts (:meth:`warm_up_in_background`): at
        100,000 stories opening takes a few hundred milliseconds, which the first visitor would
        otherwise wait. First the stems an earlier process kept are read back, then the index is
        opened and its snapshot built (read in one go when the last process kept this very one:
        ``kept_snapshots``); that reader goes back to the pool, and a search that arrived
        meanwhile, having waited for it, takes it instead of building a second one. Then,
        stepping aside while searches run, the snapshot is kept for the next process, the words
        of a few published stories' excerpts are analysed, and the stems known by then are kept.
        """
        frozen = False
        try:
            with _failures_raised("warm_up"), self._use_reader(wait_for_warm_up=False):
                if not self._fresh_searcher().doc_count_all():
                    return
                generation = self._reader.generation
                assert generation is not None
                folder = self.path / generation
                # The table of contents the words will come from, noted before anything is
                # read (see ``_unchanged``): an erasure after it keeps nothing.
                toc = self._fresh_searcher().reader().generation()
                words = {lang: set(found) for lang, found in known_stems.load(folder).items()}
                self._snapshot()
                # What the warm-up just read (hundreds of thousands of tuples and lists) would be
                # scanned again by each of the cyclic collector's young collections that the
                # first searches trigger (about 40 ms of a first page at 100,000 stories): set
                # it aside until the warm-up ends. ``gc.freeze`` only moves objects between
                # the collector's lists.
                gc.freeze()
                frozen = True
        finally:
            self._opened.set()
        try:
            self._learn_excerpts(words)
        finally:
            if frozen:
                gc.unfreeze()
                # Everything set aside now lands in the oldest generation at once, which soon
                # triggers a full collection: run it here, in the warm-up's thread, rather than
                # in the middle of some visitor's request later.
                gc.collect()
        if stems_computed() >= KEEP_STEMS_AFTER:
            # Only if no commit came since the words were gathered (an erasure's must not stay).
            with self._write_lock_if_free(generation) as free:
                if free:
                    known_stems.save(folder, words, lambda: self._unchanged(generation, toc))

    @contextmanager
    def _write_lock_if_free(self, generation: str) -> Iterator[bool]:
        """Hold ``generation``'s writer lock if no one does (yields whether it is held): a kept
        file written under it cannot cross an erasure, which deletes kept files under the same
        lock before its commit."""
        try:
            lock = self._open_index(generation).lock("WRITELOCK")
            held = lock.acquire(blocking=False)
        except Exception:  # noqa: BLE001 - a generation gone or unreadable: keep nothing
            yield False
            return
        try:
            yield bool(held)
        finally:
            if held:
                lock.release()

    def _learn_excerpts(self, words: dict[str, set[str]]) -> None:
        """Keep the snapshot for the next process, then analyse the words of a few published
        stories' excerpts (stepping aside while searches run), adding them to ``words``."""
        # The words of a few stories' excerpts, analysed once for the process: the first pages'
        # snippets would otherwise stem thousands of frequent words.
        self._step_aside_for_searches()
        with _failures_raised("warm_up"), self._use_reader(wait_for_warm_up=False):
            self._keep_snapshot()
            snap = self._snapshot()
            stored_fields, public = snap.stored_fields, snap.term_sets["\x00public"]
            for docnum in sorted(public)[:WARM_UP_EXCERPTS]:
                self._step_aside_for_searches()
                data = stored_fields(docnum).get("data") or {}
                language = primary_language(data.get("language"))
                excerpt = data.get("excerpt") or ""
                learn_words(excerpt, language)
                words.setdefault(language, set()).update(text_tokens(excerpt))

    def warm_up_in_background(self) -> threading.Thread:
        """Start :meth:`warm_up` in a daemon thread. Searches arriving before the index is open
        wait for it (at most :data:`WARM_UP_WAIT` seconds) rather than open a second reader at
        the same time: on two cores that would make the first visitor wait for both."""
        self._opened.clear()

        def warm() -> None:
            try:
                self.warm_up()
            except Exception:  # noqa: BLE001 - never fatal: the first search reports its own
                log.warning("search index warm-up failed", exc_info=True)
            finally:
                self._opened.set()

        thread = threading.Thread(target=warm, name="search-warmup", daemon=True)
        try:
            thread.start()
        except BaseException:
            self._opened.set()
            raise
        return thread

    def _step_aside_for_searches(self, longest: float = 5.0) -> None:
        """Wait while a search runs (at most ``longest`` seconds in all for one wait): the
        warm-up's word analysis is only a head start, and sharing the interpreter with a first
        visitor's search would make that search slower, not faster."""
        deadline = time.monotonic() + longest
        while self._searching and time.monotonic() < deadline:
            time.sleep(0.005)

    def close(self) -> None:
        """Close every idle reader; readers in use are closed when their search ends."""
        with self._shared:
            for reader in self._idle:
                reader.close()
            self._idle.clear()
            self._epoch += 1
            self._segment_cache.clear()
            self._codes = ComboCodes()

    def __enter__(self) -> SearchIndex:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ reading

    @contextmanager
    def _use_reader(self, wait_for_warm_up: bool = True) -> Iterator[_Reader]:
        """Check a reader out of the pool for one read operation of this thread (the warmed
        one, if a warm-up is opening it now)."""
        current = getattr(self._local, "reader", None)
        if current is not None:  # a read inside a read: same reader
            yield current
            return
        if wait_for_warm_up and not self._opened.is_set() and not self._opened.wait(WARM_UP_WAIT):
            self._opened.set()  # a warm-up this slow is stuck: no later search waits for it
        with self._shared:
            reader = self._idle.pop() if self._idle else _Reader(self._epoch)
        self._local.reader = reader
        try:
            yield reader
        finally:
            self._local.reader = None
            with self._shared:
                if reader.epoch == self._epoch:
                    self._idle.append(reader)
                else:
                    reader.close()

    @property
    def _reader(self) -> _Reader:
        """The reader this thread checked out (inside :meth:`_use_reader`)."""
        reader = getattr(self._local, "reader", None)
        assert reader is not None, "index read outside _use_reader()"
        return reader

    def _fresh_searcher(self) -> Searcher:
        """This thread's searcher, reopened if another generation is served or a commit landed."""
        state = self._reader
        try:
            generation = self._current_generation()
        except OSError as exc:
            raise IndexRebuilding("the search index has no served generation") from exc
        if generation != state.generation or state.searcher is None:
            if self._schema_version_of(generation) != SCHEMA_VERSION:
                raise IndexRebuilding(f"search index {generation} has another schema version")
            try:
                index = self._open_index(generation)
                searcher = self._retry_open(index.searcher)
            except Exception as exc:  # damaged, another format, or a class it pickled is gone
                log.exception("search index does not open", extra={"generation": generation})
                raise IndexRebuilding(f"search index {generation} does not open") from exc
            state.close()
            state.index, state.searcher, state.generation = index, searcher, generation
        elif not state.searcher.up_to_date():
            # A fresh searcher, not ``refresh()``: Whoosh's refresh reuses a segment's reader by
            # segment id and would miss deletions committed since (a withdrawn story would stay
            # visible). Opening readers is cheap; the decoded columns are cached per segment.
            assert state.index is not None
            searcher = self._retry_open(state.index.searcher)
            state.searcher.close()
            state.searcher = searcher
        return state.searcher

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
        """A consistent view of the served index for this thread, rebuilt only when a commit
        landed; never changed once built except for its own caches.

        Segments never change once written, so their decoded columns and field lengths are
        cached per segment and shared by the threads: after an update only the new, small
        segment is decoded.
        """
        state = self._reader
        searcher = self._fresh_searcher()
        # An index with no segment yet (a new archive) has one empty reader with no segment.
        leaves = [
            (sub, offset)
            for sub, offset in searcher.leaf_searchers()
            if sub.reader().segment() is not None
        ]
        key = tuple(
            (sub.reader().segment().segment_id(), offset, len(sub.reader().deleted_docs_set))
            for sub, offset in leaves
        )
        if key == state.snapshot_key and state.snap is not None:
            if state.snapshot_searcher is not searcher:
                # A commit that changed no segment (a compaction with nothing to merge) gave a
                # new searcher and closed the old one: same data, the new segment readers.
                state.snap = dataclasses.replace(
                    state.snap,
                    leaves=[Leaf(sub.reader(), offset) for sub, offset in leaves],
                    scopes={},
                    _stored={},
                    _leaf_starts=None,
                )
                state.snapshot_searcher = searcher
            return state.snap
        assert state.generation is not None
        leaf_list = [Leaf(sub.reader(), offset) for sub, offset in leaves]
        kept = None
        if state.snap is None and not self._segment_cache and leaves:
            # A process's first snapshot: the last process may have kept this very one.
            toc = searcher.reader().generation()
            folder = self.path / state.generation
            kept = kept_snapshots.load(folder, toc, key, SCORED_FIELDS)
        if kept is not None:
            columns = kept.columns()
            lengths = {name: kept.lengths[name].tolist() for name in SCORED_FIELDS}
            deleted: set[int] = set(kept.deleted)
            public: list[int] = kept.public.tolist()
        else:
            with self._shared:
                segments = self._segment_data(state.generation, leaves)
            parts: list[ColumnData] = []
            lengths = {f: [] for f in SCORED_FIELDS}
            deleted = set()
            public = []
            for (sub, offset), cached in zip(leaves, segments, strict=True):
                parts.append(cached[0])
                for fieldname in SCORED_FIELDS:
                    lengths[fieldname].extend(cached[1][fieldname])
                public.extend(map(offset.__add__, cached[2]) if offset else cached[2])
                deleted.update(offset + d for d in sub.reader().deleted_docs_set)
            columns = (
                ColumnData.concatenate(parts) if parts else ColumnData.from_column([], ComboCodes())
            )
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
        state.snap, state.snapshot_key, state.snapshot_searcher = snap, key, searcher
        state.snapshot_was_kept = kept is not None
        return snap

    def _keep_snapshot(self) -> None:
        """Keep this thread's snapshot for the next process (see ``kept_snapshots``), unless it
        was read from such a file or the index changed since it was built."""
        state = self._reader
        snap = self._snapshot()  # the current one, made from the searcher whose toc is kept
        key, generation = state.snapshot_key, state.generation
        if not key or state.snapshot_was_kept:
            return
        assert generation is not None and state.searcher is not None
        toc = state.searcher.reader().generation()
        folder = self.path / generation
        if kept_snapshots.path_for(folder, toc).exists():
            return  # another process kept it already
        kept = kept_snapshots.KeptSnapshot.of(key, snap, SCORED_FIELDS)
        with self._write_lock_if_free(generation) as free:
            if free:
                kept_snapshots.save(folder, toc, kept, lambda: self._unchanged(generation, toc))

    def _unchanged(self, generation: str, toc: int) -> bool:
        """Whether ``generation`` is still served at table of contents ``toc`` (no commit since:
        what was read at ``toc`` may be kept)."""
        try:
            return (
                self._current_generation() == generation
                and windex.open_dir(str(self.path / generation)).latest_generation() == toc
            )
        except Exception:  # noqa: BLE001 - changing or gone: do not keep anything
            return False

    def _segment_data(self, generation: str, leaves: list[Any]) -> list[tuple[Any, ...]]:
        """Decoded columns, lengths and published docnums of each segment (shared cache; called
        with ``self._shared`` held). All segments of one snapshot share one combination
        numbering; a numbering grown past its bound is replaced and every segment re-decoded."""
        wanted = [(generation, sub.reader().segment().segment_id()) for sub, _ in leaves]
        if self._codes.is_full or any(
            key in self._segment_cache and self._segment_cache[key][0].registry is not self._codes
            for key in wanted
        ):
            self._codes = ComboCodes()
            self._segment_cache.clear()
        out = []
        for (sub, _offset), seg_key in zip(leaves, wanted, strict=True):
            cached = self._segment_cache.get(seg_key)
            if cached is None:
                data, lengths = self._decode_segment(generation, seg_key[1], sub.reader())
                cached = (
                    data,
                    lengths,
                    list(compress(count(), map(PUBLISHED.__eq__, data.status))),
                )
                self._segment_cache[seg_key] = cached
            out.append(cached)
        # Keep what this generation's served segments use; other threads re-decode if needed.
        live = set(wanted)
        self._segment_cache = {
            k: v for k, v in self._segment_cache.items() if k in live or k[0] != generation
        }
        if len({k[0] for k in self._segment_cache}) > 2:  # at most two generations are served
            self._segment_cache = {k: v for k, v in self._segment_cache.items() if k in live}
        return out

    def _decode_segment(
        self, generation: str, segment_id: str, reader: Any
    ) -> tuple[ColumnData, dict[str, list[int]]]:
        """One segment's columns and field lengths: from the decoded file beside it when a
        process already wrote one, else decoded from Whoosh's columns (and the file written)."""
        folder = self.path / generation
        doc_count = reader.doc_count_all()
        kept = decoded_segments.load(folder, segment_id, doc_count, SCORED_FIELDS)
        if kept is None:
            kept = _decode_and_keep(folder, segment_id, reader)
        data = ColumnData.from_coded(
            kept.facets, kept.status, kept.period_start, kept.story_id.tolist(), self._codes
        )
        return data, {name: kept.lengths[name].tolist() for name in SCORED_FIELDS}

    def _prepare_for_readers(self, generation: str) -> None:
        """Write the decoded file of every segment of ``generation`` that has none: a rebuild
        does it before it swaps the new generation in, so that no web process (running, or the
        next to start) decodes 100,000 stories for a visitor (2.5 s), but reads the files."""
        folder = self.path / generation
        reader = self._open_index(generation).reader()
        try:
            for leaf, _offset in reader.leaf_readers():
                segment = leaf.segment()
                if segment is None:
                    continue
                segment_id = segment.segment_id()
                doc_count = leaf.doc_count_all()
                if decoded_segments.load(folder, segment_id, doc_count, SCORED_FIELDS) is None:
                    _decode_and_keep(folder, segment_id, leaf)
        finally:
            reader.close()

    @staticmethod
    def _visible(snap: Snapshot, public: bool) -> frozenset[int]:
        """The documents a request may see: published ones only for the public."""
        return snap.term_sets["\x00public" if public else "\x00live"]

    def count(self, public: bool = True) -> int:
        """Stories in the index; with ``public`` only the published ones."""
        with _failures_raised("count"), self._use_reader():
            return len(self._visible(self._snapshot(), public))

    def visible_ids(self, public: bool = True) -> set[int]:
        """Story ids a public (or staff) search can reach: what the database must agree with."""
        with _failures_raised("visible_ids"), self._use_reader():
            snap = self._snapshot()
            story_id = snap.columns.story_id
            return {story_id[d] for d in self._visible(snap, public)}

    def matching_story_ids(self, q: str) -> set[int] | None:
        """Every story (of any status) whose words match ``q``: the full result set, unpaged.

        For staff listings, which scope and page the set themselves (``webapp.services.listing``).
        None when ``q`` holds no usable word. Raises :class:`SearchUnavailable` on failure.
        """
        with _failures_raised("matching_story_ids", q), self._use_reader():
            snap = self._snapshot()
            visible = self._visible(snap, public=False)
            scores = self.evaluator_class(snap, allow_status=True, within=visible).evaluate(
                parse(q.strip())
            )
            if scores is None:
                return None
            story_id = snap.columns.story_id
            return {story_id[d] for d in scores.keys() & visible}

    def result_story_ids(self, request: SearchRequest) -> set[int] | None:
        """Every story a search would find (its words and filters), unpaged and unordered.

        For listings that page by cursor themselves (``webapp.services.listing``'s public
        listing): the same set ``search`` counts in its total, never a top-n page. ``None`` when
        ``q`` holds text but no usable word. Raises :class:`SearchUnavailable` on failure.
        """
        with _failures_raised("result_story_ids", request.q), self._use_reader():
            if self._fresh_searcher().doc_count_all() == 0:
                return set()  # an empty index has no segment to take a snapshot of
            snap = self._snapshot()
            visible = self._visible(snap, request.public)
            text = (request.q or "").strip()
            scores = self.evaluator_class(
                snap, allow_status=not request.public, within=visible
            ).evaluate(parse(text))
            if scores is None and text:
                return None
            base = (scores.keys() & visible) if scores is not None else set(visible)
            filter_sets = self._filter_sets(snap, request)
            result = base.intersection(*filter_sets.values()) if filter_sets else base
            story_id = snap.columns.story_id
            return {story_id[d] for d in result}

    def indexed_statuses(self) -> dict[int, str]:
        """Story id → status of every story in the served index.

        For the reconciler (``workers.reconcile``), which compares it with the database to find
        stories whose index entry is missing, outdated or no longer allowed.
        """
        with _failures_raised("indexed_statuses"), self._use_reader():
            if self._fresh_searcher().doc_count_all() == 0:
                return {}  # an empty index has no segment to take a snapshot of
            snap = self._snapshot()
            ids, status = snap.columns.story_id, snap.columns.status
            return {ids[d]: status[d] for d in snap.term_sets["\x00live"] if ids[d] >= 0}

    def search(self, request: SearchRequest) -> SearchPage:
        """One page of results with facets over the whole result set.

        Input is never an error (junk gives a page with a message); a failure of the engine is:
        it raises :class:`SearchUnavailable` (:class:`IndexRebuilding` when the index cannot be
        opened), never an empty page.
        """
        page = min(max(int(request.page or 1), 1), MAX_PAGE)
        per_page = min(max(int(request.per_page or 20), 1), MAX_PER_PAGE)
        with self._searching_lock:
            self._searching += 1
        try:
            with _failures_raised("search", request.q), self._use_reader():
                return self._search(request, page, per_page)
        finally:
            with self._searching_lock:
                self._searching -= 1

    def _search(self, request: SearchRequest, page: int, per_page: int) -> SearchPage:
        snap = self._snapshot()
        columns = snap.columns
        text = (request.q or "").strip()
        parsed = parse(text)
        error: str | None = None
        visible = self._visible(snap, request.public)
        scores = self.evaluator_class(
            snap, allow_status=not request.public, within=visible
        ).evaluate(parsed)
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
            suggestion = self._suggest(snap, text, parsed, visible)
        return SearchPage(
            total=len(result),
            hits=self._hits(snap, hits, parsed),
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

    def _hits(
        self, snap: Snapshot, hits: list[tuple[int, float]], parsed: ParsedQuery
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
        stored_fields = snap.stored_fields
        for docnum, score in hits:
            stored = stored_fields(docnum)
            data = stored.get("data") or {}
            language = data.get("language") or ""
            primary = primary_language(language)
            moment = None
            for media_id, start, said, *rest in data.get("moments") or ():
                # A transcript's words are matched in its own language (older entries: none).
                spoken = (rest[0] if rest else "") or primary
                if mentions(said, rules, spoken):
                    moment = MomentHit(media_id, start, snippet(said, rules, spoken))
                    break
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
                    moment=moment,
                )
            )
        return out

    def _suggest(
        self, snap: Snapshot, text: str, parsed: ParsedQuery, visible: frozenset[int]
    ) -> str | None:
        """A did-you-mean query: unknown words replaced by the closest frequent visible word.

        Both the "unknown" test and the candidates count only documents the searcher may see
        (``visible``): a word that exists only in an unpublished or erased story is neither
        offered nor lets its existence show by silencing a suggestion.
        """
        scope = snap.scope(visible)
        replacements: dict[str, str] = {}
        for clause in parsed.words():
            if clause.field not in (None, "title", "place") or clause.kind == "prefix":
                continue
            for token in clause.tokens:
                if len(token) < 3 or any(scope.df(f, token) for f in ("body", "title", "places")):
                    continue
                prefix = 2 if len(token) >= 6 else 1
                found = snap.words_within("body", token, 2, prefix, visible)
                if found:
                    # Most frequent first, then alphabetical (Whoosh's corrector's order).
                    replacements[token] = min(found, key=lambda item: (-item[0], item[1]))[1]
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
        if not writer.is_closed:
            writer.cancel()  # left without a commit: let go of the lock now, not at collection

    @contextmanager
    def _served_writer_if_it_opens(self) -> Iterator[None]:
        """Hold the served generation's writer lock, unless that generation does not open.

        The lock keeps updates out between the journal replay and the swap. A generation that
        does not open takes no update at all (its writers fail too), so there is nothing to
        hold: that is the case the automatic rebuild repairs.
        """
        try:
            opens = self._opens(self._current_generation())
        except OSError:
            opens = False
        if not opens:
            yield
            return
        with self._writer():
            yield

    def _opens(self, generation: str) -> bool:
        try:
            self._open_index(generation).searcher().close()
        except Exception:  # whatever Whoosh or pickle raise on damaged or foreign files
            return False
        return True

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

    def purge(self, story_id: int) -> int:
        """Remove a story so that no trace of it stays in any index file; returns the number
        of segments rewritten.

        A plain removal only marks the document deleted: its words stay in the segment's term
        table (and in older, deleted versions of the story) until the segment is merged. For an
        erased story that is not enough, so every segment whose term table still names the
        story is rewritten without its deleted documents, in the same commit, and generations
        left over from an earlier rebuild are deleted. It costs about the time of rewriting
        those segments (well under a second for the small segments updates create; a few
        seconds for one of a rebuild's segments of :data:`REBUILD_SEGMENT_DOCS` stories), and
        runs in the search worker's job for the ``story.erased`` event, seconds after the
        erasure is committed.
        """
        with self._writer() as (writer, generation):
            # Under the writer lock, before the commit: no kept file can be written (they are
            # written under the same lock) between this and the commit, and none written later
            # holds what was read before it (each is checked against the table of contents).
            known_stems.forget(self.path / generation)
            kept_snapshots.forget(self.path / generation)
            self._journal(generation, [("purge", story_id)])
            writer.delete_by_term("id", str(story_id))
            rewritten = _rewrite_segments_holding(writer, {story_id})
        known_stems.forget(self.path / generation)  # they may hold the story's words
        kept_snapshots.forget(self.path / generation)  # and its facet values
        self._remove_old_generations(keep=generation, keep_previous=False)
        log.info(
            "search index purged story",
            extra={"story_id": story_id, "segments_rewritten": rewritten},
        )
        return rewritten

    def segment_count(self) -> int:
        """Segments of the served index; each update adds one until ``compact`` runs."""
        with self._use_reader():
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
        with open(self.path / f"journal-{target}", "a", encoding="utf-8") as journal:
            for op, payload in records:
                journal.write(_journal_line(op, payload))

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
            self._prepare_for_readers(generation)
            with self._served_writer_if_it_opens():
                replayed = self._replay(index, journal_path)
                _write_atomically(self.path / _CURRENT, generation)
                (self.path / _REBUILDING).unlink(missing_ok=True)
        except BaseException:
            (self.path / _REBUILDING).unlink(missing_ok=True)
            journal_path.unlink(missing_ok=True)
            shutil.rmtree(self.path / generation, ignore_errors=True)
            raise
        journal_path.unlink(missing_ok=True)
        self._remove_old_generations(keep=generation)
        try:
            # Done here, in the rebuild's process: the next web process to start reads the
            # snapshot and the stems this keeps instead of assembling and stemming for a visitor.
            self.warm_up()
        except SearchUnavailable:
            log.warning("search index not warmed after the rebuild", exc_info=True)
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
            with open(journal_path, encoding="utf-8") as journal:
                records = [_journal_record(line) for line in journal if line.strip()]
        except FileNotFoundError:
            return 0
        if not records:
            return 0
        writer = LeanSegmentWriter(index, timeout=self.writer_timeout)
        try:
            searcher = writer.searcher()
            purged: set[int] = set()
            for op, payload in records:
                if op == "upsert":
                    writer.delete_by_term("id", str(payload.id), searcher=searcher)
                    writer.add_document(**document_fields(payload))
                else:
                    writer.delete_by_term("id", str(payload), searcher=searcher)
                    if op == "purge":
                        purged.add(int(payload))
            searcher.close()
            if purged:
                # A story erased during the rebuild may be in a segment bulk-loaded before.
                _rewrite_segments_holding(writer, purged)
            else:
                writer.commit()
        except BaseException:
            writer.cancel()
            raise
        return len(records)

    def _remove_old_generations(self, keep: str, keep_previous: bool = True) -> None:
        """Delete generations older than the previous one (or all but ``keep``).

        The previous generation normally stays: a reader in another process may still be
        answering from it until its next search notices the swap. After a purge it goes too (a
        reader that still has its files open finishes from them; the next search reopens).
        """
        generations = sorted(
            (p for p in self.path.glob("gen-*") if p.is_dir()),
            key=lambda p: int(p.name.split("-", 1)[1]),
        )
        keep_names = {keep}
        older = [p for p in generations if p.name != keep]
        if older and keep_previous:
            keep_names.add(older[-1].name)
        kept_number = int(keep.split("-", 1)[1])
        for folder in generations:
            # A newer generation is a rebuild still loading (an erasure meanwhile is journaled
            # and replayed into it before it is served): never ours to delete.
            if folder.name not in keep_names and int(folder.name.split("-", 1)[1]) < kept_number:
                shutil.rmtree(folder, ignore_errors=True)
