"""Redis for the live tests: a channel prefix per test, and a private redis-server that a
test may stop and start again. The shared Redis is found by tests/backends.py (require_redis)."""

from __future__ import annotations

import shutil
import subprocess
import time
import uuid

import redis

from tests.backends import skip_or_fail_for_redis
from tests.servers import free_port


def unique_prefix() -> str:
    """Channel prefix of one test, so tests (and helpers sharing the Redis) never mix."""
    return f"test-{uuid.uuid4().hex[:12]}:"


class PrivateRedis:
    """A redis-server of this test alone, on a free port, that can be stopped and restarted."""

    def __init__(self) -> None:
        self.binary = shutil.which("redis-server")
        if self.binary is None:
            skip_or_fail_for_redis("needs the redis-server program to simulate an outage")
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
