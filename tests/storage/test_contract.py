"""The storage contract: every test runs against the local-folder and the S3 (moto) backend.

A behaviour belongs here when callers rely on it whatever the backend; a backend passing this
suite can replace another without the app noticing.
"""

from __future__ import annotations

import hashlib
import io
import shutil
import threading
import urllib.request
from pathlib import Path

import pytest

from storage import (
    InvalidKey,
    LocalObjectStore,
    ObjectInfo,
    ObjectNotFound,
    ObjectStore,
    StorageError,
)
from storage.base import StorageUnavailable

MiB = 1024 * 1024


class RecordingReader(io.RawIOBase):
    """A non-seekable stream that remembers how much each read() asked for."""

    def __init__(self, data: bytes) -> None:
        super().__init__()
        self._data = io.BytesIO(data)
        self.requested: list[int] = []

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        self.requested.append(size)
        return self._data.read(size)


class FailingReader(io.RawIOBase):
    """A stream that breaks after some bytes, like a client dropping mid-upload."""

    def __init__(self, good_bytes: int) -> None:
        super().__init__()
        self._left = good_bytes

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        if self._left <= 0:
            raise ConnectionResetError("client went away")
        size = self._left if size < 0 else min(size, self._left)
        self._left -= size
        return b"x" * size


