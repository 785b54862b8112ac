"""Publishes committed events to live subscribers: one after-commit handler per kind
of event (wired in `app.handlers`).

Each message carries the session as the change left it, and for a registration the
participant, straight from the event: publishing reads nothing, and a thousand
subscribers cost no query at all.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from app.accounts.models import User
from app.clock import utcnow
from app.group_sessions.events import (
    GroupSessionCancelled,
    GroupSessionChanged,
    InvitationDeclined,
    JoinWindowOpened,
    MinimumReached,
    Promoted,
    RegistrationAdded,
    RegistrationChange,
    RegistrationRemoved,
    SessionSnapshot,
    Waitlisted,
)
from app.group_sessions.models import GroupSession, Registration, RegistrationStatus, SessionStatus
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
    "meeting_url",
    "join_instructions",
    "room_name",
    "created_at",
    "updated_at",
    "time_zone",
    "cancel_if_minimum_not_reached",
    "minimum_deadline",
    "minimum_reached_at",
    "waitlist_count",
)
USER_FIELDS = ("id", "name", "email", "time_zone")
_DATETIMES = {
    "starts_at", "ends_at", "cancelled_at", "created_at", "updated_at", "registered_at", "occurred_at",
    "minimum_deadline", "minimum_reached_at", "waitlisted_at",
}


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


def session_message(session: SessionSnapshot) -> dict[str, Any]:
    """The session as messages carry it: every column, JSON-ready."""
    return {name: _plain(getattr(session, name)) for name in SESSION_FIELDS}


def _parse(data: dict[str, Any]) -> dict[str, Any]:
    return {k: datetime.fromisoformat(v) if k in _DATETIMES and v is not None else v for k, v in data.items()}


def session_from_snapshot(data: dict[str, Any]) -> GroupSession:
    """An unsaved GroupSession row equal to the one that was published."""
    fields = _parse(data)
    fields["status"] = SessionStatus(fields["status"])
    return GroupSession(**fields)


def registration_from_message(data: dict[str, Any]) -> Registration:
    fields = _parse(data)
    fields["status"] = RegistrationStatus(fields.get("status") or RegistrationStatus.CONFIRMED.value)
    return Registration(**fields)


def user_from_message(data: dict[str, Any]) -> User:
    """An unsaved User row with the public fields that were published."""
    return User(**data)


class Publisher:
    """The after-commit handlers that publish events on `broker`."""

    def __init__(self, broker: Broker) -> None:
        self.broker = broker

    async def registration_added(self, event: RegistrationAdded) -> None:
        """To the host: JOINED, with the participant; to the session's watchers: its new counts."""
        await self._registration(event, "JOINED")

    async def registration_removed(self, event: RegistrationRemoved) -> None:
        """To the host: LEFT, with the participant; to the session's watchers: its new counts."""
        await self._registration(event, "LEFT")

    async def minimum_reached(self, event: MinimumReached) -> None:
        """To the host: MINIMUM_REACHED, with the registration that reached it (its JOINED
        told the session's watchers the new counts already)."""
        await self._registration(event, "MINIMUM_REACHED", watchers=False)

    async def waitlisted(self, event: Waitlisted) -> None:
        """To the host: WAITLISTED, with the member; to the session's watchers: its new waitlistCount."""
        await self._registration(event, "WAITLISTED")

    async def promoted(self, event: Promoted) -> None:
        """To the host: PROMOTED, with the member; to the session's watchers: its new counts."""
        await self._registration(event, "PROMOTED")

    async def session_changed(self, event: GroupSessionChanged) -> None:
        """To the session's watchers: the session as edited."""
        await self._session(session_message(event.session))

    async def join_window_opened(self, event: JoinWindowOpened) -> None:
        """To the session's watchers: the session again, unchanged, when its room opens, so
        each subscriber's `room` and `viewerCanEnter` are resolved anew (a page's button
        turns into Enter for those who may enter)."""
        await self._session(session_message(event.session))

    async def invitation_declined(self, event: InvitationDeclined) -> None:
        """To the session's watchers: the session again, so a host watching it
        (`groupSessionUpdated` selecting `invitations`) sees the answer. Not on the host's
        registration channel: a RegistrationEvent must carry a registration, and a guest
        who declines without having registered has none."""
        await self._session(session_message(event.session))

    async def session_cancelled(self, event: GroupSessionCancelled) -> None:
        """To the host (ending a subscription to that session) and the session's watchers."""
        session = session_message(event.session)
        await self.broker.publish(host_channel(event.session.host_id), {"type": "cancelled", "session": session})
        await self._session(session)

    async def _registration(self, event: RegistrationChange, kind: str, *, watchers: bool = True) -> None:
        # The commit has just happened: this is the instant `occurredAt` reports, and the
        # one the benchmark measures delivery latency from.
        committed_at = utcnow()
        session = session_message(event.session)
        participant = event.participant
        await self.broker.publish(
            host_channel(event.session.host_id),
            {
                "type": "registration",
                "kind": kind,
                "occurred_at": committed_at.isoformat(),
                "registration": {
                    "id": event.registration_id,
                    "session_id": event.session.id,
                    "user_id": participant.id,
                    "is_host": event.is_host,
                    "registered_at": event.registered_at.isoformat(),
                    "status": event.status.value,
                    "waitlisted_at": event.waitlisted_at.isoformat() if event.waitlisted_at else None,
                },
                "participant": {name: getattr(participant, name) for name in USER_FIELDS},
                "session": session,
            },
        )
        if watchers:
            await self._session(session)

    async def _session(self, session: dict[str, Any]) -> None:
        await self.broker.publish(session_channel(session["id"]), {"type": "session", "session": session})
