"""Rules that need no database: pure functions, unit-tested on their own."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import datetime, timedelta, timezone
from enum import Enum
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from app.accounts.models import HOSTING_ROLES, ProgramRole
from app.errors import ErrorCode, Problem
from app.text import clean_text  # noqa: F401 - part of the rules' vocabulary

TITLE_MAX = 200
OBJECTIVE_MAX = 10_000
REASON_MAX = 2_000
DURATION_MIN, DURATION_MAX = 5, 1_440
MIN_PARTICIPANTS_LOW = 1
MAX_PARTICIPANTS_LOW, MAX_PARTICIPANTS_HIGH = 2, 1_000
DEFAULT_MIN_PARTICIPANTS = 1
DEFAULT_MAX_PARTICIPANTS = 40
# Far enough for any real plan, near enough that date arithmetic never overflows.
LATEST_START_YEARS = 5


# What each input field is called on the form: messages name fields the way the user
# sees them, so a client can show a message as it is.
LABELS = {
    "title": "Title",
    "objective": "Objective",
    "reason": "Reason",
    "startsAt": "Start time",
    "startsAtLocal": "Start time",
    "timeZone": "Time zone",
    "durationMinutes": "Duration",
    "minParticipants": "Minimum participants",
    "maxParticipants": "Maximum participants",
    "guestIds": "Guests",
}


def label(name: str) -> str:
    """The form's name of the input field `name` (its GraphQL name)."""
    return LABELS.get(name, name)


def _field(name: str) -> tuple[str, ...]:
    return ("input", name)


def minutes_text(minutes: int) -> str:
    """'5 minutes', '1 hour', '24 hours', '1 hour 30 minutes'."""
    hours, rest = divmod(minutes, 60)
    parts = []
    if hours:
        parts.append(f"{hours} hour{'s' if hours != 1 else ''}")
    if rest or not hours:
        parts.append(f"{rest} minute{'s' if rest != 1 else ''}")
    return " ".join(parts)


def check_text(value: str | None, name: str, limit: int, *, required: bool = True) -> list[Problem]:
    """`value` already cleaned. Required and length rules for a text input."""
    if value is None or value == "":
        if required:
            return [Problem(ErrorCode.REQUIRED, f"{label(name)} is required.", _field(name))]
        return []
    if len(value) > limit:
        return [Problem(ErrorCode.TOO_LONG, f"{label(name)} must be at most {limit:,} characters.", _field(name))]
    return []


def check_title_single_line(title: str) -> list[Problem]:
    if "\n" in title or "\t" in title:
        return [Problem(ErrorCode.INVALID, "Title must be on a single line.", _field("title"))]
    return []


def check_duration(minutes: int) -> list[Problem]:
    if not DURATION_MIN <= minutes <= DURATION_MAX:
        return [
            Problem(
                ErrorCode.OUT_OF_RANGE,
                f"Duration must be between {minutes_text(DURATION_MIN)} and {minutes_text(DURATION_MAX)}.",
                _field("durationMinutes"),
            )
        ]
    return []


def check_participant_bounds(min_participants: int, max_participants: int) -> list[Problem]:
    """Range checks of each bound, then min <= max once both are in range."""
    problems = []
    if min_participants < MIN_PARTICIPANTS_LOW or min_participants > MAX_PARTICIPANTS_HIGH:
        problems.append(
            Problem(
                ErrorCode.OUT_OF_RANGE,
                f"Minimum participants must be between {MIN_PARTICIPANTS_LOW} and {MAX_PARTICIPANTS_HIGH:,}.",
                _field("minParticipants"),
            )
        )
    if not MAX_PARTICIPANTS_LOW <= max_participants <= MAX_PARTICIPANTS_HIGH:
        problems.append(
            Problem(
                ErrorCode.OUT_OF_RANGE,
                f"Maximum participants must be between {MAX_PARTICIPANTS_LOW} and {MAX_PARTICIPANTS_HIGH:,} "
                "(the host counts as one).",
                _field("maxParticipants"),
            )
        )
    if not problems and min_participants > max_participants:
        problems.append(
            Problem(
                ErrorCode.MIN_ABOVE_MAX,
                "Minimum participants cannot be more than maximum participants.",
                _field("minParticipants"),
            )
        )
    return problems


