"""Delivery: nothing lost, nothing doubled. The SMTP server goes down, says "try later",
refuses for good; a join rolls back; two workers race for the same rows; operators list
and re-queue through the CLI."""

from __future__ import annotations

import asyncio
import sys
import uuid
from collections import Counter
from datetime import datetime, timezone

import pytest

from app.group_sessions.events import RegistrationAdded
from app.notifications.models import OutboxEmail, OutboxStatus
from app.notifications.worker import OutboxWorker, retry_delay
from tests.conftest import create_session, join
from tests.documents import JOIN
from tests.email.mailbox import Mailbox
from tests.servers import ROOT, process_environment


def message_ids(mailbox: Mailbox) -> Counter:
    return Counter(m.message["Message-ID"].strip() for m in mailbox.received)


async def statuses() -> Counter:
    return Counter(r.status for r in await OutboxEmail.all())


async def test_smtp_down_at_join_then_up_delivers_exactly_once(api, world, worker, mailbox, clock, settings):
    session = await create_session(api, world)
    await worker.drain()
    mailbox.take()
    await mailbox.stop()  # the mail server goes down

    result = await join(api, world.mentees[0], session["id"])
    assert result["userErrors"] == [] and result["groupSession"]["participantCount"] == 2

    assert await worker.run_once() == 2
    rows = await OutboxEmail.filter(status__not=OutboxStatus.SENT)
    assert len(rows) == 2
    for row in rows:
        assert row.status == OutboxStatus.PENDING and row.attempts == 1
        assert "Connect" in row.last_error or "refused" in row.last_error.lower(), row.last_error
        assert row.next_attempt_at > clock()

    await mailbox.start()  # back, on the same port
    assert await worker.drain() == 0, "not due yet: the backoff holds"
    assert mailbox.received == []

    clock.advance(settings.outbox_retry_base_seconds)
    assert await worker.drain() == 2
    assert await worker.drain() == 0
    assert sorted(m.to for m in mailbox.received) == sorted([world.host.user.email, world.mentees[0].user.email])
    assert set(message_ids(mailbox).values()) == {1}
    assert {r.message_id for r in rows} == set(message_ids(mailbox))
    assert await statuses() == Counter({OutboxStatus.SENT: 3})


async def test_try_later_answer_is_retried(api, world, worker, mailbox, clock, settings):
    session = await create_session(api, world)
    await worker.drain()
    mailbox.take()
    await join(api, world.mentees[0], session["id"])

    mailbox.replies = ["451 4.3.0 Mailbox busy, try again later"]
    assert await worker.run_once() == 2
    # The first message got the 451; the second went through on the same connection.
    assert len(mailbox.received) == 1
    (waiting,) = await OutboxEmail.filter(status=OutboxStatus.PENDING)
    assert waiting.attempts == 1 and waiting.last_error.startswith("451 ")
    sent_before = {m.message["Message-ID"].strip() for m in mailbox.received}
    assert waiting.message_id not in sent_before

    clock.advance(settings.outbox_retry_base_seconds)
    assert await worker.drain() == 1
    assert len(mailbox.received) == 2
    assert set(message_ids(mailbox).values()) == {1}
    retried = await OutboxEmail.get(id=waiting.id)
    assert retried.status == OutboxStatus.SENT and retried.attempts == 2 and retried.last_error is None
    assert mailbox.received[-1].message["Message-ID"].strip() == waiting.message_id


async def test_permanent_refusal_fails_at_once_and_retry_requeues(api, world, worker, mailbox):
    await create_session(api, world)
    mailbox.replies = ["550 5.1.1 No such user here"]
    assert await worker.run_once() == 1
    (row,) = await OutboxEmail.all()
    assert row.status == OutboxStatus.FAILED and row.attempts == 1
    assert row.last_error == "550 5.1.1 No such user here"
    assert await worker.drain() == 0 and mailbox.received == []

    from app.notifications.outbox import retry_failed

    assert await retry_failed() == 1
    assert await worker.drain() == 1
    assert len(mailbox.received) == 1
    assert (await OutboxEmail.get(id=row.id)).status == OutboxStatus.SENT


