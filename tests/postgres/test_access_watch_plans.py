"""The revocation watch's statements (app/live/revocation_watch.py) are served by indexes
with 400,000 tokens issued and a day of access changes: every serving process runs them
every REVOCATION_POLL_INTERVAL, so none may read either table from end to end. Checked as
tests/postgres/plans.py checks the list queries: the watch's own statements, captured and
EXPLAINed as they are."""

from __future__ import annotations

import asyncio
import json
import logging

import asyncpg
import pytest
from tortoise import Tortoise

from app.db import migrate_database, tortoise_config
from app.live.access import access_channel
from app.live.broker import LocalFanout
from app.live.revocation_watch import MAX_USERS_IN_QUERY, RevocationWatch
from tests import backends
from tests.postgres.plans import _Capture, seq_scans

USERS = 100_000
TOKENS_PER_USER = 4
CHANGES = 5_000  # a busy day of removals
BIG_TABLES = {"access_token", "access_change"}


async def _seed(conn: asyncpg.Connection) -> None:
    """Users with four tokens each; one token in two hundred revoked at some moment of the
    last month (a few within the last minute), a day of access changes."""
    await conn.execute(
        """INSERT INTO "user" (email, name, time_zone, created_at)
           SELECT 'user' || g || '@example.org', 'User ' || g, 'UTC', now() FROM generate_series(1, $1::int) g""",
        USERS,
    )
    await conn.execute(
        """INSERT INTO access_token (user_id, token_hash, label, created_at, revoked_at)
           SELECT 1 + g % $1::int, md5('token' || g) || md5('salt' || g), 'seed', now() - interval '40 days',
                  CASE WHEN g % 200 = 0 THEN now() - ((g::bigint * 7919) % 43200) * interval '1 minute' END
           FROM generate_series(1, $2::int) g""",
        USERS,
        USERS * TOKENS_PER_USER,
    )
    await conn.execute(
        """INSERT INTO access_change (user_id, changed_at)
           SELECT 1 + ((g::bigint * 104729) % $1::int)::int, now() - ((g::bigint * 7877) % 86400) * interval '1 second'
           FROM generate_series(1, $2::int) g""",
        USERS,
        CHANGES,
    )
    await conn.execute("VACUUM ANALYZE")


async def _statements() -> list[tuple[str, str, list]]:
    """The watch starting, then polling for a few listening users and for many (beyond
    MAX_USERS_IN_QUERY its query names no user)."""
    fanout = LocalFanout(queue_size=10)
    watch = RevocationWatch(fanout, interval=0)
    stops = []

    def listen(user_ids) -> None:
        stops.extend(fanout.listen(access_channel(user_id), lambda message: None) for user_id in user_ids)

    async def poll_for_many() -> int:
        listen(range(51, 52 + MAX_USERS_IN_QUERY))
        return await watch.poll()

    listen(range(1, 51))
    cases = [("start", watch.start), ("poll, 50 users listening", watch.poll), ("poll, many users listening", poll_for_many)]
    logger = logging.getLogger("tortoise.db_client")
    results = []
    try:
        for label, action in cases:
            handler = _Capture()
            logger.addHandler(handler)
            logger.setLevel(logging.DEBUG)
            try:
                await action()
            finally:
                logger.removeHandler(handler)
            if not handler.statements:
                raise RuntimeError(f"{label}: no statement captured on the tortoise.db_client logger")
            for i, (sql, values) in enumerate(handler.statements):
                results.append((f"{label} #{i + 1}", sql, values))
    finally:
        for stop in stops:
            stop()
    return results


async def _check(admin_url: str) -> tuple[list[str], list[str]]:
    name = await backends.create_database(admin_url, "watch")
    url = backends.on_database(admin_url, name)
    explained, problems = [], []
    try:
        await migrate_database(url)
        conn = await asyncpg.connect(url)
        try:
            await _seed(conn)
            await Tortoise.init(config=tortoise_config(url))
            try:
                statements = await _statements()
            finally:
                await Tortoise.close_connections()
            for label, sql, values in statements:
                plan = await conn.fetchval(f"EXPLAIN (FORMAT JSON) {sql}", *values)
                plan = plan if isinstance(plan, list) else json.loads(plan)
                explained.append(label)
                scanned = sorted(set(seq_scans(plan[0]["Plan"])) & BIG_TABLES)
                if scanned:
                    problems.append(f"{label}: sequential scan of {', '.join(scanned)}\n    {sql}")
        finally:
            await conn.close()
    finally:
        await backends.drop_database(admin_url, name)
    return explained, problems


@pytest.mark.timeout(300)
async def test_the_revocation_watch_reads_both_logs_through_indexes():
    explained, problems = await asyncio.wait_for(_check(backends.require_postgres()), timeout=240)
    # Starting: the newest row of each log and the rows within the margin before it; each
    # poll: one query per log.
    assert explained == [
        "start #1", "start #2", "start #3", "start #4",
        "poll, 50 users listening #1", "poll, 50 users listening #2",
        "poll, many users listening #1", "poll, many users listening #2",
    ]
    assert problems == [], "\n".join(problems)
