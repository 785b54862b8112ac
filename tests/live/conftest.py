"""Live fixtures: the app served by a real uvicorn on 127.0.0.1 (in this event loop, by
tests/servers.py), and a graphql-transport-ws client over a real WebSocket (the `websockets` library)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from app.settings import Settings
from tests.servers import serve_in_process

WAIT = 5.0  # seconds: the bound on every wait in these tests
PROTOCOL = "graphql-transport-ws"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    # A short init timeout so the 4408 test is quick; a small cap to test it.
    return settings.with_(ws_connection_init_timeout_seconds=1, ws_max_subscriptions=3, ws_max_message_bytes=8_000)


@pytest.fixture
async def live(app, settings) -> AsyncIterator[str]:
    """Base URL of the test's app served by uvicorn (tests/servers.py)."""
    async with serve_in_process(app, settings) as url:
        yield url


class WS:
    """A graphql-transport-ws client that shows every frame to the test."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws

    @classmethod
    @asynccontextmanager
    async def open(cls, base_url: str, **kwargs: Any) -> AsyncIterator[WS]:
        url = base_url.replace("http://", "ws://") + "/graphql"
        kwargs.setdefault("subprotocols", [PROTOCOL])
        async with connect(url, open_timeout=WAIT, close_timeout=2, **kwargs) as ws:
            yield cls(ws)

    @classmethod
    @asynccontextmanager
    async def signed_in(cls, base_url: str, token: str, **kwargs: Any) -> AsyncIterator[WS]:
        async with cls.open(base_url, **kwargs) as client:
            await client.send({"type": "connection_init", "payload": {"authorization": f"Bearer {token}"}})
            assert await client.recv() == {"type": "connection_ack"}
            yield client

    async def send(self, message: dict | str) -> None:
        await self.ws.send(message if isinstance(message, str) else json.dumps(message))

    async def recv(self, timeout: float = WAIT) -> dict:
        return json.loads(await asyncio.wait_for(self.ws.recv(), timeout))

    async def subscribe(self, op_id: str, query: str, variables: dict | None = None) -> None:
        await self.send({"id": op_id, "type": "subscribe", "payload": {"query": query, "variables": variables or {}}})

    async def next(self, op_id: str, timeout: float = WAIT) -> dict:
        """The payload of the next `next` message; fails on anything else."""
        message = await self.recv(timeout)
        assert message.get("id") == op_id and message["type"] == "next", message
        return message["payload"]

    async def closed(self, timeout: float = WAIT) -> tuple[int | None, str]:
        """Read until the server closes; the close code and reason."""
        async with asyncio.timeout(timeout):
            try:
                while True:
                    await self.ws.recv()
            except ConnectionClosed as closed:
                close = closed.rcvd
        return (close.code, close.reason) if close else (None, "")

    async def nothing_more(self, within: float = 0.3) -> None:
        """No frame arrives within `within` seconds (used after a later event proved
        delivery has caught up, so this is a check, not a synchronization)."""
        try:
            message = await asyncio.wait_for(self.ws.recv(), within)
        except TimeoutError:
            return
        raise AssertionError(f"unexpected frame: {message}")


async def wait_for_subscriptions(base_url: str, count: int, timeout: float = WAIT) -> dict:
    """Wait until the server at `base_url` holds `count` live subscriptions (its /healthz
    says so): a graphql-transport-ws `subscribe` has no acknowledgement to wait for."""
    async with httpx.AsyncClient(base_url=base_url, timeout=WAIT) as http, asyncio.timeout(timeout):
        while True:
            live = (await http.get("/healthz")).json()["live"]
            if live["subscriptions"] == count:
                return live
            await asyncio.sleep(0.02)


async def http_gql(base_url: str, query: str, variables: dict | None = None, token: str | None = None) -> dict:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with httpx.AsyncClient(base_url=base_url, timeout=WAIT) as http:
        response = await http.post("/graphql", json={"query": query, "variables": variables or {}}, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()
