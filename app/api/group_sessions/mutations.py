"""Creating, editing, cancelling, joining and leaving group sessions: payloads and
resolvers. Each resolver decodes its input and calls one service; `mutate` does the rest.

The resolvers are fields of the Mutation root (assembled in app.api.schema).
"""

from __future__ import annotations

import strawberry
from strawberry.types import Info

from app.accounts.models import User
from app.api import visibility
from app.api.errors import UserError, user_errors
from app.api.group_sessions.inputs import (
    CancelGroupSessionInput,
    CreateGroupSessionInput,
    JoinGroupSessionInput,
    LeaveGroupSessionInput,
    RespondToInvitationInput,
    UpdateGroupSessionInput,
)
from app.api.group_sessions.types import (
    GroupSession,
    GroupSessionEdge,
    GuestInvitation,
    Registration,
    RegistrationEdge,
)
from app.api.mutation import decode_id, mutate
from app.api.pagination import to_global_id
from app.errors import DomainError, ErrorCode
from app.group_sessions import services
from app.group_sessions.events import Person

NO_SESSION = "This session could not be found."
MAX_GUESTS = 1000


def _session_id(global_id: strawberry.ID) -> int:
    return decode_id(global_id, "GroupSession", message=NO_SESSION)


def _guest_ids(ids: list[strawberry.ID] | None) -> list[int] | None:
    """Guest IDs as user keys; an ID that names no user is NOT_FOUND at its index (at
    every such index, not only the first)."""
    if ids is None:
        return None
    if len(ids) > MAX_GUESTS:
        raise DomainError.of(ErrorCode.OUT_OF_RANGE, "You can invite at most 1,000 guests.", ("input", "guestIds"))
    keys, problems = [], []
    for index, gid in enumerate(ids):
        try:
            keys.append(decode_id(gid, "User", message="This member could not be found.", field=("input", "guestIds", str(index))))
        except DomainError as error:
            problems.extend(error.problems)
    if problems:
        raise DomainError(*problems)
    return keys


@strawberry.type(description="The result of createGroupSession.")
class CreateGroupSessionPayload:
    group_session: GroupSession | None = strawberry.field(default=None, description="The new session ('Created!').")
    group_session_edge: GroupSessionEdge | None = strawberry.field(
        default=None,
        description="The new session as an edge of the host's Dashboard.sessions (FUTURE) list, with the cursor "
        "that list gives it: a client cache inserts it there without a refetch.",
    )
    user_errors: list[UserError] = strawberry.field(
        default_factory=list, description="Why nothing was created; empty on success."
    )


@strawberry.type(description="The result of updateGroupSession.")
class UpdateGroupSessionPayload:
    group_session: GroupSession | None = strawberry.field(
        default=None, description="The session as it is now, edited or not (null when it is not visible)."
    )
    user_errors: list[UserError] = strawberry.field(
        default_factory=list, description="Why nothing was changed; empty on success."
    )


@strawberry.type(description="The result of cancelGroupSession.")
class CancelGroupSessionPayload:
    group_session: GroupSession | None = strawberry.field(
        default=None, description="The cancelled session; on a refusal, the session as it is (null when not visible)."
    )
    user_errors: list[UserError] = strawberry.field(
        default_factory=list, description="Why nothing was changed; empty on success."
    )


@strawberry.type(description="The result of joinGroupSession.")
class JoinGroupSessionPayload:
    registration: Registration | None = strawberry.field(
        default=None, description="The viewer's new registration: CONFIRMED, or WAITLISTED (see its waitlistPosition)."
    )
    registration_edge: RegistrationEdge | None = strawberry.field(
        default=None,
        description="The new registration as an edge of GroupSession.participants, with the cursor that list "
        "gives it: a client cache appends it there without a refetch.",
    )
    group_session: GroupSession | None = strawberry.field(
        default=None, description="The session, with its new counts; on a refusal, as it is (null when not visible)."
    )
    user_errors: list[UserError] = strawberry.field(
        default_factory=list, description="Why the viewer was not registered; empty on success."
    )


