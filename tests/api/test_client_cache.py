"""What client caches and mobile retries need: createGroupSession's idempotencyKey, and the
edges (and the removed ID) that let a client update its lists without a refetch."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone

import pytest

from app.api.pagination import to_global_id
from app.group_sessions.events import GroupSessionCreated
from app.group_sessions.models import GroupSession, Guest, IdempotencyKey, Registration
from app.main import create_app
from app.notifications.models import OutboxEmail
from app.notifications.worker import OutboxWorker
from tests.conftest import create_session, join
from tests.email.conftest import Clock

KEY = "6f1c2a9e-3b7d-4e0a-9c55-2d8f1b7a4e10"

CREATE_WITH_EDGE = """
mutation Create($input: CreateGroupSessionInput!) {
  createGroupSession(input: $input) {
    groupSession { id title startsAt status }
    groupSessionEdge { cursor node { id title startsAt } }
    userErrors { field message code }
  }
}
"""

DASHBOARD = """
query Dashboard($after: String) {
  dashboard { sessions(first: 50, after: $after) { edges { cursor node { id title } } } }
}
"""

JOIN_WITH_EDGE = """
mutation Join($id: ID!) {
  joinGroupSession(input: {id: $id}) {
    registration { id }
    registrationEdge { cursor node { id isHost participant { name } } }
    userErrors { field message code }
  }
}
"""

LEAVE_WITH_ID = """
mutation Leave($id: ID!) {
  leaveGroupSession(input: {id: $id}) {
    removedRegistrationId
    groupSession { participantCount }
    userErrors { field message code }
  }
}
"""

PARTICIPANTS = """
query Participants($id: ID!, $after: String) {
  groupSession(id: $id) { participants(first: 50, after: $after) { edges { cursor node { id participant { name } } } } }
}
"""

NODE = "query Node($id: ID!) { node(id: $id) { id ... on Registration { isHost } } }"


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def app(settings, clock):
    """The suite's app, on a clock the test moves forward (idempotency keys expire by it)."""
    application = create_app(settings, clock=clock)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
def created_events(app) -> list[GroupSessionCreated]:
    """Every GroupSessionCreated the app publishes (after commit), in order."""
    seen: list[GroupSessionCreated] = []

    async def record(event: GroupSessionCreated) -> None:
        seen.append(event)

    app.state.effects.handlers_for(GroupSessionCreated).after_commit.append(record)
    return seen


def session_input(world, clock: Clock, **overrides) -> dict:
    starts_at = (clock() + timedelta(days=2)).replace(microsecond=0).astimezone(timezone(timedelta(hours=1)))
    return {
        "programId": world.program_gid,
        "title": "Negotiating your first salary",
        "objective": "Practise the conversation.",
        "startsAt": starts_at.isoformat(),
        "durationMinutes": 90,
        "guestIds": [world.mentees[0].gid],
        "idempotencyKey": KEY,
        **overrides,
    }


async def create(api, member, payload: dict) -> dict:
    return (await api.data(CREATE_WITH_EDGE, {"input": payload}, token=member.token))["createGroupSession"]


async def database_counts() -> dict[str, int]:
    return {
        "sessions": await GroupSession.all().count(),
        "registrations": await Registration.all().count(),
        "guests": await Guest.all().count(),
        "emails": await OutboxEmail.all().count(),
        "keys": await IdempotencyKey.all().count(),
    }


# --- idempotencyKey ---------------------------------------------------------------------------


