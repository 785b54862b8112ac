"""Stopping the timed-jobs runner (SIGTERM: app/main.py's shutdown) hands its claims back:
the job in hand is cut short and rolled back, and it and the rest of the batch are due
again at once for another runner, the attempt not counted."""

from __future__ import annotations

import asyncio

from app.jobs.models import JobStatus, TimedJob
from app.jobs.runner import JobRunner, Outcome


async def test_stopping_hands_the_batch_back(app, settings, clock):
    due = clock()
    await TimedJob.bulk_create(
        [TimedJob(kind="slow", session_id=None, run_at=due, fingerprint=str(i)) for i in range(3)]
    )
    entered, forever = asyncio.Event(), asyncio.Event()

    async def slow(run):
        entered.set()
        await forever.wait()  # a job that does not finish within the stop's bound
        return Outcome.done("never")

    runner = JobRunner(settings, {"slow": slow}, app.state.effects, clock=clock)
    runner.start()
    await asyncio.wait_for(entered.wait(), timeout=10)
    assert await TimedJob.filter(status=JobStatus.RUNNING).count() == 3  # the whole batch is claimed
    await runner.stop(timeout=0.2)

    jobs = await TimedJob.all().order_by("id")
    assert [(j.status, j.attempts, j.lease_until) for j in jobs] == [(JobStatus.PENDING, 0, None)] * 3
    assert all(j.run_at <= clock() for j in jobs)  # due at once, not after the lease

    # Another runner takes them at once and runs each exactly once.
    ran = []

    async def quick(run):
        ran.append(run.job.id)
        return Outcome.done("ran")

    assert await JobRunner(settings, {"slow": quick}, app.state.effects, clock=clock).drain() == 3
    assert sorted(ran) == [j.id for j in jobs]
    assert await TimedJob.filter(status=JobStatus.DONE).count() == 3
