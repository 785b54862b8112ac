"""Read model: the lists the API serves, each one indexed query with keyset paging.

Pages are ordered by (starts_at, id): ascending for what has not ended, descending for
the past. A page is a keyset `Window` read forwards or backwards (see app.keyset): one
row more than it returns, to know whether the list goes on.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from enum import Enum

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.expressions import Q

from app.accounts.models import Program, User
from app.clock import utcnow
from app.db import fetch_rows, sql_parameter
from app.group_sessions.models import GroupSession, InvitationStatus, Registration, RegistrationStatus, SessionStatus
from app.keyset import Slice, Window, fetch_page
from app.model_rows import from_row


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


@dataclass(frozen=True)
class SessionQuery:
    """A session list before paging, as SQL: the tables joined to "group_session" (alias
    `s`) and the conditions on them, each with `{}` where its values go, in order."""

    # Raw SQL through `fetch_rows` rather than a Tortoise QuerySet: a profile of the
    # dashboard put building and compiling the QuerySet (and a CountQuery for totalCount)
    # at ~17% of the request. The statements say what Tortoise's said (the same joins,
    # conditions, order and limits), so plans and statement counts are unchanged.

    joins: str
    conditions: tuple[str, ...]
    values: tuple

    @property
    def db(self) -> BaseDBAsyncClient:
        # Chosen when a statement runs, as a QuerySet does: totalCount may be read after
        # the page, in another transaction context.
        return GroupSession._meta.db

    def where(self, condition: str, *values: object) -> SessionQuery:
        """This query with `condition` (with a `{}` per value) added."""
        return SessionQuery(self.joins, (*self.conditions, condition), (*self.values, *map(_bound, values)))

    def from_where(self, joins: str = "") -> str:
        """` FROM ... WHERE ...` of this query, with `joins` more tables joined."""
        return _from_where(self.db.capabilities.dialect, self.joins + joins, self.conditions, len(self.values))

    async def count(self) -> int:
        """How many sessions the list holds (totalCount), in one statement."""
        rows = await fetch_rows(self.db, f"SELECT COUNT(*){self.from_where()}", self.values)
        return rows[0][0]


def _bound(value: object) -> object:
    """`value` as a statement's parameter: an instant in UTC, as the rows hold it. SQLite
    compares the stored texts with the parameter's text (a QuerySet converted a value
    through its field; a raw parameter goes as it is given)."""
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.astimezone(timezone.utc)
    return value


@functools.lru_cache(maxsize=256)
def _from_where(dialect: str, joins: str, conditions: tuple[str, ...], count: int) -> str:
    # One text per shape of list (a few dozen at most: the programs of an IN list vary in
    # number), so asyncpg's statement cache sees the same text every time.
    marks = [f"${i + 1}" if dialect == "postgres" else "?" for i in range(count)]
    return f' FROM "group_session" s{joins} WHERE {" AND ".join(conditions)}'.format(*marks)


_PROGRAM_AND_HOST = ' JOIN "program" p ON p.id = s.program_id JOIN "user" h ON h.id = s.host_id'


@dataclass
class Page(Slice):
    query: SessionQuery | None = None  # the unpaged list, for totalCount when it is asked for


def _sessions(*conditions: tuple, joins: str = "") -> SessionQuery:
    """The sessions meeting every (condition, *values) of `conditions`."""
    query = SessionQuery(joins, (), ())
    for condition, *values in conditions:
        query = query.where(condition, *values)
    return query


def _timeframe_filter(query: SessionQuery, timeframe: Timeframe, now: datetime) -> SessionQuery:
    if timeframe == Timeframe.FUTURE:
        return query.where("s.ends_at > {}", now)
    return query.where("s.ends_at <= {}", now)


def _beyond(
    query: SessionQuery, cursor: SessionCursor, *, later: bool, inclusive: bool, ascending: bool
) -> SessionQuery:
    """`query`'s rows after `cursor` in list order (`later`), or before it; `inclusive` takes
    the cursor's own row too. The list is ordered by (starts_at, id), `ascending` or not."""
    op = ">" if later == ascending else "<"
    return query.where(
        f"(s.starts_at {op} {{}} OR (s.starts_at = {{}} AND s.id {op}{'=' if inclusive else ''} {{}}))",
        cursor.starts_at,
        cursor.starts_at,
        cursor.id,
    )


