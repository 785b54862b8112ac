"""Dashboard > Sessions > Create a session."""

from datetime import datetime, timezone

import pytest

from app.group_sessions.models import GroupSession, Guest, Registration
from tests.conftest import create_session, in_days
from tests.documents import CREATE


async def counts() -> tuple[int, int, int]:
    return await GroupSession.all().count(), await Registration.all().count(), await Guest.all().count()


async def create(api, world, member=None, **overrides):
    payload = {
        "programId": world.program_gid,
        "title": "Negotiating your first salary",
        "objective": "Practise the conversation.",
        "startsAt": in_days(3, hour=17),
        "durationMinutes": 90,
        **overrides,
    }
    return await api.execute(CREATE, {"input": payload}, token=(member or world.host).token)


async def test_mentor_creates_a_session_and_is_registered_as_host(api, world):
    session = await create_session(api, world, guestIds=[world.mentees[0].gid])

    assert session["title"] == "Negotiating your first salary"
    assert session["minParticipants"] == 1 and session["maxParticipants"] == 40
    assert session["participantCount"] == 1 and session["spotsLeft"] == 39 and not session["isFull"]
    assert session["status"] == "SCHEDULED"
    assert session["viewerIsHost"] and session["viewerIsAttending"] and session["viewerCanEdit"]
    assert session["host"]["name"] == "Hannah"
    assert session["program"]["name"] == "Mentoring"
    assert [g["name"] for g in session["guests"]] == ["Mentee0"]
    assert session["url"] == f"https://sessions.example.org/group-sessions/{session['id']}"

    row = await GroupSession.get()
    assert row.host_id == world.host.user.id and row.participant_count == 1
    registrations = await Registration.all()
    assert [(r.user_id, r.is_host) for r in registrations] == [(world.host.user.id, True)]


async def test_start_time_with_an_offset_is_stored_and_returned_in_utc(api, world):
    session = await create_session(
        api, world, startsAt="2030-06-01T17:00:00+02:00", durationMinutes=75
    )
    assert session["startsAt"] == "2030-06-01T15:00:00Z"
    assert session["endsAt"] == "2030-06-01T16:15:00Z"
    assert session["durationMinutes"] == 75
    row = await GroupSession.get()
    assert row.starts_at == datetime(2030, 6, 1, 15, tzinfo=timezone.utc)


async def test_explicit_nulls_take_the_defaults(api, world):
    session = await create_session(api, world, minParticipants=None, maxParticipants=None)
    assert (session["minParticipants"], session["maxParticipants"]) == (1, 40)


async def test_admin_may_host(api, world):
    session = await create_session(api, world, as_=world.admin)
    assert session["viewerIsHost"]


async def test_mentee_is_forbidden_and_nothing_is_created(api, world):
    body = await create(api, world, world.mentees[0])
    result = body["data"]["createGroupSession"]
    assert result["groupSession"] is None
    assert [e["code"] for e in result["userErrors"]] == ["FORBIDDEN"]
    assert await counts() == (0, 0, 0)


@pytest.mark.parametrize("program_id", ["other", "UHJvZ3JhbTo5OTk5", "garbage", ""])
async def test_outsiders_and_unknown_programs_get_not_found(api, world, program_id):
    from app.api.pagination import to_global_id

    gid = to_global_id("Program", world.other_program.id) if program_id == "other" else program_id
    body = await create(api, world, world.host, programId=gid)
    errors = body["data"]["createGroupSession"]["userErrors"]
    assert [(e["code"], e["field"]) for e in errors] == [("NOT_FOUND", ["input", "programId"])]
    assert await counts() == (0, 0, 0)


