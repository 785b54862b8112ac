"""/healthz answers 503 while the database cannot be reached, and 200 again once it can."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

import asyncpg
import pytest
from tortoise.connection import connections

from tests import backends


@contextlib.asynccontextmanager
async def database_unreachable(database_url: str):
    """Cut the app off from its database (its own test database only), then give it back."""
    if database_url.startswith("postgres"):
        name = database_url.rsplit("/", 1)[1]
        admin = await asyncpg.connect(backends.on_database(database_url, "postgres"))
        try:
            # No new connection may open, and the pool's open ones are ended.
            await admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
            await admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()",
                name,
            )
            yield
        finally:
            await admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
            await admin.close()
    else:
        path = Path(database_url.removeprefix("sqlite://").split("?", 1)[0])
        aside = path.with_name(path.name + ".aside")
        # The app's connection is closed, and a directory where the file was cannot be
        # opened as a database: the app tries to reconnect, and fails.
        await connections.get("default").close()
        path.rename(aside)
        path.mkdir()
        try:
            yield
        finally:
            path.rmdir()
            aside.rename(path)


async def health(api) -> tuple[int, dict]:
    response = await asyncio.wait_for(api.http.get("/healthz"), timeout=5)
    return response.status_code, response.json()


DOWN = {"status": "unavailable", "database": "unreachable", "live": {"broker": "memory", "connected": True, "subscriptions": 0}}
UP = {"status": "ok", "live": {"broker": "memory", "connected": True, "subscriptions": 0}}


async def test_healthz_is_503_while_the_database_is_unreachable(api, settings):
    assert await health(api) == (200, UP)
    async with database_unreachable(settings.database_url):
        assert await health(api) == (503, DOWN)


async def test_healthz_is_200_again_once_the_database_is_back(api, settings, request):
    if not settings.uses_postgres:
        # Tortoise 1.1.9's SQLite client keeps its lock when reopening the file fails
        # (ConnectionWrapper.__aenter__ raises after acquiring it): every later query, the
        # health check's included, waits forever. SQLite's one connection is never closed
        # while the app runs, so only this test reaches that state; strict, so a fix shows.
        request.applymarker(pytest.mark.xfail(strict=True, raises=TimeoutError, reason="Tortoise SQLite client wedges after a failed reopen"))
    async with database_unreachable(settings.database_url):
        assert await health(api) == (503, DOWN)
        assert await health(api) == (503, DOWN), "a second probe answers too, and still 503"

    # Back: the app reconnects on its own (bounded wait for the pool to notice).
    async with asyncio.timeout(10):
        while (answer := await health(api))[0] != 200:
            await asyncio.sleep(0.1)
    assert answer == (200, UP)
