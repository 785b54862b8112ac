"""What happened to group sessions, in the past tense, and the table that acts on it.

Services record events inside their transaction. Each event carries what its handlers
need: the session as the command left it (`SessionSnapshot`, counts after the change,
host included) and the people it names (`Person`), so no handler reads them again.

`Effects` maps each kind of event to its `Handlers` (built in `app.handlers`):
`in_transaction` handlers write what must commit with the change (the email outbox),
`after_commit` handlers act once it has (live subscriptions, waking the mail worker).
A change that rolls back produces neither.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Union

from app.group_sessions.models import GroupSession, RegistrationStatus, SessionStatus

logger = logging.getLogger(__name__)


# --- what events carry -------------------------------------------------------------------------


@dataclass(frozen=True)
class Person:
    """Someone an event names, as handlers address them (no password hash, no row)."""

    id: int
    name: str
    email: str
    time_zone: str

    @classmethod
    def of(cls, user: Any) -> Person:
        """The person of a `User` row (or anything with these four attributes)."""
        return cls(id=user.id, name=user.name, email=user.email, time_zone=user.time_zone)


@dataclass(frozen=True)
class SessionSnapshot:
    """A session as the command that changed it holds it after the change: every column
    of the row, and the host as a person."""

    id: int
    program_id: int
    host: Person
    title: str
    objective: str
    starts_at: datetime
    ends_at: datetime
    duration_minutes: int
    min_participants: int
    max_participants: int
    participant_count: int
    status: SessionStatus
    cancellation_reason: str | None
    cancelled_at: datetime | None
    sequence: int
    created_at: datetime
    updated_at: datetime
    meeting_url: str | None = None
    join_instructions: str | None = None
    room_name: str = ""
    time_zone: str = "UTC"
    # The minimum's decision (see GroupSession); defaults for snapshots built by hand.
    cancel_if_minimum_not_reached: bool = True
    minimum_deadline: datetime | None = None
    minimum_reached_at: datetime | None = None
    # Those on the waitlist (not counted in participant_count).
    waitlist_count: int = 0

    @property
    def host_id(self) -> int:
        return self.host.id

    @classmethod
    def of(cls, row: GroupSession, host: Person) -> SessionSnapshot:
        """The snapshot of `row` (as it is after the change) hosted by `host`."""
        return cls(
            id=row.id,
            program_id=row.program_id,
            host=host,
            title=row.title,
            objective=row.objective,
            starts_at=row.starts_at,
            ends_at=row.ends_at,
            duration_minutes=row.duration_minutes,
            min_participants=row.min_participants,
            max_participants=row.max_participants,
            participant_count=row.participant_count,
            status=SessionStatus(row.status),
            cancellation_reason=row.cancellation_reason,
            cancelled_at=row.cancelled_at,
            sequence=row.sequence,
            created_at=row.created_at,
            updated_at=row.updated_at,
            meeting_url=row.meeting_url,
            join_instructions=row.join_instructions,
            room_name=row.room_name,
            time_zone=row.time_zone,
            cancel_if_minimum_not_reached=row.cancel_if_minimum_not_reached,
            minimum_deadline=row.minimum_deadline,
            minimum_reached_at=row.minimum_reached_at,
            waitlist_count=row.waitlist_count,
        )


# --- the events ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class GroupSessionCreated:
    """A host created a session (and is registered for it)."""

    session: SessionSnapshot
    # Members the host invited, in the order given.
    guests: tuple[Person, ...]
    occurred_at: datetime


@dataclass(frozen=True)
class RegistrationChange:
    """What RegistrationAdded and RegistrationRemoved both say: whose registration, for
    which session, with the session's counts right after the change."""

    session: SessionSnapshot
    registration_id: int
    participant: Person
    is_host: bool
    registered_at: datetime
    occurred_at: datetime
    # The registration's status after the change (for a removal: before it). A
    # RegistrationRemoved that is WAITLISTED left the waitlist and freed no seat.
    status: RegistrationStatus = RegistrationStatus.CONFIRMED
    # When it joined the waitlist, for registrations that were ever on it.
    waitlisted_at: datetime | None = None


@dataclass(frozen=True)
class RegistrationAdded(RegistrationChange):
    """Someone registered."""


@dataclass(frozen=True)
class RegistrationRemoved(RegistrationChange):
    """Someone withdrew (from the session, or from its waitlist: see `status`)."""


@dataclass(frozen=True)
class Waitlisted(RegistrationChange):
    """Someone joined the waitlist of a full session, at `position` (1-based)."""

    position: int = 0


@dataclass(frozen=True)
class Promoted(RegistrationChange):
    """A seat freed and the first in line got it: their registration is CONFIRMED now, in
    the transaction that freed the seat."""


