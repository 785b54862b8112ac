"""The day of the session, as timed jobs: the reminders before the start, and the moment
the room opens.

Each session gets, in the transaction of its creation (in-transaction handlers on
GroupSessionCreated / GroupSessionChanged, wired in `app.handlers`):
- one `reminder:<offset>` job per duration of REMINDER_OFFSETS (`reminder:1d`,
  `reminder:1h`), due `offset` before the start;
- one `join_window_opens` job at `joinOpensAt` (the start minus JOIN_WINDOW).
A moment already past when the session is created or moved is not scheduled (no stale
reminder: a session created 30 minutes ahead gets no 1-hour reminder). Jobs are computed
from the start (their fingerprint): an edit of the start moves them (a reminder already
sent is sent again before the new start, which the time-change email announced); a job
finding the session moved since moves itself instead of acting. A cancellation records
every job of the session SKIPPED (the one `drop` on GroupSessionCancelled, see
`app.jobs.minimum`), and both handlers re-check the session.

A reminder job writes one outbox row per recipient in its own transaction (the
`SessionReminder` event): the host and the confirmed participants at the time it runs,
those with `email_reminders` on. The job runs once, so each person gets each reminder
at most once; whoever registers after it ran (or is promoted from the waitlist after
it) does not get that one. A reminder running late (the runner was down) is skipped
when the session has started, or when a later reminder is due already (one email, the
nearer one, rather than two at once).

The window job appends `JoinWindowOpened`: after the commit, the session's live watchers
get it again (`groupSessionUpdated`), and each subscriber's `room` and `viewerCanEnter`
are resolved anew: the host's and confirmed participants' turn on, everyone else's stay
null / false.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from app.group_sessions import repository, rooms
from app.group_sessions.events import (
    GroupSessionChanged,
    GroupSessionCreated,
    JoinWindowOpened,
    SessionReminder,
    SessionSnapshot,
)
from app.group_sessions.models import SessionStatus
from app.jobs.models import JobStatus, TimedJob
from app.jobs.runner import JobHandler, JobRun, Outcome
from app.settings import Settings, format_duration

REMINDER = "reminder:"
WINDOW_OPENS = "join_window_opens"


def reminder_kind(offset: timedelta) -> str:
    """The kind of the reminder job `offset` before the start: `reminder:1d`, `reminder:30s`."""
    return REMINDER + format_duration(offset)


def fingerprint(starts_at: datetime) -> str:
    """What a session's day-of jobs are computed from: its start."""
    return f"starts_at={starts_at.isoformat()}"


def _decision_pending(session: Any, now: datetime) -> bool:
    """Whether the session's minimum decision is due and, taken now, would cancel it: short
    of a minimum above the host alone, past its deadline, set to cancel (a decision taken
    leaves it cancelled, or kept only when not set to cancel)."""
    return (
        session.minimum_deadline is not None
        and now >= session.minimum_deadline
        and session.min_participants > 1
        and not session.minimum_reached
        and session.cancel_if_minimum_not_reached
    )


