"""The minimum, live: the host's registrationEvents says MINIMUM_REACHED once when a join
brings a session to its minimum (leaving and joining again does not say it again), and a
session cancelled by its unmet minimum reaches its watchers like a host's cancellation."""

from __future__ import annotations

from tests.conftest import create_session, join
from tests.documents import LEAVE
from tests.live.conftest import WS, wait_for_subscriptions

EVENTS = """
subscription Events($sessionId: ID) {
  registrationEvents(sessionId: $sessionId) {
    kind
    registration { participant { name } }
    session { participantCount minParticipants minimumReached }
  }
}
"""


async def _event(client: WS) -> tuple[str, str, dict]:
    payload = await client.next("e")
    assert "errors" not in payload, payload
    event = payload["data"]["registrationEvents"]
    return event["kind"], event["registration"]["participant"]["name"], event["session"]


async def test_minimum_reached_is_told_once_after_the_join_that_reached_it(live, api, world):
    session = await create_session(api, world, minParticipants=2)
    assert session["minParticipants"] == 2
    async with WS.signed_in(live, world.host.token) as host:
        await host.subscribe("e", EVENTS, {"sessionId": session["id"]})
        await wait_for_subscriptions(live, 1)

        await join(api, world.mentees[0], session["id"])
        assert await _event(host) == (
            "JOINED", "Mentee0", {"participantCount": 2, "minParticipants": 2, "minimumReached": True}
        )
        assert await _event(host) == (
            "MINIMUM_REACHED", "Mentee0", {"participantCount": 2, "minParticipants": 2, "minimumReached": True}
        )

        left = await api.data(LEAVE, {"id": session["id"]}, token=world.mentees[0].token)
        assert left["leaveGroupSession"]["userErrors"] == []
        assert await _event(host) == (
            "LEFT", "Mentee0", {"participantCount": 1, "minParticipants": 2, "minimumReached": False}
        )
        await join(api, world.mentees[0], session["id"])
        assert (await _event(host))[:2] == ("JOINED", "Mentee0")
        await join(api, world.mentees[1], session["id"])
        # The next event is the next join: the minimum, reached again, was not told again.
        assert (await _event(host))[:2] == ("JOINED", "Mentee1")
        await host.nothing_more()


async def test_a_session_the_host_alone_fills_never_tells_it(live, api, world):
    session = await create_session(api, world)  # minimum 1: the host
    async with WS.signed_in(live, world.host.token) as host:
        await host.subscribe("e", EVENTS, {"sessionId": session["id"]})
        await wait_for_subscriptions(live, 1)
        await join(api, world.mentees[0], session["id"])
        assert (await _event(host))[0] == "JOINED"
        await join(api, world.mentees[1], session["id"])
        assert (await _event(host))[:2] == ("JOINED", "Mentee1")


async def test_a_minimum_raised_above_the_count_is_told_when_a_join_reaches_it(live, api, world):
    from tests.documents import UPDATE

    session = await create_session(api, world)  # minimum 1: reached by the host alone
    data = await api.data(UPDATE, {"input": {"id": session["id"], "minParticipants": 2}}, token=world.host.token)
    assert data["updateGroupSession"]["userErrors"] == []
    async with WS.signed_in(live, world.host.token) as host:
        await host.subscribe("e", EVENTS, {"sessionId": session["id"]})
        await wait_for_subscriptions(live, 1)
        await join(api, world.mentees[0], session["id"])
        assert (await _event(host))[:2] == ("JOINED", "Mentee0")
        assert (await _event(host))[:2] == ("MINIMUM_REACHED", "Mentee0")


UPDATED = """
subscription Updated($id: ID!) { groupSessionUpdated(id: $id) { status cancellationReason minimumReached } }
"""


async def test_a_session_cancelled_by_its_minimum_reaches_its_watchers_live(live, api, world, app, settings):
    from datetime import datetime, timedelta, timezone

    from app.api.pagination import pk_of
    from app.jobs import minimum
    from app.jobs.models import TimedJob
    from app.jobs.runner import JobRunner
    from app.jobs.table import build_job_handlers

    session = await create_session(api, world, minParticipants=3)
    await join(api, world.mentees[0], session["id"])
    decision = await TimedJob.get(session_id=pk_of(session["id"], "GroupSession"), kind=minimum.DECISION)
    at_deadline = decision.run_at + timedelta(seconds=1)
    runner = JobRunner(settings, build_job_handlers(settings), app.state.effects, clock=lambda: at_deadline)
    assert at_deadline > datetime.now(timezone.utc)  # the clock is driven, not waited for
    async with WS.signed_in(live, world.mentees[0].token) as member:
        await member.subscribe("u", UPDATED, {"id": session["id"]})
        await wait_for_subscriptions(live, 1)
        await runner.drain()
        payload = await member.next("u")
        assert payload["data"]["groupSessionUpdated"] == {
            "status": "CANCELLED",
            "cancellationReason": minimum.cancellation_reason(2, 3),
            "minimumReached": False,
        }
