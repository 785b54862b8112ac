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
from zoneinfo import ZoneInfo

from tortoise.exceptions import IntegrityError
from tortoise.expressions import F, Q
from tortoise.transactions import in_transaction

from app.accounts.models import ProgramRole
from app.accounts.services import is_valid_time_zone, role_in_program
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
    MinimumReached,
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
    IdempotencyKey,
    InvitationSent,
    InvitationStatus,
    Registration,
    RegistrationStatus,
    SessionStatus,
)
from app.group_sessions.repository import SessionForCommand

_NOT_FOUND_MESSAGE = "This session could not be found."
DEFAULT_IDEMPOTENCY_KEY_TTL = timedelta(hours=24)
# How long before its start a session's minimum is decided (Settings.minimum_decision_lead,
# which the API passes; this default is for scripts and tests that do not).
DEFAULT_MINIMUM_DECISION_LEAD = timedelta(hours=24)


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


def _phase(session: GroupSession, now: datetime) -> rules.SessionPhase:
    return rules.session_phase(
        is_cancelled=session.status == SessionStatus.CANCELLED,
        starts_at=session.starts_at,
        ends_at=session.ends_at,
        now=now,
    )


def _refusal(code: ErrorCode | None, messages: Mapping[ErrorCode, str], field: tuple[str, ...] | None = None) -> None:
    """Raise the refusal a rule gave (None: nothing to refuse)."""
    if code is not None:
        raise DomainError.of(code, messages[code], field)


class _KeyTaken(Exception):
    """A concurrent create with the same idempotency key committed first."""


async def _session_for_key(viewer_id: int, key: str, fingerprint: str, now: datetime) -> GroupSession | None:
    """The session an earlier create with this key made, as it is now; None when the key
    is new to this viewer or expired. The same key with other input is refused."""
    remembered = await (
        IdempotencyKey.filter(user_id=viewer_id, key=key, expires_at__gt=now).select_related("session").first()
    )
    if remembered is None:
        return None
    if remembered.fingerprint != fingerprint:
        raise DomainError.of(
            ErrorCode.IDEMPOTENCY_KEY_REUSED,
            "This request was already sent with other details; reload the form and try again.",
            ("input", "idempotencyKey"),
        )
    return remembered.session


async def _fill_freed_seats(
    session: GroupSession, host: Person, events: list[Event], *, now: datetime
) -> GroupSession:
    """After a command freed seats of `session` (the row as its own write left it, in its
    transaction): the first in line take them at once, each told by a `Promoted` event.
    Every way of freeing a seat goes through here. Returns the session as it is after."""
    session, promotions = await repository.fill_from_waitlist(session, now=now)
    snapshot = SessionSnapshot.of(session, host) if promotions else None
    change: dict = {}
    for promotion in promotions:
        registration = promotion.registration
        change = dict(
            registration_id=registration.id,
            participant=promotion.participant,
            is_host=False,
            registered_at=registration.registered_at,
            occurred_at=now,
            status=RegistrationStatus.CONFIRMED,
            waitlisted_at=registration.waitlisted_at,
        )
        events.append(Promoted(session=snapshot, **change))
    if promotions:
        # A promotion that brings the session to its minimum announces it, as a join does.
        reached = await _note_minimum_reached(session, now)
        if reached is not None:
            session = reached
            events.append(MinimumReached(session=SessionSnapshot.of(session, host), **change))
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
            problems.append(Problem(ErrorCode.NOT_A_MEMBER, "Guests must be members of this program.", at))
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
    time_zone: str
    meeting_url: str | None = None
    join_instructions: str | None = None


def _optional_text(value: str | None) -> str | None:
    """Cleaned text, or None for nothing (an empty string clears an optional field)."""
    if value is None:
        return None
    return rules.clean_text(value) or None


@dataclass(frozen=True)
class Start:
    """The start a command was given, resolved: the instant (None when it could not be
    resolved, `problems` say why), the session's zone, and which input field carried
    the start (startsAt or startsAtLocal; None when neither was given)."""

    starts_at: datetime | None
    time_zone: str
    field: str | None
    problems: tuple[Problem, ...] = ()


