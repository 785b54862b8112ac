"""A lease that runs out mid-send: the row goes to the next worker, and the first one, when
its hung send finally fails, neither marks the row nor gets it sent twice."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter

import pytest

from app.notifications.models import OutboxEmail, OutboxStatus
from app.notifications.worker import OutboxWorker

pytestmark = pytest.mark.smtp_blackhole  # the suite's settings point SMTP at the blackhole


async def test_a_send_that_outlives_its_lease_leaves_the_row_to_the_next_worker(
    app, settings, clock, blackhole, mailbox
):
    message_id = f"<{uuid.uuid4().hex}@example.org>"
    row = await OutboxEmail.create(
        message_id=message_id, kind="test", recipient="late@example.org", subject="Late",
        message=f"Message-ID: {message_id}\r\nSubject: Late\r\n\r\nHello\r\n", next_attempt_at=clock(),
    )
    # The first worker's mail server accepts the connection and never answers.
    hung = OutboxWorker(settings.with_(smtp_timeout_seconds=2), clock=clock, rand=lambda: 1.0)
    first_pass = asyncio.create_task(hung.run_once())
    try:
        await asyncio.wait_for(blackhole.connected.wait(), timeout=5)
        claimed = await OutboxEmail.get(id=row.id)
        assert (claimed.status, claimed.attempts) == (OutboxStatus.SENDING, 1)

        # The lease runs out while the first worker still waits; the next one takes the row.
        clock.advance(hung.lease.total_seconds() + 1)
        healthy = OutboxWorker(settings.with_(smtp_port=mailbox.port), clock=clock, rand=lambda: 1.0)
        assert await healthy.run_once() == 1
        taken = await OutboxEmail.get(id=row.id)
        assert (taken.status, taken.attempts, taken.last_error) == (OutboxStatus.SENT, 2, None)

        # The first worker's send finally gives up (SMTP timeout)...
        assert await asyncio.wait_for(first_pass, timeout=15) == 1
    finally:
        first_pass.cancel()
    # ...and leaves the row as the second worker marked it: not put back in the queue.
    final = await OutboxEmail.get(id=row.id)
    assert (final.status, final.attempts, final.last_error, final.sent_at) == (
        OutboxStatus.SENT, 2, None, taken.sent_at
    )
    # Nothing is due again, however much time passes: the message went out once.
    clock.advance(settings.outbox_retry_max_seconds + hung.lease.total_seconds())
    assert await healthy.drain() == 0
    assert Counter(m.message["Message-ID"].strip() for m in mailbox.received) == Counter({message_id: 1})
