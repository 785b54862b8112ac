"""Email that says what we wrote, and only that: an RFC 2047 encoded word in a display
name or a session title cannot add headers or replace the body, on the interpreter the
project runs (CPython 3.11.7 here, which has CVE-2024-6923: the email package decodes an
encoded word while folding a header, and an encoded CR LF becomes a real one).

End to end: the crafted text goes in through /graphql (`updateViewer`, `createGroupSession`),
the worker delivers to a real SMTP server, and the message is read as it arrived.
"""

from __future__ import annotations

import email
import email.errors
import email.policy
import sys
from email.headerregistry import Address
from email.message import EmailMessage

import pytest

from tests.conftest import create_session, join

# Raised by interpreters with the fix for a header that would come out broken.
HeaderWriteError = getattr(email.errors, "HeaderWriteError", ())

# What an attacker types as a name or a title: an encoded word holding CR LF, a Reply-To
# of theirs, a blank line (end of headers) and the body they want read.
ATTACK = (
    "Eve =?utf-8?q?=0D=0AReply-To:_refunds@attacker.test=0D=0A=0D=0A"
    "Your_seat_is_not_paid:_https://attacker.test/pay?="
)
# The same text as the headers carry it: "=?" written "= ?", so it is no encoded word.
SHOWN = ATTACK.replace("=?", "= ?")

NOTIFICATION_HEADERS = [
    "from", "to", "subject", "date", "message-id", "auto-submitted", "mime-version", "content-type",
]

UPDATE_VIEWER = """
mutation($input: UpdateViewerInput!) {
  updateViewer(input: $input) { viewer { name } userErrors { field code } }
}
"""


def header_names(received) -> list[str]:
    return [name.lower() for name in received.message.keys()]


def test_the_email_package_of_this_interpreter_lets_the_attack_through():
    """The premise of the tests below: written as is, the crafted name adds a Reply-To
    and a body. Where the interpreter has the fix (it refuses to write such a header),
    this is skipped and the tests below prove less: the skip says so."""
    message = EmailMessage(policy=email.policy.SMTP)
    message["To"] = Address(display_name=ATTACK, addr_spec="someone@example.org")
    message["Subject"] = "Hello"
    message.set_content("Our text.\n")
    try:
        text = message.as_string()
    except HeaderWriteError:
        pytest.skip(f"CPython {sys.version.split()[0]} refuses such headers (CVE-2024-6923 fixed)")
    parsed = email.message_from_string(text, policy=email.policy.default)
    assert parsed["Reply-To"] == "refunds@attacker.test"
    body = " ".join(parsed.get_body(("plain",)).get_content().split())
    assert body.startswith("Your seat is not paid: https://attacker.test/pay")


async def test_a_crafted_display_name_adds_no_header_and_replaces_no_body(api, world, worker, mailbox):
    """A mentee renames themself with an encoded word, then joins: the host's notification
    and the mentee's confirmation have exactly the headers we built and our body, and
    the name is shown as the text it is."""
    mentee = world.mentees[0]
    renamed = (await api.data(UPDATE_VIEWER, {"input": {"name": ATTACK}}, token=mentee.token))["updateViewer"]
    assert renamed == {"viewer": {"name": ATTACK}, "userErrors": []}
    session = await create_session(api, world, maxParticipants=12)
    await worker.drain()
    mailbox.take()

    assert (await join(api, mentee, session["id"]))["userErrors"] == []
    assert await worker.drain() == 2

    notice = mailbox.one_to(world.host.user.email)
    assert header_names(notice) == NOTIFICATION_HEADERS
    assert notice.message["Reply-To"] is None
    assert notice.subject == f"{SHOWN} registered for “Negotiating your first salary” (2/12)"
    assert notice.text.startswith(f"{ATTACK} registered for your group session “Negotiating your first salary”.")
    assert "Your seat is not paid" not in notice.text and "Your seat is not paid" not in notice.html
    assert b"\r\nReply-To:" not in notice.raw

    confirmation = mailbox.one_to(mentee.user.email)
    assert confirmation.message["Reply-To"] is None
    # One addressee, the mentee; their name would need quotes and a fold, so it is left
    # out (CPython's folder drops such quotes: see emails._addressee).
    (to,) = confirmation.message["To"].addresses
    assert (to.display_name, to.addr_spec) == ("", mentee.user.email)
    assert confirmation.text.startswith("You are registered for “Negotiating your first salary”")
    assert b"\r\nReply-To:" not in confirmation.raw


async def test_a_crafted_title_adds_no_header_to_the_invitations(api, world, worker, mailbox):
    """A host titles a session with an encoded word and invites guests: each invitation
    (and the host's own confirmation) has our headers and our body."""
    guests = world.mentees[:2]
    session = await create_session(api, world, title=ATTACK, guestIds=[g.gid for g in guests])
    assert session["title"] == ATTACK
    assert await worker.drain() == 3

    for guest in guests:
        invitation = mailbox.one_to(guest.user.email)
        assert header_names(invitation) == NOTIFICATION_HEADERS
        assert invitation.message["Reply-To"] is None
        assert invitation.subject == f"Hannah invited you: {SHOWN}"
        assert invitation.text.startswith(f"Hannah invited you to the group session “{ATTACK}”.")
        assert session["url"] in invitation.text
        assert b"\r\nReply-To:" not in invitation.raw
    hosting = mailbox.one_to(world.host.user.email)
    assert hosting.message["Reply-To"] is None and hosting.subject == f"You're hosting: {SHOWN}"
    assert hosting.text.startswith(f"Your group session “{ATTACK}” is scheduled.")


async def test_a_crafted_title_and_name_add_no_header_to_the_waitlist_emails(api, world, worker, mailbox):
    """"You're on the waitlist" and "You're in" (with its invite) to a member named with an
    encoded word, for a session titled with one: our headers and our body, nothing else."""
    from tests.documents import LEAVE

    session = await create_session(api, world, title=ATTACK, maxParticipants=2)
    await join(api, world.mentees[0], session["id"])
    member = world.mentees[1]
    renamed = await api.data(UPDATE_VIEWER, {"input": {"name": ATTACK}}, token=member.token)
    assert renamed["updateViewer"]["userErrors"] == []
    waitlisted = await api.data(
        'mutation($id: ID!) { joinGroupSession(input: {id: $id, waitlist: true}) { userErrors { code } } }',
        {"id": session["id"]},
        token=member.token,
    )
    assert waitlisted["joinGroupSession"]["userErrors"] == []
    await worker.drain()
    in_line = mailbox.one_to(member.user.email, "waitlist")
    assert in_line.subject == f"You're on the waitlist: {SHOWN}"
    assert header_names(in_line) == NOTIFICATION_HEADERS and b"\r\nReply-To:" not in in_line.raw
    assert in_line.text.startswith(f"“{ATTACK}” is full, and you are on its waitlist: number 1 in line.")
    mailbox.take()
    left = await api.data(LEAVE, {"id": session["id"]}, token=world.mentees[0].token)
    assert left["leaveGroupSession"]["userErrors"] == []
    await worker.drain()
    youre_in = mailbox.one_to(member.user.email, "You're in")
    assert youre_in.subject == f"You're in: {SHOWN}"
    assert header_names(youre_in) == NOTIFICATION_HEADERS
    assert youre_in.message["Reply-To"] is None and b"\r\nReply-To:" not in youre_in.raw
    assert youre_in.text.startswith(f"A seat freed up in “{ATTACK}”")
    assert youre_in.calendar["METHOD"] == "REQUEST"
