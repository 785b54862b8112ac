"""The command line, run as operators run it: `python -m app <command>` in a subprocess."""

import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from app.api.pagination import from_global_id
from app.main import create_app

ROOT = Path(__file__).resolve().parents[2]


def run(args, database_url, **env):
    environment = {**os.environ, "DATABASE_URL": database_url, **env}
    return subprocess.run([sys.executable, "-m", "app", *args], cwd=ROOT, env=environment, capture_output=True,
                          text=True, timeout=120)


@pytest.fixture
def db(tmp_path):
    url = f"sqlite://{tmp_path}/cli.sqlite3"
    result = run(["migrate"], url)
    assert result.returncode == 0, result.stderr
    return url


def test_migrate_is_idempotent(db):
    again = run(["migrate"], db)
    assert again.returncode == 0 and "up to date" in again.stdout


def test_operators_set_up_a_program_and_the_token_works_through_the_api(db, settings):
    program = run(["create-program", "Data Science Mentoring"], db)
    assert program.returncode == 0, program.stderr
    program_id = program.stdout.strip()
    assert from_global_id(program_id)[0] == "Program"

    user = run(["create-user", "--email", "Mia@Example.org", "--name", "Mia", "--time-zone", "Europe/Berlin"], db)
    assert user.returncode == 0 and from_global_id(user.stdout.strip())[0] == "User"
    member = run(["add-member", "--program", program_id, "--email", "mia@example.org", "--role", "mentor"], db)
    assert member.returncode == 0, member.stderr
    token = run(["create-token", "--email", "mia@example.org"], db)
    assert token.returncode == 0
    bearer = token.stdout.strip().splitlines()[-1]

    import asyncio

    async def ask():
        app = create_app(settings.with_(database_url=db))
        async with app.router.lifespan_context(app):
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as http:
                response = await http.post(
                    "/graphql", json={"query": "query($id: ID!) { viewer { name timeZone } program(id: $id) { name viewerRole } }",
                                      "variables": {"id": program_id}},
                    headers={"Authorization": f"Bearer {bearer}"})
                return response.json()

    assert asyncio.run(ask())["data"] == {
        "viewer": {"name": "Mia", "timeZone": "Europe/Berlin"},
        "program": {"name": "Data Science Mentoring", "viewerRole": "MENTOR"},
    }

    revoked = run(["revoke-token", "--token", bearer], db)
    assert revoked.returncode == 0 and "revoked 1" in revoked.stdout


@pytest.mark.parametrize("args, message", [
    (["create-user", "--email", "nope", "--name", "X"], "Not an email address"),
    (["create-user", "--email", "a@b.c", "--name", "X", "--time-zone", "Mars/Olympus"], "Unknown IANA time zone"),
    (["add-member", "--program", "garbage", "--email", "a@b.c", "--role", "mentee"], "Not a program ID"),
    (["create-token", "--email", "ghost@example.org"], "no user"),
])
def test_bad_arguments_fail_with_one_line(db, args, message):
    result = run(args, db)
    assert result.returncode == 1
    [line] = result.stderr.splitlines()  # one line, so no traceback either
    assert line.startswith("error: ") and message in line, result.stderr
    assert result.stdout == ""


def test_duplicate_user_is_refused(db):
    assert run(["create-user", "--email", "a@b.c", "--name", "A"], db).returncode == 0
    again = run(["create-user", "--email", "A@b.c", "--name", "A"], db)
    assert again.returncode == 1 and "exists already" in again.stderr


def test_bad_configuration_fails_at_start_with_one_clear_line(db):
    result = run(["migrate"], "mysql://nope")
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0 and "DATABASE_URL" in result.stderr
    assert "Traceback" not in result.stderr


def test_unreachable_database_fails_with_one_line(tmp_path):
    result = run(["migrate"], "postgres://nobody@127.0.0.1:9/none")
    assert result.returncode == 2
    [line] = result.stderr.splitlines()  # one line, so no traceback either
    assert line.startswith("database error: ") and "127.0.0.1" in line, result.stderr
    assert result.stdout == ""


def test_demo_is_idempotent_and_prints_sign_ins(db):
    first = run(["demo"], db)
    second = run(["demo"], db)
    assert first.returncode == second.returncode == 0, first.stderr
    assert "ada@example.org" in first.stdout and "demo-password" in first.stdout
    assert first.stdout == second.stdout

    import asyncio

    from tortoise import Tortoise

    from app.db import tortoise_config
    from app.group_sessions.models import GroupSession, Registration

    async def count():
        await Tortoise.init(config=tortoise_config(db))
        try:
            return await GroupSession.all().count(), await Registration.all().count()
        finally:
            await Tortoise.close_connections()

    assert asyncio.run(count()) == (3, 6)  # two hosted + joins, one past


def test_export_schema_prints_the_committed_sdl(db):
    result = run(["export-schema"], db)
    assert result.returncode == 0
    assert result.stdout == (ROOT / "schema.graphql").read_text()
