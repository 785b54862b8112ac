"""The session lists' raw SQL (app.group_sessions.read_model) against the Tortoise QuerySets
they replaced: for every variant of the dashboard (role, includeCancelled, timeframe), the
profile's upcoming sessions and a program's sessions, and every window (first pages, after
and before each row, both ways), the same rows in the same order with the same program and
host, the same hasNext/hasPrevious, the same totalCount, in as many statements."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tortoise.expressions import Q
from tortoise.queryset import QuerySet

from app.group_sessions import read_model
from app.group_sessions.models import (
    GroupSession,
    Guest,
    InvitationStatus,
    Registration,
    RegistrationStatus,
    SessionStatus,
)
from app.group_sessions.read_model import SessionCursor, SessionRole, Timeframe
from app.keyset import Window, fetch_page
from tests.scale.statements import count_statements

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


# --- the QuerySet versions, as they were: the oracle -----------------------------------------


def _oracle_timeframe(query: QuerySet, timeframe: Timeframe, now: datetime) -> QuerySet:
    if timeframe == Timeframe.FUTURE:
        return query.filter(ends_at__gt=now)
    return query.filter(ends_at__lte=now)


def _oracle_beyond(cursor: SessionCursor, *, later: bool, inclusive: bool, ascending: bool) -> Q:
    op = "gt" if later == ascending else "lt"
    return Q(**{f"starts_at__{op}": cursor.starts_at}) | Q(
        starts_at=cursor.starts_at, **{f"id__{op}{'e' if inclusive else ''}": cursor.id}
    )


async def _oracle_page(query: QuerySet, timeframe: Timeframe, window: Window[SessionCursor]):
    ascending = timeframe == Timeframe.FUTURE
    bounded = query
    if window.after is not None:
        bounded = bounded.filter(_oracle_beyond(window.after, later=True, inclusive=False, ascending=ascending))
    if window.before is not None:
        bounded = bounded.filter(_oracle_beyond(window.before, later=False, inclusive=False, ascending=ascending))

    async def fetch(forward: bool, limit: int) -> list:
        order = ("starts_at", "id") if forward == ascending else ("-starts_at", "-id")
        return list(await bounded.order_by(*order).limit(limit).select_related("program", "host"))

    async def exists(later: bool, cursor: SessionCursor) -> bool:
        return await query.filter(_oracle_beyond(cursor, later=later, inclusive=True, ascending=ascending)).exists()

    return await fetch_page(window, fetch, exists), query


def _oracle_dashboard(viewer_id: int, timeframe: Timeframe, role: SessionRole | None, include_cancelled: bool):
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
    return _oracle_timeframe(query, timeframe, NOW)


# --- seeding and comparing -------------------------------------------------------------------


async def _seed(world) -> tuple[int, int]:
    """Sessions around NOW for a viewer: hosted, attended, waitlisted, invited (pending,
    accepted, declined), cancelled, past and future, several starting at the same instant
    (the id breaks the tie). Returns (viewer id, host id)."""
    viewer, host, other = world.mentees[0].user, world.host.user, world.mentor.user
    same = NOW + timedelta(days=2)

    async def session(title, start, by, *, cancelled=False, program=None):
        row = await GroupSession.create(
            program=program or world.program,
            host=by,
            title=title,
            objective="o",
            starts_at=start,
            ends_at=start + timedelta(hours=1),
            duration_minutes=60,
            status=SessionStatus.CANCELLED if cancelled else SessionStatus.SCHEDULED,
        )
        await Registration.create(session=row, user=by, is_host=True)
        return row

    async def attend(row, user, status=RegistrationStatus.CONFIRMED):
        await Registration.create(
            session=row,
            user=user,
            status=status,
            waitlisted_at=NOW if status == RegistrationStatus.WAITLISTED else None,
        )

    async def invite(row, user, status):
        await Guest.create(session=row, user=user, status=status)

    for days in (-9, -3, -3, 1, 4):
        await session(f"hosted {days}", NOW + timedelta(days=days), viewer)
    await session("hosted, cancelled", NOW + timedelta(days=3), viewer, cancelled=True)
    await session("hosted, elsewhere", NOW + timedelta(days=5), viewer, program=world.other_program)
    # Ends after NOW although it started before: FUTURE (it has not ended).
    await session("hosted, under way", NOW - timedelta(minutes=30), viewer)
    for i in range(4):  # four at the same instant, by two hosts
        row = await session(f"same {i}", same, host if i % 2 else other)
        if i != 2:
            await attend(row, viewer)
    for days in (-5, -1, 6):
        await attend(await session(f"attended {days}", NOW + timedelta(days=days), host), viewer)
    await attend(await session("attended, cancelled", NOW + timedelta(days=7), host, cancelled=True), viewer)
    await attend(await session("attended, past cancelled", NOW - timedelta(days=2), other, cancelled=True), viewer)
    await attend(await session("waitlisted", NOW + timedelta(days=8), host), viewer, RegistrationStatus.WAITLISTED)
    await invite(await session("invited", NOW + timedelta(days=9), host), viewer, InvitationStatus.PENDING)
    accepted = await session("invited, accepted", same, other)
    await invite(accepted, viewer, InvitationStatus.ACCEPTED)
    await attend(accepted, viewer)
    await invite(await session("invited, declined", NOW + timedelta(days=10), host), viewer, InvitationStatus.DECLINED)
    await invite(await session("invited, past", NOW - timedelta(days=4), host), viewer, InvitationStatus.PENDING)
    await invite(
        await session("invited, cancelled", NOW + timedelta(days=11), other, cancelled=True),
        viewer,
        InvitationStatus.ACCEPTED,
    )
    await session("someone else's", NOW + timedelta(days=1), other)
    return viewer.id, host.id


def _fields(model) -> tuple:
    return tuple(getattr(model, name) for name in model._meta.fields_db_projection)


def _rows(rows) -> list[tuple]:
    return [(_fields(s), _fields(s.program), _fields(s.host)) for s in rows]


async def _counted(action):
    """What `action()` answers, and how many statements it logged (tests/scale/statements)."""
    with count_statements() as log:
        answer = await action()
    return answer, len(log)


def _windows(cursors: list[SessionCursor]) -> list[Window[SessionCursor]]:
    """First and last pages, and pages after, before and between each row's cursor (and
    cursors of no row: between two instants, and at a listed instant with another id)."""
    extra = [SessionCursor(NOW + timedelta(days=2, seconds=1), 1), SessionCursor(NOW + timedelta(days=2), 0)]
    keys = cursors + extra
    windows: list[Window[SessionCursor]] = [
        Window(2),
        Window(100),
        Window(0),
        Window(2, backward=True),
        Window(100, backward=True),
    ]
    for key in keys:
        windows += [Window(2, after=key), Window(2, before=key, backward=True), Window(3, before=key)]
    for a, b in zip(keys, keys[2:]):
        windows += [Window(5, after=a, before=b), Window(1, after=a, before=b, backward=True)]
    return windows


async def _same(label: str, oracle_query: QuerySet, lean, timeframe: Timeframe) -> None:
    """`lean(window)` (the read model) answers as the oracle for every window, and its
    totalCount as the oracle's count."""
    everything, _ = await _oracle_page(oracle_query, timeframe, Window(1000))
    cursors = [SessionCursor(s.starts_at, s.id) for s in everything.rows]
    for window in _windows(cursors):
        (expected, _), expected_statements = await _counted(lambda w=window: _oracle_page(oracle_query, timeframe, w))
        page, statements = await _counted(lambda w=window: lean(w))
        where = f"{label}, {window}"
        assert _rows(page.rows) == _rows(expected.rows), where
        assert (page.has_next, page.has_previous) == (expected.has_next, expected.has_previous), where
        assert statements == expected_statements, where
    page = await lean(Window(1))
    count, statements = await _counted(page.query.count)
    assert count == await oracle_query.count() == len(everything.rows), label
    assert statements == 1


