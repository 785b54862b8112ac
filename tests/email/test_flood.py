"""Mail cannot be used to flood a mailbox: a member joining and leaving again and again
sends the host the first notice and then at most one summary per window; editing a guest
list invites each guest once. The actions themselves all succeed, and the member's own
emails all go out. Counted by Message-ID at a real SMTP server."""

from __future__ import annotations

from app.api.pagination import pk_of
from app.group_sessions.models import Guest, InvitationSent
from app.notifications.models import OutboxEmail
from tests.conftest import create_session, join
from tests.documents import LEAVE, UPDATE


TITLE = "Negotiating your first salary"


def message_ids(received) -> list[str]:
    return [str(m.message["Message-ID"]).strip() for m in received]


async def leave(api, member, session_id) -> None:
    data = await api.data(LEAVE, {"id": session_id}, token=member.token)
    assert data["leaveGroupSession"]["userErrors"] == []


async def test_join_leave_cycles_send_the_host_one_notice_then_one_summary_per_window(
    api, world, worker, mailbox, clock, settings
):
    window = settings.host_notice_coalesce_window.total_seconds()
    assert window == 600  # the default, 10m
    mentee, host = world.mentees[0], world.host.user.email
    session = await create_session(api, world, maxParticipants=12)
    await worker.drain()
    mailbox.take()

    for _ in range(5):
        assert (await join(api, mentee, session["id"]))["userErrors"] == []
        await worker.drain()
        await leave(api, mentee, session["id"])
        await worker.drain()

    # Every action succeeded, and the member got each of their own ten emails at once.
    own = mailbox.to(mentee.user.email)
    assert [m.subject for m in own] == [f"You're registered: {TITLE}", f"You withdrew from: {TITLE}"] * 5
    assert len(set(message_ids(own))) == 10
    # The host got the first notice only.
    (first,) = mailbox.to(host)
    assert first.subject == f"Mentee0 registered for “{TITLE}” (2/12)"

    # Nothing more until the window that notice opened is over; then one summary.
    clock.advance(window - 60)
    assert await worker.drain() == 0
    clock.advance(120)
    assert await worker.drain() == 1
    to_host = mailbox.to(host)
    assert len(to_host) == 2 and len(set(message_ids(to_host))) == 2
    summary = to_host[1]
    assert summary.subject == f"Mentee0 is no longer registered for “{TITLE}” (1/12)"
    assert "Registered: 1 of 12 (11 seats left)" in summary.text
    assert "they registered or withdrew 9 times" in summary.text
    assert session["url"] in summary.text
    rows = await OutboxEmail.filter(recipient=host, coalesce_key__isnull=False).order_by("id")
    assert [(r.kind, r.coalesced) for r in rows] == [("registration_added", 1), ("registration_summary", 9)]
    assert [r.message_id for r in rows] == message_ids(to_host)

    # The next change comes within the window the summary opened: it waits for its end.
    assert (await join(api, mentee, session["id"]))["userErrors"] == []
    assert await worker.drain() == 1  # the member's confirmation
    assert len(mailbox.to(host)) == 2
    clock.advance(window)
    assert await worker.drain() == 1
    latest = mailbox.to(host)[-1]
    assert latest.subject == f"Mentee0 is registered for “{TITLE}” (2/12)"
    assert "they registered or withdrew once" in latest.text
    assert len(mailbox.to(host)) == 3 and len(mailbox.to(mentee.user.email)) == 11


async def test_each_members_first_notice_goes_out_at_once(api, world, worker, mailbox):
    """Coalescing is per member and session: another member's first registration is not
    held back by the first member's flipping."""
    first, second = world.mentees[0], world.mentees[1]
    session = await create_session(api, world, maxParticipants=12)
    await worker.drain()
    mailbox.take()

    await join(api, first, session["id"])
    await leave(api, first, session["id"])
    await join(api, second, session["id"])
    await worker.drain()
    assert [m.subject for m in mailbox.to(world.host.user.email)] == [
        f"Mentee0 registered for “{TITLE}” (2/12)",
        f"Mentee1 registered for “{TITLE}” (2/12)",
    ]


async def test_ten_guest_list_edits_invite_each_guest_once(api, world, worker, mailbox):
    """Removing and re-adding guests, repeating the list, reordering it: each guest gets
    exactly one invitation; every edit succeeds and the last list stands."""
    guests = [*world.mentees, *(await world.add_members(2))]
    ids = [g.gid for g in guests]
    session = await create_session(api, world, guestIds=ids[:2])
    lists = [ids, [], ids, ids, ids[:1], list(reversed(ids)), [], ids, ids[3:], ids]
    for guest_ids in lists:
        data = await api.data(UPDATE, {"input": {"id": session["id"], "guestIds": guest_ids}}, token=world.host.token)
        assert data["updateGroupSession"]["userErrors"] == []
    await worker.drain()

    for guest in guests:
        (invitation,) = mailbox.to(guest.user.email)
        assert invitation.subject == f"Hannah invited you: {TITLE}"
    assert len(mailbox.received) == 1 + len(guests)  # the host's "You're hosting", the invitations
    session_pk = pk_of(session["id"], "GroupSession")
    assert await InvitationSent.filter(session_id=session_pk).count() == len(guests)
    listed = await Guest.filter(session_id=session_pk).values_list("user_id", flat=True)
    assert sorted(listed) == sorted(g.user.id for g in guests)
