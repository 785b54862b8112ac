"""Database names carry one prefix (tests/databases.py), and .ci/run drops only its own run's
databases (with FORCE) and those of CI runs whose process is gone (without): never the
databases of a run still going, nor an engineer's, on the same server."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import asyncpg
import pytest

from tests import backends
from tests.databases import database_name, database_prefix

ROOT = Path(__file__).resolve().parents[2]


def admin_url() -> str:
    return backends.on_database(backends.require_postgres(), "postgres")


def a_dead_pid() -> int:
    pid = 999_999
    while Path(f"/proc/{pid}").exists():
        pid -= 1
    return pid


def test_names_carry_the_prefix(monkeypatch):
    monkeypatch.setenv("TEST_DATABASE_PREFIX", "gs_ci42")
    assert re.fullmatch(r"gs_ci42_test_[0-9a-f]{10}", database_name("test"))
    monkeypatch.delenv("TEST_DATABASE_PREFIX")
    assert database_prefix() == "gs"
    for unsafe in ('gs"; DROP DATABASE x; --', "GS", "gs-ci", "x" * 41):
        monkeypatch.setenv("TEST_DATABASE_PREFIX", unsafe)
        with pytest.raises(ValueError):
            database_prefix()


def test_every_database_is_created_under_the_prefix():
    """Whoever writes CREATE DATABASE names the database with database_name()."""
    sources = [p for p in [*ROOT.glob("tests/**/*.py"), *ROOT.glob("scripts/*.py")] if p.name != Path(__file__).name]
    # The statement itself (a quoted name follows), not a mention in help text.
    creators = [p for p in sources if 'CREATE DATABASE "' in p.read_text()]
    assert creators, "no creator found: the scan is broken"
    for path in creators:
        text = path.read_text()
        assert "database_name(" in text, f"{path.relative_to(ROOT)} names a database itself"
        assert not re.search(r"""f["'](gs|email)_\w*\{uuid""", text), path


async def test_ci_cleanup_drops_its_own_and_dead_runs_databases_only():
    own, live, dead = f"gs_ci{os.getpid()}x", f"gs_ci{os.getppid()}", f"gs_ci{a_dead_pid()}"
    # `own` stands for the run doing the cleanup: a prefix no process has, dropped with FORCE
    names = {
        "own": f"{own}_test_a", "live run": f"{live}_test_b", "dead run": f"{dead}_test_c",
        "dead run, in use": f"{dead}_test_d", "engineer": database_name("test").replace(database_prefix(), "gs", 1),
    }
    admin = await asyncpg.connect(admin_url())
    holder = own_in_use = None
    try:
        for name in names.values():
            await admin.execute(f'CREATE DATABASE "{name}"')
        head = admin_url().rpartition("/")[0]
        holder = await asyncpg.connect(f"{head}/{names['dead run, in use']}")
        own_in_use = await asyncpg.connect(f"{head}/{names['own']}")
        script = f'source .ci/databases.sh && drop_databases_of "{own}" FORCE && drop_databases_of_dead_runs'
        result = subprocess.run(["bash", "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, result.stderr
        left = set(await admin.fetchval("SELECT array_agg(datname) FROM pg_database") or [])
        assert names["own"] not in left  # its own: dropped even while connected
        assert names["dead run"] not in left
        assert {names["live run"], names["dead run, in use"], names["engineer"]} <= left
    finally:
        for connection in (holder, own_in_use):
            if connection is not None:
                connection.terminate()
        for name in names.values():
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()
