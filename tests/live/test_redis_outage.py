"""Redis going away: subscriptions are told, HTTP keeps working, the broker comes back."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from tests.conftest import create_session
from tests.documents import JOIN
from tests.live.conftest import WAIT, WS, http_gql, wait_for_subscriptions
from tests.live.redis_support import PrivateRedis, unique_prefix
from tests.servers import serve_in_process

pytestmark = pytest.mark.redis

EVENTS = "subscription { registrationEvents { kind registration { participant { name } } } }"


@pytest.fixture
def private_redis():
    server = PrivateRedis()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def settings(settings, private_redis):
    return settings.with_(redis_url=private_redis.url, redis_key_prefix=unique_prefix())


async def _live_status(base_url: str) -> dict:
    async with httpx.AsyncClient(base_url=base_url, timeout=WAIT) as http:
        response = await http.get("/healthz")
    assert response.status_code == 200
    return response.json()["live"]


async def _until_connected(base_url: str, connected: bool, timeout: float) -> None:
    async with asyncio.timeout(timeout):
        while (await _live_status(base_url))["connected"] is not connected:
            await asyncio.sleep(0.05)


async def test_outage_is_reported_http_keeps_working_and_the_broker_reconnects(live, api, world, private_redis):
    session = await create_session(api, world)
    async with WS.signed_in(live, world.host.token) as host:
        await host.subscribe("e", EVENTS)
        await wait_for_subscriptions(live, 1)

        private_redis.stop()
        payload = await host.next("e")
        assert payload["data"] is None
        assert payload["errors"][0]["extensions"] == {"code": "LIVE_UPDATES_UNAVAILABLE"}
        assert await host.recv() == {"id": "e", "type": "complete"}
        assert (await _live_status(live))["connected"] is False

        # HTTP is unaffected: the join commits and answers at once.
        async with asyncio.timeout(2):
            result = await http_gql(live, JOIN, {"id": session["id"]}, token=world.mentees[0].token)
        assert result["data"]["joinGroupSession"]["userErrors"] == []
        assert result["data"]["joinGroupSession"]["groupSession"]["participantCount"] == 2

        # New subscriptions are refused while Redis is away, with the same code.
        await host.subscribe("again", EVENTS)
        refused = await host.recv()
        assert refused["type"] == "error" and refused["id"] == "again"
        assert refused["payload"][0]["extensions"] == {"code": "LIVE_UPDATES_UNAVAILABLE"}

        private_redis.start()
        await _until_connected(live, True, timeout=15)
        assert (await _live_status(live))["outages"] == 1

        await host.subscribe("back", EVENTS)
        await wait_for_subscriptions(live, 1)
        result = await http_gql(live, JOIN, {"id": session["id"]}, token=world.mentees[1].token)
        assert result["data"]["joinGroupSession"]["userErrors"] == []
        event = await host.next("back")
        assert event["data"]["registrationEvents"]["registration"]["participant"]["name"] == "Mentee1"


async def test_the_app_starts_while_redis_is_down_and_connects_later(app, settings, api, world, private_redis):
    # `app` connected already; stop Redis, then build a second app as a fresh process would.
    from app.main import create_app

    private_redis.stop()
    late = create_app(settings)
    await late.state.broker.start()
    try:
        async with serve_in_process(late, settings) as url:
            assert (await _live_status(url))["connected"] is False
            body = await http_gql(url, "{ viewer { name } }", token=world.host.token)
            assert body["data"]["viewer"]["name"] == "Hannah"
            private_redis.start()
            await _until_connected(url, True, timeout=15)
    finally:
        await late.state.broker.stop()
