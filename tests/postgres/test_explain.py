"""Every list query the API serves uses an index at 100,000 sessions / 1,000,000
registrations: no sequential scan of the big tables (about 40 s: seeding dominates)."""

from __future__ import annotations

import asyncio
import os

from tests.postgres.plans import Scale, check


async def test_no_list_query_scans_a_big_table_at_scale():
    problems = await asyncio.wait_for(
        check(os.environ["TEST_DATABASE_URL"], Scale(sessions=100_000, registrations=1_000_000), verbose=False),
        timeout=600,
    )
    assert problems == [], "\n".join(problems)
