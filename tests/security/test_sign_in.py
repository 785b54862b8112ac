"""signIn is rate-limited per email and per client address (in memory or in Redis),
answers the same for an unknown email and a wrong password, and signOut revokes."""

from __future__ import annotations

import asyncio
import uuid

import httpx
import pytest
import redis.asyncio as redis_asyncio

from app.accounts import services as accounts
from app.accounts.models import AccessToken
from app.accounts.rate_limit import (
    InMemoryAttemptCounter,
    RedisAttemptCounter,
    SignInLimiter,
    StoreFull,
    client_key,
)
from app.main import create_app
from app.settings import Settings
from tests.backends import require_redis
from tests.conftest import GraphQLClient
from tests.documents import SIGN_IN
from tests.responses import without_cost

SIGN_OUT = "mutation { signOut { signedOut userErrors { code } } }"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.with_(sign_in_attempts_per_email=3, sign_in_attempts_per_client=6, sign_in_window_seconds=300)


@pytest.fixture
async def alice(app):
    return await accounts.create_user(email="alice@example.org", name="Alice", password="correct horse")


def client_from(app, address: str) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, client=(address, 40000))
    return httpx.AsyncClient(transport=transport, base_url="http://t")


async def sign_in(http: httpx.AsyncClient, email: str, password: str) -> dict:
    response = await http.post("/graphql", json={"query": SIGN_IN, "variables": {"email": email, "password": password}})
    assert response.status_code == 200, response.text
    return response.json()["data"]["signIn"]


def code(result: dict) -> str | None:
    return result["userErrors"][0]["code"] if result["userErrors"] else None


async def test_unknown_email_and_wrong_password_answer_the_same(app, alice):
    async with client_from(app, "10.0.0.1") as http:
        unknown = await sign_in(http, "nobody@example.org", "correct horse")
        wrong = await sign_in(http, "alice@example.org", "wrong")
    assert unknown == wrong == {
        "token": None, "viewer": None,
        "userErrors": [{"field": None, "message": "Email or password is incorrect.", "code": "INVALID_CREDENTIALS"}],
    }


async def test_per_email_limit_refuses_even_the_right_password_then_says_when(app, alice):
    async with client_from(app, "10.0.0.1") as http:
        for _ in range(3):
            assert code(await sign_in(http, "alice@example.org", "wrong")) == "INVALID_CREDENTIALS"
        refused = await sign_in(http, "ALICE@example.org ", "correct horse")  # same email, other spelling
    assert refused["token"] is None and code(refused) == "RATE_LIMITED"
    assert refused["userErrors"][0]["message"] == "Too many sign-in attempts. Try again in 5 minutes."
    # another client is limited too: the limit follows the email
    async with client_from(app, "10.0.0.2") as http:
        assert code(await sign_in(http, "alice@example.org", "correct horse")) == "RATE_LIMITED"
    assert await AccessToken.filter(user=alice).count() == 0


async def test_success_clears_the_email_counter(app, alice):
    async with client_from(app, "10.0.0.1") as http:
        for _ in range(2):
            await sign_in(http, "alice@example.org", "wrong")
        assert (await sign_in(http, "alice@example.org", "correct horse"))["token"]
        for _ in range(3):  # a fresh allowance of 3
            assert code(await sign_in(http, "alice@example.org", "wrong")) == "INVALID_CREDENTIALS"


async def test_per_client_limit_across_emails(app, alice):
    async with client_from(app, "10.0.0.7") as http:
        results = [await sign_in(http, f"guess{i}@example.org", "x") for i in range(6)]
        assert {code(r) for r in results} == {"INVALID_CREDENTIALS"}
        assert code(await sign_in(http, "alice@example.org", "correct horse")) == "RATE_LIMITED"
    async with client_from(app, "10.0.0.8") as http:  # another address is not affected
        assert (await sign_in(http, "alice@example.org", "correct horse"))["token"]


async def test_concurrent_guesses_cannot_slip_past_the_limit(app, alice):
    async with client_from(app, "10.0.0.3") as http:
        results = await asyncio.wait_for(
            asyncio.gather(*(sign_in(http, "alice@example.org", f"guess{i}") for i in range(12))), timeout=60
        )
    codes = [code(r) for r in results]
    assert codes.count("INVALID_CREDENTIALS") == 3 and codes.count("RATE_LIMITED") == 9


async def test_the_window_ends():
    now = [1000.0]
    limiter = SignInLimiter(InMemoryAttemptCounter(clock=lambda: now[0]), per_email=2, per_client=100, window_seconds=60)
    assert await limiter.attempt(email="a@x", client="1.2.3.4") is None
    assert await limiter.attempt(email="a@x", client="1.2.3.4") is None
    now[0] += 20
    refusal = await limiter.attempt(email="a@x", client="1.2.3.4")
    assert refusal is not None and refusal.retry_after == 40 and "40 seconds" in refusal.message
    now[0] += 40
    assert await limiter.attempt(email="a@x", client="1.2.3.4") is None


