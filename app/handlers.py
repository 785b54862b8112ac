"""What happens because of a change: the one table from each kind of event to its handlers.

Read a line as "when this happened: these run inside the change's transaction (emails
become outbox rows, committed with the change or not at all), and these run once it has
committed (live subscribers are told; the mail worker is woken so mail goes out now, not
at its next poll)". Adding a kind of event is adding a line. Handlers take everything
from the event: none reads the session or the people again.
"""

from __future__ import annotations

from typing import Any

from app.group_sessions.events import (
    Effects,
    GroupSessionCancelled,
    GroupSessionChanged,
    GroupSessionCreated,
    Handlers,
    InvitationDeclined,
    JoinWindowOpened,
    MinimumNotReachedKept,
    MinimumReached,
    MinimumWarning,
    Promoted,
    RegistrationAdded,
    RegistrationRemoved,
    SessionReminder,
    Waitlisted,
)
from app.jobs.day_of import DayOfJobs
from app.jobs.minimum import MinimumJobs
from app.live.broker import Broker
from app.live.publisher import Publisher
from app.notifications.outbox import Outbox
from app.notifications.worker import OutboxWorker
from app.settings import Settings


def build_handlers(settings: Settings, broker: Broker, outbox_worker: OutboxWorker | None = None) -> Effects:
    """The table, with its handlers bound to `settings` (mail), `broker` (live updates)
    and the in-process `outbox_worker` (None when another process sends the mail)."""
    mail = Outbox(settings)
    live = Publisher(broker)
    minimum = MinimumJobs(settings)
    day_of = DayOfJobs(settings)
    wake = [_waking(outbox_worker)] if outbox_worker is not None else []
    return Effects(
        {
            # kind of event:    Handlers(in the transaction,    after the commit)
            GroupSessionCreated: Handlers(
                [mail.session_created, minimum.session_created, day_of.session_created], [*wake]
            ),
            RegistrationAdded: Handlers([mail.registration_added], [live.registration_added, *wake]),
            RegistrationRemoved: Handlers([mail.registration_removed], [live.registration_removed, *wake]),
            Waitlisted: Handlers([mail.waitlisted], [live.waitlisted, *wake]),
            Promoted: Handlers([mail.promoted], [live.promoted, *wake]),
            GroupSessionChanged: Handlers(
                [mail.session_changed, minimum.session_changed, day_of.session_changed], [live.session_changed, *wake]
            ),
            # minimum.session_cancelled records every pending job of the session SKIPPED
            # (reminders and the room opening too).
            GroupSessionCancelled: Handlers(
                [mail.session_cancelled, minimum.session_cancelled], [live.session_cancelled, *wake]
            ),
            InvitationDeclined: Handlers([mail.invitation_declined], [live.invitation_declined, *wake]),
            MinimumReached: Handlers([], [live.minimum_reached]),
            MinimumWarning: Handlers([mail.minimum_warning], [*wake]),
            MinimumNotReachedKept: Handlers([mail.minimum_not_reached_kept], [*wake]),
            SessionReminder: Handlers([mail.session_reminder], [*wake]),
            JoinWindowOpened: Handlers([], [live.join_window_opened]),
        }
    )


def _waking(outbox_worker: OutboxWorker):
    async def wake_outbox_worker(event: Any) -> None:
        # Send right after the commit instead of at the next poll.
        outbox_worker.wake()

    return wake_outbox_worker