async def test_gives_up_after_max_attempts_with_the_last_error(api, world, app, mailbox, clock, settings):
    settings = settings.with_(outbox_max_attempts=3)
    worker = OutboxWorker(settings, clock=clock, rand=lambda: 1.0)
    await mailbox.stop()
    await create_session(api, world)
    for attempt in range(1, 4):
        assert await worker.run_once() == 1
        (row,) = await OutboxEmail.all()
        assert row.attempts == attempt
        clock.advance(settings.outbox_retry_max_seconds)
    assert row.status == OutboxStatus.FAILED and row.last_error
    assert await worker.drain() == 0


async def test_a_worker_that_died_mid_pass_leaves_its_rows_to_the_next_after_the_lease(
    api, world, worker, mailbox, clock, settings
):
    await create_session(api, world)
    claimed = await worker._claim()  # claimed, then the worker "crashes" before sending
    assert [r.status for r in claimed] == [OutboxStatus.SENDING]

    other = OutboxWorker(settings, clock=clock)
    assert await other.drain() == 0, "the claim is still leased"
    clock.advance(other.lease.total_seconds() + 1)
    assert await other.drain() == 1
    (row,) = await OutboxEmail.all()
    assert row.status == OutboxStatus.SENT and row.attempts == 2
    assert len(mailbox.received) == 1


async def test_logs_in_with_the_configured_credentials(api, world, clock, settings):
    box = Mailbox(credentials=("mailer", "s3cret"))
    await box.start()
    try:
        await create_session(api, world)
        wrong = OutboxWorker(
            settings.with_(smtp_port=box.port, smtp_username="mailer", smtp_password="nope"), clock=clock
        )
        assert await wrong.drain() == 1
        (row,) = await OutboxEmail.all()
        # A refused login is the configuration's fault, not the message's: retried, not failed.
        assert row.status == OutboxStatus.PENDING and row.last_error.startswith("535")
        assert box.received == []

        clock.advance(settings.outbox_retry_base_seconds)
        right = OutboxWorker(
            settings.with_(smtp_port=box.port, smtp_username="mailer", smtp_password="s3cret"), clock=clock
        )
        assert await right.drain() == 1
        assert len(box.received) == 1
        # (aiosmtplib tries each mechanism the server offers before giving up.)
        assert [ok for _, ok in box.logins].count(True) == 1 and box.logins[-1] == ("mailer", True)
    finally:
        await box.stop()


def test_backoff_doubles_with_jitter_and_a_cap():
    def delays(rand):
        return [
            retry_delay(n, base_seconds=30, max_seconds=3600, rand=lambda: rand).total_seconds() for n in range(1, 10)
        ]

    assert delays(1.0) == [30, 60, 120, 240, 480, 960, 1920, 3600, 3600]
    assert delays(0.0) == [15, 30, 60, 120, 240, 480, 960, 1800, 1800]


async def test_a_join_that_rolls_back_sends_nothing(api, world, worker, mailbox):
    session = await create_session(api, world, maxParticipants=2)
    await join(api, world.mentees[0], session["id"])
    full = await join(api, world.mentees[1], session["id"])
    assert [e["code"] for e in full["userErrors"]] == ["SESSION_FULL"]
    await worker.drain()
    assert mailbox.to(world.mentees[1].user.email) == []
    assert len([m for m in mailbox.to(world.host.user.email) if "registered for" in m.subject]) == 1


async def test_a_failure_after_the_outbox_row_rolls_the_row_back(api, app, world, worker, mailbox):
    session = await create_session(api, world)
    await worker.drain()
    mailbox.take()
    before = await OutboxEmail.all().count()

    async def fail(event, connection):
        raise RuntimeError("a later step of the same transaction failed")

    # After the outbox handler, in the same transaction.
    handlers = app.state.effects.handlers_for(RegistrationAdded).in_transaction
    handlers.append(fail)
    body = await api.execute(JOIN, {"id": session["id"]}, token=world.mentees[0].token)
    handlers.remove(fail)
    assert body["errors"] and not (body.get("data") or {}).get("joinGroupSession")
    assert await OutboxEmail.all().count() == before
    assert await worker.drain() == 0
    assert mailbox.received == []


