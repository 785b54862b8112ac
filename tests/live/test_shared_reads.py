"""Many viewers of one event: each sees their own state, and their own rows are read for
all of them at once (app.api.loaders.EventReads)."""

from __future__ import annotations

import asyncio
import re
from contextlib import AsyncExitStack

from app.api import compiled
from app.api.group_sessions.subscriptions import _ReadDone
from app.api.pagination import pk_of
from app.group_sessions import services
from app.group_sessions.events import Effects
from tests.conftest import create_session, join
from tests.live.conftest import WS, wait_for_subscriptions
from tests.scale.statements import StatementLog, count_statements

VIEWER_FIELDS = """
subscription($id: ID!) { groupSessionUpdated(id: $id) {
  participantCount viewerIsAttending viewerCanJoin viewerCannotJoinReasons viewerIsInvited
  viewerRegistration { status } } }
"""


def _reads(log: StatementLog, table: str) -> int:
    """SELECTs from `table` (not from tables whose name starts with it)."""
    pattern = re.compile(rf'FROM "{table}"(\s|$)')
    return sum(1 for s in log.statements if s.startswith("SELECT") and pattern.search(s))


async def test_every_subscriber_of_an_event_sees_their_own_rows_read_in_one_statement(live, api, world):
    session = await create_session(api, world, maxParticipants=20)
    *others, newcomer = await world.add_members(4)
    members = [*world.mentees, *others]
    registered, invited = members[:2], members[2]
    for member in registered:
        assert (await join(api, member, session["id"]))["userErrors"] == []
    await services.update_group_session(
        viewer_id=world.host.user.id, session_id=pk_of(session["id"], "GroupSession"),
        guest_ids=[invited.user.id], effects=Effects(),
    )
    # What a join costs with nobody watching (the join reads registrations itself).
    with count_statements() as unwatched:
        assert (await join(api, world.mentor, session["id"]))["userErrors"] == []
    baseline = {table: _reads(unwatched, table) for table in ("registration", "guest")}

    async with AsyncExitStack() as stack:
        # One socket each, so nothing is shared through a connection's context.
        sockets = [await stack.enter_async_context(WS.signed_in(live, m.token)) for m in members]
        for socket in sockets:
            await socket.subscribe("s", VIEWER_FIELDS, {"id": session["id"]})
        await wait_for_subscriptions(live, len(sockets))
        stats_before = dict(compiled.STATS)
        with count_statements() as watched:
            assert (await join(api, newcomer, session["id"]))["userErrors"] == []
            seen = [(await socket.next("s"))["data"]["groupSessionUpdated"] for socket in sockets]

    for member, got in zip(members, seen, strict=True):
        attending = member in registered
        assert got == {
            "participantCount": 5,  # the host, the mentor, two members and the newcomer
            "viewerIsAttending": attending,
            "viewerCanJoin": not attending,
            "viewerCannotJoinReasons": ["ALREADY_REGISTERED"] if attending else [],
            "viewerIsInvited": member is invited,
            "viewerRegistration": {"status": "CONFIRMED"} if attending else None,
        }, member.user.name
    # Each execution ran on the compiled path (app.api.compiled), not graphql-core's.
    assert compiled.STATS["compiled"] - stats_before["compiled"] == len(members)
    assert compiled.STATS["fallback"] == stats_before["fallback"]
    # Five viewers, one statement for their registrations and one for their guest rows.
    assert _reads(watched, "registration") - baseline["registration"] == 1, watched.dump()
    assert _reads(watched, "guest") - baseline["guest"] == 1, watched.dump()


async def test_a_subscriber_cancelled_while_the_shared_read_runs_does_not_cancel_it_for_the_others():
    """Every subscriber of a message awaits the one read of their rows (`_ReadDone`): one
    going away meanwhile must not cancel it; it stops once the read is done."""
    release = asyncio.Event()

    async def read() -> None:
        await release.wait()

    task = asyncio.ensure_future(read())
    done = _ReadDone()
    task.add_done_callback(done.settle)
    waiters = [asyncio.ensure_future(_await(done)) for _ in range(2)]
    await asyncio.sleep(0)  # both are now waiting on the read
    waiters[0].cancel()
    await asyncio.sleep(0)
    assert not task.cancelled() and not done.done()
    release.set()
    async with asyncio.timeout(5):
        assert await waiters[1] == "read"
        try:
            await waiters[0]
        except asyncio.CancelledError:
            pass
    assert waiters[0].cancelled()
    assert task.done() and not task.cancelled()


async def test_the_shared_read_cancelled_cancels_its_waiters():

    task = asyncio.ensure_future(asyncio.Event().wait())
    done = _ReadDone()
    task.add_done_callback(done.settle)
    waiter = asyncio.ensure_future(_await(done))
    await asyncio.sleep(0)
    task.cancel()
    async with asyncio.timeout(5):
        try:
            await waiter
        except asyncio.CancelledError:
            pass
    assert waiter.cancelled() and done.cancelled()


async def _await(done) -> str:  # noqa: ANN001
    await done
    return "read"
