"""S3 only: what a write can and cannot do when the bucket was deleted behind the store's back.

The shared contract (``test_contract.py``) proves that bytes and seekable streams are written
whole after a loss, on both backends. A stream that cannot be rewound has been read by the failed
attempt: S3 cannot write it again, so it says the store was unavailable (the caller retries),
and the bucket is there for the next write.
"""

from __future__ import annotations

import io
import logging

import pytest

from storage import S3ObjectStore, StorageUnavailable
from tests.service_processes import MotoServer
from tests.storage.conftest import lose


class OneWayStream(io.RawIOBase):
    """A request body read straight from the socket: no seek."""

    def __init__(self, data: bytes) -> None:
        super().__init__()
        self._data = io.BytesIO(data)

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        return self._data.read(size)


def test_a_one_way_stream_after_a_loss_is_an_outage_and_the_bucket_comes_back(
    moto_server: MotoServer, caplog: pytest.LogCaptureFixture
) -> None:
    store = S3ObjectStore(
        moto_server.endpoint,
        moto_server.access_key,
        moto_server.secret_key,
        bucket="one-way-loss",
        region=moto_server.region,
    )
    store.put("before", b"1")
    lose(store)

    with (
        caplog.at_level(logging.ERROR, logger="storage.s3"),
        pytest.raises(StorageUnavailable, match="created again"),
    ):
        store.put("streamed", OneWayStream(b"body"), length=4)

    assert "had disappeared and was created again" in caplog.text
    store.put("streamed", OneWayStream(b"body"), length=4)
    assert store.get("streamed") == b"body"
