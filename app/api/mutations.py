"""Mutation root: each resolver decodes its input, calls one service, builds the payload."""

from __future__ import annotations

from datetime import datetime

import strawberry
from strawberry.types import Info

from app.accounts import services as accounts
from app.api.relay import pk_of
from app.api.types.common import UserError, not_found, user_errors
from app.api.types.nodes import GroupSession, Registration, User
from app.errors import DomainError, ErrorCode
from app.group_sessions import services
from app.group_sessions.events import Person

_NO_SESSION = "No such group session."


@strawberry.input(description="Email and password.")
class SignInInput:
    email: str = strawberry.field(description="The email the account was created with (any case).")
    password: str = strawberry.field(description="The account's password.")


@strawberry.type(description="The result of signIn.")
class SignInPayload:
    token: str | None = strawberry.field(
        description="Send as 'Authorization: Bearer <token>', and as connection_init payload "
        '{"authorization": "Bearer <token>"} on the WebSocket.'
    )
    viewer: User | None = strawberry.field(description="The signed-in user.")
    user_errors: list[UserError] = strawberry.field(description="Why sign-in failed; empty on success.")


@strawberry.type(description="The result of signOut.")
class SignOutPayload:
    signed_out: bool = strawberry.field(
        description="True when the token this request was signed in with is now revoked; "
        "it no longer signs anyone in, here or on a WebSocket."
    )
    user_errors: list[UserError] = strawberry.field(description="Why nothing was revoked; empty on success.")


@strawberry.input(description="A new group session.")
class CreateGroupSessionInput:
    program_id: strawberry.ID = strawberry.field(description="The program the session belongs to.")
    title: str = strawberry.field(description="1 to 200 characters, one line.")
    objective: str = strawberry.field(description="Describe the objective of your masterclass.")
    guest_ids: list[strawberry.ID] | None = strawberry.field(
        default=None, description="Invited members of the same program; anyone in the program may still join."
    )
    min_participants: int | None = strawberry.field(default=None, description="Defaults to 1 when left out or null.")
    max_participants: int | None = strawberry.field(
        default=None, description="Defaults to 40 when left out or null; the host counts as one."
    )
    starts_at: datetime = strawberry.field(description="The start, with the browser's UTC offset; in the future.")
    duration_minutes: int = strawberry.field(description="5 to 1,440 minutes.")


@strawberry.type(description="The result of createGroupSession.")
class CreateGroupSessionPayload:
    group_session: GroupSession | None = strawberry.field(description="The new session ('Created!').")
    user_errors: list[UserError] = strawberry.field(description="Why nothing was created; empty on success.")


@strawberry.input(description="Changes to a group session.")
class UpdateGroupSessionInput:
    id: strawberry.ID = strawberry.field(description="The session to edit.")
    title: str | None = strawberry.field(default=None, description="Fields left out stay as they are.")
    objective: str | None = strawberry.field(default=None, description="New objective.")
    guest_ids: list[strawberry.ID] | None = strawberry.field(
        default=None, description="The new guest list (replaces the old one); newly invited guests are told."
    )
    min_participants: int | None = strawberry.field(default=None, description="New minimum.")
    max_participants: int | None = strawberry.field(
        default=None, description="New maximum; not below the current participant count."
    )
    starts_at: datetime | None = strawberry.field(default=None, description="New start; participants are told.")
    duration_minutes: int | None = strawberry.field(default=None, description="New duration; participants are told.")


@strawberry.type(description="The result of updateGroupSession.")
class UpdateGroupSessionPayload:
    group_session: GroupSession | None = strawberry.field(description="The session as it is now.")
    user_errors: list[UserError] = strawberry.field(description="Why nothing was changed; empty on success.")


@strawberry.input(description="The session to cancel.")
class CancelGroupSessionInput:
    id: strawberry.ID = strawberry.field(description="The session to cancel.")
    reason: str | None = strawberry.field(default=None, description="Told to everyone registered; optional.")


@strawberry.type(description="The result of cancelGroupSession.")
class CancelGroupSessionPayload:
    group_session: GroupSession | None = strawberry.field(description="The cancelled session.")
    user_errors: list[UserError] = strawberry.field(description="Why nothing was changed; empty on success.")


@strawberry.input(description="The session to join.")
class JoinGroupSessionInput:
    id: strawberry.ID = strawberry.field(description="The session to join.")


