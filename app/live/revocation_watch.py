"""Access changes made by another process reach this one's open sockets, without Redis.

A token revoked by the command line (`revoke-token`, `set-password`) or by another server
process, or a membership removed by the command line (`remove-member`), is announced on
the broker (app.live.access); without Redis that announcement stays in the process that
made it. So every serving process also looks, every REVOCATION_POLL_INTERVAL, at the
token table for tokens revoked since it last looked and at the access-change log
(app.accounts.access_changes: a row per membership removed, written in the removal's
transaction) for changes since it last looked, and gives those users' open sockets here
the same "access changed" signal, delivered in this process only (each process polls for
itself). A socket then checks its token and roles again: it closes with 4403 when the
token no longer signs in, and a subscription to what the user can no longer see (a
session of a program they left) ends with NOT_FOUND.

It polls only while this process holds signed-in sockets, with one indexed query per
table, asking only about rows newer than the newest it has seen (less a margin, so a
change whose transaction committed late is not skipped; those already signalled are
remembered, not signalled twice). It runs with Redis too, where it catches the signals
an outage lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from tortoise.models import Model

from app.accounts.models import AccessChange, AccessToken
from app.live.access import ACCESS_CHANGED, access_channel
from app.live.broker import LocalFanout

logger = logging.getLogger(__name__)

# How far before the newest change seen each poll looks again (a change's time is set
# before its transaction commits, so it may appear after a later one).
LATE_COMMIT_MARGIN = timedelta(minutes=1)
# Listening users at most named in the poll's query (beyond, the query reads them all).
MAX_USERS_IN_QUERY = 500


@dataclass
class _Log:
    """One table read as a log of access changes: rows of `model` whose `time_field` is
    set, each naming a user; what was seen of it so far."""

    model: type[Model]
    time_field: str
    newest: datetime | None = None
    signalled: dict[int, datetime] = field(default_factory=dict)  # row id -> its time

    def _rows(self, **after: Any):
        return self.model.filter(**{f"{self.time_field}__isnull": False}, **after)

    async def start(self) -> None:
        """Note the changes so far (they are not news)."""
        newest = await self._rows().order_by(f"-{self.time_field}").limit(1).values_list(self.time_field, flat=True)
        self.newest = newest[0] if newest else None
        if self.newest is not None:  # those the first poll reads again are not news either
            recent = self._rows(**{f"{self.time_field}__gt": self.newest - LATE_COMMIT_MARGIN})
            self.signalled = dict(await recent.values_list("id", self.time_field))

    async def changed_users(self, users: list[int]) -> set[int]:
        """The users (of `users`, or anyone when they are many) with a change not seen yet."""
        query = self._rows()
        if self.newest is not None:
            query = query.filter(**{f"{self.time_field}__gt": self.newest - LATE_COMMIT_MARGIN})
        if len(users) <= MAX_USERS_IN_QUERY:
            query = query.filter(user_id__in=users)
        rows = await query.values_list("id", "user_id", self.time_field)
        changed: set[int] = set()
        for row_id, user_id, at in rows:
            if row_id not in self.signalled:
                self.signalled[row_id] = at
                changed.add(user_id)
            if self.newest is None or at > self.newest:
                self.newest = at
        if self.newest is not None:  # forget what the next query cannot return again
            horizon = self.newest - LATE_COMMIT_MARGIN
            self.signalled = {k: v for k, v in self.signalled.items() if v > horizon}
        return changed


class RevocationWatch:
    """Polls the token table and the access-change log every `interval` seconds (0: never)
    and signals, on `fanout`, the users whose tokens were revoked or whose access changed
    since the last poll."""

    def __init__(self, fanout: LocalFanout, *, interval: float) -> None:
        self.fanout = fanout
        self.interval = interval
        self._logs = (_Log(AccessToken, "revoked_at"), _Log(AccessChange, "changed_at"))
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Note the revocations and changes so far (they are not news), then poll in
        the background (unless `interval` is 0). A database that fails here is logged;
        polling starts anyway."""
        for log in self._logs:
            try:
                await log.start()
            except Exception:  # noqa: BLE001 - the first poll reads from the beginning instead
                logger.exception("revocation watch: could not read the newest row of %s", log.model._meta.db_table)
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
                logger.exception("revocation watch: polling for access changes failed")

    def _listening_users(self) -> list[int]:
        prefix = access_channel(0)[:-1]
        return [int(channel[len(prefix):]) for channel in self.fanout.listeners if channel.startswith(prefix)]

    async def poll(self) -> int:
        """One look at the token table and the access-change log; returns how many users
        were signalled (each once, however many changes they had)."""
        users = self._listening_users()
        if not users:
            return 0
        changed: set[int] = set()
        for log in self._logs:
            try:
                changed |= await log.changed_users(users)
            except Exception:  # noqa: BLE001 - the other log's changes are still signalled; this one is read again next time
                logger.exception("revocation watch: reading %s failed", log.model._meta.db_table)
        for user_id in changed:
            self.fanout.deliver(access_channel(user_id), ACCESS_CHANGED)
        if changed:
            logger.info("revocation watch: %d user(s) had their access changed elsewhere; their sockets check again", len(changed))
        return len(changed)
