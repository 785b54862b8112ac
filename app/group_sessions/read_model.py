"""Read model: the lists the API serves, each one indexed query with keyset paging.

Pages are ordered by (starts_at, id): ascending for what has not ended, descending for
the past. A page asks for one row more than it returns, to know whether another follows.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from enum import Enum

from tortoise.expressions import Q
from tortoise.queryset import QuerySet

from app.accounts.models import Program, User
from app.clock import utcnow
from app.db import sql_parameter
from app.group_sessions.models import GroupSession, InvitationStatus, Registration, SessionStatus


class Timeframe(str, Enum):
    FUTURE = "FUTURE"
    PAST = "PAST"


class SessionRole(str, Enum):
    HOST = "HOST"
    PARTICIPANT = "PARTICIPANT"
    INVITED = "INVITED"


@dataclass(frozen=True)
class SessionCursor:
    starts_at: datetime
    id: int


@dataclass
class Page:
    rows: list
    has_next: bool
    query: QuerySet | None  # the unpaged query, for totalCount when it is asked for


def _timeframe_filter(query: QuerySet, timeframe: Timeframe, now: datetime) -> QuerySet:
    if timeframe == Timeframe.FUTURE:
        return query.filter(ends_at__gt=now)
    return query.filter(ends_at__lte=now)


async def _page(
    query: QuerySet, timeframe: Timeframe, first: int, after: SessionCursor | None
) -> Page:
    paged = query
    if after is not None:
        if timeframe == Timeframe.FUTURE:
            paged = paged.filter(
                Q(starts_at__gt=after.starts_at) | Q(starts_at=after.starts_at, id__gt=after.id)
            )
        else:
            paged = paged.filter(
                Q(starts_at__lt=after.starts_at) | Q(starts_at=after.starts_at, id__lt=after.id)
            )
    order = ("starts_at", "id") if timeframe == Timeframe.FUTURE else ("-starts_at", "-id")
    # Program and host come along: every list shows them, and the API primes its loaders.
    rows = await paged.order_by(*order).limit(first + 1).select_related("program", "host") if first else []
    return Page(rows=list(rows[:first]), has_next=len(rows) > first, query=query)


async def dashboard_sessions(
    *,
    viewer_id: int,
    timeframe: Timeframe,
    role: SessionRole | None,
    include_cancelled: bool,
    first: int,
    after: SessionCursor | None,
) -> Page:
    """What the viewer hosts or attends (the host is always registered, so: registered);
    for INVITED, the sessions the viewer is invited to and has not declined (pending or
    accepted), registered or not."""
    if role == SessionRole.INVITED:
        query = GroupSession.filter(
            guests__user_id=viewer_id, guests__status__in=[InvitationStatus.PENDING, InvitationStatus.ACCEPTED]
        )
    else:
        query = GroupSession.filter(registrations__user_id=viewer_id)
    if role == SessionRole.HOST:
        query = query.filter(host_id=viewer_id)
    elif role == SessionRole.PARTICIPANT:
        query = query.filter(host_id__not=viewer_id)
    if not include_cancelled:
        query = query.filter(status=SessionStatus.SCHEDULED)
    return await _page(_timeframe_filter(query, timeframe, utcnow()), timeframe, first, after)


async def upcoming_hosted_sessions(
    *, host_id: int, visible_program_ids: Iterable[int], first: int, after: SessionCursor | None
) -> Page:
    """Sessions the user hosts that have not ended and are not cancelled, in programs the
    viewer can see."""
    query = GroupSession.filter(
        host_id=host_id, program_id__in=list(visible_program_ids), status=SessionStatus.SCHEDULED
    )
    return await _page(_timeframe_filter(query, Timeframe.FUTURE, utcnow()), Timeframe.FUTURE, first, after)


async def program_sessions(
    *, program_id: int, timeframe: Timeframe, first: int, after: SessionCursor | None
) -> Page:
    """A program's sessions that are not cancelled."""
    query = GroupSession.filter(program_id=program_id, status=SessionStatus.SCHEDULED)
    return await _page(_timeframe_filter(query, timeframe, utcnow()), timeframe, first, after)


@dataclass(slots=True)
class ParticipantRow:
    """A participant as the participants list reads them: the person's columns the API
    shows, as plain values (no ORM instance: a dashboard page holds a thousand of them,
    read once)."""

    id: int
    email: str
    name: str
    time_zone: str
    email_reminders: bool


