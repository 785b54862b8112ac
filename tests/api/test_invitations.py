"""Invitations that people see and answer: the guest's view, respondToInvitation, the
host's view of every answer, the invitations list of the dashboard, the guest list's
errors, and the emails and live events an answer causes."""

from __future__ import annotations

from datetime import timedelta

import pytest

from app.clock import utcnow
from app.group_sessions.models import GroupSession, Guest, InvitationSent, InvitationStatus, Registration
from tests.conftest import create_session, in_days, join
from tests.documents import CANCEL, CREATE, LEAVE, UPDATE
from tests.email.conftest import clock, mailbox, settings, worker  # noqa: F401 - fixtures: real SMTP
from tests.live.conftest import WS, live, wait_for_subscriptions  # noqa: F401 - fixture: real WebSocket

RESPOND = """
mutation Respond($id: ID!, $accept: Boolean!) {
  respondToInvitation(input: {groupSessionId: $id, accept: $accept}) {
    invitation { guest { name } status respondedAt }
    registrationEdge { cursor node { isHost participant { name } session { id } } }
    groupSession { id participantCount spotsLeft viewerIsAttending viewerIsInvited viewerInvitation { status } }
    userErrors { field message code }
  }
}
"""

SESSION = """
query Session($id: ID!) {
  groupSession(id: $id) {
    viewerIsInvited
    viewerInvitation { guest { name } status respondedAt }
    invitations { guest { name } status respondedAt }
    guests { name }
  }
}
"""

INVITED = """
query Invited($first: Int, $after: String, $includeCancelled: Boolean) {
  dashboard {
    sessions(role: INVITED, first: $first, after: $after, includeCancelled: $includeCancelled) {
      edges { cursor node { title viewerIsInvited viewerIsAttending viewerInvitation { status } } }
      pageInfo { hasNextPage endCursor }
      totalCount
    }
  }
}
"""


async def respond(api, member, session_id: str, accept: bool) -> dict:
    data = await api.data(RESPOND, {"id": session_id, "accept": accept}, token=member.token)
    return data["respondToInvitation"]


async def view(api, member, session_id: str) -> dict:
    return (await api.data(SESSION, {"id": session_id}, token=member.token))["groupSession"]


async def state(session_pk: int) -> tuple[int, list[int], list[tuple[int, str]]]:
    """The seat count, who is registered, and each guest's answer, as stored."""
    row = await GroupSession.get(id=session_pk)
    registered = await Registration.filter(session_id=session_pk).order_by("id").values_list("user_id", flat=True)
    answers = await Guest.filter(session_id=session_pk).order_by("id").values_list("user_id", "status")
    return row.participant_count, list(registered), [(u, InvitationStatus(s).value) for u, s in answers]


async def only_session_pk() -> int:
    return (await GroupSession.get()).id


# --- seeing and answering -------------------------------------------------------------------


async def test_a_guest_sees_the_invitation_and_others_see_none(api, world):
    guest, other = world.mentees[0], world.mentees[1]
    session = await create_session(api, world, guestIds=[guest.gid])

    seen = await view(api, guest, session["id"])
    assert seen["viewerIsInvited"] is True
    assert seen["viewerInvitation"] == {"guest": {"name": "Mentee0"}, "status": "PENDING", "respondedAt": None}
    assert seen["invitations"] == [] and seen["guests"] == []  # the host's to see

    assert await view(api, other, session["id"]) == {
        "viewerIsInvited": False, "viewerInvitation": None, "invitations": [], "guests": []
    }
    hosting = await view(api, world.host, session["id"])
    assert hosting["viewerIsInvited"] is False and hosting["viewerInvitation"] is None
    assert hosting["invitations"] == [{"guest": {"name": "Mentee0"}, "status": "PENDING", "respondedAt": None}]
    assert hosting["guests"] == [{"name": "Mentee0"}]


