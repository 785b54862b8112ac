"""SQL statements per request are a small constant, pinned here exactly (token lookup included).

Counted through the `tortoise.db_client` logger. Runs on SQLite and, with
TEST_DATABASE_URL, on PostgreSQL: the counts are the same on both. Exact, not upper bounds:
a count that drops is news too (pin the new number), and a capture that saw nothing fails.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from app.accounts.models import AccessToken
from app.clock import utcnow
from app.api.pagination import to_global_id
from app.group_sessions import services
from app.group_sessions.events import Effects
from tests.scale.pages import DASHBOARD_FUTURE, PROFILE, PUBLIC_SESSION_PAGE
from tests.scale.statements import count_statements

DASHBOARD_STATEMENTS = 4
PUBLIC_PAGE_STATEMENTS = {"member": 3, "host": 4}  # the host's page also reads the guests
PROFILE_STATEMENTS = 5
JOIN_STATEMENTS = 6
LEAVE_STATEMENTS = 6
# A leave while people wait: LEAVE_STATEMENTS, plus the promotion (session UPDATE,
# registrations UPDATE, the promoted people) and the promoted member's emails (the host's
# last notice about them, the outbox INSERT).
LEAVE_PROMOTING_STATEMENTS = LEAVE_STATEMENTS + 5
JOIN_WAITLIST_STATEMENTS = 5


async def _host_sessions(world, count: int, *, participants: list, max_participants: int = 40) -> list[int]:
    """`count` future sessions hosted by world.host, each joined by `participants`."""
    effects = Effects()
    start = datetime.now(timezone.utc) + timedelta(days=2)
    ids = []
    for i in range(count):
        session = await services.create_group_session(
            viewer_id=world.host.user.id,
            program_id=world.program.id,
            title=f"Session {i}",
            objective="Practise.",
            starts_at=start + timedelta(hours=i),
            duration_minutes=60,
            max_participants=max_participants,
            effects=effects,
        )
        for member in participants:
            await services.join_group_session(viewer_id=member.user.id, session_id=session.id, effects=effects)
        ids.append(session.id)
    return ids


async def tokens_in_steady_use() -> None:
    """The token lookup also records a token's last use, at most every 5 minutes
    (LAST_USED_RESOLUTION): these counts are for the requests in between."""
    await AccessToken.all().update(last_used_at=utcnow())


async def _dashboard_statements(api, world, sessions: int) -> tuple[int, dict]:
    viewer = world.mentees[0]
    await _host_sessions(world, sessions, participants=[viewer, *world.mentees[1:], world.mentor])
    await tokens_in_steady_use()
    with count_statements() as log:
        data = await api.data(DASHBOARD_FUTURE, {"first": 20}, token=viewer.token)
    return len(log), data, log


@pytest.mark.parametrize("sessions", [5, 20])
async def test_dashboard_future_costs_a_pinned_number_of_statements(api, world, sessions):
    count, data, log = await _dashboard_statements(api, world, sessions)
    edges = data["dashboard"]["sessions"]["edges"]
    assert len(edges) == sessions
    assert data["dashboard"]["sessions"]["totalCount"] == sessions
    first = edges[0]["node"]
    assert first["viewerIsAttending"] is True and first["viewerCanJoin"] is False
    names = [e["node"]["participant"]["name"] for e in first["participants"]["edges"]]
    assert names == ["Hannah", "Mentee0", "Mentee1", "Mentee2", "Mario"]
    assert first["host"]["name"] == "Hannah" and first["program"]["name"] == "Mentoring"
    assert count == DASHBOARD_STATEMENTS, log.dump()


async def test_dashboard_costs_the_same_for_five_and_twenty_sessions(app, api, world):
    viewer = world.mentees[0]
    await _host_sessions(world, 5, participants=[viewer, world.mentor])
    await tokens_in_steady_use()
    with count_statements() as five:
        await api.data(DASHBOARD_FUTURE, {"first": 20}, token=viewer.token)
    await _host_sessions(world, 15, participants=[viewer, *world.mentees[1:]])
    with count_statements() as twenty:
        data = await api.data(DASHBOARD_FUTURE, {"first": 20}, token=viewer.token)
    assert len(data["dashboard"]["sessions"]["edges"]) == 20
    assert len(five) == len(twenty) == DASHBOARD_STATEMENTS, f"5 sessions:\n{five.dump()}\n20 sessions:\n{twenty.dump()}"


@pytest.mark.parametrize("viewer_name", ["member", "host"])
async def test_public_session_page_with_40_participants_costs_a_pinned_number_of_statements(api, world, viewer_name):
    members = await world.add_members(39)
    [session_id] = await _host_sessions(world, 1, participants=members)
    # The host invited a guest: the host's page shows guests, a member's does not.
    await services.update_group_session(
        viewer_id=world.host.user.id,
        session_id=session_id,
        guest_ids=[world.mentees[0].user.id],
        effects=Effects(),
    )
    viewer = members[5] if viewer_name == "member" else world.host
    await tokens_in_steady_use()
    with count_statements() as log:
        data = await api.data(PUBLIC_SESSION_PAGE, {"id": to_global_id("GroupSession", session_id)}, token=viewer.token)
    page = data["groupSession"]
    assert page["participantCount"] == 40 and page["isFull"] is True
    participants = page["participants"]["edges"]
    assert len(participants) == 40 and page["participants"]["totalCount"] == 40
    assert participants[0]["node"]["isHost"] and participants[0]["node"]["participant"]["name"] == "Hannah"
    assert [p["node"]["participant"]["name"] for p in participants[1:]] == [m.user.name for m in members]
    assert page["viewerIsAttending"] is True
    assert page["host"]["name"] == "Hannah" and page["program"]["viewerRole"] in {"MENTEE", "MENTOR"}
    if viewer_name == "host":
        assert page["guests"] == [{"id": world.mentees[0].gid, "name": "Mentee0"}]
        assert page["viewerIsHost"] and page["viewerCanEdit"]
    else:
        assert page["guests"] == [] and page["viewerCannotJoinReasons"] == ["ALREADY_REGISTERED", "SESSION_FULL"]
    assert len(log) == PUBLIC_PAGE_STATEMENTS[viewer_name], log.dump()


async def test_profile_with_20_upcoming_sessions_costs_a_pinned_number_of_statements(api, world):
    await _host_sessions(world, 20, participants=[world.mentees[0]])
    viewer = world.mentees[0]
    await tokens_in_steady_use()
    with count_statements() as log:
        data = await api.data(PROFILE, {"id": world.host.gid, "first": 20}, token=viewer.token)
    profile = data["profile"]
    assert profile["name"] == "Hannah" and profile["email"] is None
    edges = profile["upcomingGroupSessions"]["edges"]
    assert len(edges) == 20 and profile["upcomingGroupSessions"]["totalCount"] == 20
    assert all(e["node"]["viewerIsAttending"] for e in edges)
    assert len(log) == PROFILE_STATEMENTS, log.dump()


async def test_join_mutation_costs_a_pinned_number_of_statements(api, world):
    """Through /graphql: 1. the token lookup (the viewer with every role), 2. the session
    with its host and the viewer's registration, 3. the seat (UPDATE ... RETURNING the
    row after it), 4. the registration, 5. the last notice to the host about this member
    (for coalescing), 6. both emails' outbox rows in one INSERT. Nothing
    reads the session, the host or the participant again: not the emails, not the live
    publisher, not the payload."""
    from app.notifications.models import OutboxEmail
    from tests.conftest import join

    [session_id] = await _host_sessions(world, 1, participants=[])
    await OutboxEmail.all().delete()
    await tokens_in_steady_use()
    with count_statements() as log:
        result = await join(api, world.mentees[0], to_global_id("GroupSession", session_id))
    assert result["userErrors"] == [] and result["groupSession"]["participantCount"] == 2
    assert result["registration"]["session"]["id"] == to_global_id("GroupSession", session_id)
    assert result["registration"]["participant"]["name"] == "Mentee0"
    assert await OutboxEmail.all().count() == 2  # the host's notice and the participant's invite
    assert len(log) == JOIN_STATEMENTS, log.dump()


async def test_leave_mutation_costs_a_pinned_number_of_statements(api, world):
    """1. the token lookup, 2. the session (locked) with its host and the viewer's
    registration, 3. the registration deleted (DELETE ... RETURNING its status), 4. the
    seat given back (UPDATE ... RETURNING), 5. the last notice to the host about this member (for coalescing), 6. both
    emails' outbox rows in one INSERT."""
    from app.notifications.models import OutboxEmail
    from tests.documents import LEAVE

    leaver = world.mentees[0]
    [session_id] = await _host_sessions(world, 1, participants=[leaver])
    await OutboxEmail.all().delete()
    await tokens_in_steady_use()
    with count_statements() as log:
        data = await api.data(LEAVE, {"id": to_global_id("GroupSession", session_id)}, token=leaver.token)
    result = data["leaveGroupSession"]
    assert result["userErrors"] == [] and result["groupSession"]["participantCount"] == 1
    assert result["groupSession"]["viewerIsAttending"] is False
    assert await OutboxEmail.all().count() == 2  # the host's notice and the participant's CANCEL
    assert len(log) == LEAVE_STATEMENTS, log.dump()


