"""The waitlist, end to end through /graphql: joining a full session with `waitlist: true`,
places in line, leaving the line, promotion when a seat frees (a leave, a raised
maxParticipants) with its emails received by a real SMTP server and its PROMOTED and
WAITLISTED events pushed over a real WebSocket, and nobody promoted into a session that
started or was cancelled."""

from __future__ import annotations

from datetime import timedelta

import pytest

from app.api.pagination import pk_of
from app.clock import utcnow
from app.group_sessions.models import GroupSession, Registration, RegistrationStatus
from app.notifications.worker import OutboxWorker
from app.settings import Settings
from tests.conftest import create_session, join
from tests.documents import CANCEL, LEAVE, UPDATE
from tests.email.conftest import Clock
from tests.email.mailbox import Mailbox
from tests.live.conftest import WS, wait_for_subscriptions
from tests.servers import serve_in_process

JOIN_WAITLIST = """
mutation Join($id: ID!, $waitlist: Boolean) {
  joinGroupSession(input: {id: $id, waitlist: $waitlist}) {
    registration { id status waitlistPosition participant { name } }
    groupSession { id participantCount spotsLeft isFull waitlistCount viewerIsAttending viewerCannotJoinReasons
                   viewerRegistration { status waitlistPosition } }
    userErrors { field message code }
  }
}
"""

SESSION = """
query Session($id: ID!) {
  node(id: $id) {
    ... on GroupSession {
      participantCount spotsLeft isFull waitlistCount viewerIsAttending viewerCanJoin viewerCannotJoinReasons
      viewerRegistration { status waitlistPosition participant { name } }
      participants(first: 50) { totalCount edges { node { status participant { name } } } }
      waitlist(first: 50) { totalCount edges { cursor node { status waitlistPosition participant { name } } } }
    }
  }
}
"""

WAITLIST_PAGE = """
query Page($id: ID!, $first: Int, $after: String) {
  node(id: $id) {
    ... on GroupSession {
      waitlist(first: $first, after: $after) {
        totalCount pageInfo { hasNextPage endCursor }
        edges { node { waitlistPosition participant { name } } }
      }
    }
  }
}
"""

EVENTS = """
subscription Events($sessionId: ID) {
  registrationEvents(sessionId: $sessionId) {
    kind
    registration { status waitlistPosition participant { name } }
    session { participantCount spotsLeft waitlistCount }
  }
}
"""


@pytest.fixture
async def mailbox():
    box = Mailbox()
    await box.start()
    yield box
    await box.stop()


@pytest.fixture
def settings(settings: Settings, mailbox: Mailbox) -> Settings:
    return settings.with_(
        smtp_host="127.0.0.1",
        smtp_port=mailbox.port,
        smtp_timeout_seconds=5,
        mail_from="Group Sessions <sessions@example.org>",
        outbox_worker_in_serve=False,
    )


@pytest.fixture
def worker(settings: Settings, app) -> OutboxWorker:
    return OutboxWorker(settings, clock=Clock(), rand=lambda: 1.0)


async def join_waitlist(api, member, session_id: str, waitlist: bool | None = True) -> dict:
    variables = {"id": session_id} if waitlist is None else {"id": session_id, "waitlist": waitlist}
    return (await api.data(JOIN_WAITLIST, variables, token=member.token))["joinGroupSession"]


async def leave(api, member, session_id: str) -> dict:
    return (await api.data(LEAVE, {"id": session_id}, token=member.token))["leaveGroupSession"]


async def seen_by(api, member, session_id: str) -> dict:
    return (await api.data(SESSION, {"id": session_id}, token=member.token))["node"]


