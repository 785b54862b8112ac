"""The PostgreSQL pool: no reset round trip per request, yet no transaction leaks (the pool
options themselves: tests/unit/test_postgres_config.py)."""

from __future__ import annotations

from tortoise import connections

from app.db import _reset_pooled_connection


async def test_a_transaction_left_open_is_rolled_back_on_release(app):
    client = connections.get("default")
    await client.execute_query("SELECT 1")  # the pool opens on first use
    pool = client._pool
    assert pool._reset is _reset_pooled_connection  # asyncpg's reset query is not sent
    async with pool.acquire() as connection:
        await connection.execute("BEGIN")
        await connection.execute("CREATE TEMP TABLE leak (x int)")
    # Every connection of the pool is clean: no open transaction, the temp table rolled back.
    for _ in range(pool.get_size()):
        async with pool.acquire() as connection:
            assert not connection.is_in_transaction()
            assert await connection.fetchval("SELECT to_regclass('pg_temp.leak')") is None
