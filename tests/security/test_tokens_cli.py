"""`python -m app tokens --email E` lists a user's tokens; `revoke-token --id` revokes one."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from app.accounts import services as accounts
from app.accounts.models import AccessToken

ROOT = Path(__file__).resolve().parents[2]


def cli(database_url: str, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "DATABASE_URL": database_url, "APP_ENV": "development"}
    return subprocess.run(
        [sys.executable, "-m", "app", *args], env=env, cwd=ROOT, capture_output=True, text=True, timeout=60
    )


async def test_list_and_revoke_tokens(api, world, database_url):
    host = world.host
    second = await accounts.issue_token(host.user, label="laptop")
    await api.data("{ viewer { name } }", token=second)  # marks it used
    rows = {t.label: t for t in await AccessToken.filter(user=host.user)}
    assert rows["laptop"].last_used_at is not None

    listed = cli(database_url, "tokens", "--email", "HANNAH@example.org")
    assert listed.returncode == 0, listed.stderr
    lines = listed.stdout.splitlines()
    assert lines[0].split() == ["ID", "LABEL", "CREATED", "LAST", "USED", "REVOKED"]
    laptop = next(line for line in lines if "laptop" in line)
    assert laptop.split()[0] == str(rows["laptop"].id)
    assert laptop.count("UTC") == 2 and laptop.rstrip().endswith("-")  # created, last used; not revoked
    assert "2 token(s), 2 active" in lines[-1]
    assert second not in listed.stdout  # tokens themselves are never shown (nor stored)

    revoked = cli(database_url, "revoke-token", "--id", str(rows["laptop"].id))
    assert revoked.returncode == 0 and "revoked 1 token(s)" in revoked.stdout
    assert await api.data("{ viewer { name } }", token=second) == {"viewer": None}
    assert await api.data("{ viewer { name } }", token=host.token) == {"viewer": {"name": "Hannah"}}
    again = cli(database_url, "revoke-token", "--id", str(rows["laptop"].id))
    assert again.returncode == 1 and "revoked 0 token(s)" in again.stdout

    listed = cli(database_url, "tokens", "--email", "hannah@example.org")
    laptop = next(line for line in listed.stdout.splitlines() if "laptop" in line)
    assert laptop.count("UTC") == 3
    assert "2 token(s), 1 active" in listed.stdout


async def test_tokens_of_an_unknown_user(app, database_url):
    result = cli(database_url, "tokens", "--email", "nobody@example.org")
    assert result.returncode == 1
    assert result.stderr.strip() == "error: no user with email nobody@example.org"
