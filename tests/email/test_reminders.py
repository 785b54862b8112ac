"""Reminders before a session, on durable timed jobs, in process: the runner and the mail
worker are driven pass by pass with a clock the test moves forward (never by sleeping),
and what they do is read back from a real SMTP server and the database."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from app.accounts.models import User
from app.api.pagination import pk_of
from app.group_sessions.models import GroupSession, SessionStatus
from app.jobs import day_of
from app.jobs.models import JobStatus, TimedJob
from app.jobs.runner import JobRunner
from app.jobs.table import build_job_handlers
from tests.conftest import create_session, join
from tests.documents import CANCEL, LEAVE, UPDATE

DAY, HOUR = day_of.reminder_kind(timedelta(hours=24)), day_of.reminder_kind(timedelta(hours=1))
REMINDERS_OFF = "mutation { updateViewer(input: {emailReminders: false}) { viewer { emailReminders } userErrors { code } } }"
ROOM = "https://meet.example.org/our-room"


@pytest.fixture
def runner(settings, clock, app) -> JobRunner:
    """The app's own job table and effects, on the test's clock."""
    return JobRunner(settings, build_job_handlers(settings), app.state.effects, clock=clock, rand=lambda: 1.0)


def moment(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


async def jobs_of(session_id: str) -> dict[str, TimedJob]:
    return {job.kind: job for job in await TimedJob.filter(session_id=pk_of(session_id, "GroupSession"))}


def advance_to(clock, when: datetime, plus: float = 1) -> None:
    """Move the clock to `plus` seconds after `when`."""
    clock.advance((when - clock()).total_seconds() + plus)


async def quiet(worker, mailbox) -> None:
    """Deliver what is queued (creation, joins) and forget it."""
    await worker.drain()
    mailbox.take()


async def remind_at(kind: str, session_id: str, clock, runner, worker) -> int:
    """Move the clock just past the `kind` job of the session and run what is due; how many emails went."""
    advance_to(clock, (await jobs_of(session_id))[kind].run_at)
    await runner.drain()
    return await worker.drain()


async def session_with_a_participant(api, world, **overrides) -> dict:
    """A session starting in 3 days, with mentee0 (in New York) registered."""
    await User.filter(id=world.mentees[0].user.id).update(time_zone="America/New_York")
    session = await create_session(api, world, meetingUrl=ROOM, joinInstructions="Passcode 4242", **overrides)
    assert (await join(api, world.mentees[0], session["id"]))["userErrors"] == []
    return session


async def test_each_reminder_goes_once_to_the_host_and_participants_in_their_zone(
    api, world, runner, worker, mailbox, clock
):
    session = await session_with_a_participant(api, world)
    starts_at = moment(session["startsAt"])
    jobs = await jobs_of(session["id"])
    assert {kind: job.run_at for kind, job in jobs.items() if kind.startswith("reminder:")} == {
        DAY: starts_at - timedelta(hours=24), HOUR: starts_at - timedelta(hours=1),
    }
    assert jobs[day_of.WINDOW_OPENS].run_at == starts_at - timedelta(minutes=10)
    await worker.drain()
    confirmation = mailbox.one_to(world.mentees[0].user.email, "registered")
    mailbox.take()

    assert await remind_at(DAY, session["id"], clock, runner, worker) == 2
    received = await mailbox.wait_for(2)
    assert sorted(m.to for m in received) == sorted([world.host.user.email, world.mentees[0].user.email])
    to_host = mailbox.one_to(world.host.user.email)
    to_mentee = mailbox.one_to(world.mentees[0].user.email)
    local = starts_at.astimezone(ZoneInfo("America/New_York"))
    assert to_mentee.subject.startswith("Reminder: Negotiating your first salary, ")
    assert f"{local:%H:%M}–" in to_mentee.subject and to_mentee.subject.endswith("(America/New_York)")
    assert "(Europe/Paris)" in to_host.subject
    assert to_host.text.startswith("Your group session “Negotiating your first salary” is coming up.")
    # A day ahead the room is not open: the email says when it opens, in their zone, and no link.
    opens = (starts_at - timedelta(minutes=10)).astimezone(ZoneInfo("America/New_York"))
    assert "appears on the session page from" in to_mentee.text and f"{opens:%H:%M} (America/New_York)" in to_mentee.text
    assert ROOM not in to_mentee.text and "Passcode" not in to_mentee.text
    assert session["url"] in to_mentee.text
    # The invite is the session's: same UID and SEQUENCE as the registration's.
    assert to_mentee.calendar_parts[0].get_param("method") == "REQUEST"
    (event,) = to_mentee.calendar.walk("VEVENT")
    (earlier,) = confirmation.calendar.walk("VEVENT")
    assert (str(event["UID"]), int(event["SEQUENCE"])) == (str(earlier["UID"]), int(earlier["SEQUENCE"]))
    mailbox.take()

    assert await runner.drain() == 0 and await worker.drain() == 0  # once
    assert (await TimedJob.get(id=jobs[DAY].id)).status == JobStatus.DONE

    assert await remind_at(HOUR, session["id"], clock, runner, worker) == 2
    assert sorted(m.to for m in mailbox.take()) == sorted([world.host.user.email, world.mentees[0].user.email])
    assert (await TimedJob.get(id=jobs[HOUR].id)).outcome == "2 reminded"


@pytest.mark.settings(join_window=timedelta(hours=2))
async def test_a_reminder_inside_the_join_window_has_the_room_link(api, world, runner, worker, mailbox, clock):
    session = await session_with_a_participant(api, world)
    await quiet(worker, mailbox)
    assert await remind_at(DAY, session["id"], clock, runner, worker) == 2
    assert all(ROOM not in m.text for m in mailbox.take())  # a day ahead: closed still
    assert await remind_at(HOUR, session["id"], clock, runner, worker) == 2
    for received in mailbox.take():
        assert f"Enter the room: {ROOM}" in received.text
        assert "Passcode 4242" in received.text


async def test_an_edited_start_moves_the_reminders(api, world, runner, worker, mailbox, clock):
    session = await session_with_a_participant(api, world)
    await quiet(worker, mailbox)
    before = await jobs_of(session["id"])
    new_start = moment(session["startsAt"]) + timedelta(days=2)
    data = await api.data(
        UPDATE, {"input": {"id": session["id"], "startsAt": new_start.isoformat()}}, token=world.host.token
    )
    assert data["updateGroupSession"]["userErrors"] == []
    await quiet(worker, mailbox)  # the time-change emails
    after = await jobs_of(session["id"])
    assert after[DAY].run_at == new_start - timedelta(hours=24) and after[DAY].id == before[DAY].id
    assert after[HOUR].run_at == new_start - timedelta(hours=1)
    assert after[day_of.WINDOW_OPENS].run_at == new_start - timedelta(minutes=10)

    advance_to(clock, before[HOUR].run_at)
    assert await runner.drain() == 0  # nothing left at the old times
    assert await remind_at(DAY, session["id"], clock, runner, worker) == 2
    zone = ZoneInfo("America/New_York")
    assert f"{new_start.astimezone(zone):%H:%M}–" in mailbox.one_to(world.mentees[0].user.email).subject


async def test_a_start_moved_closer_skips_the_reminder_whose_time_has_passed(api, world, runner, worker, mailbox, clock):
    session = await session_with_a_participant(api, world)
    new_start = (datetime.now().astimezone() + timedelta(hours=5)).replace(microsecond=0)
    data = await api.data(
        UPDATE, {"input": {"id": session["id"], "startsAt": new_start.isoformat()}}, token=world.host.token
    )
    assert data["updateGroupSession"]["userErrors"] == []
    await quiet(worker, mailbox)
    jobs = await jobs_of(session["id"])
    assert (jobs[DAY].status, jobs[DAY].outcome) == (JobStatus.SKIPPED, "its time had passed when the session was moved")
    assert jobs[HOUR].status == JobStatus.PENDING
    assert await remind_at(HOUR, session["id"], clock, runner, worker) == 2


async def test_a_session_created_an_hour_ahead_gets_no_stale_day_reminder(api, world, runner):
    starts = (datetime.now().astimezone() + timedelta(minutes=50)).replace(microsecond=0)
    session = await create_session(api, world, startsAt=starts.isoformat())
    assert set(await jobs_of(session["id"])) == {day_of.WINDOW_OPENS}


async def test_a_cancelled_session_sends_no_reminder(api, world, runner, worker, mailbox, clock):
    session = await session_with_a_participant(api, world)
    jobs = await jobs_of(session["id"])
    data = await api.data(CANCEL, {"id": session["id"], "reason": "Ill"}, token=world.host.token)
    assert data["cancelGroupSession"]["userErrors"] == []
    await quiet(worker, mailbox)
    assert {(job.status, job.outcome) for job in (await jobs_of(session["id"])).values()} == {
        (JobStatus.SKIPPED, "the session was cancelled")
    }
    advance_to(clock, jobs[HOUR].run_at)
    assert await runner.drain() == 0
    assert await worker.drain() == 0 and mailbox.received == []


async def test_a_reminder_rechecks_that_the_session_is_not_cancelled(api, world, runner, worker, mailbox, clock):
    """A job that was claimed as the session was cancelled (so not dropped) still sends nothing."""
    session = await session_with_a_participant(api, world)
    await quiet(worker, mailbox)
    await GroupSession.filter(id=pk_of(session["id"], "GroupSession")).update(status=SessionStatus.CANCELLED)
    assert await remind_at(DAY, session["id"], clock, runner, worker) == 0
    job = (await jobs_of(session["id"]))[DAY]
    assert (job.status, job.outcome) == (JobStatus.SKIPPED, "the session was cancelled")


async def test_a_member_who_registers_after_a_reminder_does_not_get_it(api, world, runner, worker, mailbox, clock):
    session = await create_session(api, world)
    await quiet(worker, mailbox)
    assert await remind_at(DAY, session["id"], clock, runner, worker) == 1
    assert mailbox.take()[0].to == world.host.user.email
    assert (await join(api, world.mentees[1], session["id"]))["userErrors"] == []
    await quiet(worker, mailbox)
    assert await runner.drain() == 0 and await worker.drain() == 0  # the day reminder ran already
    assert await remind_at(HOUR, session["id"], clock, runner, worker) == 2  # the next one is theirs too
    assert sorted(m.to for m in mailbox.take()) == sorted([world.host.user.email, world.mentees[1].user.email])


async def test_the_waitlist_gets_no_reminder_until_promoted(api, world, runner, worker, mailbox, clock):
    session = await session_with_a_participant(api, world, maxParticipants=2)
    waiting = world.mentees[1]
    data = await api.data(
        'mutation($id: ID!) { joinGroupSession(input: {id: $id, waitlist: true}) { userErrors { code } } }',
        {"id": session["id"]}, token=waiting.token,
    )
    assert data["joinGroupSession"]["userErrors"] == []
    await quiet(worker, mailbox)
    assert await remind_at(DAY, session["id"], clock, runner, worker) == 2
    assert waiting.user.email not in {m.to for m in mailbox.take()}

    left = await api.data(LEAVE, {"id": session["id"]}, token=world.mentees[0].token)
    assert left["leaveGroupSession"]["userErrors"] == []
    await quiet(worker, mailbox)  # the withdrawal, "You're in", the host's notice
    assert await remind_at(HOUR, session["id"], clock, runner, worker) == 2
    assert sorted(m.to for m in mailbox.take()) == sorted([world.host.user.email, waiting.user.email])


async def test_reminders_turned_off_stop_reminders_not_registration_email(api, world, runner, worker, mailbox, clock):
    member = world.mentees[0]
    data = await api.data(REMINDERS_OFF, token=member.token)
    assert data["updateViewer"] == {"viewer": {"emailReminders": False}, "userErrors": []}
    session = await create_session(api, world)
    assert (await join(api, member, session["id"]))["userErrors"] == []
    await worker.drain()
    assert mailbox.one_to(member.user.email).subject.startswith("You're registered")
    mailbox.take()
    assert await remind_at(DAY, session["id"], clock, runner, worker) == 1
    assert [m.to for m in mailbox.take()] == [world.host.user.email]


async def test_reminders_due_after_the_start_are_skipped(api, world, runner, worker, mailbox, clock):
    """The runner was down through the start: nothing is sent late."""
    session = await session_with_a_participant(api, world)
    await quiet(worker, mailbox)
    advance_to(clock, moment(session["startsAt"]), plus=60)
    assert await runner.drain() == 3
    assert await worker.drain() == 0
    jobs = await jobs_of(session["id"])
    for kind in (DAY, HOUR):
        assert jobs[kind].status == JobStatus.SKIPPED
        assert jobs[kind].outcome.startswith("the session had started when its reminder")


async def test_a_late_day_reminder_gives_way_to_the_hour_reminder(api, world, runner, worker, mailbox, clock):
    """The runner was down through both reminder times, back before the start: one email each, the nearer one."""
    session = await session_with_a_participant(api, world)
    await quiet(worker, mailbox)
    advance_to(clock, (await jobs_of(session["id"]))[HOUR].run_at)
    assert await runner.drain() == 2
    assert await worker.drain() == 2
    jobs = await jobs_of(session["id"])
    assert (jobs[DAY].status, jobs[DAY].outcome) == (JobStatus.SKIPPED, "the 1h reminder is due already: it is the one sent")
    assert (jobs[HOUR].status, jobs[HOUR].outcome) == (JobStatus.DONE, "2 reminded")


async def test_a_session_the_minimum_cancels_at_the_day_reminder_gets_the_cancellation_not_a_reminder(
    api, world, runner, worker, mailbox, clock
):
    """By default the day reminder and the minimum's decision fall on the same instant: the
    reminder waits for the decision, which cancels, and then is skipped."""
    session = await session_with_a_participant(api, world, minParticipants=3)
    await quiet(worker, mailbox)
    jobs = await jobs_of(session["id"])
    assert jobs[DAY].run_at == jobs["minimum_decision"].run_at
    # The reminder is claimed first (as if scheduled before the decision).
    await TimedJob.filter(id=jobs[DAY].id).update(run_at=jobs[DAY].run_at - timedelta(seconds=1))
    advance_to(clock, jobs["minimum_warning"].run_at)
    assert await runner.drain() == 1  # the host's warning
    await quiet(worker, mailbox)
    advance_to(clock, jobs[DAY].run_at)
    assert await runner.run_once() == 2  # the reminder, then the decision
    reminder = await TimedJob.get(id=jobs[DAY].id)
    assert (reminder.status, reminder.outcome) == (JobStatus.SKIPPED, "the session was cancelled")
    await worker.drain()
    assert all(m.subject.startswith("Cancelled: ") for m in mailbox.received) and len(mailbox.received) == 2
