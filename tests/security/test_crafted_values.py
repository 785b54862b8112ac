"""Crafted cursors, IDs and DateTimes, in variables and written in the document: each is
the client's bad input (BAD_USER_INPUT, null, or a NOT_FOUND userError), never a bug that
reaches the error mask, on SQLite and on PostgreSQL (where a number beyond int32 sent in
a query is an error of the database: 'value out of int32 range')."""

from __future__ import annotations

import base64
import json
import logging

import pytest

from app.group_sessions.models import GroupSession
from tests.conftest import create_session, in_days, join


def b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def cursor(*values: object) -> str:
    return b64(json.dumps(list(values)))


OUT_OF_RANGE_NUMBERS = [10**22, 2**31, 2**63, -(2**31) - 1, 0, -1]
EDGE_INSTANTS = [
    "9999-12-31T23:59:59-14:00",
    "9999-12-31T23:59:59.999999-23:59",
    "0001-01-01T00:00:00+14:00",
    "0001-01-01T00:00:00+00:01",
]
SESSION_CURSORS = (
    [cursor("2026-01-01T00:00:00Z", n) for n in OUT_OF_RANGE_NUMBERS]
    + [cursor(instant, 1) for instant in EDGE_INSTANTS]
    + [cursor(1, 1), cursor("2026-01-01T00:00:00Z", "1"), cursor("2026-01-01T00:00:00Z", 1.5), cursor(None, None),
       cursor("2026-01-01T00:00:00Z", True), cursor("2026-01-01T00:00:00Z", [1]), b64("[1e400, 1]")]
)
REGISTRATION_CURSORS = [cursor(n) for n in OUT_OF_RANGE_NUMBERS] + [
    cursor("1"), cursor(1.0), cursor(None), cursor(True), cursor([1]), cursor({"id": 1}), b64("[" + "9" * 23 + "]"),
]
OUT_OF_RANGE_IDS = [b64(f"GroupSession:{n}") for n in ("9" * 23, 2**31, 2**32, 2**63, 0, "-1", "+1", " 1", "1e3")]


@pytest.fixture
def bugs(caplog):
    """Records of unexpected errors: there must be none."""
    caplog.set_level(logging.ERROR, logger="app.errors")
    yield lambda: [r.getMessage() for r in caplog.records if r.name == "app.errors" or r.exc_info]


def only_error(body: dict) -> dict:
    errors = body.get("errors") or []
    assert len(errors) == 1, body
    return errors[0]


@pytest.mark.parametrize("after", SESSION_CURSORS)
async def test_crafted_session_cursors_are_bad_user_input(api, world, bugs, after):
    await create_session(api, world)
    documents = [
        ("query($a: String) { dashboard { sessions(first: 5, after: $a) { edges { cursor } } } }", {"a": after}),
        ("{ dashboard { sessions(first: 5, after: %s) { edges { cursor } } } }" % json.dumps(after), None),
        (
            "query($a: String) { program(id: %s) { groupSessions(timeframe: FUTURE, after: $a) { totalCount } } }"
            % json.dumps(world.program_gid),
            {"a": after},
        ),
        (
            "{ profile(userId: %s) { upcomingGroupSessions(after: %s) { totalCount } } }"
            % (json.dumps(world.host.gid), json.dumps(after)),
            None,
        ),
    ]
    for document, variables in documents:
        error = only_error(await api.execute(document, variables, token=world.host.token))
        assert error["extensions"]["code"] == "BAD_USER_INPUT", (document, error)
        assert error["message"].startswith("Invalid cursor")
    assert bugs() == []


@pytest.mark.parametrize("after", REGISTRATION_CURSORS)
async def test_crafted_participant_cursors_are_bad_user_input(api, world, bugs, after):
    session = await create_session(api, world)
    await join(api, world.mentees[0], session["id"])
    for document, variables in [
        ("query($id: ID!, $a: String) { groupSession(id: $id) { participants(after: $a) { totalCount } } }",
         {"id": session["id"], "a": after}),
        ("{ groupSession(id: %s) { participants(after: %s) { totalCount } } }" % (json.dumps(session["id"]), json.dumps(after)),
         None),
    ]:
        error = only_error(await api.execute(document, variables, token=world.host.token))
        assert error["extensions"]["code"] == "BAD_USER_INPUT", error
        assert error["message"].startswith("Invalid cursor")
    assert bugs() == []


async def test_cursors_the_api_made_still_page(api, world):
    for day in (1, 2, 3):
        await create_session(api, world, title=f"Day {day}", startsAt=in_days(day, hour=10))
    page = "query($a: String) { dashboard { sessions(first: 2, after: $a) { pageInfo { endCursor } edges { node { title } } } } }"
    first = (await api.data(page, {}, token=world.host.token))["dashboard"]["sessions"]
    second = (await api.data(page, {"a": first["pageInfo"]["endCursor"]}, token=world.host.token))["dashboard"]["sessions"]
    assert [e["node"]["title"] for e in first["edges"] + second["edges"]] == ["Day 1", "Day 2", "Day 3"]


