"""Turns committed events into live messages: the after-commit handler of `Effects`.

Each message carries a snapshot of the session as it is after the commit, read once
here, so a thousand subscribers cost one query, not a thousand.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from app.group_sessions.events import (
    Event,
    GroupSessionCancelled,
    GroupSessionChanged,
    RegistrationAdded,
    RegistrationRemoved,
)
from app.accounts.models import User
from app.clock import utcnow
from app.group_sessions.models import GroupSession, Registration, SessionStatus
from app.live.broker import Broker

SESSION_FIELDS = (
    "id",
    "program_id",
    "host_id",
    "title",
    "objective",
    "starts_at",
    "ends_at",
    "duration_minutes",
    "min_participants",
    "max_participants",
    "participant_count",
    "status",
    "cancellation_reason",
    "cancelled_at",
    "sequence",
    "created_at",
    "updated_at",
)
USER_FIELDS = ("id", "name", "email", "time_zone")
_DATETIMES = {"starts_at", "ends_at", "cancelled_at", "created_at", "updated_at", "registered_at", "occurred_at"}


def host_channel(host_id: int) -> str:
    return f"host:{host_id}"


def session_channel(session_id: int) -> str:
    return f"session:{session_id}"


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, SessionStatus):
        return value.value
    return value


def session_snapshot(row: GroupSession) -> dict[str, Any]:
    return {name: _plain(getattr(row, name)) for name in SESSION_FIELDS}


def _parse(data: dict[str, Any]) -> dict[str, Any]:
    return {k: datetime.fromisoformat(v) if k in _DATETIMES and v is not None else v for k, v in data.items()}


def session_from_snapshot(data: dict[str, Any]) -> GroupSession:
    """An unsaved GroupSession row equal to the one that was published."""
    fields = _parse(data)
    fields["status"] = SessionStatus(fields["status"])
    return GroupSession(**fields)


def registration_from_message(data: dict[str, Any]) -> Registration:
    return Registration(**_parse(data))


def user_from_message(data: dict[str, Any]) -> User:
    """An unsaved User row with the public fields that were published."""
    return User(**data)


def make_publisher(broker: Broker):
    """The after-commit handler that publishes `events` on `broker`.

    Runs once per commit whatever the number of subscribers: the session (and, for a
    registration, the participant) are read here once and travel in the message, so
    subscribers render events without touching the database for them.
    """

    async def publish(events: Sequence[Event]) -> None:
        # The commit has just happened: this is the instant `occurredAt` reports, and the
        # one the benchmark measures delivery latency from.
        committed_at = utcnow()
        for event in events:
            if not isinstance(event, (RegistrationAdded, RegistrationRemoved, GroupSessionChanged, GroupSessionCancelled)):
                continue
            row = await GroupSession.get_or_none(id=event.session_id)
            if row is None:
                continue
            snapshot = session_snapshot(row)
            if isinstance(event, (RegistrationAdded, RegistrationRemoved)):
                # The counts as this change left them (a later join may already have committed).
                host_snapshot = {
                    **snapshot,
                    "participant_count": event.participant_count,
                    "max_participants": event.max_participants,
                }
                participant = await User.get_or_none(id=event.user_id)
                await broker.publish(
                    host_channel(event.host_id),
                    {
                        "type": "registration",
                        "kind": "JOINED" if isinstance(event, RegistrationAdded) else "LEFT",
                        "occurred_at": committed_at.isoformat(),
                        "registration": {
                            "id": event.registration_id,
                            "session_id": event.session_id,
                            "user_id": event.user_id,
                            "is_host": event.is_host,
                            "registered_at": event.registered_at.isoformat(),
                        },
                        "participant": (
                            {name: getattr(participant, name) for name in USER_FIELDS} if participant else None
                        ),
                        "session": host_snapshot,
                    },
                )
            if isinstance(event, GroupSessionCancelled):
                await broker.publish(host_channel(event.host_id), {"type": "cancelled", "session": snapshot})
            await broker.publish(session_channel(event.session_id), {"type": "session", "session": snapshot})

    return publish
