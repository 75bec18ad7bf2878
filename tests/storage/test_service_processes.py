"""The throw-away server helpers themselves: they start, crash, restart and clean up."""

from __future__ import annotations

import urllib.request

import pytest
import redis

from tests.service_processes import (
    MotoServer,
    RedisServer,
    ServiceNotInstalled,
    service_missing,
)


@pytest.fixture
def redis_server() -> RedisServer:
    try:
        server = RedisServer()
    except ServiceNotInstalled as exc:
        service_missing(str(exc))
    with server:
        yield server


@pytest.mark.slow
def test_redis_comes_back_on_the_same_port_after_a_crash(redis_server: RedisServer) -> None:
    url = redis_server.url
    client = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
    assert client.ping()
    client.set("k", "v")

    redis_server.kill()
    with pytest.raises(redis.ConnectionError):
        redis.Redis.from_url(url, socket_connect_timeout=1).ping()

    redis_server.start()
    assert redis_server.url == url
    fresh = redis.Redis.from_url(url, socket_timeout=2)
    assert fresh.ping()
    assert fresh.get("k") is None, "persistence should be off"


@pytest.mark.slow
def test_close_stops_the_server_and_removes_its_folder() -> None:
    server = MotoServer()
    with server:
        with urllib.request.urlopen(f"{server.url}/moto-api/", timeout=5) as response:
            assert response.status == 200
        tmp_dir = server.tmp_dir
        assert tmp_dir.is_dir()

    assert not server.running
    assert not tmp_dir.exists()
    with pytest.raises(OSError):
        urllib.request.urlopen(f"{server.url}/moto-api/", timeout=2)


def test_service_missing_skips_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PASSAGES_REQUIRE_SERVICES", raising=False)

    with pytest.raises(pytest.skip.Exception, match="no redis"):
        service_missing("no redis")


def test_service_missing_fails_when_ci_requires_services(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PASSAGES_REQUIRE_SERVICES", "1")

    with pytest.raises(pytest.fail.Exception, match="no redis"):
        service_missing("no redis")