@strawberry.type(description="The result of joinGroupSession.")
class JoinGroupSessionPayload:
    registration: Registration | None = strawberry.field(description="The viewer's new registration.")
    group_session: GroupSession | None = strawberry.field(description="The session, with its new counts.")
    user_errors: list[UserError] = strawberry.field(description="Why the viewer was not registered; empty on success.")


@strawberry.input(description="The session to leave.")
class LeaveGroupSessionInput:
    id: strawberry.ID = strawberry.field(description="The session to leave.")


@strawberry.type(description="The result of leaveGroupSession.")
class LeaveGroupSessionPayload:
    group_session: GroupSession | None = strawberry.field(description="The session, with its new counts.")
    user_errors: list[UserError] = strawberry.field(description="Why nothing was changed; empty on success.")


@strawberry.input(description="Changes to the viewer's own account.")
class UpdateViewerInput:
    name: str | None = strawberry.field(default=None, description="New display name; left out stays.")
    time_zone: str | None = strawberry.field(
        default=None, description="IANA time zone (e.g. the browser's, Europe/Paris); emails use it."
    )


@strawberry.type(description="The result of updateViewer.")
class UpdateViewerPayload:
    viewer: User | None = strawberry.field(description="The viewer as they are now.")
    user_errors: list[UserError] = strawberry.field(description="Why nothing was changed; empty on success.")


def _user_pks(ids: list[strawberry.ID] | None) -> list[int] | None:
    """Guest IDs as user keys; an ID that names no user raises NOT_FOUND at its index."""
    if ids is None:
        return None
    if len(ids) > 1000:
        raise DomainError.of(ErrorCode.OUT_OF_RANGE, "At most 1,000 guests.", ("input", "guestIds"))
    pks = []
    for index, gid in enumerate(ids):
        pk = pk_of(gid, "User")
        if pk is None:
            raise DomainError.of(ErrorCode.NOT_FOUND, "No such member.", ("input", "guestIds", str(index)))
        pks.append(pk)
    return pks


