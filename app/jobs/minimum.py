"""A minimum that decides: each session's warning and decision, as timed jobs.

Scheduling happens in the transaction of the change (in-transaction handlers on
GroupSessionCreated / GroupSessionChanged, wired in `app.handlers`): a session gets a
`minimum_warning` job at `MINIMUM_WARNING_LEAD` before its `minimum_deadline` (at once
when that has passed) and a `minimum_decision` job at the deadline. Both are computed
from the deadline and the minimum (their fingerprint): an edit of either moves them, and
a job that finds the session no longer matching what it was computed from moves itself
instead of acting. A cancellation records them SKIPPED.

At the decision, in one transaction with the session row locked: a session short of its
minimum is cancelled with a reason saying so (the same GroupSessionCancelled as a host's
cancellation: everyone registered gets the email with the calendar cancellation, live
subscribers the event), or, when its host chose to keep it, the host is told. A decision
taken late (the runner was down) is still taken before the start; after the start it is
recorded SKIPPED: a running session is never cancelled.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from app.group_sessions import repository, services
from app.group_sessions.events import (
    GroupSessionCancelled,
    GroupSessionChanged,
    GroupSessionCreated,
    MinimumNotReachedKept,
    MinimumWarning,
    SessionSnapshot,
)
from app.group_sessions.models import SessionStatus
from app.jobs.models import TimedJob
from app.jobs.runner import JobRun, Outcome, drop, schedule
from app.settings import Settings

WARNING = "minimum_warning"
DECISION = "minimum_decision"

# Edits that move what the jobs were computed from.
_MOVING_FIELDS = {"starts_at", "min_participants"}


def fingerprint(deadline: datetime, min_participants: int) -> str:
    """What a session's minimum jobs are computed from."""
    return f"deadline={deadline.isoformat()};min={min_participants}"


def cancellation_reason(participant_count: int, min_participants: int) -> str:
    """The reason an automatic cancellation gives (cancellationReason and the email)."""
    return (
        f"Cancelled automatically: it had {participant_count} of the {min_participants} participants needed "
        f"(the host included) when its minimum was decided."
    )


class MinimumJobs:
    """The minimum's in-transaction schedulers and its two job handlers."""

    def __init__(self, settings: Settings) -> None:
        self.warning_lead = settings.minimum_warning_lead
        # A decision taken this long after its deadline is late; late and after the start, it is skipped.
        self.late = timedelta(seconds=2 * settings.jobs_poll_seconds + 30)

    def warning_at(self, deadline: datetime, now: datetime) -> datetime:
        return min(max(deadline - self.warning_lead, now), deadline)

    # --- scheduling, in the change's transaction ----------------------------------------------

    async def session_created(self, event: GroupSessionCreated, connection: Any) -> None:
        """Schedule the warning and the decision of a new session (one INSERT). A minimum
        of 1 is the host, who cannot leave: met for good, nothing to decide."""
        session = event.session
        if session.minimum_deadline is None or session.min_participants <= 1:
            return
        mark = fingerprint(session.minimum_deadline, session.min_participants)
        await TimedJob.bulk_create(
            [
                TimedJob(kind=WARNING, session_id=session.id, fingerprint=mark,
                         run_at=self.warning_at(session.minimum_deadline, event.occurred_at)),
                TimedJob(kind=DECISION, session_id=session.id, fingerprint=mark, run_at=session.minimum_deadline),
            ],
            using_db=connection,
        )

    async def session_changed(self, event: GroupSessionChanged, connection: Any) -> None:
        """Move the jobs when the start (so the deadline) or the minimum changed; a minimum
        lowered to the host alone leaves nothing to decide."""
        session = event.session
        if session.minimum_deadline is None or not _MOVING_FIELDS.intersection(event.changed_fields):
            return
        if session.min_participants <= 1:
            await drop(
                session.id, "the minimum is the host alone", now=event.occurred_at, connection=connection,
                kinds=(WARNING, DECISION),
            )
            return
        mark = fingerprint(session.minimum_deadline, session.min_participants)
        warn_at = self.warning_at(session.minimum_deadline, event.occurred_at)
        await schedule(WARNING, session_id=session.id, run_at=warn_at, fingerprint=mark, connection=connection)
        await schedule(
            DECISION, session_id=session.id, run_at=session.minimum_deadline, fingerprint=mark, connection=connection
        )

    async def session_cancelled(self, event: GroupSessionCancelled, connection: Any) -> None:
        """A cancelled session's jobs that have not run are recorded SKIPPED."""
        await drop(event.session.id, "the session was cancelled", now=event.occurred_at, connection=connection)

    # --- the jobs ---------------------------------------------------------------------------------

    async def warn(self, run: JobRun) -> Outcome:
        """Tell the host the minimum is not reached yet, if that is still so."""
        found, outcome = await self._session(run, WARNING)
        if outcome is not None:
            return outcome
        session = found.session
        if run.now >= session.minimum_deadline:
            return Outcome.skipped("the decision is due already: its outcome tells the host")
        if session.minimum_reached:
            return Outcome.done(f"minimum reached ({session.participant_count} of {session.min_participants}): no warning")
        run.events.append(MinimumWarning(SessionSnapshot.of(session, found.host), run.now))
        return Outcome.done(f"host warned: {session.participant_count} of the {session.min_participants} needed")

    async def decide(self, run: JobRun) -> Outcome:
        """Cancel the session still short of its minimum, or tell its host it is kept."""
        found, outcome = await self._session(run, DECISION, lock=True)
        if outcome is not None:
            return outcome
        session, now = found.session, run.now
        if now >= session.starts_at and now > session.minimum_deadline + self.late:
            return Outcome.skipped(
                f"the session had started when its decision (due {session.minimum_deadline.isoformat()}) could be "
                f"taken: left as it is"
            )
        count, needed = session.participant_count, session.min_participants
        if session.minimum_reached:
            return Outcome.done(f"minimum reached ({count} of {needed})")
        if not session.cancel_if_minimum_not_reached:
            run.events.append(MinimumNotReachedKept(SessionSnapshot.of(session, found.host), now))
            return Outcome.done(f"kept as the host chose, short of the minimum ({count} of {needed}); host told")
        reason = cancellation_reason(count, needed)
        # The host's cancellation path: the same event, so the same emails and live events.
        await services.cancel_in_transaction(found, reason=reason, now=now, events=run.events, automatic=True)
        return Outcome.done(f"cancelled: {count} of the {needed} needed")

    async def _session(self, run: JobRun, kind: str, *, lock: bool = False):
        """The job's session, or the outcome that ends the job without it (gone,
        cancelled, or changed since the job was computed: then the job moves)."""
        job = run.job
        found = await repository.session_for_command(job.session_id, 0, lock=lock) if job.session_id else None
        if found is None:
            return None, Outcome.skipped("the session no longer exists")
        session = found.session
        if session.status == SessionStatus.CANCELLED:
            return None, Outcome.skipped("the session was cancelled")
        if session.minimum_deadline is None:
            return None, Outcome.skipped("the session has no minimum deadline")
        mark = fingerprint(session.minimum_deadline, session.min_participants)
        if mark != job.fingerprint:
            run_at = session.minimum_deadline if kind == DECISION else self.warning_at(session.minimum_deadline, run.now)
            return None, Outcome.moved(run_at, mark, f"the session changed since it was scheduled ({job.fingerprint}): moved")
        return found, None
