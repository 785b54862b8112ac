"""Shared fixtures: a real app per test on its own migrated database, driven through /graphql.

Database per test: the committed migrations are applied once per run to a template, and
each test gets a fresh copy (SQLite pass) or a fresh database cloned from a template
(PostgreSQL pass). tests/backends.py says which pass this is and where the services are.
"""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.accounts import services as accounts
from app.accounts.models import Program, ProgramRole, User
from app.api.pagination import to_global_id
from app.db import migrate_database
from app.main import create_app
from app.settings import Settings
from tests import backends, log_scan
from tests.documents import CREATE, JOIN
from tests.smtp_guard import DefaultSmtpWatch, SmtpTrap

PUBLIC_WEB_URL = "https://sessions.example.org"


def pytest_configure(config) -> None:
    if backends.current_pass() == "postgres" and (reason := backends.postgres_absence()):
        raise pytest.UsageError(f"TEST_PASS is postgres, but {reason}")
    # Every log line of the run is scanned for secrets when it ends (tests/log_scan.py).
    log_scan.install()


def pytest_report_header(config) -> str:
    database = (
        f"PostgreSQL ({backends.address(backends.postgres_url())})" if backends.current_pass() == "postgres" else "SQLite"
    )
    return f"database: {database} pass; PostgreSQL: {backends.postgres_absence() or 'answers'}; Redis: {backends.redis_absence() or 'answers'}"


# --- databases ---------------------------------------------------------------------------


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.sqlite3"
    asyncio.run(migrate_database(f"sqlite://{path}"))
    return path


@pytest.fixture
def database_url(request, tmp_path) -> str:
    """A freshly migrated, empty database for this test, on the pass's database."""
    if backends.current_pass() == "postgres":
        return request.getfixturevalue("postgres_database")
    template = request.getfixturevalue("sqlite_template")
    path = tmp_path / "app.sqlite3"
    shutil.copy(template, path)
    return f"sqlite://{path}"


@pytest.fixture(scope="session")
def postgres_template() -> str:
    """Name of a migrated template database on the PostgreSQL server (tests/backends.py)."""
    server = backends.require_postgres()

    async def create() -> str:
        name = await backends.create_database(server, "template")
        await migrate_database(backends.on_database(server, name))
        return name

    name = asyncio.run(create())
    yield name
    asyncio.run(backends.drop_database(server, name))


@pytest.fixture
async def postgres_database(postgres_template) -> AsyncIterator[str]:
    """A fresh database cloned from the migrated template; its URL."""
    async with backends.postgres_database(backends.require_postgres(), template=postgres_template) as url:
        yield url


# --- the app -------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def smtp_trap() -> Iterator[SmtpTrap]:
    trap = SmtpTrap()
    yield trap
    trap.close()


@pytest.fixture(autouse=True)
def no_mail_to_a_server_the_test_did_not_start(smtp_trap) -> Iterator[None]:
    """Fails the test if, while it ran, an app connected to the root settings' SMTP address
    (the trap) or, from this process, to the default one (localhost:1025, a developer's
    Mailpit): mail leaves a test only for a server the test started (tests/email)."""
    watch = DefaultSmtpWatch.install()
    trapped, defaulted = smtp_trap.connections, watch.connections
    yield
    if smtp_trap.connections > trapped or watch.connections > defaulted:
        pytest.fail(
            f"an app tried to deliver mail to a server this test did not start "
            f"({smtp_trap.connections - trapped} connection(s) to the root settings' SMTP trap, "
            f"{watch.connections - defaulted} to the default localhost:{watch.port}): derive settings "
            f"from the `settings` fixture with settings.with_(...), and give mail a tests/email mailbox"
        )


@pytest.fixture
def settings(database_url, smtp_trap) -> Settings:
    """The settings every test starts from; fixtures only narrow them (settings.with_).
    No background mail delivery in tests that do not ask for it: outbox rows are still
    written, and tests/email/ runs the worker against its own SMTP server. SMTP points at
    the session's trap, so mail nobody asked for fails the test instead of going out."""
    return Settings(
        database_url=database_url,
        public_web_url=PUBLIC_WEB_URL,
        outbox_worker_in_serve=False,
        smtp_host="127.0.0.1",
        smtp_port=smtp_trap.port,
    )


@pytest.fixture
async def app(settings):
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        yield application


class GraphQLClient:
    """Posts GraphQL to the app in-process (httpx ASGI transport): the real endpoint."""

    def __init__(self, http: httpx.AsyncClient) -> None:
        self.http = http

    async def post(
        self, query: str, variables: dict[str, Any] | None = None, *, token: str | None = None, **extra: Any
    ) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return await self.http.post("/graphql", json={"query": query, "variables": variables or {}}, headers=headers)

    async def execute(self, query: str, variables: dict[str, Any] | None = None, *, token: str | None = None) -> dict:
        """The whole response body; asserts it is a well-formed 200 GraphQL response."""
        response = await self.post(query, variables, token=token)
        assert response.status_code == 200, response.text
        body = response.json()
        assert "data" in body or "errors" in body, body
        return body

    async def data(self, query: str, variables: dict[str, Any] | None = None, *, token: str | None = None) -> dict:
        """`data` of a response that must have no errors."""
        body = await self.execute(query, variables, token=token)
        assert not body.get("errors"), body["errors"]
        return body["data"]


