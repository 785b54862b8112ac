"""Without Redis, a token revoked by another process (the command line) still closes the
sockets it signed in, within a poll of the token table (app/live/revocation_watch.py)."""

from __future__ import annotations

import asyncio
import subprocess
import sys

import pytest

from app.api.websocket import ACCESS_ENDED_REASON
from app.settings import Duration
from tests.responses import without_cost
from tests.live.conftest import WAIT, WS, wait_for_subscriptions
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
