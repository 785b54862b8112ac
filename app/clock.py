"""The current instant, always timezone-aware UTC: the one clock every module reads."""

from __future__ import annotations

from datetime import datetime, timezone


def utcnow() -> datetime:
    return datetime.now(timezone.utc)
