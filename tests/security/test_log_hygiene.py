"""No password, token or email address in any line a real `python -m app serve` writes,
at DEBUG level, through real traffic: sign-ins (good and bad), queries, a GET whose query
string carries a password, a join whose emails go out through a real SMTP server.

(The logs of the whole run, in-process and of every server process, are scanned when the
run ends: tests/log_scan.py, tested in test_log_scan.py.)"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from pathlib import Path

import httpx
import pytest

from app.demo import PASSWORD, PEOPLE
from app.logging_config import HIDDEN_PARAMETERS, LogHygiene, redact
from tests import log_scan
from tests.email.mailbox import Mailbox
from tests.servers import free_port

ROOT = Path(__file__).resolve().parents[2]
WRONG_PASSWORD = "Wr0ng-Pa55word-for-ada"
QUERY_STRING_SECRET = "hunter2-in-a-query-string"
UNKNOWN_EMAIL = "nobody-at-all@example.org"
SIGN_IN = "mutation($e: String!, $p: String!) { signIn(input: {email: $e, password: $p}) { token userErrors { code } } }"


def environment(database_url: str, smtp_port: int) -> dict[str, str]:
    keep = {k: v for k, v in os.environ.items() if not k.startswith(("APP_", "PUBLIC_", "DATABASE_", "REDIS_", "SMTP_", "OUTBOX_"))}
    return {
        **keep,
        "DATABASE_URL": database_url,
        "PUBLIC_WEB_URL": "https://sessions.example.org",
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": str(smtp_port),
        "OUTBOX_WORKER_IN_SERVE": "true",
        "OUTBOX_POLL_SECONDS": "1",
    }


async def run_to_end(*args: str, env: dict[str, str]) -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "app", *args, cwd=ROOT, env=env,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
    )
    _, stderr = await asyncio.wait_for(process.communicate(), 120)
    assert process.returncode == 0, stderr.decode()


async def wait_until_serving(http: httpx.AsyncClient, server: asyncio.subprocess.Process, log: Path) -> None:
    deadline = time.monotonic() + 60
    while True:
        try:
            if (await http.get("/healthz")).status_code == 200:
                return
        except httpx.TransportError:
            pass
        assert server.returncode is None, log.read_text()
        assert time.monotonic() < deadline, "the server did not start:\n" + log.read_text()
        await asyncio.sleep(0.1)  # polling for readiness: the port is bound by another process


async def mail_to(mailbox: Mailbox, address: str) -> None:
    """Waits (bounded) until a message for `address` has arrived."""
    while not mailbox.to(address):
        await mailbox.wait_for(len(mailbox.received) + 1, timeout=30)


async def test_server_logs_hold_no_password_token_or_email(database_url, tmp_path):
    mailbox = Mailbox()
    await mailbox.start()
    env = environment(database_url, mailbox.port)
    await run_to_end("demo", env=env)  # its own output prints the sign-ins, by design; not scanned

    port = free_port()
    log_path = tmp_path / "server.log"
    with log_path.open("w") as log:
        server = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "app", "serve", "--port", str(port), "--log-level", "debug",
            cwd=ROOT, env=env, stdout=log, stderr=log,
        )
    tokens: list[str] = []
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as http:
            await wait_until_serving(http, server, log_path)

            async def sign_in(email: str, password: str) -> dict:
                response = await http.post("/graphql", json={"query": SIGN_IN, "variables": {"e": email, "p": password}})
                return response.json()["data"]["signIn"]

            for email in ("ada@example.org", "linus@example.org"):
                signed_in = await sign_in(email, PASSWORD)
                assert signed_in["token"], signed_in
                tokens.append(signed_in["token"])
            ada, linus = ({"Authorization": f"Bearer {token}"} for token in tokens)
            assert (await sign_in("ada@example.org", WRONG_PASSWORD))["userErrors"] == [{"code": "INVALID_CREDENTIALS"}]
            assert (await sign_in(UNKNOWN_EMAIL, WRONG_PASSWORD))["userErrors"] == [{"code": "INVALID_CREDENTIALS"}]

            viewer = await http.post("/graphql", json={"query": "{ viewer { id email name } }"}, headers=ada)
            assert viewer.json()["data"]["viewer"]["email"] == "ada@example.org"
            page = await http.post(
                "/graphql",
                json={"query": "query($id: ID!) { profile(userId: $id) { upcomingGroupSessions { edges { node { id } } } } }",
                      "variables": {"id": viewer.json()["data"]["viewer"]["id"]}},
                headers=linus,
            )
            first = page.json()["data"]["profile"]["upcomingGroupSessions"]["edges"][0]["node"]  # hosted by Ada

            # a GET whose query string carries a password (and the token, as careless clients do)
            leaky = await http.get(
                "/graphql",
                params={"query": "{ viewer { name } }", "password": QUERY_STRING_SECRET, "access_token": tokens[0],
                        "variables": json.dumps({"email": "ada@example.org"})},
                headers=ada,
            )
            assert leaky.status_code == 200

            joined = await http.post(
                "/graphql",
                json={"query": "mutation($id: ID!) { joinGroupSession(input: {id: $id}) { userErrors { code } } }",
                      "variables": {"id": first["id"]}},
                headers=linus,
            )
            assert joined.json()["data"]["joinGroupSession"]["userErrors"] == []
            await asyncio.wait_for(mail_to(mailbox, "linus@example.org"), 60)  # the join's confirmation went out
            await http.post("/graphql", json={"query": "mutation { signOut { userErrors { code } } }"}, headers=linus)
    finally:
        if server.returncode is None:
            server.terminate()
            await asyncio.wait_for(server.wait(), 30)
        await mailbox.stop()

    text = log_path.read_text()
    # The run's own scan (tests/log_scan.py) reads this server's output too, for these values.
    log_scan.SUITE.add_output("`python -m app serve --log-level debug` output", text)
    for value in (WRONG_PASSWORD, QUERY_STRING_SECRET):
        log_scan.SUITE.remember_secret(value)
    secrets = [PASSWORD, WRONG_PASSWORD, QUERY_STRING_SECRET, UNKNOWN_EMAIL, *tokens, *(p[0] for p in PEOPLE)]
    leaks = [(secret, line[:300]) for line in text.splitlines() for secret in secrets if secret in line]
    assert not leaks, leaks[:10]
    assert "DEBUG   tortoise.db_client" in text, "DEBUG logging was not in effect"
    assert HIDDEN_PARAMETERS in text
    assert '"GET /graphql HTTP/1.1" 200' in text  # the access line, path only


# --- the filter itself ---------------------------------------------------------------------------


def record(name: str, msg: str, *args, **extra):
    import logging

    entry = logging.LogRecord(name, logging.DEBUG, __file__, 1, msg, args, None)
    entry.__dict__.update(extra)
    return entry


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        (record("uvicorn.access", '%s - "%s %s HTTP/%s" %d', "127.0.0.1:5", "GET", "/graphql?password=x", "1.1", 200),
         '127.0.0.1:5 - "GET /graphql HTTP/1.1" 200'),
        (record("tortoise.db_client", "%s: %s", "SELECT * FROM user WHERE email=?", ["ada@example.org"]),
         f"SELECT * FROM user WHERE email=?: {HIDDEN_PARAMETERS}"),
        (record("tortoise.db_client", "Created connection pool %s with params: %s", "<pool>", {"password": "pw"}),
         "Created connection pool <pool>"),
        (record("app.notifications.worker", "outbox: giving up on row %s: %s", 5, "550 <bob.o'neil+x@mail.example.co.uk>: no"),
         "outbox: giving up on row 5: 550 <<email>>: no"),
    ],
)
def test_log_hygiene_rewrites_each_kind_of_line(entry, expected):
    assert LogHygiene().filter(entry) is True
    assert entry.getMessage() == expected


def test_log_hygiene_redacts_tracebacks_and_extra_fields():
    import logging
    import sys as _sys

    try:
        raise ValueError("Key (email)=(eve@example.org) already exists")
    except ValueError:
        entry = logging.LogRecord("app.errors", logging.ERROR, __file__, 1, "unexpected", (), _sys.exc_info())
    entry.operation_name = "'mail eve@example.org'"
    LogHygiene().filter(entry)
    assert "eve@example.org" not in entry.exc_text and "Key (email)=(<email>)" in entry.exc_text
    assert entry.operation_name == "'mail <email>'"
    assert redact("no address here") == "no address here"
