"""Revocations made by another process reach this one's open sockets, without Redis.

A token revoked by the command line (`revoke-token`, `set-password`) or by another server
process is announced on the broker (app.live.access); without Redis that announcement
stays in the process that made it. So every serving process also looks at the token table
every REVOCATION_POLL_INTERVAL for tokens revoked since it last looked, and gives their
users' open sockets here the same "access changed" signal, delivered in this process only
(each process polls for itself). A socket then checks its token and roles again, and
closes with 4403 when the token no longer signs in.

It polls only while this process holds signed-in sockets, and asks only about tokens
revoked after the newest revocation it has seen (less a margin, so a revocation whose
transaction committed late is not skipped; those already signalled are remembered, not
signalled twice). It runs with Redis too, where it catches the signals an outage lost.
A membership removed by the command line is not in the token table: without Redis, such a
socket notices at its next operation.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import datetime, timedelta

from app.accounts.models import AccessToken
from app.live.access import ACCESS_CHANGED, access_channel
from app.live.broker import LocalFanout

logger = logging.getLogger(__name__)

# How far before the newest revocation seen each poll looks again (a revocation's time is
# set before its transaction commits, so it may appear after a later one).
LATE_COMMIT_MARGIN = timedelta(minutes=1)
# Listening users at most named in the poll's query (beyond, the query reads them all).
MAX_USERS_IN_QUERY = 500


class RevocationWatch:
    """Polls the token table every `interval` seconds (0: never) and signals, on `fanout`,
    the users whose tokens were revoked since the last poll."""

    def __init__(self, fanout: LocalFanout, *, interval: float) -> None:
        self.fanout = fanout
        self.interval = interval
        self._newest: datetime | None = None
        self._signalled: dict[int, datetime] = {}  # token id -> its revocation time
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Note the revocations so far (they are not news), then poll in
        the background (unless `interval` is 0). A database that fails here is logged;
        polling starts anyway."""
        try:
            newest = await (
                AccessToken.filter(revoked_at__isnull=False).order_by("-revoked_at").limit(1).values_list("revoked_at", flat=True)
            )
            self._newest = newest[0] if newest else None
            if self._newest is not None:  # those the first poll reads again are not news either
                recent = AccessToken.filter(revoked_at__gt=self._newest - LATE_COMMIT_MARGIN)
                self._signalled = dict(await recent.values_list("id", "revoked_at"))
        except Exception:  # noqa: BLE001 - the first poll reads from the beginning instead
            logger.exception("revocation watch: could not read the newest revocation")
        if self.interval > 0:
            self._task = asyncio.create_task(self._run(), name="revocation-watch")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)  # the poll's period, not a synchronization
            try:
                await self.poll()
            except Exception:  # noqa: BLE001 - the next poll tries again; sockets still check per operation
                logger.exception("revocation watch: polling the token table failed")

    def _listening_users(self) -> list[int]:
        prefix = access_channel(0)[:-1]
        return [int(channel[len(prefix):]) for channel in self.fanout.listeners if channel.startswith(prefix)]

    async def poll(self) -> int:
        """One look at the token table; returns how many users were signalled."""
        users = self._listening_users()
        if not users:
            return 0
        query = AccessToken.filter(revoked_at__isnull=False)
        if self._newest is not None:
            query = query.filter(revoked_at__gt=self._newest - LATE_COMMIT_MARGIN)
        if len(users) <= MAX_USERS_IN_QUERY:
            query = query.filter(user_id__in=users)
        rows = await query.values_list("id", "user_id", "revoked_at")
        changed: set[int] = set()
        for token_id, user_id, revoked_at in rows:
            if token_id not in self._signalled:
                self._signalled[token_id] = revoked_at
                changed.add(user_id)
            if self._newest is None or revoked_at > self._newest:
                self._newest = revoked_at
        if self._newest is not None:  # forget what the next query cannot return again
            horizon = self._newest - LATE_COMMIT_MARGIN
            self._signalled = {k: v for k, v in self._signalled.items() if v > horizon}
        for user_id in changed:
            self.fanout.deliver(access_channel(user_id), ACCESS_CHANGED)
        if changed:
            logger.info("revocation watch: %d user(s) had tokens revoked elsewhere; their sockets check again", len(changed))
        return len(changed)