async def test_accepting_registers_the_guest(api, world):
    guest = world.mentees[0]
    session = await create_session(api, world, maxParticipants=3, guestIds=[guest.gid])

    result = await respond(api, guest, session["id"], True)

    assert result["userErrors"] == []
    assert result["invitation"]["status"] == "ACCEPTED" and result["invitation"]["respondedAt"].endswith("Z")
    assert result["invitation"]["guest"] == {"name": "Mentee0"}
    edge = result["registrationEdge"]
    assert edge["node"] == {"isHost": False, "participant": {"name": "Mentee0"}, "session": {"id": session["id"]}}
    assert edge["cursor"]
    assert result["groupSession"] == {
        "id": session["id"], "participantCount": 2, "spotsLeft": 1, "viewerIsAttending": True,
        "viewerIsInvited": True, "viewerInvitation": {"status": "ACCEPTED"},
    }
    assert await state(await only_session_pk()) == (
        2, [world.host.user.id, guest.user.id], [(guest.user.id, "ACCEPTED")]
    )
    hosting = await view(api, world.host, session["id"])
    assert hosting["invitations"] == [
        {"guest": {"name": "Mentee0"}, "status": "ACCEPTED", "respondedAt": result["invitation"]["respondedAt"]}
    ]


async def test_declining_is_recorded_and_answering_again_changes_the_answer(api, world):
    guest = world.mentees[0]
    session = await create_session(api, world, guestIds=[guest.gid])
    pk = await only_session_pk()

    declined = await respond(api, guest, session["id"], False)
    assert declined["userErrors"] == [] and declined["registrationEdge"] is None
    assert declined["invitation"]["status"] == "DECLINED" and declined["invitation"]["respondedAt"]
    assert declined["groupSession"]["participantCount"] == 1
    assert declined["groupSession"]["viewerIsAttending"] is False
    assert await state(pk) == (1, [world.host.user.id], [(guest.user.id, "DECLINED")])

    # The same answer again changes nothing, not even when it was given.
    again = await respond(api, guest, session["id"], False)
    assert again["userErrors"] == [] and again["invitation"] == declined["invitation"]

    # A declined guest may still accept while seats are left...
    accepted = await respond(api, guest, session["id"], True)
    assert accepted["userErrors"] == [] and accepted["invitation"]["status"] == "ACCEPTED"
    assert accepted["registrationEdge"]["node"]["participant"] == {"name": "Mentee0"}
    assert await state(pk) == (2, [world.host.user.id, guest.user.id], [(guest.user.id, "ACCEPTED")])

    # ... and declining after accepting withdraws: the seat is free again.
    withdrawn = await respond(api, guest, session["id"], False)
    assert withdrawn["userErrors"] == [] and withdrawn["invitation"]["status"] == "DECLINED"
    assert withdrawn["groupSession"]["participantCount"] == 1
    assert withdrawn["groupSession"]["viewerIsAttending"] is False
    assert await state(pk) == (1, [world.host.user.id], [(guest.user.id, "DECLINED")])


async def test_joining_is_accepting_and_leaving_is_declining(api, world):
    guest = world.mentees[0]
    session = await create_session(api, world, guestIds=[guest.gid])
    pk = await only_session_pk()

    assert (await join(api, guest, session["id"]))["userErrors"] == []
    assert (await state(pk))[2] == [(guest.user.id, "ACCEPTED")]
    # Accepting when registered already records nothing new and registers no one twice.
    again = await respond(api, guest, session["id"], True)
    assert again["userErrors"] == [] and again["registrationEdge"] is None
    assert again["invitation"]["status"] == "ACCEPTED" and again["groupSession"]["participantCount"] == 2

    left = (await api.data(LEAVE, {"id": session["id"]}, token=guest.token))["leaveGroupSession"]
    assert left["userErrors"] == []
    assert await state(pk) == (1, [world.host.user.id], [(guest.user.id, "DECLINED")])
    # Accepting after leaving is a join.
    rejoined = await respond(api, guest, session["id"], True)
    assert rejoined["registrationEdge"] is not None
    assert await state(pk) == (2, [world.host.user.id, guest.user.id], [(guest.user.id, "ACCEPTED")])


async def test_a_guest_added_while_registered_has_accepted(api, world):
    guest = world.mentees[0]
    session = await create_session(api, world)
    await join(api, guest, session["id"])
    data = await api.data(UPDATE, {"input": {"id": session["id"], "guestIds": [guest.gid]}}, token=world.host.token)
    assert data["updateGroupSession"]["userErrors"] == []
    assert (await view(api, guest, session["id"]))["viewerInvitation"]["status"] == "ACCEPTED"


