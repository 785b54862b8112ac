"""/readyz: 200 only when the database answers, every migration is applied and Redis
(when configured) is connected; 503 with the reasons otherwise. /healthz is liveness."""

from __future__ import annotations

import asyncio

import httpx
from tortoise.connection import connections

from app.db import migration_names, sql_parameter
from app.main import create_app
from tests.api.test_health_database_down import database_unreachable
from tests.servers import free_port


async def ready(http: httpx.AsyncClient) -> tuple[int, dict]:
    response = await asyncio.wait_for(http.get("/readyz"), timeout=10)
    return response.status_code, response.json()


async def test_ready_when_the_database_answers_and_is_migrated(api):
    assert await ready(api.http) == (200, {"status": "ready"})


async def test_an_unapplied_migration_makes_it_not_ready(api):
    last = migration_names()[-1]
    connection = connections.get("default")
    # As if the code had a migration the database has not had yet (deployed before `migrate`).
    await connection.execute_query(
        "DELETE FROM tortoise_migrations WHERE app = 'models' AND name = " + sql_parameter(connection, 1), [last]
    )
    status, body = await ready(api.http)
    assert status == 503
    assert body["status"] == "unavailable"
    assert last in body["problems"]["migrations"] and "migrate" in body["problems"]["migrations"]
    assert (await api.http.get("/healthz")).status_code == 200  # alive: no reason to restart it


async def test_a_stopped_database_makes_it_not_ready_until_it_is_back(api, settings):
    # PostgreSQL: the test database refuses connections and the pool's are terminated.
    # SQLite: the app's connection is closed and a directory stands where the file was.
    async with database_unreachable(settings.database_url):
        status, body = await ready(api.http)
        assert status == 503
        assert body["status"] == "unavailable" and body["problems"]["database"].startswith("unreachable")
    if not settings.uses_postgres:
        return  # Tortoise's SQLite client wedges after a failed reopen (tests/api/test_health_database_down.py)
    async with asyncio.timeout(10):
        while (answer := await ready(api.http))[0] != 200:
            await asyncio.sleep(0.1)  # the pool reconnects on its own; bounded
    assert answer == (200, {"status": "ready"})


async def test_redis_not_connected_makes_it_not_ready(settings):
    # A Redis nothing listens on: the app starts (HTTP must work) but is not ready.
    app = create_app(settings.with_(redis_url=f"redis://127.0.0.1:{free_port()}/0"))
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as http:
            status, body = await ready(http)
    assert status == 503 and body["problems"] == {"redis": "not connected"}
