"""Time as people type it: a session keeps its host's IANA zone, and create and edit take the
start as a wall-clock time in it (startsAtLocal), refusing the times the clocks skip or pass
twice. Runs on SQLite and, with TEST_PASS=postgres, on PostgreSQL."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from tortoise import Tortoise

from app.accounts.models import ProgramRole
from app.db import tortoise_config
from app.group_sessions.models import GroupSession, Registration
from tests import backends
from tests.conftest import create_session, make_member

CREATE = """
mutation Create($input: CreateGroupSessionInput!) {
  createGroupSession(input: $input) {
    groupSession { id startsAt endsAt startsAtLocal timeZone }
    userErrors { field message code }
  }
}
"""

UPDATE = """
mutation Update($input: UpdateGroupSessionInput!) {
  updateGroupSession(input: $input) {
    groupSession { id startsAt endsAt startsAtLocal timeZone }
    userErrors { field message code }
  }
}
"""

READ = "query($id: ID!) { node(id: $id) { ... on GroupSession { startsAt startsAtLocal timeZone } } }"


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(timezone.utc)


async def create(api, world, member=None, **input_) -> dict:
    payload = {"programId": world.program_gid, "title": "Salary talk", "objective": "Practise it.",
               "durationMinutes": 60, **input_}
    data = await api.data(CREATE, {"input": payload}, token=(member or world.host).token)
    return data["createGroupSession"]


async def update(api, member, **input_) -> dict:
    return (await api.data(UPDATE, {"input": input_}, token=member.token))["updateGroupSession"]


async def rows() -> list[tuple]:
    return await GroupSession.all().order_by("id").values_list(
        "id", "starts_at", "ends_at", "time_zone", "sequence", "updated_at"
    )


async def test_the_issues_example_paris_17_00_after_the_change_is_15_00_utc(api, world):
    """The host (Europe/Paris) types 29 March 2027, 17:00, the day after the clocks went
    forward: the session starts at 15:00Z (not 16:00Z, as today's +01:00 would make it)."""
    result = await create(api, world, startsAtLocal="2027-03-29T17:00")
    assert result["userErrors"] == []
    session = result["groupSession"]
    assert session == {"id": session["id"], "startsAt": "2027-03-29T15:00:00Z", "endsAt": "2027-03-29T16:00:00Z",
                       "startsAtLocal": "2027-03-29T17:00", "timeZone": "Europe/Paris"}
    row = await GroupSession.get()
    assert (row.starts_at, row.time_zone) == (utc("2027-03-29T15:00:00Z"), "Europe/Paris")
    # Another member reads the same wall-clock start, in the session's zone (not their own).
    assert (await api.data(READ, {"id": session["id"]}, token=world.mentees[0].token))["node"] == {
        "startsAt": "2027-03-29T15:00:00Z", "startsAtLocal": "2027-03-29T17:00", "timeZone": "Europe/Paris"}


async def test_the_zone_defaults_to_the_hosts_own_and_may_be_chosen(api, world):
    new_yorker = await make_member(world.program, "nina", ProgramRole.MENTOR, "America/New_York")
    own = await create(api, world, new_yorker, startsAtLocal="2027-06-01T09:30:15")
    assert own["groupSession"]["timeZone"] == "America/New_York"
    assert own["groupSession"]["startsAt"] == "2027-06-01T13:30:15Z"
    assert own["groupSession"]["startsAtLocal"] == "2027-06-01T09:30:15"
    chosen = await create(api, world, new_yorker, startsAtLocal="2027-06-01T09:30", timeZone="Asia/Tokyo")
    assert chosen["groupSession"]["timeZone"] == "Asia/Tokyo"
    assert chosen["groupSession"]["startsAt"] == "2027-06-01T00:30:00Z"
    # A start given as an instant is shown in the session's zone too.
    instant = await create(api, world, startsAt="2027-06-01T09:30:00-04:00")
    assert instant["groupSession"]["startsAtLocal"] == "2027-06-01T15:30"
    assert instant["groupSession"]["timeZone"] == "Europe/Paris"
    assert [r[3] for r in await rows()] == ["America/New_York", "Asia/Tokyo", "Europe/Paris"]


DST = [
    # zone, wall-clock time, what it is
    ("Europe/Paris", "2027-03-28T02:30", "NONEXISTENT_LOCAL_TIME"),
    ("Europe/Paris", "2027-10-31T02:30", "AMBIGUOUS_LOCAL_TIME"),
    ("America/New_York", "2027-03-14T02:30", "NONEXISTENT_LOCAL_TIME"),
    ("America/New_York", "2027-11-07T01:30", "AMBIGUOUS_LOCAL_TIME"),
]


@pytest.mark.parametrize("zone, local, code", DST)
async def test_a_time_the_clocks_skip_or_repeat_is_refused_on_create(api, world, zone, local, code):
    result = await create(api, world, startsAtLocal=local, timeZone=zone)
    assert result["groupSession"] is None
    [error] = result["userErrors"]
    assert (error["code"], error["field"]) == (code, ["input", "startsAtLocal"])
    day = datetime.fromisoformat(local)
    assert f"{day:%H:%M} on {day.day} " in error["message"] and zone in error["message"]
    assert await GroupSession.all().count() == 0 and await Registration.all().count() == 0


@pytest.mark.parametrize("zone, local, code", DST)
async def test_a_time_the_clocks_skip_or_repeat_is_refused_on_edit(api, world, zone, local, code):
    session = await create_session(api, world)
    before = await rows()
    result = await update(api, world.host, id=session["id"], startsAtLocal=local, timeZone=zone)
    assert [(e["code"], e["field"]) for e in result["userErrors"]] == [(code, ["input", "startsAtLocal"])]
    assert result["groupSession"]["startsAt"] == session["startsAt"]  # the session as it is
    assert await rows() == before


@pytest.mark.parametrize(
    "zone, instant, utc_start, local",
    [
        # the two readings of each repeated time, sent as instants, are both accepted
        ("Europe/Paris", "2027-10-31T02:30:00+02:00", "2027-10-31T00:30:00Z", "2027-10-31T02:30"),
        ("Europe/Paris", "2027-10-31T02:30:00+01:00", "2027-10-31T01:30:00Z", "2027-10-31T02:30"),
        ("America/New_York", "2027-11-07T01:30:00-04:00", "2027-11-07T05:30:00Z", "2027-11-07T01:30"),
        ("America/New_York", "2027-11-07T01:30:00-05:00", "2027-11-07T06:30:00Z", "2027-11-07T01:30"),
    ],
)
async def test_a_repeated_time_is_accepted_as_an_instant(api, world, zone, instant, utc_start, local):
    result = await create(api, world, startsAt=instant, timeZone=zone)
    assert result["userErrors"] == []
    assert (result["groupSession"]["startsAt"], result["groupSession"]["startsAtLocal"]) == (utc_start, local)
    assert (await GroupSession.get()).starts_at == utc(utc_start)


@pytest.mark.parametrize(
    "zone, local, utc_start",
    [
        ("Europe/Paris", "2027-03-28T01:59", "2027-03-28T00:59:00Z"),  # before the jump: +01:00
        ("Europe/Paris", "2027-03-28T03:00", "2027-03-28T01:00:00Z"),  # after it: +02:00
        ("Europe/Paris", "2027-10-31T03:00", "2027-10-31T02:00:00Z"),
        ("America/New_York", "2027-03-14T03:00", "2027-03-14T07:00:00Z"),
        ("America/New_York", "2027-11-07T02:00", "2027-11-07T07:00:00Z"),
    ],
)
async def test_times_beside_the_changes_are_read_with_the_right_offset(api, world, zone, local, utc_start):
    result = await create(api, world, startsAtLocal=local, timeZone=zone)
    assert result["userErrors"] == []
    assert result["groupSession"]["startsAt"] == utc_start
    assert result["groupSession"]["startsAtLocal"] == local


@pytest.mark.parametrize(
    "starts, code, field",
    [
        ({}, "REQUIRED", "startsAt"),
        ({"startsAt": "2027-03-29T17:00:00+02:00", "startsAtLocal": "2027-03-29T17:00"}, "INVALID", "startsAtLocal"),
        ({"startsAtLocal": "2027-03-29T17:00", "timeZone": "Mars/Olympus_Mons"}, "INVALID", "timeZone"),
        ({"startsAtLocal": "2027-03-29T17:00", "timeZone": "../../etc/passwd"}, "INVALID", "timeZone"),
        ({"startsAtLocal": "2020-03-29T17:00"}, "IN_THE_PAST", "startsAtLocal"),
    ],
)
async def test_exactly_one_start_and_a_real_zone_on_create(api, world, starts, code, field):
    result = await create(api, world, **starts)
    assert result["groupSession"] is None
    assert [(e["code"], e["field"]) for e in result["userErrors"]] == [(code, ["input", field])]
    assert all(e["message"].endswith(".") for e in result["userErrors"])
    assert await GroupSession.all().count() == 0


@pytest.mark.parametrize("local, zone", [("9999-12-31T23:59", "America/New_York"), ("0001-01-01T00:00", "Asia/Tokyo")])
async def test_a_local_time_that_utc_cannot_hold_is_out_of_range(api, world, local, zone):
    result = await create(api, world, startsAtLocal=local, timeZone=zone)
    assert result["userErrors"] == [{"field": ["input", "startsAtLocal"], "code": "OUT_OF_RANGE",
                                     "message": "Start time must be within 5 years from now."}]
    session = await create_session(api, world)
    before = await rows()
    edited = await update(api, world.host, id=session["id"], startsAtLocal=local, timeZone=zone)
    assert [e["code"] for e in edited["userErrors"]] == ["OUT_OF_RANGE"]
    assert await rows() == before


async def test_edit_reads_a_local_start_in_the_sessions_zone_or_the_new_one(api, world):
    session = (await create(api, world, startsAtLocal="2027-03-29T17:00"))["groupSession"]
    moved = await update(api, world.host, id=session["id"], startsAtLocal="2027-04-02T09:00")
    assert moved["userErrors"] == []
    assert (moved["groupSession"]["startsAt"], moved["groupSession"]["timeZone"]) == (
        "2027-04-02T07:00:00Z", "Europe/Paris")
    elsewhere = await update(api, world.host, id=session["id"], startsAtLocal="2027-04-02T09:00",
                             timeZone="America/New_York")
    assert elsewhere["groupSession"] == {**elsewhere["groupSession"], "startsAt": "2027-04-02T13:00:00Z",
                                         "endsAt": "2027-04-02T14:00:00Z", "startsAtLocal": "2027-04-02T09:00",
                                         "timeZone": "America/New_York"}
    row = await GroupSession.get()
    assert (row.starts_at, row.time_zone, row.sequence) == (utc("2027-04-02T13:00:00Z"), "America/New_York", 2)


async def test_a_new_zone_alone_keeps_the_start_instant(api, world):
    session = (await create(api, world, startsAtLocal="2027-03-29T17:00"))["groupSession"]
    result = await update(api, world.host, id=session["id"], timeZone="America/New_York")
    assert result["userErrors"] == []
    assert result["groupSession"]["startsAt"] == "2027-03-29T15:00:00Z"
    assert result["groupSession"]["startsAtLocal"] == "2027-03-29T11:00"
    row = await GroupSession.get()
    assert (row.starts_at, row.time_zone, row.sequence) == (utc("2027-03-29T15:00:00Z"), "America/New_York", 0)


async def test_an_edit_form_may_send_back_a_repeated_start_as_it_showed_it(api, world):
    """The second 02:30 of 31 October in Paris was chosen as an instant; the edit form shows
    02:30 and sends it back with a new title: the start stays the one chosen."""
    session = (await create(api, world, startsAt="2027-10-31T02:30:00+01:00"))["groupSession"]
    result = await update(api, world.host, id=session["id"], startsAtLocal=session["startsAtLocal"], title="Renamed")
    assert result["userErrors"] == []
    assert result["groupSession"]["startsAt"] == "2027-10-31T01:30:00Z"
    assert (await GroupSession.get()).starts_at == utc("2027-10-31T01:30:00Z")


@pytest.mark.parametrize(
    "changes, code, field",
    [
        ({"startsAt": "2027-05-01T10:00:00Z", "startsAtLocal": "2027-05-01T10:00"}, "INVALID", "startsAtLocal"),
        ({"timeZone": "Europe/Pariss"}, "INVALID", "timeZone"),
        ({"timeZone": ""}, "INVALID", "timeZone"),
        ({"startsAtLocal": "2027-05-01T10:00", "timeZone": "Nowhere"}, "INVALID", "timeZone"),
    ],
)
async def test_bad_zone_or_two_starts_on_edit_change_nothing(api, world, changes, code, field):
    session = await create_session(api, world)
    before = await rows()
    result = await update(api, world.host, id=session["id"], **changes)
    assert [(e["code"], e["field"]) for e in result["userErrors"]] == [(code, ["input", field])]
    assert result["groupSession"]["id"] == session["id"]
    assert await rows() == before


@pytest.mark.parametrize("text", ["2027-02-30T10:00", "2027-03-29T17:00+02:00", "2027-03-29 17:00", "tomorrow",
                                  "2027-03-29T25:00", "2027-03-29"])
async def test_a_malformed_local_time_is_a_user_error_on_its_field(api, world, text):
    result = await create(api, world, startsAtLocal=text)
    assert result["userErrors"] == [{"field": ["input", "startsAtLocal"], "code": "INVALID",
                                     "message": "Start time must be a real date and time, such as 2027-03-29T17:00."}]
    assert await GroupSession.all().count() == 0


async def test_sessions_made_before_zones_get_their_hosts_zone(tmp_path):
    """Migration 0007 gives every existing session its host's zone."""
    if backends.current_pass() == "postgres":
        server = backends.require_postgres()
        async with backends.postgres_database(server) as url:
            await _backfill_check(url)
    else:
        await _backfill_check(f"sqlite://{tmp_path / 'old.sqlite3'}")


async def _backfill_check(url: str) -> None:
    from tortoise.migrations.api.migrate import migrate

    config = tortoise_config(url)
    try:
        await migrate(config=config, target="models.0004_outbox_coalescing_guest_invitations")
        connection = Tortoise.get_connection("default")
        now = "2026-01-01 10:00:00+00:00"
        await connection.execute_script(
            "INSERT INTO \"user\" (id, email, name, time_zone, created_at) VALUES "
            f"(1, 'a@example.org', 'A', 'America/New_York', '{now}'), (2, 'b@example.org', 'B', 'UTC', '{now}');"
            f"INSERT INTO program (id, name, created_at) VALUES (1, 'P', '{now}');"
            "INSERT INTO group_session (id, program_id, host_id, title, objective, starts_at, ends_at, "
            "duration_minutes, min_participants, max_participants, participant_count, status, sequence, "
            f"created_at, updated_at) VALUES (1, 1, 1, 't', 'o', '{now}', '{now}', 60, 1, 40, 1, 'SCHEDULED', 0, "
            f"'{now}', '{now}'), (2, 1, 2, 't', 'o', '{now}', '{now}', 60, 1, 40, 1, 'SCHEDULED', 0, '{now}', '{now}');"
        )
        await Tortoise.close_connections()
        await migrate(config=config)
        connection = Tortoise.get_connection("default")
        found = await connection.execute_query_dict("SELECT id, time_zone FROM group_session ORDER BY id")
        assert [(r["id"], r["time_zone"]) for r in found] == [(1, "America/New_York"), (2, "UTC")]
    finally:
        await Tortoise.close_connections()
