"""A user's private calendar feed: the link, its revocation, and the calendar it serves.

The link carries a token derived as HMAC-SHA256(CALENDAR_FEED_SECRET, user id + nonce). The
database keeps the nonce and the token's SHA-256 only: a copy of the database lets nobody
read a calendar, yet the server can show the link again whenever the viewer asks. A new
nonce (`reset_feed`) revokes the old link at once.

The calendar lists every session the user hosts or is a confirmed participant of, from 90
days back on, cancelled ones as STATUS:CANCELLED, with the UIDs and SEQUENCE numbers of the
email invites (so a calendar that has both merges them). It names nobody by email: no
ORGANIZER or ATTENDEE lines. The room link appears (LOCATION, URL) only while the user may
enter (app.group_sessions.rooms.may_enter), as in the API.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from datetime import datetime, timedelta, timezone
from email.utils import parseaddr

from icalendar import Calendar, Event
from tortoise.exceptions import IntegrityError
from tortoise.expressions import Subquery

from app.accounts.models import CalendarFeed
from app.group_sessions import rooms
from app.group_sessions.models import GroupSession, Registration, SessionStatus
from app.links import group_session_url
from app.notifications.ics import PRODID, session_uid
from app.settings import Settings

TOKEN_PATTERN = re.compile(r"^[A-Za-z0-9_-]{43}$")
HISTORY = timedelta(days=90)
MAX_EVENTS = 1000


def _token(secret: str, user_id: int, nonce: str) -> str:
    digest = hmac.new(secret.encode(), f"calendar-feed:{user_id}:{nonce}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def token_hash(token: str) -> str:
    """What the database keeps of a feed token (and looks requests up by)."""
    return hashlib.sha256(token.encode()).hexdigest()


def feed_url(settings: Settings, token: str) -> str:
    return f"{settings.public_web_url}/calendar/{token}.ics"


async def feed_url_for(user_id: int, settings: Settings) -> str:
    """The user's feed link, made on first ask. Kept in step with CALENDAR_FEED_SECRET: after
    the secret changes, the stored hash is the old link's, and is replaced by the new one's."""
    feed = await CalendarFeed.get_or_none(user_id=user_id)
    if feed is None:
        feed = await _first_feed(user_id, settings)
    token = _token(settings.calendar_feed_secret, user_id, feed.nonce)
    digest = token_hash(token)
    if digest != feed.token_hash:
        await CalendarFeed.filter(id=feed.id).update(token_hash=digest)
    return feed_url(settings, token)


async def _first_feed(user_id: int, settings: Settings) -> CalendarFeed:
    """The user's feed row, made now unless another request or field (two calendarFeedUrl
    fields of one response run at once) made it first: then theirs is kept, so every link
    handed out works. (A reset here would replace the other's link as it is sent.)"""
    nonce = secrets.token_urlsafe(24)
    try:
        token = _token(settings.calendar_feed_secret, user_id, nonce)
        return await CalendarFeed.create(user_id=user_id, nonce=nonce, token_hash=token_hash(token))
    except IntegrityError:
        return await CalendarFeed.get(user_id=user_id)


async def reset_feed(user_id: int, settings: Settings) -> str:
    """A new link for the user; the old one stops working at once. Returns the new link."""
    nonce = secrets.token_urlsafe(24)
    token = _token(settings.calendar_feed_secret, user_id, nonce)
    updated = await CalendarFeed.filter(user_id=user_id).update(nonce=nonce, token_hash=token_hash(token))
    if not updated:
        try:
            await CalendarFeed.create(user_id=user_id, nonce=nonce, token_hash=token_hash(token))
        except IntegrityError:  # made at the same moment by another request: take it over
            await CalendarFeed.filter(user_id=user_id).update(nonce=nonce, token_hash=token_hash(token))
    return feed_url(settings, token)


async def user_for_token(token: str) -> int | None:
    """The user whose current link carries `token`; None for a malformed or revoked one."""
    if not TOKEN_PATTERN.match(token):
        return None
    feed = await CalendarFeed.get_or_none(token_hash=token_hash(token))
    return feed.user_id if feed else None


async def build_feed(user_id: int, settings: Settings, now: datetime) -> bytes:
    """The user's calendar as .ics bytes (deterministic for the same data and window state,
    so its hash is a fair ETag)."""
    attending = Subquery(Registration.filter(user_id=user_id).values("session_id"))
    sessions = (
        await GroupSession.filter(id__in=attending, ends_at__gte=now - HISTORY)
        .order_by("starts_at", "id")
        .limit(MAX_EVENTS)
    )
    domain = parseaddr(settings.mail_from)[1].rpartition("@")[2].strip().lower() or "localhost"

    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "PUBLISH")
    calendar.add("x-wr-calname", "Group sessions")
    for session in sessions:
        cancelled = session.status == SessionStatus.CANCELLED
        page = group_session_url(settings.public_web_url, session.id)
        # Every session listed is one the user hosts or is registered for: may_enter then
        # depends only on the window and cancellation.
        may_enter = rooms.may_enter(
            is_host=session.host_id == user_id,
            is_confirmed=True,
            is_cancelled=cancelled,
            now=now,
            starts_at=session.starts_at,
            ends_at=session.ends_at,
            window=settings.join_window,
        )
        event = Event()
        event.add("uid", session_uid(session.id, domain))
        event.add("sequence", session.sequence)
        event.add("dtstamp", session.updated_at.astimezone(timezone.utc))
        event.add("dtstart", session.starts_at.astimezone(timezone.utc))
        event.add("dtend", session.ends_at.astimezone(timezone.utc))
        event.add("summary", " ".join(session.title.split()))
        opens = rooms.join_opens_at(session.starts_at, settings.join_window).astimezone(timezone.utc)
        description = f"{session.objective}\n\n{page}"
        if may_enter:
            room = rooms.room_url(
                meeting_url=session.meeting_url, room_name=session.room_name, base_url=settings.meeting_base_url
            )
            event.add("location", room)
            event.add("url", room)
            if session.join_instructions:
                description += f"\n\n{session.join_instructions}"
        else:
            event.add("url", page)
            if not cancelled:
                description += f"\n\nThe room link appears here from {opens:%Y-%m-%d %H:%M} UTC."
        event.add("description", description)
        event.add("status", "CANCELLED" if cancelled else "CONFIRMED")
        event.add("transp", "OPAQUE")
        calendar.add_component(event)
    return calendar.to_ical()
