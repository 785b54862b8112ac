"""The timed-jobs runner: runs each due job once, by the one handler its kind names.

Jobs are rows (`TimedJob`) written in the transaction of the change that called for them
(`schedule`), so a job exists exactly when its change committed, and survives restarts.
A pass claims due jobs (PENDING whose time has come, or RUNNING whose lease ran out
because a runner died mid-job) and runs each in a transaction of its own:

- the handler gets the job, the runner's `now`, and a list to append events to; what it
  returns (`Outcome`) is written to the job in that same transaction, together with the
  events' in-transaction effects (emails become outbox rows), so a job's work and its
  DONE commit together or not at all; after-commit effects (live events) follow;
- the job is marked only while it is still the claimed one (status RUNNING, same attempt):
  a change that rescheduled it meanwhile (an edit of the session) wins, and the handler's
  work is rolled back rather than committed against data it did not see;
- a handler that raises is retried with exponential backoff, and after
  `jobs_max_attempts` recorded FAILED with its last error (`python -m app jobs` lists it).

Claiming keeps runners off each other's jobs, on any number of processes:
- PostgreSQL: `SELECT ... FOR UPDATE SKIP LOCKED` and the claim UPDATE in one short
  transaction; concurrent runners take disjoint jobs without waiting;
- SQLite: a compare-and-set UPDATE per job (same status and attempt count as read).

Adding a kind of job is one entry in the table (`app.jobs.table`) and its handler.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from tortoise.expressions import F, Q
from tortoise.transactions import in_transaction

from app.background import PollingLoop
from app.clock import Clock, utcnow
from app.group_sessions.events import Effects
from app.jobs.models import JobStatus, TimedJob
from app.notifications.worker import retry_delay
from app.settings import Settings

logger = logging.getLogger(__name__)

# A claimed job is its runner's for this long; after it, it is due again (the runner died).
LEASE = timedelta(minutes=5)
RETRY_BASE_SECONDS = 30
RETRY_MAX_SECONDS = 3600
BATCH = 20


@dataclass
class JobRun:
    """What a handler gets: the claimed job, the runner's clock reading, and `events`,
    to which it appends what happened (their effects run as for any command)."""

    job: TimedJob
    now: datetime
    events: list[Any] = field(default_factory=list)


@dataclass(frozen=True)
class Outcome:
    """What became of a job: DONE or SKIPPED with a note saying what or why; or, with
    `run_at`, moved (PENDING again at `run_at`, computed from `fingerprint`)."""

    status: JobStatus
    note: str
    run_at: datetime | None = None
    fingerprint: str | None = None

    @classmethod
    def done(cls, note: str) -> Outcome:
        return cls(JobStatus.DONE, note)

    @classmethod
    def skipped(cls, note: str) -> Outcome:
        return cls(JobStatus.SKIPPED, note)

    @classmethod
    def moved(cls, run_at: datetime, fingerprint: str, note: str) -> Outcome:
        return cls(JobStatus.PENDING, note, run_at=run_at, fingerprint=fingerprint)


# `await handler(run)`: runs inside the job's transaction; raises to fail the attempt.
JobHandler = Callable[[JobRun], Awaitable[Outcome]]


def _still_claimed(job: TimedJob):
    """The job's row while it is still as this runner claimed it: a reschedule meanwhile
    changes its fingerprint (or its status and attempts), and then this matches nothing."""
    return TimedJob.filter(id=job.id, status=JobStatus.RUNNING, attempts=job.attempts, fingerprint=job.fingerprint)


class _Superseded(Exception):
    """The job was rescheduled (or taken by another runner) while it ran: roll back."""


async def schedule(
    kind: str, *, session_id: int | None, run_at: datetime, fingerprint: str, connection: Any = None
) -> bool:
    """Make the (kind, session) job due at `run_at`, computed from `fingerprint`, through
    `connection` (the change's transaction). A job already scheduled from the same
    fingerprint is left as it is (done or not: nothing it depends on changed); any other is
    set PENDING afresh. Returns True when the job was (re)scheduled."""
    existing = await TimedJob.filter(kind=kind, session_id=session_id).using_db(connection).first()
    if existing is None:
        await TimedJob.create(
            kind=kind, session_id=session_id, run_at=run_at, fingerprint=fingerprint, using_db=connection
        )
        return True
    if existing.fingerprint == fingerprint:
        return False
    await TimedJob.filter(id=existing.id).using_db(connection).update(
        run_at=run_at,
        fingerprint=fingerprint,
        status=JobStatus.PENDING,
        attempts=0,
        lease_until=None,
        last_error=None,
        outcome=None,
        finished_at=None,
    )
    return True


async def drop(
    session_id: int, reason: str, *, now: datetime, connection: Any = None, kinds: tuple[str, ...] | None = None
) -> int:
    """Record every job of the session (of these `kinds`, when given) that has not run as
    SKIPPED with `reason` (the session was cancelled, say). Returns how many."""
    query = TimedJob.filter(session_id=session_id, status__in=[JobStatus.PENDING, JobStatus.RUNNING])
    if kinds is not None:
        query = query.filter(kind__in=list(kinds))
    return await (
        query
        .using_db(connection)
        .update(status=JobStatus.SKIPPED, outcome=reason, finished_at=now, lease_until=None)
    )


class JobRunner(PollingLoop):
    """Runs due jobs with `handlers` (kind -> handler), recording their events through
    `effects`. `run_once()` is one pass; `start()`/`stop()` run passes in the background
    every `jobs_poll_seconds` (or at once after `wake()`); see app.background.

    `stop()` finishes the job in hand (up to its timeout, then cancels: a job cut short
    rolls back and is due again when its lease ends); the batch's other claims are handed
    back, due at once."""

    name = "jobs-runner"

    def __init__(
        self,
        settings: Settings,
        handlers: Mapping[str, JobHandler],
        effects: Effects,
        *,
        clock: Clock = utcnow,
        rand: Callable[[], float] = random.random,
    ) -> None:
        self.settings = settings
        self.handlers = dict(handlers)
        self.effects = effects
        self.clock = clock
        self.rand = rand
        super().__init__()

    def batch_size(self) -> int:
        return BATCH

    def poll_seconds(self) -> float:
        return self.settings.jobs_poll_seconds

    # --- one pass ---------------------------------------------------------------------------

    async def run_once(self) -> int:
        """Claim due jobs and run each; returns how many were run (whatever their outcome).
        Told to stop mid-batch, it finishes the job in hand and hands the rest back at once
        (a job cut short by cancellation instead stays claimed until its lease ends: on
        SQLite a cancelled transaction can leave the connection locked, so nothing more is
        written after one)."""
        jobs = await self._claim()
        for done, job in enumerate(jobs):
            if self.stopping:
                await self._release(jobs[done:])
                return done
            await self._run(job)
        return len(jobs)

    async def _release(self, jobs: list[TimedJob]) -> None:
        """Hand claimed jobs back, as they were before the claim (the attempt not counted)."""
        for job in jobs:
            try:
                await _still_claimed(job).update(status=JobStatus.PENDING, attempts=job.attempts - 1, lease_until=None)
            except Exception:  # noqa: BLE001 - a claim not handed back is due again when its lease ends
                logger.warning("jobs: could not hand back job %s; due again when its lease ends", job.id, exc_info=True)

    async def drain(self, max_passes: int = 100) -> int:
        """Passes until nothing is due (or `max_passes`); returns how many jobs were run."""
        total = 0
        for _ in range(max_passes):
            ran = await self.run_once()
            total += ran
            if ran == 0:
                break
        return total

    def _due(self, now: datetime):
        return TimedJob.filter(
            Q(status=JobStatus.PENDING, run_at__lte=now) | Q(status=JobStatus.RUNNING, lease_until__lte=now)
        ).order_by("run_at", "id")

    async def _claim(self) -> list[TimedJob]:
        now = self.clock()
        lease_until = now + LEASE
        if self.settings.uses_postgres:
            async with in_transaction() as connection:
                jobs = await self._due(now).limit(BATCH).select_for_update(skip_locked=True).using_db(connection)
                if jobs:
                    await TimedJob.filter(id__in=[j.id for j in jobs]).using_db(connection).update(
                        status=JobStatus.RUNNING, attempts=F("attempts") + 1, lease_until=lease_until
                    )
            for job in jobs:
                job.status, job.attempts, job.lease_until = JobStatus.RUNNING, job.attempts + 1, lease_until
            return jobs

        claimed: list[TimedJob] = []
        for candidate in await self._due(now).limit(BATCH):
            won = await TimedJob.filter(
                Q(id=candidate.id, status=candidate.status, attempts=candidate.attempts)
                & (Q(status=JobStatus.PENDING, run_at__lte=now) | Q(status=JobStatus.RUNNING, lease_until__lte=now))
            ).update(status=JobStatus.RUNNING, attempts=candidate.attempts + 1, lease_until=lease_until)
            if won:
                candidate.status, candidate.attempts, candidate.lease_until = (
                    JobStatus.RUNNING, candidate.attempts + 1, lease_until,
                )
                claimed.append(candidate)
        return claimed

    async def _run(self, job: TimedJob) -> None:
        now = self.clock()
        handler = self.handlers.get(job.kind)
        if handler is None:
            await self._fail(job, f"no handler for jobs of kind {job.kind!r}", now, permanent=True)
            return
        run = JobRun(job=job, now=now)
        try:
            async with in_transaction() as connection:
                outcome = await handler(run)
                changes: dict[str, Any] = {"outcome": outcome.note[:2000], "lease_until": None, "last_error": None}
                if outcome.run_at is not None:
                    changes.update(status=JobStatus.PENDING, run_at=outcome.run_at, fingerprint=outcome.fingerprint,
                                   attempts=0)
                else:
                    changes.update(status=outcome.status, finished_at=now)
                marked = await _still_claimed(job).using_db(connection).update(**changes)
                if not marked:
                    raise _Superseded
                if run.events:
                    await self.effects.record(run.events, connection)
        except _Superseded:
            logger.info("jobs: job %s (%s) changed while it ran; its work was rolled back", job.id, job.kind)
            return
        except Exception as error:  # noqa: BLE001 - a failing job is retried, not fatal
            logger.warning("jobs: job %s (%s) failed on attempt %d", job.id, job.kind, job.attempts, exc_info=True)
            await self._fail(job, f"{type(error).__name__}: {error}", now)
            return
        logger.info("jobs: job %s (%s): %s %s", job.id, job.kind, outcome.status.value, outcome.note)
        if run.events:
            await self.effects.publish(run.events)

    async def _fail(self, job: TimedJob, error: str, now: datetime, *, permanent: bool = False) -> None:
        if permanent or job.attempts >= self.settings.jobs_max_attempts:
            changes: dict[str, Any] = {"status": JobStatus.FAILED, "finished_at": now}
            logger.error("jobs: giving up on job %s (%s) after %d attempt(s): %s", job.id, job.kind, job.attempts, error)
        else:
            delay = retry_delay(
                job.attempts, base_seconds=RETRY_BASE_SECONDS, max_seconds=RETRY_MAX_SECONDS, rand=self.rand
            )
            changes = {"status": JobStatus.PENDING, "run_at": now + delay}
        await _still_claimed(job).update(last_error=error[:2000], lease_until=None, **changes)

# --- for operators --------------------------------------------------------------------------


async def list_jobs(
    statuses: tuple[JobStatus, ...] = (JobStatus.PENDING, JobStatus.RUNNING, JobStatus.FAILED), *, limit: int = 100
) -> list[TimedJob]:
    """Jobs in these statuses, soonest first."""
    return await TimedJob.filter(status__in=list(statuses)).order_by("run_at", "id").limit(limit)


async def count_by_status() -> dict[JobStatus, int]:
    return {status: await TimedJob.filter(status=status).count() for status in JobStatus}
