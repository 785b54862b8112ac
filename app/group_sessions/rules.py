"""Rules that need no database: pure functions, unit-tested on their own."""

from __future__ import annotations

from datetime import datetime, timedelta
from urllib.parse import urlsplit

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


def _field(name: str) -> tuple[str, ...]:
    return ("input", name)


def check_text(value: str | None, name: str, limit: int, *, required: bool = True) -> list[Problem]:
    """`value` already cleaned. Required and length rules for a text input."""
    if value is None or value == "":
        if required:
            return [Problem(ErrorCode.REQUIRED, f"{name} is required.", _field(name))]
        return []
    if len(value) > limit:
        return [Problem(ErrorCode.TOO_LONG, f"{name} must be at most {limit:,} characters.", _field(name))]
    return []


def check_title_single_line(title: str) -> list[Problem]:
    if "\n" in title or "\t" in title:
        return [Problem(ErrorCode.INVALID, "title must be a single line.", _field("title"))]
    return []


def check_duration(minutes: int) -> list[Problem]:
    if not DURATION_MIN <= minutes <= DURATION_MAX:
        return [
            Problem(
                ErrorCode.OUT_OF_RANGE,
                f"durationMinutes must be between {DURATION_MIN} and {DURATION_MAX:,}.",
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
                f"minParticipants must be between {MIN_PARTICIPANTS_LOW} and {MAX_PARTICIPANTS_HIGH:,}.",
                _field("minParticipants"),
            )
        )
    if not MAX_PARTICIPANTS_LOW <= max_participants <= MAX_PARTICIPANTS_HIGH:
        problems.append(
            Problem(
                ErrorCode.OUT_OF_RANGE,
                f"maxParticipants must be between {MAX_PARTICIPANTS_LOW} and {MAX_PARTICIPANTS_HIGH:,} "
                "(the host counts as one).",
                _field("maxParticipants"),
            )
        )
    if not problems and min_participants > max_participants:
        problems.append(
            Problem(
                ErrorCode.MIN_ABOVE_MAX,
                "minParticipants may not be above maxParticipants.",
                _field("minParticipants"),
            )
        )
    return problems


def check_starts_at(starts_at: datetime, now: datetime) -> list[Problem]:
    if starts_at <= now:
        return [Problem(ErrorCode.IN_THE_PAST, "startsAt must be in the future.", _field("startsAt"))]
    if starts_at > now + timedelta(days=366 * LATEST_START_YEARS):
        return [
            Problem(
                ErrorCode.OUT_OF_RANGE,
                f"startsAt must be within {LATEST_START_YEARS} years from now.",
                _field("startsAt"),
            )
        ]
    return []


def check_max_not_below_count(max_participants: int, participant_count: int) -> list[Problem]:
    if max_participants < participant_count:
        return [
            Problem(
                ErrorCode.BELOW_PARTICIPANT_COUNT,
                f"maxParticipants may not be below the {participant_count} people already registered.",
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
