"""Two `python -m app serve` processes, one database, one Redis: they act as one."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.conftest import JOIN, LEAVE, create_session
from tests.live.conftest import WAIT, WS, http_gql, wait_for_subscriptions
from tests.backends import require_redis
from tests.live.redis_support import unique_prefix
from tests.processes import free_port

pytestmark = pytest.mark.redis

ROOT = Path(__file__).resolve().parents[2]


# The database is the suite's (tests/conftest.py): one SQLite file that the three processes
# (this one and two servers) share, or a fresh PostgreSQL database when TEST_DATABASE_URL
# names a server. Not "PostgreSQL whenever reachable": Tortoise builds each model's SQL for
# the first dialect a process uses, so one pytest run cannot mix SQLite and PostgreSQL.


@pytest.fixture
def settings(settings):
    return settings.with_(redis_url=require_redis(), redis_key_prefix=unique_prefix())


class ServeProcess:
    """`python -m app serve` on a free port, with the test's database and Redis."""

    def __init__(self, settings, tmp_path: Path, name: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = tmp_path / f"{name}.log"
        env = {
            **os.environ,
            "DATABASE_URL": settings.database_url,
            "REDIS_URL": settings.redis_url,
            "REDIS_KEY_PREFIX": settings.redis_key_prefix,
            "PUBLIC_WEB_URL": settings.public_web_url,
            "APP_ENV": "development",
            "OUTBOX_WORKER_IN_SERVE": "false",
        }
        with self.log.open("w") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "app", "serve", "--port", str(self.port), "--log-level", "warning"],
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    async def ready(self, timeout: float = 30) -> None:
        async with httpx.AsyncClient(base_url=self.url, timeout=1) as http, asyncio.timeout(timeout):
            while True:
                if self.process.poll() is not None:
                    raise AssertionError(f"serve exited with {self.process.returncode}:\n{self.log.read_text()}")
                try:
                    response = await http.get("/healthz")
                    if response.status_code == 200 and response.json()["live"]["connected"]:
                        return
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.1)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)


@pytest.fixture
async def two_servers(settings, tmp_path, app):
    servers = [ServeProcess(settings, tmp_path, name) for name in ("a", "b")]
    try:
        await asyncio.gather(*(server.ready() for server in servers))
        yield servers
    finally:
        for server in servers:
            server.stop()


EVENTS = """
subscription($id: ID) { registrationEvents(sessionId: $id) {
  kind registration { participant { name } } session { participantCount spotsLeft } } }
"""


async def test_subscribe_on_one_process_and_join_on_the_other(two_servers, api, world):
    a, b = two_servers
    session = await create_session(api, world, maxParticipants=5)
    async with WS.signed_in(a.url, world.host.token) as host, WS.signed_in(b.url, world.mentees[2].token) as member:
        await host.subscribe("e", EVENTS, {"id": session["id"]})
        await member.subscribe("s", "subscription($id: ID!) { groupSessionUpdated(id: $id) { spotsLeft } }", {"id": session["id"]})
        await wait_for_subscriptions(a.url, 1)
        await wait_for_subscriptions(b.url, 1)

        joined = await http_gql(b.url, JOIN, {"id": session["id"]}, token=world.mentees[0].token)
        assert joined["data"]["joinGroupSession"]["userErrors"] == []
        event = await host.next("e", timeout=WAIT)
        assert event["data"]["registrationEvents"] == {
            "kind": "JOINED",
            "registration": {"participant": {"name": "Mentee0"}},
            "session": {"participantCount": 2, "spotsLeft": 3},
        }
        assert (await member.next("s"))["data"]["groupSessionUpdated"] == {"spotsLeft": 3}

        # And the other way round: a leave handled by A reaches B's subscriber.
        left = await http_gql(a.url, LEAVE, {"id": session["id"]}, token=world.mentees[0].token)
        assert left["data"]["leaveGroupSession"]["userErrors"] == []
        assert (await member.next("s"))["data"]["groupSessionUpdated"] == {"spotsLeft": 4}
        assert (await host.next("e"))["data"]["registrationEvents"]["kind"] == "LEFT"
