"""An open WebSocket is no second way in: a revoked token, an expired one or a removed
membership ends what the socket may do, over a real socket served by uvicorn."""

from __future__ import annotations

from app.accounts import services as accounts
from app.accounts.removal import remove_member
from app.api.websocket import ACCESS_ENDED_REASON, NO_LONGER_VISIBLE
from app.live.access import announce_access_changed
from tests.conftest import JOIN
from tests.live.conftest import WS, http_gql, wait_for_subscriptions
from tests.responses import without_cost

VIEWER = "{ viewer { name } }"
UPDATES = "subscription($id: ID!) { groupSessionUpdated(id: $id) { id spotsLeft } }"
EVENTS = "subscription($id: ID) { registrationEvents(sessionId: $id) { kind registration { participant { name } } } }"


async def ask(client: WS, op_id: str, query: str) -> dict:
    await client.subscribe(op_id, query)
    payload = await client.next(op_id)
    assert await client.recv() == {"id": op_id, "type": "complete"}
    return payload


async def test_sign_out_elsewhere_closes_every_socket_of_that_token(live, world):
    host = world.host
    other_token = await accounts.issue_token(host.user, label="phone")
    session = await create_session_over_http(live, world)
    async with (
        WS.signed_in(live, host.token) as first,
        WS.signed_in(live, host.token) as second,
        WS.signed_in(live, other_token) as phone,
    ):
        await first.subscribe("e", EVENTS, {"id": session})
        await wait_for_subscriptions(live, 1)

        signed_out = await http_gql(live, "mutation { signOut { signedOut } }", token=host.token)
        assert without_cost(signed_out) == {"data": {"signOut": {"signedOut": True}}}

        assert await first.closed() == (4403, ACCESS_ENDED_REASON)
        assert await second.closed() == (4403, ACCESS_ENDED_REASON)
        await wait_for_subscriptions(live, 0)
        # The same user's other token is not concerned.
        assert without_cost(await ask(phone, "q", VIEWER)) == {"data": {"viewer": {"name": "Hannah"}}}


async def test_a_revocation_nobody_announced_still_refuses_the_next_operation(live, world):
    async with WS.signed_in(live, world.mentor.token) as client:
        assert without_cost(await ask(client, "q1", VIEWER)) == {"data": {"viewer": {"name": "Mario"}}}
        # Revoked in the database with no signal (as an admin's UPDATE, or a lost message).
        assert await accounts.revoke_token(world.mentor.token)
        await client.subscribe("q2", "mutation { updateViewer(input: {name: \"Mallory\"}) { viewer { name } } }")
        assert await client.closed() == (4403, ACCESS_ENDED_REASON)
    assert (await accounts.User.get(id=world.mentor.user.id)).name == "Mario"


async def test_a_removed_member_loses_the_program_on_the_open_socket(live, app, world):
    mentee = world.mentees[0]
    session = await create_session_over_http(live, world)
    other = await create_session_over_http(live, world, as_=world.outsider, program=world.other_program)
    await accounts.add_member(program_id=world.other_program.id, email=mentee.user.email, role=accounts.ProgramRole.MENTEE)
    joined = await http_gql(live, JOIN, {"id": session}, token=mentee.token)
    assert joined["data"]["joinGroupSession"]["userErrors"] == []

    async with WS.signed_in(live, world.host.token) as host, WS.signed_in(live, mentee.token) as client:
        await host.subscribe("e", EVENTS, {"id": session})
        await client.subscribe("here", UPDATES, {"id": session})
        await client.subscribe("there", UPDATES, {"id": other})
        await wait_for_subscriptions(live, 3)

        removal = await remove_member(program_id=world.program.id, email=mentee.user.email, effects=app.state.effects)
        assert (removal.withdrawn, removal.cancelled) == (1, 0)
        await announce_access_changed(app.state.broker, [mentee.user.id])

        # The host hears the withdrawal like any leave; the member's watch on a session of
        # that program sees the seat freed, then ends with NOT_FOUND.
        assert (await host.next("e"))["data"]["registrationEvents"] == {
            "kind": "LEFT",
            "registration": {"participant": {"name": "Mentee0"}},
        }
        assert (await client.next("here"))["data"]["groupSessionUpdated"]["spotsLeft"] == 39
        ended = await client.next("here")
        assert [(e["message"], e["extensions"]["code"]) for e in ended["errors"]] == [(NO_LONGER_VISIBLE, "NOT_FOUND")]
        assert await client.recv() == {"id": "here", "type": "complete"}

        # The socket stays open for what the member may still see.
        await wait_for_subscriptions(live, 2)
        found = await ask(client, "q", f'{{ node(id: "{session}") {{ id }} viewer {{ name }} }}')
        assert without_cost(found) == {"data": {"node": None, "viewer": {"name": "Mentee0"}}}
        assert await accounts.role_in_program(mentee.user.id, world.program.id) is None
        # ... and its watch on the other program's session goes on.
        joined = await http_gql(live, JOIN, {"id": other}, token=mentee.token)
        assert joined["data"]["joinGroupSession"]["userErrors"] == []
        assert (await client.next("there"))["data"]["groupSessionUpdated"] == {"id": other, "spotsLeft": 38}


async def create_session_over_http(live, world, *, as_=None, program=None) -> str:
    from tests.conftest import CREATE, in_days

    member = as_ or world.host
    payload = {
        "programId": accounts_gid(program or world.program),
        "title": "Negotiating",
        "objective": "Practise.",
        "startsAt": in_days(3, hour=17),
        "durationMinutes": 60,
    }
    data = await http_gql(live, CREATE, {"input": payload}, token=member.token)
    assert data["data"]["createGroupSession"]["userErrors"] == [], data
    return data["data"]["createGroupSession"]["groupSession"]["id"]


def accounts_gid(program) -> str:
    from app.api.pagination import to_global_id

    return to_global_id("Program", program.id)
