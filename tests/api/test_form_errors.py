"""Errors a form can show as they are: every userError message is a sentence in the form's
words, every UserErrorCode is described, a malformed date is a userError on its field, and a
refused mutation still answers with the session as it is."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest
from graphql import GraphQLInputObjectType, build_schema, get_named_type

from app.api.schema import export_sdl
from app.clock import utcnow
from app.group_sessions.models import GroupSession, Registration
from tests.responses import without_cost
from tests.conftest import create_session, join
from tests.documents import CANCEL, JOIN, LEAVE

CREATE = """
mutation Create($input: CreateGroupSessionInput!) {
  createGroupSession(input: $input) { groupSession { id } userErrors { field message code } }
}
"""

UPDATE = """
mutation Update($input: UpdateGroupSessionInput!) {
  updateGroupSession(input: $input) {
    groupSession { id title startsAt maxParticipants participantCount viewerCanEdit }
    userErrors { field message code }
  }
}
"""

UPDATE_VIEWER = """
mutation($input: UpdateViewerInput!) { updateViewer(input: $input) { viewer { timeZone } userErrors { field message code } } }
"""

# A GraphQL field name (maxParticipants, startsAtLocal) in a message would be the API's words.
CAMEL_CASE = re.compile(r"\b[a-z]+[A-Z][A-Za-z]*\b")


def assert_form_grade(message: str) -> None:
    """A sentence a form shows as it is: capitalised, ending with a full stop, no API names."""
    assert message[0].isupper() and message.endswith("."), message
    assert not CAMEL_CASE.search(message.replace("startsAt)", "").replace("startsAtLocal)", "")), message


async def create(api, world, **input_):
    payload = {"programId": world.program_gid, "title": "Salary talk", "objective": "Practise it.",
               "startsAt": "2027-05-03T17:00:00+02:00", "durationMinutes": 60, **input_}
    return (await api.data(CREATE, {"input": payload}, token=world.host.token))["createGroupSession"]


async def update(api, member, **input_):
    return (await api.data(UPDATE, {"input": input_}, token=member.token))["updateGroupSession"]


async def state() -> list[tuple]:
    sessions = await GroupSession.all().order_by("id").values_list(
        "id", "title", "starts_at", "max_participants", "participant_count", "status", "time_zone", "updated_at")
    registrations = await Registration.all().order_by("id").values_list("session_id", "user_id")
    return [*sessions, *registrations]


# --- the messages ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "overrides, field, message",
    [
        ({"startsAt": "2020-01-01T10:00:00Z"}, "startsAt", "Start time must be in the future."),
        ({"startsAtLocal": "2020-01-01T10:00", "startsAt": None}, "startsAtLocal", "Start time must be in the future."),
        ({"startsAt": "2040-01-01T10:00:00Z"}, "startsAt", "Start time must be within 5 years from now."),
        ({"durationMinutes": 4}, "durationMinutes", "Duration must be between 5 minutes and 24 hours."),
        ({"durationMinutes": 1441}, "durationMinutes", "Duration must be between 5 minutes and 24 hours."),
        ({"title": "  "}, "title", "Title is required."),
        ({"title": "x" * 201}, "title", "Title must be at most 200 characters."),
        ({"title": "two\nlines"}, "title", "Title must be on a single line."),
        ({"objective": ""}, "objective", "Objective is required."),
        ({"maxParticipants": 1}, "maxParticipants",
         "Maximum participants must be between 2 and 1,000 (the host counts as one)."),
        ({"minParticipants": 0}, "minParticipants", "Minimum participants must be between 1 and 1,000."),
        ({"minParticipants": 10, "maxParticipants": 5}, "minParticipants",
         "Minimum participants cannot be more than maximum participants."),
        ({"timeZone": "Paris"}, "timeZone", "Time zone must be an IANA time zone name, such as Europe/Paris."),
        ({"startsAt": None}, "startsAt", "Start time is required."),
        ({"programId": "UHJvZ3JhbTo5OTk"}, "programId", "This program could not be found."),
    ],
)
async def test_create_refusals_speak_the_forms_words(api, world, overrides, field, message):
    result = await create(api, world, **overrides)
    assert result == {"groupSession": None, "userErrors": [
        {"field": ["input", field], "message": message, "code": result["userErrors"][0]["code"]}]}
    assert_form_grade(message)
    assert await GroupSession.all().count() == 0


async def test_every_refusal_of_the_journey_is_form_grade(api, world):
    """One of each refusal a client meets, through the endpoint: every message is a sentence
    to show as it is."""
    messages = []
    session = await create_session(api, world, maxParticipants=2)
    await join(api, world.mentees[0], session["id"])
    messages += [e["message"] for e in (await join(api, world.mentees[1], session["id"]))["userErrors"]]  # full
    messages += [e["message"] for e in (await join(api, world.mentees[0], session["id"]))["userErrors"]]  # twice
    messages += [e["message"] for e in (await join(api, world.outsider, session["id"]))["userErrors"]]  # not found
    left = await api.data(LEAVE, {"id": session["id"]}, token=world.host.token)
    messages += [e["message"] for e in left["leaveGroupSession"]["userErrors"]]
    left = await api.data(LEAVE, {"id": session["id"]}, token=world.mentees[1].token)
    messages += [e["message"] for e in left["leaveGroupSession"]["userErrors"]]
    messages += [e["message"] for e in (await update(api, world.mentor, id=session["id"], title="x"))["userErrors"]]
    messages += [e["message"] for e in (await update(api, world.host, id=session["id"], maxParticipants=2,
                                                     minParticipants=3))["userErrors"]]
    messages += [e["message"] for e in (await update(api, world.host, id=session["id"],
                                                     guestIds=[world.outsider.gid]))["userErrors"]]
    cancel = await api.data(CANCEL, {"id": session["id"], "reason": "r" * 2001}, token=world.host.token)
    messages += [e["message"] for e in cancel["cancelGroupSession"]["userErrors"]]
    await api.data(CANCEL, {"id": session["id"]}, token=world.host.token)
    cancel = await api.data(CANCEL, {"id": session["id"]}, token=world.host.token)
    messages += [e["message"] for e in cancel["cancelGroupSession"]["userErrors"]]
    messages += [e["message"] for e in (await update(api, world.host, id=session["id"], title="x"))["userErrors"]]
    viewer = await api.data(UPDATE_VIEWER, {"input": {"timeZone": "Nowhere/Land", "name": ""}},
                            token=world.host.token)
    messages += [e["message"] for e in viewer["updateViewer"]["userErrors"]]
    mentee_create = await api.data(CREATE, {"input": {
        "programId": world.program_gid, "title": "t", "objective": "o", "startsAt": "2027-05-03T17:00:00Z",
        "durationMinutes": 60}}, token=world.mentees[0].token)
    messages += [e["message"] for e in mentee_create["createGroupSession"]["userErrors"]]
    assert messages == [
        "This session is full.",
        "You are already registered for this session.",
        "This session could not be found.",
        "As the host, you cannot leave your own session; cancel it instead.",
        "You are not registered for this session.",
        "Only the host can edit this session.",
        "Minimum participants cannot be more than maximum participants.",
        "Guests must be members of this program.",
        "Reason must be at most 2,000 characters.",
        "This session is already cancelled.",
        "This session was cancelled, so it can no longer be edited.",
        "Name is required: one line of at most 200 characters.",
        "Time zone must be an IANA time zone name, such as Europe/Paris.",
        "Only mentors and admins of this program can host sessions.",
    ]
    for message in messages:
        assert_form_grade(message)


async def test_max_participants_below_the_registered_count_names_the_count(api, world):
    session = await create_session(api, world)
    for mentee in world.mentees:
        await join(api, mentee, session["id"])
    before = await state()
    result = await update(api, world.host, id=session["id"], maxParticipants=3)
    assert result["userErrors"] == [{"field": ["input", "maxParticipants"], "code": "BELOW_PARTICIPANT_COUNT",
                                     "message": "Maximum participants cannot be below the 4 people already registered."}]
    assert result["groupSession"]["maxParticipants"] == 40 and result["groupSession"]["participantCount"] == 4
    assert await state() == before


async def test_every_user_error_code_is_described_in_the_exported_schema():
    schema = build_schema(export_sdl())
    codes = schema.get_type("UserErrorCode")
    assert "NONEXISTENT_LOCAL_TIME" in codes.values and "AMBIGUOUS_LOCAL_TIME" in codes.values
    undescribed = [name for name, value in codes.values.items() if not (value.description or "").strip()]
    assert undescribed == []
    # schema.graphql, the committed artifact, says the same
    committed = build_schema((Path(__file__).parents[2] / "schema.graphql").read_text())
    assert {n: v.description for n, v in committed.get_type("UserErrorCode").values.items()} == {
        n: v.description for n, v in codes.values.items()}


# --- malformed dates -------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["not a date", "2027-02-30T10:00", "2027-02-30T10:00:00+01:00", "", "2027-13-01T10:00Z"])
async def test_a_malformed_start_in_variables_is_a_user_error_on_that_field(api, world, text):
    session = await create_session(api, world)
    before = await state()
    created = await create(api, world, startsAt=text, title="")
    assert created["groupSession"] is None
    # Reported on its field, before anything else is looked at.
    assert created["userErrors"] == [{
        "field": ["input", "startsAt"], "code": "INVALID",
        "message": "Start time must be a real date and time, such as 2027-03-29T17:00:00+02:00."}]
    edited = await update(api, world.host, id=session["id"], startsAt=text, title="Renamed")
    assert [(e["field"], e["code"]) for e in edited["userErrors"]] == [(["input", "startsAt"], "INVALID")]
    assert edited["groupSession"]["title"] == session["title"]  # the session as it is
    assert await state() == before


async def test_a_malformed_date_written_in_the_document_is_a_user_error_too(api, world):
    body = await api.execute(
        'mutation { createGroupSession(input: {programId: "%s", title: "t", objective: "o", '
        'startsAtLocal: "2027-02-30T10:00", durationMinutes: 60}) { groupSession { id } userErrors { field code } } }'
        % world.program_gid,
        token=world.host.token,
    )
    assert without_cost(body) == {"data": {"createGroupSession": {"groupSession": None, "userErrors": [
        {"field": ["input", "startsAtLocal"], "code": "INVALID"}]}}}
    assert await GroupSession.all().count() == 0


async def test_a_date_of_the_wrong_type_is_a_user_error_on_its_field_too(api, world):
    """An object where the scalar expects a string: the same userError, nothing created."""
    body = await api.execute(CREATE, {"input": {"programId": world.program_gid, "title": "t", "objective": "o",
                                                 "startsAt": {"year": 2027}, "durationMinutes": 60}},
                             token=world.host.token)
    assert [(e["field"], e["code"]) for e in body["data"]["createGroupSession"]["userErrors"]] == [
        (["input", "startsAt"], "INVALID")]
    assert await GroupSession.all().count() == 0


def test_date_scalars_reach_resolvers_only_through_mutation_inputs():
    """The date scalars let a malformed value through as `Malformed` for `mutate` to refuse on
    its field. Anywhere else (a query or subscription argument) nothing would refuse it: such
    an argument must not exist without a check of its own."""
    schema = build_schema(export_sdl())
    dated = {"DateTime", "LocalDateTime"}

    def carries_dates(type_, seen=frozenset()) -> bool:
        named = get_named_type(type_)
        if named.name in dated:
            return True
        if isinstance(named, GraphQLInputObjectType) and named.name not in seen:
            return any(carries_dates(f.type, seen | {named.name}) for f in named.fields.values())
        return False

    found = sorted(
        f"{type_name}.{field_name}({arg_name})"
        for type_name, type_ in schema.type_map.items()
        if hasattr(type_, "fields") and not isinstance(type_, GraphQLInputObjectType) and not type_name.startswith("__")
        for field_name, field in type_.fields.items()
        for arg_name, arg in field.args.items()
        if carries_dates(arg.type)
    )
    assert found == ["Mutation.createGroupSession(input)", "Mutation.updateGroupSession(input)"]


# --- the session as it is, on a refusal ----------------------------------------------------------


async def test_a_refused_join_answers_with_the_session_as_it_is(api, world):
    """An optimistic Join on a session that filled up meanwhile: the answer holds the truth
    (full, not attending), so the client rolls back without asking again."""
    session = await create_session(api, world, maxParticipants=2)
    await join(api, world.mentees[0], session["id"])
    before = await state()
    result = (await api.data(JOIN, {"id": session["id"]}, token=world.mentees[1].token))["joinGroupSession"]
    assert result["registration"] is None
    assert result["userErrors"][0]["code"] == "SESSION_FULL"
    assert result["groupSession"] == {"id": session["id"], "participantCount": 2, "spotsLeft": 0, "isFull": True,
                                      "viewerIsAttending": False, "viewerCanJoin": False,
                                      "viewerCannotJoinReasons": ["SESSION_FULL"]}
    assert await state() == before


async def test_a_refused_leave_edit_and_cancel_answer_with_the_session_as_it_is(api, world):
    session = await create_session(api, world)
    await api.data(CANCEL, {"id": session["id"], "reason": "Ill"}, token=world.host.token)
    before = await state()
    left = (await api.data(LEAVE, {"id": session["id"]}, token=world.mentees[0].token))["leaveGroupSession"]
    assert left["userErrors"][0]["code"] == "NOT_REGISTERED"
    assert left["groupSession"] == {"id": session["id"], "participantCount": 1, "spotsLeft": 39,
                                    "viewerIsAttending": False}
    edited = await update(api, world.host, id=session["id"], title="Back on")
    assert edited["userErrors"][0]["code"] == "SESSION_CANCELLED"
    assert edited["groupSession"]["title"] == session["title"] and edited["groupSession"]["viewerCanEdit"] is False
    cancelled = (await api.data(CANCEL, {"id": session["id"]}, token=world.host.token))["cancelGroupSession"]
    assert cancelled["userErrors"][0]["code"] == "SESSION_CANCELLED"
    assert cancelled["groupSession"]["status"] == "CANCELLED"
    assert cancelled["groupSession"]["cancellationReason"] == "Ill"
    by_a_member = await update(api, world.mentees[0], id=session["id"], title="Mine now")
    assert by_a_member["userErrors"][0]["code"] == "FORBIDDEN"
    assert by_a_member["groupSession"]["title"] == session["title"]
    assert await state() == before


async def test_a_refusal_shows_nothing_the_viewer_may_not_see(api, world):
    session = await create_session(api, world)
    for member, id_ in [(world.outsider, session["id"]), (world.mentees[0], "R3JvdXBTZXNzaW9uOjk5OQ"),
                        (world.mentees[0], "not-an-id"), (world.mentees[0], world.program_gid)]:
        joined = (await api.data(JOIN, {"id": id_}, token=member.token))["joinGroupSession"]
        assert (joined["groupSession"], joined["userErrors"][0]["code"]) == (None, "NOT_FOUND")
        edited = await update(api, member, id=id_, title="x")
        assert (edited["groupSession"], edited["userErrors"][0]["code"]) == (None, "NOT_FOUND")


async def test_a_session_that_started_refuses_a_new_start_and_says_so_in_words(api, world):
    session = await create_session(api, world)
    # Move the start into the past directly (the API refuses to): the session is under way.
    await GroupSession.filter(id=1).update(starts_at=utcnow() - timedelta(minutes=5))
    result = await update(api, world.host, id=session["id"], startsAtLocal="2027-05-01T10:00")
    assert result["userErrors"] == [{
        "field": ["input", "startsAtLocal"], "code": "SESSION_STARTED",
        "message": "This session has already started, so its start time can no longer change."}]
