"""A minimum that decides, on durable timed jobs, in process: the runner and the mail
worker are driven pass by pass with a clock the test moves forward (never by sleeping),
and what they do is read back through the API, the database and a real SMTP server."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from app.api.pagination import pk_of
from app.group_sessions.models import GroupSession, SessionStatus
from app.jobs import minimum
from app.jobs.models import JobStatus, TimedJob
from app.jobs.runner import JobRunner, Outcome, schedule
from app.jobs.table import build_job_handlers
from tests.conftest import create_session, join
from tests.documents import UPDATE

SESSION = """
query S($id: ID!) {
  groupSession(id: $id) {
    status cancellationReason participantCount minParticipants
    minimumReached minimumDeadline cancelIfMinimumNotReached startsAt
  }
}
"""


@pytest.fixture(autouse=True)
def minimum_jobs_only(app) -> None:
    """This file counts the minimum's jobs: the day-of jobs (reminders, the room opening,
    tests/email/test_reminders.py) are not scheduled here."""
    from app.group_sessions.events import GroupSessionChanged, GroupSessionCreated
    from app.jobs.day_of import DayOfJobs

    for kind in (GroupSessionCreated, GroupSessionChanged):
        handlers = app.state.effects.handlers_for(kind)
        handlers.in_transaction[:] = [
            h for h in handlers.in_transaction if not isinstance(getattr(h, "__self__", None), DayOfJobs)
        ]


@pytest.fixture
def runner(settings, clock, app) -> JobRunner:
    """The app's own job table and effects, on the test's clock."""
    return JobRunner(settings, build_job_handlers(settings), app.state.effects, clock=clock, rand=lambda: 1.0)


def moment(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


async def read(api, world, session_id: str) -> dict:
    return (await api.data(SESSION, {"id": session_id}, token=world.host.token))["groupSession"]


async def jobs_of(session_id: str) -> dict[str, TimedJob]:
    return {job.kind: job for job in await TimedJob.filter(session_id=pk_of(session_id, "GroupSession"))}


def advance_to(clock, when: datetime, plus: float = 1) -> None:
    """Move the clock to `plus` seconds after `when`."""
    clock.advance((when - clock()).total_seconds() + plus)


async def short_session(api, world, **overrides) -> dict:
    """A session starting in 3 days that needs 3 (host included) and has 2."""
    session = await create_session(api, world, minParticipants=3, **overrides)
    await join(api, world.mentees[0], session["id"])
    return session


async def test_a_new_session_has_its_deadline_and_its_two_jobs(api, world, settings, runner, clock):
    session = await short_session(api, world)
    seen = await read(api, world, session["id"])
    starts_at = moment(seen["startsAt"])
    assert moment(seen["minimumDeadline"]) == starts_at - timedelta(hours=24)
    assert seen["cancelIfMinimumNotReached"] is True
    assert seen["minimumReached"] is False
    jobs = await jobs_of(session["id"])
    assert jobs[minimum.DECISION].run_at == starts_at - timedelta(hours=24)
    assert jobs[minimum.WARNING].run_at == starts_at - timedelta(hours=48)
    assert {job.status for job in jobs.values()} == {JobStatus.PENDING}
    assert await runner.run_once() == 0  # nothing is due yet


async def test_a_minimum_of_the_host_alone_has_nothing_to_decide_until_an_edit_raises_it(api, world, runner):
    session = await create_session(api, world)  # minimum 1: the host, who cannot leave
    assert (await read(api, world, session["id"]))["minimumReached"] is True
    assert await jobs_of(session["id"]) == {}
    data = await api.data(UPDATE, {"input": {"id": session["id"], "minParticipants": 3}}, token=world.host.token)
    assert data["updateGroupSession"]["userErrors"] == []
    assert set(await jobs_of(session["id"])) == {minimum.WARNING, minimum.DECISION}
    data = await api.data(UPDATE, {"input": {"id": session["id"], "minParticipants": 1}}, token=world.host.token)
    assert {(j.status, j.outcome) for j in (await jobs_of(session["id"])).values()} == {
        (JobStatus.SKIPPED, "the minimum is the host alone")
    }


async def test_the_host_is_warned_then_everyone_registered_told_of_the_cancellation(
    api, world, runner, worker, mailbox, clock
):
    session = await short_session(api, world)
    await worker.drain()
    mailbox.take()  # the creation and join emails
    jobs = await jobs_of(session["id"])

    advance_to(clock, jobs[minimum.WARNING].run_at)
    assert await runner.run_once() == 1
    await worker.drain()
    (warning,) = await mailbox.wait_for(1)
    assert warning.to == world.host.user.email
    assert warning.subject.startswith("2 of 3 needed: ")
    assert "2 of the 3 needed so far" in warning.text
    assert "the session is cancelled and everyone registered is told" in warning.text
    assert (await read(api, world, session["id"]))["status"] == "SCHEDULED"
    mailbox.take()

    advance_to(clock, jobs[minimum.DECISION].run_at)
    assert await runner.run_once() == 1
    seen = await read(api, world, session["id"])
    assert seen["status"] == "CANCELLED"
    assert seen["cancellationReason"] == minimum.cancellation_reason(2, 3)
    assert "2 of the 3 participants needed" in seen["cancellationReason"]
    await worker.drain()
    received = await mailbox.wait_for(2)
    assert sorted(m.to for m in received) == sorted([world.host.user.email, world.mentees[0].user.email])
    participant = mailbox.one_to(world.mentees[0].user.email, "Cancelled: ")
    assert "is cancelled" in participant.text and "Cancelled automatically" in participant.text
    assert participant.calendar_parts[0].get_param("method") == "CANCEL"
    assert str(participant.calendar["method"]) == "CANCEL"

    decision = await TimedJob.get(id=jobs[minimum.DECISION].id)
    assert (decision.status, decision.outcome) == (JobStatus.DONE, "cancelled: 2 of the 3 needed")
    assert await runner.run_once() == 0  # exactly once


async def test_a_host_who_keeps_the_session_is_told_once_more(api, world, runner, worker, mailbox, clock):
    session = await short_session(api, world, cancelIfMinimumNotReached=False)
    assert (await read(api, world, session["id"]))["cancelIfMinimumNotReached"] is False
    await worker.drain()
    mailbox.take()
    jobs = await jobs_of(session["id"])

    advance_to(clock, jobs[minimum.WARNING].run_at)
    await runner.run_once()
    await worker.drain()
    (warning,) = await mailbox.wait_for(1)
    assert "the session is kept (as you chose)" in warning.text
    mailbox.take()

    advance_to(clock, jobs[minimum.DECISION].run_at)
    assert await runner.run_once() == 1
    assert (await read(api, world, session["id"]))["status"] == "SCHEDULED"
    await worker.drain()
    (kept,) = await mailbox.wait_for(1)
    assert kept.to == world.host.user.email
    assert kept.subject.startswith("Minimum not reached, kept as planned: ")
    assert "2 of the 3 needed so far" in kept.text
    assert await runner.run_once() == 0
    assert mailbox.received == [kept]  # told once, nobody else


async def test_a_reached_minimum_warns_nobody_and_cancels_nothing(api, world, runner, worker, mailbox, clock):
    session = await short_session(api, world)
    await join(api, world.mentees[1], session["id"])
    assert (await read(api, world, session["id"]))["minimumReached"] is True
    await worker.drain()
    mailbox.take()
    jobs = await jobs_of(session["id"])
    advance_to(clock, jobs[minimum.DECISION].run_at)
    assert await runner.drain() == 2
    assert (await read(api, world, session["id"]))["status"] == "SCHEDULED"
    assert await worker.drain() == 0
    statuses = {kind: (job.status, job.outcome) for kind, job in (await jobs_of(session["id"])).items()}
    assert statuses[minimum.DECISION] == (JobStatus.DONE, "minimum reached (3 of 3)")
    assert statuses[minimum.WARNING][0] == JobStatus.SKIPPED  # the decision was due already


async def test_editing_the_start_moves_the_decision(api, world, runner, clock):
    session = await short_session(api, world)
    before = await jobs_of(session["id"])
    new_start = moment((await read(api, world, session["id"]))["startsAt"]) + timedelta(days=2)
    data = await api.data(
        UPDATE, {"input": {"id": session["id"], "startsAt": new_start.isoformat()}}, token=world.host.token
    )
    assert data["updateGroupSession"]["userErrors"] == []
    seen = await read(api, world, session["id"])
    assert moment(seen["minimumDeadline"]) == new_start - timedelta(hours=24)
    after = await jobs_of(session["id"])
    assert after[minimum.DECISION].run_at == new_start - timedelta(hours=24)
    assert after[minimum.WARNING].run_at == new_start - timedelta(hours=48)
    assert after[minimum.DECISION].id == before[minimum.DECISION].id  # moved, not added

    advance_to(clock, before[minimum.DECISION].run_at)
    assert await runner.drain() == 0  # nothing left at the old time
    assert (await read(api, world, session["id"]))["status"] == "SCHEDULED"
    advance_to(clock, after[minimum.DECISION].run_at)
    await runner.drain()
    assert (await read(api, world, session["id"]))["status"] == "CANCELLED"


async def test_editing_the_minimum_re_evaluates_the_decision(api, world, runner, clock):
    session = await short_session(api, world)
    jobs = await jobs_of(session["id"])
    advance_to(clock, jobs[minimum.WARNING].run_at)
    await runner.run_once()  # warned: 2 of 3
    data = await api.data(UPDATE, {"input": {"id": session["id"], "minParticipants": 2}}, token=world.host.token)
    assert data["updateGroupSession"]["userErrors"] == []
    assert (await read(api, world, session["id"]))["minimumReached"] is True
    advance_to(clock, jobs[minimum.DECISION].run_at)
    await runner.drain()
    assert (await read(api, world, session["id"]))["status"] == "SCHEDULED"
    decision = (await jobs_of(session["id"]))[minimum.DECISION]
    assert (decision.status, decision.outcome) == (JobStatus.DONE, "minimum reached (2 of 2)")


async def test_a_session_created_within_the_lead_is_decided_at_its_start(api, world, runner, clock):
    starts_at = (clock() + timedelta(hours=5)).replace(microsecond=0)
    session = await short_session(api, world, startsAt=starts_at.isoformat())
    seen = await read(api, world, session["id"])
    assert moment(seen["minimumDeadline"]) == starts_at
    jobs = await jobs_of(session["id"])
    assert jobs[minimum.DECISION].run_at == starts_at
    assert jobs[minimum.WARNING].run_at <= clock()  # at once: its moment has passed
    assert await runner.run_once() == 1
    assert (await jobs_of(session["id"]))[minimum.WARNING].outcome == "host warned: 2 of the 3 needed"
    advance_to(clock, starts_at)
    await runner.run_once()
    assert (await read(api, world, session["id"]))["status"] == "CANCELLED"


async def test_a_decision_missed_while_down_is_taken_on_start(api, world, runner, worker, mailbox, clock):
    session = await short_session(api, world)
    jobs = await jobs_of(session["id"])
    # The runner was down across the warning and the deadline, and comes back before the start.
    advance_to(clock, jobs[minimum.DECISION].run_at, plus=3600)
    assert await runner.drain() == 2
    assert (await read(api, world, session["id"]))["status"] == "CANCELLED"
    after = await jobs_of(session["id"])
    assert after[minimum.WARNING].status == JobStatus.SKIPPED  # no warning after the fact
    assert after[minimum.DECISION].status == JobStatus.DONE


async def test_a_decision_missed_until_the_start_is_skipped_not_a_cancellation(api, world, runner, clock):
    session = await short_session(api, world)
    starts_at = moment((await read(api, world, session["id"]))["startsAt"])
    advance_to(clock, starts_at, plus=60)  # down until the session was under way
    assert await runner.drain() == 2
    seen = await read(api, world, session["id"])
    assert (seen["status"], seen["cancellationReason"]) == ("SCHEDULED", None)
    decision = (await jobs_of(session["id"]))[minimum.DECISION]
    assert decision.status == JobStatus.SKIPPED
    assert decision.outcome.startswith("the session had started when its decision")


async def test_a_job_whose_session_changed_behind_its_back_moves_instead_of_running(api, world, runner, clock):
    session = await short_session(api, world)
    jobs = await jobs_of(session["id"])
    pk = pk_of(session["id"], "GroupSession")
    # A change that did not reschedule (a hand edit in the database): the start and
    # deadline moved a week later.
    row = await GroupSession.get(id=pk)
    week = timedelta(days=7)
    await GroupSession.filter(id=pk).update(
        starts_at=row.starts_at + week, ends_at=row.ends_at + week, minimum_deadline=row.minimum_deadline + week
    )
    advance_to(clock, jobs[minimum.DECISION].run_at)
    assert await runner.drain() == 2
    assert (await read(api, world, session["id"]))["status"] == "SCHEDULED"  # not run against stale data
    moved = await jobs_of(session["id"])
    assert moved[minimum.DECISION].status == JobStatus.PENDING
    assert moved[minimum.DECISION].run_at == row.minimum_deadline + week
    assert moved[minimum.DECISION].outcome.startswith("the session changed since it was scheduled")


async def test_a_cancelled_session_s_jobs_are_skipped(api, world, runner, clock):
    from tests.documents import CANCEL

    session = await short_session(api, world)
    data = await api.data(CANCEL, {"id": session["id"]}, token=world.host.token)
    assert data["cancelGroupSession"]["userErrors"] == []
    assert {(j.status, j.outcome) for j in (await jobs_of(session["id"])).values()} == {
        (JobStatus.SKIPPED, "the session was cancelled")
    }
    clock.advance(7 * 86_400)
    assert await runner.drain() == 0


async def test_a_failing_job_is_retried_with_backoff_then_failed(settings, app, clock):
    attempts = []

    async def boom(run):
        attempts.append(run.now)
        raise RuntimeError("the handler broke")

    runner = JobRunner(settings.with_(jobs_max_attempts=3), {"boom": boom}, app.state.effects, clock=clock,
                       rand=lambda: 1.0)
    await schedule("boom", session_id=None, run_at=clock(), fingerprint="x")
    assert await runner.run_once() == 1
    job = await TimedJob.get(kind="boom")
    assert (job.status, job.attempts, job.last_error) == (JobStatus.PENDING, 1, "RuntimeError: the handler broke")
    assert job.run_at >= clock() + timedelta(seconds=29)  # backoff: not at once
    assert await runner.run_once() == 0
    for _ in range(2):
        clock.advance(3600)
        assert await runner.run_once() == 1
    job = await TimedJob.get(kind="boom")
    assert (job.status, job.attempts) == (JobStatus.FAILED, 3)
    clock.advance(86_400)
    assert await runner.run_once() == 0 and len(attempts) == 3


async def test_a_job_of_an_unknown_kind_fails_at_once(settings, app, clock):
    runner = JobRunner(settings, {}, app.state.effects, clock=clock)
    await schedule("nobody-handles-this", session_id=None, run_at=clock(), fingerprint="x")
    assert await runner.run_once() == 1
    job = await TimedJob.get(kind="nobody-handles-this")
    assert job.status == JobStatus.FAILED and "no handler" in job.last_error


async def test_a_runner_that_died_mid_job_leaves_it_to_another_after_its_lease(settings, app, clock):
    from app.jobs.runner import LEASE

    ran = []

    async def note(run):
        ran.append(run.job.id)
        return Outcome.done("noted")

    await schedule("note", session_id=None, run_at=clock(), fingerprint="x")
    dead = JobRunner(settings, {"note": note}, app.state.effects, clock=clock)
    assert len(await dead._claim()) == 1  # claimed, then the process died
    alive = JobRunner(settings, {"note": note}, app.state.effects, clock=clock)
    assert await alive.run_once() == 0  # leased
    clock.advance(LEASE.total_seconds() + 1)
    assert await alive.run_once() == 1 and len(ran) == 1
    assert (await TimedJob.get(kind="note")).status == JobStatus.DONE


async def test_a_session_older_than_the_feature_reads_a_deadline_and_has_no_decision(api, world, settings):
    session = await short_session(api, world)
    pk = pk_of(session["id"], "GroupSession")
    await GroupSession.filter(id=pk).update(minimum_deadline=None)
    seen = await read(api, world, session["id"])
    assert moment(seen["minimumDeadline"]) == moment(seen["startsAt"]) - settings.minimum_decision_lead
    assert (await GroupSession.get(id=pk)).status == SessionStatus.SCHEDULED


async def test_an_edit_while_the_decision_runs_wins_and_the_job_acts_on_the_edited_session(api, world, runner, clock):
    session = await short_session(api, world)
    jobs = await jobs_of(session["id"])
    advance_to(clock, jobs[minimum.DECISION].run_at)
    claimed = {job.kind: job for job in await runner._claim()}  # the runner has taken both jobs...
    data = await api.data(UPDATE, {"input": {"id": session["id"], "minParticipants": 2}}, token=world.host.token)
    assert data["updateGroupSession"]["userErrors"] == []  # ...when the host lowers the minimum
    await runner._run(claimed[minimum.DECISION])  # computed for a minimum of 3: it does nothing
    assert (await read(api, world, session["id"]))["status"] == "SCHEDULED"
    rescheduled = (await jobs_of(session["id"]))[minimum.DECISION]
    assert (rescheduled.status, rescheduled.fingerprint) == (
        JobStatus.PENDING, minimum.fingerprint(rescheduled.run_at, 2)
    )
    await runner.drain()
    decision = (await jobs_of(session["id"]))[minimum.DECISION]
    assert (decision.status, decision.outcome) == (JobStatus.DONE, "minimum reached (2 of 2)")
    assert (await read(api, world, session["id"]))["status"] == "SCHEDULED"
