"""Tests that only mean something on PostgreSQL: they skip, saying so, on SQLite."""

from __future__ import annotations

import os

import pytest

ON_POSTGRES = os.environ.get("TEST_DATABASE_URL", "").startswith("postgres")
SKIP_REASON = "needs PostgreSQL: set TEST_DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres"


def pytest_collection_modifyitems(config, items):
    for item in items:
        if "tests/postgres/" in str(item.fspath).replace(os.sep, "/"):
            item.add_marker(pytest.mark.postgres)
            if not ON_POSTGRES:
                item.add_marker(pytest.mark.skip(reason=SKIP_REASON))
