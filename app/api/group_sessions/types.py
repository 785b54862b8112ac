"""Group sessions, registrations, their connections, the dashboard and the live
registration event.

Each node type wraps an ORM row (`row`, private to the API) and resolves related data
only through the per-operation loaders in `info.context.loaders`.
"""

from __future__ import annotations

import inspect
from datetime import datetime

import strawberry
from strawberry.types import Info

from app.api import visibility
from app.api.accounts.types import Program, User
from app.api.enums import (
    GroupSessionStatus,
    RegistrationEventKind,
    RegistrationStatus,
    SessionRole,
    Timeframe,
    UserErrorCode,
)
from app.api.loaders import MISSING, converted, now_or_later
from app.api.mutation import require_viewer
from app.api.pagination import (
    Node,
    PageInfo,
    check_first,
    decode_registration_cursor,
    decode_session_cursor,
    page_info,
    registration_cursor,
    session_cursor,
    to_global_id,
)
from app.clock import utcnow
from app.group_sessions import models, read_model, repository, rules
from app.group_sessions.models import SessionStatus
from app.links import group_session_url


# Resolvers answer at once when the loaders hold what they need, else with an awaitable
# (see app.api.loaders).


def _session_program(root: GroupSession, info: Info) -> Program:
    return now_or_later(info.context.loaders.program_by_id, root.row.program_id, Program.from_row)


def _session_host(root: GroupSession, info: Info) -> User:
    return now_or_later(info.context.loaders.user_by_id, root.row.host_id, User.from_row)


@strawberry.type(description="A group session (masterclass) hosted by a mentor of a program.")
class GroupSession(Node):
    row: strawberry.Private[models.GroupSession]

    @classmethod
    def from_row(cls, row: models.GroupSession) -> GroupSession:
        spots_left = row.spots_left
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
            spots_left=spots_left,
            is_full=spots_left == 0,
            status=row.status,
            cancellation_reason=row.cancellation_reason,
            waitlist_count=row.waitlist_count,
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
    waitlist_count: int = strawberry.field(
        description="Members on the waitlist, waiting for a seat (not counted in participantCount)."
    )

    @strawberry.field(description="Link to this public page, to share by email or message.")
    def url(self, info: Info) -> str:
        return group_session_url(info.context.settings.public_web_url, self.row.id)

    @strawberry.field(description="People the host invited; visible to the host (empty for everyone else).")
    async def guests(self, info: Info) -> list[User]:
        if not visibility.can_see_guests(info.context.viewer, self.row):
            return []
        return [User.from_row(u) for u in await info.context.loaders.guest_users_by_session.load(self.row.id)]

    @strawberry.field(description="Registered participants, host first, then in order of registration.")
    async def participants(
        self, info: Info, first: int | None = 50, after: str | None = None
    ) -> RegistrationConnection:
        size = check_first(first, info.context.settings.max_page_size)
        after_id = decode_registration_cursor(after)
        rows = await info.context.loaders.participants_by_session.load((self.row.id, size, after_id))
        edges = [RegistrationEdge(node=Registration.from_row(r), cursor=registration_cursor(r.id)) for r in rows[:size]]
        return RegistrationConnection(
            edges=edges,
            page_info=page_info(edges, has_next=len(rows) > size, after=after),
            total_count=self.row.participant_count,
        )

    @strawberry.field(
        description="The waitlist, first in line first, each with its waitlistPosition; visible to the host "
        "(empty for everyone else)."
    )
    async def waitlist(self, info: Info, first: int | None = 50, after: str | None = None) -> RegistrationConnection:
        size = check_first(first, info.context.settings.max_page_size)
        viewer = info.context.viewer
        if viewer is None or viewer.id != self.row.host_id:
            return RegistrationConnection(edges=[], page_info=page_info([], has_next=False, after=after), total_count=0)
        after_id = decode_registration_cursor(after)
        rows, position = await read_model.waitlist_page(self.row.id, first=size, after_id=after_id)
        edges = []
        for offset, row in enumerate(rows[:size]):
            info.context.loaders.user_by_id.prime(row.user_id, row.user)
            edges.append(
                RegistrationEdge(node=Registration.from_row(row, position=position + offset), cursor=registration_cursor(row.id))
            )
        return RegistrationConnection(
            edges=edges,
            page_info=page_info(edges, has_next=len(rows) > size, after=after),
            total_count=self.row.waitlist_count,
        )

    @strawberry.field(
        description="The viewer's own registration for this session: CONFIRMED, or WAITLISTED with its place in "
        "line; null when they have none."
    )
    async def viewer_registration(self, info: Info) -> Registration | None:
        loaders = info.context.loaders
        if info.context.viewer is None or loaders.known_viewer_status(self.row) is None:
            return None
        row = await loaders.viewer_registration_by_session.load(self.row.id)
        return Registration.from_row(row) if row is not None else None

    @strawberry.field(description="True when the viewer hosts this session.")
    def viewer_is_host(self, info: Info) -> bool:
        viewer = info.context.viewer
        return viewer is not None and viewer.id == self.row.host_id

    @strawberry.field(
        description="True when the viewer is registered ('You are attending!' for the host); false while they are "
        "only on the waitlist (see viewerRegistration)."
    )
    def viewer_is_attending(self, info: Info) -> bool:
        loaders = info.context.loaders
        known = loaders.known_viewer_attends(self.row)
        return loaders.viewer_attends(self.row) if known is MISSING else known

    @strawberry.field(description="True when the viewer may join now (see viewerCannotJoinReasons).")
    def viewer_can_join(self, info: Info) -> bool:
        reasons = self._cannot_join_reasons(info)
        return converted(reasons, lambda r: not r) if inspect.isawaitable(reasons) else not reasons

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
        is_member = visibility.is_member_now(loaders, self.row.program_id)
        status = loaders.known_viewer_status(self.row)
        if is_member is MISSING or status is MISSING:
            return self._cannot_join_reasons_later(info)
        # On the waitlist counts as registered: joining again is ALREADY_REGISTERED.
        return self._reasons(is_member=is_member, is_registered=status is not None)

    async def _cannot_join_reasons_later(self, info: Info) -> list:
        loaders = info.context.loaders
        is_member = await visibility.is_member(loaders, self.row.program_id)
        is_registered = await loaders.viewer_status(self.row) is not None
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
    row: strawberry.Private[models.Registration]
    # The place in line when the caller knows it already (a page of the waitlist).
    known_position: strawberry.Private[int | None] = None

    @classmethod
    def from_row(cls, row: models.Registration, *, position: int | None = None) -> Registration:
        return cls(
            id=strawberry.ID(to_global_id("Registration", row.id)),
            row=row,
            is_host=row.is_host,
            registered_at=row.registered_at,
            status=models.RegistrationStatus(row.status),
            known_position=position,
        )

    session: GroupSession = strawberry.field(resolver=_registration_session, description="The session registered for.")
    participant: User = strawberry.field(resolver=_registration_participant, description="The registered person.")

    is_host: bool = strawberry.field(
        description="True for the host's own registration, made when the session was created."
    )
    registered_at: datetime = strawberry.field(description="When the registration was made.")
    status: RegistrationStatus = strawberry.field(
        description="CONFIRMED (holds a seat) or WAITLISTED (waits for one)."
    )

    @strawberry.field(
        description="The place in line on the waitlist, from 1 (next to get a seat); null when CONFIRMED."
    )
    async def waitlist_position(self) -> int | None:
        if self.status != models.RegistrationStatus.WAITLISTED:
            return None
        if self.known_position is not None:
            return self.known_position
        return (await repository.waitlist_positions([self.row])).get(self.row.id)


