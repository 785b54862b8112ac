"""Fan-out of live messages to subscribers: the Broker protocol and the in-process broker.

A message is a JSON-able dict published on a channel (`host:<user id>`,
`session:<session id>`). Each subscriber gets a bounded queue: one that reads too slowly
is dropped (its iterator raises `SubscriberTooSlow`) instead of slowing the others.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any, Protocol

from app import metrics

logger = logging.getLogger(__name__)


class SubscriberTooSlow(Exception):
    """The subscriber's queue overflowed; it missed messages and was dropped."""


class BrokerUnavailable(Exception):
    """The shared broker (Redis) cannot be reached; live updates are interrupted."""


class Subscription:
    """One subscriber's bounded queue on one channel, read by one reader.

    `on_overflow`, when set, is called once when the queue overflows: the reader is stuck
    (typically behind a congested socket), so waiting for it to notice the error would not
    do; the WebSocket layer uses it to close the connection at once.

    A list and the reader's one waiting future, not an `asyncio.Queue` (four deques, an
    event and a lock's worth of state) nor a deque (~760 B even when empty, the list 56):
    a thousand idle subscribers each keep one, and a queue holds at most
    WS_SUBSCRIBER_QUEUE_SIZE messages (256 by default), so taking from a list's front stays cheap.
    """

    __slots__ = ("channel", "_items", "_size", "_waiter", "dropped", "on_overflow", "viewer_id")

    def __init__(self, channel: str, size: int) -> None:
        self.channel = channel
        self._items: list[dict[str, Any] | BaseException] = []
        self._size = size
        self._waiter: asyncio.Future[None] | None = None
        self.dropped = False
        self.on_overflow: Callable[[], None] | None = None
        # Who subscribed (a user id), when the subscriber says: what is read for every local
        # subscriber of a message at once needs to know whom for.
        self.viewer_id: int | None = None

    def offer(self, message: dict[str, Any]) -> None:
        """Never blocks the publisher: a full queue marks the subscriber as too slow."""
        if self.dropped:
            return
        if len(self._items) >= self._size:
            self.fail(SubscriberTooSlow("too many undelivered messages; resubscribe to catch up"))
            if self.on_overflow is not None:
                try:
                    self.on_overflow()
                except Exception:  # noqa: BLE001 - one subscriber's hook must not stop the fan-out
                    logger.exception("on_overflow hook failed for a subscriber of %s", self.channel)
            return
        self._put(message)

    def fail(self, error: BaseException) -> None:
        self.dropped = True
        while self._items and len(self._items) >= self._size:  # make room, so the error is the next thing the reader sees
            del self._items[0]
        self._put(error)

    def _put(self, item: dict[str, Any] | BaseException) -> None:
        self._items.append(item)
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def __aiter__(self) -> AsyncIterator[dict[str, Any]]:
        return self

    async def __anext__(self) -> dict[str, Any]:
        while not self._items:
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        item = self._items.pop(0)
        if isinstance(item, BaseException):
            raise item
        return item


class Broker(Protocol):
    """What the app needs from a broker.

    `publish` never raises for an outage (it logs: a committed change must not turn into
    an error). `open` raises `BrokerUnavailable` while live updates cannot be delivered;
    a subscription that is open when the broker goes away ends with that error.
    """

    fanout: LocalFanout

    @property
    def available(self) -> bool: ...

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def publish(self, channel: str, message: dict[str, Any]) -> None: ...

    async def open(self, channel: str) -> Subscription: ...

    def close(self, subscription: Subscription) -> None: ...

    def describe(self) -> dict[str, Any]: ...


@asynccontextmanager
async def subscribed(broker: Broker, channel: str) -> AsyncIterator[Subscription]:
    """`broker.open(channel)` for the duration of a block."""
    subscription = await broker.open(channel)
    try:
        yield subscription
    finally:
        broker.close(subscription)


class LocalFanout:
    """The subscriber registry every broker shares: channel -> live subscriptions."""

    def __init__(self, queue_size: int) -> None:
        self.queue_size = queue_size
        self.subscribers: dict[str, set[Subscription]] = defaultdict(set)
        # Callbacks run on each message of a channel, with no queue: the signals a WebSocket
        # acts on itself (app.live.access). Not subscriptions: /healthz does not count them.
        self.listeners: dict[str, set[Callable[[dict[str, Any]], None]]] = defaultdict(set)

    @property
    def subscription_count(self) -> int:
        """Live subscriptions of this process, all channels together."""
        return sum(len(subs) for subs in self.subscribers.values())

    def listen(self, channel: str, callback: Callable[[dict[str, Any]], None]) -> Callable[[], None]:
        """Call `callback(message)` for each message on `channel` until the returned
        function is called. The callback must not block: it runs inside the fan-out."""
        self.listeners[channel].add(callback)

        def stop_listening() -> None:
            callbacks = self.listeners.get(channel)
            if callbacks is not None:
                callbacks.discard(callback)
                if not callbacks:
                    del self.listeners[channel]

        return stop_listening

    def deliver(self, channel: str, message: dict[str, Any]) -> None:
        for callback in list(self.listeners.get(channel, ())):
            try:
                callback(message)
            except Exception:  # noqa: BLE001 - one listener must not stop the fan-out
                logger.exception("a listener of %s failed", channel)
        for subscription in list(self.subscribers.get(channel, ())):
            subscription.offer(message)
            if subscription.dropped:
                self.remove(subscription)

    def fail_all(self, error: BaseException) -> None:
        """End every subscription with `error` (the broker went away or is stopping)."""
        for subscriptions in list(self.subscribers.values()):
            for subscription in list(subscriptions):
                subscription.fail(error)
        metrics.ACTIVE_SUBSCRIPTIONS.dec(self.subscription_count)
        self.subscribers.clear()

    def add(self, channel: str) -> Subscription:
        subscription = Subscription(channel, self.queue_size)
        self.subscribers[channel].add(subscription)
        metrics.ACTIVE_SUBSCRIPTIONS.inc()
        return subscription

    def remove(self, subscription: Subscription) -> bool:
        """Forget a subscription; True when it was the channel's last."""
        subscribers = self.subscribers.get(subscription.channel)
        if subscribers is None or subscription not in subscribers:
            return False
        subscribers.remove(subscription)
        metrics.ACTIVE_SUBSCRIPTIONS.dec()
        if not subscribers:
            del self.subscribers[subscription.channel]
            return True
        return False


class InMemoryBroker:
    """One process: publish delivers straight to this process's subscribers."""

    available = True

    def __init__(self, queue_size: int = 256) -> None:
        self.fanout = LocalFanout(queue_size)

    def describe(self) -> dict[str, Any]:
        return {"broker": "memory", "connected": True, "subscriptions": self.fanout.subscription_count}

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        self.fanout.fail_all(BrokerUnavailable("server shutting down"))

    async def publish(self, channel: str, message: dict[str, Any]) -> None:
        self.fanout.deliver(channel, message)

    async def open(self, channel: str) -> Subscription:
        return self.fanout.add(channel)

    def close(self, subscription: Subscription) -> None:
        self.fanout.remove(subscription)