def _resolve_start(
    *,
    starts_at: datetime | None,
    starts_at_local: datetime | None,
    time_zone: str | None,
    current_zone: str,
    required: bool,
    current_start: datetime | None = None,
) -> Start:
    """`starts_at` (an instant) or `starts_at_local` (a naive wall-clock time) read in the
    zone: `time_zone` when given (it must be an IANA name), else `current_zone`. At most
    one of the two starts may be given; exactly one when `required` (create).

    A wall-clock time the clocks pass twice is refused, unless one of its two instants is
    `current_start` (an edit form sending the start back as it showed it)."""
    problems: list[Problem] = []
    zone = current_zone
    if time_zone is not None:
        if is_valid_time_zone(time_zone):
            zone = time_zone
        else:
            problems.append(
                Problem(
                    ErrorCode.INVALID,
                    "Time zone must be an IANA time zone name, such as Europe/Paris.",
                    ("input", "timeZone"),
                )
            )
    if starts_at is not None and starts_at_local is not None:
        problems.append(
            Problem(
                ErrorCode.INVALID,
                "Give the start time once: as an instant (startsAt) or as a local time (startsAtLocal), not both.",
                ("input", "startsAtLocal"),
            )
        )
        return Start(None, zone, None, tuple(problems))
    if starts_at is not None:
        return Start(starts_at, zone, "startsAt", tuple(problems))
    if starts_at_local is None:
        if required:
            problems.append(Problem(ErrorCode.REQUIRED, "Start time is required.", ("input", "startsAt")))
        return Start(None, zone, None, tuple(problems))
    if problems:  # no zone to read the local time in
        return Start(None, zone, "startsAtLocal", tuple(problems))
    resolved = rules.local_to_instant(starts_at_local, ZoneInfo(zone))
    if isinstance(resolved, Problem) and resolved.code == ErrorCode.AMBIGUOUS_LOCAL_TIME and current_start:
        if current_start in rules.local_instants(starts_at_local, ZoneInfo(zone)):
            return Start(current_start, zone, "startsAtLocal")
    if isinstance(resolved, Problem):
        return Start(None, zone, "startsAtLocal", (resolved,))
    return Start(resolved, zone, "startsAtLocal")


def _validate(
    *,
    title: str,
    objective: str,
    min_participants: int,
    max_participants: int,
    starts_at: datetime | None,
    duration_minutes: int,
    time_zone: str,
    now: datetime,
    check_start: bool,
    meeting_url: str | None = None,
    join_instructions: str | None = None,
    start: Start | None = None,
) -> SessionFields:
    """The fields cleaned and checked, every problem at once (those of `start` included);
    `starts_at` is None only when `start` has problems."""
    title = rules.clean_text(title)
    objective = rules.clean_text(objective)
    meeting_url = _optional_text(meeting_url)
    join_instructions = _optional_text(join_instructions)
    start_field = (start.field if start else None) or "startsAt"
    problems = [
        *rules.check_text(title, "title", rules.TITLE_MAX),
        *(rules.check_title_single_line(title) if title else []),
        *rules.check_text(objective, "objective", rules.OBJECTIVE_MAX),
        *rules.check_participant_bounds(min_participants, max_participants),
        *(start.problems if start else ()),
        *(rules.check_starts_at(starts_at, now, field=start_field) if check_start and starts_at is not None else []),
        *rules.check_duration(duration_minutes),
        *(rules.check_meeting_url(meeting_url) if meeting_url else []),
        *rules.check_text(join_instructions, "joinInstructions", rules.JOIN_INSTRUCTIONS_MAX, required=False),
    ]
    if problems:
        raise DomainError(*problems)
    assert starts_at is not None
    return SessionFields(
        title,
        objective,
        min_participants,
        max_participants,
        starts_at,
        duration_minutes,
        time_zone,
        meeting_url,
        join_instructions,
    )