async def test_a_full_store_refuses_new_counters_and_forgets_none():
    now = [1000.0]
    counter = InMemoryAttemptCounter(max_keys=100, clock=lambda: now[0])
    assert await counter.hit("victim", 60) == (1, 60)
    for i in range(99):
        await counter.hit(f"junk{i}", 60)
    now[0] += 10
    for i in range(100, 1000):
        with pytest.raises(StoreFull) as full:
            await counter.hit(f"junk{i}", 60)
    assert full.value.retry_after == 50  # when the oldest window ends
    assert len(counter) == 100
    assert await counter.hit("victim", 60) == (2, 50)  # still counted, never dropped
    now[0] += 50  # every window has ended: room again
    assert await counter.hit("newcomer", 60) == (1, 60)
    assert len(counter) == 1


def test_client_keys():
    assert client_key("203.0.113.9") == "203.0.113.9"
    assert client_key("::ffff:203.0.113.9") == "203.0.113.9"
    assert client_key("2001:db8:1:2:aaaa::1") == client_key("2001:db8:1:2:bbbb::2") == "2001:db8:1:2::/64"
    assert client_key(None) == "unknown"


# --- one signIn per request -----------------------------------------------------------------

ALICE_WRONG = '{email: "alice@example.org", password: "wrong"}'


async def refused_codes(response: httpx.Response) -> list[str]:
    assert response.status_code == 200, response.text
    body = response.json()
    items = body if isinstance(body, list) else [body]
    return [item["errors"][0]["extensions"]["code"] if item.get("errors") else "OK" for item in items]


async def still_three_guesses_left(http: httpx.AsyncClient) -> None:
    """Alice's counter was not touched: three wrong guesses are answered as wrong, then refused."""
    for _ in range(3):
        assert code(await sign_in(http, "alice@example.org", "wrong")) == "INVALID_CREDENTIALS"
    assert code(await sign_in(http, "alice@example.org", "wrong")) == "RATE_LIMITED"


@pytest.mark.parametrize(
    "document",
    [
        # 15 aliases: the alias limit lets them through, each would be an attempt
        "mutation { " + " ".join(f"a{i}: signIn(input: {ALICE_WRONG}) {{ token }}" for i in range(15)) + " }",
        # fragments, one spread from another
        f"mutation {{ ...A ...B }} fragment A on Mutation {{ a: signIn(input: {ALICE_WRONG}) {{ token }} }} "
        f"fragment B on Mutation {{ b: signIn(input: {ALICE_WRONG}) {{ token }} }}",
        # two operations in one document
        f"mutation One {{ signIn(input: {ALICE_WRONG}) {{ token }} }} "
        f"mutation Two {{ signIn(input: {ALICE_WRONG}) {{ token }} }}",
    ],
    ids=["aliases", "fragments", "operations"],
)
async def test_a_document_with_several_sign_ins_is_refused_before_any_is_counted(app, alice, document):
    async with client_from(app, "10.0.3.1") as http:
        response = await http.post("/graphql", json={"query": document, "operationName": None if "One" not in document else "One"})
        assert await refused_codes(response) == ["TOO_MANY_SIGN_INS"]
        assert response.json()["data"] is None
        assert "one signIn" in response.json()["errors"][0]["message"]
        await still_three_guesses_left(http)


async def test_a_batch_cannot_carry_sign_ins(app, alice):
    one = {"query": f"mutation {{ signIn(input: {ALICE_WRONG}) {{ token }} }}"}
    async with client_from(app, "10.0.3.2") as http:
        response = await http.post("/graphql", json=[one] * 10)
        assert await refused_codes(response) == ["TOO_MANY_SIGN_INS"] * 10
        # another operation in the same batch still runs; only the signIn is refused
        response = await http.post("/graphql", json=[one, {"query": "{ viewer { name } }"}])
        assert await refused_codes(response) == ["TOO_MANY_SIGN_INS", "OK"]
        assert without_cost(response.json()[1]) == {"data": {"viewer": None}}
        await still_three_guesses_left(http)


# --- Redis ----------------------------------------------------------------------------------


