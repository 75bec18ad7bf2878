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


def test_partial_multipart_uploads_are_aborted_once_old_enough(moto_server: MotoServer) -> None:
    """A killed upload of a large original leaves a multipart upload behind; it is collected."""
    from datetime import timedelta

    store = S3ObjectStore(
        moto_server.url,
        moto_server.access_key,
        moto_server.secret_key,
        bucket="partial-uploads",
        region=moto_server.region,
    )
    store.check()
    client = store._client
    client._create_multipart_upload("partial-uploads", "originals/sha256/ab/big", {})

    # moto reports a fixed "initiated" date in 2010, so only the removal is checked here; the
    # age rule is the same comparison the local backend's test exercises with real times.
    assert store.remove_partial_uploads(timedelta(seconds=1)) == 1
    assert client._list_multipart_uploads("partial-uploads").uploads == []


def test_presigned_urls_are_signed_for_the_public_endpoint(moto_server: MotoServer) -> None:
    """Browsers get the public address; the signature is valid there (no rewriting needed)."""
    import urllib.request

    public = moto_server.url.replace("127.0.0.1", "localhost")
    store = S3ObjectStore(
        moto_server.url,
        moto_server.access_key,
        moto_server.secret_key,
        bucket="public-links",
        region=moto_server.region,
        public_endpoint=public,
    )
    store.put("derivatives/1/large.webp", b"public bytes", "image/webp")

    url = store.presigned_url("derivatives/1/large.webp")

    assert url.startswith(public + "/public-links/derivatives/1/large.webp?")
    with urllib.request.urlopen(url, timeout=5) as response:
        assert response.read() == b"public bytes"


def test_signing_for_the_public_endpoint_needs_no_network() -> None:
    """The compose values: the internal name does not resolve here, signing still works."""
    store = S3ObjectStore(
        "minio.invalid:9000",
        "passages",
        "secret",
        public_endpoint="https://media.example.org",
    )

    url = store.presigned_url("derivatives/7/large.webp")

    assert url.startswith("https://media.example.org/passages/derivatives/7/large.webp?")
    assert "minio" not in url
