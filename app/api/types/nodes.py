"""The graph: users, programs, group sessions, registrations and their connections.

Each type wraps an ORM row (`row`, private to the API) and resolves related data only
through the per-operation loaders in `info.context.loaders`.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from datetime import datetime
from enum import Enum

import strawberry
from strawberry.types import Info

from app.accounts import models as account_models
from app.clock import utcnow
from app.api.errors import BadUserInput
from app.api.loaders import _MISSING, now_or_later
from app.api.relay import check_first, decode_cursor, encode_cursor, from_global_id, to_global_id
from app.api.scalars import parse_datetime, serialize_datetime
from app.api.types.common import (
    GroupSessionStatus,
    Node,
    PageInfo,
    ProgramRole,
    Timeframe,
    UserErrorCode,
)
from app.group_sessions import queries, rules
from app.group_sessions import models as session_models
from app.group_sessions.models import SessionStatus
from app.links import group_session_url


async def _later(awaitable: Awaitable, convert: Callable):
    return convert(await awaitable)


def _session_cursor(row: session_models.GroupSession) -> str:
    return encode_cursor(serialize_datetime(row.starts_at), row.id)


def decode_session_cursor(after: str | None) -> queries.SessionCursor | None:
    if after is None:
        return None
    starts_at, pk = decode_cursor(after, 2)
    try:
        return queries.SessionCursor(parse_datetime(starts_at), int(pk))
    except (ValueError, TypeError):
        raise BadUserInput("Invalid cursor: pass an endCursor from a previous page.") from None


def _user_email(root: User, info: Info) -> str | None:
    viewer = info.context.viewer
    return root.row.email if viewer is not None and viewer.id == root.row.id else None


@strawberry.type(description="A member of one or more programs.")
class User(Node):
    row: strawberry.Private[account_models.User]

    # Plain attributes rather than resolver methods where the value is the row's: graphql-
    # core reads those with getattr, several times cheaper per field than a resolver call.
    name: str = strawberry.field(description="Display name.")

    @classmethod
    def from_row(cls, row: account_models.User) -> User:
        return cls(id=strawberry.ID(to_global_id("User", row.id)), row=row, name=row.name, time_zone=row.time_zone)

    email: str | None = strawberry.field(
        resolver=_user_email, description="Only visible to the user themself; null for everyone else."
    )

    time_zone: str = strawberry.field(description="IANA time zone, e.g. Europe/Paris.")

    @strawberry.field(
        description="The profile page's 'Upcoming group sessions': sessions this user hosts that have not ended "
        "and are not cancelled, soonest first. Only sessions of programs the viewer belongs to are listed."
    )
    async def upcoming_group_sessions(
        self, info: Info, first: int | None = 20, after: str | None = None
    ) -> GroupSessionConnection:
        loaders = info.context.loaders
        size = check_first(first, info.context.settings.max_page_size)
        programs = list((await loaders.viewer_roles()).keys())
        page = await queries.upcoming_hosted_sessions(
            host_id=self.row.id, visible_program_ids=programs, first=size, after=decode_session_cursor(after)
        )
        return GroupSessionConnection.from_page(page, info, after=after)


@strawberry.type(description="A mentoring program: its members may host and join its group sessions.")
class Program(Node):
    row: strawberry.Private[account_models.Program]

    name: str = strawberry.field(description="The program's name.")

    @classmethod
    def from_row(cls, row: account_models.Program) -> Program:
        return cls(id=strawberry.ID(to_global_id("Program", row.id)), row=row, name=row.name)

    @strawberry.field(description="The viewer's role here; null when the viewer is not a member.")
    def viewer_role(self, info: Info) -> ProgramRole | None:
        loaders = info.context.loaders
        role = loaders.known_viewer_role(self.row.id)
        if role is _MISSING:
            return _later(loaders.viewer_role(self.row.id), lambda r: ProgramRole(r.value) if r else None)
        return ProgramRole(role.value) if role else None

    @strawberry.field(description="Sessions of this program anyone in it may join, soonest first.")
    async def group_sessions(
        self,
        info: Info,
        timeframe: Timeframe = Timeframe.FUTURE,
        first: int | None = 20,
        after: str | None = None,
    ) -> GroupSessionConnection:
        size = check_first(first, info.context.settings.max_page_size)
        page = await queries.program_sessions(
            program_id=self.row.id,
            timeframe=queries.Timeframe(timeframe.value),
            first=size,
            after=decode_session_cursor(after),
        )
        return GroupSessionConnection.from_page(page, info, after=after)


# Resolvers answer synchronously when the loaders hold the data already (the usual case:
# list queries fetch program, host and participants along) and return an awaitable
# otherwise; graphql-core accepts both, and plain values cost it far less.


def _session_program(root: GroupSession, info: Info) -> Program:
    return now_or_later(info.context.loaders.program_by_id, root.row.program_id, Program.from_row)


def _session_host(root: GroupSession, info: Info) -> User:
    return now_or_later(info.context.loaders.user_by_id, root.row.host_id, User.from_row)


@strawberry.type(description="A group session (masterclass) hosted by a mentor of a program.")
class GroupSession(Node):
    row: strawberry.Private[session_models.GroupSession]

    @classmethod
    def from_row(cls, row: session_models.GroupSession) -> GroupSession:
        return cls(
            id=strawberry.ID(to_global_id("GroupSession", row.id)),
            row=row,
            title=row.title,
            objective=row.objective,
            starts_at=row.starts_at,
            ends_at=row.ends_at,
            duration_minutes=row.duration_minutes,
            min_participants=row.min_participants,
            max_participants=row.max_participants,
            participant_count=row.participant_count,
            spots_left=row.spots_left,
            is_full=row.participant_count >= row.max_participants,
            status=GroupSessionStatus(row.status.value),
            cancellation_reason=row.cancellation_reason,
        )

    program: Program = strawberry.field(resolver=_session_program, description="The program the session belongs to.")
    host: User = strawberry.field(resolver=_session_host, description="The mentor who hosts the session.")

    title: str = strawberry.field(description="The session's title.")
    objective: str = strawberry.field(description="What participants will learn: the objective of the masterclass.")
    starts_at: datetime = strawberry.field(description="When the session starts.")
    ends_at: datetime = strawberry.field(description="When the session ends (startsAt + durationMinutes).")
    duration_minutes: int = strawberry.field(description="Length of the session in minutes.")
    min_participants: int = strawberry.field(description="The fewest participants the host wants, the host included.")
    max_participants: int = strawberry.field(description="The host counts as one participant.")
    participant_count: int = strawberry.field(description="Registered participants, the host included.")
    spots_left: int = strawberry.field(description="Seats still free: maxParticipants - participantCount.")
    is_full: bool = strawberry.field(description="True when no seat is left.")
    status: GroupSessionStatus = strawberry.field(description="Whether the session will take place.")
    cancellation_reason: str | None = strawberry.field(description="The host's reason, when cancelled with one.")

    @strawberry.field(description="Link to this public page, to share by email or message.")
    def url(self, info: Info) -> str:
        return group_session_url(info.context.settings.public_web_url, self.row.id)

    @strawberry.field(description="People the host invited; visible to the host (empty for everyone else).")
    async def guests(self, info: Info) -> list[User]:
        viewer = info.context.viewer
        if viewer is None or viewer.id != self.row.host_id:
            return []
        return [User.from_row(u) for u in await info.context.loaders.guest_users_by_session.load(self.row.id)]

    @strawberry.field(description="Registered participants, host first, then in order of registration.")
    async def participants(
        self, info: Info, first: int | None = 50, after: str | None = None
    ) -> RegistrationConnection:
        size = check_first(first, info.context.settings.max_page_size)
        after_id = int(decode_cursor(after, 1)[0]) if after is not None else None
        rows = await info.context.loaders.participants_by_session.load((self.row.id, size, after_id))
        edges = [RegistrationEdge(node=Registration.from_row(r), cursor=encode_cursor(r.id)) for r in rows[:size]]
        return RegistrationConnection(
            edges=edges,
            page_info=_page_info(edges, has_next=len(rows) > size, after=after),
            total_count=self.row.participant_count,
        )

    @strawberry.field(description="True when the viewer hosts this session.")
    def viewer_is_host(self, info: Info) -> bool:
        viewer = info.context.viewer
        return viewer is not None and viewer.id == self.row.host_id

    @strawberry.field(description="True when the viewer is registered ('You are attending!' for the host).")
    def viewer_is_attending(self, info: Info) -> bool:
        loaders = info.context.loaders
        known = loaders.known_viewer_attends(self.row)
        return loaders.viewer_attends(self.row) if known is _MISSING else known

    @strawberry.field(description="True when the viewer may join now (see viewerCannotJoinReasons).")
    def viewer_can_join(self, info: Info) -> bool:
        reasons = self._cannot_join_reasons(info)
        return _later(reasons, lambda r: not r) if inspect.isawaitable(reasons) else not reasons

    @strawberry.field(
        description="Why the viewer can't join right now; empty exactly when viewerCanJoin. "
        "A client shows these instead of guessing."
    )
    def viewer_cannot_join_reasons(self, info: Info) -> list[UserErrorCode]:
        return self._cannot_join_reasons(info)

    @strawberry.field(description="True when the viewer may edit or cancel: the host, before the end, if not cancelled.")
    def viewer_can_edit(self, info: Info) -> bool:
        viewer = info.context.viewer
        return (
            viewer is not None
            and viewer.id == self.row.host_id
            and self.row.status == SessionStatus.SCHEDULED
            and self.row.ends_at > utcnow()
        )

    def _cannot_join_reasons(self, info: Info):
        """The reasons, at once when everything is known, else an awaitable of them."""
        loaders = info.context.loaders
        if info.context.viewer is None:
            return [UserErrorCode.NOT_A_MEMBER]
        role = loaders.known_viewer_role(self.row.program_id)
        attends = loaders.known_viewer_attends(self.row)
        if role is _MISSING or attends is _MISSING:
            return self._cannot_join_reasons_later(info)
        return self._reasons(is_member=role is not None, is_registered=attends)

    async def _cannot_join_reasons_later(self, info: Info) -> list:
        loaders = info.context.loaders
        is_member = await loaders.can_see_program(self.row.program_id)
        is_registered = await loaders.viewer_attends(self.row)
        return self._reasons(is_member=is_member, is_registered=is_registered)

    def _reasons(self, *, is_member: bool, is_registered: bool) -> list:
        return rules.cannot_join_reasons(
            is_member=is_member,
            is_registered=is_registered,
            is_cancelled=self.row.status == SessionStatus.CANCELLED,
            starts_at=self.row.starts_at,
            participant_count=self.row.participant_count,
            max_participants=self.row.max_participants,
            now=utcnow(),
        )


def _registration_session(root: Registration, info: Info) -> GroupSession:
    return now_or_later(info.context.loaders.session_by_id, root.row.session_id, GroupSession.from_row)


def _registration_participant(root: Registration, info: Info) -> User:
    return now_or_later(info.context.loaders.user_by_id, root.row.user_id, User.from_row)


@strawberry.type(description="One person's registration for a group session.")
class Registration(Node):
    row: strawberry.Private[session_models.Registration]

    @classmethod
    def from_row(cls, row: session_models.Registration) -> Registration:
        return cls(
            id=strawberry.ID(to_global_id("Registration", row.id)),
            row=row,
            is_host=row.is_host,
            registered_at=row.registered_at,
        )

    session: GroupSession = strawberry.field(resolver=_registration_session, description="The session registered for.")
    participant: User = strawberry.field(resolver=_registration_participant, description="The registered person.")

    is_host: bool = strawberry.field(
        description="True for the host's own registration, made when the session was created."
    )
    registered_at: datetime = strawberry.field(description="When the registration was made.")


def _page_info(edges: list, *, has_next: bool, after: str | None) -> PageInfo:
    return PageInfo(
        has_next_page=has_next,
        has_previous_page=after is not None,
        start_cursor=edges[0].cursor if edges else None,
        end_cursor=edges[-1].cursor if edges else None,
    )


@strawberry.type(description="A group session in a list, with its cursor.")
class GroupSessionEdge:
    node: GroupSession = strawberry.field(description="The session.")
    cursor: str = strawberry.field(description="Pass as `after` to get the sessions after this one.")


@strawberry.type(description="A page of group sessions.")
class GroupSessionConnection:
    edges: list[GroupSessionEdge] = strawberry.field(description="The sessions of this page, in list order.")
    page_info: PageInfo = strawberry.field(description="Where this page stands.")
    page: strawberry.Private[queries.Page]

    @strawberry.field(description="How many sessions the whole list holds, across all pages.")
    async def total_count(self) -> int:
        return await self.page.query.count() if self.page.query is not None else len(self.edges)

    @classmethod
    def from_page(
        cls, page: queries.Page, info: Info, *, after: str | None, viewer_attends: bool | None = None
    ) -> GroupSessionConnection:
        """`viewer_attends`: what the list query already says about the viewer's registration
        on every row (the dashboard lists only sessions the viewer is registered for)."""
        info.context.loaders.prime_sessions(page.rows, viewer_attends=viewer_attends)
        edges = [GroupSessionEdge(node=GroupSession.from_row(r), cursor=_session_cursor(r)) for r in page.rows]
        return cls(edges=edges, page_info=_page_info(edges, has_next=page.has_next, after=after), page=page)


@strawberry.type(description="A registration in a list, with its cursor.")
class RegistrationEdge:
    node: Registration = strawberry.field(description="The registration.")
    cursor: str = strawberry.field(description="Pass as `after` to get the registrations after this one.")


@strawberry.type(description="A page of registrations.")
class RegistrationConnection:
    edges: list[RegistrationEdge] = strawberry.field(description="The registrations of this page, in order.")
    page_info: PageInfo = strawberry.field(description="Where this page stands.")
    total_count: int = strawberry.field(description="How many registrations there are in all.")


@strawberry.enum(description="What happened to a registration.")
class RegistrationEventKind(Enum):
    JOINED = strawberry.enum_value("JOINED", description="Someone registered.")
    LEFT = strawberry.enum_value("LEFT", description="Someone withdrew.")


@strawberry.type(description="A registration change on a session the viewer hosts.")
class RegistrationEvent:
    kind: RegistrationEventKind = strawberry.field(description="Joined or left.")
    registration: Registration = strawberry.field(
        description="The registration (for LEFT, as it was before it was withdrawn)."
    )
    session: GroupSession = strawberry.field(
        description="The session, with participantCount and spotsLeft as they are after the change."
    )
    occurred_at: datetime = strawberry.field(description="When the change was committed.")


async def visible_node(info: Info, global_id: str):
    """The Node for a global ID if the viewer may see it; None otherwise (also for an ID
    that does not exist, so outsiders learn nothing)."""
    parsed = from_global_id(global_id)
    if parsed is None:
        return None
    type_name, pk = parsed
    loaders = info.context.loaders
    if type_name == "GroupSession":
        return await visible_session(info, pk)
    if type_name == "Program":
        if not await loaders.can_see_program(pk):
            return None
        row = await loaders.program_by_id.load(pk)
        return Program.from_row(row) if row else None
    if type_name == "User":
        return await visible_user(info, pk)
    if type_name == "Registration":
        row = await loaders.registration_by_id.load(pk)
        if row is None or await visible_session(info, row.session_id) is None:
            return None
        return Registration.from_row(row)
    return None


async def visible_session(info: Info, pk: int) -> GroupSession | None:
    row = await info.context.loaders.session_by_id.load(pk)
    if row is None or not await info.context.loaders.can_see_program(row.program_id):
        return None
    return GroupSession.from_row(row)


async def visible_user(info: Info, pk: int) -> User | None:
    row = await info.context.loaders.visible_user(pk)
    return User.from_row(row) if row else None


__all__ = [
    "GroupSession",
    "GroupSessionConnection",
    "Program",
    "Registration",
    "RegistrationConnection",
    "RegistrationEvent",
    "RegistrationEventKind",
    "User",
    "visible_node",
    "visible_session",
    "visible_user",
]
