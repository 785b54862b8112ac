"""Leaving a program and losing a password: `python -m app remove-member` withdraws what
has not happened yet (with the usual emails) and keeps the past; `set-password` ends every
token; and no user is ever deleted from under other people's sessions."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from tortoise.exceptions import IntegrityError

from app.accounts import services as accounts
from app.accounts.models import AccessToken, Membership, User
from app.clock import utcnow
from app.group_sessions.models import GroupSession, Guest, Registration, SessionStatus
from app.notifications.models import OutboxEmail
from tests.conftest import create_session, join

ROOT = Path(__file__).resolve().parents[2]


def cli(database_url: str, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    # Each host notice at once (no folding of join/leave into a summary: tests/email/test_flood.py):
    # these tests read the notices the removal itself writes.
    env = {
        **os.environ, "DATABASE_URL": database_url, "APP_ENV": "development", "REDIS_URL": "",
        "HOST_NOTICE_COALESCE_WINDOW": "0",
    }
    return subprocess.run(
        [sys.executable, "-m", "app", *args], env=env, cwd=ROOT, input=stdin, capture_output=True, text=True, timeout=60
    )


async def in_the_past(session_gid: str) -> int:
    """Move a session (created in the future, as the API requires) to last week."""
    from app.api.pagination import pk_of

    pk = pk_of(session_gid, "GroupSession")
    starts = utcnow() - timedelta(days=7)
    await GroupSession.filter(id=pk).update(starts_at=starts, ends_at=starts + timedelta(hours=1))
    return pk


async def mail_to(email: str) -> list[str]:
    return sorted(await OutboxEmail.filter(recipient=email).values_list("kind", flat=True))


async def test_remove_member_withdraws_future_registrations_and_keeps_the_past(api, world, database_url):
    mentee = world.mentees[0]
    future = await create_session(api, world, title="Coming up")
    past = await create_session(api, world, title="Last week")
    other_host = await create_session(api, world, as_=world.mentor, title="Mario's", guestIds=[mentee.gid])
    for session in (future, past, other_host):
        assert (await join(api, mentee, session["id"]))["userErrors"] == []
    past_pk = await in_the_past(past["id"])
    before = {email: await mail_to(email) for email in (world.host.user.email, world.mentor.user.email, mentee.user.email)}

    result = cli(database_url, "remove-member", "--program", world.program_gid, "--email", "MENTEE0@example.org")
    assert result.returncode == 0, result.stderr
    assert "2 registration(s) withdrawn, 0 hosted session(s) cancelled; past sessions are kept" in result.stdout

    assert not await Membership.exists(user_id=mentee.user.id, program_id=world.program.id)
    assert not await Guest.exists(user_id=mentee.user.id)  # guests are members
    kept = await Registration.filter(user_id=mentee.user.id).values_list("session_id", flat=True)
    assert kept == [past_pk]
    counts = dict(await GroupSession.all().values_list("title", "participant_count"))
    assert counts == {"Coming up": 1, "Last week": 2, "Mario's": 1}
    # The usual emails: each host hears of the withdrawal, the member gets the confirmation.
    assert await mail_to(world.host.user.email) == sorted([*before[world.host.user.email], "registration_removed"])
    assert await mail_to(world.mentor.user.email) == sorted([*before[world.mentor.user.email], "registration_removed"])
    assert await mail_to(mentee.user.email) == sorted(
        [*before[mentee.user.email], "registration_withdrawn", "registration_withdrawn"]
    )
    # No longer a member: the program's sessions are out of sight.
    body = await api.data("query($id: ID!) { node(id: $id) { id } }", {"id": future["id"]}, token=mentee.token)
    assert body == {"node": None}

    again = cli(database_url, "remove-member", "--program", world.program_gid, "--email", mentee.user.email)
    assert again.returncode == 1 and again.stderr.strip() == "error: mentee0@example.org is not a member of this program."


async def test_a_member_hosting_future_sessions_is_removed_only_with_their_cancellation(api, world, database_url):
    session = await create_session(api, world, title="Hosted")
    assert (await join(api, world.mentees[1], session["id"]))["userErrors"] == []

    refused = cli(database_url, "remove-member", "--program", world.program_gid, "--email", world.host.user.email)
    assert refused.returncode == 1
    assert "hosts 1 session(s) in this program that have not started: 'Hosted' on" in refused.stderr
    assert "Nothing was changed" in refused.stderr and "--cancel-hosted" in refused.stderr
    assert await Membership.exists(user_id=world.host.user.id, program_id=world.program.id)
    assert (await GroupSession.get(title="Hosted")).status == SessionStatus.SCHEDULED

    done = cli(
        database_url, "remove-member", "--program", world.program_gid, "--email", world.host.user.email,
        "--cancel-hosted",
    )
    assert done.returncode == 0, done.stderr
    assert "0 registration(s) withdrawn, 1 hosted session(s) cancelled" in done.stdout
    cancelled = await GroupSession.get(title="Hosted")
    assert cancelled.status == SessionStatus.CANCELLED
    assert cancelled.cancellation_reason == "The host is no longer a member of this program."
    assert "session_cancelled" in await mail_to(world.mentees[1].user.email)
    assert not await Membership.exists(user_id=world.host.user.id, program_id=world.program.id)


async def test_remove_member_refuses_unknown_people_and_programs(app, world, database_url):
    unknown = cli(database_url, "remove-member", "--program", world.program_gid, "--email", "nobody@example.org")
    assert (unknown.returncode, unknown.stderr.strip()) == (1, "error: No user with email nobody@example.org.")
    outsider = cli(database_url, "remove-member", "--program", world.program_gid, "--email", world.outsider.user.email)
    assert outsider.returncode == 1 and "is not a member of this program" in outsider.stderr
    bad = cli(database_url, "remove-member", "--program", "nonsense", "--email", world.host.user.email)
    assert (bad.returncode, bad.stderr.strip()) == (1, "error: Not a program ID: 'nonsense'.")


async def test_set_password_revokes_every_token(api, world, database_url):
    host = world.host
    second = await accounts.issue_token(host.user, label="laptop")
    result = cli(database_url, "set-password", "--email", host.user.email, stdin="correct horse battery\n")
    assert result.returncode == 0, result.stderr
    assert "revoked 2 token(s)" in result.stdout
    for token in (host.token, second):
        assert await api.data("{ viewer { name } }", token=token) == {"viewer": None}
    signed_in = await api.data(
        'mutation { signIn(input: {email: "hannah@example.org", password: "correct horse battery"}) { token } }'
    )
    assert signed_in["signIn"]["token"]

    short = cli(database_url, "set-password", "--email", world.mentor.user.email, stdin="short\n")
    assert short.returncode == 1 and "A password of 8 to 1024 characters is required." in short.stderr
    assert await AccessToken.filter(user_id=world.mentor.user.id, revoked_at__isnull=True).count() == 1


async def test_a_user_in_other_peoples_sessions_cannot_be_deleted(api, world):
    session = await create_session(api, world)
    assert (await join(api, world.mentees[0], session["id"]))["userErrors"] == []
    for person in (world.host, world.mentees[0]):
        with pytest.raises(IntegrityError):
            await User.filter(id=person.user.id).delete()
    assert await Registration.filter(session__title=session["title"]).count() == 2
    # Someone in no session at all can be deleted (with their own memberships and tokens).
    await User.filter(id=world.outsider.user.id).delete()
    assert not await Membership.exists(user_id=world.outsider.user.id)