# --- refusals -----------------------------------------------------------------------------------


def refusal(result: dict) -> list[tuple[str, list[str]]]:
    assert result["invitation"] is None and result["registrationEdge"] is None
    assert all(e["message"] for e in result["userErrors"])
    return [(e["code"], e["field"]) for e in result["userErrors"]]


AT = ["input", "groupSessionId"]


async def test_accepting_a_full_session_is_refused_and_changes_nothing(api, world):
    guest, other = world.mentees[0], world.mentees[1]
    session = await create_session(api, world, maxParticipants=2, guestIds=[guest.gid])
    await join(api, other, session["id"])
    pk = await only_session_pk()
    before = await state(pk)

    result = await respond(api, guest, session["id"], True)

    assert refusal(result) == [("SESSION_FULL", AT)]
    # The session as it is, so a client can roll back to the truth.
    assert result["groupSession"]["participantCount"] == 2 and result["groupSession"]["spotsLeft"] == 0
    assert result["groupSession"]["viewerInvitation"] == {"status": "PENDING"}
    assert await state(pk) == before == (2, [world.host.user.id, other.user.id], [(guest.user.id, "PENDING")])


@pytest.mark.parametrize("accept", [True, False])
async def test_a_cancelled_or_started_session_takes_no_answer(api, world, accept):
    guest = world.mentees[0]
    cancelled = await create_session(api, world, guestIds=[guest.gid])
    started = await create_session(api, world, guestIds=[guest.gid], title="Started")
    await api.data(CANCEL, {"id": cancelled["id"]}, token=world.host.token)
    await GroupSession.filter(title="Started").update(starts_at=utcnow() - timedelta(minutes=5))

    assert refusal(await respond(api, guest, cancelled["id"], accept)) == [("SESSION_CANCELLED", AT)]
    assert refusal(await respond(api, guest, started["id"], accept)) == [("SESSION_STARTED", AT)]
    assert await Registration.filter(user_id=guest.user.id).count() == 0
    assert set(await Guest.all().values_list("status", flat=True)) == {InvitationStatus.PENDING}


async def test_only_guests_may_answer(api, world):
    session = await create_session(api, world, guestIds=[world.mentees[0].gid])

    not_invited = await respond(api, world.mentees[1], session["id"], True)
    assert refusal(not_invited) == [("NOT_INVITED", AT)]
    assert not_invited["groupSession"]["id"] == session["id"]  # visible: current state along
    assert refusal(await respond(api, world.host, session["id"], True)) == [("NOT_INVITED", AT)]

    # A session the viewer cannot see is answered as one that does not exist.
    for member, session_id in [
        (world.outsider, session["id"]),
        (world.mentees[0], "R3JvdXBTZXNzaW9uOjk5OTk5"),
        (world.mentees[0], "not-an-id"),
    ]:
        result = await respond(api, member, session_id, True)
        assert refusal(result) == [("NOT_FOUND", AT)] and result["groupSession"] is None
    assert await Registration.all().count() == 1


async def test_answering_needs_a_signed_in_viewer(api, world):
    session = await create_session(api, world, guestIds=[world.mentees[0].gid])
    body = await api.execute(RESPOND, {"id": session["id"], "accept": True})
    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


# --- the dashboard's invitations ----------------------------------------------------------


