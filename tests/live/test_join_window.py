"""The room opening, live: at joinOpensAt a durable job tells the session's watchers, and
each `groupSessionUpdated` subscriber's `room` and `viewerCanEnter` are resolved anew: on
for the host and confirmed participants, still null / false for anyone else. The server's
clock and the runner's are one clock the test moves forward (never by sleeping)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime, timedelta, timezone

import pytest

from app.api.pagination import pk_of
from app.jobs import day_of
from app.jobs.models import JobStatus, TimedJob
from app.jobs.runner import JobRunner
from app.jobs.table import build_job_handlers
from app.main import create_app
from tests.conftest import create_session, join
from tests.documents import UPDATE
from tests.live.conftest import WS, wait_for_subscriptions

UPDATED = """
subscription Updated($id: ID!) {
  groupSessionUpdated(id: $id) { status viewerCanEnter joinOpensAt room { url instructions } }
}
"""
ROOM = "https://meet.example.org/our-room"


class Clock:
    """Real time, until the test moves it forward."""

    def __init__(self) -> None:
        self.offset = timedelta()

    def __call__(self) -> datetime:
        return datetime.now(timezone.utc) + self.offset

    def advance_to(self, when: datetime, plus: float = 1) -> None:
        self.offset += when - self() + timedelta(seconds=plus)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def app(settings, clock) -> AsyncIterator:
    """The suite's app on the test's clock: `room` and `viewerCanEnter` are judged by it."""
    application = create_app(settings, clock=clock)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
def runner(settings, clock, app) -> JobRunner:
    return JobRunner(settings, build_job_handlers(settings), app.state.effects, clock=clock, rand=lambda: 1.0)


def in_two_hours() -> str:
    return (datetime.now(timezone.utc) + timedelta(hours=2)).replace(microsecond=0).isoformat()


async def window_job(session_id: str) -> TimedJob:
    return await TimedJob.get(session_id=pk_of(session_id, "GroupSession"), kind=day_of.WINDOW_OPENS)


async def _updated(client: WS) -> dict:
    payload = await client.next("u")
    assert "errors" not in payload, payload
    return payload["data"]["groupSessionUpdated"]


async def test_the_room_opening_reaches_participants_live_and_not_others(live, api, world, runner, clock):
    session = await create_session(api, world, startsAt=in_two_hours(), meetingUrl=ROOM, joinInstructions="Hi")
    assert (await join(api, world.mentees[0], session["id"]))["userErrors"] == []
    job = await window_job(session["id"])
    assert job.run_at == datetime.fromisoformat(session["startsAt"]) - timedelta(minutes=10)

    async with (
        WS.signed_in(live, world.mentees[0].token) as participant,
        WS.signed_in(live, world.mentees[1].token) as member,
        WS.signed_in(live, world.host.token) as host,
    ):
        for client in (participant, member, host):
            await client.subscribe("u", UPDATED, {"id": session["id"]})
        await wait_for_subscriptions(live, 3)

        clock.advance_to(job.run_at)
        assert await runner.drain() == 2  # the 1h reminder was due too
        assert (await TimedJob.get(id=job.id)).status == JobStatus.DONE

        opened = {"url": ROOM, "instructions": "Hi"}
        seen = await _updated(participant)
        assert (seen["viewerCanEnter"], seen["room"]) == (True, opened)
        seen = await _updated(host)
        assert (seen["viewerCanEnter"], seen["room"]) == (True, opened)
        seen = await _updated(member)
        assert (seen["status"], seen["viewerCanEnter"], seen["room"]) == ("SCHEDULED", False, None)
        for client in (participant, member, host):
            await client.nothing_more()


async def test_an_edited_start_moves_the_room_opening(live, api, world, runner, clock):
    session = await create_session(api, world, startsAt=in_two_hours())
    before = await window_job(session["id"])
    new_start = datetime.fromisoformat(session["startsAt"]) + timedelta(hours=1)
    data = await api.data(
        UPDATE, {"input": {"id": session["id"], "startsAt": new_start.isoformat()}}, token=world.host.token
    )
    assert data["updateGroupSession"]["userErrors"] == []
    after = await window_job(session["id"])
    assert (after.id, after.run_at, after.status) == (before.id, new_start - timedelta(minutes=10), JobStatus.PENDING)

    async with WS.signed_in(live, world.host.token) as host:
        await host.subscribe("u", UPDATED, {"id": session["id"]})
        await wait_for_subscriptions(live, 1)
        clock.advance_to(before.run_at)
        assert await runner.drain() == 0  # the old moment: nothing is due
        clock.advance_to(after.run_at)
        assert await runner.drain() == 2  # the 1h reminder and the opening
        seen = await _updated(host)
        assert seen["viewerCanEnter"] is True and seen["room"]["url"].startswith("https://meet.jit.si/")
