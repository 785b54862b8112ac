"""Finding Redis for the tests (skip with one line when there is none), and running a
private redis-server that a test may stop and start again."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
import uuid

import pytest
import redis

from tests.processes import free_port

DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"


def shared_redis_url() -> str:
    """REDIS_URL (or TEST_REDIS_URL, or the local default) if a Redis answers there; skips otherwise."""
    url = os.environ.get("TEST_REDIS_URL") or os.environ.get("REDIS_URL") or DEFAULT_REDIS_URL
    try:
        redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1).ping()
    except (redis.RedisError, OSError) as error:
        _skip_or_fail(f"needs Redis: none answers at {url} ({type(error).__name__}); set REDIS_URL")
    return url


def _skip_or_fail(reason: str) -> None:
    """Skip, unless REQUIRE_REDIS is set (CI): there a missing Redis is a failure."""
    if os.environ.get("REQUIRE_REDIS"):
        pytest.fail(reason + " (REQUIRE_REDIS is set)")
    pytest.skip(reason)


def unique_prefix() -> str:
    """Channel prefix of one test, so tests (and helpers sharing the Redis) never mix."""
    return f"test-{uuid.uuid4().hex[:12]}:"




class PrivateRedis:
    """A redis-server of this test alone, on a free port, that can be stopped and restarted."""

    def __init__(self) -> None:
        self.binary = shutil.which("redis-server")
        if self.binary is None:
            _skip_or_fail("needs the redis-server program to simulate an outage")
        self.port = free_port()
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        client = redis.Redis.from_url(self.url, socket_connect_timeout=0.2, socket_timeout=0.5)
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                return
            except (redis.RedisError, OSError):
                if time.monotonic() > deadline or self.process.poll() is not None:
                    raise RuntimeError(f"redis-server did not start on port {self.port}") from None
                time.sleep(0.05)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)
        self.process = None