@pytest.mark.serve_worker
@pytest.mark.smtp_blackhole
@pytest.mark.settings(smtp_timeout_seconds=600, outbox_poll_seconds=3600)
async def test_a_hanging_mail_server_does_not_hold_up_a_join(api, world, app, blackhole):
    """The worker runs inside the app and the SMTP server accepts connections but never
    answers, for longer than the test lasts (the SMTP timeout is 10 minutes): the creation
    and the join get their answers while the worker still waits for the server's greeting,
    with the creation's mail claimed (SENDING) and the join's waiting its turn (PENDING)."""
    try:
        session = await asyncio.wait_for(create_session(api, world), timeout=5)
        # The commit woke the worker, which is now stuck waiting for a greeting.
        await asyncio.wait_for(blackhole.connected.wait(), timeout=5)
        result = await asyncio.wait_for(join(api, world.mentees[0], session["id"]), timeout=5)
        assert result["userErrors"] == []
        assert blackhole.open_connections == 1  # the mail is still hanging: nobody waited for it
        rows = await OutboxEmail.all().order_by("id").values_list("status", "attempts", "last_error")
        assert rows == [
            (OutboxStatus.SENDING, 1, None),  # the creation's mail, its attempt under way
            (OutboxStatus.PENDING, 0, None),  # the join's two
            (OutboxStatus.PENDING, 0, None),
        ]
    finally:
        await blackhole.stop()  # the worker's pass ends at once, and with it the app


# --- two workers -------------------------------------------------------------------------------


async def _race_two_workers(settings, mailbox: Mailbox, rows: int = 40) -> None:
    due = datetime.now(timezone.utc)
    await OutboxEmail.bulk_create(
        [
            OutboxEmail(
                message_id=f"<{uuid.uuid4().hex}@example.org>",
                kind="test",
                recipient=f"person{i}@example.org",
                subject=f"Message {i}",
                message=f"Message-ID: <m{i}@example.org>\r\nSubject: Message {i}\r\n\r\nHello {i}\r\n",
                next_attempt_at=due,
            )
            for i in range(rows)
        ]
    )
    small_batches = settings.with_(outbox_batch_size=3)
    workers = [OutboxWorker(small_batches), OutboxWorker(small_batches)]
    tried = await asyncio.wait_for(asyncio.gather(*(w.drain() for w in workers)), timeout=60)
    assert sum(tried) == rows, tried
    assert all(tried), f"both workers should have taken a share: {tried}"
    assert len(mailbox.received) == rows
    assert Counter(m.to for m in mailbox.received) == Counter({f"person{i}@example.org": 1 for i in range(rows)})
    assert await OutboxEmail.filter(status=OutboxStatus.SENT).count() == rows
    assert set(await OutboxEmail.all().values_list("attempts", flat=True)) == {1}


async def test_two_workers_never_send_the_same_row(app, settings, mailbox):
    """On the suite's database (SQLite: the compare-and-set claim)."""
    await _race_two_workers(settings, mailbox)


@pytest.mark.postgres
async def test_two_workers_never_send_the_same_row_on_postgresql(postgres_app, mailbox):
    """PostgreSQL: FOR UPDATE SKIP LOCKED, workers on separate pooled connections."""
    await _race_two_workers(postgres_app.state.settings, mailbox)