def check_starts_at(starts_at: datetime, now: datetime, *, field: str = "startsAt") -> list[Problem]:
    """In the future, and not too far: reported on `field` (startsAt or startsAtLocal,
    whichever the client gave)."""
    if starts_at <= now:
        return [Problem(ErrorCode.IN_THE_PAST, "Start time must be in the future.", _field(field))]
    if starts_at > now + timedelta(days=366 * LATEST_START_YEARS):
        return [
            Problem(
                ErrorCode.OUT_OF_RANGE,
                f"Start time must be within {LATEST_START_YEARS} years from now.",
                _field(field),
            )
        ]
    return []


_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
           "November", "December")


def _offset_text(moment: datetime) -> str:
    offset = moment.utcoffset() or timedelta(0)
    sign = "-" if offset < timedelta(0) else "+"
    hours, rest = divmod(abs(offset), timedelta(hours=1))
    return f"UTC{sign}{hours:02d}:{rest // timedelta(minutes=1):02d}"


def local_instants(local: datetime, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """The UTC instants of the wall-clock time `local` in `zone` with fold=0 and fold=1
    (equal unless the clocks change around it)."""
    return (
        local.replace(tzinfo=zone, fold=0).astimezone(timezone.utc),
        local.replace(tzinfo=zone, fold=1).astimezone(timezone.utc),
    )


def local_to_instant(local: datetime, zone: ZoneInfo, *, field: str = "startsAtLocal") -> datetime | Problem:
    """The UTC instant the wall-clock time `local` (naive) names in `zone`, or the Problem
    that it names none (the clocks skip it: NONEXISTENT_LOCAL_TIME) or two (the clocks pass
    it twice: AMBIGUOUS_LOCAL_TIME; the client then sends the instant itself).

    zoneinfo gives a skipped or repeated wall time a different offset for fold=0 and
    fold=1; a skipped one also does not survive the round trip through UTC."""
    first, second = local.replace(tzinfo=zone, fold=0), local.replace(tzinfo=zone, fold=1)
    try:
        instant = first.astimezone(timezone.utc)
        round_trip = instant.astimezone(zone).replace(tzinfo=None)
    except OverflowError:  # year 1 or 9999 moved past the calendar's end by the offset
        return Problem(
            ErrorCode.OUT_OF_RANGE, f"Start time must be within {LATEST_START_YEARS} years from now.", _field(field)
        )
    if first.utcoffset() == second.utcoffset():
        return instant
    when = f"{local:%H:%M} on {local.day} {_MONTHS[local.month - 1]} {local.year}"
    if round_trip != local:
        return Problem(
            ErrorCode.NONEXISTENT_LOCAL_TIME,
            f"{when} does not exist in {zone.key}: the clocks go forward then. Choose another start time.",
            _field(field),
        )
    return Problem(
        ErrorCode.AMBIGUOUS_LOCAL_TIME,
        f"{when} happens twice in {zone.key}, as the clocks go back: once at {_offset_text(first)} and again "
        f"at {_offset_text(second)}. Choose another start time, or say which one is meant.",
        _field(field),
    )


def check_max_not_below_count(max_participants: int, participant_count: int) -> list[Problem]:
    if max_participants < participant_count:
        return [
            Problem(
                ErrorCode.BELOW_PARTICIPANT_COUNT,
                f"Maximum participants cannot be below the {participant_count:,} people already registered.",
                _field("maxParticipants"),
            )
        ]
    return []


def spots_left(participant_count: int, max_participants: int) -> int:
    """Seats still free (never negative, even for a session edited below its count)."""
    return max(max_participants - participant_count, 0)


def cannot_join_reasons(
    *,
    is_member: bool,
    is_registered: bool,
    is_cancelled: bool,
    starts_at: datetime,
    participant_count: int,
    max_participants: int,
    now: datetime,
) -> list[ErrorCode]:
    """Why a viewer can't join right now, in the order a client should show them;
    empty exactly when they can. The join service refuses with the first of these."""
    if not is_member:
        return [ErrorCode.NOT_A_MEMBER]
    reasons = []
    if is_registered:
        reasons.append(ErrorCode.ALREADY_REGISTERED)
    if is_cancelled:
        reasons.append(ErrorCode.SESSION_CANCELLED)
    if starts_at <= now:
        reasons.append(ErrorCode.SESSION_STARTED)
    if participant_count >= max_participants:
        reasons.append(ErrorCode.SESSION_FULL)
    return reasons


JOIN_REFUSAL_MESSAGES = {
    ErrorCode.NOT_A_MEMBER: "Only members of the program can join this session.",
    ErrorCode.ALREADY_REGISTERED: "You are already registered for this session.",
    ErrorCode.SESSION_CANCELLED: "This session was cancelled.",
    ErrorCode.SESSION_STARTED: "This session has already started.",
    ErrorCode.SESSION_FULL: "This session is full.",
}


MEETING_URL_MAX = 2_000
JOIN_INSTRUCTIONS_MAX = 2_000


def check_meeting_url(url: str) -> list[Problem]:
    """`url` already trimmed and non-empty: an https link of at most 2,000 characters, to a
    host, without credentials, spaces or control characters (it goes into emails and
    calendars as is)."""
    problem = Problem(
        ErrorCode.INVALID,
        "Meeting link must be a full https:// address, like https://meet.example.org/room.",
        _field("meetingUrl"),
    )
    if len(url) > MEETING_URL_MAX:
        return [
            Problem(ErrorCode.TOO_LONG, f"Meeting link must be at most {MEETING_URL_MAX:,} characters.", _field("meetingUrl"))
        ]
    if any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 or ch in '<>"\\`' for ch in url):
        return [problem]
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return [problem]
    if parts.scheme.lower() != "https" or not parts.hostname or "." not in parts.hostname.strip("."):
        return [problem]
    if parts.username is not None or parts.password is not None or port == 0:
        return [problem]
    return []