@strawberry.type(description="The result of leaveGroupSession.")
class LeaveGroupSessionPayload:
    group_session: GroupSession | None = strawberry.field(
        default=None, description="The session, with its new counts; on a refusal, as it is (null when not visible)."
    )
    removed_registration_id: strawberry.ID | None = strawberry.field(
        default=None,
        description="The ID of the registration withdrawn (as its Registration node had it): a client cache "
        "removes it from GroupSession.participants.",
    )
    user_errors: list[UserError] = strawberry.field(
        default_factory=list, description="Why nothing was changed; empty on success."
    )


@strawberry.type(description="The result of respondToInvitation.")
class RespondToInvitationPayload:
    invitation: GuestInvitation | None = strawberry.field(
        default=None, description="The viewer's invitation with its answer as it is now."
    )
    registration_edge: RegistrationEdge | None = strawberry.field(
        default=None,
        description="On accepting: the edge of the registration it made, to insert in the participants list; "
        "null otherwise (declining, or accepting when registered already).",
    )
    group_session: GroupSession | None = strawberry.field(
        default=None,
        description="The session as it is now, with its counts; also when the answer was refused, "
        "if the viewer can see the session.",
    )
    user_errors: list[UserError] = strawberry.field(
        default_factory=list, description="Why the answer was not taken; empty on success."
    )


@strawberry.mutation(description="Dashboard > Sessions > Create a session. Only mentors of the program may host.")
async def create_group_session(info: Info, input: CreateGroupSessionInput) -> CreateGroupSessionPayload:
    async def change(viewer: User) -> CreateGroupSessionPayload:
        program_id = decode_id(input.program_id, "Program", message="This program could not be found.", field=("input", "programId"))
        row = await services.create_group_session(
            viewer_id=viewer.id,
            program_id=program_id,
            title=input.title,
            objective=input.objective,
            starts_at=input.starts_at,
            starts_at_local=input.starts_at_local,
            time_zone=input.time_zone,
            duration_minutes=input.duration_minutes,
            min_participants=input.min_participants,
            max_participants=input.max_participants,
            guest_ids=_guest_ids(input.guest_ids) or [],
            meeting_url=input.meeting_url,
            join_instructions=input.join_instructions,
            idempotency_key=input.idempotency_key,
            idempotency_key_ttl=info.context.settings.idempotency_key_ttl,
            cancel_if_minimum_not_reached=input.cancel_if_minimum_not_reached is not False,
            minimum_decision_lead=info.context.settings.minimum_decision_lead,
            viewer=Person.of(viewer),
            viewer_roles=info.context.viewer_roles,
            now=info.context.clock(),
            effects=info.context.effects,
        )
        return CreateGroupSessionPayload(
            group_session=GroupSession.from_row(row),
            group_session_edge=GroupSessionEdge.of(row),
        )

    return await mutate(info, CreateGroupSessionPayload, change, input=input)


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
            starts_at_local=input.starts_at_local,
            time_zone=input.time_zone,
            duration_minutes=input.duration_minutes,
            guest_ids=_guest_ids(input.guest_ids),
            meeting_url=input.meeting_url,
            join_instructions=input.join_instructions,
            cancel_if_minimum_not_reached=input.cancel_if_minimum_not_reached,
            minimum_decision_lead=info.context.settings.minimum_decision_lead,
            viewer_roles=info.context.viewer_roles,
            now=info.context.clock(),
            effects=info.context.effects,
        )
        return UpdateGroupSessionPayload(group_session=GroupSession.from_row(row))

    return await mutate(info, UpdateGroupSessionPayload, change, input=input, session_id=input.id)


