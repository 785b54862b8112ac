"""The benchmark's dataset, written straight into a migrated PostgreSQL database.

One program; `members` users (one in ten a mentor), each with a bearer token
`bench-token-<n>`; `sessions` future sessions of 40 seats hosted by the mentors with about
`registrations` registrations in all (session 1, the public page, is full: 40 participants);
a dashboard viewer registered in 25 of them; and `fresh_sessions` open sessions with 1,000
seats for the join benchmark.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import asyncpg

from app.accounts.services import hash_token


@dataclass
class BenchData:
    tokens: list[str]  # token of member n at index n - 1
    public_session_id: int  # 40 participants
    public_viewer: int  # a member registered there (index into tokens)
    dashboard_viewer: int  # registered in 25 future sessions
    fresh_session_ids: list[int]
    registrations: int


def token_of(member: int) -> str:
    return f"bench-token-{member}"


async def seed(
    conn: asyncpg.Connection,
    *,
    members: int = 2000,
    sessions: int = 500,
    registrations: int = 15_000,
    fresh_sessions: int = 300,
    seed_value: int = 7,
) -> BenchData:
    rng = random.Random(seed_value)
    now = datetime.now(timezone.utc).replace(microsecond=0)
    program_id = await conn.fetchval(
        "INSERT INTO program (name, created_at) VALUES ('Bench program', $1) RETURNING id", now
    )
    await conn.copy_records_to_table(
        "user",
        columns=["email", "name", "time_zone", "created_at"],
        records=[(f"member{n}@bench.example.org", f"Member {n}", "Europe/Paris", now) for n in range(1, members + 1)],
    )
    user_ids = [r["id"] for r in await conn.fetch('SELECT id FROM "user" ORDER BY id')]
    mentors = [u for i, u in enumerate(user_ids) if i % 10 == 0]
    await conn.copy_records_to_table(
        "membership",
        columns=["program_id", "user_id", "role", "created_at"],
        records=[(program_id, u, "MENTOR" if i % 10 == 0 else "MENTEE", now) for i, u in enumerate(user_ids)],
    )
    tokens = [token_of(n) for n in range(1, members + 1)]
    await conn.copy_records_to_table(
        "access_token",
        columns=["user_id", "token_hash", "label", "created_at"],
        records=[(u, hash_token(t), "bench", now) for u, t in zip(user_ids, tokens)],
    )

    def session_row(i: int, host: int, max_participants: int) -> tuple:
        starts = now + timedelta(days=1 + (i * 37) % 60, hours=(i * 7) % 24)
        return (
            program_id, host, f"Masterclass {i}", f"What you will learn in masterclass {i}.", starts,
            starts + timedelta(minutes=90), 90, 1, max_participants, 0, "SCHEDULED", 0, now, now,
        )

    columns = [
        "program_id", "host_id", "title", "objective", "starts_at", "ends_at", "duration_minutes",
        "min_participants", "max_participants", "participant_count", "status", "sequence", "created_at", "updated_at",
    ]
    hosts = [mentors[i % len(mentors)] for i in range(sessions + fresh_sessions)]
    await conn.copy_records_to_table(
        "group_session", columns=columns, records=[session_row(i, hosts[i], 40) for i in range(sessions)]
    )
    await conn.copy_records_to_table(
        "group_session",
        columns=columns,
        records=[session_row(sessions + i, hosts[sessions + i], 1000) for i in range(fresh_sessions)],
    )
    session_ids = [r["id"] for r in await conn.fetch("SELECT id FROM group_session ORDER BY id")]
    regular, fresh = session_ids[:sessions], session_ids[sessions:]

    dashboard_viewer = 2  # member 2 (a mentee): 25 sessions on the dashboard
    public_viewer = 3
    per_session = max(registrations // sessions - 1, 1)
    rows: list[tuple] = []
    for index, sid in enumerate(session_ids):
        host = hosts[index]
        chosen = [host]
        if sid in regular:
            wanted = 39 if index == 0 else min(39, max(0, int(rng.gauss(per_session, 6))))
            if index == 0:
                wanted_ids = [user_ids[public_viewer - 1]]
            elif index < 25:
                wanted_ids = [user_ids[dashboard_viewer - 1]]
            else:
                wanted_ids = []
            pool = [u for u in rng.sample(user_ids, wanted + 5) if u != host and u not in wanted_ids]
            chosen += (wanted_ids + pool)[:wanted]
        for position, user in enumerate(chosen):
            rows.append((sid, user, position == 0, now + timedelta(seconds=position)))
    await conn.copy_records_to_table(
        "registration", columns=["session_id", "user_id", "is_host", "registered_at"], records=rows
    )
    await conn.execute(
        """UPDATE group_session s SET participant_count = c.n
           FROM (SELECT session_id, count(*) AS n FROM registration GROUP BY session_id) c WHERE c.session_id = s.id"""
    )
    await conn.execute("VACUUM ANALYZE")
    return BenchData(
        tokens=tokens,
        public_session_id=regular[0],
        public_viewer=public_viewer,
        dashboard_viewer=dashboard_viewer,
        fresh_session_ids=fresh,
        registrations=len(rows),
    )
