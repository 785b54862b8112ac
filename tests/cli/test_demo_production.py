"""`python -m app demo` never runs in production: its accounts have a published password."""

import sqlite3

from tests.cli.test_cli import run

PRODUCTION = {
    "APP_ENV": "production",
    "PUBLIC_WEB_URL": "https://sessions.example.org",
    "CALENDAR_FEED_SECRET": "k3y-for-calendar-links-0123456789abcdef",
}


def users_in(path) -> int:
    with sqlite3.connect(path) as connection:
        return connection.execute('SELECT COUNT(*) FROM "user"').fetchone()[0]


def test_demo_refuses_production_and_writes_nothing(tmp_path):
    path = tmp_path / "prod.sqlite3"
    url = f"sqlite://{path}"
    assert run(["migrate"], url, **PRODUCTION).returncode == 0
    result = run(["demo"], url, **PRODUCTION)
    assert result.returncode == 1
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr  # one clear line, no traceback
    assert "APP_ENV=production" in lines[0] and lines[0].startswith("error: demo refuses")
    assert users_in(path) == 0


def test_demo_refuses_production_before_opening_the_database(tmp_path):
    path = tmp_path / "never.sqlite3"
    result = run(["demo"], f"sqlite://{path}", **PRODUCTION)
    assert result.returncode == 1 and "APP_ENV=production" in result.stderr
    assert not path.exists()


def test_demo_still_runs_in_development(tmp_path):
    path = tmp_path / "dev.sqlite3"
    url = f"sqlite://{path}"
    assert run(["migrate"], url).returncode == 0
    result = run(["demo"], url, APP_ENV="development")
    assert result.returncode == 0, result.stderr
    assert users_in(path) == 6
