"""Calendar invites (iCalendar, RFC 5545 / iTIP RFC 5546) for group sessions.

One UID per session, so every invite, update and cancellation of a session names the
same calendar event: calendars move or remove it instead of adding a second one. The
SEQUENCE is `GroupSession.sequence`, which the services bump when the time changes and
on cancellation, so the newer invite wins.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Literal

from icalendar import Calendar, Event, vCalAddress, vText

Method = Literal["REQUEST", "CANCEL"]

PRODID = "-//Group Sessions//Mentoring group sessions//EN"


@dataclass(frozen=True)
class InviteFacts:
    """What an invite says about a session (all times aware; written in UTC)."""

    session_id: int
    uid_domain: str
    sequence: int
    title: str
    description: str
    starts_at: datetime
    ends_at: datetime
    url: str
    organizer_name: str
    organizer_email: str
    cancelled: bool = False


def session_uid(session_id: int, domain: str) -> str:
    """The calendar UID of a session: stable for its whole life."""
    return f"group-session-{session_id}@{domain}"


def _address(email: str, name: str, **params: str) -> vCalAddress:
    address = vCalAddress(f"mailto:{email}")
    # A CN is a parameter value: no line breaks (icalendar quotes the rest).
    address.params["cn"] = vText(" ".join(name.split()))
    for key, value in params.items():
        address.params[key.replace("_", "-")] = value
    return address


def build_invite(
    facts: InviteFacts,
    *,
    method: Method,
    attendee_email: str,
    attendee_name: str,
    stamped_at: datetime,
) -> bytes:
    """The .ics bytes of one invite for one attendee: METHOD REQUEST (add or update the
    event) or CANCEL (remove it), with DTSTART/DTEND in UTC."""
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("method", method)

    event = Event()
    event.add("uid", session_uid(facts.session_id, facts.uid_domain))
    event.add("sequence", facts.sequence)
    event.add("dtstamp", stamped_at.astimezone(timezone.utc))
    event.add("dtstart", facts.starts_at.astimezone(timezone.utc))
    event.add("dtend", facts.ends_at.astimezone(timezone.utc))
    event.add("summary", " ".join(facts.title.split()))
    event.add("description", facts.description)
    event.add("url", facts.url)
    event.add("location", facts.url)
    event.add("organizer", _address(facts.organizer_email, facts.organizer_name))
    event.add(
        "attendee",
        _address(attendee_email, attendee_name, role="REQ-PARTICIPANT", partstat="ACCEPTED", rsvp="FALSE"),
    )
    cancelled = method == "CANCEL" or facts.cancelled
    event.add("status", "CANCELLED" if cancelled else "CONFIRMED")
    event.add("transp", "OPAQUE")
    calendar.add_component(event)
    return calendar.to_ical()