@dataclass(slots=True)
class RegistrationRow:
    """A registration in a participants list, with its participant (`user`), as plain
    values; it has the attributes of `Registration` the API reads."""

    id: int
    session_id: int
    user_id: int
    is_host: bool
    registered_at: datetime
    user: ParticipantRow


_registered_at = Registration._meta.fields_map["registered_at"].to_python_value


def _aware(value: object) -> datetime:
    # asyncpg answers aware UTC datetimes already; anything else (SQLite's text) goes
    # through the ORM's own conversion, as for a model instance.
    return value if type(value) is datetime and value.tzinfo is timezone.utc else _registered_at(value)


async def participants_of_sessions(
    session_ids: Sequence[int], *, first: int, after_id: int | None
) -> dict[int, list[RegistrationRow]]:
    """Up to `first` + 1 registrations of each session, in registration order (the host's
    is always the first row), each with its participant (`registration.user`) fetched
    along, in one statement however many sessions are asked for."""
    if not session_ids or first <= 0:
        return {sid: [] for sid in session_ids}
    db = Registration._meta.db
    values: list = list(session_ids)
    in_list = ",".join(sql_parameter(db, i + 1) for i in range(len(session_ids)))
    after_clause = ""
    if after_id is not None:
        values.append(after_id)
        after_clause = f" AND id > {sql_parameter(db, len(values))}"
    values.append(first + 1)
    sql = (
        "SELECT r.id, r.session_id, r.user_id, r.is_host, r.registered_at, "
        "u.email AS u_email, u.name AS u_name, u.time_zone AS u_time_zone, u.email_reminders AS u_email_reminders "
        "FROM (SELECT id, session_id, user_id, is_host, registered_at, "
        "ROW_NUMBER() OVER (PARTITION BY session_id ORDER BY id) AS rn "
        f'FROM "registration" WHERE session_id IN ({in_list}){after_clause}'
        f') r JOIN "user" u ON u.id = r.user_id WHERE r.rn <= {sql_parameter(db, len(values))} ORDER BY r.session_id, r.id'
    )
    _, rows = await db.execute_query(sql, values)
    result: dict[int, list[RegistrationRow]] = {sid: [] for sid in session_ids}
    for row in rows:
        user_id = row["user_id"]
        user = ParticipantRow(
            user_id, row["u_email"], row["u_name"], row["u_time_zone"], bool(row["u_email_reminders"])
        )
        registration = RegistrationRow(
            row["id"], row["session_id"], user_id, bool(row["is_host"]), _aware(row["registered_at"]), user
        )
        result[registration.session_id].append(registration)
    return result


def _columns(model) -> list[str]:
    return list(model._meta.fields_db_projection.values())


async def sessions_by_ids(session_ids: Sequence[int], viewer_id: int | None) -> dict[int, tuple[GroupSession, bool]]:
    """Sessions by ID, each with its program and host fetched along (`session.program`,
    `session.host`) and whether `viewer_id` is registered, in one statement."""
    if not session_ids:
        return {}
    db = GroupSession._meta.db
    marks = [sql_parameter(db, i + 1) for i in range(len(session_ids) + 1)]
    session_cols, program_cols, user_cols = _columns(GroupSession), _columns(Program), _columns(User)
    select = ", ".join(
        [f's."{c}"' for c in session_cols]
        + [f'p."{c}" AS "p_{c}"' for c in program_cols]
        + [f'h."{c}" AS "h_{c}"' for c in user_cols]
    )
    sql = (
        f"SELECT {select}, EXISTS (SELECT 1 FROM \"registration\" r WHERE r.session_id = s.id AND r.user_id = {marks[0]})"
        ' AS viewer_attends FROM "group_session" s JOIN "program" p ON p.id = s.program_id'
        ' JOIN "user" h ON h.id = s.host_id'
        f" WHERE s.id IN ({', '.join(marks[1:])})"
    )
    _, rows = await db.execute_query(sql, [viewer_id if viewer_id is not None else 0, *session_ids])
    found: dict[int, tuple[GroupSession, bool]] = {}
    for row in rows:
        row = dict(row)
        session = GroupSession._init_from_db(**{c: row[c] for c in session_cols})
        object.__setattr__(session, "_program", Program._init_from_db(**{c: row[f"p_{c}"] for c in program_cols}))
        object.__setattr__(session, "_host", User._init_from_db(**{c: row[f"h_{c}"] for c in user_cols}))
        found[session.id] = (session, bool(row["viewer_attends"]))
    return found

