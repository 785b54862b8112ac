"""Tokens end: TOKEN_TTL after sign-in, TOKEN_IDLE_TTL after their last use, and sockets
signed in with one close then. Judged by the app's clock, which these tests move forward
(in-process), or with lifetimes of seconds where a real socket must close by itself."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest

from app.accounts import services as accounts
from app.accounts.models import AccessToken
from app.api.websocket import ACCESS_ENDED_REASON
from app.main import create_app
from app.settings import ConfigError, Settings, parse_duration
from tests.email.conftest import Clock
from tests.live.conftest import WAIT, WS, wait_for_subscriptions
from tests.servers import serve_in_process

VIEWER = "{ viewer { name } }"
HOUR, MINUTE = 3600, 60


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def lifetimes() -> tuple[timedelta, timedelta]:
    """TOKEN_TTL and TOKEN_IDLE_TTL of the test's app (a test parametrizes it to change them)."""
    return timedelta(hours=1), timedelta(minutes=10)


@pytest.fixture
def settings(settings, lifetimes):
    ttl, idle = lifetimes
    return settings.with_(token_ttl=ttl, token_idle_ttl=idle)


@pytest.fixture
async def app(settings, clock):
    """The suite's app, judging token expiry by a clock the test moves forward."""
    application = create_app(settings, clock=clock)
    async with application.router.lifespan_context(application):
        yield application


async def test_an_unused_token_ends_after_the_idle_lifetime(api, world, clock):
    clock.advance(9 * MINUTE)
    assert await api.data(VIEWER, token=world.host.token) == {"viewer": {"name": "Hannah"}}
    clock.advance(9 * MINUTE)  # 18 minutes after sign-in, 9 after its last use
    assert await api.data(VIEWER, token=world.host.token) == {"viewer": {"name": "Hannah"}}
    clock.advance(10 * MINUTE + 1)
    assert await api.data(VIEWER, token=world.host.token) == {"viewer": None}
    # Ended by time, not revoked: the row is as it was at its last use.
    row = await AccessToken.get(token_hash=accounts.hash_token(world.host.token))
    assert row.revoked_at is None


async def test_a_token_in_steady_use_still_ends_after_its_lifetime(api, world, clock):
    for _ in range(6):  # every 9 minutes: never idle for 10
        clock.advance(9 * MINUTE)
        assert await api.data(VIEWER, token=world.host.token) == {"viewer": {"name": "Hannah"}}
    clock.advance(7 * MINUTE)  # 61 minutes after sign-in, 7 after its last use
    assert await api.data(VIEWER, token=world.host.token) == {"viewer": None}
    body = await api.execute("mutation { updateViewer(input: {name: \"X\"}) { viewer { name } } }", token=world.host.token)
    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_an_expired_token_opens_no_socket_and_an_open_socket_refuses_it(app, settings, world, clock):
    async with serve_in_process(app, settings) as live:
        async with WS.signed_in(live, world.host.token) as client:
            clock.advance(11 * MINUTE)
            await client.subscribe("q", VIEWER)
            assert await client.closed() == (4403, ACCESS_ENDED_REASON)
        async with WS.open(live) as client:
            await client.send({"type": "connection_init", "payload": {"authorization": f"Bearer {world.host.token}"}})
            assert await client.closed() == (4403, "Forbidden")


@pytest.mark.parametrize("lifetimes", [(timedelta(seconds=2), timedelta(days=1))])
async def test_a_socket_closes_when_its_token_expires(app, settings, world):
    # Real seconds here: nothing but the server's own timer may close the socket.
    token = await accounts.issue_token(world.host.user, label="short")
    async with serve_in_process(app, settings) as live, WS.signed_in(live, token) as client:
        opened = time.monotonic()
        await client.subscribe("e", "subscription { registrationEvents { kind } }")
        await wait_for_subscriptions(live, 1)
        assert await client.closed(timeout=WAIT) == (4403, ACCESS_ENDED_REASON)
        assert time.monotonic() - opened < 2 + 1
        await wait_for_subscriptions(live, 0)


def test_durations_are_parsed_one_way_everywhere():
    assert parse_duration("30d") == timedelta(days=30)
    assert parse_duration("1h30m") == timedelta(minutes=90)
    assert parse_duration("2d12h") == timedelta(days=2, hours=12)
    assert parse_duration(" 45s ") == timedelta(seconds=45)
    assert parse_duration("90") == timedelta(seconds=90)
    assert str(parse_duration("90")) == "1m30s"
    for bad in ["", "1.5h", "30m1h", "1h 30m", "-5", "1w", "h", "1hh", "9" * 40]:
        with pytest.raises(ConfigError, match="TOKEN_TTL"):
            parse_duration(bad, name="TOKEN_TTL")


def test_token_lifetimes_come_from_the_environment():
    defaults = Settings.from_env({})
    assert (defaults.token_ttl, defaults.token_idle_ttl) == (timedelta(days=30), timedelta(days=7))
    custom = Settings.from_env({"TOKEN_TTL": "12h", "TOKEN_IDLE_TTL": "30m"})
    assert (custom.token_ttl, custom.token_idle_ttl) == (timedelta(hours=12), timedelta(minutes=30))
    with pytest.raises(ConfigError, match=r"TOKEN_IDLE_TTL must be between 1s and 3650d, got '0'"):
        Settings.from_env({"TOKEN_IDLE_TTL": "0"})
    with pytest.raises(ConfigError, match=r"TOKEN_TTL must be a duration such as 30d"):
        Settings.from_env({"TOKEN_TTL": "a month"})
