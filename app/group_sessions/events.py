"""What happened to group sessions, in the past tense.

Services record these inside their transaction. Handlers registered in `Effects` act on
them twice: `in_transaction` handlers write what must commit with the change (the email
outbox), `after_commit` handlers publish what must only be seen once it committed (live
subscriptions). A change that rolls back produces neither.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Union

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class GroupSessionCreated:
    session_id: int
    program_id: int
    host_id: int
    guest_ids: tuple[int, ...]
    occurred_at: datetime


@dataclass(frozen=True)
class RegistrationChange:
    """What RegistrationAdded and RegistrationRemoved both say: who, where, and the counts
    after the change (so subscribers need not read the database again)."""

    session_id: int
    program_id: int
    host_id: int
    registration_id: int
    user_id: int
    is_host: bool
    registered_at: datetime
    participant_count: int
    max_participants: int
    occurred_at: datetime

    @classmethod
    def of(cls, session: Any, registration: Any, occurred_at: datetime) -> RegistrationChange:
        """The event for `registration` of `session` (rows as they are after the change)."""
        return cls(
            session_id=session.id,
            program_id=session.program_id,
            host_id=session.host_id,
            registration_id=registration.id,
            user_id=registration.user_id,
            is_host=registration.is_host,
            registered_at=registration.registered_at,
            participant_count=session.participant_count,
            max_participants=session.max_participants,
            occurred_at=occurred_at,
        )


@dataclass(frozen=True)
class RegistrationAdded(RegistrationChange):
    """Someone registered."""


@dataclass(frozen=True)
class RegistrationRemoved(RegistrationChange):
    """Someone withdrew."""


@dataclass(frozen=True)
class GroupSessionChanged:
    session_id: int
    program_id: int
    host_id: int
    changed_fields: tuple[str, ...]
    # Set when the start or the duration changed: what it was before.
    previous_starts_at: datetime | None
    previous_ends_at: datetime | None
    added_guest_ids: tuple[int, ...]
    occurred_at: datetime

    @property
    def time_changed(self) -> bool:
        return self.previous_starts_at is not None


@dataclass(frozen=True)
class GroupSessionCancelled:
    session_id: int
    program_id: int
    host_id: int
    reason: str | None
    participant_ids: tuple[int, ...]
    occurred_at: datetime


Event = Union[GroupSessionCreated, RegistrationAdded, RegistrationRemoved, GroupSessionChanged, GroupSessionCancelled]

InTransactionHandler = Callable[[Sequence[Event], Any], Awaitable[None]]
AfterCommitHandler = Callable[[Sequence[Event]], Awaitable[None]]


@dataclass
class Effects:
    """Where events go. Built once by `create_app`; services receive it as an argument."""

    in_transaction: list[InTransactionHandler] = field(default_factory=list)
    after_commit: list[AfterCommitHandler] = field(default_factory=list)

    async def record(self, events: Sequence[Event], connection: Any) -> None:
        """Run the in-transaction handlers; an exception here rolls the change back."""
        for handler in self.in_transaction:
            await handler(events, connection)

    async def publish(self, events: Sequence[Event]) -> None:
        """Run the after-commit handlers. The change is committed already, so a failing
        handler (Redis down, say) is logged and must not turn a success into an error."""
        for handler in self.after_commit:
            try:
                await handler(events)
            except Exception:  # noqa: BLE001 - see docstring
                logger.exception("after-commit handler %r failed", handler)
