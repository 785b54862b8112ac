"""500 members join one 40-seat session at once, over HTTP, against `python -m app serve`
with two uvicorn workers on PostgreSQL: exactly 40 seats are taken (the host's included),
every other answer is SESSION_FULL, and nothing else reaches a client."""

from __future__ import annotations

import asyncio
import secrets
from collections import Counter
from datetime import datetime, timedelta, timezone

import httpx
import pytest

from app.accounts.models import AccessToken, Membership, ProgramRole, User
from app.accounts.services import hash_token
from app.api.pagination import to_global_id
from app.group_sessions import services
from app.group_sessions.events import Effects
from app.group_sessions.models import GroupSession, Registration
from tests.backends import require_redis
from tests.documents import JOIN
from tests.live.redis_support import unique_prefix
from tests.servers import app_process

JOINERS = 500
SEATS = 40


async def seed_members(program_id: int, count: int, prefix: str) -> list[str]:
    """`count` mentees of the program, each with a bearer token; returns the tokens."""
    users = [User(email=f"{prefix}{i}@example.org", name=f"{prefix.title()} {i}") for i in range(count)]
    await User.bulk_create(users)
    users = await User.filter(email__startswith=prefix).order_by("id")
    await Membership.bulk_create([Membership(program_id=program_id, user_id=u.id, role=ProgramRole.MENTEE) for u in users])
    tokens = [secrets.token_urlsafe(32) for _ in users]
    await AccessToken.bulk_create(
        [AccessToken(user_id=u.id, token_hash=hash_token(t), label="test") for u, t in zip(users, tokens)]
    )
    return tokens


@pytest.mark.timeout(400)  # start-up (60 s) and 500 joins (180 s) bounded inside
async def test_500_members_race_for_40_seats_through_two_workers(app, world, settings, tmp_path):
    tokens = await seed_members(world.program.id, JOINERS, "racer")
    session = await services.create_group_session(
        viewer_id=world.host.user.id,
        program_id=world.program.id,
        title="The last seats",
        objective="Be quick.",
        starts_at=datetime.now(timezone.utc) + timedelta(days=1),
        duration_minutes=60,
        max_participants=SEATS,
        effects=Effects(),
    )
    session_gid = to_global_id("GroupSession", session.id)
    # serve refuses several workers without a shared Redis (live updates, limits)
    shared = settings.with_(redis_url=require_redis(), redis_key_prefix=unique_prefix())
    async with app_process("serve", shared, tmp_path / "serve.log", "--workers", "2", "--log-level", "warning") as server:
        limits = httpx.Limits(max_connections=JOINERS, max_keepalive_connections=JOINERS)
        async with httpx.AsyncClient(base_url=server.url, limits=limits, timeout=120) as http:

            async def join(token: str) -> httpx.Response:
                return await http.post(
                    "/graphql",
                    json={"query": JOIN, "variables": {"id": session_gid}},
                    headers={"Authorization": f"Bearer {token}"},
                )

            responses = await asyncio.wait_for(asyncio.gather(*(join(t) for t in tokens)), timeout=180)

    statuses = Counter(r.status_code for r in responses)
    assert statuses == {200: JOINERS}, statuses
    bodies = [r.json() for r in responses]
    assert [b for b in bodies if b.get("errors")] == []
    outcomes = Counter(
        "JOINED" if not b["data"]["joinGroupSession"]["userErrors"] else b["data"]["joinGroupSession"]["userErrors"][0]["code"]
        for b in bodies
    )
    assert outcomes == {"JOINED": SEATS - 1, "SESSION_FULL": JOINERS - SEATS + 1}, outcomes
    counts = sorted(
        b["data"]["joinGroupSession"]["groupSession"]["participantCount"]
        for b in bodies
        if not b["data"]["joinGroupSession"]["userErrors"]
    )
    assert counts == list(range(2, SEATS + 1)), "each successful join saw its own seat number"

    row = await GroupSession.get(id=session.id)
    assert row.participant_count == SEATS
    assert await Registration.filter(session_id=session.id).count() == SEATS