async def _page(query: SessionQuery, timeframe: Timeframe, window: Window[SessionCursor]) -> Page:
    ascending = timeframe == Timeframe.FUTURE
    bounded = query
    if window.after is not None:
        bounded = _beyond(bounded, window.after, later=True, inclusive=False, ascending=ascending)
    if window.before is not None:
        bounded = _beyond(bounded, window.before, later=False, inclusive=False, ascending=ascending)

    async def fetch(forward: bool, limit: int) -> list:
        order = "ASC" if forward == ascending else "DESC"
        select, layout, _ = _session_row_layout()
        # Program and host come along: every list shows them, and the API primes its loaders.
        db = bounded.db
        sql = (
            f"SELECT {select}{bounded.from_where(_PROGRAM_AND_HOST)} ORDER BY s.starts_at {order}, s.id {order} "
            f"LIMIT {sql_parameter(db, len(bounded.values) + 1)}"
        )
        return [_session_of_row(row, layout) for row in await fetch_rows(db, sql, [*bounded.values, limit])]

    async def exists(later: bool, cursor: SessionCursor) -> bool:
        beyond = _beyond(query, cursor, later=later, inclusive=True, ascending=ascending)
        return bool(await fetch_rows(beyond.db, f"SELECT 1{beyond.from_where()} LIMIT 1", beyond.values))

    page = await fetch_page(window, fetch, exists)
    return Page(page.rows, page.has_next, page.has_previous, query=query)


async def dashboard_sessions(
    *,
    viewer_id: int,
    timeframe: Timeframe,
    role: SessionRole | None,
    include_cancelled: bool,
    window: Window[SessionCursor],
    now: datetime | None = None,
) -> Page:
    """What the viewer hosts or attends (the host is always registered, so: registered;
    not what they only wait for);
    for INVITED, the sessions the viewer is invited to and has not declined (pending or
    accepted), registered or not. `now` (default: the wall clock) splits FUTURE from PAST."""
    if role == SessionRole.INVITED:
        query = _sessions(
            ("g.user_id = {}", viewer_id),
            ("g.status IN ({}, {})", InvitationStatus.PENDING.value, InvitationStatus.ACCEPTED.value),
            joins=' JOIN "guest" g ON g.session_id = s.id',
        )
    else:
        query = _sessions(
            ("r.user_id = {}", viewer_id),
            ("r.status = {}", RegistrationStatus.CONFIRMED.value),
            joins=' JOIN "registration" r ON r.session_id = s.id',
        )
    if role == SessionRole.HOST:
        query = query.where("s.host_id = {}", viewer_id)
    elif role == SessionRole.PARTICIPANT:
        query = query.where("s.host_id <> {}", viewer_id)  # host_id is never NULL
    if not include_cancelled:
        query = query.where("s.status = {}", SessionStatus.SCHEDULED.value)
    return await _page(_timeframe_filter(query, timeframe, now or utcnow()), timeframe, window)


async def upcoming_hosted_sessions(
    *, host_id: int, visible_program_ids: Iterable[int], window: Window[SessionCursor], now: datetime | None = None
) -> Page:
    """Sessions the user hosts that have not ended and are not cancelled, in programs the
    viewer can see."""
    program_ids = list(visible_program_ids)
    query = _sessions(
        ("s.host_id = {}", host_id),
        # No program: no session (Tortoise's `1=0` for an empty IN list).
        (f"s.program_id IN ({', '.join('{}' for _ in program_ids)})" if program_ids else "1=0", *program_ids),
        ("s.status = {}", SessionStatus.SCHEDULED.value),
    )
    return await _page(_timeframe_filter(query, Timeframe.FUTURE, now or utcnow()), Timeframe.FUTURE, window)


