"""Without Redis, a token revoked by another process (the command line) still closes the
sockets it signed in, and a membership removed by it still ends the member's subscriptions
to that program, within a poll of the token table and the access-change log
(app/live/revocation_watch.py)."""

from __future__ import annotations

import asyncio
import subprocess
import sys

import pytest

from datetime import timedelta

from tortoise.transactions import in_transaction

from app.api.websocket import ACCESS_ENDED_REASON, NO_LONGER_VISIBLE
from app.settings import Duration
from tests.conftest import create_session
from tests.documents import JOIN
from tests.live.conftest import WAIT, WS, http_gql, wait_for_subscriptions
from tests.responses import without_cost
from tests.servers import ROOT, AppProcess, process_environment


@pytest.fixture
def settings(settings):
    return settings.with_(redis_url=None, revocation_poll_interval=Duration(seconds=1))


@pytest.fixture
async def server(settings, tmp_path, app):
    process = AppProcess("serve", settings, tmp_path / "serve.log", "--log-level", "warning")
    try:
        await process.start()
        yield process
    finally:
        await process.stop()


async def cli(settings, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    return await asyncio.to_thread(
        subprocess.run, [sys.executable, "-m", "app", *args], env=process_environment(settings), cwd=ROOT,
        capture_output=True, text=True, timeout=60, input=stdin,
    )


async def test_revoke_token_from_the_command_line_closes_the_socket_without_redis(server, settings, world):
    async with WS.signed_in(server.url, world.mentor.token) as revoked, WS.signed_in(server.url, world.host.token) as other:
        await revoked.subscribe("e", "subscription { registrationEvents { kind } }")
        await other.subscribe("o", "subscription { registrationEvents { kind } }")
        await wait_for_subscriptions(server.url, 2)

        result = await cli(settings, "revoke-token", "--email", world.mentor.user.email)
        assert result.returncode == 0 and "revoked 1 token(s)" in result.stdout, result.stderr

        # Polled every second: well within the bound.
        assert await revoked.closed(timeout=WAIT) == (4403, ACCESS_ENDED_REASON)
        await wait_for_subscriptions(server.url, 1)
        # The other user's socket is untouched: it still answers.
        await other.send({"id": "q", "type": "subscribe", "payload": {"query": "{ viewer { name } }"}})
        assert without_cost(await other.next("q")) == {"data": {"viewer": {"name": "Hannah"}}}


async def test_set_password_from_the_command_line_closes_the_socket_without_redis(server, settings, world):
    async with WS.signed_in(server.url, world.mentees[0].token) as socket:
        await socket.subscribe("e", "subscription { registrationEvents { kind } }")
        await wait_for_subscriptions(server.url, 1)
        result = await cli(settings, "set-password", "--email", world.mentees[0].user.email, stdin="a new long passphrase\n")
        assert result.returncode == 0, result.stderr
        assert await socket.closed(timeout=WAIT) == (4403, ACCESS_ENDED_REASON)


async def test_each_revocation_is_signalled_once_and_only_to_users_listening_here(app, world):
    from app.accounts import services as accounts
    from app.live.access import access_channel
    from app.live.revocation_watch import RevocationWatch

    fanout = app.state.broker.fanout
    await accounts.revoke_tokens_of(world.admin.user.email)  # before it starts: not news
    watch = RevocationWatch(fanout, interval=0)  # polled by hand here
    await watch.start()
    signals: list[dict] = []
    stop = fanout.listen(access_channel(world.mentor.user.id), signals.append)
    stop_admin = fanout.listen(access_channel(world.admin.user.id), signals.append)
    try:
        assert await watch.poll() == 0  # nothing revoked since it started
        await accounts.revoke_tokens_of(world.mentor.user.email)
        await accounts.revoke_tokens_of(world.mentees[0].user.email)  # nobody listens for them here
        assert await watch.poll() == 1
        assert signals == [{"type": "access_changed"}]
        assert await watch.poll() == 0  # seen: not signalled again
        assert signals == [{"type": "access_changed"}]
    finally:
        stop()
        stop_admin()
        await watch.stop()


UPDATES = "subscription($id: ID!) { groupSessionUpdated(id: $id) { spotsLeft } }"


async def test_remove_member_from_the_command_line_ends_their_subscriptions_without_redis(server, settings, api, world):
    removed, other, joiner = world.mentees
    session = await create_session(api, world, maxParticipants=5)
    joined = await http_gql(server.url, JOIN, {"id": session["id"]}, token=removed.token)
    assert joined["data"]["joinGroupSession"]["userErrors"] == []
    async with WS.signed_in(server.url, removed.token) as gone, WS.signed_in(server.url, other.token) as stays:
        await gone.subscribe("s", UPDATES, {"id": session["id"]})
        await stays.subscribe("s", UPDATES, {"id": session["id"]})
        await wait_for_subscriptions(server.url, 2)

        result = await cli(settings, "remove-member", "--program", world.program_gid, "--email", removed.user.email)
        assert result.returncode == 0, result.stderr
        assert "1 registration(s) withdrawn" in result.stdout

        # Polled every second: the removal is found in the access-change log and the
        # subscription ends (the command's own live events stay in its process: no Redis).
        ended = await gone.next("s", timeout=WAIT)
        assert [(e["message"], e["extensions"]["code"]) for e in ended["errors"]] == [(NO_LONGER_VISIBLE, "NOT_FOUND")]
        assert await gone.recv() == {"id": "s", "type": "complete"}
        await wait_for_subscriptions(server.url, 1)
        # The token still signs them in: the socket stays open, and sees what is left.
        await gone.send({"id": "q", "type": "subscribe", "payload": {"query": "{ viewer { name } }"}})
        assert (await gone.next("q"))["data"]["viewer"]["name"]

        # The other member's subscription goes on: a join through the server reaches it.
        joined = await http_gql(server.url, JOIN, {"id": session["id"]}, token=joiner.token)
        assert joined["data"]["joinGroupSession"]["userErrors"] == []
        spots_left = joined["data"]["joinGroupSession"]["groupSession"]["spotsLeft"]
        assert (await stays.next("s"))["data"]["groupSessionUpdated"] == {"spotsLeft": spots_left}


async def test_each_access_change_is_signalled_once_and_only_when_committed(app, world):
    from app.accounts.access_changes import record_access_change
    from app.live.access import access_channel
    from app.live.revocation_watch import RevocationWatch

    fanout = app.state.broker.fanout
    await record_access_change([world.mentor.user.id])  # before it starts: not news
    watch = RevocationWatch(fanout, interval=0)  # polled by hand here
    await watch.start()
    signals: list[int] = []
    stops = [
        fanout.listen(access_channel(member.user.id), lambda message, user=member.user.id: signals.append(user))
        for member in (world.mentor, world.host)
    ]
    try:
        assert await watch.poll() == 0  # nothing changed since it started
        with pytest.raises(RuntimeError):
            async with in_transaction():
                await record_access_change([world.host.user.id])
                raise RuntimeError("the change fails")
        assert await watch.poll() == 0  # rolled back: nothing to tell
        await record_access_change([world.host.user.id, world.host.user.id])
        await record_access_change([world.mentees[0].user.id])  # nobody listens for them here
        assert await watch.poll() == 1
        assert signals == [world.host.user.id]
        assert await watch.poll() == 0  # seen: not signalled again
        assert signals == [world.host.user.id]
    finally:
        for stop in stops:
            stop()
        await watch.stop()


async def test_the_access_change_log_keeps_a_day(world):
    from app.accounts.access_changes import KEPT_FOR, record_access_change
    from app.accounts.models import AccessChange
    from app.clock import utcnow

    old = await AccessChange.create(user_id=world.mentor.user.id, changed_at=utcnow() - KEPT_FOR - timedelta(minutes=1))
    recent = await AccessChange.create(user_id=world.mentor.user.id, changed_at=utcnow() - KEPT_FOR + timedelta(minutes=5))
    await record_access_change([world.host.user.id])
    remaining = await AccessChange.all().order_by("id").values_list("id", "user_id")
    assert [user_id for _, user_id in remaining] == [world.mentor.user.id, world.host.user.id]
    assert remaining[0][0] == recent.id and old.id not in {row_id for row_id, _ in remaining}
