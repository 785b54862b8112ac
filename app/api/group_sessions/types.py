"""Group sessions, registrations, their connections, the dashboard and the live
registration event.

Each node type wraps an ORM row (`row`, private to the API) and resolves related data
only through the per-operation loaders in `info.context.loaders`.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import strawberry
from strawberry.types import Info

from app.accounts import models as accounts_models
from app.api import visibility
from app.api.accounts.types import Program, User
from app.api.enums import (
    GroupSessionStatus,
    InvitationStatus,
    RegistrationEventKind,
    RegistrationStatus,
    SessionPhase,
    SessionRole,
    Timeframe,
    UserErrorCode,
)
from app.api.loaders import MISSING, EventReads, converted, now_or_later
from app.api.mutation import require_viewer
from app.api.scalars import LocalDateTimeValue
from app.api.pagination import (
    After,
    Before,
    First,
    GlobalIdOf,
    Last,
    Node,
    OnFirstRead,
    PageInfo,
    RowIdCursorOf,
    check_first,
    connection_window,
    decode_registration_cursor,
    decode_session_cursor,
    page_info,
    registration_cursor,
    session_cursor,
)
from app.group_sessions import models, read_model, repository, rooms, rules
from app.group_sessions.models import SessionStatus
from app.keyset import Slice, fetch_page
from app.links import group_session_url


_new = object.__new__  # an instance without its dataclass __init__ (see the from_row methods)

# Resolvers answer at once when the loaders hold what they need, else with an awaitable
# (see app.api.loaders).


def _session_program(root: GroupSession, info: Info) -> Program:
    return now_or_later(info.context.loaders.program_by_id, root.row.program_id, Program.from_row)


def _session_host(root: GroupSession, info: Info) -> User:
    return now_or_later(info.context.loaders.user_by_id, root.row.host_id, User.from_row)


def _invitation_guest(root: GuestInvitation, info: Info) -> User:
    return now_or_later(info.context.loaders.user_by_id, root.row.user_id, User.from_row)


@strawberry.type(description="An invited guest and their answer.")
class GuestInvitation:
    row: strawberry.Private[models.Guest]

    @classmethod
    def from_row(cls, row: models.Guest) -> GuestInvitation:
        return cls(row=row, status=row.status, responded_at=row.responded_at)

    guest: User = strawberry.field(resolver=_invitation_guest, description="The invited member.")
    status: InvitationStatus = strawberry.field(
        description="Their answer: PENDING until they accept or decline. Joining counts as accepting, "
        "leaving as declining."
    )
    responded_at: datetime | None = strawberry.field(description="When they last answered; null while pending.")


@strawberry.type(description="Where a session takes place, for those who may enter it now.")
class MeetingRoom:
    url: str = strawberry.field(description="The video meeting link to open.")
    instructions: str | None = strawberry.field(description="The host's instructions for entering, if any.")
    opens_at: datetime = strawberry.field(description="When the room opens (the session's joinOpensAt).")
    closes_at: datetime = strawberry.field(description="When the room closes: the end of the session.")


@strawberry.type(description="A group session (masterclass) hosted by a mentor of a program.")
class GroupSession(Node):
    row: strawberry.Private[models.GroupSession]

    @classmethod
    def from_row(cls, row: models.GroupSession) -> GroupSession:
        # Built without the dataclass __init__, as Registration.from_row; `id` is the
        # class's GlobalIdOf, computed when read.
        spots_left = row.spots_left
        self = _new(cls)
        self.row = row
        self.title = row.title
        self.objective = row.objective
        self.starts_at = row.starts_at
        self.ends_at = row.ends_at
        self.duration_minutes = row.duration_minutes
        self.min_participants = row.min_participants
        self.max_participants = row.max_participants
        self.participant_count = row.participant_count
        self.spots_left = spots_left
        self.is_full = spots_left == 0
        self.status = row.status
        self.cancellation_reason = row.cancellation_reason
        self.waitlist_count = row.waitlist_count
        return self

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
    cancellation_reason: str | None = strawberry.field(
        description="The host's reason, when cancelled with one; for a session cancelled because it did not reach "
        "its minimum, a sentence saying so."
    )

    @strawberry.field(description="True when participantCount (the host included) is at least minParticipants.")
    def minimum_reached(self) -> bool:
        return self.row.minimum_reached

    @strawberry.field(
        description="When an unmet minimum is decided: the start minus the operator's lead (24 hours by default), "
        "or the start itself for a session created (or moved) later than that. At this moment a session still "
        "short of minParticipants is cancelled, or only its host told (see cancelIfMinimumNotReached)."
    )
    def minimum_deadline(self, info: Info) -> datetime:
        row = self.row
        if row.minimum_deadline is not None:
            return row.minimum_deadline
        # Sessions older than the feature carry no deadline (and have no decision): the rule, from creation.
        return rules.minimum_deadline(row.starts_at, row.created_at, info.context.settings.minimum_decision_lead)

    @strawberry.field(
        description="True when a session still short of its minimum at minimumDeadline is cancelled (everyone "
        "registered is told); false when it is kept and only the host told."
    )
    def cancel_if_minimum_not_reached(self) -> bool:
        return self.row.cancel_if_minimum_not_reached

    @strawberry.field(description="The session's IANA time zone (Europe/Paris): the host's, unless they chose another.")
    def time_zone(self) -> str:
        return self.row.time_zone

    @strawberry.field(
        description="The start as a wall clock shows it in timeZone (2027-03-29T17:00), for the edit form; "
        "send it back as startsAtLocal."
    )
    def starts_at_local(self) -> LocalDateTimeValue:
        try:
            zone = ZoneInfo(self.row.time_zone)
        except (ZoneInfoNotFoundError, ValueError):  # every zone stored was checked; stay readable anyway
            zone = ZoneInfo("UTC")
        return self.row.starts_at.astimezone(zone).replace(tzinfo=None)
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

    @strawberry.field(description="True when the viewer is on the guest list (whatever their answer).")
    async def viewer_is_invited(self, info: Info) -> bool:
        return await info.context.loaders.viewer_guest_by_session.load(self.row.id) is not None

    @strawberry.field(
        description="The viewer's own invitation and answer (answer it with respondToInvitation); "
        "null when the viewer is not invited."
    )
    async def viewer_invitation(self, info: Info) -> GuestInvitation | None:
        row = await info.context.loaders.viewer_guest_by_session.load(self.row.id)
        return GuestInvitation.from_row(row) if row is not None else None

    @strawberry.field(
        description="Every guest with their answer, in the order invited; visible to the host "
        "(empty for everyone else)."
    )
    async def invitations(self, info: Info) -> list[GuestInvitation]:
        if not visibility.can_see_guests(info.context.viewer, self.row):
            return []
        return [GuestInvitation.from_row(g) for g in await info.context.loaders.guests_by_session.load(self.row.id)]

    @strawberry.field(description="Registered participants, host first, then in order of registration.")
    async def participants(
        self, info: Info, first: First = 50, after: After = None, last: Last = None, before: Before = None
    ) -> RegistrationConnection:
        window = connection_window(
            info, first=first, after=after, last=last, before=before, decode=decode_registration_cursor
        )
        loaders, session_id = info.context.loaders, self.row.id

        async def fetch(forward: bool, limit: int) -> list:
            return await loaders.participants_by_session.load((session_id, window))

        async def exists(later: bool, registration_id: int) -> bool:
            return await read_model.registration_beyond(session_id, registration_id, later=later)

        page = await fetch_page(window, fetch, exists)
        edges = RegistrationEdge.all_of(page.rows)
        return RegistrationConnection(
            edges=edges,
            nodes=[edge.node for edge in edges],
            page_info=page_info(edges, page),
            total_count=self.row.participant_count,
        )

    @strawberry.field(
        description="The waitlist, first in line first, each with its waitlistPosition; visible to the host "
        "(empty for everyone else)."
    )
    async def waitlist(self, info: Info, first: int | None = 50, after: str | None = None) -> RegistrationConnection:
        # Forward only (the line is read from its head); hasPreviousPage is exact: someone is
        # ahead of the page.
        size = check_first(first, info.context.settings.max_page_size)
        viewer = info.context.viewer
        if viewer is None or viewer.id != self.row.host_id:
            return RegistrationConnection(edges=[], nodes=[], page_info=page_info([], Slice([], False, False)), total_count=0)
        after_id = decode_registration_cursor(after)
        rows, position = await read_model.waitlist_page(self.row.id, first=size, after_id=after_id)
        edges = []
        for offset, row in enumerate(rows[:size]):
            info.context.loaders.user_by_id.prime(row.user_id, row.user)
            edges.append(RegistrationEdge.of(row, position=position + offset))
        page = Slice([edge.node.row for edge in edges], has_next=len(rows) > size, has_previous=position > 1)
        return RegistrationConnection(
            edges=edges,
            nodes=[edge.node for edge in edges],
            page_info=page_info(edges, page),
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

    @strawberry.field(
        description="Where the session stands now, by the server's clock: UPCOMING, LIVE, ENDED or CANCELLED."
    )
    def phase(self, info: Info) -> SessionPhase:
        return self._phase(info)

    @strawberry.field(
        description="True when the viewer may edit the session (updateGroupSession without moving the start): "
        "the host, until the end, if not cancelled."
    )
    def viewer_can_edit(self, info: Info) -> bool:
        return rules.cannot_edit_reason(is_host=self._viewer_is_host(info), phase=self._phase(info)) is None

    @strawberry.field(
        description="True when the viewer may cancel the session (cancelGroupSession): the host, until the end, "
        "if not cancelled already."
    )
    def viewer_can_cancel(self, info: Info) -> bool:
        return rules.cannot_cancel_reason(is_host=self._viewer_is_host(info), phase=self._phase(info)) is None

    @strawberry.field(
        description="True when the viewer may move the start (updateGroupSession with a new startsAt): the host, "
        "until the session starts, if not cancelled."
    )
    def viewer_can_reschedule(self, info: Info) -> bool:
        return rules.cannot_reschedule_reason(is_host=self._viewer_is_host(info), phase=self._phase(info)) is None

    @strawberry.field(
        description="True when the viewer may withdraw (leaveGroupSession): registered, not the host, until the "
        "start, if not cancelled."
    )
    def viewer_can_leave(self, info: Info) -> bool:
        phase, is_host = self._phase(info), self._viewer_is_host(info)
        if is_host or phase != rules.SessionPhase.UPCOMING:  # refused whatever the registration
            return False
        loaders = info.context.loaders
        attends = loaders.known_viewer_attends(self.row)
        if attends is MISSING:
            return converted(loaders.viewer_attends(self.row), lambda a: self._can_leave(a, is_host, phase))
        return self._can_leave(attends, is_host, phase)

    @staticmethod
    def _can_leave(is_registered: bool, is_host: bool, phase: rules.SessionPhase) -> bool:
        return rules.cannot_leave_reason(is_registered=is_registered, is_host=is_host, phase=phase) is None

    def _phase(self, info: Info) -> rules.SessionPhase:
        return rules.session_phase(
            is_cancelled=self.row.status == SessionStatus.CANCELLED,
            starts_at=self.row.starts_at,
            ends_at=self.row.ends_at,
            now=info.context.clock(),
        )

    @strawberry.field(description="When the room opens to the host and confirmed participants: the start minus the join window.")
    def join_opens_at(self, info: Info) -> datetime:
        return rooms.join_opens_at(self.row.starts_at, info.context.settings.join_window)

    @strawberry.field(description="True when the host gave a meeting link of their own (else the room is generated).")
    def has_custom_meeting_url(self) -> bool:
        return bool(self.row.meeting_url)

    @strawberry.field(
        description="True when the viewer may enter the room now: the host or a confirmed participant, "
        "from joinOpensAt until the end, unless cancelled. Participants never need the host to enter."
    )
    def viewer_can_enter(self, info: Info) -> bool:
        return self._may_enter(info)

    @strawberry.field(
        description="The room, for the host and confirmed participants from joinOpensAt until the end; "
        "null for everyone else and at any other time."
    )
    def room(self, info: Info) -> MeetingRoom | None:
        may = self._may_enter(info)
        if inspect.isawaitable(may):
            return converted(may, lambda ok: self._room(info) if ok else None)
        return self._room(info) if may else None

    def _room(self, info: Info) -> MeetingRoom:
        settings = info.context.settings
        row = self.row
        return MeetingRoom(
            url=rooms.room_url(meeting_url=row.meeting_url, room_name=row.room_name, base_url=settings.meeting_base_url),
            instructions=row.join_instructions,
            opens_at=rooms.join_opens_at(row.starts_at, settings.join_window),
            closes_at=row.ends_at,
        )

    def _may_enter(self, info: Info):
        """Whether the viewer may enter now: at once when known, else an awaitable."""
        viewer = info.context.viewer
        row = self.row
        window = info.context.settings.join_window
        now = info.context.clock()
        if viewer is None or row.status == SessionStatus.CANCELLED or not rooms.is_open(
            now=now, starts_at=row.starts_at, ends_at=row.ends_at, window=window
        ):
            return False
        if viewer.id == row.host_id:
            return True
        loaders = info.context.loaders
        known = loaders.known_viewer_attends(row)
        return loaders.viewer_attends(row) if known is MISSING else known

    def _viewer_is_host(self, info: Info) -> bool:
        viewer = info.context.viewer
        return viewer is not None and viewer.id == self.row.host_id

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
        return self._reasons(is_member=is_member, is_registered=status is not None, now=info.context.clock())

    async def _cannot_join_reasons_later(self, info: Info) -> list:
        loaders = info.context.loaders
        is_member = await visibility.is_member(loaders, self.row.program_id)
        is_registered = await loaders.viewer_status(self.row) is not None
        return self._reasons(is_member=is_member, is_registered=is_registered, now=info.context.clock())

    def _reasons(self, *, is_member: bool, is_registered: bool, now: datetime) -> list:
        return rules.cannot_join_reasons(
            is_member=is_member,
            is_registered=is_registered,
            is_cancelled=self.row.status == SessionStatus.CANCELLED,
            starts_at=self.row.starts_at,
            participant_count=self.row.participant_count,
            max_participants=self.row.max_participants,
            now=now,
        )


GroupSession.id = GlobalIdOf("GroupSession")


# For live events (app.api.live_execution): subscribers whose selection on a session holds
# only these fields, and whose `viewer_state` is equal, get the same answer, executed once.
# Checked by reading each resolver: the fields below read the row, the settings and the
# clock, and nothing of the viewer...
VIEWER_BLIND_FIELDS = frozenset({
    "__typename", "id", "title", "objective", "startsAt", "endsAt", "durationMinutes", "minParticipants",
    "maxParticipants", "participantCount", "spotsLeft", "isFull", "status", "cancellationReason",
    "minimumReached", "minimumDeadline", "cancelIfMinimumNotReached", "timeZone", "startsAtLocal",
    "waitlistCount", "url", "phase", "joinOpensAt", "hasCustomMeetingUrl",
})
# ...and these read of the viewer no more than `viewer_state` holds: signed in or not, the
# host or not, a member of the session's program or not, their registration's status.
VIEWER_STATE_FIELDS = frozenset({
    "viewerIsHost", "viewerIsAttending", "viewerCanJoin", "viewerCannotJoinReasons", "viewerCanEdit",
    "viewerCanCancel", "viewerCanReschedule", "viewerCanLeave", "viewerCanEnter",
})
_SHAREABLE_FIELDS = VIEWER_BLIND_FIELDS | VIEWER_STATE_FIELDS


def viewer_state(
    session: GroupSession,
    viewer: accounts_models.User | None,
    viewer_roles: Mapping[int, accounts_models.ProgramRole] | None,
    reads: EventReads,
    field_names: frozenset[str],
) -> tuple | None:
    """All that a selection of `field_names` on `session` can depend on about a subscriber
    (equal states, equal answers): signed in as `viewer` with `viewer_roles` (the
    connection's), the event's rows read for every subscriber being `reads`. None when a
    field may depend on more, or when that state is not known without the database. It
    holds what the loaders of that subscriber's execution of the event would know
    (`Loaders.known_viewer_role` and `known_viewer_status`), without making them."""
    if not field_names <= _SHAREABLE_FIELDS:
        return None
    if viewer is None:
        return ("anonymous",)
    if viewer_roles is None:  # not loaded with the token: not known without a query
        return None
    row = session.row
    status = reads.known_status(row, viewer.id)
    if status is MISSING:
        return None
    is_member = viewer_roles.get(row.program_id) is not None
    return ("viewer", viewer.id == row.host_id, is_member, status)


def _registration_session(root: Registration, info: Info) -> GroupSession:
    return now_or_later(info.context.loaders.session_by_id, root.row.session_id, GroupSession.from_row)


def _registration_participant(root: Registration, info: Info) -> User:
    row = root.row
    if type(row) is _REGISTRATION_ROW:  # a participants list fetched the person along
        return User.from_row(row.user)
    return now_or_later(info.context.loaders.user_by_id, row.user_id, User.from_row)


@strawberry.type(description="One person's registration for a group session.")
class Registration(Node):
    # A participants list gives plain values with the same attributes (see read_model).
    row: strawberry.Private[models.Registration | read_model.RegistrationRow]
    # The place in line when the caller knows it already (a page of the waitlist).
    known_position: strawberry.Private[int | None] = None

    @classmethod
    def from_row(cls, row: models.Registration, *, position: int | None = None) -> Registration:
        # Built without the dataclass __init__ (a participants page makes hundreds); `id` is
        # the class's GlobalIdOf, computed when read.
        self = _new(cls)
        self.row = row
        self.known_position = position
        self.is_host = row.is_host
        self.registered_at = row.registered_at
        status = row.status
        self.status = status if type(status) is _REGISTRATION_STATUS else _REGISTRATION_STATUS(status)
        return self

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


_REGISTRATION_STATUS = models.RegistrationStatus
_REGISTRATION_ROW = read_model.RegistrationRow
Registration.id = GlobalIdOf("Registration")


# --- connections -----------------------------------------------------------------------------


@strawberry.type(description="A group session in a list, with its cursor.")
class GroupSessionEdge:
    node: GroupSession = strawberry.field(description="The session.")
    cursor: str = strawberry.field(
        description="Pass as `after` to get the sessions after this one, as `before` for those before it."
    )

    @classmethod
    def of(cls, row: models.GroupSession) -> GroupSessionEdge:
        """The edge a session list gives `row` (for payloads a client inserts into its lists);
        its cursor is computed when read."""
        self = _new(cls)
        self.node = GroupSession.from_row(row)
        return self


@strawberry.type(description="A page of group sessions.")
class GroupSessionConnection:
    edges: list[GroupSessionEdge] = strawberry.field(description="The sessions of this page, in list order.")
    nodes: list[GroupSession] = strawberry.field(
        description="The same sessions as `edges`, without cursors (for a client that needs none)."
    )
    page_info: PageInfo = strawberry.field(description="Where this page stands.")
    page: strawberry.Private[read_model.Page]

    @strawberry.field(description="How many sessions the whole list holds, across all pages.")
    async def total_count(self) -> int:
        return await self.page.query.count() if self.page.query is not None else len(self.edges)

    @classmethod
    def from_page(
        cls, page: read_model.Page, info: Info, *, viewer_attends: bool | None = None
    ) -> GroupSessionConnection:
        """`viewer_attends`: what the list query already says about the viewer's registration
        on every row (the dashboard lists only sessions the viewer is registered for)."""
        info.context.loaders.prime_sessions(page.rows, viewer_attends=viewer_attends)
        of = GroupSessionEdge.of
        edges = [of(r) for r in page.rows]
        return cls(edges=edges, nodes=[edge.node for edge in edges], page_info=page_info(edges, page), page=page)


@strawberry.type(description="A registration in a list, with its cursor.")
class RegistrationEdge:
    node: Registration = strawberry.field(description="The registration.")
    cursor: str = strawberry.field(
        description="Pass as `after` to get the registrations after this one, as `before` for those before it."
    )

    @classmethod
    def of(cls, row: models.Registration, *, position: int | None = None) -> RegistrationEdge:
        """The edge GroupSession.participants gives `row` (for payloads a client appends to
        it); its cursor is computed when read. `position`: as for Registration.from_row."""
        self = _new(cls)
        self.node = Registration.from_row(row, position=position)
        return self

    @classmethod
    def all_of(cls, rows: list) -> list[RegistrationEdge]:
        """`[RegistrationEdge.of(row) for row in rows]`, one call less per row (a page of
        participants makes dozens)."""
        new, node_of = _new, Registration.from_row
        edges = []
        for row in rows:
            edge = new(cls)
            edge.node = node_of(row)
            edges.append(edge)
        return edges


# Cursors are computed when read: a page whose edges are asked for without them (the
# dashboard's participants) encodes none.
GroupSessionEdge.cursor = OnFirstRead("cursor", lambda edge: session_cursor(edge.node.row))
RegistrationEdge.cursor = RowIdCursorOf(registration_cursor)


@strawberry.type(description="A page of registrations.")
class RegistrationConnection:
    edges: list[RegistrationEdge] = strawberry.field(description="The registrations of this page, in order.")
    nodes: list[Registration] = strawberry.field(
        description="The same registrations as `edges`, without cursors (for a client that needs none)."
    )
    page_info: PageInfo = strawberry.field(description="Where this page stands.")
    total_count: int = strawberry.field(description="How many registrations there are in all.")


# --- the dashboard and live events -----------------------------------------------------------


@strawberry.type(description="The viewer's personal dashboard.")
class Dashboard:
    @strawberry.field(
        description="Dashboard > Sessions: what the viewer hosts or attends (role INVITED: the sessions "
        "the viewer is invited to and has not declined). Cancelled sessions are left out unless includeCancelled."
    )
    async def sessions(
        self,
        info: Info,
        timeframe: Timeframe = Timeframe.FUTURE,
        role: SessionRole | None = None,
        include_cancelled: bool | None = False,
        first: First = 20,
        after: After = None,
        last: Last = None,
        before: Before = None,
    ) -> GroupSessionConnection:
        viewer = require_viewer(info)
        window = connection_window(
            info, first=first, after=after, last=last, before=before, decode=decode_session_cursor
        )
        page = await read_model.dashboard_sessions(
            viewer_id=viewer.id,
            timeframe=timeframe,
            role=role,
            include_cancelled=bool(include_cancelled),
            window=window,
            now=info.context.clock(),  # the clock `phase` reads: an ENDED session is listed in PAST
        )
        # Every listed session is one the viewer attends, except in the invitations list.
        attends = None if role == SessionRole.INVITED else True
        return GroupSessionConnection.from_page(page, info, viewer_attends=attends)


@strawberry.type(description="A registration change on a session the viewer hosts.")
class RegistrationEvent:
    kind: RegistrationEventKind = strawberry.field(
        description="Joined, left, joined the waitlist, promoted from it, or reached the minimum."
    )
    registration: Registration = strawberry.field(
        description="The registration (for LEFT, as it was before it was withdrawn)."
    )
    session: GroupSession = strawberry.field(
        description="The session, with participantCount and spotsLeft as they are after the change."
    )
    occurred_at: datetime = strawberry.field(description="When the change was committed.")

