"""The one table of timed jobs: kind -> the handler that runs it.

Read a line as "a due job of this kind is run by this handler". Adding a kind of job
(a reminder, a join window opening) is adding a line here and scheduling its rows in the
transaction of the change that calls for them (an in-transaction handler in
`app.handlers`).
"""

from __future__ import annotations

from app.jobs import minimum
from app.jobs.day_of import DayOfJobs
from app.jobs.minimum import MinimumJobs
from app.jobs.runner import JobHandler
from app.settings import Settings


def build_job_handlers(settings: Settings) -> dict[str, JobHandler]:
    """Each kind of job with its handler, bound to `settings`."""
    minimum_jobs = MinimumJobs(settings)
    return {
        # kind of job:     its handler
        minimum.WARNING: minimum_jobs.warn,
        minimum.DECISION: minimum_jobs.decide,
        # `reminder:<offset>` for each of REMINDER_OFFSETS, and `join_window_opens`.
        **DayOfJobs(settings).handlers(),
    }
