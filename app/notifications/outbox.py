"""The email outbox: each event's emails become outbox rows inside the transaction of
the change, so an email exists exactly when its change committed.

`Outbox(settings)` has one in-transaction handler per kind of event (wired in
`app.handlers`): it renders every email the event calls for, completely and in each
recipient's own time zone, from what the event carries (no reads), and inserts them in
one statement. The delivery worker (`app.notifications.worker`) sends them later,
verbatim. Also here: what the operator commands need (`list_outbox`, `retry_failed`).

Two rules keep the outbox honest and quiet:
- `enqueue` parses every message back before it enters the outbox and refuses one that
  does not say exactly what was built (`message_check`): it is stored REFUSED, never sent,
  logged and counted (`REFUSED_EMAILS`, and `python -m app outbox`). The change that
  caused it still commits: one suspect email is not a reason to undo a registration.
- The host's notices about one member of one session are coalesced: the first goes out
  at once; later changes within `host_notice_coalesce_window` become one summary, due at
  the window's end, which each further change rewrites while it is still unsent.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.errors import HeaderParseError
from typing import Any

from app.clock import utcnow
from app.group_sessions.events import (
    GroupSessionCancelled,
    GroupSessionChanged,
    GroupSessionCreated,
    InvitationDeclined,
    MinimumNotReachedKept,
    MinimumWarning,
    Promoted,
    RegistrationAdded,
    RegistrationChange,
    RegistrationRemoved,
    SessionReminder,
    SessionSnapshot,
    Waitlisted,
)
from app.group_sessions import rooms
from app.group_sessions.models import RegistrationStatus, SessionStatus
from app.links import group_session_url
from app.notifications import emails
from app.notifications.emails import Letterhead, RenderedEmail, SessionFacts
from app.notifications.message_check import differences
from app.notifications.models import OutboxEmail, OutboxStatus
from app.settings import Settings

logger = logging.getLogger(__name__)

# Emails refused by the check in `enqueue` since this process started, by kind: for an
# operator (and a metrics endpoint) to read. Refused rows also stay in the outbox, as
# REFUSED, which `python -m app outbox` counts across processes.
REFUSED_EMAILS: Counter[str] = Counter()

SUMMARY_KIND = "registration_summary"


@dataclass(frozen=True)
class Queued:
    """An email with how it is queued: due at `due` (None: now), and, for the host's
    coalesced notices, its `coalesce_key` and the end of the window it opens."""

    email: RenderedEmail
    due: datetime | None = None
    coalesce_key: str | None = None
    coalesce_until: datetime | None = None


class Outbox:
    """The emails of each kind of event, written as outbox rows through the change's
    transaction (`connection`)."""

    def __init__(self, settings: Settings) -> None:
        self.letterhead = Letterhead(settings.mail_from)
        self.public_web_url = settings.public_web_url
        self.coalesce_window = settings.host_notice_coalesce_window
        self.meeting_base_url = settings.meeting_base_url
        self.join_window = settings.join_window

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
        """To the host: who registered and the new count (coalesced, see `_host_notice`);
        to the participant: the confirmation with the calendar invite."""
        session, at = self._facts(event.session), event.occurred_at
        confirmation = self._render(emails.registration_confirmed, session, event.participant, written_at=at)
        await self._host_notice(connection, event, session, registered=True, with_emails=[confirmation])

    async def registration_removed(self, event: RegistrationRemoved, connection: Any) -> None:
        """To the host: who withdrew and the new count (coalesced, see `_host_notice`); to
        the participant: the confirmation, with a calendar CANCEL. Leaving the waitlist
        sends nothing: no seat changed hands and no invite was ever sent."""
        if event.status == RegistrationStatus.WAITLISTED:
            return
        session, at = self._facts(event.session), event.occurred_at
        withdrawal = self._render(emails.registration_withdrawn, session, event.participant, written_at=at)
        await self._host_notice(connection, event, session, registered=False, with_emails=[withdrawal])

    async def waitlisted(self, event: Waitlisted, connection: Any) -> None:
        """To the member: "You're on the waitlist", with their place in line. The host is
        not mailed (no seat changed); they see it live (WAITLISTED) and on the page."""
        session, at = self._facts(event.session), event.occurred_at
        await self._write(
            connection,
            [self._render(emails.waitlisted, session, event.participant, position=event.position, written_at=at)],
        )

    async def promoted(self, event: Promoted, connection: Any) -> None:
        """To the member: "You're in", with the calendar invite; to the host: the usual
        notice that they registered (coalesced, see `_host_notice`)."""
        session, at = self._facts(event.session), event.occurred_at
        youre_in = self._render(emails.promoted, session, event.participant, written_at=at)
        await self._host_notice(connection, event, session, registered=True, with_emails=[youre_in])

    async def _host_notice(
        self,
        connection: Any,
        event: RegistrationChange,
        session: SessionFacts,
        *,
        registered: bool,
        with_emails: list[RenderedEmail | None],
    ) -> None:
        """Queue the host's notice about `event.participant` along with `with_emails`
        (the participant's own, never held back), at most one notice per window:

        - no notice about this member of this session yet, or the last one's window is
          over: the notice goes out now and opens a window;
        - within the window, with a summary still unsent: that summary is rewritten to
          say where the member stands now (its row, Message-ID and due time are reused);
        - within the window otherwise: a summary is queued for the window's end, and
          opens the next window there.
        Commands on one session are serialized on its row, so two changes of one member
        never race here; a worker claiming the summary meanwhile makes the rewrite miss,
        and a new summary is queued instead."""
        at, participant = event.occurred_at, event.participant
        notice = emails.registration_added if registered else emails.registration_removed
        if self.coalesce_window <= timedelta(0):
            await self._write(connection, [self._render(notice, session, participant, written_at=at), *with_emails])
            return
        key = f"host-notice:{event.session.id}:{participant.id}"
        latest = await _latest_coalesced(key, connection)
        if latest is None or at >= latest["coalesce_until"]:
            first = self._render(notice, session, participant, written_at=at)
            queued = Queued(first, coalesce_key=key, coalesce_until=at + self.coalesce_window) if first else None
            await self._write(connection, [queued, *with_emails])
            return
        if latest["kind"] == SUMMARY_KIND and latest["status"] == OutboxStatus.PENDING and latest["attempts"] == 0:
            changes = latest["coalesced"] + 1
            summary = self._render(
                emails.registration_summary, session, participant, registered=registered, changes=changes, written_at=at
            )
            if summary is not None and differences(summary.built, summary.message):
                # Refused: enqueue stores, logs and counts it; the pending summary stays.
                await self._write(connection, [summary, *with_emails])
                return
            if summary is not None:
                rewritten = await (
                    OutboxEmail.filter(id=latest["id"], status=OutboxStatus.PENDING, attempts=0)
                    .using_db(connection)
                    .update(
                        message_id=summary.message_id,
                        subject=summary.subject[:500],
                        message=summary.message,
                        coalesced=changes,
                    )
                )
                if rewritten:
                    await self._write(connection, with_emails)
                    return
        summary = self._render(
            emails.registration_summary, session, participant, registered=registered, changes=1, written_at=at
        )
        due = latest["coalesce_until"]
        queued = Queued(summary, due=due, coalesce_key=key, coalesce_until=due + self.coalesce_window) if summary else None
        await self._write(connection, [queued, *with_emails])

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

    async def invitation_declined(self, event: InvitationDeclined, connection: Any) -> None:
        """To the host: the guest declined. Not coalesced: a guest declines without
        withdrawing only from PENDING, once per time the host puts them on the list."""
        session, at = self._facts(event.session), event.occurred_at
        await self._write(connection, [self._render(emails.invitation_declined, session, event.guest, written_at=at)])

    async def session_cancelled(self, event: GroupSessionCancelled, connection: Any) -> None:
        """To everyone registered: the cancellation, the reason, and a calendar CANCEL."""
        session, at = self._facts(event.session), event.occurred_at
        await self._write(
            connection,
            [
                self._render(
                    emails.session_cancelled, session, person, reason=event.reason, written_at=at,
                    automatic=event.automatic,
                )
                for person in event.registered
            ],
        )

    async def minimum_warning(self, event: MinimumWarning, connection: Any) -> None:
        """To the host: the minimum is not reached yet, when it is decided, and what then."""
        snapshot = event.session
        warning = self._render(
            emails.minimum_warning,
            self._facts(snapshot),
            min_participants=snapshot.min_participants,
            deadline=snapshot.minimum_deadline or snapshot.starts_at,
            cancels=snapshot.cancel_if_minimum_not_reached,
            written_at=event.occurred_at,
        )
        await self._write(connection, [warning])

    async def minimum_not_reached_kept(self, event: MinimumNotReachedKept, connection: Any) -> None:
        """To the host who chose to keep it: still short at the decision, kept as planned."""
        kept = self._render(
            emails.minimum_not_reached_kept,
            self._facts(event.session),
            min_participants=event.session.min_participants,
            written_at=event.occurred_at,
        )
        await self._write(connection, [kept])

    async def session_reminder(self, event: SessionReminder, connection: Any) -> None:
        """To each recipient (host and confirmed participants who take reminders): the
        reminder in their zone, with the room link when the room is open to them at the
        time of writing (`rooms.may_enter`), else when it opens."""
        snapshot, at = event.session, event.occurred_at
        session = self._facts(snapshot)
        opens_at = rooms.join_opens_at(snapshot.starts_at, self.join_window)
        # Every recipient is the host or confirmed, so the one rule depends on the time alone.
        is_open = rooms.may_enter(
            is_host=False, is_confirmed=True, is_cancelled=snapshot.status == SessionStatus.CANCELLED, now=at,
            starts_at=snapshot.starts_at, ends_at=snapshot.ends_at, window=self.join_window,
        )
        room_url = (
            rooms.room_url(meeting_url=snapshot.meeting_url, room_name=snapshot.room_name, base_url=self.meeting_base_url)
            if is_open
            else None
        )
        await self._write(
            connection,
            [
                self._render(
                    emails.session_reminder, session, person, room_url=room_url,
                    instructions=snapshot.join_instructions if is_open else None, opens_at=opens_at, written_at=at,
                )
                for person in event.recipients
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

    async def _write(self, connection: Any, rendered: Iterable[RenderedEmail | Queued | None]) -> None:
        await enqueue([email for email in rendered if email is not None], connection)


async def _latest_coalesced(key: str, connection: Any) -> dict[str, Any] | None:
    rows = (
        await OutboxEmail.filter(coalesce_key=key)
        .using_db(connection)
        .order_by("-id")
        .limit(1)
        .values("id", "kind", "status", "attempts", "coalesce_until", "coalesced")
    )
    return rows[0] if rows else None


def _refusal(email: RenderedEmail) -> list[str]:
    """Why `email` may not be sent (empty: it may): its text, parsed back, does not say
    what was built. Logged and counted here."""
    problems = differences(email.built, email.message)
    if problems:
        REFUSED_EMAILS[email.kind] += 1
        logger.error(
            "outbox: refused a %s email (%s): its text does not say what was built: %s",
            email.kind, email.message_id, "; ".join(problems),
        )
    return problems


async def enqueue(rendered: Sequence[RenderedEmail | Queued], connection: Any, *, now: datetime | None = None) -> int:
    """Insert one row per email through `connection` (the change's transaction), in one
    statement: PENDING, due now (or when its `Queued` says), or REFUSED when the message
    parsed back is not what was built (kept for the operator, never sent). Returns how
    many were queued to be sent."""
    if not rendered:
        return 0
    now = now or utcnow()
    rows, accepted = [], 0
    for item in rendered:
        queued = item if isinstance(item, Queued) else Queued(item)
        email = queued.email
        problems = _refusal(email)
        accepted += not problems
        rows.append(
            OutboxEmail(
                message_id=email.message_id,
                kind=email.kind,
                recipient=email.recipient,
                subject=email.subject[:500],
                message=email.message,
                status=OutboxStatus.REFUSED if problems else OutboxStatus.PENDING,
                attempts=0,
                next_attempt_at=queued.due or now,
                last_error=("refused: " + "; ".join(problems))[:2000] if problems else None,
                coalesce_key=None if problems else queued.coalesce_key,
                coalesce_until=None if problems else queued.coalesce_until,
            )
        )
    await OutboxEmail.bulk_create(rows, using_db=connection)
    return accepted


# --- for operators --------------------------------------------------------------------------


async def list_outbox(
    statuses: Sequence[OutboxStatus] = (
        OutboxStatus.PENDING,
        OutboxStatus.SENDING,
        OutboxStatus.FAILED,
        OutboxStatus.REFUSED,
    ),
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
