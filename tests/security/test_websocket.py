"""The same limits and signOut over graphql-transport-ws."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from httpx_ws import WebSocketDisconnect, aconnect_ws
from httpx_ws.transport import ASGIWebSocketTransport

from tests.security.test_caches import TOO_DEEP
from tests.responses import without_cost

COSTLY = (
    "{ dashboard { sessions(first: 100) { edges { node { participants(first: 100) "
    "{ edges { node { participant { name } } } } } } } } }"
)


async def receive(ws) -> dict:
    return await asyncio.wait_for(ws.receive_json(), timeout=10)


async def test_limits_and_sign_out_over_websocket(app, world):
    async with httpx.AsyncClient(transport=ASGIWebSocketTransport(app), base_url="http://t") as http:
        async with aconnect_ws("/graphql", http, subprotocols=["graphql-transport-ws"]) as ws:
            await ws.send_json({"type": "connection_init", "payload": {"authorization": f"Bearer {world.host.token}"}})
            assert (await receive(ws))["type"] == "connection_ack"

            for number, (query, code) in enumerate([(TOO_DEEP, "QUERY_TOO_DEEP"), (COSTLY, "QUERY_TOO_COMPLEX")]):
                await ws.send_json({"id": str(number), "type": "subscribe", "payload": {"query": query}})
                message = await receive(ws)
                errors = message["payload"] if message["type"] == "error" else message["payload"]["errors"]
                assert [e["extensions"]["code"] for e in errors] == [code], message

            await ws.send_json({"id": "q", "type": "subscribe", "payload": {"query": "{ viewer { name } }"}})
            assert without_cost((await receive(ws))["payload"]) == {"data": {"viewer": {"name": "Hannah"}}}
            assert (await receive(ws))["type"] == "complete"

            await ws.send_json(
                {"id": "out", "type": "subscribe", "payload": {"query": "mutation { signOut { signedOut } }"}}
            )
            assert without_cost((await receive(ws))["payload"]) == {"data": {"signOut": {"signedOut": True}}}
            assert (await receive(ws))["type"] == "complete"

            # Its answer sent, the socket ends with its token.
            with pytest.raises(WebSocketDisconnect) as closed:
                await receive(ws)
            assert (closed.value.code, closed.value.reason) == (4403, "Signed out")

    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as http:
        response = await http.post(
            "/graphql", json={"query": "{ viewer { name } }"}, headers={"Authorization": f"Bearer {world.host.token}"}
        )
    assert without_cost(response.json()) == {"data": {"viewer": None}}  # revoked for HTTP too