async def create_group_session(
    *,
    viewer_id: int,
    program_id: int,
    title: str,
    objective: str,
    duration_minutes: int,
    starts_at: datetime | None = None,
    starts_at_local: datetime | None = None,
    time_zone: str | None = None,
    min_participants: int | None = None,
    max_participants: int | None = None,
    guest_ids: Sequence[int] = (),
    meeting_url: str | None = None,
    join_instructions: str | None = None,
    idempotency_key: str | None = None,
    idempotency_key_ttl: timedelta = DEFAULT_IDEMPOTENCY_KEY_TTL,
    cancel_if_minimum_not_reached: bool = True,
    minimum_decision_lead: timedelta = DEFAULT_MINIMUM_DECISION_LEAD,
    viewer: Person | None = None,
    viewer_roles: Mapping[int, ProgramRole] | None = None,
    now: datetime | None = None,
    effects: Effects,
) -> GroupSession:
    """Create a session hosted by the viewer, who is registered at once. Without a
    `meeting_url` of the host's own, the session gets a generated room.

    Only mentors and admins of the program may host (FORBIDDEN); outsiders get NOT_FOUND.

    With an `idempotency_key`, the viewer's first create with that key (within
    `idempotency_key_ttl`) is the only one: sent again with the same input it returns that
    session as it is now and changes nothing (no row, email or event); with other input
    it is refused with IDEMPOTENCY_KEY_REUSED. The key is written in the create's own
    transaction, so of concurrent creates with one key exactly one commits; the others
    return its session.

    The start is `starts_at` (an instant) or `starts_at_local` (a naive wall-clock time in
    the session's zone), exactly one of them. The session's zone is `time_zone`, or the
    host's own when None.

    Its minimum is decided at `rules.minimum_deadline` (`minimum_decision_lead` before the
    start): cancelled if still short, when `cancel_if_minimum_not_reached`.
    """
    now = now or utcnow()
    role = await role_in_program(viewer_id, program_id, roles=viewer_roles)
    if role is None:
        raise DomainError.of(ErrorCode.NOT_FOUND, "This program could not be found.", ("input", "programId"))
    if not rules.may_host(role):
        raise DomainError.of(ErrorCode.FORBIDDEN, "Only mentors and admins of this program can host sessions.")
    host = await _viewer_person(viewer_id, viewer)
    fingerprint = ""
    if idempotency_key is not None:
        key_problems = rules.check_idempotency_key(idempotency_key)
        if key_problems:
            raise DomainError(*key_problems)
        fingerprint = rules.input_fingerprint(
            {
                "program_id": program_id,
                "title": title,
                "objective": objective,
                "starts_at": starts_at,
                "starts_at_local": starts_at_local,
                "time_zone": time_zone,
                "duration_minutes": duration_minutes,
                "min_participants": min_participants,
                "max_participants": max_participants,
                "guest_ids": sorted(guest_ids),  # a list of people: their order means nothing
                "meeting_url": meeting_url,
                "join_instructions": join_instructions,
                "cancel_if_minimum_not_reached": cancel_if_minimum_not_reached,
            }
        )
        # Before validation: a retry after the start time still gets its session.
        earlier = await _session_for_key(viewer_id, idempotency_key, fingerprint, now)
        if earlier is not None:
            return earlier
    start = _resolve_start(
        starts_at=starts_at,
        starts_at_local=starts_at_local,
        time_zone=time_zone,
        current_zone=host.time_zone if is_valid_time_zone(host.time_zone) else "UTC",
        required=True,
    )
    fields = _validate(
        title=title,
        objective=objective,
        min_participants=rules.DEFAULT_MIN_PARTICIPANTS if min_participants is None else min_participants,
        max_participants=rules.DEFAULT_MAX_PARTICIPANTS if max_participants is None else max_participants,
        starts_at=start.starts_at,
        duration_minutes=duration_minutes,
        time_zone=start.time_zone,
        now=now,
        check_start=True,
        meeting_url=meeting_url,
        join_instructions=join_instructions,
        start=start,
    )
    guests = await _check_guests(program_id, viewer_id, guest_ids)
    try:
        session = await _create(
            viewer_id=viewer_id,
            program_id=program_id,
            fields=fields,
            guests=guests,
            host=host,
            idempotency_key=idempotency_key,
            fingerprint=fingerprint,
            expires_at=now + idempotency_key_ttl,
            cancel_if_minimum_not_reached=cancel_if_minimum_not_reached,
            minimum_decision_lead=minimum_decision_lead,
            now=now,
            effects=effects,
        )
    except _KeyTaken:
        # Our transaction rolled back whole; the winner's session is the answer.
        earlier = await _session_for_key(viewer_id, idempotency_key or "", fingerprint, now)
        if earlier is None:  # the winner's key expired already: only with an absurdly short TTL
            raise DomainError.of(
                ErrorCode.IDEMPOTENCY_KEY_REUSED,
                "This request is being handled already; try again in a moment.",
                ("input", "idempotencyKey"),
            ) from None
        return earlier
    return session


