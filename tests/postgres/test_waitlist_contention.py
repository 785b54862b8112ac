"""The waitlist against `python -m app serve` with two uvicorn workers on PostgreSQL: a crowd
joins a small session at once with `waitlist: true`, then leaves, new joins and the host's
raised and lowered maxima arrive at once in a random (seeded) order. Whatever the two
processes interleave: the seats go to the first comers, the line keeps their order, a freed
seat goes to the first in line, nobody is promoted twice or past maxParticipants, and the
counts are the rows."""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from datetime import datetime, timedelta, timezone

import httpx
import pytest

from app.accounts.models import AccessToken, User
from app.api.pagination import to_global_id
from app.group_sessions import repository, services
from app.group_sessions.events import Effects
from app.group_sessions.models import GroupSession, Registration, RegistrationStatus
from app.notifications.models import OutboxEmail
from tests.backends import require_redis
from tests.live.redis_support import unique_prefix
from tests.postgres.test_contention import seed_members
from tests.servers import app_process

CROWD = 80
SEATS = 10
LATECOMERS = 20

JOIN = """
mutation Join($id: ID!) {
  joinGroupSession(input: {id: $id, waitlist: true}) {
    registration { status waitlistPosition }
    userErrors { code }
  }
}
"""
LEAVE = "mutation Leave($id: ID!) { leaveGroupSession(input: {id: $id}) { userErrors { code } } }"
UPDATE = """
mutation Update($id: ID!, $max: Int!) {
  updateGroupSession(input: {id: $id, maxParticipants: $max}) { userErrors { code } }
}
"""


async def user_ids_by_token(tokens: list[str]) -> dict[str, int]:
    from app.accounts.services import hash_token

    rows = await AccessToken.filter(token_hash__in=[hash_token(t) for t in tokens]).values("token_hash", "user_id")
    by_hash = {r["token_hash"]: r["user_id"] for r in rows}
    return {t: by_hash[hash_token(t)] for t in tokens}


@pytest.mark.timeout(400)  # start-up (60 s) and the two rounds (2 x 120 s) bounded inside
async def test_two_workers_keep_the_line(app, world, settings, tmp_path):
    crowd = await seed_members(world.program.id, CROWD, "crowd")
    latecomers = await seed_members(world.program.id, LATECOMERS, "late")
    users = await user_ids_by_token(crowd + latecomers)
    host_token = world.host.token
    session = await services.create_group_session(
        viewer_id=world.host.user.id,
        program_id=world.program.id,
        title="Few seats",
        objective="Queue up.",
        starts_at=datetime.now(timezone.utc) + timedelta(days=1),
        duration_minutes=60,
        max_participants=SEATS,
        effects=Effects(),
    )
    gid = to_global_id("GroupSession", session.id)
    shared = settings.with_(redis_url=require_redis(), redis_key_prefix=unique_prefix(), outbox_worker_in_serve=False)
    async with app_process("serve", shared, tmp_path / "serve.log", "--workers", "2", "--log-level", "warning") as server:
        limits = httpx.Limits(max_connections=CROWD, max_keepalive_connections=CROWD)
        async with httpx.AsyncClient(base_url=server.url, limits=limits, timeout=120) as http:

            async def call(document: str, token: str, **variables) -> dict:
                response = await http.post(
                    "/graphql",
                    json={"query": document, "variables": {"id": gid, **variables}},
                    headers={"Authorization": f"Bearer {token}"},
                )
                assert response.status_code == 200, response.text[:500]
                body = response.json()
                assert not body.get("errors"), body
                return next(iter(body["data"].values()))

            # Round 1: the crowd at once.
            joined = await asyncio.wait_for(asyncio.gather(*(call(JOIN, t) for t in crowd)), 120)
            assert all(j["userErrors"] == [] for j in joined)
            statuses = Counter(j["registration"]["status"] for j in joined)
            assert statuses == {"CONFIRMED": SEATS - 1, "WAITLISTED": CROWD - SEATS + 1}, statuses
            positions = sorted(j["registration"]["waitlistPosition"] for j in joined if j["registration"]["waitlistPosition"])
            assert positions == list(range(1, CROWD - SEATS + 2)), "each place in line given once"
            rows = await Registration.filter(session_id=session.id, is_host=False).values("id", "status")
            confirmed_ids = [r["id"] for r in rows if r["status"] == RegistrationStatus.CONFIRMED]
            waiting_ids = [r["id"] for r in rows if r["status"] == RegistrationStatus.WAITLISTED]
            assert max(confirmed_ids) < min(waiting_ids), "a seat went to someone after the line had formed"

            # Round 2: leaves (of seated and waiting members), latecomers joining, and the
            # host moving the maximum up and down, all at once in a seeded random order.
            rng = random.Random(12)
            leavers = rng.sample(crowd, 30)
            calls = [call(LEAVE, t) for t in leavers] + [call(JOIN, t) for t in latecomers]
            calls += [call(UPDATE, host_token, max=rng.randint(SEATS - 2, SEATS + 15)) for _ in range(12)]
            rng.shuffle(calls)
            results = await asyncio.wait_for(asyncio.gather(*calls), 120)
            codes = Counter(e["code"] for r in results for e in r["userErrors"])
            assert set(codes) <= {"BELOW_PARTICIPANT_COUNT"}, codes

    row = await GroupSession.get(id=session.id)
    rows = await Registration.filter(session_id=session.id).values("id", "user_id", "status", "waitlisted_at")
    confirmed = [r for r in rows if r["status"] == RegistrationStatus.CONFIRMED]
    waiting = sorted((r for r in rows if r["status"] == RegistrationStatus.WAITLISTED), key=lambda r: (r["waitlisted_at"], r["id"]))
    assert row.participant_count == len(confirmed) <= row.max_participants
    assert row.waitlist_count == len(waiting)
    assert not (waiting and row.participant_count < row.max_participants), "a seat left free while people wait"
    left = {users[t] for t in leavers}
    assert not left & {r["user_id"] for r in rows}, "a leave did not take"

    # Nobody skipped: everyone promoted had joined the line before everyone still in it.
    promoted = [r for r in confirmed if r["waitlisted_at"] is not None]
    if promoted and waiting:
        assert max((r["waitlisted_at"], r["id"]) for r in promoted) < (waiting[0]["waitlisted_at"], waiting[0]["id"])
    # Nobody promoted twice: one "You're in" per member at most, one for each still seated.
    emails = {u["id"]: u["email"] for u in await User.all().values("id", "email")}
    youre_in = Counter(await OutboxEmail.filter(kind="promoted").values_list("recipient", flat=True))
    assert all(n == 1 for n in youre_in.values()), youre_in
    assert {emails[r["user_id"]] for r in promoted} <= set(youre_in)
    # Places in line are 1..n in the order of joining.
    registrations = [
        Registration._init_from_db(session_id=session.id, is_host=False, registered_at=r["waitlisted_at"], **r)
        for r in waiting
    ]
    places = await repository.waitlist_positions(registrations)
    assert [places[r.id] for r in registrations] == list(range(1, len(waiting) + 1))
