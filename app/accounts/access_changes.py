"""The access-change log: a row per change to what a user may do that the token table does
not show (a membership removed), so that every serving process can tell that user's open
WebSockets to check again (app.live.revocation_watch), with or without Redis.

Write it inside the transaction of the change itself: the row commits with the change or
not at all, so a watch never signals a change that was rolled back, nor misses one that
committed. The log is append-only and short-lived: a watch looks back a minute or so, so
rows older than KEPT_FOR are deleted whenever a new one is written.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta

from app.accounts.models import AccessChange
from app.clock import utcnow

# How long a change stays in the log: far longer than any watch looks back.
KEPT_FOR = timedelta(days=1)


async def record_access_change(user_ids: Iterable[int]) -> None:
    """Log that these users' access changed now, and prune rows older than KEPT_FOR.
    Call it inside the transaction that makes the change."""
    now = utcnow()
    users = list(dict.fromkeys(user_ids))
    if not users:
        return
    await AccessChange.bulk_create([AccessChange(user_id=user_id, changed_at=now) for user_id in users])
    await AccessChange.filter(changed_at__lt=now - KEPT_FOR).delete()