async def test_the_same_key_again_returns_the_first_session_as_it_is_now_and_creates_nothing(
    api, world, clock, created_events
):
    payload = session_input(world, clock)
    first = await create(api, world.host, payload)
    assert first["userErrors"] == []
    after_first = await database_counts()
    assert after_first == {"sessions": 1, "registrations": 1, "guests": 1, "emails": after_first["emails"], "keys": 1}
    assert after_first["emails"] >= 1  # the guest's invitation at least
    assert len(created_events) == 1

    # The host edits it; then the phone, which never saw the first answer, retries.
    edited = await api.data(
        'mutation($id: ID!) { updateGroupSession(input: {id: $id, title: "Renamed"}) { userErrors { code } } }',
        {"id": first["groupSession"]["id"]},
        token=world.host.token,
    )
    assert edited["updateGroupSession"]["userErrors"] == []
    emails_after_edit = await OutboxEmail.all().count()
    clock.advance(3600)
    again = await create(api, world.host, payload)

    assert again["userErrors"] == []
    assert again["groupSession"]["id"] == first["groupSession"]["id"]
    assert again["groupSession"]["title"] == "Renamed"
    assert again["groupSessionEdge"] == {
        "cursor": first["groupSessionEdge"]["cursor"],
        "node": {"id": first["groupSession"]["id"], "title": "Renamed", "startsAt": first["groupSession"]["startsAt"]},
    }
    assert await database_counts() == {**after_first, "emails": emails_after_edit}
    assert len(created_events) == 1
    row = await IdempotencyKey.get()
    assert (row.user_id, row.key, row.session_id) == (world.host.user.id, KEY, int((await GroupSession.get()).id))


async def test_the_same_instant_written_with_another_offset_is_the_same_input(api, world, clock):
    payload = session_input(world, clock)
    first = await create(api, world.host, payload)
    in_utc = datetime.fromisoformat(payload["startsAt"]).astimezone(timezone.utc).isoformat()
    again = await create(api, world.host, {**payload, "startsAt": in_utc})
    assert again["userErrors"] == [] and again["groupSession"]["id"] == first["groupSession"]["id"]
    assert await GroupSession.all().count() == 1


async def test_guests_in_another_order_are_the_same_input(api, world, clock):
    payload = session_input(world, clock, guestIds=[world.mentees[0].gid, world.mentees[1].gid])
    first = await create(api, world.host, payload)
    again = await create(api, world.host, {**payload, "guestIds": [world.mentees[1].gid, world.mentees[0].gid]})
    assert again["userErrors"] == [] and again["groupSession"]["id"] == first["groupSession"]["id"]
    assert await GroupSession.all().count() == 1 and await Guest.all().count() == 2


async def test_the_same_key_with_other_input_is_refused_and_changes_nothing(api, world, clock, created_events):
    payload = session_input(world, clock)
    first = await create(api, world.host, payload)
    before = await database_counts()
    for change in ({"title": "Another title"}, {"durationMinutes": 60}, {"guestIds": []}, {"maxParticipants": 40}):
        refused = await create(api, world.host, {**payload, **change})
        assert refused["groupSession"] is None and refused["groupSessionEdge"] is None
        assert [(e["code"], e["field"]) for e in refused["userErrors"]] == [
            ("IDEMPOTENCY_KEY_REUSED", ["input", "idempotencyKey"])
        ], change
        assert refused["userErrors"][0]["message"]
    assert await database_counts() == before
    assert len(created_events) == 1
    # The first input still answers with the first session.
    assert (await create(api, world.host, payload))["groupSession"]["id"] == first["groupSession"]["id"]


async def test_keys_are_per_viewer(api, world, clock):
    payload = session_input(world, clock)
    hosts = await create(api, world.host, payload)
    mentors = await create(api, world.mentor, payload)
    assert hosts["userErrors"] == mentors["userErrors"] == []
    assert hosts["groupSession"]["id"] != mentors["groupSession"]["id"]
    assert await GroupSession.all().count() == 2
    owners = await GroupSession.all().order_by("id").values_list("host_id", flat=True)
    assert owners == [world.host.user.id, world.mentor.user.id]


async def test_without_a_key_every_create_creates(api, world, clock):
    payload = session_input(world, clock)
    del payload["idempotencyKey"]
    first, second = await create(api, world.host, payload), await create(api, world.host, payload)
    assert first["groupSession"]["id"] != second["groupSession"]["id"]
    assert await GroupSession.all().count() == 2 and await IdempotencyKey.all().count() == 0


async def test_a_key_is_forgotten_after_its_time_to_live(api, world, clock, settings):
    payload = session_input(world, clock)
    first = await create(api, world.host, payload)
    clock.advance(settings.idempotency_key_ttl.total_seconds() - 60)
    assert (await create(api, world.host, payload))["groupSession"]["id"] == first["groupSession"]["id"]
    clock.advance(120)
    later = await create(api, world.host, session_input(world, clock))
    assert later["userErrors"] == []
    assert later["groupSession"]["id"] != first["groupSession"]["id"]
    assert await GroupSession.all().count() == 2
    # The expired row made way for the new one: one key, naming the new session.
    keys = await IdempotencyKey.all().values_list("key", "session_id")
    assert keys == [(KEY, int((await GroupSession.all().order_by("-id").first()).id))]


