"""The read pool behind `app.db.fetch_rows` on PostgreSQL (app/read_pool.py): a connection
serves read after read; never more than READ_POOL_SIZE are open, and readers beyond that
wait their turn and are all served; a cancelled read's connection is closed (the statement
stopped on the server) and not lent again; a connection the server ended is replaced; and
the app's shutdown leaves no connection open.

Readers are held on the server, not by sleeping: the test holds an advisory lock that the
reads wait for (`pg_advisory_lock_shared`, released in the same statement).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import asyncpg
import pytest

from app.accounts.models import User
from app.db import fetch_rows
from app.main import create_app

SIZE = 2
LOCK = 4242
# Waits for the test's lock, then answers which server process ran it.
BLOCKED_READ = f"SELECT pg_backend_pid() FROM (SELECT pg_advisory_lock_shared({LOCK}), pg_advisory_unlock_shared({LOCK})) AS waited"
PID = "SELECT pg_backend_pid()"


@pytest.fixture
def settings(settings):
    if not settings.uses_postgres:
        pytest.skip("the read pool is PostgreSQL's (TEST_PASS=postgres)")
    return settings.with_(read_pool_size=SIZE)


@pytest.fixture
async def server(settings) -> AsyncIterator[asyncpg.Connection]:
    """A connection of the test's own to the app's database, outside every pool."""
    connection = await asyncpg.connect(settings.database_url.partition("?")[0], timeout=10)
    try:
        yield connection
    finally:
        await connection.close(timeout=10)


async def _pid(db) -> int:
    return (await fetch_rows(db, PID))[0][0]


async def _until(condition, what: str, seconds: float = 10) -> None:
    try:
        async with asyncio.timeout(seconds):
            while not await condition():
                await asyncio.sleep(0.01)
    except TimeoutError:
        raise AssertionError(f"still not {what} after {seconds}s") from None


async def _waiting_on_the_lock(server: asyncpg.Connection) -> int:
    return await server.fetchval(
        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objid = $1 AND NOT granted", LOCK
    )


async def _backends(server: asyncpg.Connection) -> set[int]:
    """The server processes connected to the app's database, the test's own excepted."""
    rows = await server.fetch(
        "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
    )
    return {row["pid"] for row in rows}


async def test_one_connection_serves_read_after_read(app):
    db = User._meta.db
    pids = [await _pid(db) for _ in range(5)]
    assert len(set(pids)) == 1
    assert db.reads.counts() == (1, 0, 0)  # open, in use, waiting
    # and it is not one of Tortoise's: a read inside the pool's connection would show it
    _, rows = await db.execute_query(PID)
    assert rows[0][0] != pids[0]


async def test_readers_beyond_the_size_wait_their_turn_and_are_all_served(app, server):
    db = User._meta.db
    await server.execute("SELECT pg_advisory_lock($1)", LOCK)
    readers = [asyncio.create_task(fetch_rows(db, BLOCKED_READ)) for _ in range(3 * SIZE + 1)]
    try:

        async def all_queued() -> bool:
            return db.reads.counts() == (SIZE, SIZE, 2 * SIZE + 1) and await _waiting_on_the_lock(server) == SIZE

        await _until(all_queued, f"{SIZE} reads on the server and the rest waiting")
        assert len(await _backends(server) - {await _tortoise_pid(db)}) == SIZE
    finally:
        await server.execute("SELECT pg_advisory_unlock($1)", LOCK)
    async with asyncio.timeout(10):
        results = await asyncio.gather(*readers)
    pids = {rows[0][0] for rows in results}
    assert len(results) == 3 * SIZE + 1 and len(pids) == SIZE
    assert db.reads.counts() == (SIZE, 0, 0)


async def _tortoise_pid(db) -> int:
    _, rows = await db.execute_query(PID)
    return rows[0][0]


async def test_a_cancelled_read_is_stopped_and_its_connection_never_lent_again(app, server):
    db = User._meta.db
    first = await _pid(db)
    await server.execute("SELECT pg_advisory_lock($1)", LOCK)
    try:
        reader = asyncio.create_task(fetch_rows(db, BLOCKED_READ))

        async def blocked() -> bool:
            return await _waiting_on_the_lock(server) == 1

        await _until(blocked, "waiting on the server")
        reader.cancel()
        with pytest.raises(asyncio.CancelledError):
            await reader

        async def gone() -> bool:
            return first not in await _backends(server)

        # Closed while the lock is still held: the server cancelled the statement.
        await _until(gone, "closed on the server")
        assert await _waiting_on_the_lock(server) == 0
    finally:
        await server.execute("SELECT pg_advisory_unlock($1)", LOCK)
    pids = {await _pid(db) for _ in range(3)}
    assert first not in pids and len(pids) == 1
    assert db.reads.counts() == (1, 0, 0)


async def test_a_connection_the_server_ended_is_replaced(app, server):
    db = User._meta.db
    first = await _pid(db)
    assert await server.fetchval("SELECT pg_terminate_backend($1)", first)
    idle = db.reads._idle[0]

    async def noticed() -> bool:
        return idle.is_closed()

    await _until(noticed, "seen closed by the client")
    second = await _pid(db)
    assert second != first
    assert await _pid(db) == second
    assert db.reads.counts() == (1, 0, 0)


async def test_shutdown_closes_every_connection(settings, server):
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        db = User._meta.db
        await server.execute("SELECT pg_advisory_lock($1)", LOCK)
        try:
            readers = [asyncio.create_task(fetch_rows(db, BLOCKED_READ)) for _ in range(SIZE)]

            async def both_blocked() -> bool:
                return await _waiting_on_the_lock(server) == SIZE

            await _until(both_blocked, "both reads on the server")
        finally:
            await server.execute("SELECT pg_advisory_unlock($1)", LOCK)
        async with asyncio.timeout(10):
            await asyncio.gather(*readers)
        assert db.reads.counts() == (SIZE, 0, 0)
        assert len(await _backends(server)) >= SIZE + 1  # the read pool's and Tortoise's
        reads = db.reads

    async def none_left() -> bool:
        return not await _backends(server)

    await _until(none_left, "every connection closed")
    assert reads.counts()[0] == 0
    with pytest.raises(asyncpg.InterfaceError):
        await reads.fetch(PID, (), db.log)


async def test_the_pool_gauges_count_the_read_pool_too(app):
    from app import metrics

    db = User._meta.db
    await _pid(db)
    await _tortoise_pid(db)
    pool = db._pool
    # Tortoise's connections and the read pool's one: all connections to the server
    assert metrics.pool_state() == (pool.get_size() + 1, pool.get_size() - pool.get_idle_size(), 0)
