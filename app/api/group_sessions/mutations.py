"""Creating, editing, cancelling, joining and leaving group sessions: payloads and
resolvers. Each resolver decodes its input and calls one service; `mutate` does the rest.

The resolvers are fields of the Mutation root (assembled in app.api.schema).
"""

from __future__ import annotations

import strawberry
from strawberry.types import Info

from app.accounts.models import User
from app.api.errors import UserError
from app.api.group_sessions.inputs import (
    CancelGroupSessionInput,
    CreateGroupSessionInput,
    JoinGroupSessionInput,
    LeaveGroupSessionInput,
    UpdateGroupSessionInput,
)
from app.api.group_sessions.types import GroupSession, Registration
from app.api.mutation import decode_id, mutate
from app.errors import DomainError, ErrorCode
from app.group_sessions import services
from app.group_sessions.events import Person

NO_SESSION = "No such group session."
MAX_GUESTS = 1000


def _session_id(global_id: strawberry.ID) -> int:
    return decode_id(global_id, "GroupSession", message=NO_SESSION)


def _guest_ids(ids: list[strawberry.ID] | None) -> list[int] | None:
    """Guest IDs as user keys; an ID that names no user is NOT_FOUND at its index."""
    if ids is None:
        return None
    if len(ids) > MAX_GUESTS:
        raise DomainError.of(ErrorCode.OUT_OF_RANGE, "At most 1,000 guests.", ("input", "guestIds"))
    return [
        decode_id(gid, "User", message="No such member.", field=("input", "guestIds", str(index)))
        for index, gid in enumerate(ids)
    ]


@strawberry.type(description="The result of createGroupSession.")
class CreateGroupSessionPayload:
    group_session: GroupSession | None = strawberry.field(default=None, description="The new session ('Created!').")
    user_errors: list[UserError] = strawberry.field(
        default_factory=list, description="Why nothing was created; empty on success."
    )


@strawberry.type(description="The result of updateGroupSession.")
class UpdateGroupSessionPayload:
    group_session: GroupSession | None = strawberry.field(default=None, description="The session as it is now.")
    user_errors: list[UserError] = strawberry.field(
        default_factory=list, description="Why nothing was changed; empty on success."
    )


@strawberry.type(description="The result of cancelGroupSession.")
class CancelGroupSessionPayload:
    group_session: GroupSession | None = strawberry.field(default=None, description="The cancelled session.")
    user_errors: list[UserError] = strawberry.field(
        default_factory=list, description="Why nothing was changed; empty on success."
    )


@strawberry.type(description="The result of joinGroupSession.")
class JoinGroupSessionPayload:
    registration: Registration | None = strawberry.field(
        default=None, description="The viewer's new registration: CONFIRMED, or WAITLISTED (see its waitlistPosition)."
    )
    group_session: GroupSession | None = strawberry.field(
        default=None, description="The session, with its new counts."
    )
    user_errors: list[UserError] = strawberry.field(
        default_factory=list, description="Why the viewer was not registered; empty on success."
    )


@strawberry.type(description="The result of leaveGroupSession.")
class LeaveGroupSessionPayload:
    group_session: GroupSession | None = strawberry.field(
        default=None, description="The session, with its new counts."
    )
    user_errors: list[UserError] = strawberry.field(
        default_factory=list, description="Why nothing was changed; empty on success."
    )


@strawberry.mutation(description="Dashboard > Sessions > Create a session. Only mentors of the program may host.")
async def create_group_session(info: Info, input: CreateGroupSessionInput) -> CreateGroupSessionPayload:
    async def change(viewer: User) -> CreateGroupSessionPayload:
        program_id = decode_id(input.program_id, "Program", message="No such program.", field=("input", "programId"))
        row = await services.create_group_session(
            viewer_id=viewer.id,
            program_id=program_id,
            title=input.title,
            objective=input.objective,
            starts_at=input.starts_at,
            duration_minutes=input.duration_minutes,
            min_participants=input.min_participants,
            max_participants=input.max_participants,
            guest_ids=_guest_ids(input.guest_ids) or [],
            viewer=Person.of(viewer),
            viewer_roles=info.context.viewer_roles,
            effects=info.context.effects,
        )
        return CreateGroupSessionPayload(group_session=GroupSession.from_row(row))

    return await mutate(info, CreateGroupSessionPayload, change)