@strawberry.type(description="Entry points for changing things.")
class Mutation:
    @strawberry.mutation(description="Email and password in, a bearer token out.")
    async def sign_in(self, info: Info, input: SignInInput) -> SignInPayload:
        # Counted before the password is checked, per email and per client address;
        # over the limit, RATE_LIMITED says when to retry and no password work is done.
        limiter = info.context.sign_in_limiter
        email = accounts.normalize_email(input.email)
        refusal = await limiter.attempt(email=email, client=info.context.client_address)
        if refusal is not None:
            return SignInPayload(
                token=None,
                viewer=None,
                user_errors=[UserError(field=None, message=refusal.message, code=ErrorCode.RATE_LIMITED)],
            )
        try:
            user, token = await accounts.sign_in(email=input.email, password=input.password)
        except DomainError as error:
            return SignInPayload(token=None, viewer=None, user_errors=user_errors(error))
        await limiter.succeeded(email=email)
        return SignInPayload(token=token, viewer=User.from_row(user), user_errors=[])

    @strawberry.mutation(description="Change the viewer's name or time zone.")
    async def update_viewer(self, info: Info, input: UpdateViewerInput) -> UpdateViewerPayload:
        viewer = info.context.require_viewer()
        try:
            user = await accounts.update_profile(viewer, name=input.name, time_zone=input.time_zone)
        except DomainError as error:
            return UpdateViewerPayload(viewer=None, user_errors=user_errors(error))
        return UpdateViewerPayload(viewer=User.from_row(user), user_errors=[])

    @strawberry.mutation(
        description="Revokes the bearer token this request is signed in with (other sessions of the user "
        "stay signed in). Requires a signed-in user."
    )
    async def sign_out(self, info: Info) -> SignOutPayload:
        info.context.require_viewer()
        token = info.context.token
        revoked = bool(token) and await accounts.revoke_token(token)
        info.context.viewer = None
        info.context.token = None
        return SignOutPayload(signed_out=revoked, user_errors=[])

    @strawberry.mutation(
        description="Dashboard > Sessions > Create a session. Only mentors of the program may host."
    )
    async def create_group_session(self, info: Info, input: CreateGroupSessionInput) -> CreateGroupSessionPayload:
        viewer = info.context.require_viewer()
        program_id = pk_of(input.program_id, "Program")
        if program_id is None:
            return CreateGroupSessionPayload(
                group_session=None, user_errors=not_found("No such program.", ("input", "programId"))
            )
        try:
            row = await services.create_group_session(
                viewer_id=viewer.id,
                program_id=program_id,
                title=input.title,
                objective=input.objective,
                starts_at=input.starts_at,
                duration_minutes=input.duration_minutes,
                min_participants=input.min_participants,
                max_participants=input.max_participants,
                guest_ids=_user_pks(input.guest_ids) or [],
                viewer=Person.of(viewer),
                viewer_roles=info.context.viewer_roles,
                effects=info.context.effects,
            )
        except DomainError as error:
            return CreateGroupSessionPayload(group_session=None, user_errors=user_errors(error))
        return CreateGroupSessionPayload(group_session=GroupSession.from_row(row), user_errors=[])

    @strawberry.mutation(description="Edit (host only). Participants are told of a changed time.")
    async def update_group_session(self, info: Info, input: UpdateGroupSessionInput) -> UpdateGroupSessionPayload:
        viewer = info.context.require_viewer()
        session_id = pk_of(input.id, "GroupSession")
        if session_id is None:
            return UpdateGroupSessionPayload(group_session=None, user_errors=not_found(_NO_SESSION))
        try:
            row = await services.update_group_session(
                viewer_id=viewer.id,
                session_id=session_id,
                title=input.title,
                objective=input.objective,
                min_participants=input.min_participants,
                max_participants=input.max_participants,
                starts_at=input.starts_at,
                duration_minutes=input.duration_minutes,
                guest_ids=_user_pks(input.guest_ids),
                viewer_roles=info.context.viewer_roles,
                effects=info.context.effects,
            )
        except DomainError as error:
            return UpdateGroupSessionPayload(group_session=None, user_errors=user_errors(error))
        return UpdateGroupSessionPayload(group_session=GroupSession.from_row(row), user_errors=[])

    @strawberry.mutation(description="Cancel (host only). Everyone registered is told.")
    async def cancel_group_session(self, info: Info, input: CancelGroupSessionInput) -> CancelGroupSessionPayload:
        viewer = info.context.require_viewer()
        session_id = pk_of(input.id, "GroupSession")
        if session_id is None:
            return CancelGroupSessionPayload(group_session=None, user_errors=not_found(_NO_SESSION))
        try:
            row = await services.cancel_group_session(
                viewer_id=viewer.id,
                session_id=session_id,
                reason=input.reason,
                viewer_roles=info.context.viewer_roles,
                effects=info.context.effects,
            )
        except DomainError as error:
            return CancelGroupSessionPayload(group_session=None, user_errors=user_errors(error))
        return CancelGroupSessionPayload(group_session=GroupSession.from_row(row), user_errors=[])

    @strawberry.mutation(description="Join: register the viewer. Any member of the session's program may join.")
    async def join_group_session(self, info: Info, input: JoinGroupSessionInput) -> JoinGroupSessionPayload:
        viewer = info.context.require_viewer()
        session_id = pk_of(input.id, "GroupSession")
        if session_id is None:
            return JoinGroupSessionPayload(registration=None, group_session=None, user_errors=not_found(_NO_SESSION))
        try:
            registration, row = await services.join_group_session(
                viewer_id=viewer.id,
                session_id=session_id,
                viewer=Person.of(viewer),
                viewer_roles=info.context.viewer_roles,
                effects=info.context.effects,
            )
        except DomainError as error:
            return JoinGroupSessionPayload(registration=None, group_session=None, user_errors=user_errors(error))
        # The viewer's registration and the session are known: spare viewerIsAttending
        # and registration.session a query each.
        info.context.loaders.viewer_registration_by_session.prime(row.id, registration)
        info.context.loaders.session_by_id.prime(row.id, row)
        return JoinGroupSessionPayload(
            registration=Registration.from_row(registration), group_session=GroupSession.from_row(row), user_errors=[]
        )

    @strawberry.mutation(description="Leave: withdraw the viewer's registration (not the host's).")
    async def leave_group_session(self, info: Info, input: LeaveGroupSessionInput) -> LeaveGroupSessionPayload:
        viewer = info.context.require_viewer()
        session_id = pk_of(input.id, "GroupSession")
        if session_id is None:
            return LeaveGroupSessionPayload(group_session=None, user_errors=not_found(_NO_SESSION))
        try:
            row = await services.leave_group_session(
                viewer_id=viewer.id,
                session_id=session_id,
                viewer=Person.of(viewer),
                viewer_roles=info.context.viewer_roles,
                effects=info.context.effects,
            )
        except DomainError as error:
            return LeaveGroupSessionPayload(group_session=None, user_errors=user_errors(error))
        info.context.loaders.viewer_registration_by_session.prime(row.id, None)
        return LeaveGroupSessionPayload(group_session=GroupSession.from_row(row), user_errors=[])
