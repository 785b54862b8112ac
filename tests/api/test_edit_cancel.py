"""Edit and Cancel (the three dots), host only."""

from datetime import datetime, timedelta, timezone

import pytest

from app.clock import utcnow
from app.group_sessions.models import GroupSession, Guest, Registration
from tests.conftest import create_session, in_days, join
from tests.documents import CANCEL, UPDATE


async def update(api, member, **input_):
    return (await api.data(UPDATE, {"input": input_}, token=member.token))["updateGroupSession"]


TIMES = "query($id: ID!) { node(id: $id) { ... on GroupSession { startsAt endsAt durationMinutes } } }"


async def times_read_back(api, member, session_id):
    """startsAt, endsAt and durationMinutes as a fresh request reads them."""
    node = (await api.data(TIMES, {"id": session_id}, token=member.token))["node"]
    return node["startsAt"], node["endsAt"], node["durationMinutes"]


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(timezone.utc)


async def snapshot():
    row = await GroupSession.get()
    return (row.title, row.objective, row.starts_at, row.ends_at, row.duration_minutes, row.min_participants,
            row.max_participants, row.participant_count, row.status, row.sequence,
            sorted(await Guest.all().values_list("user_id", flat=True)))


async def test_host_edits_any_field_and_others_stay(api, world):
    session = await create_session(api, world, guestIds=[world.mentees[0].gid])
    result = await update(api, world.host, id=session["id"], title="New title", maxParticipants=12,
                          startsAt="2031-01-10T09:00:00-05:00", durationMinutes=30,
                          guestIds=[world.mentees[1].gid, world.mentees[2].gid])
    assert result["userErrors"] == []
    edited = result["groupSession"]
    assert edited["title"] == "New title" and edited["maxParticipants"] == 12
    assert edited["objective"] == session["objective"] and edited["minParticipants"] == 1
    assert (edited["startsAt"], edited["endsAt"]) == ("2031-01-10T14:00:00Z", "2031-01-10T14:30:00Z")
    assert [g["name"] for g in edited["guests"]] == ["Mentee1", "Mentee2"]
    assert await times_read_back(api, world.mentees[1], session["id"]) == (
        "2031-01-10T14:00:00Z", "2031-01-10T14:30:00Z", 30)
    row = await GroupSession.get()
    assert (row.starts_at, row.ends_at) == (utc("2031-01-10T14:00:00Z"), utc("2031-01-10T14:30:00Z"))
    assert row.sequence == 1  # the time changed: calendars must move the event


async def test_an_edit_that_changes_nothing_about_time_keeps_the_sequence(api, world):
    session = await create_session(api, world)
    await update(api, world.host, id=session["id"], objective="Sharper objective")
    assert (await GroupSession.get()).sequence == 0


@pytest.mark.parametrize(
    "changes, code, field",
    [
        ({"title": ""}, "REQUIRED", "title"),
        ({"maxParticipants": 1}, "OUT_OF_RANGE", "maxParticipants"),
        ({"minParticipants": 41}, "MIN_ABOVE_MAX", "minParticipants"),
        ({"startsAt": "2001-01-01T00:00:00Z"}, "IN_THE_PAST", "startsAt"),
        ({"durationMinutes": 2000}, "OUT_OF_RANGE", "durationMinutes"),
    ],
)
async def test_invalid_edits_change_nothing(api, world, changes, code, field):
    session = await create_session(api, world)
    before = await snapshot()
    result = await update(api, world.host, id=session["id"], **changes)
    as_it_is = {k: v for k, v in result["groupSession"].items() if k != "guests"}
    assert as_it_is == {k: session[k] for k in as_it_is}  # the session as it is, for the form
    assert [(e["code"], e["field"]) for e in result["userErrors"]] == [(code, ["input", field])]
    assert await snapshot() == before


async def test_max_participants_may_not_drop_below_the_participant_count(api, world):
    session = await create_session(api, world)
    for mentee in world.mentees:
        await join(api, mentee, session["id"])
    before = await snapshot()
    result = await update(api, world.host, id=session["id"], maxParticipants=3)
    assert [e["code"] for e in result["userErrors"]] == ["BELOW_PARTICIPANT_COUNT"]
    assert await snapshot() == before
    assert (await update(api, world.host, id=session["id"], maxParticipants=4))["userErrors"] == []


