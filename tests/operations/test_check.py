"""`python -m app check`, run as an operator runs it (a subprocess with an environment):
one line per problem and exit 1, or one OK line and exit 0."""

from __future__ import annotations

import asyncio
import sys

import pytest

from app.db import migrate_database, migration_names
from tests.email.mailbox import Mailbox
from tests.servers import ROOT, free_port, process_environment


async def check(settings, **env: str) -> tuple[int, list[str]]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "app", "check", cwd=ROOT, env=process_environment(settings, env),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), 90)
    return process.returncode, stdout.decode().splitlines()


@pytest.fixture
async def mailbox():
    box = Mailbox()
    await box.start()
    yield box
    await box.stop()


@pytest.fixture
def good(settings, mailbox):
    """The suite's (migrated) database, SMTP at a real server, no Redis."""
    return settings.with_(smtp_host="127.0.0.1", smtp_port=mailbox.port, smtp_timeout_seconds=3)


async def test_a_sound_configuration_is_one_ok_line(good):
    code, lines = await check(good)
    assert code == 0, lines
    assert len(lines) == 1 and lines[0].startswith("OK:")


async def test_a_bad_setting_is_a_problem_line(good):
    code, lines = await check(good, SMTP_SECURITY="ssl3")
    assert code == 1
    assert lines == ["configuration: SMTP_SECURITY must be none, starttls or tls, got 'ssl3'"]


async def test_an_unreachable_database_redis_and_smtp_are_one_line_each(good):
    nowhere = free_port()
    code, lines = await check(
        good.with_(
            database_url=f"postgres://postgres@127.0.0.1:{nowhere}/nothing_here",
            redis_url=f"redis://127.0.0.1:{free_port()}/0",
            smtp_port=free_port(),
        )
    )
    assert code == 1
    assert [line.split(":", 1)[0] for line in lines] == ["database", "redis", "smtp"], lines
    assert f"127.0.0.1:{nowhere}" in lines[0] and "cannot connect" in lines[0]


async def test_pending_migrations_are_reported(good, tmp_path):
    fresh = f"sqlite://{tmp_path}/never-migrated.sqlite3"
    code, lines = await check(good.with_(database_url=fresh))
    assert code == 1
    assert len(lines) == 1 and lines[0].startswith(f"database: {len(migration_names())} migration(s) not applied")
    assert "python -m app migrate" in lines[0]

    await migrate_database(fresh)
    code, lines = await check(good.with_(database_url=fresh))
    assert code == 0, lines
