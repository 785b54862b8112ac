"""Join, leave, edit (max participants) and cancel interleaved at random, concurrently,
on a seeded schedule. After every round: participantCount equals the registration rows,
never exceeds maxParticipants, and a cancelled session keeps exactly the registrations it
had when it was cancelled. Runs on SQLite and, with TEST_DATABASE_URL, on PostgreSQL
(where the commands really run in parallel on a connection pool)."""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from datetime import datetime, timedelta, timezone

import pytest

from app.errors import DomainError
from app.group_sessions import services
from app.group_sessions.events import Effects, GroupSessionCancelled, Handlers
from app.group_sessions.models import GroupSession, Registration, SessionStatus

ROUNDS = 25
COMMANDS_PER_ROUND = 12


@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_random_interleaving_keeps_counts_exact(app, world, seed):
    rng = random.Random(seed)
    members = [*world.mentees, world.mentor, *(await world.add_members(8))]
    cancelled_with: dict[int, frozenset[int]] = {}

    async def remember_cancellation(event: GroupSessionCancelled) -> None:
        cancelled_with[event.session.id] = frozenset(person.id for person in event.registered)

    effects = Effects({GroupSessionCancelled: Handlers(after_commit=[remember_cancellation])})
    start = datetime.now(timezone.utc) + timedelta(days=3)
    sessions = [
        (
            await services.create_group_session(
                viewer_id=world.host.user.id,
                program_id=world.program.id,
                title=f"Session {i}",
                objective="Practise.",
                starts_at=start + timedelta(hours=i),
                duration_minutes=60,
                max_participants=rng.randint(2, 6),
                effects=effects,
            )
        ).id
        for i in range(4)
    ]
    host_id = world.host.user.id
    outcomes: Counter[str] = Counter()

    def command(cancels: bool):
        # Cancellations only in the second half, so the first half keeps every session open.
        kind = rng.choices(["join", "leave", "edit", "cancel"], weights=[10, 5, 3, 0.5 if cancels else 0])[0]
        sid = rng.choice(sessions)
        member = rng.choice(members).user.id
        if kind == "join":
            return kind, services.join_group_session(viewer_id=member, session_id=sid, effects=effects)
        if kind == "leave":
            return kind, services.leave_group_session(viewer_id=member, session_id=sid, effects=effects)
        if kind == "edit":
            return kind, services.update_group_session(
                viewer_id=host_id, session_id=sid, max_participants=rng.randint(2, 8), effects=effects
            )
        return kind, services.cancel_group_session(viewer_id=host_id, session_id=sid, effects=effects)

    for round_number in range(ROUNDS):
        batch = [command(cancels=round_number >= ROUNDS // 2) for _ in range(COMMANDS_PER_ROUND)]
        results = await asyncio.wait_for(asyncio.gather(*(c for _, c in batch), return_exceptions=True), 60)
        for (kind, _), result in zip(batch, results):
            if isinstance(result, DomainError):
                outcomes[f"{kind}:{result.problems[0].code.value}"] += 1
            elif isinstance(result, BaseException):
                raise result  # anything but a refusal is a bug (deadlock, serialization, 500...)
            else:
                outcomes[f"{kind}:ok"] += 1
        for sid in sessions:
            row = await GroupSession.get(id=sid)
            registered = set(await Registration.filter(session_id=sid).values_list("user_id", flat=True))
            assert row.participant_count == len(registered), (sid, row.participant_count, registered)
            assert row.participant_count <= row.max_participants
            assert host_id in registered
            if row.status == SessionStatus.CANCELLED:
                assert registered == cancelled_with[sid], "a registration changed after the cancellation"

    # The schedule really exercised the interesting paths.
    assert outcomes["join:ok"] > 0 and outcomes["leave:ok"] > 0 and outcomes["edit:ok"] > 0
    assert outcomes["join:SESSION_FULL"] > 0 and outcomes["cancel:ok"] > 0, outcomes
