"""PostgreSQL and Redis for the tests: where each one is, whether it answers, and fresh
PostgreSQL databases. The one way the suite (and scripts/test) reaches either service.

    TEST_DATABASE_URL  the PostgreSQL server (default postgres://postgres@127.0.0.1:5432/postgres;
                       empty or `none`: no PostgreSQL, its tests skip saying so)
    TEST_REDIS_URL     the Redis (default redis://127.0.0.1:6379/0; empty or `none`: no Redis)
    REQUIRE_REDIS=1    a missing Redis fails the tests that need it instead of skipping them (CI)
    TEST_PASS          `sqlite` or `postgres`: the database the app under test runs on
                       (scripts/test sets it; unset: `postgres` when TEST_DATABASE_URL is set
                       to a PostgreSQL URL, `sqlite` otherwise)

`python -m tests.backends postgres|redis` prints nothing and exits 0 when the service answers,
else prints why not (one line) and exits 1: scripts/test decides its passes with it.
"""

from __future__ import annotations

import functools
import os
import socket
import struct
import sys
from contextlib import asynccontextmanager
from collections.abc import AsyncIterator
from urllib.parse import urlsplit

import pytest

from tests.databases import database_name

DEFAULT_POSTGRES_URL = "postgres://postgres@127.0.0.1:5432/postgres"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
PROBE_SECONDS = 2.0  # bound on each "does it answer?" probe


def _configured(variable: str, default: str) -> str | None:
    """The URL a TEST_* variable names: its default when unset, None when empty or `none`."""
    value = os.environ.get(variable)
    if value is None:
        return default
    value = value.strip()
    return None if value.lower() in {"", "none"} else value


def address(url: str) -> str:
    """host:port of a service URL, without credentials (for messages)."""
    parts = urlsplit(url)
    return f"{parts.hostname}:{parts.port or {'redis': 6379, 'rediss': 6379}.get(parts.scheme, 5432)}"


# --- PostgreSQL ------------------------------------------------------------------------------


def postgres_url() -> str | None:
    """The PostgreSQL server the tests are told to use (not checked), or None if opted out."""
    return _configured("TEST_DATABASE_URL", DEFAULT_POSTGRES_URL)


@functools.cache
def postgres_absence() -> str | None:
    """None when PostgreSQL answers at `postgres_url()`, else why not (one line). A
    server answers PostgreSQL's SSLRequest with one byte, S or N: that is what is asked."""
    url = postgres_url()
    if url is None:
        return "TEST_DATABASE_URL is set to none"
    parts = urlsplit(url)
    try:
        sock = socket.create_connection((parts.hostname, parts.port or 5432), timeout=PROBE_SECONDS)
    except OSError:
        return f"nothing answers at {address(url)}"
    try:
        sock.sendall(struct.pack("!ii", 8, 80877103))
        reply = sock.recv(1)
    except OSError:
        reply = b""
    finally:
        sock.close()
    if reply not in (b"S", b"N"):
        return f"what answers at {address(url)} is not PostgreSQL"
    return None


def require_postgres() -> str:
    """The PostgreSQL server URL; skips the test (saying why) when there is none."""
    if reason := postgres_absence():
        pytest.skip(f"needs PostgreSQL: {reason}")
    return postgres_url()


def on_database(server_url: str, name: str) -> str:
    """`server_url` with its database replaced by `name` (query options kept)."""
    head, _, tail = server_url.partition("?")
    head = head.rstrip("/").rpartition("/")[0]
    return f"{head}/{name}" + (f"?{tail}" if tail else "")


async def create_database(server_url: str, kind: str, template: str | None = None) -> str:
    """A new, empty database (or a copy of `template`) on the server, named by
    `database_name(kind)` (the run's prefix, so .ci/run drops only its own); its name."""
    import asyncpg

    name = database_name(kind)
    conn = await asyncpg.connect(on_database(server_url, "postgres").partition("?")[0], timeout=10)
    try:
        clause = f' TEMPLATE "{template}"' if template else ""
        await conn.execute(f'CREATE DATABASE "{name}"{clause}')
    finally:
        await conn.close()
    return name


async def drop_database(server_url: str, name: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(on_database(server_url, "postgres").partition("?")[0], timeout=10)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


@asynccontextmanager
async def postgres_database(server_url: str, kind: str = "test", template: str | None = None) -> AsyncIterator[str]:
    """A database of its own on the server for the duration of the block: yields its URL."""
    name = await create_database(server_url, kind, template)
    try:
        yield on_database(server_url, name)
    finally:
        await drop_database(server_url, name)


def current_pass() -> str:
    """`postgres` or `sqlite`: the database the app under test runs on in this run."""
    chosen = os.environ.get("TEST_PASS", "").strip().lower()
    if chosen in {"sqlite", "postgres"}:
        return chosen
    if chosen:
        raise pytest.UsageError(f"TEST_PASS must be sqlite or postgres, got {chosen!r}")
    explicit = os.environ.get("TEST_DATABASE_URL", "").strip()
    return "postgres" if explicit.startswith("postgres") else "sqlite"


# --- Redis -----------------------------------------------------------------------------------


def redis_url() -> str | None:
    """The Redis the tests are told to use (not checked), or None if opted out."""
    return _configured("TEST_REDIS_URL", DEFAULT_REDIS_URL)


@functools.cache
def redis_absence() -> str | None:
    """None when Redis answers PING at `redis_url()`, else why not (one line)."""
    import redis

    url = redis_url()
    if url is None:
        return "TEST_REDIS_URL is set to none"
    client = redis.Redis.from_url(url, socket_connect_timeout=PROBE_SECONDS, socket_timeout=PROBE_SECONDS)
    try:
        client.ping()
    except (redis.RedisError, OSError) as error:
        return f"nothing answers at {address(url)} ({type(error).__name__})"
    finally:
        client.close()
    return None


def require_redis() -> str:
    """The Redis URL; skips the test (saying why) when there is none, or fails it when
    REQUIRE_REDIS is set (CI must run every Redis test)."""
    if reason := redis_absence():
        skip_or_fail_for_redis(f"needs Redis: {reason}")
    return redis_url()


def skip_or_fail_for_redis(reason: str) -> None:
    if os.environ.get("REQUIRE_REDIS"):
        pytest.fail(reason + " (REQUIRE_REDIS is set)")
    pytest.skip(reason)


def main(argv: list[str]) -> int:
    checks = {"postgres": postgres_absence, "redis": redis_absence}
    if len(argv) != 1 or argv[0] not in checks:
        print("usage: python -m tests.backends postgres|redis", file=sys.stderr)
        return 2
    reason = checks[argv[0]]()
    if reason:
        print(reason)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
