"""The graphql-transport-ws protocol over a real socket: handshake, sign-in and close codes."""

from __future__ import annotations

import httpx
import pytest
from websockets.exceptions import InvalidStatus

from tests.conftest import create_session
from tests.live.conftest import WAIT, WS, wait_for_subscriptions
from tests.responses import without_cost

EVENTS = "subscription { registrationEvents { kind } }"


async def test_handshake_ack_and_ping_pong(live, world):
    async with WS.signed_in(live, world.host.token) as client:
        assert client.ws.subprotocol == "graphql-transport-ws"
        await client.send({"type": "ping", "payload": {"at": 1}})
        assert await client.recv() == {"type": "pong"}
        await client.send({"type": "pong"})  # unsolicited pong: allowed, no answer
        await client.send({"type": "ping"})
        assert await client.recv() == {"type": "pong"}


@pytest.mark.parametrize(
    "payload",
    [
        None,
        {},
        {"authorization": "Bearer not-a-token"},
        {"authorization": "Basic aGFubmFoOnNlY3JldA=="},
        {"authorization": 42},
    ],
    ids=["no-payload", "empty", "bad-token", "wrong-scheme", "not-a-string"],
)
async def test_missing_or_bad_token_closes_with_4403(live, world, payload):
    async with WS.open(live) as client:
        message = {"type": "connection_init"} if payload is None else {"type": "connection_init", "payload": payload}
        await client.send(message)
        assert await client.closed() == (4403, "Forbidden")


async def test_revoked_token_is_refused(live, world):
    from app.accounts.services import revoke_token

    assert await revoke_token(world.mentor.token)
    async with WS.open(live) as client:
        await client.send({"type": "connection_init", "payload": {"authorization": f"Bearer {world.mentor.token}"}})
        assert (await client.closed())[0] == 4403


async def test_subscribe_before_ack_closes_with_4401(live, world):
    async with WS.open(live) as client:
        await client.subscribe("1", EVENTS)
        assert await client.closed() == (4401, "Unauthorized")


async def test_no_init_in_time_closes_with_4408(live):
    # The fixture's settings give the client 1 s.
    async with WS.open(live) as client:
        assert await client.closed(timeout=WAIT) == (4408, "Connection initialisation timeout")


async def test_second_init_closes_with_4429(live, world):
    async with WS.signed_in(live, world.host.token) as client:
        await client.send({"type": "connection_init", "payload": {"authorization": f"Bearer {world.host.token}"}})
        assert await client.closed() == (4429, "Too many initialisation requests")


async def test_duplicate_operation_id_closes_with_4409(live, world):
    async with WS.signed_in(live, world.host.token) as client:
        await client.subscribe("same", EVENTS)
        await client.subscribe("same", EVENTS)
        assert await client.closed() == (4409, "Subscriber for same already exists")


@pytest.mark.parametrize(
    "frame, reason",
    [
        ("this is not json", "WebSocket message must be valid JSON"),
        ('{"type": "shout"}', "Unknown message type: shout"),
        ('{"payload": {}}', "Failed to parse message"),
        ('{"type": "subscribe", "payload": {"query": "{ viewer { id } }"}}', "Failed to parse message"),
        ('{"type": "connection_init", "payload": "Bearer x"}', "Invalid connection init payload"),
    ],
    ids=["not-json", "unknown-type", "no-type", "subscribe-without-id", "init-payload-not-object"],
)
async def test_bad_message_closes_with_4400(live, world, frame, reason):
    async with WS.open(live) as client:
        if "connection_init" not in frame:
            await client.send({"type": "connection_init", "payload": {"authorization": f"Bearer {world.host.token}"}})
            assert await client.recv() == {"type": "connection_ack"}
        await client.send(frame)
        assert await client.closed() == (4400, reason)


async def test_binary_frame_closes_with_4400(live, world):
    async with WS.signed_in(live, world.host.token) as client:
        await client.ws.send(b'{"type": "ping"}')
        assert await client.closed() == (4400, "WebSocket message type must be text")


async def test_unparsable_document_closes_with_4400(live, world):
    async with WS.signed_in(live, world.host.token) as client:
        await client.subscribe("1", "subscription {")
        code, reason = await client.closed()
        assert code == 4400 and "Syntax Error" in reason


