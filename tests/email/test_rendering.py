"""What users write cannot change an email's headers or markup; times read right in
every zone."""

from __future__ import annotations

import email
import email.policy
from datetime import datetime, timedelta, timezone

import pytest
from icalendar import Calendar

from app.accounts import services as accounts
from app.accounts.models import ProgramRole
from app.group_sessions.events import Person
from app.notifications import emails
from app.notifications.emails import Letterhead, SessionFacts, format_when
from tests.conftest import Member, create_session, join

UTC = timezone.utc
WRITTEN = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
LETTERHEAD = Letterhead("Group Sessions <sessions@example.org>")


def parse(rendered: emails.RenderedEmail) -> email.message.EmailMessage:
    return email.message_from_string(rendered.message, policy=email.policy.default)


def header_names(message) -> list[str]:
    return [name.lower() for name in message.keys()]


@pytest.mark.parametrize(
    ("start", "minutes", "zone", "expected"),
    [
        (datetime(2026, 12, 1, 16, 0, tzinfo=UTC), 90, "Europe/Paris", "Tue 1 Dec, 17:00–18:30 (Europe/Paris)"),
        (datetime(2026, 12, 1, 16, 0, tzinfo=UTC), 90, "America/New_York", "Tue 1 Dec, 11:00–12:30 (America/New_York)"),
        (datetime(2026, 12, 1, 16, 0, tzinfo=UTC), 90, "UTC", "Tue 1 Dec, 16:00–17:30 (UTC)"),
        (datetime(2026, 12, 1, 16, 0, tzinfo=UTC), 90, "Asia/Kolkata", "Tue 1 Dec, 21:30–23:00 (Asia/Kolkata)"),
        # Over midnight in Tokyo: both days are named.
        (
            datetime(2026, 12, 1, 14, 30, tzinfo=UTC), 60, "Asia/Tokyo",
            "Tue 1 Dec, 23:30 – Wed 2 Dec, 00:30 (Asia/Tokyo)",
        ),
        # Summer time in Paris (UTC+2), and the next year is spelled out.
        (datetime(2027, 6, 15, 7, 0, tzinfo=UTC), 45, "Europe/Paris", "Tue 15 Jun 2027, 09:00–09:45 (Europe/Paris)"),
        # The night Paris changes to summer time: 00:30 CET -> 03:30 CEST is two hours.
        (datetime(2027, 3, 27, 23, 30, tzinfo=UTC), 120, "Europe/Paris", "Sun 28 Mar 2027, 00:30–03:30 (Europe/Paris)"),
    ],
)
def test_times_are_written_in_the_recipients_zone_naming_it(start, minutes, zone, expected):
    assert format_when(start, start + timedelta(minutes=minutes), zone, reference=WRITTEN) == expected


def facts(**changes) -> SessionFacts:
    host = Person(1, "Hannah", "hannah@example.org", "Europe/Paris")
    base = SessionFacts(
        id=7,
        title="Salary talks",
        objective="Practise.",
        starts_at=datetime(2026, 12, 1, 16, 0, tzinfo=UTC),
        ends_at=datetime(2026, 12, 1, 17, 30, tzinfo=UTC),
        participant_count=2,
        max_participants=10,
        sequence=0,
        cancelled=False,
        url="https://sessions.example.org/group-sessions/R3JvdXBTZXNzaW9uOjc",
        host=host,
    )
    return SessionFacts(**{**base.__dict__, **changes})


