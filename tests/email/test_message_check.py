"""The check before the outbox: a message whose text, parsed back, does not say what was
built is refused (stored REFUSED, never sent, logged, counted), and the change that
wrote it still commits."""

from __future__ import annotations

import logging
from dataclasses import replace

import pytest
from tortoise.transactions import in_transaction

from app.accounts.models import Program
from app.group_sessions.events import Person
from app.notifications import emails, outbox
from app.notifications.message_check import differences
from app.notifications.models import OutboxEmail, OutboxStatus
from tests.email.test_rendering import LETTERHEAD, WRITTEN, facts

PARTICIPANT = Person(2, "Zoë O'Brien, Jr.", "zoe@example.org", "America/New_York")


def every_kind() -> list[emails.RenderedEmail]:
    session = facts()
    at = {"letterhead": LETTERHEAD, "written_at": WRITTEN}
    return [
        emails.session_created(session, **at),
        emails.registration_added(session, PARTICIPANT, **at),
        emails.registration_removed(session, PARTICIPANT, **at),
        emails.registration_summary(session, PARTICIPANT, registered=True, changes=3, **at),
        emails.registration_confirmed(session, PARTICIPANT, **at),
        emails.registration_withdrawn(session, PARTICIPANT, **at),
        emails.session_time_changed(
            session, PARTICIPANT, previous_starts_at=session.starts_at, previous_ends_at=session.ends_at, **at
        ),
        emails.session_cancelled(session, PARTICIPANT, reason="Ill.\nSorry.", **at),
        emails.guest_invited(session, PARTICIPANT, **at),
        emails.waitlisted(session, PARTICIPANT, position=3, **at),
        emails.promoted(session, PARTICIPANT, **at),
    ]


def test_every_email_as_rendered_says_what_was_built():
    for rendered in every_kind():
        assert differences(rendered.built, rendered.message) == [], rendered.kind


def confirmation() -> emails.RenderedEmail:
    return emails.registration_confirmed(facts(), PARTICIPANT, letterhead=LETTERHEAD, written_at=WRITTEN)


def tamper(rendered: emails.RenderedEmail, old: str, new: str) -> str:
    assert old in rendered.message, old
    return rendered.message.replace(old, new, 1)


def without_the_invite(rendered: emails.RenderedEmail) -> str:
    text = rendered.message
    start = text.rindex("\r\n--", 0, text.index('filename="invite.ics"'))
    return text[:start] + text[text.rindex("\r\n--"):]


@pytest.mark.parametrize(
    ("change", "found"),
    [
        (lambda m: tamper(m, "\r\nAuto-Submitted:", "\r\nReply-To: refunds@attacker.test\r\nAuto-Submitted:"),
         "headers differ (added: reply-to"),
        (lambda m: tamper(m, "\r\nAuto-Submitted:", "\r\nBcc: victim@example.org\r\nAuto-Submitted:"),
         "headers differ (added: bcc"),
        (lambda m: tamper(m, "zoe@example.org>", "eve@attacker.test>"), "header to differs"),
        (lambda m: tamper(m, "Subject: ", "Subject: Urgent: "), "header subject differs"),
        (lambda m: tamper(m, "\r\nMessage-ID: <", "\r\nMessage-ID: <x"), "header message-id differs"),
        (lambda m: tamper(m, "\r\nDate: Fri, 20 Nov 2026", "\r\nDate: Sat, 21 Nov 2026"), "header date differs"),
        (lambda m: tamper(m, "The calendar invite is attached", "Pay here: https://attacker.test"),
         "part 2 (text/plain): content differs"),
        (lambda m: tamper(m, 'Content-Type: text/calendar; method="REQUEST"', "Content-Type: text/plain"),
         "part 4 (text/calendar): content type differs"),
        (lambda m: tamper(m, 'filename="invite.ics"', 'filename="invite.ics.exe"'),
         "part 4 (text/calendar): filename differs"),
        (without_the_invite, "4 MIME parts instead of 5"),
        (lambda m: m.message.split("\r\n\r\n", 1)[0] + "\r\n\r\nJust text.\r\n", "cannot be parsed back"),
    ],
    ids=["reply-to added", "bcc added", "to changed", "subject changed", "message-id changed", "date changed",
         "body replaced", "part type changed", "filename changed", "invite removed", "no MIME tree"],
)
def test_a_message_tampered_with_after_building_is_found_out(change, found):
    rendered = confirmation()
    tampered = change(rendered)
    assert tampered != rendered.message
    problems = differences(rendered.built, tampered)
    assert any(found in p for p in problems), problems


async def test_a_refused_email_is_kept_unsent_logged_counted_and_the_change_commits(app, worker, mailbox, caplog):
    """Through `enqueue`, the one way into the outbox, in a change's transaction: the good
    email is queued, the tampered one stored REFUSED with the reason; the change commits;
    the worker sends only the good one; operators see the refusal."""
    good = confirmation()
    bad = confirmation()
    bad = replace(bad, message=tamper(bad, "\r\nAuto-Submitted:", "\r\nReply-To: refunds@attacker.test\r\nAuto-Submitted:"))
    before = outbox.REFUSED_EMAILS["registration_confirmed"]

    with caplog.at_level(logging.ERROR, logger="app.notifications.outbox"):
        async with in_transaction() as connection:
            await Program.create(name="The change that caused the emails", using_db=connection)
            assert await outbox.enqueue([good, bad], connection) == 1

    assert await Program.filter(name="The change that caused the emails").exists()
    rows = {row.message_id: row for row in await OutboxEmail.all()}
    assert rows[good.message_id].status == OutboxStatus.PENDING
    refused = rows[bad.message_id]
    assert refused.status == OutboxStatus.REFUSED
    assert refused.last_error.startswith("refused: headers differ (added: reply-to")
    assert outbox.REFUSED_EMAILS["registration_confirmed"] == before + 1
    (record,) = [r for r in caplog.records if "refused" in r.getMessage()]
    assert bad.message_id in record.getMessage() and "zoe@example.org" not in record.getMessage()

    assert await worker.drain() == 1
    assert [m.message["Message-ID"] for m in mailbox.received] == [good.message_id]
    assert (await OutboxEmail.get(id=refused.id)).status == OutboxStatus.REFUSED
    assert (await outbox.count_by_status())[OutboxStatus.REFUSED] == 1
    assert [row.id for row in await outbox.list_outbox()] == [refused.id]
