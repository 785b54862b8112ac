"""A flood of junk sign-ins neither resets a locked email nor grows the store without
bound: one client over its limit creates no more counters, and many clients filling the
store are refused (RATE_LIMITED) while every counter already kept, the victim's among
them, holds until its window ends.

The flood goes through the endpoint from distinct client addresses (in-process, as
uvicorn would see them from many hosts), with a store small enough to fill."""

from __future__ import annotations

import httpx
import pytest

from app.accounts import services as accounts
from app.accounts.models import AccessToken
from app.accounts.rate_limit import RedisAttemptCounter, SignInLimiter
from app.settings import Settings
from tests.backends import require_redis
from tests.live.redis_support import PrivateRedis, unique_prefix
from tests.security.test_sign_in import client_from, code, sign_in

MAX_COUNTERS = 40


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.with_(
        sign_in_attempts_per_email=3, sign_in_attempts_per_client=5, sign_in_window_seconds=300,
        sign_in_max_counters=MAX_COUNTERS,
    )


@pytest.fixture
async def alice(app):
    return await accounts.create_user(email="alice@example.org", name="Alice", password="correct horse")


def counters(app) -> int:
    return len(app.state.sign_in_limiter.counter)


async def junk(http: httpx.AsyncClient, tag: str, count: int) -> list[str | None]:
    return [code(await sign_in(http, f"junk-{tag}-{i}@example.org", "x")) for i in range(count)]


async def test_one_client_over_its_limit_creates_no_counters(app, alice):
    async with client_from(app, "10.5.0.1") as http:
        codes = await junk(http, "one", 100)
    assert codes == ["INVALID_CREDENTIALS"] * 5 + ["RATE_LIMITED"] * 95
    assert counters(app) == 1 + 5  # its own counter and the five emails it could try
    async with client_from(app, "10.5.0.2") as http:
        assert (await sign_in(http, "alice@example.org", "correct horse"))["token"]


async def test_a_flood_from_many_clients_does_not_unlock_the_victim(app, alice):
    async with client_from(app, "10.6.0.1") as attacker:
        for _ in range(3):
            assert code(await sign_in(attacker, "alice@example.org", "wrong")) == "INVALID_CREDENTIALS"
        assert code(await sign_in(attacker, "alice@example.org", "correct horse")) == "RATE_LIMITED"

        # 30 hosts, each sending junk emails up to and past its own limit: far more
        # counters than the store holds.
        refused = 0
        for host in range(30):
            async with client_from(app, f"10.6.1.{host}") as http:
                refused += (await junk(http, str(host), 8)).count("RATE_LIMITED")

        # Alice's lock holds: the right password is still refused, and says when to retry.
        refusal = await sign_in(attacker, "alice@example.org", "correct horse")
    assert refusal["token"] is None and code(refusal) == "RATE_LIMITED"
    assert refusal["userErrors"][0]["message"] == "Too many sign-in attempts. Try again in 5 minutes."
    assert counters(app) == MAX_COUNTERS
    assert refused > 30 * 3  # more than the per-client refusals: the full store refused too
    # A new client finds the store full: refused, not let in with a fresh counter.
    async with client_from(app, "10.6.2.1") as http:
        assert code(await sign_in(http, "alice@example.org", "correct horse")) == "RATE_LIMITED"
    assert counters(app) == MAX_COUNTERS
    assert await AccessToken.filter(user=alice).count() == 0


# --- the same semantics in Redis -------------------------------------------------------------


async def test_in_redis_a_client_over_its_limit_creates_no_counters():
    import redis.asyncio as redis

    url = require_redis()
    prefix = unique_prefix()
    limiter = SignInLimiter(RedisAttemptCounter(url, prefix=prefix), per_email=3, per_client=5, window_seconds=300)
    client = redis.from_url(url)
    try:
        results = [await limiter.attempt(email=f"junk{i}@example.org", client="10.7.0.1") for i in range(50)]
        assert [r is None for r in results] == [True] * 5 + [False] * 45
        assert len(await client.keys(prefix + "*")) == 1 + 5
    finally:
        keys = await client.keys(prefix + "*")
        if keys:
            await client.delete(*keys)
        await client.aclose()
        await limiter.close()


async def test_redis_refusing_writes_refuses_attempts_rather_than_counting_afresh():
    """Out of memory under `noeviction`, Redis refuses every write: the limiter must not
    fall back to memory then (that would count the victim from zero again)."""
    import redis.asyncio as redis

    private = PrivateRedis()
    private.start()
    limiter = SignInLimiter(RedisAttemptCounter(private.url, prefix="t:"), per_email=3, per_client=50, window_seconds=300)
    client = redis.from_url(private.url)
    try:
        for _ in range(3):
            assert await limiter.attempt(email="alice@example.org", client="10.7.1.1") is None
        await client.config_set("maxmemory-policy", "noeviction")
        await client.config_set("maxmemory", 1)  # any write is now over the limit
        refusal = await limiter.attempt(email="alice@example.org", client="10.7.1.2")
        assert refusal is not None and refusal.retry_after == 300
        assert await limiter.attempt(email="newcomer@example.org", client="10.7.1.3") is not None
        # The local copy counted too, but is not consulted in place of a Redis that answers.
        assert await limiter.attempt(email="newcomer@example.org", client="10.7.1.4") is not None
    finally:
        await client.aclose()
        await limiter.close()
        private.stop()
