"""The member list (Program.members) is served by indexes at 100,000 members: no
sequential scan of a big table for the first page, a search of one or two words, a role
filter, a page after or before a cursor, or the total (checked as tests/postgres/plans.py
checks the other lists: the app's own statements, captured and EXPLAINed as they are)."""

from __future__ import annotations

import asyncio
import json
import logging

import asyncpg
import pytest
from tortoise import Tortoise

from app.accounts import member_list
from app.accounts.models import ProgramRole
from app.accounts.name_search import search_words, sort_key, words
from app.db import migrate_database, tortoise_config
from app.keyset import Window
from tests import backends
from tests.postgres.plans import _Capture, seq_scans

MEMBERS = 100_000
VERBOSE = False  # True prints each plan (EXPLAIN ANALYZE), to see why one scans
BIG_TABLES = {"user", "membership", "user_name_word"}
FIRST_NAMES = ["Ada", "Éloïse", "Grace", "Alan", "Marie", "Jörg", "Siobhán", "Kofi", "Mei", "Lucía",
               "Noah", "Amara", "Ravi", "Ingrid", "Tomás", "Yuki", "Olu", "Zoë", "Hamid", "Ana"]
SYLLABLES = ["ka", "lo", "mi", "ra", "ve", "su", "to", "ne", "bi", "da"]


def _name(i: int) -> str:
    # 20 first names x 1,000 surnames; Lovelace is one person in a hundred thousand.
    if i == 4242:
        return "Ada Lovelace"
    k = (i * 7919) % 1000
    surname = "".join(SYLLABLES[d] for d in (k // 100, k // 10 % 10, k % 10)).title()
    return f"{FIRST_NAMES[i % len(FIRST_NAMES)]} {surname}"


async def _seed(conn: asyncpg.Connection) -> int:
    """One big program of MEMBERS members (one in ten a mentor); everyone also belongs to
    one of two other programs, so the big one is not the whole membership table. Names
    indexed as the app indexes them. Bulk COPY, not the ORM row by row."""
    await conn.execute("INSERT INTO program (name, created_at) VALUES ('Big', now()), ('Other', now()), ('Small', now())")
    big = await conn.fetchval("SELECT id FROM program WHERE name = 'Big'")
    other = await conn.fetchval("SELECT id FROM program WHERE name = 'Other'")
    small = await conn.fetchval("SELECT id FROM program WHERE name = 'Small'")
    now = await conn.fetchval("SELECT now()")
    users = [(i, f"user{i}@example.org", _name(i), "UTC", sort_key(_name(i)), now) for i in range(1, MEMBERS + 1)]
    await conn.copy_records_to_table(
        "user", records=users, columns=["id", "email", "name", "time_zone", "sort_name", "created_at"]
    )
    await conn.execute("SELECT setval(pg_get_serial_sequence('\"user\"', 'id'), $1)", MEMBERS)
    await conn.copy_records_to_table(
        "user_name_word", records=[(u[0], w) for u in users for w in words(u[2])], columns=["user_id", "word"]
    )
    memberships = [(big, i, "MENTOR" if i % 10 == 0 else "MENTEE", now) for i in range(1, MEMBERS + 1)]
    memberships += [(other if i % 2 else small, i, "MENTEE", now) for i in range(1, MEMBERS + 1)]
    memberships += [(other, i, "MENTOR", now) for i in range(2, MEMBERS + 1, 2)]
    await conn.copy_records_to_table(
        "membership", records=memberships, columns=["program_id", "user_id", "role", "created_at"]
    )
    await conn.execute("VACUUM ANALYZE")
    return big


async def _statements(program_id: int) -> list[tuple[str, str, list]]:
    middle = member_list.MemberCursor(sort_key(_name(50_000)), 50_000)
    cases = [
        ("first page", None, [], Window(20)),
        ("search 'lov'", None, search_words("lov"), Window(20)),
        ("search 'ada lov'", None, search_words("ada lov"), Window(20)),
        ("search 'a' (common prefix)", None, search_words("a"), Window(20)),
        ("role MENTOR", ProgramRole.MENTOR, [], Window(20)),
        ("role MENTOR, search 'ada'", ProgramRole.MENTOR, search_words("ada"), Window(20)),
        ("search 'élo'", None, search_words("élo"), Window(20)),
        ("after a cursor", None, [], Window(20, after=middle)),
        ("last before a cursor", None, [], Window(20, before=middle, backward=True)),
        ("last page", None, [], Window(20, backward=True)),
    ]
    logger = logging.getLogger("tortoise.db_client")
    results = []
    for label, role, searched, window in cases:
        handler = _Capture()
        logger.addHandler(handler)
        logger.setLevel(logging.DEBUG)
        try:
            page = await member_list.program_members(program_id=program_id, role=role, words=searched, window=window)
            assert page.rows, label  # the case finds someone: the plan is the one a client meets
            await page.total_count()
        finally:
            logger.removeHandler(handler)
        if not handler.statements:
            raise RuntimeError(f"{label}: no statement captured on the tortoise.db_client logger")
        for i, (sql, values) in enumerate(handler.statements):
            results.append((f"{label} #{i + 1}", sql, values))
    return results


async def _check(admin_url: str) -> tuple[list[str], list[str]]:
    name = await backends.create_database(admin_url, "members")
    url = backends.on_database(admin_url, name)
    explained, problems = [], []
    try:
        await migrate_database(url)
        conn = await asyncpg.connect(url)
        try:
            program_id = await _seed(conn)
            await Tortoise.init(config=tortoise_config(url))
            try:
                statements = await _statements(program_id)
            finally:
                await Tortoise.close_connections()
            for label, sql, values in statements:
                if VERBOSE:
                    print(await conn.fetchval(f"EXPLAIN {sql}", *values) and "\n".join(
                        r[0] for r in await conn.fetch(f"EXPLAIN ANALYZE {sql}", *values)), label)
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


@pytest.mark.timeout(400)
async def test_member_list_and_search_use_indexes_at_100000_members():
    explained, problems = await asyncio.wait_for(_check(backends.require_postgres()), timeout=300)
    # Page and total for each case; the cursor cases also check the other side of the cursor.
    assert len(explained) == 10 * 2 + 2, explained
    assert problems == [], "\n".join(problems)
