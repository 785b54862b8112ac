"""The rows a command reads and writes, each in one statement.

A command reads its session once, with the host and the viewer's registration along,
and writes with a conditional UPDATE that returns the row as it is after the change:
no command reads its session a second time, and the counts it reports are exactly
those its own change left (a concurrent join on another connection cannot slip in
between a write and a re-read, because there is no re-read).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pypika_tortoise import Table
from tortoise.expressions import F, Q
from tortoise.queryset import QuerySet

from app.accounts.models import User
from app.db import sql_parameter
from app.group_sessions import rules
from app.group_sessions.events import Person
from app.group_sessions.models import GroupSession, Guest, InvitationStatus, Registration, RegistrationStatus, SessionStatus

_PERSON_COLUMNS = ("id", "name", "email", "time_zone")


def _columns(model: Any) -> list[str]:
    return list(model._meta.fields_db_projection.values())


@dataclass(frozen=True)
class SessionForCommand:
    session: GroupSession
    host: Person
    # The viewer's registration for this session, when they have one.
    viewer_registration: Registration | None
    # The viewer's place on the guest list (with their answer), when they are invited.
    viewer_guest: Guest | None = None


async def session_for_command(session_id: int, viewer_id: int, *, lock: bool = False) -> SessionForCommand | None:
    """The session with its host, the viewer's registration and the viewer's invitation
    (guest row), in one statement; None
    when there is no such session. `lock` takes the session row FOR UPDATE (PostgreSQL;
    SQLite serializes writers anyway) so commands on one session queue on it."""
    db = GroupSession._meta.db
    s, h, r = Table("group_session").as_("s"), Table("user").as_("h"), Table("registration").as_("r")
    g = Table("guest").as_("g")
    query = (
        db.query_class.from_(s)
        .join(h)
        .on(h.id == s.host_id)
        .left_join(r)
        .on((r.session_id == s.id) & (r.user_id == viewer_id))
        .left_join(g)
        .on((g.session_id == s.id) & (g.user_id == viewer_id))
        .select(
            *(s.field(c) for c in _columns(GroupSession)),
            *(h.field(c).as_(f"h_{c}") for c in _PERSON_COLUMNS),
            r.id.as_("r_id"),
            r.is_host.as_("r_is_host"),
            r.registered_at.as_("r_registered_at"),
            g.id.as_("g_id"),
            g.invited_at.as_("g_invited_at"),
            g.status.as_("g_status"),
            g.responded_at.as_("g_responded_at"),
            r.status.as_("r_status"),
            r.waitlisted_at.as_("r_waitlisted_at"),
        )
        .where(s.id == session_id)
    )
    if lock and db.capabilities.support_for_update:
        query = query.for_update(of=("s",))
    rows = await db.execute_query_dict(*query.get_parameterized_sql())
    if not rows:
        return None
    row = rows[0]
    session = GroupSession._init_from_db(**{c: row[c] for c in _columns(GroupSession)})
    registration = None
    if row["r_id"] is not None:
        registration = Registration._init_from_db(
            id=row["r_id"],
            session_id=session.id,
            user_id=viewer_id,
            is_host=row["r_is_host"],
            registered_at=row["r_registered_at"],
            status=row["r_status"],
            waitlisted_at=row["r_waitlisted_at"],
        )
    guest = None
    if row["g_id"] is not None:
        guest = Guest._init_from_db(
            id=row["g_id"],
            session_id=session.id,
            user_id=viewer_id,
            invited_at=row["g_invited_at"],
            status=InvitationStatus(row["g_status"]),
            responded_at=row["g_responded_at"],
        )
    host = Person(**{c: row[f"h_{c}"] for c in _PERSON_COLUMNS})
    return SessionForCommand(session, host, registration, guest)


async def update_session(query: QuerySet[GroupSession], **changes: Any) -> GroupSession | None:
    """UPDATE the one session `query` selects with `changes` (values or F expressions, as
    for `QuerySet.update`) and return the row as it is after the UPDATE, in one statement
    (UPDATE ... RETURNING, on SQLite >= 3.35 and PostgreSQL); None when `query`'s
    conditions held for no row, which then is unchanged."""
    update = query.update(**changes)
    # Tortoise's UpdateQuery builds the statement (filters, F expressions, value
    # conversion) but has no RETURNING: build it as Tortoise would and add one.
    update._choose_db_if_not_chosen(True)
    update._make_query()
    sql, values = update.query.returning(*_columns(GroupSession)).get_parameterized_sql()
    rows = await update._db.execute_query_dict(sql, values)
    return GroupSession._init_from_db(**rows[0]) if rows else None


async def person(user_id: int) -> Person:
    """The user as a person (for callers that do not have them at hand)."""
    values = await User.filter(id=user_id).values(*_PERSON_COLUMNS)
    return Person(**values[0])


async def members(program_id: int, user_ids: list[int]) -> dict[int, Person]:
    """Those of `user_ids` who are members of the program, as people, by id."""
    found = await User.filter(id__in=user_ids, memberships__program_id=program_id).values(*_PERSON_COLUMNS)
    return {values["id"]: Person(**values) for values in found}


async def registrants(session_id: int) -> list[tuple[Person, RegistrationStatus]]:
    """Everyone registered for the session or on its waitlist, with their status, in order
    of registration (the host first)."""
    found = await (
        Registration.filter(session_id=session_id)
        .order_by("id")
        .values("status", *(f"user__{c}" for c in _PERSON_COLUMNS))
    )
    return [
        (Person(**{c: values[f"user__{c}"] for c in _PERSON_COLUMNS}), RegistrationStatus(values["status"]))
        for values in found
    ]


async def registered_people(session_id: int) -> list[Person]:
    """Everyone registered for the session, in order of registration (the host first),
    those on its waitlist included."""
    found = await (
        Registration.filter(session_id=session_id)
        .order_by("id")
        .values(*(f"user__{c}" for c in _PERSON_COLUMNS))
    )
    return [Person(**{c: values[f"user__{c}"] for c in _PERSON_COLUMNS}) for values in found]


# --- the waitlist ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Promotion:
    """A waitlisted registration that got a seat: the row as it is now (CONFIRMED), and
    its participant."""

    registration: Registration
    participant: Person


async def withdraw_registration(registration_id: int) -> RegistrationStatus | None:
    """DELETE the registration and return the status it had (None: it was gone already),
    in one statement. The status a command read with its session may be stale on
    PostgreSQL (a promotion committed while it waited for the session's lock re-checks the
    locked session row, not the joined registration); this one, read under that lock, is not."""
    db = Registration._meta.db
    sql = f'DELETE FROM "registration" WHERE "id" = {sql_parameter(db, 1)} RETURNING "status"'
    rows = await db.execute_query_dict(sql, [registration_id])
    return RegistrationStatus(rows[0]["status"]) if rows else None


def seats_to_fill(session: GroupSession, now: datetime) -> int:
    """How many of the waitlisted the session can take now: none once it has started or
    is cancelled; else the free seats, at most as many as wait."""
    if session.status != SessionStatus.SCHEDULED or session.starts_at <= now:
        return 0
    return min(rules.spots_left(session.participant_count, session.max_participants), session.waitlist_count)


async def fill_from_waitlist(session: GroupSession, *, now: datetime) -> tuple[GroupSession, list[Promotion]]:
    """Give every free seat of `session` to the first in line, in order of
    (waitlisted_at, id); returns the session as it is after and the promotions, in line
    order. `session` must be the row as the caller's own write left it, in the caller's
    transaction: that write holds the row (PostgreSQL row lock; SQLite's one writer) until
    commit, so nobody joins, leaves or is promoted in between.

    Every command that frees a seat calls this (leaving, raising maxParticipants, a guest
    declining), so a seat is never left free while someone waits. Costs nothing when
    nobody waits; otherwise two UPDATEs and one SELECT. The session UPDATE is conditional
    like a join's (never beyond maxParticipants, never after the start or a
    cancellation), and the registrations UPDATE must promote exactly as many as it
    did: anything else rolls the whole command back."""
    wanted = seats_to_fill(session, now)
    if wanted <= 0:
        return session, []
    updated = await update_session(
        GroupSession.filter(
            id=session.id,
            status=SessionStatus.SCHEDULED,
            starts_at__gt=now,
            waitlist_count__gte=wanted,
            participant_count__lte=F("max_participants") - wanted,
        ),
        participant_count=F("participant_count") + wanted,
        waitlist_count=F("waitlist_count") - wanted,
    )
    if updated is None:
        raise RuntimeError(f"session {session.id} changed under its own lock while promoting from the waitlist")
    db = Registration._meta.db
    p = [sql_parameter(db, i) for i in (1, 2, 3, 4)]
    sql = (
        f'UPDATE "registration" SET "status" = {p[0]} WHERE "id" IN ('
        f'SELECT "id" FROM "registration" WHERE "session_id" = {p[1]} AND "status" = {p[2]} '
        f'ORDER BY "waitlisted_at", "id" LIMIT {p[3]}) '
        'RETURNING "id", "user_id", "is_host", "registered_at", "waitlisted_at"'
    )
    rows = await db.execute_query_dict(
        sql, [RegistrationStatus.CONFIRMED.value, session.id, RegistrationStatus.WAITLISTED.value, wanted]
    )
    if len(rows) != wanted:
        raise RuntimeError(f"session {session.id}: waitlist_count says {wanted} wait, {len(rows)} found")
    registrations = sorted(
        (
            Registration._init_from_db(session_id=session.id, status=RegistrationStatus.CONFIRMED.value, **row)
            for row in rows
        ),
        key=lambda r: (r.waitlisted_at, r.id),
    )
    found = await User.filter(id__in=[r.user_id for r in registrations]).values(*_PERSON_COLUMNS)
    people = {values["id"]: Person(**values) for values in found}
    return updated, [Promotion(r, people[r.user_id]) for r in registrations]


async def waitlist_positions(registrations: list[Registration]) -> dict[int, int]:
    """The 1-based place in line of each WAITLISTED registration, by registration id: one
    more than those ahead of it in (waitlisted_at, id) order, one statement per registration."""
    positions = {}
    for registration in registrations:
        if registration.status != RegistrationStatus.WAITLISTED or registration.waitlisted_at is None:
            continue
        ahead = await Registration.filter(
            session_id=registration.session_id, status=RegistrationStatus.WAITLISTED
        ).filter(
            Q(waitlisted_at__lt=registration.waitlisted_at)
            | Q(waitlisted_at=registration.waitlisted_at, id__lt=registration.id)
        ).count()
        positions[registration.id] = ahead + 1
    return positions


async def reminder_recipients(session_id: int) -> list[Person]:
    """Who is reminded of the session, in one statement: its host and its confirmed
    participants (not the waitlist), those of them who take reminders, host first."""
    rows = (
        await Registration.filter(
            session_id=session_id, status=RegistrationStatus.CONFIRMED, user__email_reminders=True
        )
        .order_by("-is_host", "id")
        .values(*(f"user__{c}" for c in _PERSON_COLUMNS))
    )
    return [Person(**{c: row[f"user__{c}"] for c in _PERSON_COLUMNS}) for row in rows]
