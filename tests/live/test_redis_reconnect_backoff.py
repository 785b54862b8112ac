"""The Redis broker reconnects with capped exponential backoff and subscribes again. While
Redis is away its port is held by a server that accepts and hangs up at once, so each
reconnection attempt is seen (one connection each); the broker's waits between attempts are
the delays it asks its `sleep` for, read as numbers, not timed."""

from __future__ import annotations

import asyncio

import pytest

from app.live.redis_broker import RedisBroker
from tests.live.redis_support import PrivateRedis, unique_prefix

pytestmark = pytest.mark.redis

RECONNECT_MIN = 0.05  # reconnect_min of the broker under test
CAP = 0.4  # its reconnect_max
ATTEMPTS = 12


class HangUp:
    """Accepts each connection and closes it at once, counting them."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.connections = 0
        self._server: asyncio.base_events.Server | None = None

    async def start(self) -> None:
        async def hang_up(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            writer.close()
            self.connections += 1

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
    waits: list[float] = []
    waited = asyncio.Condition()

    async def noted_sleep(seconds: float) -> None:
        async with waited:
            waits.append(seconds)
            waited.notify_all()
        await asyncio.sleep(seconds)

    broker = RedisBroker(
        private_redis.url, prefix=unique_prefix(), connect_timeout=1.0,
        reconnect_min=RECONNECT_MIN, reconnect_max=CAP, sleep=noted_sleep,
    )
    await broker.start()
    try:
        assert broker.available
        assert waits == []  # connected at once: no wait yet
        private_redis.stop()
        refusing = HangUp(private_redis.port)
        await refusing.start()
        try:
            # Bounded: with the cap, 12 waits take about 0.1 + 0.2 + 10 x 0.4 s at most;
            # uncapped doubling would need minutes.
            async with waited, asyncio.timeout(ATTEMPTS * CAP + 6):
                await waited.wait_for(lambda: len(waits) >= ATTEMPTS)
        finally:
            await refusing.stop()
        assert not broker.available
        # The waits were between real attempts: each one after the first reached the port
        # (the very first may have come before the hang-up server took it over).
        assert refusing.connections >= ATTEMPTS - 2, (refusing.connections, waits)
        # Backing off from the minimum (each wait draws between half and all of its ceiling):
        # about 0.1, then 0.2, then the cap.
        assert RECONNECT_MIN <= waits[0] <= 2 * RECONNECT_MIN, waits
        assert 2 * RECONNECT_MIN <= waits[1] <= 4 * RECONNECT_MIN, waits
        # Capped: no wait longer than the cap; and not spinning: none under half of it.
        assert all(CAP / 2 <= wait <= CAP for wait in waits[2:ATTEMPTS]), waits

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