async def test_dashboard_lists_answer_as_the_querysets_did(app, world):
    viewer, host = await _seed(world)
    listed = 0
    for viewer_id in (viewer, host):
        for timeframe in Timeframe:
            for role in (None, *SessionRole):
                for include_cancelled in (False, True):
                    oracle = _oracle_dashboard(viewer_id, timeframe, role, include_cancelled)
                    listed += await oracle.count()

                    async def lean(window, t=timeframe, r=role, c=include_cancelled, v=viewer_id):
                        return await read_model.dashboard_sessions(
                            viewer_id=v, timeframe=t, role=r, include_cancelled=c, window=window, now=NOW
                        )

                    label = f"viewer {viewer_id} {timeframe.value} role={role} cancelled={include_cancelled}"
                    await _same(label, oracle, lean, timeframe)
    assert listed > 40  # the seed gives every variant something to list


async def test_profile_and_program_lists_answer_as_the_querysets_did(app, world):
    viewer, _ = await _seed(world)
    for programs in ([world.program.id], [world.program.id, world.other_program.id], []):
        oracle = _oracle_timeframe(
            GroupSession.filter(host_id=viewer, program_id__in=programs, status=SessionStatus.SCHEDULED),
            Timeframe.FUTURE,
            NOW,
        )

        async def upcoming(window, p=programs):
            return await read_model.upcoming_hosted_sessions(
                host_id=viewer, visible_program_ids=p, window=window, now=NOW
            )

        await _same(f"upcoming hosted, programs {programs}", oracle, upcoming, Timeframe.FUTURE)
    for timeframe in Timeframe:
        oracle = _oracle_timeframe(
            GroupSession.filter(program_id=world.program.id, status=SessionStatus.SCHEDULED), timeframe, NOW
        )

        async def program(window, t=timeframe):
            return await read_model.program_sessions(program_id=world.program.id, timeframe=t, window=window, now=NOW)

        await _same(f"program sessions {timeframe.value}", oracle, program, timeframe)