async def test_the_invitations_list_shows_pending_and_accepted_in_order(api, world):
    guest = world.mentees[0]
    pending = await create_session(api, world, title="Pending", startsAt=in_days(2, 10), guestIds=[guest.gid])
    accepted = await create_session(api, world, title="Accepted", startsAt=in_days(3, 10), guestIds=[guest.gid])
    declined = await create_session(api, world, title="Declined", startsAt=in_days(4, 10), guestIds=[guest.gid])
    await create_session(api, world, title="Not invited", startsAt=in_days(5, 10))
    joined_only = await create_session(api, world, title="Joined, not invited", startsAt=in_days(6, 10))
    cancelled = await create_session(api, world, title="Cancelled", startsAt=in_days(7, 10), guestIds=[guest.gid])
    await respond(api, guest, accepted["id"], True)
    await respond(api, guest, declined["id"], False)
    await join(api, guest, joined_only["id"])
    await api.data(CANCEL, {"id": cancelled["id"]}, token=world.host.token)
    assert pending["id"]

    first = (await api.data(INVITED, {"first": 1}, token=guest.token))["dashboard"]["sessions"]
    assert [e["node"]["title"] for e in first["edges"]] == ["Pending"]
    assert first["edges"][0]["node"] == {
        "title": "Pending", "viewerIsInvited": True, "viewerIsAttending": False,
        "viewerInvitation": {"status": "PENDING"},
    }
    assert first["pageInfo"]["hasNextPage"] is True and first["totalCount"] == 2
    second = (await api.data(INVITED, {"first": 1, "after": first["pageInfo"]["endCursor"]}, token=guest.token))
    second = second["dashboard"]["sessions"]
    assert [(e["node"]["title"], e["node"]["viewerIsAttending"]) for e in second["edges"]] == [("Accepted", True)]
    assert second["pageInfo"]["hasNextPage"] is False

    with_cancelled = await api.data(INVITED, {"includeCancelled": True}, token=guest.token)
    titles = [e["node"]["title"] for e in with_cancelled["dashboard"]["sessions"]["edges"]]
    assert titles == ["Pending", "Accepted", "Cancelled"]
    # Nobody else is invited to anything.
    other = (await api.data(INVITED, {}, token=world.mentees[1].token))["dashboard"]["sessions"]
    assert other["edges"] == [] and other["totalCount"] == 0


# --- the guest list's errors ------------------------------------------------------------------


async def test_create_reports_every_bad_guest_at_its_index_and_creates_nothing(api, world):
    guest = world.mentees[0]
    ids = [guest.gid, world.host.gid, guest.gid, world.outsider.gid, world.mentees[1].gid, world.outsider.gid]
    payload = {
        "programId": world.program_gid, "title": "T", "objective": "O",
        "startsAt": in_days(3, 17), "durationMinutes": 60, "guestIds": ids,
    }
    result = (await api.data(CREATE, {"input": payload}, token=world.host.token))["createGroupSession"]

    assert result["groupSession"] is None
    assert [(e["code"], e["field"]) for e in result["userErrors"]] == [
        ("INVALID", ["input", "guestIds", "1"]),  # the host
        ("INVALID", ["input", "guestIds", "2"]),  # listed twice
        ("NOT_A_MEMBER", ["input", "guestIds", "3"]),
        ("INVALID", ["input", "guestIds", "5"]),  # listed twice (and not a member)
    ]
    assert all(e["message"].endswith(".") for e in result["userErrors"])
    assert await GroupSession.all().count() == 0 and await InvitationSent.all().count() == 0


async def test_update_reports_every_bad_guest_at_its_index_and_changes_nothing(api, world):
    guest = world.mentees[0]
    session = await create_session(api, world, guestIds=[guest.gid])
    ids = [world.mentees[1].gid, world.outsider.gid, world.mentees[1].gid, world.host.gid]
    result = (
        await api.data(UPDATE, {"input": {"id": session["id"], "guestIds": ids}}, token=world.host.token)
    )["updateGroupSession"]
    assert [(e["code"], e["field"]) for e in result["userErrors"]] == [
        ("NOT_A_MEMBER", ["input", "guestIds", "1"]),
        ("INVALID", ["input", "guestIds", "2"]),
        ("INVALID", ["input", "guestIds", "3"]),
    ]
    assert await state(await only_session_pk()) == (1, [world.host.user.id], [(guest.user.id, "PENDING")])
    assert await InvitationSent.all().values_list("user_id", flat=True) == [guest.user.id]

    # IDs that name no user at all: every one reported.
    garbage = [guest.gid, "nope", world.mentees[1].gid, "R3JvdXBTZXNzaW9uOjE="]  # the last: a GroupSession ID
    result = (
        await api.data(UPDATE, {"input": {"id": session["id"], "guestIds": garbage}}, token=world.host.token)
    )["updateGroupSession"]
    assert [(e["code"], e["field"]) for e in result["userErrors"]] == [
        ("NOT_FOUND", ["input", "guestIds", "1"]),
        ("NOT_FOUND", ["input", "guestIds", "3"]),
    ]


