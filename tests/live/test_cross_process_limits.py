"""The WebSocket caps hold across processes when Redis is configured: two `python -m app
serve` processes, one database, one Redis (app/api/socket_limits.py)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal

import pytest

from app.api.socket_limits import TOO_MANY_FROM_ADDRESS_REASON, SharedSocketCounts, too_many_for_user_reason
from app.settings import Duration
from tests.backends import require_redis
from tests.live.conftest import WAIT, WS
from tests.live.redis_support import unique_prefix
from tests.servers import AppProcess

pytestmark = pytest.mark.redis

PER_USER = 2
PER_IP = 6
HEARTBEAT = 2  # seconds: a killed process's sockets stop counting 3 heartbeats later


@pytest.fixture
def settings(settings):
    return settings.with_(
        redis_url=require_redis(), redis_key_prefix=unique_prefix(),
        ws_max_connections_per_user=PER_USER, ws_max_connections_per_ip=PER_IP,
        ws_connection_heartbeat=Duration(seconds=HEARTBEAT),
    )


@pytest.fixture
async def two_servers(settings, tmp_path, app):
    servers = [AppProcess("serve", settings, tmp_path / f"{name}.log", "--log-level", "warning") for name in "ab"]
    try:
        await asyncio.gather(*(server.start() for server in servers))
        yield servers
    finally:
        await asyncio.gather(*(server.stop() for server in servers))


@pytest.fixture
async def shared_counts(settings):
    counts = SharedSocketCounts(settings.redis_url, prefix=settings.redis_key_prefix, heartbeat=HEARTBEAT)
    yield counts
    await counts.close()


async def init(client: WS, token: str) -> dict | tuple[int | None, str]:
    """connection_init: the ack, or the close code and reason."""
    await client.send({"type": "connection_init", "payload": {"authorization": f"Bearer {token}"}})
    try:
        return await client.recv()
    except Exception:  # noqa: BLE001 - closed instead of acknowledged
        return await client.closed()


async def until_counted(counts: SharedSocketCounts, user_id: int, expected: int, timeout: float) -> None:
    """Wait (bounded) until Redis counts `expected` fresh sockets of the user: another
    process releases in the background, and nothing tells this one when it has."""
    async with asyncio.timeout(timeout):
        while await counts.count(counts.user_key(user_id)) != expected:
            await asyncio.sleep(0.05)


async def test_the_caps_hold_across_both_processes(two_servers, world, shared_counts):
    a, b = two_servers
    async with contextlib.AsyncExitStack() as stack:
        on_b = await stack.enter_async_context(WS.signed_in(b.url, world.host.token))
        await stack.enter_async_context(WS.signed_in(a.url, world.host.token))
        # Each process holds one of the host's sockets: the third is refused on either.
        for server in (a, b):
            async with WS.open(server.url) as third:
                assert await init(third, world.host.token) == (4429, too_many_for_user_reason(PER_USER))
        assert await shared_counts.count(shared_counts.user_key(world.host.user.id)) == PER_USER

        # The address cap counts both processes' sockets too: 2 + 4 = 6 open, the 7th is refused.
        for server in (a, b, a, b):
            member = world.mentor if server is a else world.mentees[0]
            await stack.enter_async_context(WS.signed_in(server.url, member.token))
        async with WS.open(b.url) as seventh:
            assert await seventh.closed() == (1013, TOO_MANY_FROM_ADDRESS_REASON)

        # Closing the socket on B gives the host's place back on A.
        await on_b.ws.close()
        await until_counted(shared_counts, world.host.user.id, 1, WAIT)
        async with WS.open(a.url) as again:
            assert await init(again, world.host.token) == {"type": "connection_ack"}


async def test_processes_racing_cannot_both_slip_past_the_cap(two_servers, world):
    a, b = two_servers
    async with contextlib.AsyncExitStack() as stack:
        clients = [await stack.enter_async_context(WS.open(server.url)) for server in (a, b, a, b, a)]
        answers = await asyncio.gather(*(init(client, world.mentees[1].token) for client in clients))
    assert sorted(map(str, answers)) == sorted(
        [str({"type": "connection_ack"})] * PER_USER + [str((4429, too_many_for_user_reason(PER_USER)))] * 3
    )


async def test_a_killed_process_frees_its_sockets_once_its_heartbeat_lapses(two_servers, world, shared_counts):
    a, b = two_servers
    host = world.host.user.id
    async with contextlib.AsyncExitStack() as stack:
        await stack.enter_async_context(WS.signed_in(a.url, world.host.token))
        doomed = await stack.enter_async_context(WS.signed_in(b.url, world.host.token))
        os.killpg(b.process.pid, signal.SIGKILL)  # no shutdown: nothing is released
        await b.wait(10)
        await doomed.closed()
        # B's socket still counts until its entry lapses (3 heartbeats after its last refresh).
        assert await shared_counts.count(shared_counts.user_key(host)) == 2
        await until_counted(shared_counts, host, 1, timeout=3 * HEARTBEAT + WAIT)
        async with WS.open(a.url) as again:
            assert await init(again, world.host.token) == {"type": "connection_ack"}
