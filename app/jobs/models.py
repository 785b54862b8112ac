"""Durable timed jobs: what is to happen when (a session's minimum warning and decision,
later reminders), kept in the database so it survives restarts and runs once."""

from __future__ import annotations

from enum import Enum

from tortoise import fields
from tortoise.models import Model


class JobStatus(str, Enum):
    PENDING = "PENDING"  # due at run_at
    RUNNING = "RUNNING"  # claimed by a runner until lease_until (then due again: that runner died)
    DONE = "DONE"
    SKIPPED = "SKIPPED"  # not run, and `outcome` says why (session cancelled, started, ...)
    FAILED = "FAILED"  # every attempt failed; `last_error` says how


# One row per job. Per-session jobs are unique by (kind, session): scheduling again moves
# the row rather than adding one. `fingerprint` is what the job was computed from (e.g. the
# session's deadline and minimum): a runner finding the session changed since does not run
# the job against it, and a change reschedules it in its own transaction.
class TimedJob(Model):
    id = fields.IntField(primary_key=True)
    kind = fields.CharField(max_length=64)
    session: fields.ForeignKeyNullableRelation = fields.ForeignKeyField(
        "models.GroupSession", related_name="timed_jobs", on_delete=fields.CASCADE, null=True
    )
    run_at = fields.DatetimeField()
    fingerprint = fields.CharField(max_length=200, default="")
    status = fields.CharEnumField(JobStatus, max_length=16, default=JobStatus.PENDING)
    attempts = fields.IntField(default=0)
    lease_until = fields.DatetimeField(null=True)
    last_error = fields.TextField(null=True)
    outcome = fields.TextField(null=True)
    finished_at = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    session_id: int | None

    class Meta:
        table = "timed_job"
        unique_together = (("kind", "session"),)
        indexes = (("status", "run_at"),)
