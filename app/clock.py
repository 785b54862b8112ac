"""The current instant, always timezone-aware UTC: the one clock every module reads."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timezone

# What takes a clock takes one of these (tests pass one they can move forward).
Clock = Callable[[], datetime]


def utcnow() -> datetime:
    return datetime.now(timezone.utc)
