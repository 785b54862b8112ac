"""The delivery worker: sends what the outbox holds, at least once and, short of a crash,
exactly once.

A pass claims a batch of due rows (PENDING whose time has come, or SENDING whose lease
ran out because a worker died mid-pass), sends them over one SMTP connection and marks
each SENT, or schedules a retry with exponential backoff and jitter, or after
`outbox_max_attempts` (or a permanent 5xx refusal) marks it FAILED with the last error.

Claiming is what keeps two workers off the same row:
- PostgreSQL: `SELECT ... FOR UPDATE SKIP LOCKED` and the claim UPDATE in one short
  transaction, so concurrent workers take disjoint batches without waiting on each other;
- SQLite: a compare-and-set UPDATE per row (same status and attempt count as read), whose
  row count says who won; correct for any number of workers, though one is the plan.
No transaction is held while talking to SMTP, so a slow or dead mail server delays only
mail. A crash after the send and before the mark is the one way to a duplicate; the
message keeps its Message-ID across attempts, so receivers can drop it.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from datetime import datetime, timedelta

import aiosmtplib
from tortoise.expressions import F
from tortoise.transactions import in_transaction

from app.background import PollingLoop
from app.clock import utcnow
from app.group_sessions.services import forget_expired_idempotency_keys
from app.notifications.mailer import (
    SmtpMailer,
    describe,
    is_message_error,
    is_permanent,
)
from app.notifications.models import OutboxEmail, OutboxStatus
from app.settings import Settings

logger = logging.getLogger(__name__)

Clock = Callable[[], datetime]

# How often the worker deletes expired idempotency keys (they are ignored once expired, so
# this only bounds the table).
SWEEP_INTERVAL = timedelta(hours=1)

_SEND_ERRORS = (aiosmtplib.SMTPException, OSError, TimeoutError)


def retry_delay(attempt: int, *, base_seconds: float, max_seconds: float, rand: Callable[[], float]) -> timedelta:
    """How long to wait after failed attempt number `attempt` (1, 2, ...): base * 2**(n-1),
    capped, then "equal jitter" (between half and all of it) so that a crowd of messages
    that failed together does not come back together."""
    ceiling = min(float(max_seconds), base_seconds * 2 ** max(attempt - 1, 0))
    return timedelta(seconds=ceiling / 2 + rand() * ceiling / 2)


class OutboxWorker(PollingLoop):
    """Delivers the outbox. `run_once()` is one pass; `start()`/`stop()` run passes in the
    background until stopped; `wake()` starts the next pass now instead of at the next poll
    (e.g. right after a commit wrote outbox rows); see app.background.

    `stop()` finishes the message in flight (up to its timeout, then cancels the pass) and
    releases the rest of the batch. A pass cancelled mid-send leaves its rows claimed; they
    are due again when the lease ends (never sent twice meanwhile)."""

    name = "outbox-worker"

    def __init__(
        self,
        settings: Settings,
        *,
        mailer: SmtpMailer | None = None,
        clock: Clock = utcnow,
        rand: Callable[[], float] = random.random,
    ) -> None:
        self.settings = settings
        self.mailer = mailer or SmtpMailer(settings)
        self.clock = clock
        self.rand = rand
        super().__init__()
        self._next_sweep: datetime | None = None
        # A claim is a lease: long enough to connect and send a whole batch, each step
        # bounded by the SMTP timeout. After it a row is due again (its worker died).
        self.lease = timedelta(seconds=settings.smtp_timeout_seconds * (settings.outbox_batch_size + 2) + 60)

    # --- one pass ---------------------------------------------------------------------------

    async def run_once(self) -> int:
        """Claim one batch of due rows and try to deliver each; returns how many were tried."""
        rows = await self._claim()
        if rows:
            await self._deliver(rows)
        return len(rows)

    async def drain(self, max_passes: int = 1000) -> int:
        """Passes until nothing is due (or `max_passes`); returns how many rows were tried."""
        total = 0
        for _ in range(max_passes):
            tried = await self.run_once()
            total += tried
            if tried == 0:
                break
        return total

    async def _claim(self) -> list[OutboxEmail]:
        now = self.clock()
        lease_until = now + self.lease
        due = OutboxEmail.filter(
            status__in=[OutboxStatus.PENDING, OutboxStatus.SENDING], next_attempt_at__lte=now
        ).order_by("next_attempt_at", "id")
        batch = self.settings.outbox_batch_size
        if self.settings.uses_postgres:
            async with in_transaction() as connection:
                rows = await due.limit(batch).select_for_update(skip_locked=True).using_db(connection)
                if rows:
                    await OutboxEmail.filter(id__in=[r.id for r in rows]).using_db(connection).update(
                        status=OutboxStatus.SENDING, attempts=F("attempts") + 1, next_attempt_at=lease_until
                    )
            for row in rows:
                row.status, row.attempts, row.next_attempt_at = OutboxStatus.SENDING, row.attempts + 1, lease_until
            return rows

        claimed: list[int] = []
        # Another worker may win some rows between our read and our update: read again
        # (a few times) rather than report "nothing due" while rows are waiting.
        for _ in range(3):
            candidates = await due.filter(id__not_in=claimed).limit(batch - len(claimed)).values(
                "id", "status", "attempts"
            )
            lost = 0
            for candidate in candidates:
                won = await OutboxEmail.filter(
                    id=candidate["id"],
                    status=candidate["status"],
                    attempts=candidate["attempts"],
                    next_attempt_at__lte=now,
                ).update(status=OutboxStatus.SENDING, attempts=candidate["attempts"] + 1, next_attempt_at=lease_until)
                if won:
                    claimed.append(candidate["id"])
                else:
                    lost += 1
            if not lost or len(claimed) >= batch:
                break
        if not claimed:
            return []
        return list(await OutboxEmail.filter(id__in=claimed).order_by("next_attempt_at", "id"))

    async def _deliver(self, rows: list[OutboxEmail]) -> None:
        pending = list(rows)
        try:
            async with self.mailer.session() as smtp:
                while pending:
                    if self.stopping:
                        # Shutting down: the message in flight was finished; the rest of
                        # the batch goes back to the queue now, for the next worker,
                        # instead of waiting out its lease.
                        await self._release(pending)
                        pending = []
                        break
                    row = pending[0]
                    try:
                        await smtp.send(row.recipient, row.message)
                    except _SEND_ERRORS as error:
                        if not is_message_error(error):
                            raise  # the connection is gone: every row left fails alike
                        pending.pop(0)
                        await self._mark_failed(row, error, permanent=is_permanent(error))
                        continue
                    pending.pop(0)
                    await self._mark_sent(row)
        except _SEND_ERRORS as error:
            logger.warning("outbox: SMTP %s:%s unavailable (%s); %d message(s) will be retried",
                           self.settings.smtp_host, self.settings.smtp_port, describe(error), len(pending))
            for row in pending:
                await self._mark_failed(row, error, permanent=False)

    async def _release(self, rows: list[OutboxEmail]) -> None:
        """Hand claimed rows back untried: PENDING, due now, this claim's attempt not
        counted. A row whose lease another worker took over already is left alone."""
        for row in rows:
            await OutboxEmail.filter(id=row.id, status=OutboxStatus.SENDING, attempts=row.attempts).update(
                status=OutboxStatus.PENDING, attempts=row.attempts - 1, next_attempt_at=self.clock()
            )
        if rows:
            logger.info("outbox: released %d claimed message(s) at shutdown", len(rows))

    async def _mark_sent(self, row: OutboxEmail) -> None:
        marked = await OutboxEmail.filter(id=row.id, status=OutboxStatus.SENDING, attempts=row.attempts).update(
            status=OutboxStatus.SENT, sent_at=self.clock(), last_error=None
        )
        if not marked:  # our lease ran out and another worker took the row: nothing to undo
            logger.warning("outbox: row %s was sent after its lease ran out", row.id)

    async def _mark_failed(self, row: OutboxEmail, error: BaseException, *, permanent: bool) -> None:
        now = self.clock()
        last_error = describe(error)
        if permanent or row.attempts >= self.settings.outbox_max_attempts:
            changes = {"status": OutboxStatus.FAILED, "next_attempt_at": now}
            logger.error("outbox: giving up on row %s (%s) after %d attempt(s): %s",
                         row.id, row.kind, row.attempts, last_error)
        else:
            delay = retry_delay(
                row.attempts,
                base_seconds=self.settings.outbox_retry_base_seconds,
                max_seconds=self.settings.outbox_retry_max_seconds,
                rand=self.rand,
            )
            changes = {"status": OutboxStatus.PENDING, "next_attempt_at": now + delay}
        await OutboxEmail.filter(id=row.id, status=OutboxStatus.SENDING, attempts=row.attempts).update(
            last_error=last_error, **changes
        )

    # --- in the background -----------------------------------------------------------------------

    async def sweep(self) -> int:
        """Housekeeping beside delivery: delete expired idempotency keys. Returns how many."""
        return await forget_expired_idempotency_keys(now=self.clock())

    async def _sweep_when_due(self) -> None:
        now = self.clock()
        if self._next_sweep is not None and now < self._next_sweep:
            return
        self._next_sweep = now + SWEEP_INTERVAL
        try:
            forgotten = await self.sweep()
        except Exception:  # noqa: BLE001 - housekeeping must not stop delivery
            logger.exception("worker: sweeping expired idempotency keys failed")
            return
        if forgotten:
            logger.info("worker: forgot %d expired idempotency keys", forgotten)

    def batch_size(self) -> int:
        return self.settings.outbox_batch_size

    def poll_seconds(self) -> float:
        return self.settings.outbox_poll_seconds

    async def after_pass(self) -> None:
        await self._sweep_when_due()