class DayOfJobs:
    """The reminders' and the window opening's in-transaction schedulers and job handlers."""

    def __init__(self, settings: Settings) -> None:
        self.offsets = tuple(sorted(settings.reminder_offsets, reverse=True))
        self.window = settings.join_window
        # How long a reminder waits for a due minimum decision: about one runner pass.
        self.wait = timedelta(seconds=settings.jobs_poll_seconds)

    def due_times(self, starts_at: datetime) -> dict[str, datetime]:
        """Each job kind with when it is due for a session starting at `starts_at`."""
        due = {reminder_kind(offset): starts_at - offset for offset in self.offsets}
        due[WINDOW_OPENS] = rooms.join_opens_at(starts_at, self.window)
        return due

    def handlers(self) -> dict[str, JobHandler]:
        """Kind -> handler, for the table of jobs (`app.jobs.table`)."""
        table: dict[str, JobHandler] = {reminder_kind(offset): self.remind for offset in self.offsets}
        table[WINDOW_OPENS] = self.open_window
        return table

    # --- scheduling, in the change's transaction ----------------------------------------------

    async def session_created(self, event: GroupSessionCreated, connection: Any) -> None:
        """Schedule the reminders and the window opening still ahead (one INSERT)."""
        session, now = event.session, event.occurred_at
        mark = fingerprint(session.starts_at)
        jobs = [
            TimedJob(kind=kind, session_id=session.id, fingerprint=mark, run_at=run_at)
            for kind, run_at in self.due_times(session.starts_at).items()
            if run_at > now
        ]
        if jobs:
            await TimedJob.bulk_create(jobs, using_db=connection)

    async def session_changed(self, event: GroupSessionChanged, connection: Any) -> None:
        """Move the jobs when the start changed: those still ahead are (re)scheduled for
        the new start, those whose moment has passed and have not run are skipped."""
        session, now = event.session, event.occurred_at
        if "starts_at" not in event.changed_fields:
            return
        mark = fingerprint(session.starts_at)
        due = self.due_times(session.starts_at)
        existing = {
            job.kind: job
            for job in await TimedJob.filter(session_id=session.id, kind__in=list(due)).using_db(connection)
        }
        fresh = []
        for kind, run_at in due.items():
            job = existing.get(kind)
            if run_at <= now:
                if job is not None and job.status in (JobStatus.PENDING, JobStatus.RUNNING):
                    await TimedJob.filter(id=job.id).using_db(connection).update(
                        status=JobStatus.SKIPPED, finished_at=now, lease_until=None,
                        outcome="its time had passed when the session was moved",
                    )
            elif job is None:
                fresh.append(TimedJob(kind=kind, session_id=session.id, fingerprint=mark, run_at=run_at))
            elif job.fingerprint != mark:
                await TimedJob.filter(id=job.id).using_db(connection).update(
                    run_at=run_at, fingerprint=mark, status=JobStatus.PENDING, attempts=0, lease_until=None,
                    last_error=None, outcome=None, finished_at=None,
                )
        if fresh:
            await TimedJob.bulk_create(fresh, using_db=connection)

    # --- the jobs ---------------------------------------------------------------------------------

    async def remind(self, run: JobRun) -> Outcome:
        """Remind the host and the confirmed participants who take reminders, once."""
        offset = self._offset(run.job.kind)
        found, outcome = await self._session(run, lambda starts_at: starts_at - offset)
        if outcome is not None:
            return outcome
        session, now = found.session, run.now
        if now >= session.starts_at:
            return Outcome.skipped(
                f"the session had started when its reminder (due {run.job.run_at.isoformat()}) could be sent"
            )
        if _decision_pending(session, now):
            # The minimum's decision is due and would cancel the session (by default the
            # day reminder and the decision fall on the same instant): wait for it rather
            # than remind of a session about to be cancelled.
            return Outcome.moved(
                now + self.wait, run.job.fingerprint, "the minimum's decision is due first: waiting for it"
            )
        nearer = [o for o in self.offsets if o < offset and now >= session.starts_at - o]
        if nearer:
            return Outcome.skipped(f"the {format_duration(max(nearer))} reminder is due already: it is the one sent")
        recipients = await repository.reminder_recipients(session.id)
        if recipients:
            snapshot = SessionSnapshot.of(session, found.host)
            run.events.append(SessionReminder(snapshot, offset, tuple(recipients), now))
        return Outcome.done(f"{len(recipients)} reminded")

    async def open_window(self, run: JobRun) -> Outcome:
        """Tell the session's live watchers its room opened (each sees it if they may)."""
        found, outcome = await self._session(run, lambda starts_at: rooms.join_opens_at(starts_at, self.window))
        if outcome is not None:
            return outcome
        session = found.session
        if run.now >= session.ends_at:
            return Outcome.skipped("the session was over when its room opening could be told")
        run.events.append(JoinWindowOpened(SessionSnapshot.of(session, found.host), run.now))
        return Outcome.done("the room opened: watchers told")

    def _offset(self, kind: str) -> timedelta:
        for offset in self.offsets:
            if reminder_kind(offset) == kind:
                return offset
        raise LookupError(f"no reminder offset for jobs of kind {kind!r}")  # not in the table, so never run

    async def _session(self, run: JobRun, due_at):
        """The job's session, or the outcome that ends the job without it (gone,
        cancelled, or moved since the job was computed: then the job moves, or is
        skipped when its new moment has passed)."""
        job = run.job
        found = await repository.session_for_command(job.session_id, 0) if job.session_id else None
        if found is None:
            return None, Outcome.skipped("the session no longer exists")
        session = found.session
        if session.status == SessionStatus.CANCELLED:
            return None, Outcome.skipped("the session was cancelled")
        mark = fingerprint(session.starts_at)
        if mark != job.fingerprint:
            run_at = due_at(session.starts_at)
            if run_at <= run.now:
                return None, Outcome.skipped("the session moved, and this moment has passed for its new start")
            return None, Outcome.moved(run_at, mark, f"the session moved since it was scheduled ({job.fingerprint})")
        return found, None
