"""EXPLAIN every list query the API serves on a large PostgreSQL dataset and report any
sequential scan of the big tables.

The statements are the application's own: each list query runs through app code while a
log handler captures the SQL and its parameters, which are then EXPLAINed as they are.

    python -m tests.postgres.plans --sessions 100000 --registrations 1000000   (scripts/explain)
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import time
from dataclasses import dataclass

import asyncpg
from tortoise import Tortoise

from app.accounts.services import viewer_for_token
from app.clock import utcnow
from app.db import migrate_database, tortoise_config
from app.group_sessions import read_model
from tests import backends

BIG_TABLES = {"group_session", "registration", "user", "membership", "access_token", "guest"}
PROGRAMS = 20


@dataclass
class Scale:
    sessions: int
    registrations: int

    @property
    def users(self) -> int:
        return max(self.registrations // 20, 1000)


async def seed(conn: asyncpg.Connection, scale: Scale) -> None:
    """Programs, users (each in one program; one in ten a mentor), sessions spread over a
    year around now, and registrations (the host's first, then members of the program)."""
    now = utcnow()
    users = scale.users
    await conn.execute(
        "INSERT INTO program (name, created_at) SELECT 'Program ' || g, now() FROM generate_series(1, $1::int) g",
        PROGRAMS,
    )
    await conn.execute(
        """INSERT INTO "user" (email, name, time_zone, created_at)
           SELECT 'user' || g || '@example.org', 'User ' || g, 'UTC', now() FROM generate_series(1, $1::int) g""",
        users,
    )
    await conn.execute(
        """INSERT INTO membership (program_id, user_id, role, created_at)
           SELECT 1 + (g % $2::int), g, CASE WHEN g % 10 = 0 THEN 'MENTOR' ELSE 'MENTEE' END, now()
           FROM generate_series(1, $1::int) g""",
        users,
        PROGRAMS,
    )
    await conn.execute(
        """INSERT INTO access_token (user_id, token_hash, label, created_at)
           SELECT g, md5('token' || g) || md5('salt' || g), 'seed', now() FROM generate_series(1, $1::int) g""",
        users,
    )
    # Hosts are the mentors (user ids that are multiples of 10), program = host's program.
    mentors = users // 10
    await conn.execute(
        """INSERT INTO group_session (program_id, host_id, title, objective, starts_at, ends_at, duration_minutes,
                                      min_participants, max_participants, participant_count, status, sequence,
                                      created_at, updated_at)
           SELECT 1 + (h % $4::int), h, 'Session ' || g, 'Objective', s, s + interval '60 minutes', 60, 1, 40, 0,
                  CASE WHEN g % 50 = 0 THEN 'CANCELLED' ELSE 'SCHEDULED' END, 0, now(), now()
           FROM (SELECT g, 10 * (1 + (g::bigint * 7919) % $2::int)::int AS h,
                        $3::timestamptz + (((g::bigint * 104729) % 525600) - 262800) * interval '1 minute' AS s
                 FROM generate_series(1, $1::int) g) x""",
        scale.sessions,
        mentors,
        now,
        PROGRAMS,
    )
    await conn.execute(
        """INSERT INTO registration (session_id, user_id, is_host, registered_at)
           SELECT id, host_id, true, created_at FROM group_session"""
    )
    per_session = max(scale.registrations // scale.sessions - 1, 0)
    # Member k of a session: a user of the same program, spread by a multiplicative hash.
    await conn.execute(
        """INSERT INTO registration (session_id, user_id, is_host, registered_at)
           SELECT s.id, u, false, now()
           FROM group_session s, generate_series(1, $1::int) k,
                LATERAL (SELECT (s.program_id - 1) + $2::int * ((s.id * 31 + k * 7877) % ($3::int / $2::int)) AS u) pick
           WHERE u <> s.host_id AND u BETWEEN 1 AND $3::int
           ON CONFLICT DO NOTHING""",
        per_session,
        PROGRAMS,
        users,
    )
    # Three guests per session, members of its program, some of them registered too; about
    # a third of the answers given.
    await conn.execute(
        """INSERT INTO guest (session_id, user_id, invited_at, status)
           SELECT s.id, u, now(), (ARRAY['PENDING', 'ACCEPTED', 'DECLINED'])[1 + (s.id + k) % 3]
           FROM group_session s, generate_series(1, 3) k,
                LATERAL (SELECT (s.program_id - 1) + $1::int * ((s.id * 17 + k * 104723) % ($2::int / $1::int)) AS u) pick
           WHERE u <> s.host_id AND u BETWEEN 1 AND $2::int
           ON CONFLICT DO NOTHING""",
        PROGRAMS,
        users,
    )
    await conn.execute(
        """UPDATE group_session s SET participant_count = c.n
           FROM (SELECT session_id, count(*) AS n FROM registration GROUP BY session_id) c WHERE c.session_id = s.id"""
    )
    # What autovacuum does after a bulk load: statistics, and the visibility map that lets
    # counts read only the index.
    await conn.execute("VACUUM ANALYZE")


class _Capture(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.statements: list[tuple[str, list]] = []

    def emit(self, record: logging.LogRecord) -> None:
        if isinstance(record.args, tuple) and len(record.args) == 2 and isinstance(record.args[0], str):
            self.statements.append((record.args[0], list(record.args[1] or [])))


async def _list_queries(conn: asyncpg.Connection) -> list[tuple[str, str, list]]:
    """(name, sql, parameters) of every list query, captured from the app's own code."""
    # A busy member, a busy mentor, and a program.
    member = await conn.fetchval(
        "SELECT user_id FROM registration WHERE NOT is_host GROUP BY user_id ORDER BY count(*) DESC LIMIT 1"
    )
    host = await conn.fetchval("SELECT host_id FROM group_session GROUP BY host_id ORDER BY count(*) DESC LIMIT 1")
    program = await conn.fetchval("SELECT program_id FROM membership WHERE user_id = $1", member)
    future_ids = [
        r["id"]
        for r in await conn.fetch(
            "SELECT id FROM group_session WHERE program_id = $1 AND ends_at > now() ORDER BY starts_at LIMIT 20", program
        )
    ]
    logger = logging.getLogger("tortoise.db_client")
    results: list[tuple[str, str, list]] = []

    async def capture(name: str, action) -> None:
        handler = _Capture()
        logger.addHandler(handler)
        logger.setLevel(logging.DEBUG)
        try:
            page = await action()
            if isinstance(page, read_model.Page) and page.query is not None:
                await page.query.count()  # totalCount
        finally:
            logger.removeHandler(handler)
        if not handler.statements:
            # A query that went around the logger (or a logger renamed) must not pass as "no scan".
            raise RuntimeError(f"{name}: no statement captured on the tortoise.db_client logger")
        for i, (sql, values) in enumerate(handler.statements):
            results.append((f"{name}" + (f" #{i + 1}" if len(handler.statements) > 1 else ""), sql, values))

    guest = await conn.fetchval("SELECT user_id FROM guest GROUP BY user_id ORDER BY count(*) DESC LIMIT 1")
    viewers = {read_model.SessionRole.HOST: host, read_model.SessionRole.INVITED: guest}
    for timeframe in read_model.Timeframe:
        for role in (None, *read_model.SessionRole):
            await capture(
                f"dashboard {timeframe.value} role={role.value if role else 'any'}",
                lambda t=timeframe, r=role, v=viewers.get(role, member): read_model.dashboard_sessions(
                    viewer_id=v, timeframe=t, role=r, include_cancelled=False, first=20, after=None
                ),
            )
        await capture(
            f"program sessions {timeframe.value}",
            lambda t=timeframe: read_model.program_sessions(program_id=program, timeframe=t, first=20, after=None),
        )
    await capture(
        "profile upcoming sessions",
        lambda: read_model.upcoming_hosted_sessions(host_id=host, visible_program_ids=[program], first=20, after=None),
    )
    await capture(
        "participants of 20 sessions (first 50)",
        lambda: read_model.participants_of_sessions(future_ids, first=50, after_id=None),
    )
    await capture("viewer with roles (token lookup)", lambda: viewer_for_token("no-such-token"))
    return results


def seq_scans(plan: dict) -> list[str]:
    """Relations read by a sequential scan anywhere in an EXPLAIN (FORMAT JSON) plan."""
    found = []
    if plan.get("Node Type") == "Seq Scan":
        found.append(plan.get("Relation Name", "?"))
    for child in plan.get("Plans", []):
        found.extend(seq_scans(child))
    return found


@dataclass
class PlanCheck:
    explained: list[str]  # the label of every statement EXPLAINed, in order
    problems: list[str]  # a sequential scan of a big table, one line per statement


async def check(admin_url: str, scale: Scale, *, verbose: bool = True) -> PlanCheck:
    """Seed a throwaway database at `scale`, EXPLAIN each list query, drop it. Says which
    statements were EXPLAINed and the problems found (empty when there is none); raises
    when a list query could not be captured."""
    name = await backends.create_database(admin_url, "explain")
    url = backends.on_database(admin_url, name)
    problems: list[str] = []
    explained: list[str] = []
    try:
        started = time.monotonic()
        await migrate_database(url)
        conn = await asyncpg.connect(url)
        try:
            await seed(conn, scale)
            counts = await conn.fetchrow(
                "SELECT (SELECT count(*) FROM group_session) s, (SELECT count(*) FROM registration) r, "
                "(SELECT count(*) FROM \"user\") u"
            )
            if verbose:
                print(
                    f"seeded {counts['s']:,} sessions, {counts['r']:,} registrations, {counts['u']:,} users "
                    f"in {time.monotonic() - started:.1f}s"
                )
            await Tortoise.init(config=tortoise_config(url))
            try:
                statements = await _list_queries(conn)
            finally:
                await Tortoise.close_connections()
            for label, sql, values in statements:
                plan = (await conn.fetchval(f"EXPLAIN (FORMAT JSON) {sql}", *values))
                plan = plan if isinstance(plan, list) else __import__("json").loads(plan)
                root = plan[0]["Plan"]
                explained.append(label)
                scanned = sorted(set(seq_scans(root)) & BIG_TABLES)
                verdict = "SEQ SCAN of " + ", ".join(scanned) if scanned else "ok"
                if verbose:
                    print(f"  {label:<45} cost {root['Total Cost']:>10.1f}  {verdict}")
                if scanned:
                    problems.append(f"{label}: sequential scan of {', '.join(scanned)}\n    {sql}")
        finally:
            await conn.close()
    finally:
        await backends.drop_database(admin_url, name)
    return PlanCheck(explained, problems)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", default="postgres://postgres@127.0.0.1:5432/postgres",
                        help="a database on the server to connect to for CREATE DATABASE")
    parser.add_argument("--sessions", type=int, default=100_000)
    parser.add_argument("--registrations", type=int, default=1_000_000)
    args = parser.parse_args()
    problems = asyncio.run(check(args.url, Scale(args.sessions, args.registrations))).problems
    for problem in problems:
        print(problem, file=sys.stderr)
    print("no sequential scan of the big tables" if not problems else f"{len(problems)} query(ies) scan a big table")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
