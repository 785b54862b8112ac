"""Meeting rooms: where a session takes place, and when those registered may enter.

A session has the host's own meeting link, or else a room on MEETING_BASE_URL whose name is
random (192 bits: nobody finds a room by guessing). The room is shown only to the host and
confirmed participants, and only from `join_opens_at` (the start minus JOIN_WINDOW) until the
end: the API, the calendar feed and reminder emails all ask `may_enter` here.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from urllib.parse import quote

ROOM_NAME_BYTES = 24  # 192 bits of randomness (the issue asks for at least 128)


def new_room_name() -> str:
    """A fresh unguessable room name (URL-safe)."""
    return secrets.token_urlsafe(ROOM_NAME_BYTES)


def room_url(*, meeting_url: str | None, room_name: str, base_url: str) -> str:
    """The link people follow to enter: the host's own, or the generated room."""
    if meeting_url:
        return meeting_url
    return f"{base_url.rstrip('/')}/{quote(room_name, safe='-_')}"


def join_opens_at(starts_at: datetime, window: timedelta) -> datetime:
    """When the room opens to those registered."""
    return starts_at - window


def is_open(*, now: datetime, starts_at: datetime, ends_at: datetime, window: timedelta) -> bool:
    """True from JOIN_WINDOW before the start until the end."""
    return join_opens_at(starts_at, window) <= now < ends_at


def may_enter(
    *, is_host: bool, is_confirmed: bool, is_cancelled: bool, now: datetime, starts_at: datetime,
    ends_at: datetime, window: timedelta,
) -> bool:
    """The one rule for seeing the room: host or confirmed participant, not cancelled,
    inside the window."""
    return (
        (is_host or is_confirmed)
        and not is_cancelled
        and is_open(now=now, starts_at=starts_at, ends_at=ends_at, window=window)
    )