@dataclass(frozen=True)
class MinimumReached(RegistrationChange):
    """This registration brought the session to its minimum, for the first time."""


@dataclass(frozen=True)
class GroupSessionChanged:
    """The host edited a session."""

    session: SessionSnapshot
    # Domain names of what changed: title, objective, min_participants, max_participants,
    # starts_at, duration_minutes, guests, cancel_if_minimum_not_reached.
    changed_fields: tuple[str, ...]
    # Set when the start or the duration changed: what it was before.
    previous_starts_at: datetime | None
    previous_ends_at: datetime | None
    # Everyone registered (host first), when someone is to be told: the time changed or
    # guests were added. Empty otherwise.
    registered: tuple[Person, ...]
    # Guests invited for the first time: never invited to this session before (a guest
    # taken off the list and put back is not invited again), and not registered.
    added_guests: tuple[Person, ...]
    occurred_at: datetime

    @property
    def time_changed(self) -> bool:
        return self.previous_starts_at is not None


@dataclass(frozen=True)
class GroupSessionCancelled:
    """The host cancelled a session. Registrations stay, so everyone can be told."""

    session: SessionSnapshot
    reason: str | None
    # Everyone registered at the cancellation, host first, those on the waitlist included.
    registered: tuple[Person, ...]
    occurred_at: datetime
    # True when cancelled by the minimum's decision, not by the host.
    automatic: bool = False


@dataclass(frozen=True)
class InvitationDeclined:
    """An invited guest who was not registered declined. (A registered guest who declines
    withdraws: that is a RegistrationRemoved; one who accepts registers: RegistrationAdded.)"""

    # The session, unchanged by the answer.
    session: SessionSnapshot
    guest: Person
    occurred_at: datetime


@dataclass(frozen=True)
class MinimumWarning:
    """Ahead of the decision, the session is still short of its minimum (the host is told)."""

    session: SessionSnapshot
    occurred_at: datetime


@dataclass(frozen=True)
class MinimumNotReachedKept:
    """At the decision the session was short of its minimum and kept, as its host chose."""

    session: SessionSnapshot
    occurred_at: datetime


@dataclass(frozen=True)
class SessionReminder:
    """A session starts in `offset` (one of REMINDER_OFFSETS): these `recipients` (the host
    and confirmed participants who take reminders) are reminded."""

    session: SessionSnapshot
    offset: timedelta
    recipients: tuple[Person, ...]
    occurred_at: datetime


@dataclass(frozen=True)
class JoinWindowOpened:
    """The session's room opened to the host and confirmed participants (JOIN_WINDOW
    before the start): nothing in the row changed, but what they may see did."""

    session: SessionSnapshot
    occurred_at: datetime


Event = Union[
    GroupSessionCreated,
    RegistrationAdded,
    RegistrationRemoved,
    Waitlisted,
    Promoted,
    GroupSessionChanged,
    GroupSessionCancelled,
    InvitationDeclined,
    MinimumReached,
    MinimumWarning,
    MinimumNotReachedKept,
    SessionReminder,
    JoinWindowOpened,
]


# --- the table -----------------------------------------------------------------------------------

# `await handler(event, connection)`: runs in the change's transaction (`connection`).
InTransactionHandler = Callable[[Any, Any], Awaitable[None]]
# `await handler(event)`: runs once the change committed.
AfterCommitHandler = Callable[[Any], Awaitable[None]]


@dataclass
class Handlers:
    """What happens on one kind of event."""

    in_transaction: list[InTransactionHandler] = field(default_factory=list)
    after_commit: list[AfterCommitHandler] = field(default_factory=list)


_NOTHING = Handlers()


@dataclass
class Effects:
    """Event kind -> its handlers. Built once by `app.handlers.build_handlers`; services
    receive it as `effects`. `Effects()` does nothing (scripts and tests that need no mail)."""

    table: dict[type, Handlers] = field(default_factory=dict)

    def handlers_for(self, kind: type) -> Handlers:
        """The (mutable) handlers of one event kind, added empty when it had none."""
        return self.table.setdefault(kind, Handlers())

    async def record(self, events: Sequence[Event], connection: Any) -> None:
        """Run the in-transaction handlers; an exception here rolls the change back."""
        for event in events:
            for handler in self.table.get(type(event), _NOTHING).in_transaction:
                await handler(event, connection)

    async def publish(self, events: Sequence[Event]) -> None:
        """Run the after-commit handlers. The change is committed already, so a failing
        handler (Redis down, say) is logged and must not turn a success into an error."""
        for event in events:
            for handler in self.table.get(type(event), _NOTHING).after_commit:
                try:
                    await handler(event)
                except Exception:  # noqa: BLE001 - see docstring
                    logger.exception("after-commit handler %r failed on %s", handler, type(event).__name__)
