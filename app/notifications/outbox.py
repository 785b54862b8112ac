"""The email outbox: turns group-session events into outbox rows inside the transaction
of the change, so an email exists exactly when its change committed.

`make_outbox_handler(settings)` is the `Effects.in_transaction` handler. It reads what the
emails need through the transaction's connection, renders every message completely (in
each recipient's own time zone) and inserts the rows; the delivery worker
(`app.notifications.worker`) sends them later, verbatim. Also here: what the operator
commands need (`list_outbox`, `retry_failed`).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import replace
from datetime import datetime
from email.errors import HeaderParseError
from typing import Any

from app.accounts.models import User
from app.clock import utcnow
from app.group_sessions.events import (
    Event,
    GroupSessionCancelled,
    GroupSessionChanged,
    GroupSessionCreated,
    InTransactionHandler,
    RegistrationAdded,
    RegistrationRemoved,
)
from app.group_sessions.models import GroupSession, Registration, SessionStatus
from app.links import group_session_url
from app.notifications import emails
from app.notifications.emails import Letterhead, Person, RenderedEmail, SessionFacts
from app.notifications.models import OutboxEmail, OutboxStatus
from app.settings import Settings

logger = logging.getLogger(__name__)


def _person(user: User) -> Person:
    return Person(id=user.id, name=user.name, email=user.email, time_zone=user.time_zone)


class _Reader:
    """Reads sessions and users through the transaction's connection, once each."""

    def __init__(self, connection: Any, settings: Settings) -> None:
        self.connection = connection
        self.settings = settings
        self.users: dict[int, Person] = {}
        self.sessions: dict[int, SessionFacts] = {}

    async def load_users(self, ids: Iterable[int]) -> None:
        missing = {i for i in ids if i not in self.users}
        if missing:
            for user in await User.filter(id__in=list(missing)).using_db(self.connection):
                self.users[user.id] = _person(user)

    async def session(self, session_id: int) -> SessionFacts | None:
        if session_id not in self.sessions:
            row = await GroupSession.filter(id=session_id).using_db(self.connection).first()
            if row is None:
                return None
            await self.load_users([row.host_id])
            self.sessions[session_id] = SessionFacts(
                id=row.id,
                title=row.title,
                objective=row.objective,
                starts_at=row.starts_at,
                ends_at=row.ends_at,
                participant_count=row.participant_count,
                max_participants=row.max_participants,
                sequence=row.sequence,
                cancelled=row.status == SessionStatus.CANCELLED,
                url=group_session_url(self.settings.public_web_url, row.id),
                host=self.users[row.host_id],
            )
        return self.sessions[session_id]

    async def registered_user_ids(self, session_id: int) -> list[int]:
        return list(
            await Registration.filter(session_id=session_id)
            .using_db(self.connection)
            .order_by("id")
            .values_list("user_id", flat=True)
        )


async def render_events(events: Sequence[Event], connection: Any, settings: Settings) -> list[RenderedEmail]:
    """Every email the events call for, rendered for each recipient."""
    reader = _Reader(connection, settings)
    letterhead = Letterhead(settings.mail_from)
    out: list[RenderedEmail] = []
    # Everyone the events name, in one statement (hosts, participants, guests).
    await reader.load_users(_people_named(events))

    def add(render, *args: Any, **kwargs: Any) -> None:
        # A recipient whose address cannot be written in a header cannot get mail either:
        # skip that one email rather than refuse the change that caused it.
        try:
            out.append(render(*args, letterhead=letterhead, **kwargs))
        except (ValueError, HeaderParseError, IndexError):
            logger.warning("skipped %s email: an address could not be written", render.__name__, exc_info=True)

    for event in events:
        session = await reader.session(event.session_id)
        if session is None:
            continue
        written_at = event.occurred_at
        if isinstance(event, GroupSessionCreated):
            await reader.load_users(event.guest_ids)
            add(emails.session_created, session, written_at=written_at)
            for guest_id in event.guest_ids:
                if guest_id in reader.users:
                    add(emails.guest_invited, session, reader.users[guest_id], written_at=written_at)
        elif isinstance(event, RegistrationAdded):
            await reader.load_users([event.user_id])
            participant = reader.users[event.user_id]
            # The counts of the event are those right after this registration.
            facts = _with_counts(session, event.participant_count, event.max_participants)
            add(emails.registration_added, facts, participant, written_at=written_at)
            add(emails.registration_confirmed, facts, participant, written_at=written_at)
        elif isinstance(event, RegistrationRemoved):
            await reader.load_users([event.user_id])
            participant = reader.users[event.user_id]
            facts = _with_counts(session, event.participant_count, event.max_participants)
            add(emails.registration_removed, facts, participant, written_at=written_at)
            add(emails.registration_withdrawn, facts, participant, written_at=written_at)
        elif isinstance(event, GroupSessionChanged):
            registered = await reader.registered_user_ids(session.id)
            await reader.load_users([*registered, *event.added_guest_ids])
            if event.time_changed:
                for user_id in registered:
                    add(
                        emails.session_time_changed,
                        session,
                        reader.users[user_id],
                        previous_starts_at=event.previous_starts_at,
                        previous_ends_at=event.previous_ends_at,
                        written_at=written_at,
                    )
            already = set(registered)
            for guest_id in event.added_guest_ids:
                if guest_id not in already and guest_id in reader.users:
                    add(emails.guest_invited, session, reader.users[guest_id], written_at=written_at)
        elif isinstance(event, GroupSessionCancelled):
            await reader.load_users(event.participant_ids)
            for user_id in event.participant_ids:
                if user_id in reader.users:
                    add(emails.session_cancelled, session, reader.users[user_id], reason=event.reason, written_at=written_at)
    return out


def _people_named(events: Sequence[Event]) -> set[int]:
    ids: set[int] = set()
    for event in events:
        ids.add(event.host_id)
        if isinstance(event, (RegistrationAdded, RegistrationRemoved)):
            ids.add(event.user_id)
        for name in ("guest_ids", "added_guest_ids", "participant_ids"):
            ids.update(getattr(event, name, ()))
    return ids


def _with_counts(session: SessionFacts, participant_count: int, max_participants: int) -> SessionFacts:
    return replace(session, participant_count=participant_count, max_participants=max_participants)


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


def make_outbox_handler(settings: Settings) -> InTransactionHandler:
    """The `Effects.in_transaction` handler: events -> outbox rows, in the same transaction."""

    async def write_outbox(events: Sequence[Event], connection: Any) -> None:
        await enqueue(await render_events(events, connection, settings), connection)

    return write_outbox


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
