"""Redis going away under the WebSocket caps: each process counts its own sockets (and
says so in its log), and registers them all in Redis again once it answers."""

from __future__ import annotations

import asyncio
import contextlib

import pytest

from app.api.socket_limits import SharedSocketCounts, too_many_for_user_reason
from app.settings import Duration
from tests.live.conftest import WAIT, WS
from tests.live.redis_support import PrivateRedis, unique_prefix

pytestmark = pytest.mark.redis

PER_USER = 2


@pytest.fixture
def private_redis():
    server = PrivateRedis()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def settings(settings, private_redis):
    return settings.with_(
        redis_url=private_redis.url, redis_key_prefix=unique_prefix(),
        ws_max_connections_per_user=PER_USER, ws_connection_heartbeat=Duration(seconds=1),
    )


async def test_during_an_outage_the_caps_hold_per_process_and_counting_resumes_after(
    app, live, settings, world, private_redis, caplog
):
    async with contextlib.AsyncExitStack() as stack:
        await stack.enter_async_context(WS.signed_in(live, world.host.token))
        private_redis.stop()
        # Admitted on this process's count alone, and the cap still holds here.
        await stack.enter_async_context(WS.signed_in(live, world.host.token))
        async with WS.open(live) as third:
            await third.send({"type": "connection_init", "payload": {"authorization": f"Bearer {world.host.token}"}})
            assert await third.closed() == (4429, too_many_for_user_reason(PER_USER))
        assert "WebSocket limits: Redis unavailable" in caplog.text

        # Back: the heartbeat registers both sockets (the one admitted meanwhile too).
        private_redis.start()
        counts = SharedSocketCounts(settings.redis_url, prefix=settings.redis_key_prefix, heartbeat=1)
        try:
            async with asyncio.timeout(WAIT + 3):
                while await counts.count(counts.user_key(world.host.user.id)) != 2:
                    await asyncio.sleep(0.05)  # polling Redis: the heartbeat tells nobody
        finally:
            await counts.close()