async def program_sessions(
    *, program_id: int, timeframe: Timeframe, window: Window[SessionCursor], now: datetime | None = None
) -> Page:
    """A program's sessions that are not cancelled."""
    query = _sessions(("s.program_id = {}", program_id), ("s.status = {}", SessionStatus.SCHEDULED.value))
    return await _page(_timeframe_filter(query, timeframe, now or utcnow()), timeframe, window)


@dataclass(slots=True)
class ParticipantRow:
    """A participant as a participants list reads them: the person's columns the API
    shows, as plain values (no ORM instance: a dashboard page holds hundreds of them,
    each read once)."""

    id: int
    email: str
    name: str
    time_zone: str


@dataclass(slots=True)
class RegistrationRow:
    """A registration in a participants list, with its participant (`user`), as plain
    values; it has the attributes of `Registration` the API reads."""

    id: int
    session_id: int
    user_id: int
    is_host: bool
    registered_at: datetime
    status: RegistrationStatus
    waitlisted_at: datetime | None
    user: ParticipantRow


_to_datetime = Registration._meta.fields_map["registered_at"].to_python_value


def _aware(value: object) -> datetime | None:
    # asyncpg answers aware UTC datetimes already; anything else (SQLite's text) goes
    # through the ORM's own conversion, as for a model instance.
    if type(value) is datetime and value.tzinfo is timezone.utc:
        return value
    return _to_datetime(value)


async def participants_of_sessions(
    session_ids: Sequence[int], *, window: Window[int]
) -> dict[int, list[RegistrationRow]]:
    """Up to `window.size` + 1 CONFIRMED registrations of each session (the waitlist is not
    among them), strictly between the registration ids `window.after` and `window.before`:
    the first ones in registration order (the host's is always the first row), or the last
    ones, latest first, when the window reads `backward`. Each comes with its participant
    (`registration.user`), in one statement however many sessions are asked for."""
    if not session_ids:
        return {}
    db = Registration._meta.db
    values: list = [RegistrationStatus.CONFIRMED.value, *session_ids]
    in_list = ",".join(sql_parameter(db, i + 2) for i in range(len(session_ids)))
    bounds = ""
    if window.after is not None:
        values.append(window.after)
        bounds += f" AND id > {sql_parameter(db, len(values))}"
    if window.before is not None:
        values.append(window.before)
        bounds += f" AND id < {sql_parameter(db, len(values))}"
    values.append(window.size + 1)
    direction = "DESC" if window.backward else ""
    sql = (
        "SELECT r.id, r.session_id, r.user_id, r.is_host, r.registered_at, r.waitlisted_at, "
        "u.email, u.name, u.time_zone FROM ("
        "SELECT id, session_id, user_id, is_host, registered_at, waitlisted_at, "
        f"ROW_NUMBER() OVER (PARTITION BY session_id ORDER BY id {direction}) AS rn "
        f'FROM "registration" WHERE status = {sql_parameter(db, 1)} AND session_id IN ({in_list}){bounds}'
        f') r JOIN "user" u ON u.id = r.user_id WHERE r.rn <= {sql_parameter(db, len(values))} '
        f"ORDER BY r.session_id, r.id {direction}"
    )
    rows = await fetch_rows(db, sql, values)
    result: dict[int, list[RegistrationRow]] = {sid: [] for sid in session_ids}
    confirmed = RegistrationStatus.CONFIRMED
    # What `RegistrationRow(...)` and `ParticipantRow(...)` would store, written out: a page
    # of a dashboard makes hundreds of these, and each `__init__` is a call per row (every
    # slot is set, as theirs would).
    new = object.__new__
    for (
        registration_id, session_id, user_id, is_host, registered_at, waitlisted_at, email, name, time_zone
    ) in rows:
        user = new(ParticipantRow)
        user.id = user_id
        user.email = email
        user.name = name
        user.time_zone = time_zone
        registration = new(RegistrationRow)
        registration.id = registration_id
        registration.session_id = session_id
        registration.user_id = user_id
        registration.is_host = bool(is_host)
        registration.registered_at = _aware(registered_at)
        registration.status = confirmed
        registration.waitlisted_at = None if waitlisted_at is None else _aware(waitlisted_at)
        registration.user = user
        result[session_id].append(registration)
    return result


