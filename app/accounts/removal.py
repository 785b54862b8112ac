"""Removing a member from a program (`python -m app remove-member`).

What the removal does to the sessions of that program:
- the member's registrations in sessions that have not started are withdrawn through the
  ordinary `leave_group_session` command, so hosts get the usual notice and live event;
- registrations in sessions that started or ended are kept (they are history);
- sessions the member hosts that have not started block the removal: the command says
  which, and `cancel_hosted=True` cancels them through `cancel_group_session` (everyone
  registered gets the usual cancellation email) before removing the member;
- invitations (guest rows) to sessions that have not started are dropped: guests are
  members by definition.

The membership is deleted before the registrations are withdrawn, so the member cannot
join anything meanwhile; running the command again finishes a removal that was cut short.
The deletion is logged in the access-change log in the same transaction
(`app.accounts.access_changes`): every serving process finds it there within
REVOCATION_POLL_INTERVAL and tells the member's open sockets. Publishing the signal on
the broker at once is the caller's part (the command line does, when REDIS_URL is set:
see `app.live.access`).
"""

from __future__ import annotations

from dataclasses import dataclass

from tortoise.transactions import in_transaction

from app.accounts.access_changes import record_access_change
from app.accounts.models import Membership, Program, ProgramRole, User
from app.accounts.services import normalize_email
from app.clock import utcnow
from app.errors import DomainError, ErrorCode
from app.group_sessions import services as sessions
from app.group_sessions.events import Effects
from app.group_sessions.models import GroupSession, Guest, Registration, SessionStatus

HOST_LEFT_REASON = "The host is no longer a member of this program."


@dataclass(frozen=True)
class Removal:
    """What `remove_member` did."""

    user_id: int
    was_member: bool
    withdrawn: int  # registrations withdrawn from sessions that had not started
    cancelled: int  # hosted sessions cancelled (cancel_hosted=True)


async def remove_member(*, program_id: int, email: str, effects: Effects, cancel_hosted: bool = False) -> Removal:
    """Remove the user with `email` from the program (see the module docstring).

    DomainError (nothing changed) for an unknown user or program, a user who is not a
    member (and has nothing left to withdraw there), or a member who hosts sessions that
    have not started, unless `cancel_hosted`."""
    email = normalize_email(email)
    user = await User.get_or_none(email=email)
    if user is None:
        raise DomainError.of(ErrorCode.NOT_FOUND, f"No user with email {email}.", ("email",))
    if not await Program.exists(id=program_id):
        raise DomainError.of(ErrorCode.NOT_FOUND, "No such program.", ("program",))
    now = utcnow()
    membership = await Membership.get_or_none(program_id=program_id, user_id=user.id)
    upcoming = GroupSession.filter(program_id=program_id, starts_at__gt=now, status=SessionStatus.SCHEDULED)
    hosted = await upcoming.filter(host_id=user.id).order_by("starts_at").values("id", "title", "starts_at")
    registered = await Registration.filter(
        user_id=user.id, is_host=False, session__program_id=program_id, session__starts_at__gt=now,
        session__status=SessionStatus.SCHEDULED,
    ).values_list("session_id", flat=True)
    if membership is None and not hosted and not registered:
        raise DomainError.of(ErrorCode.NOT_FOUND, f"{email} is not a member of this program.", ("email",))
    if hosted and not cancel_hosted:
        listed = "; ".join(f"{row['title']!r} on {row['starts_at']:%Y-%m-%d %H:%M} UTC" for row in hosted[:5])
        more = f" and {len(hosted) - 5} more" if len(hosted) > 5 else ""
        raise DomainError.of(
            ErrorCode.FORBIDDEN,
            f"{email} hosts {len(hosted)} session(s) in this program that have not started: {listed}{more}. "
            "Nothing was changed. Cancel them first, or remove the member with --cancel-hosted "
            "(everyone registered is told of each cancellation).",
        )
    # The commands below check membership through these roles: the member is still one
    # (or was, for a removal being finished) while their sessions are dealt with.
    roles = {program_id: membership.role if membership is not None else ProgramRole.MENTEE}
    cancelled = 0
    for row in hosted:
        try:
            await sessions.cancel_group_session(
                viewer_id=user.id, session_id=row["id"], reason=HOST_LEFT_REASON, viewer_roles=roles, effects=effects
            )
            cancelled += 1
        except DomainError:
            pass  # started or cancelled meanwhile: nothing left to do for that one
    async with in_transaction():
        if await Membership.filter(program_id=program_id, user_id=user.id).delete():
            # Committed with the removal: every serving process finds it in the log and
            # tells the member's open sockets, without Redis too (app.live.revocation_watch).
            await record_access_change([user.id])
        invited = await Guest.filter(
            user_id=user.id, session__program_id=program_id, session__starts_at__gt=now
        ).values_list("id", flat=True)
        await Guest.filter(id__in=list(invited)).delete()
    withdrawn = 0
    for session_id in registered:
        try:
            await sessions.leave_group_session(
                viewer_id=user.id, session_id=session_id, viewer_roles=roles, effects=effects
            )
            withdrawn += 1
        except DomainError:
            pass  # started, or withdrawn, meanwhile: kept as it is
    return Removal(user_id=user.id, was_member=membership is not None, withdrawn=withdrawn, cancelled=cancelled)