async def test_the_worker_deletes_expired_keys_and_keeps_their_sessions(api, world, clock, settings):
    await create(api, world.host, session_input(world, clock))
    await create(api, world.mentor, session_input(world, clock, idempotencyKey="mentor-1"))
    worker = OutboxWorker(settings, clock=clock)
    assert await worker.sweep() == 0 and await IdempotencyKey.all().count() == 2
    clock.advance(settings.idempotency_key_ttl.total_seconds() + 1)
    retried = session_input(world, clock, idempotencyKey="mentor-2")
    fresh = await create(api, world.mentor, retried)
    # The mentor's keyed create removed the mentor's expired key; the host's waits for the worker.
    assert await IdempotencyKey.all().order_by("id").values_list("key", flat=True) == [KEY, "mentor-2"]
    assert await worker.sweep() == 1
    assert await IdempotencyKey.all().values_list("key", flat=True) == ["mentor-2"]
    assert await GroupSession.all().count() == 3
    # The same payload again (recomputing it could move its start past a second boundary).
    again = await create(api, world.mentor, retried)
    assert again["userErrors"] == [] and again["groupSession"]["id"] == fresh["groupSession"]["id"]


@pytest.mark.parametrize("key", ["", "has space", "x" * 256, "é", "tab\tinside", "nul\x00"])
async def test_a_malformed_key_is_refused_on_its_field(api, world, clock, key):
    result = await create(api, world.host, session_input(world, clock, idempotencyKey=key))
    assert result["groupSession"] is None
    assert [(e["code"], e["field"]) for e in result["userErrors"]] == [("INVALID", ["input", "idempotencyKey"])]
    assert await GroupSession.all().count() == 0 and await IdempotencyKey.all().count() == 0


async def test_a_key_of_255_characters_is_accepted(api, world, clock):
    result = await create(api, world.host, session_input(world, clock, idempotencyKey="k" * 255))
    assert result["userErrors"] == []
    assert (await IdempotencyKey.get()).key == "k" * 255


async def test_a_retry_after_the_start_still_returns_the_session(api, world, clock):
    payload = session_input(world, clock, startsAt=(clock() + timedelta(hours=1)).isoformat())
    first = await create(api, world.host, payload)
    clock.advance(2 * 3600)  # the session has started: a fresh create with this input would be refused
    again = await create(api, world.host, payload)
    assert again["userErrors"] == [] and again["groupSession"]["id"] == first["groupSession"]["id"]


async def test_refusals_remember_nothing(api, world, clock):
    payload = session_input(world, clock, durationMinutes=1)  # refused: too short
    refused = await create(api, world.host, payload)
    assert [e["code"] for e in refused["userErrors"]] == ["OUT_OF_RANGE"]
    assert await IdempotencyKey.all().count() == 0
    fixed = await create(api, world.host, {**payload, "durationMinutes": 30})  # the same key, corrected input
    assert fixed["userErrors"] == [] and await GroupSession.all().count() == 1


async def test_ten_concurrent_creates_with_one_key_create_one_session(api, world, clock, created_events):
    payload = session_input(world, clock)
    results = await asyncio.wait_for(
        asyncio.gather(*(create(api, world.host, payload) for _ in range(10))), timeout=60
    )
    assert [r["userErrors"] for r in results] == [[]] * 10
    ids = {r["groupSession"]["id"] for r in results}
    assert len(ids) == 1
    assert {r["groupSessionEdge"]["cursor"] for r in results} == {results[0]["groupSessionEdge"]["cursor"]}
    counts = await database_counts()
    assert {k: v for k, v in counts.items() if k != "emails"} == {"sessions": 1, "registrations": 1, "guests": 1, "keys": 1}
    assert len(created_events) == 1
    # Exactly one create's emails: another create of the same input (no key) writes as many again.
    del payload["idempotencyKey"]
    await create(api, world.host, payload)
    assert await OutboxEmail.all().count() == 2 * counts["emails"]


