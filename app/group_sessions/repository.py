"""The rows a command reads and writes, each in one statement.

A command reads its session once, with the host and the viewer's registration along,
and writes with a conditional UPDATE that returns the row as it is after the change:
no command reads its session a second time, and the counts it reports are exactly
those its own change left (a concurrent join on another connection cannot slip in
between a write and a re-read, because there is no re-read).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pypika_tortoise import Table
from tortoise.queryset import QuerySet

from app.accounts.models import User
from app.group_sessions.events import Person
from app.group_sessions.models import GroupSession, Guest, InvitationStatus, Registration

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


async def registered_people(session_id: int) -> list[Person]:
    """Everyone registered for the session, in order of registration (the host first)."""
    found = await (
        Registration.filter(session_id=session_id)
        .order_by("id")
        .values(*(f"user__{c}" for c in _PERSON_COLUMNS))
    )
    return [Person(**{c: values[f"user__{c}"] for c in _PERSON_COLUMNS}) for values in found]