# --- phase and what may be done in it ----------------------------------------------------------
# The API's action flags (viewerCanEdit, viewerCanCancel, viewerCanLeave, viewerCanReschedule)
# and the services ask the same functions, so a flag is false exactly when the command
# would refuse.


class SessionPhase(str, Enum):
    UPCOMING = "UPCOMING"
    LIVE = "LIVE"
    ENDED = "ENDED"
    CANCELLED = "CANCELLED"


def session_phase(*, is_cancelled: bool, starts_at: datetime, ends_at: datetime, now: datetime) -> SessionPhase:
    """Where a session stands at `now`: CANCELLED whenever it was cancelled (before or
    after its time), else UPCOMING before the start, LIVE until the end, ENDED from then."""
    if is_cancelled:
        return SessionPhase.CANCELLED
    if now < starts_at:
        return SessionPhase.UPCOMING
    if now < ends_at:
        return SessionPhase.LIVE
    return SessionPhase.ENDED


def _host_command_refusal(is_host: bool, phase: SessionPhase, *, until: tuple[SessionPhase, ...]) -> ErrorCode | None:
    if not is_host:
        return ErrorCode.FORBIDDEN
    if phase == SessionPhase.CANCELLED:
        return ErrorCode.SESSION_CANCELLED
    if phase not in until:
        return ErrorCode.SESSION_STARTED
    return None


def cannot_edit_reason(*, is_host: bool, phase: SessionPhase) -> ErrorCode | None:
    """Why the viewer may not edit the session (title, objective, capacity, duration,
    guests); None when they may: the host, until the end, unless cancelled."""
    return _host_command_refusal(is_host, phase, until=(SessionPhase.UPCOMING, SessionPhase.LIVE))


def cannot_cancel_reason(*, is_host: bool, phase: SessionPhase) -> ErrorCode | None:
    """Why the viewer may not cancel the session; None when they may: the host, until
    the end, once."""
    return _host_command_refusal(is_host, phase, until=(SessionPhase.UPCOMING, SessionPhase.LIVE))


