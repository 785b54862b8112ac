"""The emails, as pure render functions: facts in, a complete RFC 5322 message out.

Each email is written once as a list of blocks and rendered twice, as plain text and as
HTML alternatives, so the two never disagree. Everything user-written (titles,
objectives, names, reasons) is HTML-escaped in the HTML part; wherever it reaches a header it is flattened to one line and its `=?` written
`= ?` (`header_text`), so neither a newline nor an RFC 2047 encoded word in a title or a
name can add a header. Each message also keeps the shape it was built with, which the
outbox compares with the text parsed back before accepting it (`message_check`).
Times are written in the recipient's own time zone, naming the zone.

Each email function is named for the kind of email it produces (`RenderedEmail.kind`,
kept in the outbox row): `registration_confirmed` renders a "registration_confirmed".
"""

from __future__ import annotations

import email.policy
import html
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from app.group_sessions.events import Person, SessionSnapshot
from app.group_sessions.models import SessionStatus
from app.group_sessions import rules
from app.notifications import ics
from app.notifications import message_check
from app.notifications.message_check import MessageShape, shape_of

_WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
SUBJECT_MAX = 250


# --- facts ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class SessionFacts:
    """A session as the emails describe it (times aware, `url` the share link). People
    are `app.group_sessions.events.Person`s."""

    id: int
    title: str
    objective: str
    starts_at: datetime
    ends_at: datetime
    participant_count: int
    max_participants: int
    sequence: int
    cancelled: bool
    url: str
    host: Person

    @classmethod
    def of(cls, session: SessionSnapshot, url: str) -> SessionFacts:
        """The facts of an event's session snapshot, with its share link."""
        return cls(
            id=session.id,
            title=session.title,
            objective=session.objective,
            starts_at=session.starts_at,
            ends_at=session.ends_at,
            participant_count=session.participant_count,
            max_participants=session.max_participants,
            sequence=session.sequence,
            cancelled=session.status == SessionStatus.CANCELLED,
            url=url,
            host=session.host,
        )

    @property
    def spots_left(self) -> int:
        return rules.spots_left(self.participant_count, self.max_participants)


@dataclass(frozen=True)
class Letterhead:
    """Who mail comes from: the From header, and the domain of Message-IDs and UIDs."""

    mail_from: str

    @property
    def domain(self) -> str:
        address = parseaddr(self.mail_from)[1]
        domain = address.rpartition("@")[2].strip().strip(">").lower()
        return domain or "localhost"


@dataclass(frozen=True)
class RenderedEmail:
    kind: str
    recipient: str
    subject: str
    message_id: str
    # The whole message (headers and MIME body, CRLF line ends, ASCII), sent verbatim.
    message: str
    # What was built, to compare `message` with once parsed back (see message_check).
    built: MessageShape


# --- words ---------------------------------------------------------------------------------


def one_line(text: str, limit: int | None = None) -> str:
    """`text` with every line break and control character turned into a space, runs of
    spaces collapsed: safe for a header or a subject."""
    flat = "".join(ch if ch.isprintable() else " " for ch in text)
    flat = " ".join(flat.split())
    if limit is not None and len(flat) > limit:
        flat = flat[: limit - 1].rstrip() + "…"
    return flat


def header_text(text: str, limit: int | None = None) -> str:
    """`text` as it may stand in a header (a display name, a subject): on one line (see
    `one_line`), and with every "=?" written "= ?".

    "=?" opens an RFC 2047 encoded word, and some email packages decode one found in a
    header's text while folding it (CPython before 3.11.10 / 3.12.5, CVE-2024-6923): an
    encoded CR LF then adds headers and replaces the body. With a space after the "=",
    no parser sees an encoded word (one cannot hold a space), the text stays plain ASCII
    and reads the same to a person, and no invisible character is slipped into a name
    (itself a way to impersonate). Applied before the length cut, which cannot recreate it.
    """
    return one_line(text.replace("=?", "= ?"), limit)