async def test_joining_the_waitlist_costs_a_pinned_number_of_statements(api, world):
    """1. the token lookup, 2. the session with the viewer's registration, 3. the place in
    line (UPDATE ... RETURNING), 4. the registration, 5. the "You're on the waitlist" email
    (no host notice: no seat changed)."""
    from app.notifications.models import OutboxEmail

    [session_id] = await _host_sessions(world, 1, participants=[world.mentees[0]], max_participants=2)
    await OutboxEmail.all().delete()
    await tokens_in_steady_use()
    document = "mutation($id: ID!) { joinGroupSession(input: {id: $id, waitlist: true}) { registration { status } userErrors { code } } }"
    with count_statements() as log:
        data = await api.data(document, {"id": to_global_id("GroupSession", session_id)}, token=world.mentees[1].token)
    assert data["joinGroupSession"] == {"registration": {"status": "WAITLISTED"}, "userErrors": []}
    assert await OutboxEmail.all().values_list("kind", flat=True) == ["waitlisted"]
    assert len(log) == JOIN_WAITLIST_STATEMENTS, log.dump()


async def test_a_leave_that_promotes_costs_a_pinned_number_of_statements(api, world):
    """LEAVE_STATEMENTS, and for the promotion: the session UPDATE (conditional), the
    registrations UPDATE, the promoted people; the host's last notice about the promoted
    member, and their emails' INSERT. However many wait, and however many seats free."""
    from app.notifications.models import OutboxEmail
    from tests.documents import LEAVE

    leaver = world.mentees[0]
    [session_id] = await _host_sessions(world, 1, participants=[leaver], max_participants=2)
    for member in world.mentees[1:]:
        await services.join_group_session(viewer_id=member.user.id, session_id=session_id, waitlist=True, effects=Effects())
    await OutboxEmail.all().delete()
    await tokens_in_steady_use()
    with count_statements() as log:
        data = await api.data(LEAVE, {"id": to_global_id("GroupSession", session_id)}, token=leaver.token)
    result = data["leaveGroupSession"]
    assert result["userErrors"] == [] and result["groupSession"]["participantCount"] == 2
    kinds = sorted(await OutboxEmail.all().values_list("kind", flat=True))
    assert kinds == ["promoted", "registration_added", "registration_removed", "registration_withdrawn"]
    assert len(log) == LEAVE_PROMOTING_STATEMENTS, log.dump()
