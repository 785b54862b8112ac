"""RedisBroker against a real Redis: fan-out between brokers, and the app wired to it."""

from __future__ import annotations

import asyncio

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError

from app.live.broker import BrokerUnavailable, InMemoryBroker
from app.live.redis_broker import RedisBroker, glob_escape
from app.main import make_broker
from tests.backends import require_redis
from tests.conftest import create_session, join
from tests.live.conftest import WAIT, WS, wait_for_subscriptions
from tests.live.redis_support import unique_prefix

pytestmark = pytest.mark.redis


@pytest.fixture
def redis_url() -> str:
    return require_redis()


@pytest.fixture
async def brokers(redis_url):
    """Two brokers as two processes would hold them (same Redis, same prefix)."""
    prefix = unique_prefix()
    started = [RedisBroker(redis_url, prefix=prefix, queue_size=4) for _ in range(2)]
    for broker in started:
        await broker.start()
    yield started
    for broker in started:
        await broker.stop()


async def test_a_message_published_by_one_broker_reaches_the_others(brokers):
    a, b = brokers
    assert a.available and b.available
    on_a = await a.open("host:1")
    on_b = await b.open("host:1")
    other_channel = await a.open("host:2")
    await b.publish("host:1", {"n": 1})
    await b.publish("host:1", {"n": 2})
    for subscription in (on_a, on_b):
        assert await asyncio.wait_for(subscription.__anext__(), WAIT) == {"n": 1}
        assert await asyncio.wait_for(subscription.__anext__(), WAIT) == {"n": 2}
    await b.publish("host:2", {"n": 3})
    assert await asyncio.wait_for(other_channel.__anext__(), WAIT) == {"n": 3}
    a.close(on_a)
    assert a.fanout.subscription_count == 1


async def test_prefixes_keep_deployments_apart(redis_url):
    prefix = unique_prefix()
    mine, theirs = RedisBroker(redis_url, prefix=prefix + "[a]*"), RedisBroker(redis_url, prefix=prefix + "b")
    await mine.start()
    await theirs.start()
    try:
        subscription = await mine.open("x")
        await theirs.publish("x", {"from": "theirs"})
        await mine.publish("x", {"from": "mine"})
        # Only our own message, although the other prefix would match an unescaped glob.
        assert await asyncio.wait_for(subscription.__anext__(), WAIT) == {"from": "mine"}
        assert mine.delivered == 1
    finally:
        await mine.stop()
        await theirs.stop()
    assert glob_escape("a*b?[c]\\") == "a\\*b\\?\\[c\\]\\\\"


async def test_an_unreachable_redis_refuses_subscriptions_and_swallows_publishes():
    broker = RedisBroker("redis://127.0.0.1:1/0", connect_timeout=0.2)
    await broker.start()  # starts anyway: HTTP must come up without Redis
    try:
        assert not broker.available
        assert broker.describe()["connected"] is False
        await broker.publish("host:1", {"n": 1})  # logged, not raised
        with pytest.raises(BrokerUnavailable):
            await broker.open("host:1")
    finally:
        await broker.stop()


@pytest.fixture
def settings(settings, redis_url):
    return settings.with_(redis_url=redis_url, redis_key_prefix=unique_prefix())


async def test_the_app_uses_redis_when_redis_url_is_set(live, app, api, world, settings):
    assert isinstance(app.state.broker, RedisBroker)
    assert isinstance(make_broker(settings.with_(redis_url=None)), InMemoryBroker)
    session = await create_session(api, world)
    async with WS.signed_in(live, world.host.token) as host:
        await host.subscribe("e", "subscription { registrationEvents { kind registration { participant { name } } } }")
        live_status = await wait_for_subscriptions(live, 1)
        assert live_status["broker"] == "redis" and live_status["connected"] is True
        await join(api, world.mentees[0], session["id"])
        payload = await host.next("e")
        assert payload["data"]["registrationEvents"] == {"kind": "JOINED", "registration": {"participant": {"name": "Mentee0"}}}
    assert app.state.broker.delivered >= 2  # host and session channels both came back through Redis


async def test_stop_ends_the_listener_even_when_the_cancellation_comes_back_as_a_connection_error():
    """Python 3.11's asyncio.wait_for returns the operation's own error instead of the
    cancellation when both happen at once (seen as a stop() that never returned)."""

    class CancellationLost(RedisBroker):
        swallowing = True

        async def _subscribe(self, pubsub) -> None:
            try:
                await asyncio.Event().wait()  # a subscribe that is under way when stop() comes
            except asyncio.CancelledError:
                if self.swallowing:
                    raise RedisConnectionError("Connection refused") from None
                raise

    broker = CancellationLost("redis://127.0.0.1:1/0", connect_timeout=0.2)
    await broker.start()
    stopping = asyncio.create_task(broker.stop())
    done, _ = await asyncio.wait({stopping}, timeout=5)  # does not cancel stop() on timeout
    broker.swallowing = False  # let a stuck listener go, whatever happened
    if not done:
        stopping.cancel()
    assert done, "stop() did not return: the listener went on after its cancellation"