# Each email function by name, with how it is called.
EVERY_EMAIL = {
    "session_created": lambda render, s, p: render(s, letterhead=LETTERHEAD, written_at=WRITTEN),
    "registration_added": lambda render, s, p: render(s, p, letterhead=LETTERHEAD, written_at=WRITTEN),
    "registration_confirmed": lambda render, s, p: render(s, p, letterhead=LETTERHEAD, written_at=WRITTEN),
    "registration_removed": lambda render, s, p: render(s, p, letterhead=LETTERHEAD, written_at=WRITTEN),
    "registration_withdrawn": lambda render, s, p: render(s, p, letterhead=LETTERHEAD, written_at=WRITTEN),
    "guest_invited": lambda render, s, p: render(s, p, letterhead=LETTERHEAD, written_at=WRITTEN),
    "invitation_declined": lambda render, s, p: render(s, p, letterhead=LETTERHEAD, written_at=WRITTEN),
    "waitlisted": lambda render, s, p: render(s, p, position=2, letterhead=LETTERHEAD, written_at=WRITTEN),
    "promoted": lambda render, s, p: render(s, p, letterhead=LETTERHEAD, written_at=WRITTEN),
    "session_cancelled": lambda render, s, p: render(s, p, reason=None, letterhead=LETTERHEAD, written_at=WRITTEN),
    "session_time_changed": lambda render, s, p: render(
        s, p, previous_starts_at=s.starts_at - timedelta(hours=1), previous_ends_at=s.ends_at,
        letterhead=LETTERHEAD, written_at=WRITTEN,
    ),
    "minimum_warning": lambda render, s, p: render(
        s, min_participants=5, deadline=s.starts_at - timedelta(hours=24), cancels=True,
        letterhead=LETTERHEAD, written_at=WRITTEN,
    ),
    "minimum_not_reached_kept": lambda render, s, p: render(
        s, min_participants=5, letterhead=LETTERHEAD, written_at=WRITTEN
    ),
    "session_reminder": lambda render, s, p: render(
        s, p, room_url=None, instructions=None, opens_at=s.starts_at - timedelta(minutes=10),
        letterhead=LETTERHEAD, written_at=WRITTEN,
    ),
}


@pytest.mark.parametrize("name", sorted(EVERY_EMAIL))
def test_each_email_function_is_named_for_the_kind_it_produces(name):
    """The outbox row's `kind` (what operators see) is the name of the function that
    rendered it, so either leads to the other."""
    rendered = EVERY_EMAIL[name](getattr(emails, name), facts(), Person(2, "Gus", "gus@example.org", "UTC"))
    assert rendered.kind == name


ATTACK = "Salary\r\nBcc: victim@evil.example\r\n\r\n<script>alert(1)</script>"


