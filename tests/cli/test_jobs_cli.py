"""`python -m app jobs`: what an operator reads about timed jobs."""

from __future__ import annotations

import asyncio
from datetime import datetime, timezone

from tortoise import Tortoise

from app.db import tortoise_config
from app.jobs.models import JobStatus, TimedJob
from tests.cli.test_cli import db, run  # noqa: F401 - the fixture and the runner


def test_jobs_lists_pending_and_failed_jobs_with_their_last_error(db):  # noqa: F811
    async def write() -> None:
        await Tortoise.init(config=tortoise_config(db))
        try:
            when = datetime(2030, 5, 17, 9, 30, tzinfo=timezone.utc)
            await TimedJob.create(kind="minimum_decision", run_at=when, fingerprint="a")
            await TimedJob.create(kind="minimum_warning", run_at=when, fingerprint="b", status=JobStatus.FAILED,
                                  attempts=5, last_error="RuntimeError: the database went away")
            await TimedJob.create(kind="reminder", run_at=when, fingerprint="c", status=JobStatus.DONE)
        finally:
            await Tortoise.close_connections()

    asyncio.run(write())
    result = run(["jobs"], db)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "pending 1 · running 0 · done 1 · skipped 0 · failed 1"
    assert any("PENDING" in line and "minimum_decision" in line and "2030-05-17 09:30:00" in line for line in lines)
    assert any("FAILED" in line and "minimum_warning" in line and " 5 " in line for line in lines)
    assert "last error: RuntimeError: the database went away" in result.stdout
    assert "reminder" not in result.stdout  # done jobs are not listed


def test_jobs_on_an_empty_database_says_so(db):  # noqa: F811
    result = run(["jobs"], db)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == "nothing pending or failed"