async def line(session_id: str) -> list[tuple[int, str]]:
    """(user id, status) of every registration: the confirmed by id, then the waitlisted in
    line order."""
    pk = pk_of(session_id, "GroupSession")
    rows = await Registration.filter(session_id=pk).values_list("user_id", "status", "waitlisted_at", "id")
    confirmed = sorted((i, u) for u, s, _, i in rows if s == RegistrationStatus.CONFIRMED)
    waiting = sorted((w, i, u) for u, s, w, i in rows if s == RegistrationStatus.WAITLISTED)
    return [(u, "CONFIRMED") for _, u in confirmed] + [(u, "WAITLISTED") for *_, u in waiting]


async def full_session_with_line(api, world, waiting: int):
    """A session of 2 seats (host + mentee0) and `waiting` members on its waitlist, in order."""
    session = await create_session(api, world, maxParticipants=2)
    assert (await join(api, world.mentees[0], session["id"]))["userErrors"] == []
    members = [world.mentees[1], world.mentees[2], *(await world.add_members(max(waiting - 2, 0)))][:waiting]
    for expected, member in enumerate(members, start=1):
        result = await join_waitlist(api, member, session["id"])
        assert result["userErrors"] == []
        assert result["registration"]["status"] == "WAITLISTED"
        assert result["registration"]["waitlistPosition"] == expected
    return session, members


async def test_a_full_session_still_refuses_without_waitlist(api, world):
    session = await create_session(api, world, maxParticipants=2)
    await join(api, world.mentees[0], session["id"])
    for flag in (None, False):
        result = await join_waitlist(api, world.mentees[1], session["id"], waitlist=flag)
        assert [e["code"] for e in result["userErrors"]] == ["SESSION_FULL"]
        assert result["registration"] is None
    assert await Registration.filter(session_id=pk_of(session["id"], "GroupSession")).count() == 2


async def test_waitlist_true_on_a_session_with_seats_simply_registers(api, world):
    session = await create_session(api, world, maxParticipants=3)
    result = await join_waitlist(api, world.mentees[0], session["id"])
    assert result["userErrors"] == []
    assert result["registration"]["status"] == "CONFIRMED" and result["registration"]["waitlistPosition"] is None
    assert result["groupSession"]["participantCount"] == 2 and result["groupSession"]["waitlistCount"] == 0


async def test_joining_the_waitlist_and_what_everyone_sees(api, world):
    session = await create_session(api, world, maxParticipants=2)
    await join(api, world.mentees[0], session["id"])
    result = await join_waitlist(api, world.mentees[1], session["id"])
    assert result["userErrors"] == []
    assert result["registration"] == {
        "id": result["registration"]["id"],
        "status": "WAITLISTED",
        "waitlistPosition": 1,
        "participant": {"name": "Mentee1"},
    }
    group = result["groupSession"]
    assert (group["participantCount"], group["spotsLeft"], group["isFull"], group["waitlistCount"]) == (2, 0, True, 1)
    assert group["viewerIsAttending"] is False
    assert group["viewerRegistration"] == {"status": "WAITLISTED", "waitlistPosition": 1}

    # The waitlisted member: not attending, can't join again (already in line).
    mine = await seen_by(api, world.mentees[1], session["id"])
    assert mine["viewerIsAttending"] is False and mine["viewerCanJoin"] is False
    assert mine["viewerCannotJoinReasons"] == ["ALREADY_REGISTERED", "SESSION_FULL"]
    assert mine["viewerRegistration"]["status"] == "WAITLISTED"
    assert mine["participants"]["totalCount"] == 2
    assert [e["node"]["participant"]["name"] for e in mine["participants"]["edges"]] == ["Hannah", "Mentee0"]
    assert mine["waitlist"] == {"totalCount": 0, "edges": []}  # host only

    # Another member: the session is full, the waitlist count is public, the list is not.
    other = await seen_by(api, world.mentees[2], session["id"])
    assert other["viewerCannotJoinReasons"] == ["SESSION_FULL"]
    assert other["waitlistCount"] == 1 and other["waitlist"]["edges"] == []
    assert other["viewerRegistration"] is None

    # The host sees the line.
    host = await seen_by(api, world.host, session["id"])
    assert host["waitlist"]["totalCount"] == 1
    assert [(e["node"]["participant"]["name"], e["node"]["waitlistPosition"]) for e in host["waitlist"]["edges"]] == [
        ("Mentee1", 1)
    ]
    assert host["viewerRegistration"]["status"] == "CONFIRMED"

    again = await join_waitlist(api, world.mentees[1], session["id"])
    assert [e["code"] for e in again["userErrors"]] == ["ALREADY_REGISTERED"]
    assert (await GroupSession.get(id=pk_of(session["id"], "GroupSession"))).waitlist_count == 1


