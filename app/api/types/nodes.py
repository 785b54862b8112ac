"""The graph: users, programs, group sessions, registrations and their connections.

Each type wraps an ORM row (`row`, private to the API) and resolves related data only
through the per-operation loaders in `info.context.loaders`.
"""

from __future__ import annotations

from datetime import datetime
from enum import Enum

import strawberry
from strawberry.types import Info

from app.accounts import models as account_models
from app.accounts.services import utcnow
from app.api.errors import BadUserInput
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


@strawberry.type(description="A member of one or more programs.")
class User(Node):
    row: strawberry.Private[account_models.User]

    @classmethod
    def from_row(cls, row: account_models.User) -> User:
        return cls(id=strawberry.ID(to_global_id("User", row.id)), row=row)

    @strawberry.field(description="Display name.")
    def name(self) -> str:
        return self.row.name

    @strawberry.field(description="Only visible to the user themself; null for everyone else.")
    def email(self, info: Info) -> str | None:
        viewer = info.context.viewer
        return self.row.email if viewer is not None and viewer.id == self.row.id else None

    @strawberry.field(description="IANA time zone, e.g. Europe/Paris.")
    def time_zone(self) -> str:
        return self.row.time_zone

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

    @classmethod
    def from_row(cls, row: account_models.Program) -> Program:
        return cls(id=strawberry.ID(to_global_id("Program", row.id)), row=row)

    @strawberry.field(description="The program's name.")
    def name(self) -> str:
        return self.row.name

    @strawberry.field(description="The viewer's role here; null when the viewer is not a member.")
    async def viewer_role(self, info: Info) -> ProgramRole | None:
        role = await info.context.loaders.viewer_role(self.row.id)
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


@strawberry.type(description="A group session (masterclass) hosted by a mentor of a program.")
class GroupSession(Node):
    row: strawberry.Private[session_models.GroupSession]

    @classmethod
    def from_row(cls, row: session_models.GroupSession) -> GroupSession:
        return cls(id=strawberry.ID(to_global_id("GroupSession", row.id)), row=row)

    @strawberry.field(description="The program the session belongs to.")
    async def program(self, info: Info) -> Program:
        return Program.from_row(await info.context.loaders.program_by_id.load(self.row.program_id))

    @strawberry.field(description="The mentor who hosts the session.")
    async def host(self, info: Info) -> User:
        return User.from_row(await info.context.loaders.user_by_id.load(self.row.host_id))

    @strawberry.field(description="The session's title.")
    def title(self) -> str:
        return self.row.title

    @strawberry.field(description="What participants will learn: the objective of the masterclass.")
    def objective(self) -> str:
        return self.row.objective

    @strawberry.field(description="When the session starts.")
    def starts_at(self) -> datetime:
        return self.row.starts_at

    @strawberry.field(description="When the session ends (startsAt + durationMinutes).")
    def ends_at(self) -> datetime:
        return self.row.ends_at

    @strawberry.field(description="Length of the session in minutes.")
    def duration_minutes(self) -> int:
        return self.row.duration_minutes

    @strawberry.field(description="The fewest participants the host wants, the host included.")
    def min_participants(self) -> int:
        return self.row.min_participants

    @strawberry.field(description="The host counts as one participant.")
    def max_participants(self) -> int:
        return self.row.max_participants

    @strawberry.field(description="Registered participants, the host included.")
    def participant_count(self) -> int:
        return self.row.participant_count

    @strawberry.field(description="Seats still free: maxParticipants - participantCount.")
    def spots_left(self) -> int:
        return self.row.spots_left

    @strawberry.field(description="True when no seat is left.")
    def is_full(self) -> bool:
        return self.row.participant_count >= self.row.max_participants

    @strawberry.field(description="Whether the session will take place.")
    def status(self) -> GroupSessionStatus:
        return GroupSessionStatus(self.row.status.value)

    @strawberry.field(description="The host's reason, when cancelled with one.")
    def cancellation_reason(self) -> str | None:
        return self.row.cancellation_reason

    @strawberry.field(description="Link to this public page, to share by email or message.")
    def url(self, info: Info) -> str:
        return f"{info.context.settings.public_web_url}/group-sessions/{self.id}"

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
    async def viewer_is_attending(self, info: Info) -> bool:
        return await info.context.loaders.viewer_attends(self.row)

    @strawberry.field(description="True when the viewer may join now (see viewerCannotJoinReasons).")
    async def viewer_can_join(self, info: Info) -> bool:
        return not await self._cannot_join_reasons(info)

    @strawberry.field(
        description="Why the viewer can't join right now; empty exactly when viewerCanJoin. "
        "A client shows these instead of guessing."
    )
    async def viewer_cannot_join_reasons(self, info: Info) -> list[UserErrorCode]:
        return await self._cannot_join_reasons(info)

    @strawberry.field(description="True when the viewer may edit or cancel: the host, before the end, if not cancelled.")
    def viewer_can_edit(self, info: Info) -> bool:
        viewer = info.context.viewer
        return (
            viewer is not None
            and viewer.id == self.row.host_id
            and self.row.status == SessionStatus.SCHEDULED
            and self.row.ends_at > utcnow()
        )

    async def _cannot_join_reasons(self, info: Info) -> list:
        loaders = info.context.loaders
        if info.context.viewer is None:
            return [UserErrorCode.NOT_A_MEMBER]
        is_member = await loaders.can_see_program(self.row.program_id)
        is_registered = await loaders.viewer_attends(self.row)
        return rules.cannot_join_reasons(
            is_member=is_member,
            is_registered=is_registered,
            is_cancelled=self.row.status == SessionStatus.CANCELLED,
            starts_at=self.row.starts_at,
            participant_count=self.row.participant_count,
            max_participants=self.row.max_participants,
            now=utcnow(),
        )


@strawberry.type(description="One person's registration for a group session.")
class Registration(Node):
    row: strawberry.Private[session_models.Registration]

    @classmethod
    def from_row(cls, row: session_models.Registration) -> Registration:
        return cls(id=strawberry.ID(to_global_id("Registration", row.id)), row=row)

    @strawberry.field(description="The session registered for.")
    async def session(self, info: Info) -> GroupSession:
        return GroupSession.from_row(await info.context.loaders.session_by_id.load(self.row.session_id))

    @strawberry.field(description="The registered person.")
    async def participant(self, info: Info) -> User:
        return User.from_row(await info.context.loaders.user_by_id.load(self.row.user_id))

    @strawberry.field(description="True for the host's own registration, made when the session was created.")
    def is_host(self) -> bool:
        return self.row.is_host

    @strawberry.field(description="When the registration was made.")
    def registered_at(self) -> datetime:
        return self.row.registered_at


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
