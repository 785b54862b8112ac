"""Every list query the API serves uses an index at 100,000 sessions / 1,000,000
registrations: no sequential scan of the big tables (about 40 s: seeding dominates)."""

from __future__ import annotations

import asyncio

import pytest

from tests import backends
from tests.postgres.plans import Scale, check


def _expected_plans() -> list[str]:
    """Every list query, each as its page (#1) and its totalCount (#2) where it has one."""
    labels = []
    for timeframe in ("FUTURE", "PAST"):
        for role in ("any", "HOST", "PARTICIPANT", "INVITED"):
            labels += [f"dashboard {timeframe} role={role} #1", f"dashboard {timeframe} role={role} #2"]
        labels += [f"program sessions {timeframe} #1", f"program sessions {timeframe} #2"]
    return [
        *labels,
        "profile upcoming sessions #1",
        "profile upcoming sessions #2",
        "participants of 20 sessions (first 50)",
        "viewer with roles (token lookup)",
    ]


@pytest.mark.timeout(700)  # its own bound is 600 s (seeding a million rows)
async def test_no_list_query_scans_a_big_table_at_scale():
    result = await asyncio.wait_for(
        check(backends.require_postgres(), Scale(sessions=100_000, registrations=1_000_000), verbose=False),
        timeout=600,
    )
    assert result.explained == _expected_plans()  # all of them were looked at, and nothing else
    assert result.problems == [], "\n".join(result.problems)
