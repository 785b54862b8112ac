"""Names of the throwaway PostgreSQL databases that tests, benchmarks and plan checks create.

Every creator calls `database_name(kind)`, so each name starts with one prefix:
TEST_DATABASE_PREFIX (default `gs`). `.ci/run` sets a prefix of its own per run and drops
only databases carrying it; runs that share the server never drop each other's.
"""

from __future__ import annotations

import os
import re
import uuid

DEFAULT_PREFIX = "gs"
# Written into SQL as a quoted identifier and limited to 63 bytes by PostgreSQL: keep it plain.
_PREFIX = re.compile(r"[a-z][a-z0-9_]{0,39}")


def database_prefix() -> str:
    """The prefix of every database this process creates (TEST_DATABASE_PREFIX or `gs`)."""
    prefix = os.environ.get("TEST_DATABASE_PREFIX", "").strip() or DEFAULT_PREFIX
    if not _PREFIX.fullmatch(prefix):
        raise ValueError(f"TEST_DATABASE_PREFIX must be lowercase letters, digits and _ (up to 40), got {prefix!r}")
    return prefix


def database_name(kind: str) -> str:
    """A new, unique database name `<prefix>_<kind>_<random>` (kind: test, template, bench...)."""
    return f"{database_prefix()}_{kind}_{uuid.uuid4().hex[:10]}"