@pytest.mark.parametrize(
    "overrides, code, field",
    [
        ({"title": "   "}, "REQUIRED", "title"),
        ({"title": "x" * 201}, "TOO_LONG", "title"),
        ({"title": "two\nlines"}, "INVALID", "title"),
        ({"objective": ""}, "REQUIRED", "objective"),
        ({"objective": "x" * 10_001}, "TOO_LONG", "objective"),
        ({"durationMinutes": 4}, "OUT_OF_RANGE", "durationMinutes"),
        ({"durationMinutes": 1441}, "OUT_OF_RANGE", "durationMinutes"),
        ({"minParticipants": 0}, "OUT_OF_RANGE", "minParticipants"),
        ({"maxParticipants": 1}, "OUT_OF_RANGE", "maxParticipants"),
        ({"maxParticipants": 1001}, "OUT_OF_RANGE", "maxParticipants"),
        ({"minParticipants": 10, "maxParticipants": 5}, "MIN_ABOVE_MAX", "minParticipants"),
        ({"startsAt": "2020-01-01T10:00:00Z"}, "IN_THE_PAST", "startsAt"),
        ({"startsAt": "2999-01-01T10:00:00Z"}, "OUT_OF_RANGE", "startsAt"),
    ],
)
async def test_invalid_input_is_refused_with_the_field_and_nothing_changes(api, world, overrides, code, field):
    body = await create(api, world, **overrides)
    result = body["data"]["createGroupSession"]
    assert result["groupSession"] is None
    assert {"code": code, "field": ["input", field]} in [
        {"code": e["code"], "field": e["field"]} for e in result["userErrors"]
    ]
    assert all(e["message"] for e in result["userErrors"])
    assert await counts() == (0, 0, 0)


async def test_several_problems_are_reported_together(api, world):
    body = await create(api, world, title="", durationMinutes=1, maxParticipants=5000)
    codes = {e["code"] for e in body["data"]["createGroupSession"]["userErrors"]}
    assert codes == {"REQUIRED", "OUT_OF_RANGE"}
    assert len(body["data"]["createGroupSession"]["userErrors"]) == 3


async def test_title_is_trimmed(api, world):
    session = await create_session(api, world, title="  Spaces around  ")
    assert session["title"] == "Spaces around"


async def test_start_without_offset_is_refused_with_a_message_saying_so(api, world):
    body = await create(api, world, startsAt="2030-06-01T17:00:00")
    assert body["data"] is None
    assert "offset" in body["errors"][0]["message"]
    assert await counts() == (0, 0, 0)


async def test_guests_must_be_members_of_the_program(api, world):
    body = await create(api, world, guestIds=[world.mentees[0].gid, world.outsider.gid])
    errors = body["data"]["createGroupSession"]["userErrors"]
    assert [(e["code"], e["field"]) for e in errors] == [("NOT_A_MEMBER", ["input", "guestIds", "1"])]
    assert await counts() == (0, 0, 0)


async def test_an_id_that_names_no_user_is_refused_as_guest(api, world):
    body = await create(api, world, guestIds=[world.program_gid])
    errors = body["data"]["createGroupSession"]["userErrors"]
    assert [(e["code"], e["field"]) for e in errors] == [("NOT_FOUND", ["input", "guestIds", "0"])]
    assert await counts() == (0, 0, 0)


async def test_duplicate_guests_and_the_host_as_guest_are_refused_at_their_index(api, world):
    m = world.mentees[0].gid
    payload = {"programId": world.program_gid, "title": "t", "objective": "o",
               "startsAt": in_days(2), "durationMinutes": 60, "guestIds": [m, m, world.host.gid]}
    result = (await api.data(CREATE, {"input": payload}, token=world.host.token))["createGroupSession"]
    assert [(e["code"], e["field"]) for e in result["userErrors"]] == [
        ("INVALID", ["input", "guestIds", "1"]),
        ("INVALID", ["input", "guestIds", "2"]),
    ]
    assert await Guest.all().count() == 0 and await counts() == (0, 0, 0)


async def test_create_requires_sign_in(api, world):
    payload = {"programId": world.program_gid, "title": "t", "objective": "o",
               "startsAt": in_days(2), "durationMinutes": 60}
    body = await api.execute(CREATE, {"input": payload})
    assert body["data"] is None
    assert [e["extensions"]["code"] for e in body["errors"]] == ["UNAUTHENTICATED"]
    assert await counts() == (0, 0, 0)


async def test_lone_surrogates_from_json_are_dropped_not_a_crash(api, world):
    """JSON may carry "\\ud800", which is not text: it cannot be stored or encoded."""
    import json

    payload = {"programId": world.program_gid, "title": "Clean\ud800 title", "objective": "o\udfff",
               "startsAt": in_days(2), "durationMinutes": 60}
    response = await api.http.post(
        "/graphql", content=json.dumps({"query": CREATE, "variables": {"input": payload}}),
        headers={"Authorization": f"Bearer {world.host.token}", "Content-Type": "application/json"})
    result = response.json()["data"]["createGroupSession"]
    assert result["userErrors"] == []
    assert (await GroupSession.get()).title == "Clean title"
