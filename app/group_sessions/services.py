"""Create, edit, cancel, join and leave group sessions.

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
from tortoise.expressions import F, Q
from tortoise.transactions import in_transaction

from app.accounts.models import HOSTING_ROLES, ProgramRole
from app.accounts.services import role_in_program
from app.clock import utcnow
from app.errors import DomainError, ErrorCode, Problem
from app.group_sessions import repository, rules
from app.group_sessions.events import (
    Effects,
    Event,
    GroupSessionCancelled,
    GroupSessionChanged,
    GroupSessionCreated,
    Person,
    Promoted,
    RegistrationAdded,
    RegistrationRemoved,
    SessionSnapshot,
    Waitlisted,
)
from app.group_sessions.models import (
    GroupSession,
    Guest,
    GuestInvitation,
    Registration,
    RegistrationStatus,
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
    session_id: int, viewer_id: int, viewer_roles: Mapping[int, ProgramRole] | None, *, lock: bool = False
) -> SessionForCommand:
    """The session (with its host and the viewer's registration) if the viewer is a member
    of its program; NOT_FOUND otherwise, exactly as for an ID that does not exist, so
    outsiders learn nothing."""
    found = await repository.session_for_command(session_id, viewer_id, lock=lock)
    if found is None or await role_in_program(viewer_id, found.session.program_id, roles=viewer_roles) is None:
        raise DomainError.of(ErrorCode.NOT_FOUND, _NOT_FOUND_MESSAGE, ("input", "id"))
    return found


async def _viewer_person(viewer_id: int, viewer: Person | None) -> Person:
    if viewer is None:
        return await repository.person(viewer_id)
    if viewer.id != viewer_id:
        raise ValueError(f"viewer {viewer.id} is not viewer_id {viewer_id}")
    return viewer


async def _fill_freed_seats(
    session: GroupSession, host: Person, events: list[Event], *, now: datetime
) -> GroupSession:
    """After a command freed seats of `session` (the row as its own write left it, in its
    transaction): the first in line take them at once, each told by a `Promoted` event.
    Every way of freeing a seat goes through here. Returns the session as it is after."""
    session, promotions = await repository.fill_from_waitlist(session, now=now)
    snapshot = SessionSnapshot.of(session, host) if promotions else None
    for promotion in promotions:
        registration = promotion.registration
        events.append(
            Promoted(
                session=snapshot,
                registration_id=registration.id,
                participant=promotion.participant,
                is_host=False,
                registered_at=registration.registered_at,
                occurred_at=now,
                status=RegistrationStatus.CONFIRMED,
                waitlisted_at=registration.waitlisted_at,
            )
        )
    return session


async def release_seat(session: GroupSession, host: Person, events: list[Event], *, now: datetime) -> GroupSession:
    """Give back one seat of `session` whose CONFIRMED registration the caller has just
    withdrawn (with the session row locked: `session_for_command(lock=True)`), and give it
    to the first in line, inside the caller's transaction (see `_fill_freed_seats`).
    Returns the session as it is after. Every command that withdraws a confirmed
    registration calls this (a leave, a membership removal through it, a guest declining
    after accepting); a raised maxParticipants fills seats through `_fill_freed_seats`."""
    updated = await repository.update_session(
        GroupSession.filter(id=session.id), participant_count=F("participant_count") - 1
    )
    if updated is None:
        raise RuntimeError(f"session {session.id} vanished under its own lock")
    return await _fill_freed_seats(updated, host, events, now=now)


async def _check_guests(program_id: int, host_id: int, guest_ids: Sequence[int]) -> list[Person]:
    """Distinct guests without the host, in the order given; NOT_A_MEMBER for anyone
    outside the program."""
    wanted = list(dict.fromkeys(g for g in guest_ids if g != host_id))
    if not wanted:
        return []
    members = await repository.members(program_id, wanted)
    problems = [
        Problem(ErrorCode.NOT_A_MEMBER, "Guests must be members of the program.", ("input", "guestIds", str(i)))
        for i, gid in enumerate(guest_ids)
        if gid != host_id and gid not in members
    ]
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
) -> SessionFields:
    title = rules.clean_text(title)
    objective = rules.clean_text(objective)
    problems = [
        *rules.check_text(title, "title", rules.TITLE_MAX),
        *(rules.check_title_single_line(title) if title else []),
        *rules.check_text(objective, "objective", rules.OBJECTIVE_MAX),
        *rules.check_participant_bounds(min_participants, max_participants),
        *(rules.check_starts_at(starts_at, now) if check_start else []),
        *rules.check_duration(duration_minutes),
    ]
    if problems:
        raise DomainError(*problems)
    return SessionFields(title, objective, min_participants, max_participants, starts_at, duration_minutes)


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
    viewer: Person | None = None,
    viewer_roles: Mapping[int, ProgramRole] | None = None,
    effects: Effects,
) -> GroupSession:
    """Create a session hosted by the viewer, who is registered at once.

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
        )
        await Registration.create(session=session, user_id=viewer_id, is_host=True)
        if guests:
            await Guest.bulk_create([Guest(session=session, user_id=g.id) for g in guests])
            await GuestInvitation.bulk_create([GuestInvitation(session=session, user_id=g.id) for g in guests])
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
    viewer_roles: Mapping[int, ProgramRole] | None = None,
    effects: Effects,
) -> GroupSession:
    """Edit a session (host only). Arguments left as None stay as they are; `guest_ids`
    replaces the guest list. maxParticipants may not drop below the participant count,
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
        )
        changed = [f.name for f in dataclass_fields(SessionFields) if getattr(fields, f.name) != getattr(before, f.name)]
        time_changed = "starts_at" in changed or "duration_minutes" in changed
        previous_starts_at, previous_ends_at = session.starts_at, session.ends_at

        added_guests: list[Person] = []
        if guests is not None:
            current = set(await Guest.filter(session_id=session.id).values_list("user_id", flat=True))
            added_guests = [g for g in guests if g.id not in current]
            removed = current - {g.id for g in guests}
            if removed:
                await Guest.filter(session_id=session.id, user_id__in=list(removed)).delete()
            if added_guests:
                await Guest.bulk_create([Guest(session_id=session.id, user_id=g.id) for g in added_guests])
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
                sequence=session.sequence + (1 if time_changed else 0),
                updated_at=now,
            )
            if updated is None:  # a join took the seat between our read and this write
                fresh = await GroupSession.get(id=session.id)
                raise DomainError(*rules.check_max_not_below_count(fields.max_participants, fresh.participant_count))
            promoted_before = len(events)
            if fields.max_participants > before.max_participants:
                session = await _fill_freed_seats(updated, found.host, events, now=now)
            else:
                session = updated
            # Promoted just now: their "You're in" carries the new time already.
            promoted_ids = {e.participant.id for e in events[promoted_before:]}
            # Those registered are told of a new time (not those on the waitlist: they get
            # the invite, with the new time, once promoted); guests who registered already
            # need no invitation, nor do those invited before (taken off the list and put
            # back): each person is invited to a session once, however often it is edited.
            registrants = await repository.registrants(session.id) if time_changed or added_guests else []
            registered_ids = {p.id for p, _ in registrants}
            registered = [
                p for p, status in registrants if status == RegistrationStatus.CONFIRMED and p.id not in promoted_ids
            ]
            to_invite = [g for g in added_guests if g.id not in registered_ids]
            if to_invite:
                invited_before = set(
                    await GuestInvitation.filter(
                        session_id=session.id, user_id__in=[g.id for g in to_invite]
                    ).values_list("user_id", flat=True)
                )
                to_invite = [g for g in to_invite if g.id not in invited_before]
                if to_invite:
                    await GuestInvitation.bulk_create(
                        [GuestInvitation(session_id=session.id, user_id=g.id) for g in to_invite]
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


def _join_refusal(session: GroupSession, *, is_registered: bool, now: datetime) -> DomainError | None:
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
    return DomainError.of(reasons[0], rules.JOIN_REFUSAL_MESSAGES[reasons[0]], ("input", "id"))


def _full() -> DomainError:
    return DomainError.of(ErrorCode.SESSION_FULL, rules.JOIN_REFUSAL_MESSAGES[ErrorCode.SESSION_FULL], ("input", "id"))


async def _take_seat(session_id: int, now: datetime) -> GroupSession | None:
    """A seat, if one is free and nobody waits for it (first come, first served): the
    session row after taking it, or None."""
    return await repository.update_session(
        GroupSession.filter(
            id=session_id,
            status=SessionStatus.SCHEDULED,
            starts_at__gt=now,
            participant_count__lt=F("max_participants"),
            waitlist_count=0,
        ),
        participant_count=F("participant_count") + 1,
    )


async def _join_line(session_id: int, now: datetime) -> GroupSession | None:
    """A place at the end of the waitlist, if the session is full or others wait already:
    the session row after, or None."""
    return await repository.update_session(
        GroupSession.filter(
            Q(participant_count__gte=F("max_participants")) | Q(waitlist_count__gt=0),
            id=session_id,
            status=SessionStatus.SCHEDULED,
            starts_at__gt=now,
        ),
        waitlist_count=F("waitlist_count") + 1,
    )


async def join_group_session(
    *,
    viewer_id: int,
    session_id: int,
    waitlist: bool = False,
    viewer: Person | None = None,
    viewer_roles: Mapping[int, ProgramRole] | None = None,
    effects: Effects,
) -> tuple[Registration, GroupSession]:
    """Register the viewer; returns the registration and the session with its new counts.
    Any member of the program may join until the start, while seats are left. The seat is
    taken by a conditional UPDATE that returns the row only when it took one, so two
    writers can never both take the last one, on any database and any number of processes.

    With `waitlist`, a full session puts the viewer at the end of its waitlist instead of
    refusing with SESSION_FULL: the registration is WAITLISTED, and the first seat that
    frees goes to the first in line (see `release_seat`). Either way it is one conditional
    UPDATE of the session row, so joins, leaves and promotions on one session are
    serialized on that row and the line keeps the order in which they got there."""
    now = utcnow()
    participant = await _viewer_person(viewer_id, viewer)
    async with _unit_of_work(effects) as events:
        found = await _visible_session(session_id, viewer_id, viewer_roles)
        refusal = _join_refusal(found.session, is_registered=found.viewer_registration is not None, now=now)
        looks_full = refusal is not None and refusal.problems[0].code == ErrorCode.SESSION_FULL
        if refusal and not (waitlist and looks_full):
            raise refusal
        # Seats and the line change under us between the read and the write: try the
        # likelier one first, then the other, a bounded number of times.
        attempts = [_join_line, _take_seat] if looks_full else [_take_seat, _join_line]
        session, status = None, RegistrationStatus.CONFIRMED
        for attempt in (attempts * 2) if waitlist else attempts[:1]:
            session = await attempt(session_id, now)
            if session is not None:
                status = RegistrationStatus.WAITLISTED if attempt is _join_line else RegistrationStatus.CONFIRMED
                break
        if session is None:
            fresh = await GroupSession.get(id=session_id)
            raise _join_refusal(fresh, is_registered=False, now=now) or _full()
        # Taken once this command holds the session row, so the line's order by
        # (waitlisted_at, id) is the order in which joins got it.
        waitlisted_at = utcnow() if status == RegistrationStatus.WAITLISTED else None
        try:
            registration = await Registration.create(
                session_id=session.id, user_id=viewer_id, is_host=False, status=status, waitlisted_at=waitlisted_at
            )
        except IntegrityError:
            # The same viewer joining twice at once: the unique (session, user) constraint
            # refuses the second, and raising here rolls its seat back.
            raise DomainError.of(
                ErrorCode.ALREADY_REGISTERED, rules.JOIN_REFUSAL_MESSAGES[ErrorCode.ALREADY_REGISTERED], ("input", "id")
            ) from None
        change = dict(
            session=SessionSnapshot.of(session, found.host),
            registration_id=registration.id,
            participant=participant,
            is_host=False,
            registered_at=registration.registered_at,
            occurred_at=now,
            status=status,
            waitlisted_at=waitlisted_at,
        )
        if status == RegistrationStatus.WAITLISTED:
            # Last in line: everyone ahead got the row before this command did.
            events.append(Waitlisted(**change, position=session.waitlist_count))
        else:
            events.append(RegistrationAdded(**change))
    return registration, session


async def leave_group_session(
    *,
    viewer_id: int,
    session_id: int,
    viewer: Person | None = None,
    viewer_roles: Mapping[int, ProgramRole] | None = None,
    effects: Effects,
) -> GroupSession:
    """Withdraw the viewer's registration (not the host's) and free the seat, which goes to
    the first on the waitlist at once; or take the viewer off the waitlist, those behind
    moving up. Returns the session with its new counts."""
    now = utcnow()
    participant = await _viewer_person(viewer_id, viewer)
    async with _unit_of_work(effects) as events:
        found = await _visible_session(session_id, viewer_id, viewer_roles, lock=True)
        session, registration = found.session, found.viewer_registration
        if registration is None:
            raise DomainError.of(ErrorCode.NOT_REGISTERED, "You are not registered for this session.", ("input", "id"))
        if registration.is_host:
            raise DomainError.of(
                ErrorCode.HOST_CANNOT_LEAVE, "The host cannot leave; cancel the session instead.", ("input", "id")
            )
        if session.status == SessionStatus.CANCELLED:
            raise DomainError.of(ErrorCode.SESSION_CANCELLED, "This session was cancelled.", ("input", "id"))
        if session.starts_at <= now:
            raise DomainError.of(ErrorCode.SESSION_STARTED, "This session has already started.", ("input", "id"))
        # The session row is locked (above): nothing changes this session's registrations
        # until we commit, so the status the DELETE returns is the one that counts (the one
        # read along with the session may predate a promotion we waited for).
        status = await repository.withdraw_registration(registration.id)
        if status is None:  # withdrawn concurrently
            raise DomainError.of(ErrorCode.NOT_REGISTERED, "You are not registered for this session.", ("input", "id"))
        removal_at = len(events)
        if status == RegistrationStatus.WAITLISTED:
            # Leaving the line frees no seat; those behind move up (positions are ranks).
            session = await repository.update_session(
                GroupSession.filter(id=session.id), waitlist_count=F("waitlist_count") - 1
            )
        else:
            session = await release_seat(session, found.host, events, now=now)
        # Before any promotion it caused, so the host reads "left" then "promoted".
        events.insert(
            removal_at,
            RegistrationRemoved(
                session=SessionSnapshot.of(session, found.host),
                registration_id=registration.id,
                participant=participant,
                is_host=registration.is_host,
                registered_at=registration.registered_at,
                occurred_at=now,
                status=status,
                waitlisted_at=registration.waitlisted_at,
            ),
        )
    return session
