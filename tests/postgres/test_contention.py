"""500 members join one 40-seat session at once, over HTTP, against `python -m app serve`
with two uvicorn workers on PostgreSQL: exactly 40 seats are taken (the host's included),
every other answer is SESSION_FULL, and nothing else reaches a client."""

from __future__ import annotations

import asyncio
import os
import secrets
import subprocess
import sys
import time
from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path

import httpx

from app.accounts.models import AccessToken, Membership, ProgramRole, User
from app.accounts.services import hash_token
from app.api.pagination import to_global_id
from app.group_sessions import services
from app.group_sessions.events import Effects
from app.group_sessions.models import GroupSession, Registration
from tests.conftest import JOIN
from tests.backends import require_redis
from tests.live.redis_support import unique_prefix
from tests.processes import free_port, stop_process_group

ROOT = Path(__file__).resolve().parents[2]
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


class Server:
    """`python -m app serve --workers N` on a free port, stopped (its process group) at exit."""

    def __init__(self, database_url: str, workers: int, redis_url: str) -> None:
        self.port = free_port()
        env = {**os.environ, "DATABASE_URL": database_url, "OUTBOX_WORKER_IN_SERVE": "false",
               # serve refuses several workers without a shared Redis (live updates, limits)
               "REDIS_URL": redis_url, "REDIS_KEY_PREFIX": unique_prefix()}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "app", "serve", "--port", str(self.port), "--workers", str(workers),
             "--log-level", "warning"],
            cwd=ROOT,
            env=env,
            start_new_session=True,
        )
        self.url = f"http://127.0.0.1:{self.port}"

    async def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        async with httpx.AsyncClient(base_url=self.url) as http:
            while time.monotonic() < deadline:
                assert self.process.poll() is None, "the server exited"
                try:
                    if (await http.get("/healthz", timeout=2)).status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.2)  # polling a port that is not open yet, bounded by the deadline
        raise AssertionError(f"server not ready after {timeout}s")

    def stop(self) -> None:
        stop_process_group(self.process)


async def test_500_members_race_for_40_seats_through_two_workers(app, world, database_url):
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
    server = Server(database_url, workers=2, redis_url=require_redis())
    try:
        await server.wait_ready()
        limits = httpx.Limits(max_connections=JOINERS, max_keepalive_connections=JOINERS)
        async with httpx.AsyncClient(base_url=server.url, limits=limits, timeout=120) as http:

            async def join(token: str) -> httpx.Response:
                return await http.post(
                    "/graphql",
                    json={"query": JOIN, "variables": {"id": session_gid}},
                    headers={"Authorization": f"Bearer {token}"},
                )

            responses = await asyncio.wait_for(asyncio.gather(*(join(t) for t in tokens)), timeout=180)
    finally:
        server.stop()

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
