"""Each email, end to end: a mutation through /graphql, the worker's pass, the message as
the SMTP server received it (recipients, subject, zone-correct times, links, the invite
parsed back with icalendar)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from app.accounts.models import User
from app.api.pagination import pk_of
from app.notifications.models import OutboxEmail, OutboxStatus
from tests.conftest import PUBLIC_WEB_URL, create_session, join
from tests.documents import CANCEL, LEAVE, UPDATE

UTC = timezone.utc


def start_in(days: int, hour_utc: int = 16) -> datetime:
    return (datetime.now(UTC) + timedelta(days=days)).replace(hour=hour_utc, minute=0, second=0, microsecond=0)


def expected_when(start: datetime, end: datetime, zone: str) -> str:
    """Written independently of the code under test (strftime in the C locale)."""
    z = ZoneInfo(zone)
    s, e = start.astimezone(z), end.astimezone(z)
    assert s.date() == e.date(), "pick times that stay on one day in this zone"
    year = "" if s.year == datetime.now(z).year else f" {s.year}"
    return f"{s:%a} {s.day} {s:%b}{year}, {s:%H:%M}–{e:%H:%M} ({zone})"


async def set_zone(member, zone: str) -> None:
    await User.filter(id=member.user.id).update(time_zone=zone)


def invite_event(message):
    calendar = message.calendar
    (event,) = calendar.walk("VEVENT")
    return calendar, event


async def test_host_and_participant_emails_on_join(api, world, worker, mailbox):
    mentee = world.mentees[0]
    await set_zone(mentee, "America/New_York")
    starts = start_in(3)
    ends = starts + timedelta(minutes=90)
    session = await create_session(api, world, startsAt=starts.isoformat(), durationMinutes=90, maxParticipants=12)
    session_pk = pk_of(session["id"], "GroupSession")
    assert session["url"] == f"{PUBLIC_WEB_URL}/group-sessions/{session['id']}"

    await worker.drain()
    hosting = mailbox.one_to(world.host.user.email, "You're hosting")
    assert hosting.calendar["METHOD"] == "REQUEST"
    mailbox.take()

    result = await join(api, mentee, session["id"])
    assert result["userErrors"] == []
    assert await worker.drain() == 2
    assert len(mailbox.received) == 2

    to_host = mailbox.one_to(world.host.user.email)
    assert to_host.rcpt_tos == [world.host.user.email]
    assert to_host.mail_from == "sessions@example.org"
    assert to_host.subject == "Mentee0 registered for “Negotiating your first salary” (2/12)"
    assert "Registered: 2 of 12 (10 seats left)" in to_host.text
    # The host lives in Paris: 16:00 UTC is 17:00 there.
    assert expected_when(starts, ends, "Europe/Paris") in to_host.text
    assert session["url"] in to_host.text
    assert f'href="{session["url"]}"' in to_host.html
    assert expected_when(starts, ends, "Europe/Paris") in to_host.html
    assert not to_host.calendar_parts

    confirmation = mailbox.one_to(mentee.user.email)
    assert confirmation.subject == "You're registered: Negotiating your first salary"
    assert expected_when(starts, ends, "America/New_York") in confirmation.text
    assert "Hannah" in confirmation.text and session["url"] in confirmation.text
    (part,) = confirmation.calendar_parts
    assert part.get_param("method") == "REQUEST"
    calendar, event = invite_event(confirmation)
    assert calendar["METHOD"] == "REQUEST"
    assert str(event["UID"]) == f"group-session-{session_pk}@example.org"
    assert event["SEQUENCE"] == 0
    assert event.decoded("DTSTART") == starts and event.decoded("DTSTART").utcoffset() == timedelta(0)
    assert event.decoded("DTEND") == ends and event.decoded("DTEND").utcoffset() == timedelta(0)
    assert event["DTSTART"].to_ical().endswith(b"Z") and event["DTEND"].to_ical().endswith(b"Z")
    assert str(event["ORGANIZER"]) == f"mailto:{world.host.user.email}"
    assert event["ORGANIZER"].params["CN"] == "Hannah"
    assert str(event["URL"]) == session["url"]
    assert str(event["SUMMARY"]) == "Negotiating your first salary"

    # The Message-ID in the mail is the one the outbox row keeps for every attempt.
    rows = await OutboxEmail.filter(recipient=mentee.user.email)
    assert [r.status for r in rows] == [OutboxStatus.SENT]
    assert confirmation.message["Message-ID"].strip() == rows[0].message_id
    assert rows[0].kind == "registration_confirmed" and rows[0].attempts == 1


@pytest.mark.settings(host_notice_coalesce_window=timedelta(0))  # each notice at once (see test_flood.py)
async def test_withdrawal_tells_the_host_and_removes_the_event(api, world, worker, mailbox):
    mentee = world.mentees[0]
    session = await create_session(api, world, maxParticipants=5)
    await join(api, mentee, session["id"])
    await worker.drain()
    mailbox.take()

    data = await api.data(LEAVE, {"id": session["id"]}, token=mentee.token)
    assert data["leaveGroupSession"]["userErrors"] == []
    await worker.drain()
    assert len(mailbox.received) == 2

    to_host = mailbox.one_to(world.host.user.email)
    assert to_host.subject == "Mentee0 withdrew from “Negotiating your first salary” (1/5)"
    assert "Registered: 1 of 5 (4 seats left)" in to_host.text

    to_leaver = mailbox.one_to(mentee.user.email)
    calendar, event = invite_event(to_leaver)
    assert calendar["METHOD"] == "CANCEL"
    assert str(event["UID"]) == f"group-session-{pk_of(session['id'], 'GroupSession')}@example.org"


async def test_time_change_tells_everyone_registered_with_an_updated_invite(api, world, worker, mailbox):
    first, second = world.mentees[0], world.mentees[1]
    await set_zone(first, "Asia/Tokyo")
    starts = start_in(4, hour_utc=2)  # 11:00 in Tokyo, 03:00 in Paris
    session = await create_session(api, world, startsAt=starts.isoformat(), durationMinutes=60)
    for member in (first, second):
        await join(api, member, session["id"])
    await worker.drain()
    joined = mailbox.one_to(first.user.email)
    uid = str(invite_event(joined)[1]["UID"])
    mailbox.take()

    # A title-only edit is not a reason to email anyone.
    data = await api.data(UPDATE, {"input": {"id": session["id"], "title": "Salary talks"}}, token=world.host.token)
    assert data["updateGroupSession"]["userErrors"] == []
    assert await worker.drain() == 0

    new_starts = starts + timedelta(hours=3)
    new_ends = new_starts + timedelta(minutes=90)
    data = await api.data(
        UPDATE,
        {"input": {"id": session["id"], "startsAt": new_starts.isoformat(), "durationMinutes": 90}},
        token=world.host.token,
    )
    assert data["updateGroupSession"]["userErrors"] == []
    await worker.drain()
    recipients = sorted(m.to for m in mailbox.received)
    assert recipients == sorted([world.host.user.email, first.user.email, second.user.email])

    tokyo = mailbox.one_to(first.user.email)
    assert tokyo.subject == f"New time: Salary talks, {expected_when(new_starts, new_ends, 'Asia/Tokyo')}"
    assert "moved and now lasts 1 h 30 min" in tokyo.text
    assert f"Now: {expected_when(new_starts, new_ends, 'Asia/Tokyo')}" in tokyo.text
    assert f"Was: {expected_when(starts, starts + timedelta(minutes=60), 'Asia/Tokyo')}" in tokyo.text
    calendar, event = invite_event(tokyo)
    assert calendar["METHOD"] == "REQUEST"
    assert str(event["UID"]) == uid
    assert event["SEQUENCE"] == 1
    assert event.decoded("DTSTART") == new_starts and event.decoded("DTEND") == new_ends
    assert str(event["SUMMARY"]) == "Salary talks"

    paris = mailbox.one_to(world.host.user.email)
    assert f"Now: {expected_when(new_starts, new_ends, 'Europe/Paris')}" in paris.text
    assert invite_event(paris)[1]["SEQUENCE"] == 1


async def test_cancellation_tells_everyone_registered_and_cancels_the_event(api, world, worker, mailbox):
    attendees = world.mentees[:2]
    session = await create_session(api, world)
    for member in attendees:
        await join(api, member, session["id"])
    await worker.drain()
    uid = str(invite_event(mailbox.one_to(attendees[0].user.email))[1]["UID"])
    mailbox.take()

    reason = "I am ill <sorry>.\nWe will find another date."
    data = await api.data(CANCEL, {"id": session["id"], "reason": reason}, token=world.host.token)
    assert data["cancelGroupSession"]["groupSession"]["status"] == "CANCELLED"
    await worker.drain()
    assert sorted(m.to for m in mailbox.received) == sorted(
        [world.host.user.email, *(m.user.email for m in attendees)]
    )
    for message in mailbox.received:
        assert message.subject == "Cancelled: Negotiating your first salary"
        assert "I am ill <sorry>." in message.text and "We will find another date." in message.text
        assert "I am ill &lt;sorry&gt;.<br>We will find another date." in message.html
        (part,) = message.calendar_parts
        assert part.get_param("method") == "CANCEL"
        calendar, event = invite_event(message)
        assert calendar["METHOD"] == "CANCEL"
        assert str(event["UID"]) == uid
        assert event["SEQUENCE"] == 1
        assert str(event["STATUS"]) == "CANCELLED"
    assert "Hannah cancelled" in mailbox.one_to(attendees[0].user.email).text
    assert "You cancelled" in mailbox.one_to(world.host.user.email).text


async def test_guests_are_invited_on_create_and_when_an_edit_adds_them(api, world, worker, mailbox):
    invited, later = world.mentees[0], world.mentees[1]
    await set_zone(later, "America/Los_Angeles")
    starts = start_in(5, hour_utc=18)
    session = await create_session(api, world, startsAt=starts.isoformat(), guestIds=[invited.gid])
    await worker.drain()
    assert sorted(m.to for m in mailbox.received) == sorted([world.host.user.email, invited.user.email])
    invitation = mailbox.one_to(invited.user.email)
    assert invitation.subject == "Hannah invited you: Negotiating your first salary"
    assert session["url"] in invitation.text
    assert f'href="{session["url"]}"' in invitation.html
    assert not invitation.calendar_parts
    mailbox.take()

    data = await api.data(
        UPDATE, {"input": {"id": session["id"], "guestIds": [invited.gid, later.gid]}}, token=world.host.token
    )
    assert data["updateGroupSession"]["userErrors"] == []
    await worker.drain()
    # Only the newly added guest hears about it.
    assert [m.to for m in mailbox.received] == [later.user.email]
    assert expected_when(starts, starts + timedelta(minutes=90), "America/Los_Angeles") in mailbox.received[0].text


@pytest.mark.serve_worker
@pytest.mark.settings(outbox_poll_seconds=3600)
async def test_the_worker_inside_the_app_sends_right_after_the_commit(api, world, mailbox):
    """As in `serve`: nobody drives the worker; each commit wakes it. It polls only once an
    hour here, so mail that arrives within the wait was sent because a commit woke the
    worker (the join's two messages, after the creation's pass had gone back to sleep)."""
    session = await create_session(api, world)
    await mailbox.wait_for(1, timeout=5)
    await join(api, world.mentees[0], session["id"])
    messages = await mailbox.wait_for(3, timeout=5)
    assert sorted(m.to for m in messages) == sorted(
        [world.host.user.email, world.host.user.email, world.mentees[0].user.email]
    )