async def test_leaving_the_waitlist_closes_up_the_line(api, world):
    session, members = await full_session_with_line(api, world, 4)
    left = await leave(api, members[1], session["id"])
    assert left["userErrors"] == []
    assert left["groupSession"]["participantCount"] == 2  # no seat freed
    host = await seen_by(api, world.host, session["id"])
    assert host["waitlistCount"] == 3
    assert [(e["node"]["participant"]["name"], e["node"]["waitlistPosition"]) for e in host["waitlist"]["edges"]] == [
        (members[0].user.name, 1),
        (members[2].user.name, 2),
        (members[3].user.name, 3),
    ]
    mine = await seen_by(api, members[3], session["id"])
    assert mine["viewerRegistration"]["waitlistPosition"] == 3
    # Pages of the line keep counting places.
    page = (await api.data(WAITLIST_PAGE, {"id": session["id"], "first": 2}, token=world.host.token))["node"]
    assert [e["node"]["waitlistPosition"] for e in page["waitlist"]["edges"]] == [1, 2]
    after = page["waitlist"]["pageInfo"]["endCursor"]
    rest = (await api.data(WAITLIST_PAGE, {"id": session["id"], "first": 2, "after": after}, token=world.host.token))
    assert [(e["node"]["participant"]["name"], e["node"]["waitlistPosition"]) for e in rest["node"]["waitlist"]["edges"]] == [
        (members[3].user.name, 3)
    ]
    assert rest["node"]["waitlist"]["pageInfo"]["hasNextPage"] is False


async def test_a_leave_promotes_the_first_in_line_with_email_and_live_event(api, app, settings, world, worker, mailbox):
    session, members = await full_session_with_line(api, world, 2)
    await worker.drain()
    waitlisted_mail = mailbox.one_to(members[0].user.email, "You're on the waitlist")
    assert "number 1 in line" in waitlisted_mail.text and not waitlisted_mail.calendar_parts
    assert "number 2 in line" in mailbox.one_to(members[1].user.email, "You're on the waitlist").text
    mailbox.take()

    async with serve_in_process(app, settings) as live, WS.signed_in(live, world.host.token) as host:
        await host.subscribe("e", EVENTS, {"sessionId": session["id"]})
        await wait_for_subscriptions(live, 1)

        left = await leave(api, world.mentees[0], session["id"])
        assert left["userErrors"] == []
        assert left["groupSession"]["participantCount"] == 2  # the seat was taken at once

        events = [(await host.next("e"))["data"]["registrationEvents"] for _ in range(2)]
        assert [e["kind"] for e in events] == ["LEFT", "PROMOTED"]
        promoted = events[1]
        assert promoted["registration"] == {
            "status": "CONFIRMED",
            "waitlistPosition": None,
            "participant": {"name": members[0].user.name},
        }
        assert promoted["session"] == {"participantCount": 2, "spotsLeft": 0, "waitlistCount": 1}

        # Someone joining the line shows up live too.
        extra = (await world.add_members(1))[0]
        assert (await join_waitlist(api, extra, session["id"]))["userErrors"] == []
        waitlisted = (await host.next("e"))["data"]["registrationEvents"]
        assert waitlisted["kind"] == "WAITLISTED"
        assert waitlisted["registration"]["status"] == "WAITLISTED"
        assert waitlisted["registration"]["waitlistPosition"] == 2
        assert waitlisted["session"]["waitlistCount"] == 2

    await worker.drain()
    youre_in = mailbox.one_to(members[0].user.email, "You're in")
    assert youre_in.subject == f"You're in: {session['title']}"
    assert youre_in.calendar["METHOD"] == "REQUEST"
    (event,) = youre_in.calendar.walk("VEVENT")
    assert str(event["UID"]).startswith(f"group-session-{pk_of(session['id'], 'GroupSession')}@")
    assert "it is yours" in youre_in.text
    # The host hears of the new participant as of any registration.
    assert mailbox.to(world.host.user.email)

    assert await line(session["id"]) == [
        (world.host.user.id, "CONFIRMED"),
        (members[0].user.id, "CONFIRMED"),
        (members[1].user.id, "WAITLISTED"),
        (extra.user.id, "WAITLISTED"),
    ]
    mine = await seen_by(api, members[0], session["id"])
    assert mine["viewerIsAttending"] is True and mine["viewerRegistration"]["status"] == "CONFIRMED"
    assert mine["viewerRegistration"]["waitlistPosition"] is None
    assert (await seen_by(api, members[1], session["id"]))["viewerRegistration"]["waitlistPosition"] == 1