def cannot_reschedule_reason(*, is_host: bool, phase: SessionPhase) -> ErrorCode | None:
    """Why the viewer may not move the session's start; None when they may: the host,
    until the start (a session under way keeps its start; its duration may still change)."""
    return _host_command_refusal(is_host, phase, until=(SessionPhase.UPCOMING,))


def cannot_leave_reason(*, is_registered: bool, is_host: bool, phase: SessionPhase) -> ErrorCode | None:
    """Why the viewer may not withdraw their registration; None when they may: a
    registered participant other than the host, until the start, unless cancelled."""
    if not is_registered:
        return ErrorCode.NOT_REGISTERED
    if is_host:
        return ErrorCode.HOST_CANNOT_LEAVE
    if phase == SessionPhase.CANCELLED:
        return ErrorCode.SESSION_CANCELLED
    if phase != SessionPhase.UPCOMING:
        return ErrorCode.SESSION_STARTED
    return None


EDIT_REFUSAL_MESSAGES = {
    ErrorCode.FORBIDDEN: "Only the host can edit this session.",
    ErrorCode.SESSION_CANCELLED: "This session was cancelled, so it can no longer be edited.",
    ErrorCode.SESSION_STARTED: "This session has ended, so it can no longer be edited.",
}
CANCEL_REFUSAL_MESSAGES = {
    ErrorCode.FORBIDDEN: "Only the host can cancel this session.",
    ErrorCode.SESSION_CANCELLED: "This session is already cancelled.",
    ErrorCode.SESSION_STARTED: "This session has ended, so it can no longer be cancelled.",
}
RESCHEDULE_REFUSAL_MESSAGES = {
    **EDIT_REFUSAL_MESSAGES,
    ErrorCode.SESSION_STARTED: "This session has already started, so its start time can no longer change.",
}
LEAVE_REFUSAL_MESSAGES = {
    ErrorCode.NOT_REGISTERED: "You are not registered for this session.",
    ErrorCode.HOST_CANNOT_LEAVE: "As the host, you cannot leave your own session; cancel it instead.",
    ErrorCode.SESSION_CANCELLED: "This session was cancelled.",
    ErrorCode.SESSION_STARTED: "This session has already started.",
}


# --- idempotency keys ------------------------------------------------------------------------

IDEMPOTENCY_KEY_MAX = 255


def check_idempotency_key(key: str) -> list[Problem]:
    """A key is 1 to 255 printable ASCII characters without spaces (a UUID, a ULID, a
    random token): opaque to the server, stored and compared as sent."""
    if not 1 <= len(key) <= IDEMPOTENCY_KEY_MAX or not all("!" <= c <= "~" for c in key):
        return [
            Problem(
                ErrorCode.INVALID,
                f"idempotencyKey must be 1 to {IDEMPOTENCY_KEY_MAX} printable ASCII characters without spaces.",
                _field("idempotencyKey"),
            )
        ]
    return []


def input_fingerprint(values: Mapping[str, Any]) -> str:
    """sha256 (hex) of a command's input in canonical form: keys sorted, instants in UTC,
    so the same request sent again (with another UTC offset, or keys in another order)
    has the same fingerprint, and any other request has another."""

    def canonical(value: Any) -> Any:
        if isinstance(value, datetime):
            return value.astimezone(timezone.utc).isoformat()
        if isinstance(value, Enum):
            return value.value
        if isinstance(value, (list, tuple)):
            return [canonical(v) for v in value]
        return value

    text = json.dumps({k: canonical(v) for k, v in values.items()}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def minimum_deadline(starts_at: datetime, decided_at: datetime, lead: timedelta) -> datetime:
    """When a session's minimum is decided: `lead` before its start, or the start itself
    when the session was created (or its start moved, `decided_at`) later than that."""
    deadline = starts_at - lead
    return starts_at if decided_at > deadline else deadline


def may_host(role: ProgramRole | None) -> bool:
    """Whether a member with `role` in a program may host its group sessions (mentors and
    admins; None, not a member, may not). createGroupSession and
    ProgramMembership.viewerCanHost both ask this."""
    return role in HOSTING_ROLES
