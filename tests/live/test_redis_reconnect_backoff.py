"""The Redis broker reconnects with capped exponential backoff and subscribes again. While
Redis is away its port is held by a server that accepts and hangs up at once, so each
reconnection attempt is seen (one connection each) and the waits between them measured."""

from __future__ import annotations

import asyncio
import time

import pytest

from app.live.redis_broker import RedisBroker
from tests.live.redis_support import PrivateRedis, unique_prefix

pytestmark = pytest.mark.redis

CAP = 0.4  # reconnect_max of the broker under test
ATTEMPTS = 12


class HangUp:
    """Accepts each connection and closes it at once, noting when it came."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.times: list[float] = []
        self.arrived = asyncio.Condition()
        self._server: asyncio.base_events.Server | None = None

    async def start(self) -> None:
        async def hang_up(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            writer.close()
            async with self.arrived:
                self.times.append(time.monotonic())
                self.arrived.notify_all()

        self._server = await asyncio.start_server(hang_up, host="127.0.0.1", port=self.port)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()


@pytest.fixture
def private_redis():
    server = PrivateRedis()
    server.start()
    yield server
    server.stop()


async def test_reconnects_with_capped_backoff_and_subscribes_again(private_redis):
    broker = RedisBroker(
        private_redis.url, prefix=unique_prefix(), connect_timeout=1.0, reconnect_min=0.05, reconnect_max=CAP
    )
    await broker.start()
    try:
        assert broker.available
        private_redis.stop()
        refusing = HangUp(private_redis.port)
        await refusing.start()
        try:
            # Bounded: with the cap, 12 attempts take about 0.1 + 0.2 + 10 x 0.4 s at most;
            # uncapped doubling would need minutes.
            async with refusing.arrived, asyncio.timeout(ATTEMPTS * CAP + 6):
                await refusing.arrived.wait_for(lambda: len(refusing.times) >= ATTEMPTS)
        finally:
            await refusing.stop()
        assert not broker.available
        gaps = [b - a for a, b in zip(refusing.times, refusing.times[1:])]
        # Capped: no wait longer than the cap (plus the time an attempt takes).
        assert max(gaps) <= CAP + 0.3, gaps
        # Backing off, not spinning: once the doubling reaches the cap, each wait is at least
        # half of it (the jitter draws between half and all).
        assert min(gaps[3:]) >= CAP / 2 - 0.02, gaps

        # Redis is back on the same port: the broker connects and subscribes again, promptly.
        private_redis.start()
        async with asyncio.timeout(CAP + 5):
            while not broker.available:
                await asyncio.sleep(0.02)
        subscription = await broker.open("room")
        await broker.publish("room", {"after": "restart"})
        assert await asyncio.wait_for(subscription.__anext__(), timeout=5) == {"after": "restart"}
        assert broker.describe()["outages"] == 1
    finally:
        await broker.stop()
