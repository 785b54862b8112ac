"""`python -m app worker` as a real process: it finds mail another process wrote by polling
(nothing wakes it), and SIGTERM lets the message in flight finish before it exits 0."""

from __future__ import annotations

import asyncio
import signal
import uuid
from collections import Counter
from datetime import datetime, timezone

import pytest

from app.notifications.models import OutboxEmail, OutboxStatus
from tests.email.mailbox import Mailbox
from tests.servers import app_process

POLL_SECONDS = 1  # OUTBOX_POLL_SECONDS is whole seconds; the default is 5


class HoldingMailbox(Mailbox):
    """A mailbox that, once `hold` is set, keeps each DATA waiting until `release` is set:
    a mail server in the middle of accepting a message."""

    def __init__(self) -> None:
        super().__init__()
        self.hold = False
        self.in_data = asyncio.Event()
        self.release = asyncio.Event()

    async def handle_DATA(self, server, session, envelope) -> str:
        if self.hold:
            self.in_data.set()
            await self.release.wait()
        return await super().handle_DATA(server, session, envelope)


@pytest.fixture
async def mailbox():
    box = HoldingMailbox()
    await box.start()
    yield box
    box.release.set()
    await box.stop()


async def write_row_as_another_process_would(name: str) -> str:
    """An outbox row inserted straight into the database, due now: no commit hook, no wake-up."""
    message_id = f"<{uuid.uuid4().hex}@example.org>"
    await OutboxEmail.create(
        message_id=message_id, kind="test", recipient=f"{name}@example.org", subject=f"For {name}",
        message=f"Message-ID: {message_id}\r\nSubject: For {name}\r\n\r\nHello {name}\r\n",
        next_attempt_at=datetime.now(timezone.utc),
    )
    return message_id


def received_ids(mailbox: Mailbox) -> Counter:
    return Counter(m.message["Message-ID"].strip() for m in mailbox.received)


async def test_a_running_worker_sends_what_another_process_wrote_at_its_next_poll(app, settings, mailbox, tmp_path):
    async with app_process("worker", settings.with_(outbox_poll_seconds=POLL_SECONDS), tmp_path / "worker.log"):
        # Found by the first pass or the first poll.
        message_id = await write_row_as_another_process_would("polly")
        await mailbox.wait_for(1, timeout=2 * POLL_SECONDS + 4)
        assert received_ids(mailbox) == Counter({message_id: 1})

        # Written after that pass claimed its batch: only a poll can find this one, and it
        # must within the configured interval (the 5 s default would miss the bound).
        second = await write_row_as_another_process_would("again")
        await mailbox.wait_for(2, timeout=POLL_SECONDS + 2)
        assert received_ids(mailbox) == Counter({message_id: 1, second: 1})
        # The worker marks a row after the server accepted it: wait (bounded) for the marks.
        async with asyncio.timeout(5):
            while await OutboxEmail.filter(status=OutboxStatus.SENT).count() < 2:
                await asyncio.sleep(0.05)


async def test_sigterm_lets_the_message_in_flight_finish_then_exits_0(app, settings, mailbox, tmp_path):
    mailbox.hold = True
    async with app_process("worker", settings.with_(outbox_poll_seconds=POLL_SECONDS), tmp_path / "worker.log") as worker:
        message_id = await write_row_as_another_process_would("inflight")
        await asyncio.wait_for(mailbox.in_data.wait(), timeout=2 * POLL_SECONDS + 4)

        worker.send_signal(signal.SIGTERM)
        # It heard the signal, and does not walk away from the message the mail server is
        # accepting: still running, with the message unanswered...
        await worker.wait_for_log("outbox worker: stopping", timeout=10)
        assert worker.returncode is None
        assert await OutboxEmail.filter(status=OutboxStatus.SENDING).count() == 1
        mailbox.release.set()
        # ...and exits cleanly once it is accepted.
        assert await worker.wait(timeout=10) == 0, worker.log()
    assert received_ids(mailbox) == Counter({message_id: 1})
    (row,) = await OutboxEmail.all()
    assert (row.status, row.attempts) == (OutboxStatus.SENT, 1)
    assert await OutboxEmail.filter(status=OutboxStatus.SENDING).count() == 0


async def test_sigterm_stops_an_idle_worker_at_once(app, settings, mailbox, tmp_path):
    async with app_process("worker", settings.with_(outbox_poll_seconds=POLL_SECONDS), tmp_path / "worker.log") as worker:
        # Idle: it has sent what was due, and waits for the next poll.
        await write_row_as_another_process_would("first")
        await mailbox.wait_for(1, timeout=2 * POLL_SECONDS + 4)
        worker.send_signal(signal.SIGTERM)
        assert await worker.wait(timeout=5) == 0, worker.log()
    assert await OutboxEmail.filter(status__not=OutboxStatus.SENT).count() == 0
