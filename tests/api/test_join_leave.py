"""Join and Leave."""

import asyncio
from datetime import timedelta

import pytest

from app.clock import utcnow
from app.api.pagination import pk_of
from app.group_sessions.models import GroupSession, Registration
from tests.conftest import create_session, join
from tests.documents import CANCEL, LEAVE


async def state(session_gid_pk: int) -> tuple[int, list[int]]:
    row = await GroupSession.get(id=session_gid_pk)
    users = await Registration.filter(session_id=session_gid_pk).order_by("id").values_list("user_id", flat=True)
    return row.participant_count, list(users)


async def test_a_member_joins_and_the_host_sees_the_name(api, world):
    session = await create_session(api, world, maxParticipants=3)
    result = await join(api, world.mentees[0], session["id"])
    assert result["userErrors"] == []
    assert result["registration"]["participant"]["name"] == "Mentee0"
    assert result["registration"]["isHost"] is False
    assert result["registration"]["session"]["id"] == session["id"]
    assert result["groupSession"]["participantCount"] == 2 and result["groupSession"]["spotsLeft"] == 1
    assert result["groupSession"]["viewerIsAttending"] is True
    assert result["groupSession"]["viewerCannotJoinReasons"] == ["ALREADY_REGISTERED"]
    row = await GroupSession.get()
    assert await state(row.id) == (2, [world.host.user.id, world.mentees[0].user.id])


async def test_mentors_and_admins_may_join_too(api, world):
    session = await create_session(api, world)
    assert (await join(api, world.mentor, session["id"]))["userErrors"] == []
    assert (await join(api, world.admin, session["id"]))["userErrors"] == []


async def assert_refused(api, member, session_id, code):
    result = await join(api, member, session_id)
    assert result["registration"] is None
    # The session as it is, so an optimistic Join can roll back; null when not visible.
    row = await GroupSession.get_or_none(id=pk_of(session_id, "GroupSession"))
    if code == "NOT_FOUND":
        assert result["groupSession"] is None
    else:
        assert result["groupSession"]["id"] == session_id
        assert result["groupSession"]["participantCount"] == row.participant_count
        assert code in result["groupSession"]["viewerCannotJoinReasons"]
    assert [(e["code"], e["field"]) for e in result["userErrors"]] == [(code, ["input", "id"])]
    assert result["userErrors"][0]["message"]


async def test_joining_twice_is_refused_and_changes_nothing(api, world):
    session = await create_session(api, world)
    await join(api, world.mentees[0], session["id"])
    row = await GroupSession.get()
    before = await state(row.id)
    await assert_refused(api, world.mentees[0], session["id"], "ALREADY_REGISTERED")
    await assert_refused(api, world.host, session["id"], "ALREADY_REGISTERED")
    assert await state(row.id) == before


async def test_a_full_session_refuses_and_changes_nothing(api, world):
    session = await create_session(api, world, maxParticipants=2)
    await join(api, world.mentees[0], session["id"])
    row = await GroupSession.get()
    await assert_refused(api, world.mentees[1], session["id"], "SESSION_FULL")
    assert await state(row.id) == (2, [world.host.user.id, world.mentees[0].user.id])


async def test_outsiders_get_not_found_as_for_a_missing_session(api, world):
    session = await create_session(api, world)
    await assert_refused(api, world.outsider, session["id"], "NOT_FOUND")
    await assert_refused(api, world.mentees[0], "R3JvdXBTZXNzaW9uOjk5OTk5", "NOT_FOUND")
    await assert_refused(api, world.mentees[0], "not-an-id", "NOT_FOUND")
    assert await Registration.all().count() == 1


async def test_a_started_session_cannot_be_joined_or_left(api, world):
    session = await create_session(api, world)
    await join(api, world.mentees[0], session["id"])
    await GroupSession.all().update(starts_at=utcnow() - timedelta(minutes=5))
    await assert_refused(api, world.mentees[1], session["id"], "SESSION_STARTED")
    left = (await api.data(LEAVE, {"id": session["id"]}, token=world.mentees[0].token))["leaveGroupSession"]
    assert [e["code"] for e in left["userErrors"]] == ["SESSION_STARTED"]
    assert await Registration.all().count() == 2


async def test_a_cancelled_session_cannot_be_joined(api, world):
    session = await create_session(api, world)
    await api.data(CANCEL, {"id": session["id"]}, token=world.host.token)
    await assert_refused(api, world.mentees[0], session["id"], "SESSION_CANCELLED")
    assert await Registration.all().count() == 1


async def test_leaving_frees_the_spot(api, world):
    session = await create_session(api, world, maxParticipants=2)
    await join(api, world.mentees[0], session["id"])
    left = (await api.data(LEAVE, {"id": session["id"]}, token=world.mentees[0].token))["leaveGroupSession"]
    assert left["userErrors"] == []
    assert left["groupSession"]["participantCount"] == 1 and left["groupSession"]["spotsLeft"] == 1
    assert left["groupSession"]["viewerIsAttending"] is False
    row = await GroupSession.get()
    assert await state(row.id) == (1, [world.host.user.id])
    assert (await join(api, world.mentees[1], session["id"]))["userErrors"] == []


@pytest.mark.parametrize("who, code", [("host", "HOST_CANNOT_LEAVE"), ("mentee", "NOT_REGISTERED"),
                                       ("outsider", "NOT_FOUND")])
async def test_leave_refusals_change_nothing(api, world, who, code):
    session = await create_session(api, world)
    member = {"host": world.host, "mentee": world.mentees[0], "outsider": world.outsider}[who]
    left = (await api.data(LEAVE, {"id": session["id"]}, token=member.token))["leaveGroupSession"]
    if who == "outsider":
        assert left["groupSession"] is None
    else:
        assert left["groupSession"]["participantCount"] == 1
        assert left["groupSession"]["viewerIsAttending"] is (who == "host")
    assert [(e["code"], e["field"]) for e in left["userErrors"]] == [(code, ["input", "id"])]
    row = await GroupSession.get()
    assert await state(row.id) == (1, [world.host.user.id])


async def test_thirty_members_racing_for_a_ten_seat_session(api, world):
    """Capacity holds under concurrency: exactly 10 participants including the host."""
    session = await create_session(api, world, maxParticipants=10)
    members = await world.add_members(30)
    results = await asyncio.wait_for(
        asyncio.gather(*(join(api, m, session["id"]) for m in members)), timeout=60
    )
    codes = [r["userErrors"][0]["code"] if r["userErrors"] else "OK" for r in results]
    assert codes.count("OK") == 9
    assert codes.count("SESSION_FULL") == 21
    row = await GroupSession.get()
    count, users = await state(row.id)
    assert count == len(users) == 10


async def test_one_member_joining_twice_at_once_gets_one_seat(api, world):
    session = await create_session(api, world)
    results = await asyncio.wait_for(
        asyncio.gather(*(join(api, world.mentees[0], session["id"]) for _ in range(5))), timeout=30
    )
    codes = sorted(r["userErrors"][0]["code"] if r["userErrors"] else "OK" for r in results)
    assert codes == ["ALREADY_REGISTERED"] * 4 + ["OK"]
    row = await GroupSession.get()
    assert await state(row.id) == (2, [world.host.user.id, world.mentees[0].user.id])