@pytest.mark.postgres
async def test_a_worker_skips_rows_another_worker_holds_instead_of_waiting(postgres_app, mailbox):
    """While one transaction holds a claim on some rows (FOR UPDATE), a second worker takes
    the others at once, and never the held ones."""
    import asyncpg

    settings = postgres_app.state.settings
    due = datetime.now(timezone.utc)
    await OutboxEmail.bulk_create(
        [
            OutboxEmail(
                message_id=f"<{uuid.uuid4().hex}@example.org>", kind="test", recipient=f"p{i}@example.org",
                subject=f"Message {i}", message=f"Subject: Message {i}\r\n\r\nHello\r\n", next_attempt_at=due,
            )
            for i in range(6)
        ]
    )
    held_ids = list(await OutboxEmail.all().order_by("id").limit(3).values_list("id", flat=True))
    # The other worker: its own connection, mid-claim, holding three rows.
    other = await asyncpg.connect(settings.database_url)
    try:
        async with other.transaction():
            held = await other.fetch("SELECT id FROM outbox_email WHERE id = ANY($1::bigint[]) FOR UPDATE", held_ids)
            assert len(held) == 3
            tried = await asyncio.wait_for(OutboxWorker(settings).drain(), timeout=10)
            assert tried == 3
    finally:
        await other.close()
    assert sorted(m.to for m in mailbox.received) == [f"p{i}@example.org" for i in range(3, 6)]
    assert await OutboxEmail.filter(id__in=held_ids, status=OutboxStatus.PENDING).count() == 3


# --- the command line ----------------------------------------------------------------------------


async def run_cli(settings, *args: str) -> str:
    """`python -m app <args>` with the test's settings; its output (it must exit 0)."""
    env = process_environment(settings)
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "app", *args, cwd=ROOT, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode == 0, err.decode()
    return out.decode()


async def test_outbox_commands_list_and_requeue_failed_mail(api, world, worker, mailbox, settings):
    await create_session(api, world)
    mailbox.replies = ["554 5.7.1 Rejected by policy"]
    await worker.drain()
    await create_session(api, world, title="A second session")  # stays pending

    listing = await run_cli(settings, "outbox")
    assert "pending 1 · sending 0 · sent 0 · failed 1" in listing
    assert "FAILED" in listing and "last error: 554 5.7.1 Rejected by policy" in listing
    assert "You're hosting: A second session" in listing and "PENDING" in listing

    assert "re-queued 1 failed message(s)" in await run_cli(settings, "outbox", "retry")
    assert await OutboxEmail.filter(status=OutboxStatus.FAILED).count() == 0
    assert "tried 2 message(s)" in await run_cli(settings, "worker", "--once")
    assert sorted(m.subject for m in mailbox.received) == sorted(
        ["You're hosting: Negotiating your first salary", "You're hosting: A second session"]
    )
    assert "nothing pending or failed" in await run_cli(settings, "outbox")


# --- TLS ------------------------------------------------------------------------------------


@pytest.fixture
def tls(tmp_path):
    """A throwaway CA and a certificate for 127.0.0.1 signed by it: (server context, CA file)."""
    import ssl

    import trustme

    ca = trustme.CA()
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(server)
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    return server, str(ca_file)


@pytest.mark.parametrize("security", ["starttls", "tls"])
async def test_mail_goes_over_verified_tls(api, world, clock, settings, tls, security):
    """STARTTLS (the server refuses MAIL FROM without it) and implicit TLS, each against a
    certificate the configured CA signed."""
    server_context, ca_file = tls
    box = Mailbox(**{"starttls" if security == "starttls" else "implicit_tls": server_context})
    await box.start()
    try:
        await create_session(api, world)
        worker = OutboxWorker(
            settings.with_(smtp_port=box.port, smtp_security=security, smtp_ca_file=ca_file), clock=clock
        )
        assert await worker.drain() == 1
        (received,) = box.received
        assert received.to == world.host.user.email
        assert await statuses() == Counter({OutboxStatus.SENT: 1})
    finally:
        await box.stop()


async def test_a_certificate_no_trusted_ca_signed_is_refused_and_retried(api, world, clock, settings, tls):
    server_context, _ = tls
    box = Mailbox(implicit_tls=server_context)
    await box.start()
    try:
        await create_session(api, world)
        worker = OutboxWorker(settings.with_(smtp_port=box.port, smtp_security="tls"), clock=clock)
        assert await worker.drain() == 1
        (row,) = await OutboxEmail.all()
        assert row.status == OutboxStatus.PENDING and "certificate" in row.last_error.lower(), row.last_error
        assert box.received == []
    finally:
        await box.stop()
