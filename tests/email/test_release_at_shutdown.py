"""A worker told to stop mid-batch sends the message in flight, hands the rest of its
batch back at once (not after its lease), and nothing is lost or sent twice."""

from __future__ import annotations

import uuid
from collections import Counter

from app.notifications.models import OutboxEmail, OutboxStatus
from app.notifications.worker import OutboxWorker
from tests.email.mailbox import Mailbox


class StopAfterFirst(Mailbox):
    """A mail server that tells the worker to stop as the first message arrives."""

    worker: OutboxWorker | None = None

    async def handle_DATA(self, server, session, envelope) -> str:
        reply = await super().handle_DATA(server, session, envelope)
        if len(self.received) == 1 and self.worker is not None:
            self.worker.request_stop()  # what shutdown does while a batch is being sent
        return reply


async def test_stopping_mid_batch_releases_the_rest_for_the_next_worker(app, settings, clock):
    ids = []
    for n in range(3):
        message_id = f"<{uuid.uuid4().hex}@example.org>"
        row = await OutboxEmail.create(
            message_id=message_id, kind="test", recipient=f"r{n}@example.org", subject=f"S{n}",
            message=f"Message-ID: {message_id}\r\nSubject: S{n}\r\n\r\nHello\r\n", next_attempt_at=clock(),
        )
        ids.append(row.id)
    server = StopAfterFirst()
    await server.start()
    try:
        stopping = OutboxWorker(settings.with_(smtp_port=server.port), clock=clock, rand=lambda: 1.0)
        server.worker = stopping
        await stopping.run_once()
        rows = {row.id: row for row in await OutboxEmail.filter(id__in=ids)}
        assert sorted(row.status for row in rows.values()) == [OutboxStatus.PENDING, OutboxStatus.PENDING, OutboxStatus.SENT]
        released = [row for row in rows.values() if row.status == OutboxStatus.PENDING]
        # Untried: no attempt counted, due now (the next worker needs no lease to run out).
        assert all(row.attempts == 0 and row.next_attempt_at <= clock() for row in released)

        server.worker = None
        assert await OutboxWorker(settings.with_(smtp_port=server.port), clock=clock).drain() == 2
        assert {row.status for row in await OutboxEmail.filter(id__in=ids)} == {OutboxStatus.SENT}
        sent = Counter(m.message["Message-ID"] for m in server.received)
        assert len(sent) == 3 and set(sent.values()) == {1}  # each once
    finally:
        await server.stop()