async def test_invalid_document_gets_an_error_message(live, world):
    async with WS.signed_in(live, world.host.token) as client:
        await client.subscribe("1", "subscription { registrationEvents { nope } }")
        message = await client.recv()
        assert message["type"] == "error" and message["id"] == "1"
        assert "Cannot query field 'nope'" in message["payload"][0]["message"]
        # The connection stays usable.
        await client.send({"type": "ping"})
        assert await client.recv() == {"type": "pong"}


async def test_subscriptions_per_connection_are_capped(live, world):
    # The fixture's settings allow 3 operations at once on one connection.
    async with WS.signed_in(live, world.host.token) as client:
        for op_id in ("1", "2", "3"):
            await client.subscribe(op_id, EVENTS)
        await wait_for_subscriptions(live, 3)
        await client.subscribe("4", EVENTS)
        message = await client.recv()
        assert message == {"id": "4", "type": "error", "payload": [{"message": "Subscription limit reached"}]}
        # Completing one frees a slot.
        await client.send({"id": "1", "type": "complete"})
        await wait_for_subscriptions(live, 2)
        await client.subscribe("5", EVENTS)
        await wait_for_subscriptions(live, 3)


async def test_oversized_message_closes_with_1009(live, world, settings):
    async with WS.signed_in(live, world.host.token, max_size=None) as client:
        huge = "x" * (settings.ws_max_message_bytes + 1)
        await client.subscribe("1", "subscription { registrationEvents { kind } } # " + huge)
        code, _ = await client.closed()
        assert code == 1009  # "message too big": uvicorn's ws_max_size, as `serve` sets it from WS_MAX_MESSAGE_BYTES


async def test_legacy_graphql_ws_protocol_is_refused(live):
    async with WS.open(live, subprotocols=["graphql-ws"]) as client:
        assert await client.closed() == (4406, "Subprotocol not acceptable")


async def test_sign_in_over_the_socket_shows_the_new_user_but_keeps_the_socket_s_own(live, world):
    """signIn's payload shows the signed-in user with their email; the socket itself stays
    signed in with the token of its connection_init (a new token is the client's to use)."""
    from app.accounts import services as accounts

    await accounts.create_user(email="zoe@example.org", name="Zoe", password="a long password")
    async with WS.signed_in(live, world.mentees[0].token) as client:
        await client.subscribe(
            "s", 'mutation { signIn(input: {email: "zoe@example.org", password: "a long password"}) '
            "{ viewer { name email } userErrors { code } } }",
        )
        answer = await client.next("s")
        assert answer["data"]["signIn"] == {"viewer": {"name": "Zoe", "email": "zoe@example.org"}, "userErrors": []}
        assert await client.recv() == {"id": "s", "type": "complete"}
        await client.subscribe("v", "{ viewer { name email } }")
        assert (await client.next("v"))["data"] == {"viewer": {"name": "Mentee0", "email": "mentee0@example.org"}}


async def test_other_origin_is_refused(live):
    with pytest.raises(InvalidStatus) as refused:
        async with WS.open(live, origin="https://evil.example"):
            pass
    assert refused.value.response.status_code == 403


async def test_query_and_mutation_over_the_socket(live, world, api):
    session = await create_session(api, world)
    async with WS.signed_in(live, world.mentees[0].token) as client:
        await client.subscribe("q", "query($id: ID!) { node(id: $id) { ... on GroupSession { title } } }", {"id": session["id"]})
        assert without_cost(await client.next("q")) == {"data": {"node": {"title": session["title"]}}}
        assert await client.recv() == {"id": "q", "type": "complete"}


async def test_subscription_over_plain_http_is_a_clear_error(live, world):
    async with httpx.AsyncClient(base_url=live, timeout=WAIT) as http:
        response = await http.post(
            "/graphql", json={"query": EVENTS}, headers={"Authorization": f"Bearer {world.host.token}"}
        )
    assert response.status_code == 400, response.text
    assert response.headers["content-type"].startswith("application/json")
    assert response.json() == {
        "errors": [
            {
                "message": "Subscriptions are served over WebSocket at this path (graphql-transport-ws), not over plain HTTP.",
                "extensions": {"code": "BAD_REQUEST"},
            }
        ]
    }
