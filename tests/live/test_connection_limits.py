"""Open WebSockets per user (close 4429 at connection_init) and per client address (close
1013 as the socket opens), over real sockets to uvicorn; every way a connection ends
gives its place back."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

import pytest

from app.api.socket_limits import TOO_MANY_FROM_ADDRESS_REASON, too_many_for_user_reason
from app.settings import Settings
from tests.live.conftest import WAIT, WS
from tests.servers import serve_in_process

PER_USER = 2
PER_IP = 4


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.with_(ws_max_connections_per_user=PER_USER, ws_max_connections_per_ip=PER_IP)


async def until(condition: Callable[[], bool]) -> None:
    """Wait (at most WAIT seconds) until the server's counters say `condition`: a socket's
    place is given back when the server has finished with it, after the client saw the close."""
    async with asyncio.timeout(WAIT):
        while not condition():
            await asyncio.sleep(0.01)


async def sign_in(client: WS, token: str) -> dict:
    await client.send({"type": "connection_init", "payload": {"authorization": f"Bearer {token}"}})
    return await client.recv()


async def test_a_user_holds_at_most_so_many_sockets(app, live, world):
    limits = app.state.socket_limits
    host = world.host.user.id
    async with contextlib.AsyncExitStack() as stack:
        first = await stack.enter_async_context(WS.signed_in(live, world.host.token))
        await stack.enter_async_context(WS.signed_in(live, world.host.token))

        async with WS.open(live) as third:
            await third.send({"type": "connection_init", "payload": {"authorization": f"Bearer {world.host.token}"}})
            assert await third.closed() == (4429, too_many_for_user_reason(PER_USER))
        await until(lambda: limits.open_sockets() == 2)
        assert limits.signed_in_sockets(host) == 2

        # another user from the same address is not affected
        async with WS.signed_in(live, world.mentor.token) as mentor:
            await mentor.subscribe("q", "{ viewer { name } }")
            assert (await mentor.next("q"))["data"]["viewer"]["name"]

        # closing one gives its place back
        await first.ws.close()
        await until(lambda: limits.signed_in_sockets(host) == 1)
        async with WS.open(live) as again:
            assert await sign_in(again, world.host.token) == {"type": "connection_ack"}


async def test_an_address_holds_at_most_so_many_sockets(app, live, world):
    limits = app.state.socket_limits
    async with contextlib.AsyncExitStack() as stack:
        held = [
            await stack.enter_async_context(WS.signed_in(live, member.token))
            for member in (world.host, world.host, world.mentor, world.mentor)
        ]
        async with WS.open(live) as fifth:
            assert fifth.ws.subprotocol == "graphql-transport-ws"  # accepted, only to be told why
            assert await fifth.closed() == (1013, TOO_MANY_FROM_ADDRESS_REASON)
        assert limits.open_sockets() == PER_IP

        await held[0].ws.close()
        await until(lambda: limits.open_sockets() == PER_IP - 1)
        async with WS.open(live) as again:
            assert await sign_in(again, world.host.token) == {"type": "connection_ack"}


async def test_every_way_a_socket_ends_gives_its_place_back(app, live, world):
    limits = app.state.socket_limits
    host = world.host.user.id

    async with WS.open(live) as silent:  # no connection_init in time: 4408
        assert (await silent.closed())[0] == 4408
    async with WS.open(live) as refused:  # a bad token: 4403
        await refused.send({"type": "connection_init", "payload": {"authorization": "Bearer nope"}})
        assert (await refused.closed())[0] == 4403
    async with WS.signed_in(live, world.host.token) as rude:  # a bad message after sign-in: 4400
        await rude.send("not json")
        assert (await rude.closed())[0] == 4400
    async with WS.signed_in(live, world.host.token) as gone:  # the client vanishes without a close frame
        await gone.subscribe("1", "subscription { registrationEvents { kind } }")
        gone.ws.transport.abort()
    await until(lambda: limits.open_sockets() == 0 and limits.signed_in_sockets(host) == 0)

    # The allowance is whole again.
    async with contextlib.AsyncExitStack() as stack:
        for _ in range(PER_USER):
            await stack.enter_async_context(WS.signed_in(live, world.host.token))
        assert limits.signed_in_sockets(host) == PER_USER


async def test_server_shutdown_gives_every_place_back(app, settings, world):
    limits = app.state.socket_limits
    async with contextlib.AsyncExitStack() as clients:
        async with serve_in_process(app, settings) as url:
            for member in (world.host, world.mentor):
                client = await clients.enter_async_context(WS.signed_in(url, member.token))
                await client.subscribe("1", "subscription { registrationEvents { kind } }")
            assert limits.open_sockets() == 2
        # uvicorn has stopped: every connection it served has ended
        assert limits.open_sockets() == 0
        assert limits.signed_in_sockets(world.host.user.id) == 0
