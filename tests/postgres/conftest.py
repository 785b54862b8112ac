"""Tests of the app on PostgreSQL (contention, EXPLAIN, the pool): they run in the PostgreSQL
pass, and skip in the SQLite pass saying which (scripts/test runs both when PostgreSQL
answers). Tests here that need no database live in tests/unit instead."""

from __future__ import annotations

import os

import pytest

from tests import backends


def pytest_collection_modifyitems(config, items):
    if backends.current_pass() == "postgres":
        reason = None
    elif absence := backends.postgres_absence():
        reason = f"needs PostgreSQL: {absence}"
    else:
        reason = "runs in the PostgreSQL pass (this is the SQLite pass)"
    for item in items:
        if "tests/postgres/" in str(item.fspath).replace(os.sep, "/"):
            item.add_marker(pytest.mark.postgres)
            if reason:
                item.add_marker(pytest.mark.skip(reason=reason))