@strawberry.mutation(description="Cancel (host only). Everyone registered is told.")
async def cancel_group_session(info: Info, input: CancelGroupSessionInput) -> CancelGroupSessionPayload:
    async def change(viewer: User) -> CancelGroupSessionPayload:
        row = await services.cancel_group_session(
            viewer_id=viewer.id,
            session_id=_session_id(input.id),
            reason=input.reason,
            viewer_roles=info.context.viewer_roles,
            now=info.context.clock(),
            effects=info.context.effects,
        )
        return CancelGroupSessionPayload(group_session=GroupSession.from_row(row))

    return await mutate(info, CancelGroupSessionPayload, change, input=input, session_id=input.id)


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
            now=info.context.clock(),
            effects=info.context.effects,
        )
        # The viewer's registration and the session are known: spare viewerIsAttending
        # and registration.session a query each.
        info.context.loaders.viewer_registration_by_session.prime(row.id, registration)
        info.context.loaders.session_by_id.prime(row.id, row)
        return JoinGroupSessionPayload(
            registration=Registration.from_row(registration),
            registration_edge=RegistrationEdge.of(registration),
            group_session=GroupSession.from_row(row),
        )

    return await mutate(info, JoinGroupSessionPayload, change, input=input, session_id=input.id)


@strawberry.mutation(
    description="Leave: withdraw the viewer's registration (not the host's); the seat goes at once to the first "
    "on the waitlist. A member on the waitlist leaves it this way, those behind moving up."
)
async def leave_group_session(info: Info, input: LeaveGroupSessionInput) -> LeaveGroupSessionPayload:
    async def change(viewer: User) -> LeaveGroupSessionPayload:
        registration, row = await services.leave_group_session(
            viewer_id=viewer.id,
            session_id=_session_id(input.id),
            viewer=Person.of(viewer),
            viewer_roles=info.context.viewer_roles,
            now=info.context.clock(),
            effects=info.context.effects,
        )
        info.context.loaders.viewer_registration_by_session.prime(row.id, None)
        return LeaveGroupSessionPayload(
            group_session=GroupSession.from_row(row),
            removed_registration_id=strawberry.ID(to_global_id("Registration", registration.id)),
        )

    return await mutate(info, LeaveGroupSessionPayload, change, input=input, session_id=input.id)


@strawberry.mutation(
    description="Answer an invitation. Accepting registers the viewer exactly as joinGroupSession does (the "
    "same rules: SESSION_FULL, SESSION_CANCELLED, SESSION_STARTED); declining is recorded, and withdraws the "
    "viewer's registration as leaveGroupSession does when they had accepted. Answering again changes the "
    "answer. NOT_INVITED when the viewer is not on the session's guest list."
)
async def respond_to_invitation(info: Info, input: RespondToInvitationInput) -> RespondToInvitationPayload:
    async def change(viewer: User) -> RespondToInvitationPayload:
        field = ("input", "groupSessionId")
        session_id = decode_id(input.group_session_id, "GroupSession", message=NO_SESSION, field=field)
        try:
            answer = await services.respond_to_invitation(
                viewer_id=viewer.id,
                session_id=session_id,
                accept=input.accept,
                viewer=Person.of(viewer),
                viewer_roles=info.context.viewer_roles,
                now=info.context.clock(),
                effects=info.context.effects,
            )
        except DomainError as error:
            # Nothing changed: the session as it is, when the viewer can see it, so a
            # client can show the truth next to the error.
            row = await visibility.visible_session(info.context.loaders, session_id)
            return RespondToInvitationPayload(
                group_session=GroupSession.from_row(row) if row is not None else None,
                user_errors=user_errors(error),
            )
        loaders, row = info.context.loaders, answer.session
        loaders.session_by_id.prime(row.id, row)
        loaders.viewer_guest_by_session.prime(row.id, answer.invitation)
        edge = None
        if answer.registration is not None:
            loaders.viewer_registration_by_session.prime(row.id, answer.registration)
            edge = RegistrationEdge.of(answer.registration)
        elif not input.accept:
            loaders.viewer_registration_by_session.prime(row.id, None)
        return RespondToInvitationPayload(
            invitation=GuestInvitation.from_row(answer.invitation),
            registration_edge=edge,
            group_session=GroupSession.from_row(row),
        )

    return await mutate(info, RespondToInvitationPayload, change)