# --- what the host hears: email and live events ----------------------------------------------


async def test_the_host_is_emailed_of_an_acceptance_and_of_a_decline(api, world, worker, mailbox):
    accepting, declining = world.mentees[0], world.mentees[1]
    session = await create_session(api, world, guestIds=[accepting.gid, declining.gid])
    await worker.drain()
    invitation = mailbox.one_to(declining.user.email)
    assert invitation.subject == "Hannah invited you: Negotiating your first salary"
    assert "accept or decline" in invitation.text and session["url"] in invitation.text
    mailbox.take()

    await respond(api, accepting, session["id"], True)
    await worker.drain()
    # As for a join: the host's notice and the guest's confirmation with the calendar invite.
    assert sorted(m.to for m in mailbox.received) == sorted([world.host.user.email, accepting.user.email])
    assert "Mentee0 registered" in mailbox.one_to(world.host.user.email).subject
    assert mailbox.one_to(accepting.user.email).calendar_parts
    mailbox.take()

    await respond(api, declining, session["id"], False)
    await worker.drain()
    (to_host,) = mailbox.received
    assert to_host.to == world.host.user.email
    assert to_host.subject == "Mentee1 declined: “Negotiating your first salary”"
    assert "Mentee1 declined your invitation" in to_host.text
    assert session["url"] in to_host.text and f'href="{session["url"]}"' in to_host.html
    mailbox.take()

    # The same answer again sends nothing.
    await respond(api, declining, session["id"], False)
    assert await worker.drain() == 0


EVENTS = """
subscription Events($sessionId: ID) {
  registrationEvents(sessionId: $sessionId) {
    kind registration { participant { name } } session { id participantCount }
  }
}
"""

UPDATED = """
subscription Updated($id: ID!) {
  groupSessionUpdated(id: $id) { id participantCount invitations { guest { name } status } }
}
"""


async def test_the_host_sees_answers_live(live, api, world):
    accepting, declining = world.mentees[0], world.mentees[1]
    session = await create_session(api, world, guestIds=[accepting.gid, declining.gid])
    async with WS.signed_in(live, world.host.token) as host:
        await host.subscribe("e", EVENTS, {"sessionId": session["id"]})
        await host.subscribe("u", UPDATED, {"id": session["id"]})
        await wait_for_subscriptions(live, 2)

        await respond(api, accepting, session["id"], True)
        # The join's own events: JOINED to the host, the new counts to the session's watchers.
        frames = {}
        for _ in range(2):
            message = await host.recv()
            assert message["type"] == "next", message
            frames[message["id"]] = message["payload"]["data"]
        assert frames["e"]["registrationEvents"] == {
            "kind": "JOINED",
            "registration": {"participant": {"name": "Mentee0"}},
            "session": {"id": session["id"], "participantCount": 2},
        }
        assert frames["u"]["groupSessionUpdated"]["invitations"] == [
            {"guest": {"name": "Mentee0"}, "status": "ACCEPTED"},
            {"guest": {"name": "Mentee1"}, "status": "PENDING"},
        ]

        # A decline (never registered) has no registration for registrationEvents to carry:
        # the session's watchers get the session again, answers included.
        await respond(api, declining, session["id"], False)
        updated = (await host.next("u"))["data"]["groupSessionUpdated"]
        assert updated["participantCount"] == 2
        assert updated["invitations"][1] == {"guest": {"name": "Mentee1"}, "status": "DECLINED"}

        # Declining after accepting is a leave: LEFT, and the seat is free.
        await respond(api, accepting, session["id"], False)
        frames = {}
        for _ in range(2):
            message = await host.recv()
            assert message["type"] == "next", message
            frames[message["id"]] = message["payload"]["data"]
        assert frames["e"]["registrationEvents"]["kind"] == "LEFT"
        assert frames["e"]["registrationEvents"]["session"]["participantCount"] == 1
        await host.nothing_more()
