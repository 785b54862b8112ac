"""A mutation stopped by REQUEST_TIMEOUT_SECONDS after it wrote leaves no trace: its
transaction is rolled back (seat, registration, outbox rows), and the database serves the
next request as usual."""

from __future__ import annotations

import asyncio

import pytest

from app.api.pagination import pk_of
from app.group_sessions.events import RegistrationAdded
from app.group_sessions.models import GroupSession, Registration
from app.notifications.models import OutboxEmail
from tests.conftest import create_session, join
from tests.documents import JOIN

TIMEOUT_SECONDS = 2


@pytest.fixture
def settings(settings):
    return settings.with_(request_timeout_seconds=TIMEOUT_SECONDS)


async def snapshot(session_pk: int) -> tuple:
    session = await GroupSession.get(id=session_pk)
    registrations = sorted(await Registration.filter(session_id=session_pk).values_list("user_id", flat=True))
    return session.participant_count, registrations, await OutboxEmail.all().count()


async def test_a_join_that_times_out_after_writing_is_rolled_back(api, app, world):
    session = await create_session(api, world)
    session_pk = pk_of(session["id"], "GroupSession")
    mentee = world.mentees[0]
    before = await snapshot(session_pk)

    wrote, cancelled = [], []

    async def hang_after_the_writes(event, connection):
        # Inside the join's transaction, after its seat, its registration and (the handler
        # before this one) its outbox rows were written: the slow step of a real mutation.
        wrote.append(await Registration.filter(session_id=session_pk, user_id=mentee.user.id).using_db(connection).exists())
        try:
            await asyncio.Event().wait()  # only the timeout ends this
        except asyncio.CancelledError:
            cancelled.append(True)
            raise

    handlers = app.state.effects.handlers_for(RegistrationAdded).in_transaction
    handlers.append(hang_after_the_writes)
    try:
        body = await asyncio.wait_for(api.execute(JOIN, {"id": session["id"]}, token=mentee.token), timeout=TIMEOUT_SECONDS + 8)
    finally:
        handlers.remove(hang_after_the_writes)

    assert [e["extensions"]["code"] for e in body["errors"]] == ["TIMEOUT"]
    assert not (body.get("data") or {}).get("joinGroupSession")
    assert wrote == [True], "the mutation wrote before it was stopped"
    assert cancelled == [True], "the timeout stopped the mutation itself, not only the answer"
    assert await snapshot(session_pk) == before

    # The connection the timed-out transaction used is clean: the same join now succeeds.
    result = await join(api, mentee, session["id"])
    assert result["userErrors"] == [] and result["groupSession"]["participantCount"] == before[0] + 1