def md5_hex(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def keys_of(store: ObjectStore, prefix: str = "") -> list[str]:
    return [info.key for info in store.list(prefix)]


# --- round trips ---------------------------------------------------------------------------


def test_bytes_round_trip_and_put_reports_what_stat_reports(store: ObjectStore) -> None:
    info = store.put("originals/ab/photo.jpg", b"\xff\xd8 jpeg bytes", "image/jpeg")

    assert store.get("originals/ab/photo.jpg") == b"\xff\xd8 jpeg bytes"
    assert info == ObjectInfo("originals/ab/photo.jpg", 13, "image/jpeg", info.etag)
    assert store.stat("originals/ab/photo.jpg") == info


def test_etag_follows_content(store: ObjectStore) -> None:
    first = store.put("a", b"same")
    again = store.put("b", b"same")
    other = store.put("c", b"different")

    assert first.etag == again.etag == md5_hex(b"same")
    assert other.etag != first.etag


def test_file_object_round_trip_without_length(store: ObjectStore) -> None:
    info = store.put("doc.txt", io.BytesIO(b"a letter home"), "text/plain")

    assert store.get("doc.txt") == b"a letter home"
    assert info.size == 13


def test_length_limits_how_much_of_a_file_object_is_stored(store: ObjectStore) -> None:
    source = io.BytesIO(b"hello world")

    info = store.put("greeting", source, length=5)

    assert store.get("greeting") == b"hello"
    assert info.size == 5
    assert source.read() == b" world"


def test_stream_shorter_than_announced_length_stores_nothing(store: ObjectStore) -> None:
    with pytest.raises(StorageError, match="ended after 3 bytes"):
        store.put("short", io.BytesIO(b"abc"), length=10)

    assert not store.exists("short")
    assert keys_of(store) == []


def test_bytes_with_wrong_length_are_refused(store: ObjectStore) -> None:
    with pytest.raises(ValueError, match="does not match"):
        store.put("k", b"abc", length=4)

    assert not store.exists("k")


def test_upload_broken_midway_leaves_no_object_and_no_debris(store: ObjectStore) -> None:
    with pytest.raises(ConnectionResetError):
        store.put("broken", FailingReader(good_bytes=100_000))

    assert not store.exists("broken")
    assert keys_of(store) == []


def test_empty_object(store: ObjectStore) -> None:
    info = store.put("empty", b"", "text/plain")

    assert store.get("empty") == b""
    assert store.exists("empty")
    assert info.size == 0
    assert store.stat("empty").size == 0


def test_large_object_is_streamed_in_both_directions(store: ObjectStore) -> None:
    data = bytes(range(256)) * (6 * MiB // 256)  # 6 MiB: beyond S3's single-part size
    source = RecordingReader(data)

    info = store.put("big.bin", source, "application/octet-stream")

    assert info.size == len(data)
    assert max(source.requested) < len(data), "the whole upload was read at once"
    digest = hashlib.sha256()
    chunks = 0
    with store.open("big.bin") as stream:
        while chunk := stream.read(256 * 1024):
            digest.update(chunk)
            chunks += 1
    assert digest.hexdigest() == hashlib.sha256(data).hexdigest()
    assert chunks == len(data) // (256 * 1024)
    assert store.stat("big.bin").size == len(data)


def test_open_reads_incrementally_and_closes(store: ObjectStore) -> None:
    store.put("letter.txt", b"Dear family, we arrived.", "text/plain")

    with store.open("letter.txt") as stream:
        assert stream.read(5) == b"Dear "
        assert stream.read() == b"family, we arrived."
    assert stream.closed


# --- stat, exists, overwrite, delete ------------------------------------------------------


def test_stat_reports_size_and_content_type(store: ObjectStore) -> None:
    store.put("derivatives/m1/thumb.webp", b"x" * 1234, "image/webp")

    info = store.stat("derivatives/m1/thumb.webp")

    assert (info.key, info.size, info.content_type) == (
        "derivatives/m1/thumb.webp",
        1234,
        "image/webp",
    )


def test_exists(store: ObjectStore) -> None:
    store.put("here", b"1")

    assert store.exists("here")
    assert not store.exists("not-here")
    assert not store.exists("here/below")


def test_overwrite_replaces_content_and_content_type(store: ObjectStore) -> None:
    store.put("k", b"first version, long", "text/plain")

    store.put("k", b"second", "application/json")

    assert store.get("k") == b"second"
    assert store.stat("k") == ObjectInfo("k", 6, "application/json", md5_hex(b"second"))
    assert keys_of(store) == ["k"]


def test_delete_is_idempotent(store: ObjectStore) -> None:
    store.put("gone", b"bye")

    store.delete("gone")
    store.delete("gone")
    store.delete("never-existed/at-all")

    assert not store.exists("gone")
    with pytest.raises(ObjectNotFound):
        store.get("gone")


def test_delete_leaves_neighbours(store: ObjectStore) -> None:
    for key in ("d/a", "d/b", "d"):
        store.put(key, key.encode())

    store.delete("d/a")

    assert keys_of(store) == ["d", "d/b"]


@pytest.mark.parametrize("operation", ["get", "stat", "open"])
def test_missing_key_raises_object_not_found(store: ObjectStore, operation: str) -> None:
    store.put("present", b"1")

    with pytest.raises(ObjectNotFound) as caught:
        getattr(store, operation)("absent/key.jpg")

    assert isinstance(caught.value, FileNotFoundError)
    assert isinstance(caught.value, StorageError)
    assert "absent/key.jpg" in str(caught.value)


def test_reading_an_empty_store_before_any_write(store: ObjectStore) -> None:
    """A new S3 bucket is only created on first write; reads before that see an empty store."""
    assert keys_of(store) == []
    assert not store.exists("x")
    with pytest.raises(ObjectNotFound):
        store.get("x")
    store.delete("x")


# --- list ----------------------------------------------------------------------------------

LIST_KEYS = ["a", "a/b", "a/b/c.txt", "a-c", "a.d", "a0", "a_z", "b/x/y/z", "ab", "A"]


def test_list_is_recursive_and_sorted_by_key(store: ObjectStore) -> None:
    for key in reversed(LIST_KEYS):
        store.put(key, key.encode(), "text/plain")

    infos = list(store.list())

    assert [info.key for info in infos] == sorted(LIST_KEYS)
    assert all(info.content_type == "text/plain" for info in infos)
    assert [info.size for info in infos] == [len(key) for key in sorted(LIST_KEYS)]


@pytest.mark.parametrize(
    ("prefix", "expected"),
    [
        ("a/", ["a/b", "a/b/c.txt"]),
        ("a/b", ["a/b", "a/b/c.txt"]),
        ("a/b/", ["a/b/c.txt"]),
        ("a", ["a", "a-c", "a.d", "a/b", "a/b/c.txt", "a0", "a_z", "ab"]),
        ("a-", ["a-c"]),
        ("b/x/", ["b/x/y/z"]),
        ("b/x/y/z", ["b/x/y/z"]),
        ("c", []),
        ("nothing/here/", []),
    ],
)
def test_list_by_prefix(store: ObjectStore, prefix: str, expected: list[str]) -> None:
    for key in LIST_KEYS:
        store.put(key, b"1")

    assert keys_of(store, prefix) == expected


def test_list_shows_only_objects(store: ObjectStore) -> None:
    """No sidecar, temporary or lock file may appear as an object, whatever the backend keeps."""
    store.put("one", b"1", "text/plain")
    store.put("dir/two", b"2", "image/png")
    store.put("dir/two", b"22", "image/png")
    store.delete("one")

    assert [(i.key, i.size, i.content_type) for i in store.list()] == [("dir/two", 2, "image/png")]


# --- invalid keys ------------------------------------------------------------------------

INVALID_KEYS = [
    ("../x", "'..' segment"),
    ("a/../../x", "'..' segment"),
    ("/abs", "absolute"),
    ("a//b", "empty segment"),
    ("a/", "empty segment"),
    ("a/./b", "'.' segment"),
    (".", "'.' segment"),
    ("a\\b", "backslash"),
    ("", "empty"),
    ("x" * 513, "limit is 512"),
    ("y" * 201, "limit is 200"),
    ("café.jpg", "outside"),
    ("a b", "outside"),
    ("a\x00b", "outside"),
    ("line\n", "outside"),
]
OPERATIONS = {
    "put": lambda store, key: store.put(key, b"data"),
    "put-stream": lambda store, key: store.put(key, io.BytesIO(b"data")),
    "get": lambda store, key: store.get(key),
    "open": lambda store, key: store.open(key),
    "stat": lambda store, key: store.stat(key),
    "exists": lambda store, key: store.exists(key),
    "delete": lambda store, key: store.delete(key),
    "presigned_url": lambda store, key: store.presigned_url(key),
}


def _files_under(root: Path) -> set[Path]:
    return {path for path in root.rglob("*")}


@pytest.mark.parametrize(
    ("key", "message"), INVALID_KEYS, ids=[repr(k[:12]) for k, _ in INVALID_KEYS]
)
def test_invalid_keys_are_rejected_by_every_operation_without_side_effects(
    store: ObjectStore, tmp_path: Path, key: str, message: str
) -> None:
    before = _files_under(tmp_path)

    for name, operation in OPERATIONS.items():
        with pytest.raises(InvalidKey, match=message) as caught:
            operation(store, key)
        assert isinstance(caught.value, ValueError), name

    assert _files_under(tmp_path) == before
    assert keys_of(store) == []


def test_longest_valid_key_is_accepted(store: ObjectStore) -> None:
    key = "x" * 200 + "/" + "y" * 200 + "/" + "z" * 110
    assert len(key) == 512

    store.put(key, b"deep")

    assert store.get(key) == b"deep"
    assert keys_of(store) == [key]


@pytest.mark.parametrize("prefix", ["/a", "../", "a//", "a/../b", "a\\", "é"])
def test_invalid_list_prefixes_are_rejected(store: ObjectStore, prefix: str) -> None:
    with pytest.raises(InvalidKey):
        list(store.list(prefix))


def test_invalid_content_type_is_refused(store: ObjectStore) -> None:
    with pytest.raises(ValueError, match="content type"):
        store.put("k", b"1", "text/html\r\nX-Injected: 1")

    assert not store.exists("k")


# --- presigned URLs ------------------------------------------------------------------------


def test_presigned_url_serves_the_object_or_is_none_for_local(store: ObjectStore) -> None:
    store.put("derivatives/m1/large.jpg", b"public derivative", "image/jpeg")

    url = store.presigned_url("derivatives/m1/large.jpg")

    if isinstance(store, LocalObjectStore):
        assert url is None
        return
    assert url is not None
    assert "X-Amz-Signature=" in url
    with urllib.request.urlopen(url, timeout=5) as response:
        assert response.read() == b"public derivative"
        assert response.headers["Content-Type"] == "image/jpeg"


# --- concurrency -------------------------------------------------------------------------


def test_concurrent_puts_of_one_key_leave_one_complete_object(store: ObjectStore) -> None:
    writers = 6
    versions = {i: bytes([65 + i]) * (256 * 1024 + i) for i in range(writers)}
    content_types = {i: f"application/x-writer-{i}" for i in range(writers)}
    start = threading.Barrier(writers + 1)
    seen_by_reader: list[bytes] = []
    errors: list[BaseException] = []
    done = threading.Event()

    def write(i: int) -> None:
        try:
            start.wait()
            for _ in range(3):
                store.put("contested", versions[i], content_types[i])
        except BaseException as exc:  # collected and re-raised in the test thread
            errors.append(exc)

    def read() -> None:
        start.wait()
        while not done.is_set():
            try:
                seen_by_reader.append(store.get("contested"))
            except ObjectNotFound:
                continue
            except BaseException as exc:
                errors.append(exc)
                return

    threads = [threading.Thread(target=write, args=(i,)) for i in range(writers)]
    reader = threading.Thread(target=read)
    for thread in [*threads, reader]:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    done.set()
    reader.join(timeout=60)

    assert errors == []
    final = store.get("contested")
    winner = next(i for i, data in versions.items() if data == final)
    assert store.stat("contested") == ObjectInfo(
        "contested", len(final), content_types[winner], md5_hex(final)
    )
    assert all(data in versions.values() for data in seen_by_reader), "a reader saw a partial file"
    assert keys_of(store) == ["contested"]


# --- age and leftovers (the collector relies on these) --------------------------------------


def test_stat_and_list_tell_when_an_object_was_written(store: ObjectStore) -> None:
    from datetime import UTC, datetime, timedelta

    before = datetime.now(UTC) - timedelta(seconds=2)
    store.put("originals/sha256/ab/aged", b"bytes with an age")

    stated = store.stat("originals/sha256/ab/aged").last_modified
    (listed,) = [info.last_modified for info in store.list("originals/")]

    assert stated is not None and stated.tzinfo is not None
    assert before <= stated <= datetime.now(UTC) + timedelta(seconds=2)
    assert listed == stated


def test_removing_partial_uploads_never_touches_complete_objects(store: ObjectStore) -> None:
    from datetime import timedelta

    store.put("originals/sha256/cd/kept", b"complete")

    assert store.remove_partial_uploads(timedelta(0)) == 0
    assert store.get("originals/sha256/cd/kept") == b"complete"


# --- a store lost while the app runs (deleted bucket or root folder) ----------------------------


def test_a_lost_store_reads_as_empty_and_the_next_write_makes_it_again(
    store: ObjectStore, lose_store
) -> None:
    """Nothing cached says "ready" for the life of the process: a deleted bucket (or root
    folder) is created again by the next write, which succeeds."""
    store.put("originals/sha256/ab/before", b"stored before the loss")
    lose_store(store)

    assert not store.exists("originals/sha256/ab/before")
    assert keys_of(store) == []
    store.put("originals/sha256/ab/after", b"stored after the loss")

    assert store.get("originals/sha256/ab/after") == b"stored after the loss"
    assert keys_of(store) == ["originals/sha256/ab/after"]


def test_a_write_from_a_seekable_stream_survives_the_loss(store: ObjectStore, lose_store) -> None:
    """The upload the app makes (a spooled request file) is written whole after a loss."""
    store.put("first", b"1")
    lose_store(store)
    upload = io.BytesIO(b"header" + b"photo bytes " * 1000)
    upload.seek(6)  # the caller had read a header already: the write starts where it stands

    info = store.put("photo.jpg", upload, "image/jpeg", length=12000)

    assert store.get("photo.jpg") == b"photo bytes " * 1000
    assert info == store.stat("photo.jpg")


def test_check_after_a_loss_makes_the_store_usable_again(store: ObjectStore, lose_store) -> None:
    store.put("first", b"1")
    lose_store(store)

    store.check()

    store.put("second", b"2")
    assert store.get("second") == b"2"


def test_an_unusable_store_says_unavailable_not_missing(store: ObjectStore, tmp_path: Path) -> None:
    """A store that cannot be reached is an outage (StorageUnavailable), never "no object"."""
    if isinstance(store, LocalObjectStore):
        shutil.rmtree(store.root)
        store.root.write_bytes(b"a file where the folder should be")
    else:
        store = type(store)(f"127.0.0.1:{_closed_port()}", "k", "s", bucket="gone")

    for operation in (
        lambda: store.put("k", b"v"),
        lambda: store.get("k"),
        lambda: store.exists("k"),
        lambda: store.check(),
    ):
        with pytest.raises(StorageUnavailable):
            operation()


def _closed_port() -> int:
    from tests.service_processes import free_port

    return free_port()
