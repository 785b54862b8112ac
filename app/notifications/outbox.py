"""The email outbox: each event's emails become outbox rows inside the transaction of
the change, so an email exists exactly when its change committed.

`Outbox(settings)` has one in-transaction handler per kind of event (wired in
`app.handlers`): it renders every email the event calls for, completely and in each
recipient's own time zone, from what the event carries (no reads), and inserts them in
one statement. The delivery worker (`app.notifications.worker`) sends them later,
verbatim. Also here: what the operator commands need (`list_outbox`, `retry_failed`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from email.errors import HeaderParseError
from typing import Any

from app.clock import utcnow
from app.group_sessions.events import (
    GroupSessionCancelled,
    GroupSessionChanged,
    GroupSessionCreated,
    RegistrationAdded,
    RegistrationRemoved,
    SessionSnapshot,
)
from app.links import group_session_url
from app.notifications import emails
from app.notifications.emails import Letterhead, RenderedEmail, SessionFacts
from app.notifications.models import OutboxEmail, OutboxStatus
from app.settings import Settings

logger = logging.getLogger(__name__)


class Outbox:
    """The emails of each kind of event, written as outbox rows through the change's
    transaction (`connection`)."""

    def __init__(self, settings: Settings) -> None:
        self.letterhead = Letterhead(settings.mail_from)
        self.public_web_url = settings.public_web_url

    async def session_created(self, event: GroupSessionCreated, connection: Any) -> None:
        """To the host: the confirmation with the calendar invite; to each guest: an invitation."""
        session, at = self._facts(event.session), event.occurred_at
        await self._write(
            connection,
            [
                self._render(emails.session_created, session, written_at=at),
                *(self._render(emails.guest_invited, session, guest, written_at=at) for guest in event.guests),
            ],
        )

    async def registration_added(self, event: RegistrationAdded, connection: Any) -> None:
        """To the host: who registered and the new count; to the participant: the
        confirmation with the calendar invite."""
        session, at = self._facts(event.session), event.occurred_at
        await self._write(
            connection,
            [
                self._render(emails.registration_added, session, event.participant, written_at=at),
                self._render(emails.registration_confirmed, session, event.participant, written_at=at),
            ],
        )

    async def registration_removed(self, event: RegistrationRemoved, connection: Any) -> None:
        """To the host: who withdrew and the new count; to the participant: the
        confirmation, with a calendar CANCEL."""
        session, at = self._facts(event.session), event.occurred_at
        await self._write(
            connection,
            [
                self._render(emails.registration_removed, session, event.participant, written_at=at),
                self._render(emails.registration_withdrawn, session, event.participant, written_at=at),
            ],
        )

    async def session_changed(self, event: GroupSessionChanged, connection: Any) -> None:
        """To everyone registered, when the time changed: the new time and the updated
        invite; to each newly invited guest: an invitation."""
        session, at = self._facts(event.session), event.occurred_at
        rendered = []
        if event.time_changed:
            rendered += [
                self._render(
                    emails.session_time_changed,
                    session,
                    person,
                    previous_starts_at=event.previous_starts_at,
                    previous_ends_at=event.previous_ends_at,
                    written_at=at,
                )
                for person in event.registered
            ]
        rendered += [self._render(emails.guest_invited, session, guest, written_at=at) for guest in event.added_guests]
        await self._write(connection, rendered)

    async def session_cancelled(self, event: GroupSessionCancelled, connection: Any) -> None:
        """To everyone registered: the cancellation, the reason, and a calendar CANCEL."""
        session, at = self._facts(event.session), event.occurred_at
        await self._write(
            connection,
            [
                self._render(emails.session_cancelled, session, person, reason=event.reason, written_at=at)
                for person in event.registered
            ],
        )

    def _facts(self, session: SessionSnapshot) -> SessionFacts:
        return SessionFacts.of(session, group_session_url(self.public_web_url, session.id))

    def _render(self, render: Callable[..., RenderedEmail], *args: Any, **kwargs: Any) -> RenderedEmail | None:
        # A recipient whose address cannot be written in a header cannot get mail either:
        # skip that one email rather than refuse the change that caused it.
        try:
            return render(*args, letterhead=self.letterhead, **kwargs)
        except (ValueError, HeaderParseError, IndexError):
            logger.warning("skipped %s email: an address could not be written", render.__name__, exc_info=True)
            return None

    async def _write(self, connection: Any, rendered: Iterable[RenderedEmail | None]) -> None:
        await enqueue([email for email in rendered if email is not None], connection)


async def enqueue(rendered: Sequence[RenderedEmail], connection: Any, *, now: datetime | None = None) -> int:
    """Insert one PENDING row per email through `connection` (the change's transaction)."""
    if not rendered:
        return 0
    due = now or utcnow()
    await OutboxEmail.bulk_create(
        [
            OutboxEmail(
                message_id=email.message_id,
                kind=email.kind,
                recipient=email.recipient,
                subject=email.subject[:500],
                message=email.message,
                status=OutboxStatus.PENDING,
                attempts=0,
                next_attempt_at=due,
            )
            for email in rendered
        ],
        using_db=connection,
    )
    return len(rendered)


# --- for operators --------------------------------------------------------------------------


async def list_outbox(
    statuses: Sequence[OutboxStatus] = (OutboxStatus.PENDING, OutboxStatus.SENDING, OutboxStatus.FAILED),
    *,
    limit: int = 100,
) -> list[OutboxEmail]:
    """Rows in these statuses, oldest first (the message itself is not loaded)."""
    return (
        await OutboxEmail.filter(status__in=list(statuses))
        .order_by("id")
        .limit(limit)
        .only("id", "kind", "recipient", "subject", "status", "attempts", "next_attempt_at", "last_error", "created_at")
    )


async def count_by_status() -> dict[OutboxStatus, int]:
    counts = {status: 0 for status in OutboxStatus}
    for status in OutboxStatus:
        counts[status] = await OutboxEmail.filter(status=status).count()
    return counts


async def retry_failed(ids: Sequence[int] | None = None, *, now: datetime | None = None) -> int:
    """Put FAILED rows (all, or those with `ids`) back in the queue, due now, with a fresh
    count of attempts. Returns how many were re-queued."""
    query = OutboxEmail.filter(status=OutboxStatus.FAILED)
    if ids is not None:
        query = query.filter(id__in=list(ids))
    return await query.update(status=OutboxStatus.PENDING, attempts=0, next_attempt_at=now or utcnow())