def zone_of(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def _day(moment: datetime, with_year: bool) -> str:
    text = f"{_WEEKDAYS[moment.weekday()]} {moment.day} {_MONTHS[moment.month - 1]}"
    return f"{text} {moment.year}" if with_year else text


def format_when(starts_at: datetime, ends_at: datetime, time_zone: str, *, reference: datetime | None = None) -> str:
    """A time range in `time_zone`, naming it: "Tue 1 Dec, 17:00–18:30 (Europe/Paris)".
    A range over midnight names both days; the year is shown when it is not the year of
    `reference` (when the email is written)."""
    zone = zone_of(time_zone)
    start, end = starts_at.astimezone(zone), ends_at.astimezone(zone)
    this_year = (reference or starts_at).astimezone(zone).year
    with_year = start.year != this_year or end.year != this_year
    zone_name = zone.key if isinstance(zone, ZoneInfo) else time_zone
    if start.date() == end.date():
        return f"{_day(start, with_year)}, {start:%H:%M}–{end:%H:%M} ({zone_name})"
    return f"{_day(start, with_year)}, {start:%H:%M} – {_day(end, with_year)}, {end:%H:%M} ({zone_name})"


def _duration(starts_at: datetime, ends_at: datetime) -> str:
    minutes = int((ends_at - starts_at) / timedelta(minutes=1))
    hours, rest = divmod(minutes, 60)
    if hours and rest:
        return f"{hours} h {rest} min"
    return f"{hours} h" if hours else f"{rest} min"


# --- blocks: one text, two renderings --------------------------------------------------------


@dataclass(frozen=True)
class Para:
    text: str


@dataclass(frozen=True)
class Facts:
    rows: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Quote:
    text: str


@dataclass(frozen=True)
class Link:
    label: str
    url: str


Block = Para | Facts | Quote | Link


def render_text(blocks: Sequence[Block]) -> str:
    parts: list[str] = []
    for block in blocks:
        if isinstance(block, Para):
            parts.append(block.text)
        elif isinstance(block, Facts):
            width = max(len(label) for label, _ in block.rows) + 1
            parts.append("\n".join(f"{label + ':':<{width}} {value}" for label, value in block.rows))
        elif isinstance(block, Quote):
            parts.append("\n".join(f"  {line}" for line in block.text.splitlines()))
        elif isinstance(block, Link):
            parts.append(f"{block.label}: {block.url}")
    return "\n\n".join(parts) + "\n"


def _esc(text: str) -> str:
    return html.escape(text, quote=True)


def render_html(title: str, blocks: Sequence[Block]) -> str:
    body: list[str] = []
    for block in blocks:
        if isinstance(block, Para):
            body.append(f"<p>{_esc(block.text)}</p>")
        elif isinstance(block, Facts):
            rows = "".join(
                f'<tr><th align="left" style="padding:2px 12px 2px 0;vertical-align:top">{_esc(label)}</th>'
                f"<td>{_esc(value)}</td></tr>"
                for label, value in block.rows
            )
            body.append(f'<table role="presentation" cellspacing="0" cellpadding="0">{rows}</table>')
        elif isinstance(block, Quote):
            lines = "<br>".join(_esc(line) for line in block.text.splitlines())
            style = "margin:0 0 0 8px;padding-left:12px;border-left:3px solid #ccc"
            body.append(f'<blockquote style="{style}">{lines}</blockquote>')
        elif isinstance(block, Link):
            body.append(f'<p><a href="{_esc(block.url)}">{_esc(block.label)}</a></p>')
    return (
        '<!DOCTYPE html>\n<html><head><meta charset="utf-8">'
        f"<title>{_esc(title)}</title></head>\n"
        '<body style="font-family:sans-serif;line-height:1.5;color:#222">\n'
        + "\n".join(body)
        + "\n</body></html>\n"
    )


# --- the message -------------------------------------------------------------------------------


def compose(
    *,
    kind: str,
    letterhead: Letterhead,
    to: Person,
    subject: str,
    blocks: Sequence[Block],
    written_at: datetime,
    invite: bytes | None = None,
    invite_method: ics.Method = "REQUEST",
) -> RenderedEmail:
    """One complete message: text and HTML alternatives, the invite attached when given,
    a fresh Message-ID that the outbox keeps for every attempt."""
    subject = header_text(subject, SUBJECT_MAX)
    # Random and short (a long one gets folded onto a second header line).
    message_id = f"<{uuid.uuid4().hex}@{letterhead.domain}>"
    message = EmailMessage(policy=message_check.SMTP)
    message["From"] = letterhead.mail_from
    message["To"] = _addressee(to)
    message["Subject"] = subject
    message["Date"] = format_datetime(written_at)
    message["Message-ID"] = message_id
    # Tell auto-responders (out-of-office) not to answer a notification.
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(render_text(blocks))
    message.add_alternative(render_html(subject, blocks), subtype="html")
    if invite is not None:
        message.add_attachment(
            invite,
            maintype="text",
            subtype="calendar",
            filename="invite.ics" if invite_method == "REQUEST" else "cancel.ics",
            params={"method": invite_method},
        )
    return RenderedEmail(kind, to.email, subject, message_id, message.as_string(), shape_of(message))


def _addressee(person: Person) -> Address:
    """The To address, with the person's name when it can be written safely: CPython's
    header folder drops the quotes around a display name it has to fold, and the name's
    own commas or "@" then turn it into other addresses. So a name that needs quotes and
    does not fit on the header's one line is left out; the address alone is a valid To."""
    named = Address(display_name=header_text(person.name), addr_spec=person.email)
    written = str(named)
    if written.startswith('"') and len("To: ") + len(written) > email.policy.SMTP.max_line_length:
        return Address(addr_spec=person.email)
    return named


def _invite(
    session: SessionFacts, to: Person, letterhead: Letterhead, method: ics.Method, written_at: datetime
) -> bytes:
    description = f"{session.objective}\n\n{session.url}"
    facts = ics.InviteFacts(
        session_id=session.id,
        uid_domain=letterhead.domain,
        sequence=session.sequence,
        title=session.title,
        description=description,
        starts_at=session.starts_at,
        ends_at=session.ends_at,
        url=session.url,
        organizer_name=session.host.name,
        organizer_email=session.host.email,
        cancelled=session.cancelled,
    )
    return ics.build_invite(facts, method=method, attendee_email=to.email, attendee_name=to.name, stamped_at=written_at)


def _when(session: SessionFacts, to: Person, written_at: datetime) -> str:
    return format_when(session.starts_at, session.ends_at, to.time_zone, reference=written_at)


def _ratio(session: SessionFacts) -> str:
    return f"{session.participant_count}/{session.max_participants}"


def _count(session: SessionFacts) -> str:
    left = session.spots_left
    seats = "no seat left" if left == 0 else f"{left} seat{'s' if left != 1 else ''} left"
    return f"{session.participant_count} of {session.max_participants} ({seats})"


# --- the emails ----------------------------------------------------------------------------------


def registration_added(
    session: SessionFacts, participant: Person, *, letterhead: Letterhead, written_at: datetime
) -> RenderedEmail:
    """To the host: someone registered; how many are registered now; when; the link."""
    host = session.host
    name = one_line(participant.name)
    blocks = [
        Para(f"{name} registered for your group session “{one_line(session.title)}”."),
        Facts((("Registered", _count(session)), ("When", _when(session, host, written_at)))),
        Link("Open the session page", session.url),
    ]
    return compose(
        kind="registration_added",
        letterhead=letterhead,
        to=host,
        subject=f"{name} registered for “{one_line(session.title)}” ({_ratio(session)})",
        blocks=blocks,
        written_at=written_at,
    )


def registration_removed(
    session: SessionFacts, participant: Person, *, letterhead: Letterhead, written_at: datetime
) -> RenderedEmail:
    """To the host: someone withdrew; how many are registered now; when; the link."""
    host = session.host
    name = one_line(participant.name)
    blocks = [
        Para(f"{name} withdrew from your group session “{one_line(session.title)}”."),
        Facts((("Registered", _count(session)), ("When", _when(session, host, written_at)))),
        Link("Open the session page", session.url),
    ]
    return compose(
        kind="registration_removed",
        letterhead=letterhead,
        to=host,
        subject=f"{name} withdrew from “{one_line(session.title)}” ({_ratio(session)})",
        blocks=blocks,
        written_at=written_at,
    )


def registration_summary(
    session: SessionFacts,
    participant: Person,
    *,
    registered: bool,
    changes: int,
    letterhead: Letterhead,
    written_at: datetime,
) -> RenderedEmail:
    """To the host, instead of one notice per change when a member registers and
    withdraws again and again: where that member stands now, and how many changes this
    one email sums up."""
    host = session.host
    name = one_line(participant.name)
    title = one_line(session.title)
    now = f"{name} is registered for" if registered else f"{name} is no longer registered for"
    times = "once" if changes == 1 else f"{changes} times"
    blocks = [
        Para(f"{now} your group session “{title}”."),
        Facts((("Registered", _count(session)), ("When", _when(session, host, written_at)))),
        Para(
            f"Since the last email about {name}, they registered or withdrew {times}. "
            "This email sums those changes up, so you get one email instead of one per change."
        ),
        Link("Open the session page", session.url),
    ]
    return compose(
        kind="registration_summary",
        letterhead=letterhead,
        to=host,
        subject=f"{now} “{title}” ({_ratio(session)})",
        blocks=blocks,
        written_at=written_at,
    )


def registration_confirmed(
    session: SessionFacts, participant: Person, *, letterhead: Letterhead, written_at: datetime
) -> RenderedEmail:
    """To the participant who joined: a confirmation with the calendar invite (REQUEST)."""
    blocks = [
        Para(f"You are registered for “{one_line(session.title)}”, hosted by {one_line(session.host.name)}."),
        Facts((
            ("When", _when(session, participant, written_at)),
            ("Duration", _duration(session.starts_at, session.ends_at)),
            ("Host", one_line(session.host.name)),
        )),
        Quote(session.objective),
        Link("Open the session page", session.url),
        Para("The calendar invite is attached: add it to your calendar, and later changes will update it."),
    ]
    return compose(
        kind="registration_confirmed",
        letterhead=letterhead,
        to=participant,
        subject=f"You're registered: {session.title}",
        blocks=blocks,
        written_at=written_at,
        invite=_invite(session, participant, letterhead, "REQUEST", written_at),
    )


def waitlisted(
    session: SessionFacts, participant: Person, *, position: int, letterhead: Letterhead, written_at: datetime
) -> RenderedEmail:
    """To the member who joined the waitlist of a full session: their place in line, and
    that a freed seat is theirs at once, by email (no calendar invite yet)."""
    title = one_line(session.title)
    blocks = [
        Para(f"“{title}” is full, and you are on its waitlist: number {position} in line."),
        Facts((
            ("When", _when(session, participant, written_at)),
            ("Host", one_line(session.host.name)),
            ("Place in line", str(position)),
        )),
        Para(
            "When a seat frees up, the first in line gets it at once, and we email you with the calendar "
            "invite. You do not need to do anything; to give up your place, leave the waitlist on the session page."
        ),
        Link("Open the session page", session.url),
    ]
    return compose(
        kind="waitlisted",
        letterhead=letterhead,
        to=participant,
        subject=f"You're on the waitlist: {session.title}",
        blocks=blocks,
        written_at=written_at,
    )


def promoted(
    session: SessionFacts, participant: Person, *, letterhead: Letterhead, written_at: datetime
) -> RenderedEmail:
    """To the member first in line when a seat freed: they are registered now, with the
    calendar invite (REQUEST)."""
    blocks = [
        Para(
            f"A seat freed up in “{one_line(session.title)}”, hosted by {one_line(session.host.name)}, "
            "and it is yours: you are registered now."
        ),
        Facts((
            ("When", _when(session, participant, written_at)),
            ("Duration", _duration(session.starts_at, session.ends_at)),
            ("Host", one_line(session.host.name)),
        )),
        Quote(session.objective),
        Link("Open the session page", session.url),
        Para("The calendar invite is attached. Can't make it after all? Withdraw on the session page, so the "
             "next in line gets the seat."),
    ]
    return compose(
        kind="promoted",
        letterhead=letterhead,
        to=participant,
        subject=f"You're in: {session.title}",
        blocks=blocks,
        written_at=written_at,
        invite=_invite(session, participant, letterhead, "REQUEST", written_at),
    )


def session_created(session: SessionFacts, *, letterhead: Letterhead, written_at: datetime) -> RenderedEmail:
    """To the host who created a session: the details and the calendar invite (REQUEST)."""
    host = session.host
    blocks = [
        Para(f"Your group session “{one_line(session.title)}” is scheduled."),
        Facts((
            ("When", _when(session, host, written_at)),
            ("Duration", _duration(session.starts_at, session.ends_at)),
            ("Seats", str(session.max_participants)),
        )),
        Quote(session.objective),
        Link("Share this link", session.url),
        Para("You will get an email each time someone registers or withdraws."),
    ]
    return compose(
        kind="session_created",
        letterhead=letterhead,
        to=host,
        subject=f"You're hosting: {session.title}",
        blocks=blocks,
        written_at=written_at,
        invite=_invite(session, host, letterhead, "REQUEST", written_at),
    )


def registration_withdrawn(
    session: SessionFacts, participant: Person, *, letterhead: Letterhead, written_at: datetime
) -> RenderedEmail:
    """To the participant who withdrew: a confirmation that removes the event (CANCEL)."""
    blocks = [
        Para(f"You are no longer registered for “{one_line(session.title)}”."),
        Facts((("When", _when(session, participant, written_at)),)),
        Link("Changed your mind? Register again on the session page", session.url),
    ]
    return compose(
        kind="registration_withdrawn",
        letterhead=letterhead,
        to=participant,
        subject=f"You withdrew from: {session.title}",
        blocks=blocks,
        written_at=written_at,
        invite=_invite(session, participant, letterhead, "CANCEL", written_at),
        invite_method="CANCEL",
    )


def session_time_changed(
    session: SessionFacts,
    recipient: Person,
    *,
    previous_starts_at: datetime,
    previous_ends_at: datetime,
    letterhead: Letterhead,
    written_at: datetime,
) -> RenderedEmail:
    """To everyone registered: the new time next to the old one, with the updated invite
    (same UID, higher SEQUENCE)."""
    zone = recipient.time_zone
    was = format_when(previous_starts_at, previous_ends_at, zone, reference=written_at)
    now = _when(session, recipient, written_at)
    what = []
    if previous_starts_at != session.starts_at:
        what.append("moved")
    if previous_ends_at - previous_starts_at != session.ends_at - session.starts_at:
        what.append(f"now lasts {_duration(session.starts_at, session.ends_at)}")
    blocks = [
        Para(f"“{one_line(session.title)}” {' and '.join(what) or 'changed'}."),
        Facts((("Now", now), ("Was", was))),
        Link("Open the session page", session.url),
        Para("The updated calendar invite is attached; it replaces the earlier one."),
    ]
    return compose(
        kind="session_time_changed",
        letterhead=letterhead,
        to=recipient,
        subject=f"New time: {session.title}, {now}",
        blocks=blocks,
        written_at=written_at,
        invite=_invite(session, recipient, letterhead, "REQUEST", written_at),
    )


def session_cancelled(
    session: SessionFacts,
    recipient: Person,
    *,
    reason: str | None,
    letterhead: Letterhead,
    written_at: datetime,
    automatic: bool = False,
) -> RenderedEmail:
    """To everyone registered: the session is cancelled, the reason if given, and a CANCEL
    for the same UID so calendars remove the event. `automatic`: cancelled by its unmet
    minimum rather than by the host (the reason says so)."""
    by_host = recipient.id == session.host.id
    if automatic:
        opening = (
            f"Your group session “{one_line(session.title)}” is cancelled."
            if by_host
            else f"The group session “{one_line(session.title)}” hosted by {one_line(session.host.name)} is cancelled."
        )
    elif by_host:
        opening = f"You cancelled your group session “{one_line(session.title)}”."
    else:
        opening = f"{one_line(session.host.name)} cancelled the group session “{one_line(session.title)}”."
    blocks: list[Block] = [
        Para(opening),
        Facts((("Was planned for", _when(session, recipient, written_at)),)),
    ]
    if reason:
        blocks += [Para("Why:" if automatic else "Reason given:"), Quote(reason)]
    blocks.append(Para("The attached cancellation removes it from your calendar."))
    return compose(
        kind="session_cancelled",
        letterhead=letterhead,
        to=recipient,
        subject=f"Cancelled: {session.title}",
        blocks=blocks,
        written_at=written_at,
        invite=_invite(session, recipient, letterhead, "CANCEL", written_at),
        invite_method="CANCEL",
    )


def invitation_declined(
    session: SessionFacts, guest: Person, *, letterhead: Letterhead, written_at: datetime
) -> RenderedEmail:
    """To the host: an invited guest declined (one who was not registered; a registered
    guest who declines withdraws, and the host gets the withdrawal notice instead)."""
    host = session.host
    name = one_line(guest.name)
    title = one_line(session.title)
    blocks = [
        Para(f"{name} declined your invitation to the group session “{title}”."),
        Facts((("Registered", _count(session)), ("When", _when(session, host, written_at)))),
        Link("Open the session page", session.url),
    ]
    return compose(
        kind="invitation_declined",
        letterhead=letterhead,
        to=host,
        subject=f"{name} declined: “{title}”",
        blocks=blocks,
        written_at=written_at,
    )


def guest_invited(
    session: SessionFacts, guest: Person, *, letterhead: Letterhead, written_at: datetime
) -> RenderedEmail:
    """To an invited guest: who invites them, to what, when, and the page to register on."""
    host = one_line(session.host.name)
    blocks = [
        Para(f"{host} invited you to the group session “{one_line(session.title)}”."),
        Facts((
            ("When", _when(session, guest, written_at)),
            ("Duration", _duration(session.starts_at, session.ends_at)),
            ("Seats left", str(session.spots_left)),
        )),
        Quote(session.objective),
        Link("See the session, then accept or decline", session.url),
    ]
    return compose(
        kind="guest_invited",
        letterhead=letterhead,
        to=guest,
        subject=f"{host} invited you: {session.title}",
        blocks=blocks,
        written_at=written_at,
    )


def _needed(participant_count: int, min_participants: int) -> str:
    return f"{participant_count} of the {min_participants} needed so far (you included)"


def minimum_warning(
    session: SessionFacts,
    *,
    min_participants: int,
    deadline: datetime,
    cancels: bool,
    letterhead: Letterhead,
    written_at: datetime,
) -> RenderedEmail:
    """To the host, ahead of the decision: the minimum is not reached yet ("3 of the 5
    needed so far"), when it is decided, and what happens then."""
    host = session.host
    zone = zone_of(host.time_zone)
    local = deadline.astimezone(zone)
    at = f"{_day(local, local.year != written_at.astimezone(zone).year)}, {local:%H:%M} ({zone.key})"
    then = (
        "If it is still short then, the session is cancelled and everyone registered is told."
        if cancels
        else "If it is still short then, the session is kept (as you chose) and you will be told once more."
    )
    blocks = [
        Para(f"Your group session “{one_line(session.title)}” has not reached its minimum yet."),
        Facts((
            ("Registered", _needed(session.participant_count, min_participants)),
            ("Decided", at),
            ("When", _when(session, host, written_at)),
        )),
        Para(then),
        Link("Share the session page", session.url),
    ]
    return compose(
        kind="minimum_warning",
        letterhead=letterhead,
        to=host,
        subject=f"{session.participant_count} of {min_participants} needed: {session.title}",
        blocks=blocks,
        written_at=written_at,
    )


def minimum_not_reached_kept(
    session: SessionFacts, *, min_participants: int, letterhead: Letterhead, written_at: datetime
) -> RenderedEmail:
    """To the host who chose to keep a session short of its minimum: the decision time
    came, it is still short, and it takes place as planned."""
    host = session.host
    blocks = [
        Para(
            f"Your group session “{one_line(session.title)}” did not reach its minimum. "
            "As you chose, it is not cancelled: it takes place as planned."
        ),
        Facts((
            ("Registered", _needed(session.participant_count, min_participants)),
            ("When", _when(session, host, written_at)),
        )),
        Link("Open the session page (you can still cancel it there)", session.url),
    ]
    return compose(
        kind="minimum_not_reached_kept",
        letterhead=letterhead,
        to=host,
        subject=f"Minimum not reached, kept as planned: {session.title}",
        blocks=blocks,
        written_at=written_at,
    )


def _at(moment: datetime, time_zone: str, written_at: datetime) -> str:
    """One instant in `time_zone`, naming it: "Tue 1 Dec, 16:50 (Europe/Paris)"."""
    zone = zone_of(time_zone)
    local = moment.astimezone(zone)
    return f"{_day(local, local.year != written_at.astimezone(zone).year)}, {local:%H:%M} ({zone.key})"


def session_reminder(
    session: SessionFacts,
    recipient: Person,
    *,
    room_url: str | None,
    instructions: str | None,
    opens_at: datetime,
    letterhead: Letterhead,
    written_at: datetime,
) -> RenderedEmail:
    """To the host or a confirmed participant, before the start: when (in their zone), and
    the room: its link and instructions when it is open to them already (`room_url`
    given), else when it opens. With the calendar invite (REQUEST, same UID and
    SEQUENCE as the earlier ones, so a calendar keeps one event)."""
    title = one_line(session.title)
    hosting = recipient.id == session.host.id
    opening = (
        f"Your group session “{title}” is coming up."
        if hosting
        else f"“{title}”, hosted by {one_line(session.host.name)}, is coming up."
    )
    blocks: list[Block] = [
        Para(opening),
        Facts((
            ("When", _when(session, recipient, written_at)),
            ("Duration", _duration(session.starts_at, session.ends_at)),
            ("Room opens", _at(opens_at, recipient.time_zone, written_at)),
        )),
    ]
    if room_url is not None:
        blocks.append(Link("Enter the room", room_url))
        if instructions:
            blocks += [Para("How to join:"), Quote(instructions)]
    else:
        blocks.append(Para(
            f"The link to the room appears on the session page from {_at(opens_at, recipient.time_zone, written_at)}: "
            "its Enter button turns on by itself, no reload needed."
        ))
    blocks += [
        Link("Open the session page", session.url),
        Para("Nobody waits for anyone: participants may enter before the host."),
        Para("You get reminders because they are on in your account; you can turn them off there."),
    ]
    return compose(
        kind="session_reminder",
        letterhead=letterhead,
        to=recipient,
        subject=f"Reminder: {session.title}, {_when(session, recipient, written_at)}",
        blocks=blocks,
        written_at=written_at,
        invite=_invite(session, recipient, letterhead, "REQUEST", written_at),
    )
