"""Two `python -m app serve` processes, one database, one Redis: they act as one."""

from __future__ import annotations

import asyncio

import pytest

from tests.backends import require_redis
from tests.conftest import create_session
from tests.documents import JOIN, LEAVE
from tests.live.conftest import WAIT, WS, http_gql, wait_for_subscriptions
from tests.live.redis_support import unique_prefix
from tests.servers import AppProcess

pytestmark = pytest.mark.redis


# The database is the suite's (tests/conftest.py): one SQLite file that the three processes
# (this one and two servers) share, or a fresh PostgreSQL database in the PostgreSQL pass.
# Not "PostgreSQL whenever reachable": Tortoise builds each model's SQL for the first
# dialect a process uses, so one pytest run cannot mix SQLite and PostgreSQL.


@pytest.fixture
def settings(settings):
    return settings.with_(redis_url=require_redis(), redis_key_prefix=unique_prefix())


@pytest.fixture
async def two_servers(settings, tmp_path, app):
    """Two `python -m app serve` processes, ready once each is connected to Redis."""
    servers = [
        AppProcess("serve", settings, tmp_path / f"{name}.log", "--log-level", "warning",
                   ready=lambda health: health["live"]["connected"])
        for name in ("a", "b")
    ]
    try:
        await asyncio.gather(*(server.start() for server in servers))
        yield servers
    finally:
        await asyncio.gather(*(server.stop() for server in servers))


EVENTS = """
subscription($id: ID) { registrationEvents(sessionId: $id) {
  kind registration { participant { name } } session { participantCount spotsLeft } } }
"""


async def test_subscribe_on_one_process_and_join_on_the_other(two_servers, api, world):
    a, b = two_servers
    session = await create_session(api, world, maxParticipants=5)
    async with WS.signed_in(a.url, world.host.token) as host, WS.signed_in(b.url, world.mentees[2].token) as member:
        await host.subscribe("e", EVENTS, {"id": session["id"]})
        await member.subscribe("s", "subscription($id: ID!) { groupSessionUpdated(id: $id) { spotsLeft } }", {"id": session["id"]})
        await wait_for_subscriptions(a.url, 1)
        await wait_for_subscriptions(b.url, 1)

        joined = await http_gql(b.url, JOIN, {"id": session["id"]}, token=world.mentees[0].token)
        assert joined["data"]["joinGroupSession"]["userErrors"] == []
        event = await host.next("e", timeout=WAIT)
        assert event["data"]["registrationEvents"] == {
            "kind": "JOINED",
            "registration": {"participant": {"name": "Mentee0"}},
            "session": {"participantCount": 2, "spotsLeft": 3},
        }
        assert (await member.next("s"))["data"]["groupSessionUpdated"] == {"spotsLeft": 3}

        # And the other way round: a leave handled by A reaches B's subscriber.
        left = await http_gql(a.url, LEAVE, {"id": session["id"]}, token=world.mentees[0].token)
        assert left["data"]["leaveGroupSession"]["userErrors"] == []
        assert (await member.next("s"))["data"]["groupSessionUpdated"] == {"spotsLeft": 4}
        assert (await host.next("e"))["data"]["registrationEvents"]["kind"] == "LEFT"
