"""`python -m app worker` as a real process: it finds mail another process wrote by polling
(nothing wakes it), and SIGTERM lets the message in flight finish before it exits 0."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import uuid
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path

import pytest

from app.notifications.models import OutboxEmail, OutboxStatus
from tests.email.mailbox import Mailbox

ROOT = Path(__file__).resolve().parents[2]
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


async def start_worker(settings, tmp_path: Path) -> asyncio.subprocess.Process:
    env = {
        **os.environ,
        "DATABASE_URL": settings.database_url,
        "SMTP_HOST": settings.smtp_host,
        "SMTP_PORT": str(settings.smtp_port),
        "MAIL_FROM": settings.mail_from,
        "OUTBOX_POLL_SECONDS": str(POLL_SECONDS),
    }
    log = (tmp_path / "worker.log").open("w")
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "app", "worker", cwd=ROOT, env=env, stdout=log, stderr=log,
    )
    log.close()
    return process


async def stop(process: asyncio.subprocess.Process) -> None:
    if process.returncode is None:
        process.kill()
        await asyncio.wait_for(process.wait(), timeout=10)


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
    process = await start_worker(settings, tmp_path)
    try:
        # Found by the first pass or the first poll (the bound covers the process's start-up).
        message_id = await write_row_as_another_process_would("polly")
        await mailbox.wait_for(1, timeout=3 * POLL_SECONDS + 4)
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
    finally:
        await stop(process)


async def test_sigterm_lets_the_message_in_flight_finish_then_exits_0(app, settings, mailbox, tmp_path):
    mailbox.hold = True
    process = await start_worker(settings, tmp_path)
    try:
        message_id = await write_row_as_another_process_would("inflight")
        await asyncio.wait_for(mailbox.in_data.wait(), timeout=3 * POLL_SECONDS + 4)

        process.send_signal(signal.SIGTERM)
        # It does not walk away from the message the mail server is accepting...
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(asyncio.shield(process.wait()), timeout=0.5)
        mailbox.release.set()
        # ...and exits cleanly once it is accepted.
        assert await asyncio.wait_for(process.wait(), timeout=10) == 0, (tmp_path / "worker.log").read_text()
    finally:
        await stop(process)
    assert received_ids(mailbox) == Counter({message_id: 1})
    (row,) = await OutboxEmail.all()
    assert (row.status, row.attempts) == (OutboxStatus.SENT, 1)
    assert await OutboxEmail.filter(status=OutboxStatus.SENDING).count() == 0


async def test_sigterm_stops_an_idle_worker_at_once(app, settings, mailbox, tmp_path):
    process = await start_worker(settings, tmp_path)
    try:
        # Idle: it has sent what was due, and waits for the next poll.
        await write_row_as_another_process_would("first")
        await mailbox.wait_for(1, timeout=3 * POLL_SECONDS + 4)
        process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(process.wait(), timeout=5) == 0, (tmp_path / "worker.log").read_text()
    finally:
        await stop(process)
    assert await OutboxEmail.filter(status__not=OutboxStatus.SENT).count() == 0
