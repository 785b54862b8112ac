"""`app.db.fetch_rows`, the read path of the hot reads: on PostgreSQL straight to asyncpg on
the read pool (app/read_pool.py; its own guarantees: tests/scale/test_read_pool.py), through
Tortoise's `execute_query` inside a transaction and on SQLite. Whichever way a read goes,
callers see the same rows, the same statement in the log (the statement counts rest on it),
the same exceptions, and a cancelled read stops on the server.
"""

from __future__ import annotations

import asyncio

import pytest
from tortoise import connections
from tortoise.exceptions import OperationalError
from tortoise.transactions import in_transaction

from app.accounts.models import User
from app.db import fetch_rows, sql_parameter
from app.read_pool import PostgresClient
from tests.scale.statements import count_statements


def _users_sql(db) -> str:
    return (
        f'SELECT id, email, name, created_at, email_reminders FROM "user" WHERE id > {sql_parameter(db, 1)} '
        f"AND name <> {sql_parameter(db, 2)} ORDER BY id"
    )


def _direct(db) -> bool:
    return type(db) is PostgresClient and db.reads is not None


def _as_tuples(rows) -> list[tuple]:
    return [(tuple(row.keys()), tuple(row)) for row in rows]


async def test_the_same_rows_as_execute_query_logged_as_one_statement(world, settings, monkeypatch):
    db = User._meta.db
    sql, values = _users_sql(db), [world.host.user.id, "Otto"]
    _, expected = await db.execute_query(sql, values)
    assert len(expected) >= 5
    if settings.uses_postgres:
        assert _direct(db)

        async def not_through_tortoise(*args, **kwargs):
            raise AssertionError("a read on the pool went through execute_query")

        monkeypatch.setattr(db, "execute_query", not_through_tortoise)
    with count_statements() as log:
        rows = await fetch_rows(db, sql, values)
    assert _as_tuples(rows) == _as_tuples(expected)
    assert [type(row) for row in rows] == [type(row) for row in expected]
    assert log.statements == [f"{sql}: {values}"]  # what Tortoise logs for each statement


async def test_inside_a_transaction_it_reads_the_transactions_uncommitted_rows(world, settings):
    email = "uncommitted@example.org"
    sql = f'SELECT id, email FROM "user" WHERE email = {sql_parameter(User._meta.db, 1)}'

    class Rollback(Exception):
        pass

    on_the_pool = connections.get("default")
    with pytest.raises(Rollback):
        async with in_transaction() as transaction:
            user = await User.create(email=email, name="Uncommitted", using_db=transaction)
            db = User._meta.db
            assert db is transaction and not _direct(db)
            with count_statements() as log:
                rows = await fetch_rows(db, sql, [email])
            assert [tuple(row) for row in rows] == [(user.id, email)]
            assert len(log) == 1
            if settings.uses_postgres:  # read on the pool: not committed yet
                assert list(await fetch_rows(on_the_pool, sql, [email])) == []
            raise Rollback
    assert list(await fetch_rows(User._meta.db, sql, [email])) == []


async def test_a_cancelled_read_stops_and_the_reads_go_on(world, settings):
    db = User._meta.db
    if not settings.uses_postgres:  # Tortoise's own path: its connection lock is freed
        count_far = (
            "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 3000000) SELECT count(*) FROM c"
        )
        task = asyncio.create_task(fetch_rows(db, count_far))
        await asyncio.sleep(0.05)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert [tuple(row) for row in await asyncio.wait_for(fetch_rows(db, "SELECT 2"), 10)] == [(2,)]
        return
    slow = "SELECT pg_sleep(30)"
    running = "SELECT count(*) FROM pg_stat_activity WHERE query = $1 AND state = 'active'"
    task = asyncio.create_task(fetch_rows(db, slow))
    async with asyncio.timeout(10):
        while (await fetch_rows(db, running, [slow]))[0][0] == 0:  # until the statement runs on the server
            await asyncio.sleep(0.01)
    assert db.reads.counts()[1] == 1  # the read holds a connection of the read pool
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    async with asyncio.timeout(10):  # its connection is closed once the server cancelled the statement
        while db.reads.counts()[1]:  # a connection being closed keeps its place
            await asyncio.sleep(0.01)
    assert (await fetch_rows(db, running, [slow]))[0][0] == 0, "the cancelled statement still runs on the server"
    assert [tuple(row) for row in await fetch_rows(db, "SELECT 2")] == [(2,)]


FAILING = [
    ('SELECT nothing FROM "user"', []),  # unknown column
    ("SELECT * FROM no_such_table", []),
    ("SELEKT 1", []),
    ("SELECT 1 / 0", []),
]
FAILING_ON_POSTGRES = [
    ("SELECT $1::int", ["not a number"]),  # the driver refuses the argument
    ("SELECT 'x'::int", []),
]


@pytest.mark.parametrize("sql, values", FAILING + FAILING_ON_POSTGRES)
async def test_an_error_maps_as_it_does_through_execute_query(world, settings, sql, values):
    if (sql, values) in FAILING_ON_POSTGRES and not settings.uses_postgres:
        pytest.skip("PostgreSQL's own refusal")
    db = User._meta.db
    if not settings.uses_postgres:
        sql = sql.replace("$1", "?")

    async def failure(read) -> BaseException | None:
        try:
            await read
        except Exception as error:  # noqa: BLE001 - compared below
            return error
        return None

    expected = await failure(db.execute_query(sql, values))
    found = await failure(fetch_rows(db, sql, values))
    if expected is None:  # SQLite divides by zero without complaint
        assert found is None
        return
    assert type(found) is type(expected) and str(found) == str(expected)
    assert type(found.__cause__) is type(expected.__cause__)
    if settings.uses_postgres:
        assert isinstance(found, OperationalError)
    # and the pool is fine afterwards
    assert [tuple(row) for row in await fetch_rows(db, "SELECT 3")] == [(3,)]