async def test_only_the_host_may_edit_or_cancel(api, world):
    session = await create_session(api, world)
    before = await snapshot()
    for member, code in [(world.mentor, "FORBIDDEN"), (world.mentees[0], "FORBIDDEN"), (world.outsider, "NOT_FOUND")]:
        result = await update(api, member, id=session["id"], title="Hijacked")
        assert [e["code"] for e in result["userErrors"]] == [code]
        cancelled = (await api.data(CANCEL, {"id": session["id"]}, token=member.token))["cancelGroupSession"]
        assert [e["code"] for e in cancelled["userErrors"]] == [code]
    assert await snapshot() == before


async def test_guests_must_be_members_on_edit_too(api, world):
    session = await create_session(api, world)
    before = await snapshot()
    result = await update(api, world.host, id=session["id"], guestIds=[world.outsider.gid])
    assert [(e["code"], e["field"]) for e in result["userErrors"]] == [("NOT_A_MEMBER", ["input", "guestIds", "0"])]
    assert await snapshot() == before


async def test_cancel_with_a_reason_keeps_registrations_and_blocks_edits(api, world):
    session = await create_session(api, world)
    await join(api, world.mentees[0], session["id"])
    result = (await api.data(CANCEL, {"id": session["id"], "reason": " Sick, sorry. "},
                             token=world.host.token))["cancelGroupSession"]
    assert result["userErrors"] == []
    assert result["groupSession"]["status"] == "CANCELLED"
    assert result["groupSession"]["cancellationReason"] == "Sick, sorry."
    assert not result["groupSession"]["viewerCanEdit"] and not result["groupSession"]["viewerCanJoin"]
    assert await Registration.all().count() == 2

    before = await snapshot()
    edit = await update(api, world.host, id=session["id"], title="Back on")
    assert [e["code"] for e in edit["userErrors"]] == ["SESSION_CANCELLED"]
    again = (await api.data(CANCEL, {"id": session["id"]}, token=world.host.token))["cancelGroupSession"]
    assert [e["code"] for e in again["userErrors"]] == ["SESSION_CANCELLED"]
    assert await snapshot() == before


async def test_cancel_without_a_reason(api, world):
    session = await create_session(api, world)
    result = (await api.data(CANCEL, {"id": session["id"]}, token=world.host.token))["cancelGroupSession"]
    assert result["groupSession"]["cancellationReason"] is None


async def test_an_overlong_reason_is_refused(api, world):
    session = await create_session(api, world)
    result = (await api.data(CANCEL, {"id": session["id"], "reason": "x" * 2001},
                             token=world.host.token))["cancelGroupSession"]
    assert [(e["code"], e["field"]) for e in result["userErrors"]] == [("TOO_LONG", ["input", "reason"])]
    assert (await GroupSession.get()).status.value == "SCHEDULED"


async def test_an_ended_session_can_be_neither_edited_nor_cancelled(api, world):
    session = await create_session(api, world)
    past = utcnow() - timedelta(days=1)
    await GroupSession.all().update(starts_at=past, ends_at=past + timedelta(hours=1))
    before = await snapshot()
    assert [e["code"] for e in (await update(api, world.host, id=session["id"], title="x"))["userErrors"]] == [
        "SESSION_STARTED"]
    cancelled = (await api.data(CANCEL, {"id": session["id"]}, token=world.host.token))["cancelGroupSession"]
    assert [e["code"] for e in cancelled["userErrors"]] == ["SESSION_STARTED"]
    assert await snapshot() == before


async def test_moving_a_session_into_the_future_again_is_allowed(api, world):
    session = await create_session(api, world, startsAt=in_days(1, hour=17))
    later = in_days(2, hour=17)
    result = await update(api, world.host, id=session["id"], startsAt=later)
    assert result["userErrors"] == []
    moved = (utc(later), utc(later) + timedelta(minutes=90))  # the duration stays
    assert (utc(result["groupSession"]["startsAt"]), utc(result["groupSession"]["endsAt"])) == moved
    starts_at, ends_at, minutes = await times_read_back(api, world.host, session["id"])
    assert (utc(starts_at), utc(ends_at), minutes) == (*moved, 90)
    row = await GroupSession.get()
    assert (row.starts_at, row.ends_at) == moved