@pytest.mark.parametrize(
    "render, invite",
    [
        pytest.param(
            lambda s, p: emails.registration_confirmed(s, p, letterhead=LETTERHEAD, written_at=WRITTEN),
            True, id="registration_confirmed",
        ),
        pytest.param(
            lambda s, p: emails.registration_added(s, p, letterhead=LETTERHEAD, written_at=WRITTEN),
            False, id="registration_added",
        ),
        pytest.param(
            lambda s, p: emails.guest_invited(s, p, letterhead=LETTERHEAD, written_at=WRITTEN),
            False, id="guest_invited",
        ),
        pytest.param(
            lambda s, p: emails.invitation_declined(s, p, letterhead=LETTERHEAD, written_at=WRITTEN),
            False, id="invitation_declined",
        ),
        pytest.param(
            lambda s, p: emails.waitlisted(s, p, position=4, letterhead=LETTERHEAD, written_at=WRITTEN),
            False, id="waitlisted",
        ),
        pytest.param(
            lambda s, p: emails.promoted(s, p, letterhead=LETTERHEAD, written_at=WRITTEN),
            True, id="promoted",
        ),
        pytest.param(
            lambda s, p: emails.session_cancelled(s, p, reason=ATTACK, letterhead=LETTERHEAD, written_at=WRITTEN),
            True, id="session_cancelled",
        ),
        pytest.param(
            lambda s, p: emails.session_time_changed(
                s, p, previous_starts_at=s.starts_at - timedelta(hours=1), previous_ends_at=s.ends_at,
                letterhead=LETTERHEAD, written_at=WRITTEN,
            ),
            True, id="session_time_changed",
        ),
        pytest.param(
            lambda s, p: emails.session_cancelled(
                s, p, reason=ATTACK, letterhead=LETTERHEAD, written_at=WRITTEN, automatic=True
            ),
            True, id="session_cancelled_automatically",
        ),
        pytest.param(
            lambda s, p: emails.minimum_warning(
                s, min_participants=5, deadline=s.starts_at - timedelta(hours=24), cancels=False,
                letterhead=LETTERHEAD, written_at=WRITTEN,
            ),
            False, id="minimum_warning",
        ),
        pytest.param(
            lambda s, p: emails.minimum_not_reached_kept(s, min_participants=5, letterhead=LETTERHEAD, written_at=WRITTEN),
            False, id="minimum_not_reached_kept",
        ),
        pytest.param(
            lambda s, p: emails.session_reminder(
                s, p, room_url="https://meet.example.org/room?x=<b>&y=1", instructions=ATTACK,
                opens_at=s.starts_at - timedelta(minutes=10), letterhead=LETTERHEAD, written_at=WRITTEN,
            ),
            True, id="session_reminder",
        ),
        pytest.param(
            lambda s, p: emails.session_reminder(
                s, p, room_url=None, instructions=None, opens_at=s.starts_at - timedelta(minutes=10),
                letterhead=LETTERHEAD, written_at=WRITTEN,
            ),
            True, id="session_reminder_before_the_window",
        ),
    ],
)
def test_a_newline_in_a_title_or_name_adds_no_header_and_markup_is_escaped(render, invite):
    """`invite`: the email carries a calendar part (whose fields must stay single-line too)."""
    session = facts(
        title=ATTACK,
        objective=f"Learn <b>this</b> & {ATTACK}",
        host=Person(1, ATTACK, "hannah@example.org", "UTC"),
    )
    person = Person(2, "Eve\nCc: other@evil.example <img src=x onerror=alert(1)>", "eve@example.org", "UTC")
    rendered = render(session, person)
    message = parse(rendered)

    assert "bcc" not in header_names(message) and "cc" not in header_names(message)
    assert "\n" not in rendered.subject and "\r" not in rendered.subject
    assert "\n" not in str(message["Subject"]) and "\r" not in str(message["Subject"])
    assert sorted(header_names(message)) == sorted(
        ["from", "to", "subject", "date", "message-id", "auto-submitted", "mime-version", "content-type"]
    )
    assert [a.addr_spec for a in message["To"].addresses] == [rendered.recipient]

    html_part = message.get_body(preferencelist=("html",)).get_content()
    assert "<script>" not in html_part and "<img" not in html_part and "<b>this</b>" not in html_part
    assert "&lt;script&gt;" in html_part
    text_part = message.get_body(preferencelist=("plain",)).get_content()
    assert "Salary" in text_part

    calendar_parts = [part for part in message.walk() if part.get_content_type() == "text/calendar"]
    assert len(calendar_parts) == (1 if invite else 0)
    for part in calendar_parts:
        calendar = Calendar.from_ical(part.get_payload(decode=True))
        (event,) = calendar.walk("VEVENT")
        # The line breaks became spaces: one line each, the text otherwise kept.
        one_line = "Salary Bcc: victim@evil.example <script>alert(1)</script>"
        assert str(event["SUMMARY"]) == one_line
        assert str(event["ORGANIZER"].params["CN"]) == one_line