@pytest.mark.parametrize("global_id", OUT_OF_RANGE_IDS)
async def test_ids_with_out_of_range_keys_name_nothing(api, world, bugs, global_id):
    literal = json.dumps(global_id)
    data = await api.data(
        "query($id: ID!) { node(id: $id) { id } nodes(ids: [$id, %s]) { id } groupSession(id: $id) { id } "
        "lit: node(id: %s) { id } program(id: %s) { id } profile(userId: %s) { name } }"
        % (literal, literal, json.dumps(b64(global_id_of("Program", global_id))), json.dumps(b64(global_id_of("User", global_id)))),
        {"id": global_id},
        token=world.host.token,
    )
    assert data == {"node": None, "nodes": [None, None], "groupSession": None, "lit": None, "program": None, "profile": None}

    before = await GroupSession.all().count()
    for document in [
        "mutation { joinGroupSession(input: {id: %s}) { registration { id } userErrors { field code } } }" % literal,
        "mutation { cancelGroupSession(input: {id: %s}) { groupSession { id } userErrors { field code } } }" % literal,
        "mutation { updateGroupSession(input: {id: %s, title: \"x\"}) { groupSession { id } userErrors { field code } } }"
        % literal,
    ]:
        payload = next(iter((await api.data(document, token=world.host.token)).values()))
        assert payload["userErrors"] == [{"field": ["input", "id"], "code": "NOT_FOUND"}], (document, payload)
    created = (await api.data(
        "mutation($i: CreateGroupSessionInput!) { createGroupSession(input: $i) { groupSession { id } userErrors { field code } } }",
        {"i": {"programId": b64(global_id_of("Program", global_id)), "title": "T", "objective": "O",
               "startsAt": in_days(10), "durationMinutes": 60, "guestIds": [b64(global_id_of("User", global_id))]}},
        token=world.host.token,
    ))["createGroupSession"]
    assert created["groupSession"] is None and created["userErrors"][0]["code"] == "NOT_FOUND", created
    assert await GroupSession.all().count() == before
    assert bugs() == []


def global_id_of(type_name: str, crafted: str) -> str:
    """The same crafted key under another type name."""
    key = base64.urlsafe_b64decode(crafted + "=" * (-len(crafted) % 4)).decode().partition(":")[2]
    return f"{type_name}:{key}"


CREATE_LITERAL = """mutation { createGroupSession(input: {programId: %s, title: "T", objective: "O",
  startsAt: %s, durationMinutes: 60}) { groupSession { id } userErrors { field code } } }"""
CREATE_VARIABLE = """mutation($i: CreateGroupSessionInput!) { createGroupSession(input: $i) {
  groupSession { id } userErrors { field code } } }"""


@pytest.mark.parametrize("instant", EDGE_INSTANTS + ["10000-01-01T00:00:00Z", "2026-02-30T10:00:00Z", "2026-12-01T10:00:00"])
async def test_datetimes_at_the_edge_of_the_calendar_are_a_user_error_on_the_field(api, world, bugs, instant):
    """Literal or variable, a date that is none (or that UTC cannot hold) is a userError on
    startsAt, as a form shows it; nothing changes and no bug is logged."""
    session = await create_session(api, world)
    before = await GroupSession.all().order_by("id").values_list("id", "starts_at")
    attempts = [
        (CREATE_LITERAL % (json.dumps(world.program_gid), json.dumps(instant)), None),
        (CREATE_VARIABLE, {"i": {"programId": world.program_gid, "title": "T", "objective": "O",
                                 "startsAt": instant, "durationMinutes": 60}}),
        ("mutation { updateGroupSession(input: {id: %s, startsAt: %s}) { groupSession { id } userErrors { code } } }"
         % (json.dumps(session["id"]), json.dumps(instant)), None),
        ("mutation($s: DateTime) { updateGroupSession(input: {id: %s, startsAt: $s}) { groupSession { id } userErrors { code } } }"
         % json.dumps(session["id"]), {"s": instant}),
    ]
    for document, variables in attempts:
        body = await api.execute(document, variables, token=world.host.token)
        assert "errors" not in body, body
        [result] = body["data"].values()
        assert [e["code"] for e in result["userErrors"]] == ["INVALID"], (document, result)
        if "field" in result["userErrors"][0]:
            assert result["userErrors"][0]["field"] == ["input", "startsAt"]
    assert await GroupSession.all().order_by("id").values_list("id", "starts_at") == before
    assert bugs() == []


async def test_an_in_range_instant_far_away_is_a_user_error(api, world, bugs):
    """9999-12-31T23:59:59Z is a valid DateTime: the rules refuse it as a userError."""
    body = await api.execute(CREATE_LITERAL % (json.dumps(world.program_gid), '"9999-12-31T23:59:59Z"'), token=world.host.token)
    assert body["data"]["createGroupSession"]["userErrors"] == [{"field": ["input", "startsAt"], "code": "OUT_OF_RANGE"}]
    assert bugs() == []
