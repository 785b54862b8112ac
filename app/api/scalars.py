"""The contract's DateTime: ISO 8601 with an offset in, UTC with a 'Z' out."""

from __future__ import annotations

from datetime import datetime, timezone
import strawberry

_DESCRIPTION = (
    "An instant in time, ISO 8601 with an offset (2026-12-01T17:00:00+01:00). "
    "Output is always UTC ('Z'). Input without an offset is rejected."
)


def serialize_datetime(value: datetime) -> str:
    """UTC, 'Z' suffix, whole seconds unless the instant has a fraction."""
    utc = value.astimezone(timezone.utc)
    text = utc.isoformat(timespec="microseconds" if utc.microsecond else "seconds")
    return text.replace("+00:00", "Z")


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
        raise ValueError(
            f"DateTime needs a UTC offset (such as +01:00 or Z) to say which instant is meant; got {value!r}."
        )
    try:
        return parsed.astimezone(timezone.utc)
    except OverflowError:
        raise ValueError(f"DateTime is outside the supported range (years 1 to 9999 in UTC); got {value!r}.") from None


# A ScalarDefinition: the schema maps `datetime` to it (StrawberryConfig.scalar_map).
DateTime = strawberry.scalar(
    name="DateTime",
    description=_DESCRIPTION,
    serialize=serialize_datetime,
    parse_value=parse_datetime,
)
