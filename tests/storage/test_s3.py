"""S3-only behaviour: endpoint parsing, backend selection, and failing fast when S3 is down."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from storage import (
    LocalObjectStore,
    ObjectStore,
    S3ObjectStore,
    StorageUnavailable,
    open_store,
)
from storage.s3 import split_endpoint
from tests.service_processes import MotoServer, free_port

DOWN_OPERATIONS: dict[str, Callable[[ObjectStore], object]] = {
    "check": lambda store: store.check(),
    "put": lambda store: store.put("k", b"data"),
    "get": lambda store: store.get("k"),
    "open": lambda store: store.open("k"),
    "stat": lambda store: store.stat("k"),
    "exists": lambda store: store.exists("k"),
    "delete": lambda store: store.delete("k"),
    "list": lambda store: list(store.list()),
}


@pytest.mark.parametrize("operation", DOWN_OPERATIONS)
def test_closed_port_raises_storage_unavailable_quickly(operation: str) -> None:
    store = S3ObjectStore(f"127.0.0.1:{free_port()}", "key", "secret", region="us-east-1")

    with pytest.raises(StorageUnavailable, match="unavailable"):
        DOWN_OPERATIONS[operation](store)


@pytest.mark.slow
def test_store_recovers_when_the_server_comes_back() -> None:
    """Nothing is cached from a failed attempt: the next call after an outage just works."""
    port = free_port()
    store = S3ObjectStore(f"127.0.0.1:{port}", "key", "secret", region="us-east-1")
    with pytest.raises(StorageUnavailable):
        store.put("k", b"before")

    with MotoServer(port=port):
        store.check()
        store.put("k", b"after")
        assert store.get("k") == b"after"


def test_check_creates_the_bucket_and_put_uses_it(moto_server: MotoServer) -> None:
    store = S3ObjectStore(
        moto_server.url, moto_server.access_key, moto_server.secret_key, bucket="checked"
    )

    store.check()

    assert store._client.bucket_exists("checked")
    store.put("k", b"v")
    assert S3ObjectStore(moto_server.endpoint, "other", "creds", bucket="checked").get("k") == b"v"


def test_wrong_bucket_name_is_refused_up_front() -> None:
    with pytest.raises(ValueError):
        S3ObjectStore("127.0.0.1:9000", "k", "s", bucket="Not_A_Bucket")


@pytest.mark.parametrize(
    ("endpoint", "secure", "expected"),
    [
        ("minio:9000", False, ("minio:9000", False)),
        ("minio:9000", True, ("minio:9000", True)),
        ("http://minio:9000", True, ("minio:9000", False)),
        ("https://s3.example.org", False, ("s3.example.org", True)),
        ("https://s3.example.org/", False, ("s3.example.org", True)),
    ],
)
def test_endpoint_forms(endpoint: str, secure: bool, expected: tuple[str, bool]) -> None:
    assert split_endpoint(endpoint, secure) == expected


@pytest.mark.parametrize("endpoint", ["ftp://host:21", "http://host:9000/bucket", "http://"])
def test_bad_endpoints_are_refused(endpoint: str) -> None:
    with pytest.raises(ValueError, match="endpoint"):
        split_endpoint(endpoint, False)


def test_open_store_picks_the_folder_without_an_endpoint(tmp_path: Path) -> None:
    store = open_store(data_dir=tmp_path)

    assert isinstance(store, LocalObjectStore)
    assert store.root == tmp_path / "objects"


def test_open_store_picks_s3_when_an_endpoint_is_set(tmp_path: Path) -> None:
    store = open_store(
        data_dir=tmp_path,
        s3_endpoint="https://s3.example.org",
        s3_access_key="k",
        s3_secret_key="s",
        s3_bucket="media",
    )

    assert isinstance(store, S3ObjectStore)
    assert (store.endpoint, store.bucket, store.secure) == ("s3.example.org", "media", True)
    assert not (tmp_path / "objects").exists()


def test_open_store_needs_some_place_to_store() -> None:
    with pytest.raises(ValueError, match="data_dir"):
        open_store()