# --- connections -----------------------------------------------------------------------------


@strawberry.type(description="A group session in a list, with its cursor.")
class GroupSessionEdge:
    node: GroupSession = strawberry.field(description="The session.")
    cursor: str = strawberry.field(description="Pass as `after` to get the sessions after this one.")


@strawberry.type(description="A page of group sessions.")
class GroupSessionConnection:
    edges: list[GroupSessionEdge] = strawberry.field(description="The sessions of this page, in list order.")
    page_info: PageInfo = strawberry.field(description="Where this page stands.")
    page: strawberry.Private[read_model.Page]

    @strawberry.field(description="How many sessions the whole list holds, across all pages.")
    async def total_count(self) -> int:
        return await self.page.query.count() if self.page.query is not None else len(self.edges)

    @classmethod
    def from_page(
        cls, page: read_model.Page, info: Info, *, after: str | None, viewer_attends: bool | None = None
    ) -> GroupSessionConnection:
        """`viewer_attends`: what the list query already says about the viewer's registration
        on every row (the dashboard lists only sessions the viewer is registered for)."""
        info.context.loaders.prime_sessions(page.rows, viewer_attends=viewer_attends)
        edges = [GroupSessionEdge(node=GroupSession.from_row(r), cursor=session_cursor(r)) for r in page.rows]
        return cls(edges=edges, page_info=page_info(edges, has_next=page.has_next, after=after), page=page)


@strawberry.type(description="A registration in a list, with its cursor.")
class RegistrationEdge:
    node: Registration = strawberry.field(description="The registration.")
    cursor: str = strawberry.field(description="Pass as `after` to get the registrations after this one.")


@strawberry.type(description="A page of registrations.")
class RegistrationConnection:
    edges: list[RegistrationEdge] = strawberry.field(description="The registrations of this page, in order.")
    page_info: PageInfo = strawberry.field(description="Where this page stands.")
    total_count: int = strawberry.field(description="How many registrations there are in all.")


# --- the dashboard and live events -----------------------------------------------------------


@strawberry.type(description="The viewer's personal dashboard.")
class Dashboard:
    @strawberry.field(
        description="Dashboard > Sessions: what the viewer hosts or attends. "
        "Cancelled sessions are left out unless includeCancelled."
    )
    async def sessions(
        self,
        info: Info,
        timeframe: Timeframe = Timeframe.FUTURE,
        role: SessionRole | None = None,
        include_cancelled: bool | None = False,
        first: int | None = 20,
        after: str | None = None,
    ) -> GroupSessionConnection:
        viewer = require_viewer(info)
        size = check_first(first, info.context.settings.max_page_size)
        page = await read_model.dashboard_sessions(
            viewer_id=viewer.id,
            timeframe=timeframe,
            role=role,
            include_cancelled=bool(include_cancelled),
            first=size,
            after=decode_session_cursor(after),
        )
        return GroupSessionConnection.from_page(page, info, after=after, viewer_attends=True)


@strawberry.type(description="A registration change on a session the viewer hosts.")
class RegistrationEvent:
    kind: RegistrationEventKind = strawberry.field(
        description="Joined, left, joined the waitlist, or promoted from it."
    )
    registration: Registration = strawberry.field(
        description="The registration (for LEFT, as it was before it was withdrawn)."
    )
    session: GroupSession = strawberry.field(
        description="The session, with participantCount and spotsLeft as they are after the change."
    )
    occurred_at: datetime = strawberry.field(description="When the change was committed.")