@strawberry.mutation(description="Edit (host only). Participants are told of a changed time.")
async def update_group_session(info: Info, input: UpdateGroupSessionInput) -> UpdateGroupSessionPayload:
    async def change(viewer: User) -> UpdateGroupSessionPayload:
        row = await services.update_group_session(
            viewer_id=viewer.id,
            session_id=_session_id(input.id),
            title=input.title,
            objective=input.objective,
            min_participants=input.min_participants,
            max_participants=input.max_participants,
            starts_at=input.starts_at,
            duration_minutes=input.duration_minutes,
            guest_ids=_guest_ids(input.guest_ids),
            viewer_roles=info.context.viewer_roles,
            effects=info.context.effects,
        )
        return UpdateGroupSessionPayload(group_session=GroupSession.from_row(row))

    return await mutate(info, UpdateGroupSessionPayload, change)


@strawberry.mutation(description="Cancel (host only). Everyone registered is told.")
async def cancel_group_session(info: Info, input: CancelGroupSessionInput) -> CancelGroupSessionPayload:
    async def change(viewer: User) -> CancelGroupSessionPayload:
        row = await services.cancel_group_session(
            viewer_id=viewer.id,
            session_id=_session_id(input.id),
            reason=input.reason,
            viewer_roles=info.context.viewer_roles,
            effects=info.context.effects,
        )
        return CancelGroupSessionPayload(group_session=GroupSession.from_row(row))

    return await mutate(info, CancelGroupSessionPayload, change)


@strawberry.mutation(
    description="Join: register the viewer. Any member of the session's program may join. A full session refuses "
    "with SESSION_FULL, unless `waitlist: true` asks for a place on its waitlist."
)
async def join_group_session(info: Info, input: JoinGroupSessionInput) -> JoinGroupSessionPayload:
    async def change(viewer: User) -> JoinGroupSessionPayload:
        registration, row = await services.join_group_session(
            viewer_id=viewer.id,
            session_id=_session_id(input.id),
            waitlist=bool(input.waitlist),
            viewer=Person.of(viewer),
            viewer_roles=info.context.viewer_roles,
            effects=info.context.effects,
        )
        # The viewer's registration and the session are known: spare viewerIsAttending
        # and registration.session a query each.
        info.context.loaders.viewer_registration_by_session.prime(row.id, registration)
        info.context.loaders.session_by_id.prime(row.id, row)
        return JoinGroupSessionPayload(
            registration=Registration.from_row(registration), group_session=GroupSession.from_row(row)
        )

    return await mutate(info, JoinGroupSessionPayload, change)


@strawberry.mutation(
    description="Leave: withdraw the viewer's registration (not the host's); the seat goes at once to the first "
    "on the waitlist. A member on the waitlist leaves it this way, those behind moving up."
)
async def leave_group_session(info: Info, input: LeaveGroupSessionInput) -> LeaveGroupSessionPayload:
    async def change(viewer: User) -> LeaveGroupSessionPayload:
        row = await services.leave_group_session(
            viewer_id=viewer.id,
            session_id=_session_id(input.id),
            viewer=Person.of(viewer),
            viewer_roles=info.context.viewer_roles,
            effects=info.context.effects,
        )
        info.context.loaders.viewer_registration_by_session.prime(row.id, None)
        return LeaveGroupSessionPayload(group_session=GroupSession.from_row(row))

    return await mutate(info, LeaveGroupSessionPayload, change)
