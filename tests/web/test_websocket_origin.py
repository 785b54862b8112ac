"""The WebSocket Origin check (Strawberry's allowed_origins, wired to CORS_ORIGINS): a
browser handshake from a foreign page is refused with 403 before anything runs."""

from __future__ import annotations

import asyncio
import json

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from app.accounts import services as accounts
from app.accounts.models import ProgramRole
from tests.conftest import make_member

APP = "https://app.example.org"
EVIL = "https://evil.example"


def ws_url(base: str) -> str:
    return base.replace("http://", "ws://") + "/graphql"


async def sign_in_over_socket(url: str, token: str, origin: str | None) -> dict:
    """Opens a graphql-transport-ws socket (with `origin`, if any), sends connection_init
    with the token, and returns the server's first message."""
    async with connect(url, origin=origin, subprotocols=["graphql-transport-ws"], open_timeout=10) as socket:
        await socket.send(json.dumps({"type": "connection_init", "payload": {"authorization": f"Bearer {token}"}}))
        return json.loads(await asyncio.wait_for(socket.recv(), timeout=10))


@pytest.mark.parametrize("cors_origins", [(), (APP,)])
async def test_foreign_origin_handshake_is_403(make_app, serve, cors_origins):
    base = await serve(await make_app(cors_origins=cors_origins))
    with pytest.raises(InvalidStatus) as refused:
        await sign_in_over_socket(ws_url(base), "any-token", origin=EVIL)
    assert refused.value.response.status_code == 403


async def test_listed_origin_connects(make_app, serve, world_token):
    base = await serve(await make_app(cors_origins=(APP,)))
    token = await world_token()
    assert (await sign_in_over_socket(ws_url(base), token, origin=APP))["type"] == "connection_ack"


async def test_same_origin_and_non_browser_clients_connect(make_app, serve, world_token):
    base = await serve(await make_app())
    token = await world_token()
    assert (await sign_in_over_socket(ws_url(base), token, origin=base))["type"] == "connection_ack"
    assert (await sign_in_over_socket(ws_url(base), token, origin=None))["type"] == "connection_ack"


@pytest.fixture
def world_token():
    """world_token(): a signed-in member's token, made once the app (and its database) runs."""

    async def make() -> str:
        program = await accounts.create_program(name="Mentoring")
        return (await make_member(program, "hannah", ProgramRole.MENTOR)).token

    return make