async def test_a_participant_named_with_a_header_gets_no_one_else_copied(api, world, worker, mailbox):
    """End to end: a name with CR LF and markup, accepted at sign-up, reaches the host's
    email as text: one recipient, no Bcc header, escaped HTML."""
    eve = await accounts.create_user(
        email="eve@example.org", name="Eve <script>x</script>\r\nBcc: victim@evil.example", time_zone="UTC"
    )
    await accounts.add_member(program_id=world.program.id, email=eve.email, role=ProgramRole.MENTEE)
    token = await accounts.issue_token(eve)
    session = await create_session(api, world)
    await worker.drain()
    mailbox.take()

    result = await join(api, Member(eve, token, ProgramRole.MENTEE), session["id"])
    assert result["userErrors"] == []
    await worker.drain()
    assert sorted(m.to for m in mailbox.received) == ["eve@example.org", world.host.user.email]
    assert all(len(m.rcpt_tos) == 1 for m in mailbox.received)
    to_host = mailbox.one_to(world.host.user.email)
    assert "bcc" not in header_names(to_host.message)
    assert to_host.subject.startswith("Eve <script>x</script> Bcc: victim@evil.example registered for")
    assert "&lt;script&gt;x&lt;/script&gt;" in to_host.html and "<script>" not in to_host.html
    to_eve = mailbox.one_to("eve@example.org")
    assert [a.addr_spec for a in to_eve.message["To"].addresses] == ["eve@example.org"]
    assert "bcc" not in header_names(to_eve.message)


def test_the_minimum_warning_says_how_many_of_how_many_and_when_it_is_decided_in_the_hosts_zone():
    rendered = emails.minimum_warning(
        facts(participant_count=3), min_participants=5, deadline=datetime(2026, 11, 30, 16, 0, tzinfo=UTC),
        cancels=True, letterhead=LETTERHEAD, written_at=WRITTEN,
    )
    message = parse(rendered)
    assert rendered.recipient == "hannah@example.org"
    assert str(message["Subject"]) == "3 of 5 needed: Salary talks"
    text = message.get_body(preferencelist=("plain",)).get_content()
    assert "3 of the 5 needed so far (you included)" in text
    assert "Mon 30 Nov, 17:00 (Europe/Paris)" in text  # the decision, in the host's zone
    assert "the session is cancelled and everyone registered is told" in text


def test_a_reminder_before_the_window_says_when_the_room_opens_in_the_recipients_zone():
    gus = Person(2, "Gus", "gus@example.org", "America/New_York")
    rendered = emails.session_reminder(
        facts(), gus, room_url=None, instructions="Passcode 1234", opens_at=datetime(2026, 12, 1, 15, 50, tzinfo=UTC),
        letterhead=LETTERHEAD, written_at=datetime(2026, 12, 1, 15, 0, tzinfo=UTC),
    )
    message = parse(rendered)
    assert str(message["Subject"]) == "Reminder: Salary talks, Tue 1 Dec, 11:00–12:30 (America/New_York)"
    text = message.get_body(preferencelist=("plain",)).get_content()
    assert "“Salary talks”, hosted by Hannah, is coming up." in text
    assert "Room opens: Tue 1 Dec, 10:50 (America/New_York)" in text
    assert "appears on the session page from Tue 1 Dec, 10:50 (America/New_York)" in text
    assert "Enter the room" not in text and "Passcode" not in text
    (part,) = [p for p in message.walk() if p.get_content_type() == "text/calendar"]
    assert part.get_param("method") == "REQUEST"
    (event,) = Calendar.from_ical(part.get_payload(decode=True)).walk("VEVENT")
    assert str(event["UID"]) == "group-session-7@example.org"  # the session's one UID, as every invite
    assert int(event["SEQUENCE"]) == 0


def test_a_reminder_inside_the_window_has_the_room_link_and_the_instructions():
    rendered = emails.session_reminder(
        facts(), facts().host, room_url="https://meet.example.org/abc", instructions="Passcode 1234",
        opens_at=datetime(2026, 12, 1, 15, 50, tzinfo=UTC), letterhead=LETTERHEAD,
        written_at=datetime(2026, 12, 1, 15, 55, tzinfo=UTC),
    )
    text = parse(rendered).get_body(preferencelist=("plain",)).get_content()
    assert text.startswith("Your group session “Salary talks” is coming up.")  # to the host
    assert "Enter the room: https://meet.example.org/abc" in text
    assert "Passcode 1234" in text
    assert "Tue 1 Dec, 17:00–18:30 (Europe/Paris)" in text