@pytest.fixture
async def api(app) -> AsyncIterator[GraphQLClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield GraphQLClient(http)


# --- people and programs -------------------------------------------------------------------


@dataclass
class Member:
    user: User
    token: str
    role: ProgramRole | None

    @property
    def gid(self) -> str:
        return to_global_id("User", self.user.id)


@dataclass
class World:
    """One program with a host (mentor), another mentor, mentees, an admin, and an
    outsider who belongs to another program only."""

    program: Program
    other_program: Program
    host: Member
    mentor: Member
    mentees: list[Member]
    admin: Member
    outsider: Member
    _count: int = field(default=0)

    @property
    def program_gid(self) -> str:
        return to_global_id("Program", self.program.id)

    async def add_members(self, n: int, role: ProgramRole = ProgramRole.MENTEE) -> list[Member]:
        return [await make_member(self.program, f"extra{len(self.mentees) + i}", role) for i in range(n)]


async def make_member(program: Program | None, name: str, role: ProgramRole, time_zone: str = "UTC") -> Member:
    user = await accounts.create_user(email=f"{name}@example.org", name=name.title(), time_zone=time_zone)
    if program is not None:
        await accounts.add_member(program_id=program.id, email=user.email, role=role)
    return Member(user=user, token=await accounts.issue_token(user), role=role)


@pytest.fixture
async def world(app) -> World:
    return await build_world()


async def build_world() -> World:
    """The people of `World`, in the database the running app uses."""
    program = await accounts.create_program(name="Mentoring")
    other = await accounts.create_program(name="Elsewhere")
    host = await make_member(program, "hannah", ProgramRole.MENTOR, "Europe/Paris")
    mentor = await make_member(program, "mario", ProgramRole.MENTOR)
    mentees = [await make_member(program, f"mentee{i}", ProgramRole.MENTEE) for i in range(3)]
    admin = await make_member(program, "adele", ProgramRole.ADMIN)
    outsider = await make_member(other, "otto", ProgramRole.MENTOR)
    return World(program, other, host, mentor, mentees, admin, outsider)


def in_days(days: float, hour: int | None = None) -> str:
    """An ISO instant `days` from now, with a +01:00 offset as a browser in Paris sends."""
    moment = datetime.now(timezone(timedelta(hours=1))) + timedelta(days=days)
    if hour is not None:
        moment = moment.replace(hour=hour, minute=0, second=0, microsecond=0)
    return moment.isoformat()



async def create_session(api: GraphQLClient, world: World, **overrides: Any) -> dict:
    """Create a session hosted by world.host (or `as_`) and return it; asserts success."""
    member = overrides.pop("as_", world.host)
    payload = {
        "programId": world.program_gid,
        "title": "Negotiating your first salary",
        "objective": "Practise the conversation with people who have done it.",
        "startsAt": in_days(3, hour=17),
        "durationMinutes": 90,
        **overrides,
    }
    data = await api.data(CREATE, {"input": payload}, token=member.token)
    result = data["createGroupSession"]
    assert result["userErrors"] == [], result["userErrors"]
    return result["groupSession"]



async def join(api: GraphQLClient, member: Member, session_id: str) -> dict:
    data = await api.data(JOIN, {"id": session_id}, token=member.token)
    return data["joinGroupSession"]


# --- a run that cannot hang at exit ----------------------------------------------------------


def pytest_sessionfinish(session, exitstatus):
    """Fail the run when a log line of it holds a secret (tests/log_scan.py), then check
    for leaked connections."""
    report = log_scan.SUITE.report()
    if report is not None:
        import sys

        sys.stderr.write("\n" + report + "\n")
        sys.stderr.flush()
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
    _no_leaked_connections()


def _no_leaked_connections() -> None:
    """A test that leaves a Tortoise SQLite connection open leaves aiosqlite's worker thread
    running, and the interpreter would wait for it forever after the last test. Fail the run
    instead, naming the leak, so it is found rather than timed out by CI."""
    import threading

    import time

    # A connection closed by the last test's teardown stops its thread a moment later
    # (aiosqlite queues a stop and returns): give such threads a bounded while to end, so
    # only a connection nobody closed counts as a leak.
    deadline = time.monotonic() + 5
    for thread in threading.enumerate():
        if "_connection_worker_thread" in thread.name and not thread.daemon:
            thread.join(timeout=max(deadline - time.monotonic(), 0))
    leaked = [t for t in threading.enumerate() if "_connection_worker_thread" in t.name and not t.daemon]
    if leaked:
        import sys

        sys.stderr.write(
            f"\n{len(leaked)} database connection(s) left open by the tests (aiosqlite threads "
            f"{[t.name for t in leaked]}): close them (Tortoise.close_connections / the app's lifespan).\n"
        )
        sys.stderr.flush()
        sys.stdout.flush()
        os._exit(3)
