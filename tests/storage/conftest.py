"""Fixtures for the storage contract: every test gets a fresh, empty store of each backend.

The S3 backend runs against the real moto server started once per session (``moto_server`` in
``tests/conftest.py``); each test gets its own bucket so tests cannot see each other's objects.
"""

from __future__ import annotations

import itertools
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from storage import LocalObjectStore, ObjectStore, S3ObjectStore
from tests.service_processes import MotoServer

_bucket_numbers = itertools.count(1)


@pytest.fixture(params=["local", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> ObjectStore:
    """A fresh empty store; the test runs once per backend."""
    if request.param == "local":
        return LocalObjectStore(tmp_path / "objects")
    server: MotoServer = request.getfixturevalue("moto_server")
    return S3ObjectStore(
        server.endpoint,
        server.access_key,
        server.secret_key,
        bucket=f"contract-{next(_bucket_numbers)}",
        region=server.region,
    )


def lose(store: ObjectStore) -> None:
    """Take the store's whole container away behind its back, as an operator's mistake or an S3
    server restarted without its data would: the local root folder, or the S3 bucket."""
    if isinstance(store, LocalObjectStore):
        shutil.rmtree(store.root)
        return
    assert isinstance(store, S3ObjectStore)
    client = store._client  # the test's own hand on the server, not the store's behaviour
    for obj in client.list_objects(store.bucket, recursive=True):
        client.remove_object(store.bucket, obj.object_name)
    client.remove_bucket(store.bucket)
    assert not client.bucket_exists(store.bucket)


@pytest.fixture
def lose_store() -> Callable[[ObjectStore], None]:
    return lose