async def _create(
    *,
    viewer_id: int,
    program_id: int,
    fields: SessionFields,
    guests: list[Person],
    host: Person,
    idempotency_key: str | None,
    fingerprint: str,
    expires_at: datetime,
    cancel_if_minimum_not_reached: bool,
    minimum_decision_lead: timedelta,
    now: datetime,
    effects: Effects,
) -> GroupSession:
    """The rows of a new session (and its idempotency key), in one transaction."""
    async with _unit_of_work(effects) as events:
        session = await GroupSession.create(
            program_id=program_id,
            host_id=viewer_id,
            title=fields.title,
            objective=fields.objective,
            starts_at=fields.starts_at,
            ends_at=fields.starts_at + timedelta(minutes=fields.duration_minutes),
            duration_minutes=fields.duration_minutes,
            time_zone=fields.time_zone,
            min_participants=fields.min_participants,
            max_participants=fields.max_participants,
            participant_count=1,
            meeting_url=fields.meeting_url,
            join_instructions=fields.join_instructions,
            room_name=rooms.new_room_name(),
            cancel_if_minimum_not_reached=cancel_if_minimum_not_reached,
            minimum_deadline=rules.minimum_deadline(fields.starts_at, now, minimum_decision_lead),
            # The host alone may be enough: reached from the start, nothing to announce.
            minimum_reached_at=now if fields.min_participants <= 1 else None,
        )
        await Registration.create(session=session, user_id=viewer_id, is_host=True)
        if guests:
            await Guest.bulk_create([Guest(session=session, user_id=g.id) for g in guests])
            await InvitationSent.bulk_create([InvitationSent(session=session, user_id=g.id) for g in guests])
        if idempotency_key is not None:
            # The viewer's expired keys go first (this one among them, if it expired).
            await IdempotencyKey.filter(user_id=viewer_id, expires_at__lte=now).delete()
            try:
                await IdempotencyKey.create(
                    user_id=viewer_id,
                    key=idempotency_key,
                    fingerprint=fingerprint,
                    session_id=session.id,
                    created_at=now,
                    expires_at=expires_at,
                )
            except IntegrityError:
                raise _KeyTaken() from None
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
    starts_at_local: datetime | None = None,
    time_zone: str | None = None,
    duration_minutes: int | None = None,
    guest_ids: Sequence[int] | None = None,
    meeting_url: str | None = None,
    join_instructions: str | None = None,
    cancel_if_minimum_not_reached: bool | None = None,
    minimum_decision_lead: timedelta = DEFAULT_MINIMUM_DECISION_LEAD,
    viewer_roles: Mapping[int, ProgramRole] | None = None,
    now: datetime | None = None,
    effects: Effects,
) -> GroupSession:
    """Edit a session (host only, until it ends; its start only until it starts).
    Arguments left as None stay as they are; `guest_ids` replaces the guest list; an empty
    `meeting_url` goes back to the generated room, an empty `join_instructions` removes them.
    maxParticipants may not drop below the participant count, checked in the UPDATE
    itself so a concurrent join cannot slip under it. Returns the session as it is after
    the edit.

    A new start is `starts_at` or `starts_at_local` (at most one), the latter read in the
    new `time_zone` when given, else in the session's. A new zone without a new start
    keeps the start instant as it is (its wall-clock time in the new zone may differ).

    A new start moves the minimum's decision (`rules.minimum_deadline`, judged from now); a
    minimum the count already meets is reached, silently (the host made it so); one raised
    above the count is announced (MINIMUM_REACHED) by the join that reaches it."""
    now = now or utcnow()
    async with _unit_of_work(effects) as events:
        found = await _visible_session(session_id, viewer_id, viewer_roles, lock=True)
        session = found.session
        phase, is_host = _phase(session, now), session.host_id == viewer_id
        _refusal(rules.cannot_edit_reason(is_host=is_host, phase=phase), rules.EDIT_REFUSAL_MESSAGES)
        start = _resolve_start(
            starts_at=starts_at,
            starts_at_local=starts_at_local,
            time_zone=time_zone,
            current_zone=session.time_zone,
            required=False,
            current_start=session.starts_at,
        )
        if start.field is not None and start.starts_at is None:
            # The start given names no instant: that is all there is to say about it.
            raise DomainError(*start.problems)
        starts_at = start.starts_at
        if starts_at is not None and starts_at != session.starts_at:
            _refusal(
                rules.cannot_reschedule_reason(is_host=is_host, phase=phase),
                rules.RESCHEDULE_REFUSAL_MESSAGES,
                ("input", start.field or "startsAt"),
            )
        fields = _validate(
            title=session.title if title is None else title,
            objective=session.objective if objective is None else objective,
            min_participants=session.min_participants if min_participants is None else min_participants,
            max_participants=session.max_participants if max_participants is None else max_participants,
            starts_at=session.starts_at if starts_at is None else starts_at,
            duration_minutes=session.duration_minutes if duration_minutes is None else duration_minutes,
            time_zone=start.time_zone,
            now=now,
            check_start=starts_at is not None and starts_at != session.starts_at,
            meeting_url=session.meeting_url if meeting_url is None else meeting_url,
            join_instructions=session.join_instructions if join_instructions is None else join_instructions,
            start=start,
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
            session.time_zone,
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
        if cancel_if_minimum_not_reached is not None and (
            cancel_if_minimum_not_reached != session.cancel_if_minimum_not_reached
        ):
            changed.append("cancel_if_minimum_not_reached")
        minimum = {}
        if time_changed:
            minimum["minimum_deadline"] = rules.minimum_deadline(fields.starts_at, now, minimum_decision_lead)
        if session.participant_count >= fields.min_participants:
            if session.minimum_reached_at is None:
                minimum["minimum_reached_at"] = now
        elif fields.min_participants != session.min_participants:
            # A new minimum above the count: the join that reaches it is announced.
            minimum["minimum_reached_at"] = None

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
                time_zone=fields.time_zone,
                sequence=session.sequence + (1 if time_changed else 0),
                updated_at=now,
                cancel_if_minimum_not_reached=(
                    session.cancel_if_minimum_not_reached
                    if cancel_if_minimum_not_reached is None
                    else cancel_if_minimum_not_reached
                ),
                **minimum,
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
    now: datetime | None = None,
    effects: Effects,
) -> GroupSession:
    """Cancel a session (host only, until it ends). Registrations stay, so everyone
    registered can be told. Returns the cancelled session."""
    now = now or utcnow()
    cleaned_reason = rules.clean_text(reason) if reason is not None else None
    if cleaned_reason and len(cleaned_reason) > rules.REASON_MAX:
        raise DomainError.of(
            ErrorCode.TOO_LONG, f"Reason must be at most {rules.REASON_MAX:,} characters.", ("input", "reason")
        )
    async with _unit_of_work(effects) as events:
        found = await _visible_session(session_id, viewer_id, viewer_roles, lock=True)
        session = found.session
        _refusal(
            rules.cannot_cancel_reason(is_host=session.host_id == viewer_id, phase=_phase(session, now)),
            rules.CANCEL_REFUSAL_MESSAGES,
        )
        cancelled = await cancel_in_transaction(found, reason=cleaned_reason or None, now=now, events=events)
        if cancelled is None:
            _refusal(ErrorCode.SESSION_CANCELLED, rules.CANCEL_REFUSAL_MESSAGES)
    return cancelled


