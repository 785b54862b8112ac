"""Fixtures of the API tests that need more than tests/conftest.py gives."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from tortoise import connections

from tests import backends


@pytest.fixture
async def empty_database(tmp_path) -> AsyncIterator[str]:
    """A database with nothing in it, on the pass's server (SQLite, or PostgreSQL with
    TEST_PASS=postgres): for migration tests that migrate it step by step themselves."""
    if backends.current_pass() == "postgres":
        async with backends.postgres_database(backends.require_postgres(), kind="migration") as url:
            yield url
    else:
        yield f"sqlite://{tmp_path / 'before.sqlite3'}"


async def rows(sql: str) -> list[tuple]:
    """The rows `sql` reads on the default connection, as tuples."""
    _, found = await connections.get("default").execute_query(sql)
    return [tuple(dict(row).values()) for row in found]
