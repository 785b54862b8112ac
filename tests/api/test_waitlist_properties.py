"""The waitlist under concurrency, as a property (hypothesis): random batches of joins (with
`waitlist: true`), leaves, and raised or lowered maxima on one session, each batch run at
once (asyncio.gather), on the database of the pass (SQLite, or PostgreSQL with a pool of
connections).

Every command on a session writes its row before it records its events, and holds that
row until it commits, so the order in which transactions record their events is the order
in which they commit. The test keeps that log (one entry per transaction) and replays it on
a plain model of a line: every promotion must be the first in line at that moment (nobody
skipped, nobody promoted twice), never beyond maxParticipants, no seat left free while
someone waits, and every event's counts must be the model's. After each batch the database
itself must agree: confirmed <= max, counts equal to the rows, places in line 1..n in the
order of joining."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings as hypothesis_settings, strategies as st

from app.errors import DomainError
from app.group_sessions import repository, services
from app.group_sessions.events import (
    Effects,
    GroupSessionChanged,
    Promoted,
    RegistrationAdded,
    RegistrationRemoved,
    Waitlisted,
)
from app.group_sessions.models import GroupSession, Registration, RegistrationStatus
from app.main import create_app
from tests.conftest import World, build_world, make_member

MEMBERS = 8


class RecordingEffects(Effects):
    """Effects that keep, per committed transaction, the events it recorded, in the order
    transactions recorded them (see the module docstring: that is their commit order)."""

    def __init__(self) -> None:
        super().__init__()
        self.log: list[tuple[Any, ...]] = []

    async def record(self, events: Sequence[Any], connection: Any) -> None:
        self.log.append(tuple(events))


@dataclass
class Line:
    """The model: who holds a seat, who waits in which order, and the maximum."""

    max_participants: int
    confirmed: set[int]
    waiting: list[int] = field(default_factory=list)

    def replay(self, transaction: tuple[Any, ...]) -> None:
        for event in transaction:
            if isinstance(event, GroupSessionChanged):
                self.max_participants = event.session.max_participants
        for event in transaction:
            user = event.participant.id if hasattr(event, "participant") else None
            if isinstance(event, RegistrationAdded):
                assert not self.waiting, f"{user} took a seat while {self.waiting} waited"
                assert len(self.confirmed) < self.max_participants, "a join overfilled the session"
                self.confirmed.add(user)
            elif isinstance(event, Waitlisted):
                assert user not in self.waiting and user not in self.confirmed
                assert self.waiting or len(self.confirmed) >= self.max_participants, "waitlisted with a seat free"
                self.waiting.append(user)
                assert event.position == len(self.waiting), (event.position, self.waiting)
            elif isinstance(event, RegistrationRemoved):
                if event.status == RegistrationStatus.WAITLISTED:
                    self.waiting.remove(user)
                else:
                    self.confirmed.remove(user)
            elif isinstance(event, Promoted):
                assert self.waiting, f"{user} promoted from an empty line"
                assert self.waiting[0] == user, f"{user} promoted ahead of {self.waiting[0]} (line {self.waiting})"
                self.waiting.pop(0)
                self.confirmed.add(user)
                assert len(self.confirmed) <= self.max_participants, "promoted past capacity"
        assert len(self.confirmed) <= self.max_participants
        assert not (self.waiting and len(self.confirmed) < self.max_participants), "a seat left free while people wait"
        for event in transaction:
            assert event.session.participant_count == len(self.confirmed), (event, self.confirmed)
            assert event.session.waitlist_count == len(self.waiting), (event, self.waiting)


@dataclass
class Stage:
    runner: asyncio.Runner
    world: World
    members: list[Any]


@pytest.fixture
def stage(settings):
    with asyncio.Runner() as runner:
        app = create_app(settings)
        lifespan = app.router.lifespan_context(app)
        runner.run(lifespan.__aenter__())
        try:
            world = runner.run(build_world())
            members = [runner.run(make_member(world.program, f"liner{i}", world.mentees[0].role)) for i in range(MEMBERS)]
            yield Stage(runner, world, [m.user for m in members])
        finally:
            runner.run(lifespan.__aexit__(None, None, None))


async def check_database(session_id: int, model: Line) -> None:
    row = await GroupSession.get(id=session_id)
    rows = await Registration.filter(session_id=session_id).values("id", "user_id", "status", "waitlisted_at")
    confirmed = {r["user_id"] for r in rows if r["status"] == RegistrationStatus.CONFIRMED}
    waiting = sorted((r for r in rows if r["status"] == RegistrationStatus.WAITLISTED), key=lambda r: (r["waitlisted_at"], r["id"]))
    assert row.participant_count == len(confirmed) <= row.max_participants
    assert row.waitlist_count == len(waiting)
    assert not (waiting and row.participant_count < row.max_participants)
    assert (row.max_participants, confirmed, [r["user_id"] for r in waiting]) == (
        model.max_participants,
        model.confirmed,
        model.waiting,
    )
    registrations = [Registration._init_from_db(session_id=session_id, is_host=False, registered_at=r["waitlisted_at"], **r) for r in waiting]
    positions = await repository.waitlist_positions(registrations)
    assert [positions[r.id] for r in registrations] == list(range(1, len(waiting) + 1))


async def play(stage: Stage, batches: list[list[tuple[str, int]]]) -> None:
    world, effects = stage.world, RecordingEffects()
    host = world.host.user
    session = await services.create_group_session(
        viewer_id=host.id,
        program_id=world.program.id,
        title="A popular one",
        objective="Everyone wants in.",
        starts_at=datetime.now(timezone.utc) + timedelta(days=2),
        duration_minutes=60,
        max_participants=3,
        effects=Effects(),
    )
    model = Line(max_participants=3, confirmed={host.id})

    async def run(op: str, arg: int, registered: set[int]) -> None:
        """One command; `registered`: who held a seat or a place in line when the batch
        began (a batch names each member at most once, so only promotions, which keep a
        registration, can change that meanwhile)."""
        member = stage.members[arg].id if op != "max" else None
        try:
            if op == "join":
                await services.join_group_session(viewer_id=member, session_id=session.id, waitlist=True, effects=effects)
            elif op == "leave":
                await services.leave_group_session(viewer_id=member, session_id=session.id, effects=effects)
            else:
                await services.update_group_session(
                    viewer_id=host.id, session_id=session.id, max_participants=arg, effects=effects
                )
        except DomainError as refused:
            codes = [p.code.value for p in refused.problems]
            expected = {
                "join": ["ALREADY_REGISTERED"] if member in registered else None,
                "leave": ["NOT_REGISTERED"] if member not in registered else None,
                "max": ["BELOW_PARTICIPANT_COUNT"],
            }[op]
            assert codes == expected, (op, arg, codes)
        else:
            assert op == "max" or (op == "join") != (member in registered), (op, arg, "should have been refused")

    for batch in batches:
        # Each member at most once per batch, so each command's answer is known in advance.
        once, seen = [], set()
        for op, arg in batch:
            if op == "max" or arg not in seen:
                once.append((op, arg))
                seen.add(arg) if op != "max" else None
        registered = model.confirmed | set(model.waiting)
        start = len(effects.log)
        await asyncio.wait_for(asyncio.gather(*(run(op, arg, registered) for op, arg in once)), 60)
        for transaction in effects.log[start:]:
            model.replay(transaction)
        await check_database(session.id, model)


operation = st.one_of(
    st.tuples(st.just("join"), st.integers(0, MEMBERS - 1)),
    st.tuples(st.just("leave"), st.integers(0, MEMBERS - 1)),
    st.tuples(st.just("max"), st.integers(2, MEMBERS + 1)),
)


@hypothesis_settings(
    max_examples=50, deadline=None, database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(batches=st.lists(st.lists(operation, min_size=1, max_size=12), min_size=1, max_size=6))
def test_first_come_first_served_under_any_interleaving(stage, batches):
    stage.runner.run(play(stage, batches))


def test_a_crowd_at_once_keeps_the_line(stage):
    """Not left to chance: everyone joins a full session's line at once, then seats free
    by leaves and a raised maximum at once."""
    everyone = [("join", i) for i in range(MEMBERS)]
    freeing = [("leave", 0), ("leave", 1), ("max", 6), ("leave", 5), ("join", 0)]
    stage.runner.run(play(stage, [everyone, freeing, [("max", MEMBERS + 1)]]))