async def test_raising_max_by_k_promotes_up_to_k_in_order(api, world):
    session, members = await full_session_with_line(api, world, 4)
    raised = await api.data(UPDATE, {"input": {"id": session["id"], "maxParticipants": 5}}, token=world.host.token)
    assert raised["updateGroupSession"]["userErrors"] == []
    assert raised["updateGroupSession"]["groupSession"]["participantCount"] == 5
    assert raised["updateGroupSession"]["groupSession"]["spotsLeft"] == 0
    assert await line(session["id"]) == [
        (world.host.user.id, "CONFIRMED"),
        (world.mentees[0].user.id, "CONFIRMED"),
        (members[0].user.id, "CONFIRMED"),
        (members[1].user.id, "CONFIRMED"),
        (members[2].user.id, "CONFIRMED"),
        (members[3].user.id, "WAITLISTED"),
    ]
    # More seats than people waiting: everyone in, seats left over.
    raised = await api.data(UPDATE, {"input": {"id": session["id"], "maxParticipants": 10}}, token=world.host.token)
    group = raised["updateGroupSession"]["groupSession"]
    assert (group["participantCount"], group["spotsLeft"]) == (6, 4)
    assert (await seen_by(api, world.host, session["id"]))["waitlistCount"] == 0


async def test_lowering_max_below_the_confirmed_count_is_still_refused(api, world):
    session = await create_session(api, world, maxParticipants=4)
    for mentee in world.mentees:
        assert (await join(api, mentee, session["id"]))["userErrors"] == []
    extra = (await world.add_members(1))[0]
    assert (await join_waitlist(api, extra, session["id"]))["registration"]["status"] == "WAITLISTED"
    below = await api.data(UPDATE, {"input": {"id": session["id"], "maxParticipants": 3}}, token=world.host.token)
    assert [e["code"] for e in below["updateGroupSession"]["userErrors"]] == ["BELOW_PARTICIPANT_COUNT"]
    host = await seen_by(api, world.host, session["id"])
    assert (host["participantCount"], host["waitlistCount"]) == (4, 1)