async def test_two_processes_share_the_limit_through_redis(settings, alice):
    url = require_redis()
    redis = redis_asyncio.from_url(url)
    prefix = f"test-{uuid.uuid4().hex[:8]}:"
    shared = settings.with_(redis_url=url, redis_key_prefix=prefix)
    # Two workers, one Redis. Their lifespans are not run: a second Tortoise.init in this
    # process would replace the test database's context (and leak its connection); the
    # `app` fixture behind `alice` already serves the database to both.
    first, second = create_app(shared), create_app(shared)
    try:
        async with client_from(first, "10.0.1.1") as a, client_from(second, "10.0.1.2") as b:
            assert code(await sign_in(a, "alice@example.org", "wrong")) == "INVALID_CREDENTIALS"
            assert code(await sign_in(b, "alice@example.org", "wrong")) == "INVALID_CREDENTIALS"
            assert code(await sign_in(a, "alice@example.org", "wrong")) == "INVALID_CREDENTIALS"
            refused = await sign_in(b, "alice@example.org", "correct horse")
        assert code(refused) == "RATE_LIMITED" and "5 minutes" in refused["userErrors"][0]["message"]
        keys = [k.decode() for k in await redis.keys(prefix + "*")]
        assert keys and all(k.startswith(prefix + "sign-in:") for k in keys)
        assert not any("alice" in k or "10.0.1" in k for k in keys)  # hashed, not in clear
        ttls = [await redis.ttl(k) for k in keys]
        assert all(0 < ttl <= 300 for ttl in ttls)
    finally:
        await first.state.sign_in_limiter.close()
        await second.state.sign_in_limiter.close()
        keys = await redis.keys(prefix + "*")
        if keys:
            await redis.delete(*keys)
        await redis.aclose()


async def test_a_redis_outage_never_resets_what_was_counted(settings, alice):
    """Each process keeps its own count of what it saw, raised to Redis's at every answer:
    when Redis goes away, the attempts already made (on either process) still count."""
    from tests.live.redis_support import PrivateRedis

    private = PrivateRedis()
    private.start()
    shared = settings.with_(redis_url=private.url, redis_key_prefix="outage:")
    # Two workers, one Redis (lifespans not run, as above).
    first, second = create_app(shared), create_app(shared)
    try:
        async with client_from(first, "10.0.4.1") as a, client_from(second, "10.0.4.2") as b, asyncio.timeout(60):
            assert code(await sign_in(a, "alice@example.org", "wrong")) == "INVALID_CREDENTIALS"
            assert code(await sign_in(a, "alice@example.org", "wrong")) == "INVALID_CREDENTIALS"
            assert code(await sign_in(b, "alice@example.org", "wrong")) == "INVALID_CREDENTIALS"
            # Three attempts counted in Redis: B made one, and learnt of A's two from Redis.
            private.stop()
            refused = await sign_in(b, "alice@example.org", "correct horse")
            assert code(refused) == "RATE_LIMITED"
            # A counts on from the two it made: one more guess, then the lock.
            assert code(await sign_in(a, "alice@example.org", "wrong")) == "INVALID_CREDENTIALS"
            assert code(await sign_in(a, "alice@example.org", "correct horse")) == "RATE_LIMITED"
            # Counting goes on during the outage: another email still gets its guesses.
            assert code(await sign_in(b, "bob@example.org", "wrong")) == "INVALID_CREDENTIALS"
        assert await AccessToken.filter(user=alice).count() == 0
    finally:
        await first.state.sign_in_limiter.close()
        await second.state.sign_in_limiter.close()
        private.stop()


async def test_without_redis_counting_falls_back_to_memory():
    counter = RedisAttemptCounter("redis://127.0.0.1:1/0", prefix="x:")  # nothing listens on port 1
    limiter = SignInLimiter(counter, per_email=1, per_client=10, window_seconds=60)
    try:
        assert await asyncio.wait_for(limiter.attempt(email="a@x", client="1.1.1.1"), 20) is None
        assert await asyncio.wait_for(limiter.attempt(email="a@x", client="1.1.1.1"), 20) is not None
    finally:
        await limiter.close()


# --- signOut --------------------------------------------------------------------------------


async def test_sign_out_revokes_only_the_token_in_use(api: GraphQLClient, app, alice):
    async with client_from(app, "10.0.2.1") as http:
        first = (await sign_in(http, "alice@example.org", "correct horse"))["token"]
        second = (await sign_in(http, "alice@example.org", "correct horse"))["token"]
    assert await api.data(SIGN_OUT, token=first) == {"signOut": {"signedOut": True, "userErrors": []}}
    assert await api.data("{ viewer { name } }", token=first) == {"viewer": None}
    assert await api.data("{ viewer { name } }", token=second) == {"viewer": {"name": "Alice"}}
    body = await api.execute(SIGN_OUT, token=first)  # the revoked token signs nobody in any more
    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert await AccessToken.filter(user=alice, revoked_at__isnull=True).count() == 1


async def test_sign_out_needs_a_signed_in_user(api):
    body = await api.execute(SIGN_OUT)
    assert body["data"] is None and body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