async def cancel_in_transaction(
    found: SessionForCommand, *, reason: str | None, now: datetime, events: list, automatic: bool = False
) -> GroupSession | None:
    """The cancellation itself, inside the caller's transaction, the session row locked
    (`found`): the row marked CANCELLED and the GroupSessionCancelled event appended to
    `events` (everyone registered is told). Returns the cancelled row, or None when it
    was cancelled already. The host's cancelGroupSession and the minimum's decision
    (`automatic`) both cancel through here."""
    session = found.session
    cancelled = await repository.update_session(
        GroupSession.filter(id=session.id, status=SessionStatus.SCHEDULED),
        status=SessionStatus.CANCELLED,
        cancellation_reason=reason,
        cancelled_at=now,
        sequence=session.sequence + 1,
        updated_at=now,
    )
    if cancelled is None:
        return None
    registered = await repository.registered_people(session.id)
    events.append(
        GroupSessionCancelled(
            session=SessionSnapshot.of(cancelled, found.host),
            reason=reason,
            registered=tuple(registered),
            occurred_at=now,
            automatic=automatic,
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


def _full(field: tuple[str, ...] = ("input", "id")) -> DomainError:
    return DomainError.of(ErrorCode.SESSION_FULL, rules.JOIN_REFUSAL_MESSAGES[ErrorCode.SESSION_FULL], field)


async def _seat_update(session_id: int, now: datetime) -> GroupSession | None:
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


async def _take_seat(
    found: SessionForCommand,
    participant: Person,
    events: list[Event],
    now: datetime,
    *,
    waitlist: bool = False,
    field: tuple[str, ...] = ("input", "id"),
) -> tuple[Registration, GroupSession]:
    """The join itself, inside the caller's unit of work: refuse as the join rules say
    (at `field`), take a seat with the conditional UPDATE (or, with `waitlist`, a place at
    the end of a full session's waitlist), write the registration, mark an invited viewer
    as having accepted, and record RegistrationAdded (or Waitlisted), and MinimumReached
    when this seat reached the minimum."""
    session_id, viewer_id = found.session.id, participant.id
    refusal = _join_refusal(found.session, is_registered=found.viewer_registration is not None, now=now, field=field)
    looks_full = refusal is not None and refusal.problems[0].code == ErrorCode.SESSION_FULL
    if refusal and not (waitlist and looks_full):
        raise refusal
    # Seats and the line change under us between the read and the write: try the likelier
    # one first, then the other, a bounded number of times.
    attempts = [_join_line, _seat_update] if looks_full else [_seat_update, _join_line]
    session, status = None, RegistrationStatus.CONFIRMED
    for attempt in (attempts * 2) if waitlist else attempts[:1]:
        session = await attempt(session_id, now)
        if session is not None:
            status = RegistrationStatus.WAITLISTED if attempt is _join_line else RegistrationStatus.CONFIRMED
            break
    if session is None:
        fresh = await GroupSession.get(id=session_id)
        raise _join_refusal(fresh, is_registered=False, now=now, field=field) or _full(field)
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
            ErrorCode.ALREADY_REGISTERED, rules.JOIN_REFUSAL_MESSAGES[ErrorCode.ALREADY_REGISTERED], field
        ) from None
    change = dict(
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
        events.append(Waitlisted(session=SessionSnapshot.of(session, found.host), **change, position=session.waitlist_count))
        return registration, session
    await _answer(found, InvitationStatus.ACCEPTED, now)
    events.append(RegistrationAdded(session=SessionSnapshot.of(session, found.host), **change))
    reached = await _note_minimum_reached(session, now)
    if reached is not None:
        session = reached
        events.append(MinimumReached(session=SessionSnapshot.of(session, found.host), **change))
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
    as the leave rules say (at `field`), withdraw the registration, then give the seat to
    the first on the waitlist (or, for a waitlisted viewer, close up the line), mark an
    invited viewer as having declined, and record RegistrationRemoved (before any Promoted
    it caused, so the host reads "left" then "promoted")."""
    session, registration = found.session, found.viewer_registration
    _refusal(
        rules.cannot_leave_reason(
            is_registered=registration is not None,
            is_host=registration is not None and registration.is_host,
            phase=_phase(session, now),
        ),
        rules.LEAVE_REFUSAL_MESSAGES,
        field,
    )
    assert registration is not None  # refused above otherwise
    # The session row is locked: nothing changes this session's registrations until we
    # commit, so the status the DELETE returns is the one that counts (the one read along
    # with the session may predate a promotion we waited for).
    status = await repository.withdraw_registration(registration.id)
    if status is None:  # withdrawn concurrently
        _refusal(ErrorCode.NOT_REGISTERED, rules.LEAVE_REFUSAL_MESSAGES, field)
    removal_at = len(events)
    if status == RegistrationStatus.WAITLISTED:
        # Leaving the line frees no seat; those behind move up (positions are ranks).
        session = await repository.update_session(
            GroupSession.filter(id=session.id), waitlist_count=F("waitlist_count") - 1
        )
    else:
        session = await release_seat(session, found.host, events, now=now)
    await _answer(found, InvitationStatus.DECLINED, now)
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


async def join_group_session(
    *,
    viewer_id: int,
    session_id: int,
    waitlist: bool = False,
    viewer: Person | None = None,
    viewer_roles: Mapping[int, ProgramRole] | None = None,
    now: datetime | None = None,
    effects: Effects,
) -> tuple[Registration, GroupSession]:
    """Register the viewer; returns the registration and the session with its new counts.
    Any member of the program may join until the start, while seats are left. The seat is
    taken by a conditional UPDATE that returns the row only when it took one, so two
    writers can never both take the last one, on any database and any number of processes.
    An invited viewer who joins has accepted the invitation.

    With `waitlist`, a full session puts the viewer at the end of its waitlist instead of
    refusing with SESSION_FULL: the registration is WAITLISTED, and the first seat that
    frees goes to the first in line (see `release_seat`). Either way it is one conditional
    UPDATE of the session row, so joins, leaves and promotions on one session are
    serialized on that row and the line keeps the order in which they got there."""
    now = now or utcnow()
    participant = await _viewer_person(viewer_id, viewer)
    async with _unit_of_work(effects) as events:
        found = await _visible_session(session_id, viewer_id, viewer_roles)
        registration, session = await _take_seat(found, participant, events, now, waitlist=waitlist)
    return registration, session


async def _note_minimum_reached(session: GroupSession, now: datetime) -> GroupSession | None:
    """When `session` (as a change left it, in that change's transaction) has just
    reached its minimum for the first time: records it and returns the row after that;
    None otherwise. Once per session: leaving and joining again announces nothing."""
    if session.minimum_reached_at is not None or session.participant_count < session.min_participants:
        return None
    return await repository.update_session(
        GroupSession.filter(id=session.id, minimum_reached_at__isnull=True), minimum_reached_at=now
    )


async def leave_group_session(
    *,
    viewer_id: int,
    session_id: int,
    viewer: Person | None = None,
    viewer_roles: Mapping[int, ProgramRole] | None = None,
    now: datetime | None = None,
    effects: Effects,
) -> tuple[Registration, GroupSession]:
    """Withdraw the viewer's registration (not the host's) and free the seat, until the
    start; returns the registration as it was before it was withdrawn and the session with
    its new counts. An invited viewer who leaves has declined the invitation."""
    now = now or utcnow()
    participant = await _viewer_person(viewer_id, viewer)
    async with _unit_of_work(effects) as events:
        found = await _visible_session(session_id, viewer_id, viewer_roles, lock=True)
        registration = found.viewer_registration
        session = await _free_seat(found, participant, events, now)
    assert registration is not None  # _free_seat refuses otherwise
    return registration, session


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
    now: datetime | None = None,
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
    now = now or utcnow()
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


async def forget_expired_idempotency_keys(*, now: datetime | None = None) -> int:
    """Delete every idempotency key that expired (lookups ignore them already; this keeps
    the table to the last IDEMPOTENCY_KEY_TTL of creates). Returns how many went."""
    return await IdempotencyKey.filter(expires_at__lte=now or utcnow()).delete()
