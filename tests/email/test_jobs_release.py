"""Stopping the timed-jobs runner (SIGTERM: app/main.py's shutdown) finishes the job in hand
and hands the rest of its batch back: due again at once for another runner, the attempt not
counted, never run twice."""

from __future__ import annotations

import asyncio

from app.jobs.models import JobStatus, TimedJob
from app.jobs.runner import JobRunner, Outcome


async def test_stopping_finishes_the_job_in_hand_and_hands_the_batch_back(app, settings, clock):
    due = clock()
    await TimedJob.bulk_create([TimedJob(kind="work", session_id=None, run_at=due, fingerprint=str(i)) for i in range(3)])
    entered, go_on = asyncio.Event(), asyncio.Event()
    ran: list[int] = []

    async def work(run):
        entered.set()
        await go_on.wait()  # the stop arrives while this job is in hand
        ran.append(run.job.id)
        return Outcome.done("ran")

    runner = JobRunner(settings, {"work": work}, app.state.effects, clock=clock)
    runner.start()
    # (No query while the job's transaction is open: on SQLite it would wait for that
    # transaction, which waits for this test.)
    await asyncio.wait_for(entered.wait(), timeout=10)
    stopping = asyncio.create_task(runner.stop(timeout=10))
    await asyncio.sleep(0)  # let stop() raise the flag before the job in hand finishes
    go_on.set()
    await asyncio.wait_for(stopping, timeout=15)

    jobs = {j.id: j for j in await TimedJob.all()}
    assert len(ran) == 1 and jobs[ran[0]].status == JobStatus.DONE
    rest = [j for i, j in jobs.items() if i != ran[0]]
    assert [(j.status, j.attempts, j.lease_until) for j in rest] == [(JobStatus.PENDING, 0, None)] * 2
    assert all(j.run_at <= clock() for j in rest)  # due at once, not after the lease

    # Another runner takes them at once; each job has run exactly once in all.
    assert await JobRunner(settings, {"work": work}, app.state.effects, clock=clock).drain() == 2
    assert sorted(ran) == sorted(jobs)
    assert await TimedJob.filter(status=JobStatus.DONE).count() == 3