async def test_the_split_at_now_holds_whatever_zone_now_is_given_in(app, world):
    """FUTURE and PAST split at the same instant whether `now` is given in UTC or in another
    zone: SQLite compares the stored UTC texts with the parameter's text."""
    from zoneinfo import ZoneInfo

    viewer, _ = await _seed(world)
    # Ended 4 hours before NOW, on NOW's day in UTC: past. NOW in Los Angeles reads
    # 05:00-07:00, which a text comparison would put before the 08:00+00:00 end.
    ended = await GroupSession.create(
        program=world.program, host_id=viewer, title="ended this morning", objective="o",
        starts_at=NOW - timedelta(hours=5), ends_at=NOW - timedelta(hours=4), duration_minutes=60,
        min_participants=1, max_participants=10, participant_count=1,
    )
    await Registration.create(session=ended, user_id=viewer, is_host=True, status=RegistrationStatus.CONFIRMED)
    for now in (NOW, NOW.astimezone(ZoneInfo("America/Los_Angeles")), NOW.astimezone(ZoneInfo("Asia/Tokyo"))):
        future = await read_model.dashboard_sessions(
            viewer_id=viewer, timeframe=Timeframe.FUTURE, role=None, include_cancelled=True, window=Window(100), now=now
        )
        past = await read_model.dashboard_sessions(
            viewer_id=viewer, timeframe=Timeframe.PAST, role=None, include_cancelled=True, window=Window(100), now=now
        )
        assert ended.id in [s.id for s in past.rows] and ended.id not in [s.id for s in future.rows], now


async def test_participants_rows_hold_what_the_orm_reads(app, world):
    """participants_of_sessions builds its rows field by field (no dataclass __init__):
    every field of RegistrationRow and ParticipantRow is set, to what the ORM reads for
    the same registration and person (a promoted registration keeps its waitlisted_at)."""
    from dataclasses import astuple, fields

    await _seed(world)
    promoted = await GroupSession.filter(title="attended 6").get()
    await Registration.create(
        session=promoted, user=world.mentees[1].user, status=RegistrationStatus.CONFIRMED, waitlisted_at=NOW
    )
    sessions = [s.id for s in await GroupSession.all().order_by("id")]
    pages = await read_model.participants_of_sessions(sessions, window=Window(100))
    seen = 0
    for session_id in sessions:
        expected = [
            read_model.RegistrationRow(
                r.id, r.session_id, r.user_id, r.is_host, r.registered_at, r.status, r.waitlisted_at,
                read_model.ParticipantRow(r.user.id, r.user.email, r.user.name, r.user.time_zone),
            )
            for r in await Registration.filter(session_id=session_id, status=RegistrationStatus.CONFIRMED)
            .order_by("id")
            .select_related("user")
        ]
        rows = pages[session_id]
        assert rows == expected, session_id
        for row in rows:
            # astuple reads every field (an unset slot raises), the person's too.
            assert len(astuple(row)) == len(fields(read_model.RegistrationRow))
            assert len(astuple(row.user)) == len(fields(read_model.ParticipantRow))
            assert type(row.is_host) is bool and row.registered_at.utcoffset() == timedelta(0)
            seen += 1
    assert seen > 10
    assert [r.waitlisted_at for r in pages[promoted.id]] == [None, None, NOW]