async def test_nobody_is_promoted_into_a_started_session(api, world):
    session, members = await full_session_with_line(api, world, 2)
    pk = pk_of(session["id"], "GroupSession")
    # Under way: started a minute ago, ends in an hour. Leaving is refused, and a raised
    # maximum (the host may still edit until the end) promotes nobody.
    now = utcnow()
    await GroupSession.filter(id=pk).update(starts_at=now - timedelta(minutes=1), ends_at=now + timedelta(hours=1))
    assert [e["code"] for e in (await leave(api, world.mentees[0], session["id"]))["userErrors"]] == ["SESSION_STARTED"]
    raised = await api.data(UPDATE, {"input": {"id": session["id"], "maxParticipants": 10}}, token=world.host.token)
    assert raised["updateGroupSession"]["userErrors"] == []
    assert raised["updateGroupSession"]["groupSession"]["participantCount"] == 2
    assert [s for _, s in await line(session["id"])].count("WAITLISTED") == 2
    # Nor can anyone join the line of a session under way.
    late = (await world.add_members(1))[0]
    assert [e["code"] for e in (await join_waitlist(api, late, session["id"]))["userErrors"]] == ["SESSION_STARTED"]


async def test_a_cancellation_tells_the_waitlist_and_promotes_nobody(api, world, worker, mailbox):
    session, members = await full_session_with_line(api, world, 2)
    await worker.drain()
    mailbox.take()
    cancelled = await api.data(CANCEL, {"id": session["id"], "reason": "Snowed in"}, token=world.host.token)
    assert cancelled["cancelGroupSession"]["userErrors"] == []
    await worker.drain()
    for member in members:
        mail = mailbox.one_to(member.user.email, "Cancelled")
        assert "Snowed in" in mail.text
    # Leaving the waitlist of a cancelled session is refused like leaving the session.
    assert [e["code"] for e in (await leave(api, members[0], session["id"]))["userErrors"]] == ["SESSION_CANCELLED"]
    assert [s for _, s in await line(session["id"])].count("WAITLISTED") == 2


async def test_a_time_change_mails_participants_not_the_waitlist(api, world, worker, mailbox):
    session, members = await full_session_with_line(api, world, 1)
    await worker.drain()
    mailbox.take()
    from tests.conftest import in_days

    moved = await api.data(UPDATE, {"input": {"id": session["id"], "startsAt": in_days(4, hour=17)}}, token=world.host.token)
    assert moved["updateGroupSession"]["userErrors"] == []
    await worker.drain()
    assert mailbox.to(world.mentees[0].user.email)
    assert mailbox.to(members[0].user.email) == []


async def test_the_dashboard_lists_a_session_once_the_member_holds_a_seat(api, world):
    session, members = await full_session_with_line(api, world, 1)
    dashboard = "{ dashboard { sessions { edges { node { id viewerIsAttending viewerRegistration { status } } } } } }"
    waiting = await api.data(dashboard, token=members[0].token)
    assert waiting["dashboard"]["sessions"]["edges"] == []
    assert (await leave(api, world.mentees[0], session["id"]))["userErrors"] == []
    seated = await api.data(dashboard, token=members[0].token)
    assert [e["node"] for e in seated["dashboard"]["sessions"]["edges"]] == [
        {"id": session["id"], "viewerIsAttending": True, "viewerRegistration": {"status": "CONFIRMED"}}
    ]


async def test_a_place_in_line_is_seen_by_the_host_and_its_member_only(api, world):
    session, members = await full_session_with_line(api, world, 1)
    pk = pk_of(session["id"], "GroupSession")
    registration = await Registration.get(session_id=pk, user_id=members[0].user.id)
    from app.api.pagination import to_global_id

    query = "query($id: ID!) { node(id: $id) { ... on Registration { status waitlistPosition } } }"
    variables = {"id": to_global_id("Registration", registration.id)}
    for viewer in (world.host, members[0]):
        assert (await api.data(query, variables, token=viewer.token))["node"] == {
            "status": "WAITLISTED", "waitlistPosition": 1
        }
    assert (await api.data(query, variables, token=world.mentees[2].token))["node"] is None
    # Once seated, it is a registration like any other.
    assert (await leave(api, world.mentees[0], session["id"]))["userErrors"] == []
    assert (await api.data(query, variables, token=world.mentees[2].token))["node"] == {
        "status": "CONFIRMED", "waitlistPosition": None
    }
