"""SIGTERM to a serving process: it stops accepting, closes WebSockets with a code that
says "reconnect elsewhere" (1001 or 1012), lets the request in flight finish, and exits 0
within its grace period (uvicorn alone would end it by the signal)."""

from __future__ import annotations

import asyncio
import json
import signal

import httpx

from tests.responses import without_cost
from tests.live.conftest import WS, wait_for_subscriptions
from tests.servers import AppProcess

GRACE_SECONDS = 10


async def test_sigterm_closes_sockets_with_a_reconnect_code_finishes_the_request_in_flight_and_exits_0(
    settings, world, tmp_path
):
    server = AppProcess("serve", settings.with_(shutdown_grace=f"{GRACE_SECONDS}s"), tmp_path / "serve.log")
    await server.start()
    try:
        async with WS.signed_in(server.url, world.host.token) as client, httpx.AsyncClient(
            base_url=server.url, timeout=GRACE_SECONDS + 10
        ) as http:
            await client.subscribe("1", "subscription Events { registrationEvents { kind } }")
            await wait_for_subscriptions(server.url, 1)

            # A request whose body is still arriving when the signal comes: in flight.
            body = json.dumps({"query": "query Viewer { viewer { name } }"}).encode()
            first_part_sent, rest_may_go = asyncio.Event(), asyncio.Event()

            async def slow_body():
                yield body[:10]
                first_part_sent.set()
                await rest_may_go.wait()
                yield body[10:]

            in_flight = asyncio.create_task(
                http.post("/graphql", content=slow_body(), headers={
                    "Content-Type": "application/json", "Authorization": f"Bearer {world.mentor.token}",
                })
            )
            await asyncio.wait_for(first_part_sent.wait(), 5)
            # A later request answered means the server's loop has read the earlier one's head.
            async with httpx.AsyncClient(base_url=server.url, timeout=5) as other:
                assert (await other.get("/healthz")).status_code == 200

            server.send_signal(signal.SIGTERM)
            code, _ = await client.closed(timeout=GRACE_SECONDS)
            assert code in (1001, 1012)

            rest_may_go.set()
            response = await asyncio.wait_for(in_flight, GRACE_SECONDS)
            assert response.status_code == 200
            assert without_cost(response.json()) == {"data": {"viewer": {"name": world.mentor.user.name}}}

        assert await server.wait(GRACE_SECONDS + 15) == 0, server.log()
        assert "Traceback" not in server.log()
    finally:
        await server.stop()