async def registration_beyond(session_id: int, registration_id: int, *, later: bool) -> bool:
    """Whether the session has a registration at `registration_id` or later (`later`), or
    at it or earlier: the participant list's other side of a cursor."""
    bound = {"id__gte" if later else "id__lte": registration_id}
    return await Registration.filter(session_id=session_id, **bound).exists()


def _columns(model) -> list[str]:
    return list(model._meta.fields_db_projection.values())


@functools.cache
def _session_row_layout() -> tuple[str, tuple[tuple[type, dict[str, int]], ...], int]:
    """The select list of `sessions_by_ids` (session, program and host columns, then the
    viewer's status) and, per model, each column's place in a row."""
    parts: list[str] = []
    layout = []
    for model, alias in ((GroupSession, "s"), (Program, "p"), (User, "h")):
        columns = _columns(model)
        layout.append((model, {c: len(parts) + i for i, c in enumerate(columns)}))
        parts += [f'{alias}."{c}"' for c in columns]
    return ", ".join(parts), tuple(layout), len(parts)


def _session_of_row(row: Sequence, layout: tuple) -> GroupSession:
    """The session of a row laid out as `_session_row_layout` says, with its program and
    host set (`session.program`, `session.host`)."""
    (session_model, session_at), (program_model, program_at), (user_model, user_at) = layout
    # By position: the three tables share column names (id, name, created_at, ...).
    session = from_row(session_model, row, session_at)
    object.__setattr__(session, "_program", from_row(program_model, row, program_at))
    object.__setattr__(session, "_host", from_row(user_model, row, user_at))
    return session


async def sessions_by_ids(
    session_ids: Sequence[int], viewer_id: int | None
) -> dict[int, tuple[GroupSession, RegistrationStatus | None]]:
    """Sessions by ID, each with its program and host fetched along (`session.program`,
    `session.host`) and the status of `viewer_id`'s registration (None: none), in one
    statement."""
    if not session_ids:
        return {}
    db = GroupSession._meta.db
    marks = [sql_parameter(db, i + 1) for i in range(len(session_ids) + 1)]
    select, layout, status_at = _session_row_layout()
    sql = (
        f"SELECT {select}, (SELECT r.status FROM \"registration\" r WHERE r.session_id = s.id AND r.user_id = {marks[0]})"
        ' AS viewer_status FROM "group_session" s JOIN "program" p ON p.id = s.program_id'
        ' JOIN "user" h ON h.id = s.host_id'
        f" WHERE s.id IN ({', '.join(marks[1:])})"
    )
    rows = await fetch_rows(db, sql, [viewer_id if viewer_id is not None else 0, *session_ids])
    found: dict[int, tuple[GroupSession, RegistrationStatus | None]] = {}
    for row in rows:
        session = _session_of_row(row, layout)
        status = row[status_at]
        found[session.id] = (session, RegistrationStatus(status) if status is not None else None)
    return found


async def waitlist_page(session_id: int, *, first: int, after_id: int | None) -> tuple[list[Registration], int]:
    """Up to `first` + 1 WAITLISTED registrations of the session in line order
    ((waitlisted_at, id)), after the registration `after_id` when given, each with its
    participant (`registration.user`); and the place in line of the first one returned."""
    line = Registration.filter(session_id=session_id, status=RegistrationStatus.WAITLISTED)
    query = line
    ahead = 0
    if after_id is not None:
        mark = await line.filter(id=after_id).values("waitlisted_at")
        if mark:
            at = mark[0]["waitlisted_at"]
            query = line.filter(Q(waitlisted_at__gt=at) | Q(waitlisted_at=at, id__gt=after_id))
            ahead = await line.filter(Q(waitlisted_at__lt=at) | Q(waitlisted_at=at, id__lte=after_id)).count()
        else:  # that registration left the line (or was promoted): start again from the top
            query = line
    rows = await query.order_by("waitlisted_at", "id").limit(first + 1).select_related("user") if first else []
    return list(rows), ahead + 1
