"""Timed jobs run exactly once when several runners claim at the same moment."""

from __future__ import annotations

import asyncio
from collections import Counter

from app.jobs.models import JobStatus, TimedJob
from app.jobs.runner import JobRunner, Outcome


async def _race(settings, effects, clock, runners: int = 2, jobs: int = 120, *, all_take_part: bool) -> Counter:
    due = clock()
    await TimedJob.bulk_create(
        [TimedJob(kind="count", session_id=None, run_at=due, fingerprint=str(i)) for i in range(jobs)]
    )
    runs: Counter = Counter()

    async def count(run):
        runs[run.job.id] += 1
        # A statement in the job's transaction, so the runners interleave inside jobs too.
        await TimedJob.filter(id=run.job.id).using_db(None).count()
        await asyncio.sleep(0)
        return Outcome.done("counted")

    racers = [JobRunner(settings, {"count": count}, effects, clock=clock) for _ in range(runners)]
    totals = await asyncio.gather(*(racer.drain() for racer in racers))
    assert sum(totals) == jobs
    if all_take_part:  # PostgreSQL serves each runner on its own connection: the claims really raced
        assert min(totals) > 0, totals
    assert await TimedJob.filter(status=JobStatus.DONE).count() == jobs
    return runs


async def test_two_runners_on_postgresql_run_each_job_exactly_once(postgres_app, clock):
    settings = postgres_app.state.settings
    assert settings.uses_postgres
    runs = await _race(settings, postgres_app.state.effects, clock, all_take_part=True)
    assert len(runs) == 120 and set(runs.values()) == {1}


async def test_two_runners_on_the_test_database_run_each_job_exactly_once(app, settings, clock):
    runs = await _race(settings, app.state.effects, clock, all_take_part=settings.uses_postgres)
    assert len(runs) == 120 and set(runs.values()) == {1}
