"""Access that ends in one process ends on sockets held by another: two `python -m app
serve` processes and the command line, one database, one Redis."""

from __future__ import annotations

import asyncio
import subprocess
import sys

import pytest

from app.api.websocket import ACCESS_ENDED_REASON, NO_LONGER_VISIBLE
from tests.conftest import create_session
from tests.documents import JOIN
from tests.live.conftest import WAIT, WS, http_gql, wait_for_subscriptions
from tests.live.test_cross_process import settings, two_servers  # noqa: F401 (fixtures)
from tests.servers import ROOT, process_environment
from tests.responses import without_cost

pytestmark = pytest.mark.redis

UPDATES = "subscription($id: ID!) { groupSessionUpdated(id: $id) { spotsLeft } }"


async def cli(settings, *args: str) -> subprocess.CompletedProcess:
    env = process_environment(settings)
    return await asyncio.to_thread(
        subprocess.run, [sys.executable, "-m", "app", *args], env=env, cwd=ROOT, capture_output=True, text=True,
        timeout=60,
    )


async def test_sign_out_on_one_process_closes_the_socket_on_the_other(two_servers, world):
    a, b = two_servers
    async with WS.signed_in(a.url, world.host.token) as socket:
        await socket.subscribe("e", "subscription { registrationEvents { kind } }")
        await wait_for_subscriptions(a.url, 1)
        signed_out = await http_gql(b.url, "mutation { signOut { signedOut } }", token=world.host.token)
        assert without_cost(signed_out) == {"data": {"signOut": {"signedOut": True}}}
        assert await socket.closed(timeout=WAIT) == (4403, ACCESS_ENDED_REASON)
    await wait_for_subscriptions(a.url, 0)


async def test_revoke_token_from_the_command_line_closes_sockets_everywhere(two_servers, settings, world):
    a, b = two_servers
    async with WS.signed_in(a.url, world.mentor.token) as on_a, WS.signed_in(b.url, world.mentor.token) as on_b:
        result = await cli(settings, "revoke-token", "--email", world.mentor.user.email)
        assert result.returncode == 0 and "revoked 1 token(s)" in result.stdout, result.stderr
        assert await on_a.closed(timeout=WAIT) == (4403, ACCESS_ENDED_REASON)
        assert await on_b.closed(timeout=WAIT) == (4403, ACCESS_ENDED_REASON)


async def test_remove_member_from_the_command_line_ends_subscriptions_on_both_processes(
    two_servers, settings, api, world
):
    a, b = two_servers
    mentee = world.mentees[0]
    session = await create_session(api, world, maxParticipants=5)
    joined = await http_gql(a.url, JOIN, {"id": session["id"]}, token=mentee.token)
    assert joined["data"]["joinGroupSession"]["userErrors"] == []
    async with WS.signed_in(a.url, world.host.token) as host, WS.signed_in(b.url, mentee.token) as member:
        await host.subscribe("e", "subscription($id: ID) { registrationEvents(sessionId: $id) { kind } }",
                             {"id": session["id"]})
        await member.subscribe("s", UPDATES, {"id": session["id"]})
        await wait_for_subscriptions(a.url, 1)
        await wait_for_subscriptions(b.url, 1)

        result = await cli(settings, "remove-member", "--program", world.program_gid, "--email", mentee.user.email)
        assert result.returncode == 0, result.stderr
        assert "1 registration(s) withdrawn" in result.stdout

        assert (await host.next("e"))["data"]["registrationEvents"] == {"kind": "LEFT"}
        assert (await member.next("s"))["data"]["groupSessionUpdated"] == {"spotsLeft": 4}
        ended = await member.next("s")
        assert [(e["message"], e["extensions"]["code"]) for e in ended["errors"]] == [(NO_LONGER_VISIBLE, "NOT_FOUND")]
        assert await member.recv() == {"id": "s", "type": "complete"}
        await wait_for_subscriptions(b.url, 0)
