"""Create, edit, cancel, join and leave group sessions, and answer invitations.

Each command is one transaction: it checks, changes, records its events, and either
commits all of it or raises `DomainError` having changed nothing. Events reach
`effects.record` inside the transaction (email outbox) and `effects.publish` after the
commit (live subscriptions); each carries the session as the command left it and the
people it names, so no handler reads them again.

Callers that already hold what a command would read pass it along: `viewer_roles` (every
program of the viewer with the role there, loaded with the token) and `viewer` (the viewer
as a `Person`, for the commands whose emails name them). None means: read it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, fields as dataclass_fields
from datetime import datetime, timedelta

from tortoise.exceptions import IntegrityError
from tortoise.expressions import F
from tortoise.transactions import in_transaction

from app.accounts.models import HOSTING_ROLES, ProgramRole
from app.accounts.services import role_in_program
from app.clock import utcnow
from app.errors import DomainError, ErrorCode, Problem
from app.group_sessions import repository, rooms, rules
from app.group_sessions.events import (
    Effects,
    Event,
    GroupSessionCancelled,
    GroupSessionChanged,
    GroupSessionCreated,
    InvitationDeclined,
    Person,
    RegistrationAdded,
    RegistrationRemoved,
    SessionSnapshot,
)
from app.group_sessions.models import (
    GroupSession,
    Guest,
    InvitationSent,
    InvitationStatus,
    Registration,
    SessionStatus,
)
from app.group_sessions.repository import SessionForCommand

_NOT_FOUND_MESSAGE = "No such group session."


@asynccontextmanager
async def _unit_of_work(effects: Effects) -> AsyncIterator[list[Event]]:
    """A transaction that collects events; records them before commit, publishes after."""
    events: list[Event] = []
    async with in_transaction() as connection:
        yield events
        if events:
            await effects.record(events, connection)
    if events:
        await effects.publish(events)


async def _visible_session(
    session_id: int,
    viewer_id: int,
    viewer_roles: Mapping[int, ProgramRole] | None,
    *,
    lock: bool = False,
    field: tuple[str, ...] = ("input", "id"),
) -> SessionForCommand:
    """The session (with its host, the viewer's registration and invitation) if the viewer
    is a member of its program; NOT_FOUND at `field` otherwise, exactly as for an ID that
    does not exist, so outsiders learn nothing."""
    found = await repository.session_for_command(session_id, viewer_id, lock=lock)
    if found is None or await role_in_program(viewer_id, found.session.program_id, roles=viewer_roles) is None:
        raise DomainError.of(ErrorCode.NOT_FOUND, _NOT_FOUND_MESSAGE, field)
    return found


async def _viewer_person(viewer_id: int, viewer: Person | None) -> Person:
    if viewer is None:
        return await repository.person(viewer_id)
    if viewer.id != viewer_id:
        raise ValueError(f"viewer {viewer.id} is not viewer_id {viewer_id}")
    return viewer


async def _check_guests(program_id: int, host_id: int, guest_ids: Sequence[int]) -> list[Person]:
    """The guests, in the order given. Refused, with one problem at each index at fault
    (every one, not only the first): the host (INVALID), a guest listed a second time
    (INVALID, at the repeat), anyone outside the program (NOT_A_MEMBER)."""
    wanted = list(dict.fromkeys(g for g in guest_ids if g != host_id))
    members = await repository.members(program_id, wanted) if wanted else {}
    problems, seen = [], set()
    for i, gid in enumerate(guest_ids):
        at = ("input", "guestIds", str(i))
        if gid == host_id:
            problems.append(Problem(ErrorCode.INVALID, "You host this session; you cannot be your own guest.", at))
        elif gid in seen:
            problems.append(Problem(ErrorCode.INVALID, "This member is already in the guest list.", at))
        elif gid not in members:
            problems.append(Problem(ErrorCode.NOT_A_MEMBER, "Guests must be members of the program.", at))
        seen.add(gid)
    if problems:
        raise DomainError(*problems)
    return [members[g] for g in wanted]


@dataclass(frozen=True)
class SessionFields:
    """Validated, normalized fields of a session (create, or edit merged over the current row)."""

    title: str
    objective: str
    min_participants: int
    max_participants: int
    starts_at: datetime
    duration_minutes: int
    meeting_url: str | None = None
    join_instructions: str | None = None


def _optional_text(value: str | None) -> str | None:
    """Cleaned text, or None for nothing (an empty string clears an optional field)."""
    if value is None:
        return None
    return rules.clean_text(value) or None


def _validate(
    *,
    title: str,
    objective: str,
    min_participants: int,
    max_participants: int,
    starts_at: datetime,
    duration_minutes: int,
    now: datetime,
    check_start: bool,
    meeting_url: str | None = None,
    join_instructions: str | None = None,
) -> SessionFields:
    title = rules.clean_text(title)
    objective = rules.clean_text(objective)
    meeting_url = _optional_text(meeting_url)
    join_instructions = _optional_text(join_instructions)
    problems = [
        *rules.check_text(title, "title", rules.TITLE_MAX),
        *(rules.check_title_single_line(title) if title else []),
        *rules.check_text(objective, "objective", rules.OBJECTIVE_MAX),
        *rules.check_participant_bounds(min_participants, max_participants),
        *(rules.check_starts_at(starts_at, now) if check_start else []),
        *rules.check_duration(duration_minutes),
        *(rules.check_meeting_url(meeting_url) if meeting_url else []),
        *rules.check_text(join_instructions, "joinInstructions", rules.JOIN_INSTRUCTIONS_MAX, required=False),
    ]
    if problems:
        raise DomainError(*problems)
    return SessionFields(
        title, objective, min_participants, max_participants, starts_at, duration_minutes, meeting_url, join_instructions
    )


async def create_group_session(
    *,
    viewer_id: int,
    program_id: int,
    title: str,
    objective: str,
    starts_at: datetime,
    duration_minutes: int,
    min_participants: int | None = None,
    max_participants: int | None = None,
    guest_ids: Sequence[int] = (),
    meeting_url: str | None = None,
    join_instructions: str | None = None,
    viewer: Person | None = None,
    viewer_roles: Mapping[int, ProgramRole] | None = None,
    effects: Effects,
) -> GroupSession:
    """Create a session hosted by the viewer, who is registered at once. Without a
    `meeting_url` of the host's own, the session gets a generated room.

    Only mentors and admins of the program may host (FORBIDDEN); outsiders get NOT_FOUND.
    """
    now = utcnow()
    role = await role_in_program(viewer_id, program_id, roles=viewer_roles)
    if role is None:
        raise DomainError.of(ErrorCode.NOT_FOUND, "No such program.", ("input", "programId"))
    if role not in HOSTING_ROLES:
        raise DomainError.of(ErrorCode.FORBIDDEN, "Only mentors of the program may host group sessions.")
    fields = _validate(
        title=title,
        objective=objective,
        min_participants=rules.DEFAULT_MIN_PARTICIPANTS if min_participants is None else min_participants,
        max_participants=rules.DEFAULT_MAX_PARTICIPANTS if max_participants is None else max_participants,
        starts_at=starts_at,
        duration_minutes=duration_minutes,
        now=now,
        check_start=True,
        meeting_url=meeting_url,
        join_instructions=join_instructions,
    )
    guests = await _check_guests(program_id, viewer_id, guest_ids)
    host = await _viewer_person(viewer_id, viewer)
    async with _unit_of_work(effects) as events:
        session = await GroupSession.create(
            program_id=program_id,
            host_id=viewer_id,
            title=fields.title,
            objective=fields.objective,
            starts_at=fields.starts_at,
            ends_at=fields.starts_at + timedelta(minutes=fields.duration_minutes),
            duration_minutes=fields.duration_minutes,
            min_participants=fields.min_participants,
            max_participants=fields.max_participants,
            participant_count=1,
            meeting_url=fields.meeting_url,
            join_instructions=fields.join_instructions,
            room_name=rooms.new_room_name(),
        )
        await Registration.create(session=session, user_id=viewer_id, is_host=True)
        if guests:
            await Guest.bulk_create([Guest(session=session, user_id=g.id) for g in guests])
            await InvitationSent.bulk_create([InvitationSent(session=session, user_id=g.id) for g in guests])
        events.append(GroupSessionCreated(SessionSnapshot.of(session, host), tuple(guests), now))
    return session


async def update_group_session(
    *,
    viewer_id: int,
    session_id: int,
    title: str | None = None,
    objective: str | None = None,
    min_participants: int | None = None,
    max_participants: int | None = None,
    starts_at: datetime | None = None,
    duration_minutes: int | None = None,
    guest_ids: Sequence[int] | None = None,
    meeting_url: str | None = None,
    join_instructions: str | None = None,
    viewer_roles: Mapping[int, ProgramRole] | None = None,
    effects: Effects,
) -> GroupSession:
    """Edit a session (host only). Arguments left as None stay as they are; `guest_ids`
    replaces the guest list; an empty `meeting_url` goes back to the generated room, an
    empty `join_instructions` removes them. maxParticipants may not drop below the participant count,
    checked in the UPDATE itself so a concurrent join cannot slip under it. Returns the
    session as it is after the edit."""
    now = utcnow()
    async with _unit_of_work(effects) as events:
        found = await _visible_session(session_id, viewer_id, viewer_roles, lock=True)
        session = found.session
        if session.host_id != viewer_id:
            raise DomainError.of(ErrorCode.FORBIDDEN, "Only the host may edit this session.")
        if session.status == SessionStatus.CANCELLED:
            raise DomainError.of(ErrorCode.SESSION_CANCELLED, "A cancelled session cannot be edited.")
        if session.ends_at <= now:
            raise DomainError.of(ErrorCode.SESSION_STARTED, "A session that has ended cannot be edited.")
        if starts_at is not None and session.starts_at <= now and starts_at != session.starts_at:
            raise DomainError.of(
                ErrorCode.SESSION_STARTED, "The start of a session under way cannot be moved.", ("input", "startsAt")
            )
        fields = _validate(
            title=session.title if title is None else title,
            objective=session.objective if objective is None else objective,
            min_participants=session.min_participants if min_participants is None else min_participants,
            max_participants=session.max_participants if max_participants is None else max_participants,
            starts_at=session.starts_at if starts_at is None else starts_at,
            duration_minutes=session.duration_minutes if duration_minutes is None else duration_minutes,
            now=now,
            check_start=starts_at is not None and starts_at != session.starts_at,
            meeting_url=session.meeting_url if meeting_url is None else meeting_url,
            join_instructions=session.join_instructions if join_instructions is None else join_instructions,
        )
        problems = rules.check_max_not_below_count(fields.max_participants, session.participant_count)
        if problems:
            raise DomainError(*problems)
        guests = None if guest_ids is None else await _check_guests(session.program_id, session.host_id, guest_ids)

        before = SessionFields(
            session.title,
            session.objective,
            session.min_participants,
            session.max_participants,
            session.starts_at,
            session.duration_minutes,
            session.meeting_url,
            session.join_instructions,
        )
        changed = [f.name for f in dataclass_fields(SessionFields) if getattr(fields, f.name) != getattr(before, f.name)]
        time_changed = "starts_at" in changed or "duration_minutes" in changed
        previous_starts_at, previous_ends_at = session.starts_at, session.ends_at

        added_guests: list[Person] = []
        registered: list[Person] | None = None
        if guests is not None:
            current = set(await Guest.filter(session_id=session.id).values_list("user_id", flat=True))
            added_guests = [g for g in guests if g.id not in current]
            removed = current - {g.id for g in guests}
            if removed:
                await Guest.filter(session_id=session.id, user_id__in=list(removed)).delete()
            if added_guests:
                # A guest who is registered already has accepted, as of now.
                registered = await repository.registered_people(session.id)
                attending = {p.id for p in registered}
                await Guest.bulk_create(
                    [
                        Guest(session_id=session.id, user_id=g.id, status=InvitationStatus.ACCEPTED, responded_at=now)
                        if g.id in attending
                        else Guest(session_id=session.id, user_id=g.id)
                        for g in added_guests
                    ]
                )
            if added_guests or removed:
                changed.append("guests")

        if changed:
            updated = await repository.update_session(
                GroupSession.filter(id=session.id, participant_count__lte=fields.max_participants),
                title=fields.title,
                objective=fields.objective,
                min_participants=fields.min_participants,
                max_participants=fields.max_participants,
                starts_at=fields.starts_at,
                ends_at=fields.starts_at + timedelta(minutes=fields.duration_minutes),
                duration_minutes=fields.duration_minutes,
                meeting_url=fields.meeting_url,
                join_instructions=fields.join_instructions,
                sequence=session.sequence + (1 if time_changed else 0),
                updated_at=now,
            )
            if updated is None:  # a join took the seat between our read and this write
                fresh = await GroupSession.get(id=session.id)
                raise DomainError(*rules.check_max_not_below_count(fields.max_participants, fresh.participant_count))
            session = updated
            # Those registered are told of a new time; guests who registered already
            # need no invitation, nor do those invited before (taken off the list and put
            # back): each person is invited to a session once, however often it is edited.
            if registered is None:
                registered = await repository.registered_people(session.id) if time_changed else []
            registered_ids = {p.id for p in registered}
            to_invite = [g for g in added_guests if g.id not in registered_ids]
            if to_invite:
                invited_before = set(
                    await InvitationSent.filter(
                        session_id=session.id, user_id__in=[g.id for g in to_invite]
                    ).values_list("user_id", flat=True)
                )
                to_invite = [g for g in to_invite if g.id not in invited_before]
                if to_invite:
                    await InvitationSent.bulk_create(
                        [InvitationSent(session_id=session.id, user_id=g.id) for g in to_invite]
                    )
            events.append(
                GroupSessionChanged(
                    session=SessionSnapshot.of(session, found.host),
                    changed_fields=tuple(changed),
                    previous_starts_at=previous_starts_at if time_changed else None,
                    previous_ends_at=previous_ends_at if time_changed else None,
                    registered=tuple(registered),
                    added_guests=tuple(to_invite),
                    occurred_at=now,
                )
            )
    return session


async def cancel_group_session(
    *,
    viewer_id: int,
    session_id: int,
    reason: str | None = None,
    viewer_roles: Mapping[int, ProgramRole] | None = None,
    effects: Effects,
) -> GroupSession:
    """Cancel a session (host only). Registrations stay, so everyone registered can be told.
    Returns the cancelled session."""
    now = utcnow()
    cleaned_reason = rules.clean_text(reason) if reason is not None else None
    if cleaned_reason and len(cleaned_reason) > rules.REASON_MAX:
        raise DomainError.of(
            ErrorCode.TOO_LONG, f"reason must be at most {rules.REASON_MAX:,} characters.", ("input", "reason")
        )
    async with _unit_of_work(effects) as events:
        found = await _visible_session(session_id, viewer_id, viewer_roles, lock=True)
        session = found.session
        if session.host_id != viewer_id:
            raise DomainError.of(ErrorCode.FORBIDDEN, "Only the host may cancel this session.")
        if session.ends_at <= now:
            raise DomainError.of(ErrorCode.SESSION_STARTED, "A session that has ended cannot be cancelled.")
        cancelled = await repository.update_session(
            GroupSession.filter(id=session.id, status=SessionStatus.SCHEDULED),
            status=SessionStatus.CANCELLED,
            cancellation_reason=cleaned_reason or None,
            cancelled_at=now,
            sequence=session.sequence + 1,
            updated_at=now,
        )
        if cancelled is None:
            raise DomainError.of(ErrorCode.SESSION_CANCELLED, "This session was cancelled already.")
        registered = await repository.registered_people(session.id)
        events.append(
            GroupSessionCancelled(
                session=SessionSnapshot.of(cancelled, found.host),
                reason=cleaned_reason or None,
                registered=tuple(registered),
                occurred_at=now,
            )
        )
    return cancelled


def _join_refusal(
    session: GroupSession, *, is_registered: bool, now: datetime, field: tuple[str, ...] = ("input", "id")
) -> DomainError | None:
    reasons = rules.cannot_join_reasons(
        is_member=True,
        is_registered=is_registered,
        is_cancelled=session.status == SessionStatus.CANCELLED,
        starts_at=session.starts_at,
        participant_count=session.participant_count,
        max_participants=session.max_participants,
        now=now,
    )
    if not reasons:
        return None
    return DomainError.of(reasons[0], rules.JOIN_REFUSAL_MESSAGES[reasons[0]], field)


async def _answer(found: SessionForCommand, status: InvitationStatus, now: datetime) -> Guest | None:
    """Record the viewer's answer on their guest row, when they are invited and it changes
    (joining is accepting, leaving is declining); the guest row as it is now."""
    guest = found.viewer_guest
    if guest is None or guest.status == status:
        return guest
    await Guest.filter(id=guest.id).update(status=status, responded_at=now)
    guest.status, guest.responded_at = status, now
    return guest


async def _take_seat(
    found: SessionForCommand,
    participant: Person,
    events: list[Event],
    now: datetime,
    *,
    field: tuple[str, ...] = ("input", "id"),
) -> tuple[Registration, GroupSession]:
    """The join itself, inside the caller's unit of work: refuse as the join rules say
    (at `field`), take a seat with the conditional UPDATE, write the registration, mark an
    invited viewer as having accepted, and record RegistrationAdded."""
    session_id, viewer_id = found.session.id, participant.id
    refusal = _join_refusal(found.session, is_registered=found.viewer_registration is not None, now=now, field=field)
    if refusal:
        raise refusal
    session = await repository.update_session(
        GroupSession.filter(
            id=session_id,
            status=SessionStatus.SCHEDULED,
            starts_at__gt=now,
            participant_count__lt=F("max_participants"),
        ),
        participant_count=F("participant_count") + 1,
    )
    if session is None:
        fresh = await GroupSession.get(id=session_id)
        raise _join_refusal(fresh, is_registered=False, now=now, field=field) or DomainError.of(
            ErrorCode.SESSION_FULL, rules.JOIN_REFUSAL_MESSAGES[ErrorCode.SESSION_FULL], field
        )
    try:
        registration = await Registration.create(session_id=session.id, user_id=viewer_id, is_host=False)
    except IntegrityError:
        # The same viewer joining twice at once: the unique (session, user) constraint
        # refuses the second, and raising here rolls its seat back.
        raise DomainError.of(
            ErrorCode.ALREADY_REGISTERED, rules.JOIN_REFUSAL_MESSAGES[ErrorCode.ALREADY_REGISTERED], field
        ) from None
    await _answer(found, InvitationStatus.ACCEPTED, now)
    events.append(
        RegistrationAdded(
            session=SessionSnapshot.of(session, found.host),
            registration_id=registration.id,
            participant=participant,
            is_host=False,
            registered_at=registration.registered_at,
            occurred_at=now,
        )
    )
    return registration, session


async def _free_seat(
    found: SessionForCommand,
    participant: Person,
    events: list[Event],
    now: datetime,
    *,
    field: tuple[str, ...] = ("input", "id"),
) -> GroupSession:
    """The leave itself, inside the caller's unit of work (the session row locked): refuse
    as the leave rules say (at `field`), free the seat, delete the registration, mark an
    invited viewer as having declined, and record RegistrationRemoved."""
    session, registration = found.session, found.viewer_registration
    if registration is None:
        raise DomainError.of(ErrorCode.NOT_REGISTERED, "You are not registered for this session.", field)
    if registration.is_host:
        raise DomainError.of(ErrorCode.HOST_CANNOT_LEAVE, "The host cannot leave; cancel the session instead.", field)
    if session.status == SessionStatus.CANCELLED:
        raise DomainError.of(ErrorCode.SESSION_CANCELLED, "This session was cancelled.", field)
    if session.starts_at <= now:
        raise DomainError.of(ErrorCode.SESSION_STARTED, "This session has already started.", field)
    # Seat first, then the row: every command touches the session row first, so
    # concurrent commands on one session queue on it instead of deadlocking.
    session = await repository.update_session(
        GroupSession.filter(id=session.id), participant_count=F("participant_count") - 1
    )
    deleted = await Registration.filter(id=registration.id).delete()
    if session is None or not deleted:  # withdrawn concurrently: undo our decrement by rolling back
        raise DomainError.of(ErrorCode.NOT_REGISTERED, "You are not registered for this session.", field)
    await _answer(found, InvitationStatus.DECLINED, now)
    events.append(
        RegistrationRemoved(
            session=SessionSnapshot.of(session, found.host),
            registration_id=registration.id,
            participant=participant,
            is_host=registration.is_host,
            registered_at=registration.registered_at,
            occurred_at=now,
        )
    )
    return session


async def join_group_session(
    *,
    viewer_id: int,
    session_id: int,
    viewer: Person | None = None,
    viewer_roles: Mapping[int, ProgramRole] | None = None,
    effects: Effects,
) -> tuple[Registration, GroupSession]:
    """Register the viewer; returns the registration and the session with its new counts.
    Any member of the program may join until the start, while seats are left. The seat is
    taken by a conditional UPDATE that returns the row only when it took one, so two
    writers can never both take the last one, on any database and any number of processes.
    An invited viewer who joins has accepted the invitation."""
    now = utcnow()
    participant = await _viewer_person(viewer_id, viewer)
    async with _unit_of_work(effects) as events:
        found = await _visible_session(session_id, viewer_id, viewer_roles)
        registration, session = await _take_seat(found, participant, events, now)
    return registration, session


async def leave_group_session(
    *,
    viewer_id: int,
    session_id: int,
    viewer: Person | None = None,
    viewer_roles: Mapping[int, ProgramRole] | None = None,
    effects: Effects,
) -> GroupSession:
    """Withdraw the viewer's registration (not the host's) and free the seat; returns the
    session with its new counts. An invited viewer who leaves has declined the invitation."""
    now = utcnow()
    participant = await _viewer_person(viewer_id, viewer)
    async with _unit_of_work(effects) as events:
        found = await _visible_session(session_id, viewer_id, viewer_roles, lock=True)
        session = await _free_seat(found, participant, events, now)
    return session


@dataclass(frozen=True)
class InvitationAnswer:
    """What respond_to_invitation did: the guest row with its answer, the registration it
    made (accepting when not registered yet; None otherwise), and the session as it is now."""

    invitation: Guest
    registration: Registration | None
    session: GroupSession


async def respond_to_invitation(
    *,
    viewer_id: int,
    session_id: int,
    accept: bool,
    viewer: Person | None = None,
    viewer_roles: Mapping[int, ProgramRole] | None = None,
    effects: Effects,
) -> InvitationAnswer:
    """The invited viewer accepts or declines; answering again changes the answer.

    Accepting registers the viewer exactly as a join does (same rules, same seat UPDATE,
    same emails and live events); declining while registered withdraws exactly as a leave
    does. Declining when not registered records the answer and tells the host
    (InvitationDeclined). The same answer again changes nothing. Refused: NOT_FOUND for a
    session the viewer cannot see, NOT_INVITED when they are not on its guest list, and,
    as for a join or a leave, SESSION_CANCELLED or SESSION_STARTED once the session is
    cancelled or has started (answers are taken until the start) and SESSION_FULL."""
    now = utcnow()
    field = ("input", "groupSessionId")
    participant = await _viewer_person(viewer_id, viewer)
    async with _unit_of_work(effects) as events:
        found = await _visible_session(session_id, viewer_id, viewer_roles, lock=True, field=field)
        session, guest = found.session, found.viewer_guest
        if guest is None:
            raise DomainError.of(ErrorCode.NOT_INVITED, "You are not invited to this session.", field)
        closed = (
            ErrorCode.SESSION_CANCELLED if session.status == SessionStatus.CANCELLED
            else ErrorCode.SESSION_STARTED if session.starts_at <= now
            else None
        )
        if closed is not None:
            raise DomainError.of(closed, rules.JOIN_REFUSAL_MESSAGES[closed], field)
        registration = None
        if accept:
            if found.viewer_registration is None:
                registration, session = await _take_seat(found, participant, events, now, field=field)
            else:
                await _answer(found, InvitationStatus.ACCEPTED, now)
        elif found.viewer_registration is not None:
            session = await _free_seat(found, participant, events, now, field=field)
        elif guest.status != InvitationStatus.DECLINED:
            await _answer(found, InvitationStatus.DECLINED, now)
            events.append(
                InvitationDeclined(
                    session=SessionSnapshot.of(session, found.host), guest=participant, occurred_at=now
                )
            )
    return InvitationAnswer(invitation=guest, registration=registration, session=session)