# --- edges -------------------------------------------------------------------------------------


async def test_the_created_edge_is_the_edge_the_dashboard_gives(api, world, clock):
    for days in (1, 3):
        await create_session(api, world, startsAt=(clock() + timedelta(days=days)).isoformat())
    payload = session_input(world, clock)  # in 2 days: between the two
    created = await create(api, world.host, payload)
    edge = created["groupSessionEdge"]
    assert edge["node"]["id"] == created["groupSession"]["id"]

    listed = (await api.data(DASHBOARD, token=world.host.token))["dashboard"]["sessions"]["edges"]
    assert len(listed) == 3 and listed[1]["node"]["id"] == edge["node"]["id"]
    assert listed[1]["cursor"] == edge["cursor"]
    # ... so paging on from it gives what follows it in the list.
    after = (await api.data(DASHBOARD, {"after": edge["cursor"]}, token=world.host.token))["dashboard"]["sessions"]
    assert [e["node"]["id"] for e in after["edges"]] == [listed[2]["node"]["id"]]


async def test_the_join_edge_is_the_edge_the_participant_list_gives(api, world):
    session = await create_session(api, world)
    await join(api, world.mentees[0], session["id"])
    joined = (await api.data(JOIN_WITH_EDGE, {"id": session["id"]}, token=world.mentees[1].token))["joinGroupSession"]
    assert joined["userErrors"] == []
    edge = joined["registrationEdge"]
    assert edge["node"] == {"id": joined["registration"]["id"], "isHost": False, "participant": {"name": "Mentee1"}}
    registration = await Registration.get(user_id=world.mentees[1].user.id)
    assert edge["node"]["id"] == to_global_id("Registration", registration.id)

    listed = (await api.data(PARTICIPANTS, {"id": session["id"]}, token=world.host.token))["groupSession"]
    edges = listed["participants"]["edges"]
    assert [e["node"]["participant"]["name"] for e in edges] == ["Hannah", "Mentee0", "Mentee1"]
    assert edges[-1]["cursor"] == edge["cursor"] and edges[-1]["node"]["id"] == edge["node"]["id"]
    # Paging after the second participant's cursor gives the new edge.
    page = await api.data(PARTICIPANTS, {"id": session["id"], "after": edges[1]["cursor"]}, token=world.host.token)
    assert page["groupSession"]["participants"]["edges"] == [edges[-1]]


async def test_a_refused_join_has_no_edge(api, world):
    session = await create_session(api, world)
    refused = (await api.data(JOIN_WITH_EDGE, {"id": session["id"]}, token=world.host.token))["joinGroupSession"]
    assert refused["registrationEdge"] is None and [e["code"] for e in refused["userErrors"]] == ["ALREADY_REGISTERED"]


async def test_leave_returns_the_id_the_registration_node_had(api, world):
    session = await create_session(api, world)
    joined = await join(api, world.mentees[0], session["id"])
    registration_id = joined["registration"]["id"]
    assert (await api.data(NODE, {"id": registration_id}, token=world.host.token))["node"]["id"] == registration_id

    left = (await api.data(LEAVE_WITH_ID, {"id": session["id"]}, token=world.mentees[0].token))["leaveGroupSession"]
    assert left["userErrors"] == []
    assert left["removedRegistrationId"] == registration_id
    assert left["groupSession"]["participantCount"] == 1
    assert await Registration.filter(user_id=world.mentees[0].user.id).count() == 0
    assert (await api.data(NODE, {"id": registration_id}, token=world.host.token))["node"] is None
    listed = (await api.data(PARTICIPANTS, {"id": session["id"]}, token=world.host.token))["groupSession"]
    assert registration_id not in [e["node"]["id"] for e in listed["participants"]["edges"]]


async def test_a_refused_leave_removes_nothing(api, world):
    session = await create_session(api, world)
    refused = (await api.data(LEAVE_WITH_ID, {"id": session["id"]}, token=world.mentees[0].token))["leaveGroupSession"]
    assert refused["removedRegistrationId"] is None
    assert [e["code"] for e in refused["userErrors"]] == ["NOT_REGISTERED"]
    assert await Registration.all().count() == 1
