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
    return parsed.astimezone(timezone.utc)


# A ScalarDefinition: the schema maps `datetime` to it (StrawberryConfig.scalar_map).
DateTime = strawberry.scalar(
    name="DateTime",
    description=_DESCRIPTION,
    serialize=serialize_datetime,
    parse_value=parse_datetime,
)
