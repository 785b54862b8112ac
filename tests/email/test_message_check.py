"""The check before the outbox: a message whose text, parsed back, does not say what was
built is refused (stored REFUSED, never sent, logged, counted), and the change that
wrote it still commits."""

from __future__ import annotations

import email.headerregistry
import email.parser
import email.policy
import logging
from dataclasses import replace
from email.message import EmailMessage

import pytest
from tortoise.transactions import in_transaction

from app.accounts.models import Program
from app.group_sessions.events import Person
from app.notifications import emails, message_check, outbox
from app.notifications.message_check import differences, shape_of
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


SUBMITTED = "\r\nAuto-Submitted:"
# Ways a message's text may go wrong after it was built, and what the check says of each.
TAMPERED = [
    pytest.param(change, found, id=name)
    for name, change, found in [
        ("reply-to added", lambda m: tamper(m, SUBMITTED, "\r\nReply-To: refunds@attacker.test" + SUBMITTED),
         "headers differ (added: reply-to"),
        ("bcc added", lambda m: tamper(m, SUBMITTED, "\r\nBcc: victim@example.org" + SUBMITTED),
         "headers differ (added: bcc"),
        ("to changed", lambda m: tamper(m, "zoe@example.org>", "eve@attacker.test>"), "header to differs"),
        ("subject changed", lambda m: tamper(m, "Subject: ", "Subject: Urgent: "), "header subject differs"),
        ("message-id changed", lambda m: tamper(m, "\r\nMessage-ID: <", "\r\nMessage-ID: <x"),
         "header message-id differs"),
        ("date changed", lambda m: tamper(m, "\r\nDate: Fri, 20 Nov 2026", "\r\nDate: Sat, 21 Nov 2026"),
         "header date differs"),
        ("body replaced", lambda m: tamper(m, "The calendar invite is attached", "Pay here: https://attacker.test"),
         "part 2 (text/plain): content differs"),
        ("part type changed",
         lambda m: tamper(m, 'Content-Type: text/calendar; method="REQUEST"', "Content-Type: text/plain"),
         "part 4 (text/calendar): content type differs"),
        ("filename changed", lambda m: tamper(m, 'filename="invite.ics"', 'filename="invite.ics.exe"'),
         "part 4 (text/calendar): filename differs"),
        ("invite removed", without_the_invite, "4 MIME parts instead of 5"),
        ("no MIME tree", lambda m: m.message.split("\r\n\r\n", 1)[0] + "\r\n\r\nJust text.\r\n",
         "cannot be parsed back"),
    ]
]


@pytest.mark.parametrize(("change", "found"), TAMPERED)
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


# --- the header factories that make each class once and parse each header once ----------------


def _plain_parse(text: str):
    """The parse `message_check.parse` stands for: policy.default, every header read parsed again."""
    return email.parser.Parser(policy=email.policy.default).parsestr(text)


@pytest.mark.parametrize(
    "change",
    [lambda m: m.message, *[case.values[0] for case in TAMPERED]],
    ids=["as rendered", *[case.id for case in TAMPERED]],
)
def test_the_check_parses_each_message_as_policy_default_does(change):
    for rendered in [confirmation(), *every_kind()]:
        try:
            text = change(rendered)
        except (AssertionError, ValueError):  # that tampering does not apply to this kind of email
            continue
        try:
            expected = shape_of(_plain_parse(text))
        except Exception as error:  # noqa: BLE001 - then the check must fail to parse it too
            with pytest.raises(type(error)):
                shape_of(message_check.parse(text))
            continue
        assert shape_of(message_check.parse(text)) == expected


def test_a_message_composed_with_classes_made_once_is_the_same_text():
    def compose(policy) -> str:
        message = EmailMessage(policy=policy)
        message["From"] = "Group sessions <sessions@example.org>"
        message["To"] = emails.Address("Zoë O'Brien, Jr.", addr_spec="zoe@example.org")
        message["Subject"] = "A subject long enough to be folded " * 4
        message["Message-ID"] = "<x@example.org>"
        message.set_content("Hello\n")
        message.add_alternative("<p>Hello</p>", subtype="html")
        message.set_boundary("fixed-boundary")  # the generator would pick one at random
        return message.as_string()

    assert compose(message_check.SMTP) == compose(email.policy.SMTP)


def test_header_classes_are_made_once_per_registered_class():
    factory = message_check.HeaderClasses()
    assert factory["Subject"] is factory["subject"]
    assert factory["X-Anything"] is factory["X-Else"]
    assert issubclass(factory["X-Else"], email.headerregistry.UnstructuredHeader)
    assert factory["To"] is factory["Cc"] and factory["To"] is not factory["Subject"]
    assert issubclass(factory["To"], email.headerregistry.AddressHeader)
    # Composing emails makes no new header class.
    every_kind()
    made = len(message_check.SMTP.header_factory._classes)
    every_kind()
    assert len(message_check.SMTP.header_factory._classes) == made
