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

from tortoise.expressions import Q
from tortoise.queryset import QuerySet

from app.accounts.models import Program, User
from app.clock import utcnow
from app.db import fetch_rows, sql_parameter
from app.group_sessions.models import GroupSession, InvitationStatus, Registration, RegistrationStatus, SessionStatus
from app.keyset import Slice, Window, fetch_page


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
class Page(Slice):
    query: QuerySet | None = None  # the unpaged query, for totalCount when it is asked for


def _timeframe_filter(query: QuerySet, timeframe: Timeframe, now: datetime) -> QuerySet:
    if timeframe == Timeframe.FUTURE:
        return query.filter(ends_at__gt=now)
    return query.filter(ends_at__lte=now)


def _beyond(cursor: SessionCursor, *, later: bool, inclusive: bool, ascending: bool) -> Q:
    """Rows after `cursor` in list order (`later`), or before it; `inclusive` takes the
    cursor's own row too. The list is ordered by (starts_at, id), `ascending` or not."""
    op = "gt" if later == ascending else "lt"
    return Q(**{f"starts_at__{op}": cursor.starts_at}) | Q(
        starts_at=cursor.starts_at, **{f"id__{op}{'e' if inclusive else ''}": cursor.id}
    )


async def _page(query: QuerySet, timeframe: Timeframe, window: Window[SessionCursor]) -> Page:
    ascending = timeframe == Timeframe.FUTURE
    bounded = query
    if window.after is not None:
        bounded = bounded.filter(_beyond(window.after, later=True, inclusive=False, ascending=ascending))
    if window.before is not None:
        bounded = bounded.filter(_beyond(window.before, later=False, inclusive=False, ascending=ascending))

    async def fetch(forward: bool, limit: int) -> list:
        order = ("starts_at", "id") if forward == ascending else ("-starts_at", "-id")
        # Program and host come along: every list shows them, and the API primes its loaders.
        return list(await bounded.order_by(*order).limit(limit).select_related("program", "host"))

    async def exists(later: bool, cursor: SessionCursor) -> bool:
        return await query.filter(_beyond(cursor, later=later, inclusive=True, ascending=ascending)).exists()

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
        query = GroupSession.filter(
            guests__user_id=viewer_id, guests__status__in=[InvitationStatus.PENDING, InvitationStatus.ACCEPTED]
        )
    else:
        query = GroupSession.filter(
            registrations__user_id=viewer_id, registrations__status=RegistrationStatus.CONFIRMED
        )
    if role == SessionRole.HOST:
        query = query.filter(host_id=viewer_id)
    elif role == SessionRole.PARTICIPANT:
        query = query.filter(host_id__not=viewer_id)
    if not include_cancelled:
        query = query.filter(status=SessionStatus.SCHEDULED)
    return await _page(_timeframe_filter(query, timeframe, now or utcnow()), timeframe, window)


async def upcoming_hosted_sessions(
    *, host_id: int, visible_program_ids: Iterable[int], window: Window[SessionCursor], now: datetime | None = None
) -> Page:
    """Sessions the user hosts that have not ended and are not cancelled, in programs the
    viewer can see."""
    query = GroupSession.filter(
        host_id=host_id, program_id__in=list(visible_program_ids), status=SessionStatus.SCHEDULED
    )
    return await _page(_timeframe_filter(query, Timeframe.FUTURE, now or utcnow()), Timeframe.FUTURE, window)


async def program_sessions(
    *, program_id: int, timeframe: Timeframe, window: Window[SessionCursor], now: datetime | None = None
) -> Page:
    """A program's sessions that are not cancelled."""
    query = GroupSession.filter(program_id=program_id, status=SessionStatus.SCHEDULED)
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
    for (
        registration_id, session_id, user_id, is_host, registered_at, waitlisted_at, email, name, time_zone
    ) in rows:
        result[session_id].append(
            RegistrationRow(
                registration_id,
                session_id,
                user_id,
                bool(is_host),
                _aware(registered_at),
                confirmed,
                None if waitlisted_at is None else _aware(waitlisted_at),
                ParticipantRow(user_id, email, name, time_zone),
            )
        )
    return result


async def registration_beyond(session_id: int, registration_id: int, *, later: bool) -> bool:
    """Whether the session has a registration at `registration_id` or later (`later`), or
    at it or earlier: the participant list's other side of a cursor."""
    bound = {"id__gte" if later else "id__lte": registration_id}
    return await Registration.filter(session_id=session_id, **bound).exists()


def _columns(model) -> list[str]:
    return list(model._meta.fields_db_projection.values())


@functools.cache
def _session_row_layout() -> tuple[str, tuple[tuple[type, tuple[tuple[str, int], ...]], ...], int]:
    """The select list of `sessions_by_ids` (session, program and host columns, then the
    viewer's status) and, per model, each column with its place in a row."""
    parts: list[str] = []
    layout = []
    for model, alias in ((GroupSession, "s"), (Program, "p"), (User, "h")):
        columns = _columns(model)
        layout.append((model, tuple((c, len(parts) + i) for i, c in enumerate(columns))))
        parts += [f'{alias}."{c}"' for c in columns]
    return ", ".join(parts), tuple(layout), len(parts)


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
    (session_model, session_cols), (program_model, program_cols), (user_model, user_cols) = layout
    found: dict[int, tuple[GroupSession, RegistrationStatus | None]] = {}
    for row in rows:
        # By position: the three tables share column names (id, name, created_at, ...).
        session = session_model._init_from_db(**{c: row[i] for c, i in session_cols})
        object.__setattr__(session, "_program", program_model._init_from_db(**{c: row[i] for c, i in program_cols}))
        object.__setattr__(session, "_host", user_model._init_from_db(**{c: row[i] for c, i in user_cols}))
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
