"""Fan-out across processes through Redis pub/sub (selected when REDIS_URL is set).

Each process holds ONE PubSub connection with ONE pattern subscription (`<prefix>*`),
read by one background task that hands every message to this process's `LocalFanout`.
Publishing is a plain PUBLISH on a separate, pooled client.

Why a single pattern rather than a SUBSCRIBE per channel: a GraphQL subscription then
costs no Redis round trip and cannot race its own SUBSCRIBE confirmation (the bug that
makes the `broadcaster` package deliver nothing on redis-py 8), and reconnecting is one
command. The price is that every process receives every live message of the deployment,
which is cheap at the rate people join sessions (see docs/live.md, "Scaling out").

Outages: when the connection drops, every local subscription ends with
`BrokerUnavailable` (clients are told), `open` refuses new ones, `publish` drops messages
with a log line (HTTP keeps working), and the task reconnects with capped exponential
backoff and subscribes again.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import time
from collections.abc import Awaitable, Callable
from typing import Any

from redis.asyncio import Redis
from redis.backoff import ExponentialWithJitterBackoff
from redis.exceptions import RedisError
from redis.retry import Retry

from app import metrics
from app.live.broker import BrokerUnavailable, LocalFanout, Subscription

logger = logging.getLogger(__name__)

_GLOB_SPECIAL = "\\*?[]"


def glob_escape(text: str) -> str:
    """`text` as a literal inside a Redis glob pattern."""
    return "".join("\\" + c if c in _GLOB_SPECIAL else c for c in text)


class RedisBroker:
    """Broker over Redis pub/sub; see the module docstring for the design."""

    def __init__(
        self,
        url: str,
        *,
        prefix: str = "gs:",
        queue_size: int = 256,
        connect_timeout: float = 2.0,
        publish_timeout: float = 2.0,
        ping_interval: float = 5.0,
        reconnect_min: float = 0.1,
        reconnect_max: float = 5.0,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
    ) -> None:
        self.fanout = LocalFanout(queue_size)
        self.prefix = prefix
        self.connect_timeout = connect_timeout
        self.publish_timeout = publish_timeout
        self.ping_interval = ping_interval
        self.reconnect_min = reconnect_min
        self.reconnect_max = reconnect_max
        # How the broker waits between reconnection attempts: a test passes one that also
        # notes each delay, and so sees the backoff without timing it.
        self._sleep = sleep
        # redis-py 8's from_url() retries nothing: without this, the first PUBLISH after a
        # Redis restart fails on the pool's dead connection instead of reconnecting.
        self._publisher = Redis.from_url(
            url,
            retry=Retry(ExponentialWithJitterBackoff(cap=0.5, base=0.05), 3),
            socket_connect_timeout=connect_timeout,
            socket_timeout=publish_timeout,
        )
        # The listener retries nothing on purpose: the loop below owns reconnection, so an
        # outage is noticed (and reported to subscribers) at once.
        self._listener = Redis.from_url(url, socket_connect_timeout=connect_timeout, socket_keepalive=True)
        self._connected = False
        self._ready = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.outages = 0
        self.delivered = 0

    # --- Broker protocol --------------------------------------------------------------

    @property
    def available(self) -> bool:
        return self._connected

    def describe(self) -> dict[str, Any]:
        return {
            "broker": "redis",
            "connected": self._connected,
            "subscriptions": self.fanout.subscription_count,
            "outages": self.outages,
        }

    async def start(self) -> None:
        """Start listening. Waits up to `connect_timeout` for Redis; if it is down the app
        starts anyway (HTTP must work) and live updates begin once it is reachable."""
        metrics.redis_connected(self._connected)
        self._task = asyncio.create_task(self._listen_forever(), name="redis-broker-listener")
        try:
            await asyncio.wait_for(self._ready.wait(), self.connect_timeout + 1)
        except TimeoutError:
            logger.warning("Redis is not reachable yet; live updates start once it is")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None
        self._connected = False
        self.fanout.fail_all(BrokerUnavailable("server shutting down"))
        await self._publisher.aclose()
        await self._listener.aclose()

    async def publish(self, channel: str, message: dict[str, Any]) -> None:
        """PUBLISH the message; an outage is logged in one line, never raised."""
        if not self._connected:
            logger.warning("live message for %s dropped: Redis is unreachable", channel)
            return
        data = json.dumps(message, separators=(",", ":"))
        try:
            await asyncio.wait_for(self._publisher.publish(self.prefix + channel, data), self.publish_timeout)
        except (RedisError, OSError, TimeoutError) as error:
            logger.warning("live message for %s dropped: Redis publish failed (%s)", channel, error)

    async def open(self, channel: str) -> Subscription:
        if not self._connected:
            raise BrokerUnavailable("Redis is unreachable")
        return self.fanout.add(channel)

    def close(self, subscription: Subscription) -> None:
        self.fanout.remove(subscription)

    # --- the listener -----------------------------------------------------------------

    async def _listen_forever(self) -> None:
        failures = 0
        while True:
            pubsub = self._listener.pubsub()
            try:
                await self._subscribe(pubsub)
                failures = 0
                self._set_connected(True)
                await self._read(pubsub)
            except asyncio.CancelledError:
                raise
            except (RedisError, OSError, TimeoutError, ValueError) as error:
                if asyncio.current_task().cancelling():
                    # stop() cancelled us, but Python 3.11's asyncio.wait_for hands back the
                    # operation's own error when it failed at that moment: the cancellation
                    # must still end the loop, or stop() waits for it forever.
                    raise asyncio.CancelledError from error
                failures += 1
                if self._connected:
                    self._set_connected(False)
                    self.outages += 1
                    logger.warning("lost the connection to Redis (%s): live subscriptions ended; reconnecting", error)
                    self.fanout.fail_all(BrokerUnavailable("lost the connection to Redis"))
                elif failures == 1:
                    logger.warning("cannot reach Redis (%s); retrying", error)
            finally:
                try:
                    await pubsub.aclose()
                except Exception:  # noqa: BLE001 - the connection is being thrown away anyway
                    pass
            delay = min(self.reconnect_max, self.reconnect_min * 2 ** min(failures, 16))
            await self._sleep(delay * random.uniform(0.5, 1.0))

    async def _subscribe(self, pubsub) -> None:
        """PSUBSCRIBE and wait for Redis to confirm it: only then are messages sure to arrive."""
        await asyncio.wait_for(pubsub.psubscribe(glob_escape(self.prefix) + "*"), self.connect_timeout)
        deadline = time.monotonic() + self.connect_timeout
        while time.monotonic() < deadline:
            message = await pubsub.get_message(timeout=max(0.01, deadline - time.monotonic()))
            if message is not None and message["type"] == "psubscribe":
                return
        raise TimeoutError("Redis did not confirm the subscription")

    async def _read(self, pubsub) -> None:
        """Deliver messages until the connection fails. A PING every `ping_interval` seconds
        that gets no answer within another interval counts as a lost connection (a silent
        network partition would otherwise go unnoticed)."""
        next_ping = time.monotonic() + self.ping_interval
        ping_sent_at: float | None = None
        while True:
            now = time.monotonic()
            if ping_sent_at is not None and now - ping_sent_at > self.ping_interval:
                raise TimeoutError(f"Redis did not answer a PING within {self.ping_interval:g} s")
            if ping_sent_at is None and now >= next_ping:
                await pubsub.ping("live")
                ping_sent_at = now
            message = await pubsub.get_message(timeout=min(1.0, self.ping_interval))
            if message is None:
                continue
            if message["type"] == "pong":
                ping_sent_at = None
                next_ping = time.monotonic() + self.ping_interval
            elif message["type"] == "pmessage":
                self._dispatch(message)

    def _dispatch(self, message: dict[str, Any]) -> None:
        raw_channel = message["channel"]
        channel = (raw_channel.decode() if isinstance(raw_channel, bytes) else raw_channel)[len(self.prefix) :]
        try:
            payload = json.loads(message["data"])
        except (TypeError, ValueError):
            logger.error("ignored a malformed live message on %s", channel)
            return
        self.delivered += 1
        self.fanout.deliver(channel, payload)

    def _set_connected(self, connected: bool) -> None:
        self._connected = connected
        metrics.redis_connected(connected)
        if connected:
            self._ready.set()
            logger.info("live updates: subscribed to Redis")
