"""The contract's date scalars.

- DateTime: ISO 8601 with an offset in, UTC with a 'Z' out.
- LocalDateTime: a wall-clock time without offset ("2027-03-29T17:00"), read in a time
  zone the input names beside it.

A malformed value from a client does not fail the request: `parse_value` answers a
`Malformed` carrying the text, and `app.api.mutation.mutate` turns a `Malformed` found in
a mutation's input into a userError on that field (a form shows it beside the field).
Only mutation inputs hold these scalars; a field argument of either type elsewhere must
reject a `Malformed` itself (tests/api/test_form_errors.py checks that none exists).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import NewType

import strawberry

_DESCRIPTION = (
    "An instant in time, ISO 8601 with an offset (2026-12-01T17:00:00+01:00). "
    "Output is always UTC ('Z'). Input without an offset is rejected."
)


def _utc_text(value: datetime) -> str:
    utc = value.astimezone(timezone.utc)
    text = utc.isoformat(timespec="microseconds" if utc.microsecond else "seconds")
    return text.replace("+00:00", "Z")


# The text of instants serialized lately. A page repeats few of them across requests (a
# session's start and end, its participants' registration times), and formatting one
# costs ~2 us against ~0.2 us for a lookup. Only instants in `timezone.utc`, what both
# databases give back: for them equality and hashing are exact (an instant in a ZoneInfo
# zone compares by wall time within its zone, so the two readings of an ambiguous hour
# would share an entry). Cleared when full: a bound, not an eviction policy.
_SERIALIZED: dict[datetime, str] = {}
SERIALIZED_CACHE_SIZE = 4096


def serialize_datetime(value: datetime) -> str:
    """UTC, 'Z' suffix, whole seconds unless the instant has a fraction."""
    if value.tzinfo is not timezone.utc or type(value) is not datetime:
        return _utc_text(value)
    text = _SERIALIZED.get(value)
    if text is None:
        text = _utc_text(value)
        if len(_SERIALIZED) >= SERIALIZED_CACHE_SIZE:
            _SERIALIZED.clear()
        _SERIALIZED[value] = text
    return text


def parse_datetime(value: object) -> datetime:
    """The UTC instant `value` (ISO 8601 with an offset) names. Anything else, including an
    instant outside the calendar Python can hold once moved to UTC (9999-12-31T23:59:59-14:00,
    0001-01-01T00:00:00+14:00), raises ValueError: graphql-core reports a scalar's
    ValueError as the client's bad input, any other exception as a bug."""
    if not isinstance(value, str):
        raise ValueError("DateTime must be a string such as 2026-12-01T17:00:00+01:00.")
    if len(value) > 64:
        raise ValueError("DateTime is too long to be an ISO 8601 instant.")
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        raise ValueError(f"DateTime must be ISO 8601 with an offset, such as 2026-12-01T17:00:00+01:00; got {value!r}.") from None
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        raise MissingOffset(
            f"DateTime needs a UTC offset (such as +01:00 or Z) to say which instant is meant; got {value!r}."
        )
    try:
        return parsed.astimezone(timezone.utc)
    except OverflowError:
        raise ValueError(f"DateTime is outside the supported range (years 1 to 9999 in UTC); got {value!r}.") from None


@dataclass(frozen=True)
class Malformed:
    """What a client sent where a date was expected and that is none: `text` as sent
    (cut to 64 characters), `reason` saying why, for the userError."""

    text: str
    reason: str
    # A well-formed date and time that lacks the UTC offset a DateTime needs.
    missing_offset: bool = False


class MissingOffset(ValueError):
    """A DateTime without a UTC offset."""


def _lenient(parse):
    def parse_value(value: object):
        try:
            return parse(value)
        except ValueError as error:
            return Malformed(str(value)[:64], str(error), isinstance(error, MissingOffset))

    return parse_value


# A ScalarDefinition: the schema maps `datetime` to it (StrawberryConfig.scalar_map).
DateTime = strawberry.scalar(
    name="DateTime",
    description=_DESCRIPTION,
    serialize=serialize_datetime,
    parse_value=_lenient(parse_datetime),
)


# --- LocalDateTime ---------------------------------------------------------------------------

_LOCAL_PATTERN = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2})?")


def parse_local_datetime(value: object) -> datetime:
    """The naive wall-clock time `value` names ("2027-03-29T17:00" or "2027-03-29T17:00:00",
    no offset); ValueError for anything else, a date that does not exist (30 February)
    included."""
    if not isinstance(value, str) or not _LOCAL_PATTERN.fullmatch(value.strip()):
        raise ValueError(
            f"LocalDateTime must be a date and time without offset, such as 2027-03-29T17:00; got {str(value)[:64]!r}."
        )
    try:
        return datetime.fromisoformat(value.strip())
    except ValueError:
        raise ValueError(f"LocalDateTime names a day that does not exist; got {value!r}.") from None


def serialize_local_datetime(value: datetime) -> str:
    """"2027-03-29T17:00", with ":SS" only when the seconds are not zero."""
    return value.strftime("%Y-%m-%dT%H:%M:%S" if value.second else "%Y-%m-%dT%H:%M")


# The Python type of LocalDateTime values: naive datetimes (StrawberryConfig.scalar_map
# maps it to the scalar below).
LocalDateTimeValue = NewType("LocalDateTimeValue", datetime)

LocalDateTime = strawberry.scalar(
    name="LocalDateTime",
    description=(
        "A wall-clock date and time without offset, as people type it: 2027-03-29T17:00 (seconds optional). "
        "It is read in the time zone named beside it (a session's timeZone)."
    ),
    serialize=serialize_local_datetime,
    parse_value=_lenient(parse_local_datetime),
)
