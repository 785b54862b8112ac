"""Who may see what, in one place. The rules:

- a program, its sessions and their registrations are seen by the program's members;
- a user is seen by themself and by anyone sharing a program with them;
- a user's email is seen by that user only; a session's guest list and waitlist by its host
  only (a place in line also by the member in it).

Whatever is not visible is answered exactly like what does not exist (null), so outsiders
learn nothing. Functions here take the operation's loaders (which know the viewer) and
return ORM rows; the loaders only load.
"""

from __future__ import annotations

from app.accounts.models import Program, User
from app.api.loaders import MISSING, Loaders
from app.group_sessions.models import GroupSession, Registration, RegistrationStatus


async def is_member(loaders: Loaders, program_id: int) -> bool:
    """True when the viewer belongs to the program (with any role)."""
    return await loaders.viewer_role(program_id) is not None


def is_member_now(loaders: Loaders, program_id: int):
    """`is_member` when the viewer's roles are loaded already, else `MISSING`."""
    role = loaders.known_viewer_role(program_id)
    return MISSING if role is MISSING else role is not None


async def member_program_ids(loaders: Loaders) -> list[int]:
    """The programs the viewer belongs to (their sessions are the ones the viewer sees)."""
    return list((await loaders.viewer_roles()).keys())


async def visible_program(loaders: Loaders, program_id: int) -> Program | None:
    if not await is_member(loaders, program_id):
        return None
    return await loaders.program_by_id.load(program_id)


async def visible_session(loaders: Loaders, session_id: int) -> GroupSession | None:
    row = await loaders.session_by_id.load(session_id)
    if row is None or not await is_member(loaders, row.program_id):
        return None
    return row


async def visible_registration(loaders: Loaders, registration_id: int) -> Registration | None:
    """A registration is as visible as its session; a place on the waitlist only to the
    host and to the member in line (the waitlist is the host's)."""
    row = await loaders.registration_by_id.load(registration_id)
    if row is None:
        return None
    session = await visible_session(loaders, row.session_id)
    if session is None:
        return None
    if row.status == RegistrationStatus.WAITLISTED and loaders.viewer.id not in (row.user_id, session.host_id):
        return None
    return row


async def visible_user(loaders: Loaders, user_id: int) -> User | None:
    viewer = loaders.viewer
    if viewer is None:
        return None
    if user_id == viewer.id:
        return viewer
    programs = await member_program_ids(loaders)
    if not programs:
        return None
    return await loaders.user_in_programs(user_id, programs)


def can_see_email(viewer: User | None, user_id: int) -> bool:
    return viewer is not None and viewer.id == user_id


def can_see_guests(viewer: User | None, session: GroupSession) -> bool:
    return viewer is not None and viewer.id == session.host_id
