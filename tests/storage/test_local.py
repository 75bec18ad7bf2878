"""Local-backend specifics the contract cannot see: the folder layout and its safety."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from storage import InvalidKey, LocalObjectStore


def test_objects_are_plain_files_under_their_own_names(tmp_path: Path) -> None:
    store = LocalObjectStore(tmp_path)

    store.put("originals/ab/photo.jpg", b"jpeg")

    assert (tmp_path / "data" / "originals@" / "ab@" / "photo.jpg").read_bytes() == b"jpeg"
    assert (
        oct((tmp_path / "data" / "originals@" / "ab@" / "photo.jpg").stat().st_mode)[-3:] == "600"
    )


def test_a_symlink_planted_in_the_tree_cannot_lead_outside(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    store = LocalObjectStore(tmp_path / "objects")
    os.symlink(outside, tmp_path / "objects" / "data" / "evil@")

    with pytest.raises(InvalidKey, match="outside the storage root"):
        store.put("evil/x", b"payload")
    with pytest.raises(InvalidKey, match="outside the storage root"):
        store.get("evil/x")

    assert list(outside.iterdir()) == []


def test_stray_files_in_the_tree_are_not_objects(tmp_path: Path) -> None:
    store = LocalObjectStore(tmp_path)
    store.put("real", b"1")
    (tmp_path / "data" / "stray-dir").mkdir()
    (tmp_path / "data" / "stray-dir" / "inside").write_bytes(b"?")
    (tmp_path / "data" / "odd@name").write_bytes(b"?")

    assert [info.key for info in store.list()] == ["real"]


def test_object_without_sidecar_still_reads(tmp_path: Path) -> None:
    store = LocalObjectStore(tmp_path)
    store.put("k", b"data", "image/png")
    (tmp_path / "meta" / "k").unlink()

    info = store.stat("k")

    assert (info.size, info.content_type, info.etag) == (4, "application/octet-stream", None)
    assert store.get("k") == b"data"


def test_stale_uploads_are_removed_fresh_ones_kept(tmp_path: Path) -> None:
    LocalObjectStore(tmp_path)
    stale = tmp_path / "tmp" / "old.part"
    fresh = tmp_path / "tmp" / "new.part"
    stale.write_bytes(b"crashed")
    fresh.write_bytes(b"in progress")
    two_days_ago = time.time() - 2 * 86400
    os.utime(stale, (two_days_ago, two_days_ago))

    LocalObjectStore(tmp_path)

    assert not stale.exists()
    assert fresh.exists()


def test_check_passes_on_a_writable_folder(tmp_path: Path) -> None:
    store = LocalObjectStore(tmp_path)

    store.check()

    assert list((tmp_path / "tmp").iterdir()) == []


def test_remove_partial_uploads_takes_only_those_older_than_asked(tmp_path: Path) -> None:
    from datetime import timedelta

    store = LocalObjectStore(tmp_path)
    old = tmp_path / "tmp" / "killed.part"
    old.write_bytes(b"half an upload")
    an_hour_ago = time.time() - 3600
    os.utime(old, (an_hour_ago, an_hour_ago))
    running = tmp_path / "tmp" / "running.part"
    running.write_bytes(b"still coming")

    assert store.remove_partial_uploads(timedelta(minutes=30)) == 1

    assert not old.exists()
    assert running.exists()
