"""A subscriber that stops reading is dropped with a clear close; the others keep receiving."""

from __future__ import annotations

import asyncio
import socket

import pytest
from websockets.exceptions import ConnectionClosed

from app.live.publisher import host_channel
from tests.conftest import create_session, join
from tests.live.conftest import WAIT, WS, wait_for_subscriptions
from tests.servers import listening_socket, serve_in_process

EVENTS = "subscription { registrationEvents { kind session { objective participantCount } } }"


@pytest.fixture
def settings(settings):
    return settings.with_(ws_subscriber_queue_size=8)


async def test_a_slow_subscriber_is_dropped_and_the_others_keep_receiving(app, settings, api, world):
    # Small kernel buffers on both ends, so a client that stops reading congests its
    # socket after a few hundred kilobytes instead of several megabytes.
    listener = listening_socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    session = await create_session(api, world, objective="A long objective. " * 500)  # ~9 KB per event
    broker = app.state.broker

    async with serve_in_process(app, settings, listener) as live:
        port = int(live.rsplit(":", 1)[1])
        raw = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        raw.connect(("127.0.0.1", port))
        raw.setblocking(False)
        async with WS.signed_in(live, world.host.token) as fast, WS.signed_in(
            live, world.host.token, sock=raw, max_queue=1
        ) as slow:
            await fast.subscribe("e", EVENTS)
            await slow.subscribe("e", EVENTS)
            await wait_for_subscriptions(live, 2)

            # One real event, seen by both, gives the message to replay.
            probe = await broker.open(host_channel(world.host.user.id))
            await join(api, world.mentees[0], session["id"])
            message = await asyncio.wait_for(probe.__anext__(), WAIT)
            broker.close(probe)
            assert (await fast.next("e"))["data"]["registrationEvents"]["kind"] == "JOINED"

            # Replay it at the pace of the fast subscriber, while the slow one reads nothing.
            sent, sent_after_drop = 1, 0
            async with asyncio.timeout(60):
                while sent_after_drop < 20:
                    await broker.publish(host_channel(world.host.user.id), message)
                    sent += 1
                    payload = await fast.next("e")
                    assert payload["data"]["registrationEvents"]["session"]["participantCount"] == 2
                    if broker.fanout.subscription_count == 1:
                        sent_after_drop += 1
            assert broker.fanout.subscription_count == 1  # only the fast one is left

            # The slow client now reads: what it had been sent, then a close that says why.
            received = 0
            with pytest.raises(ConnectionClosed) as closed:
                while True:
                    await slow.next("e")
                    received += 1
            assert (closed.value.rcvd.code, closed.value.rcvd.reason) == (
                1013,
                "Subscriber too slow: updates were dropped; reconnect and refetch",
            )
            assert 0 < received < sent - sent_after_drop
