"""Keyset cursors hold while rows are added: page 2, asked for with page 1's endCursor after
sessions were added before, at and after the cursor, repeats nothing of page 1 and skips
nothing that existed (an OFFSET cursor would repeat the row pushed back by an earlier one)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from app.clock import utcnow
from app.group_sessions.models import GroupSession, Registration

FIELDS = "totalCount pageInfo { hasNextPage endCursor } edges { node { title } }"
LISTS = {
    "dashboard": "query($t: Timeframe!, $first: Int, $after: String) "
    f"{{ dashboard {{ sessions(timeframe: $t, first: $first, after: $after) {{ {FIELDS} }} }} }}",
    "program": "query($p: ID!, $t: Timeframe!, $first: Int, $after: String) "
    f"{{ program(id: $p) {{ groupSessions(timeframe: $t, first: $first, after: $after) {{ {FIELDS} }} }} }}",
    "profile": "query($u: ID!, $first: Int, $after: String) "
    f"{{ profile(userId: $u) {{ upcomingGroupSessions(first: $first, after: $after) {{ {FIELDS} }} }} }}",
}


async def add_session(world, title: str, starts_at) -> None:
    """A session hosted by world.host, written directly (past ones cannot be created through the API)."""
    row = await GroupSession.create(
        program=world.program, host=world.host.user, title=title, objective="o", starts_at=starts_at,
        ends_at=starts_at + timedelta(hours=1), duration_minutes=60, participant_count=1,
    )
    await Registration.create(session=row, user=world.host.user, is_host=True)


async def page(api, world, which: str, timeframe: str, after: str | None, first: int) -> dict:
    variables = {"first": first, "after": after, "t": timeframe, "p": world.program_gid, "u": world.host.gid}
    if which == "profile":
        del variables["t"]
    data = await api.data(LISTS[which], variables, token=world.mentees[0].token if which != "dashboard" else world.host.token)
    return next(iter(next(iter(data.values())).values()))


def titles(connection: dict) -> list[str]:
    return [edge["node"]["title"] for edge in connection["edges"]]


@pytest.mark.parametrize(
    "which, timeframe",
    [("dashboard", "FUTURE"), ("dashboard", "PAST"), ("program", "FUTURE"), ("program", "PAST"), ("profile", "FUTURE")],
)
async def test_page_two_holds_while_sessions_are_added(api, world, which, timeframe):
    # Past lists are most recent first: "earlier in the list" is later in time there.
    direction = 1 if timeframe == "FUTURE" else -1
    base = utcnow().replace(microsecond=0) + timedelta(days=10 * direction)

    def at(step: float):
        return base + timedelta(days=step * direction)

    for step in range(1, 7):
        await add_session(world, f"S{step}", at(step))

    first = await page(api, world, which, timeframe, None, 3)
    assert titles(first) == ["S1", "S2", "S3"] and first["pageInfo"]["hasNextPage"]

    # Others add sessions: ahead of the cursor (list order), at its very instant, and behind it.
    await add_session(world, "Ahead", at(0))
    await add_session(world, "Between", at(1.5))
    await add_session(world, "Same instant", at(3))
    await add_session(world, "Behind", at(9))

    second = await page(api, world, which, timeframe, first["pageInfo"]["endCursor"], 10)
    # Ties go by id in the list's direction: a larger id comes right after S3 when the list
    # ascends, right before it (already passed) when it descends.
    same_instant = ["Same instant"] if direction == 1 else []
    assert titles(second) == [*same_instant, "S4", "S5", "S6", "Behind"]
    assert not second["pageInfo"]["hasNextPage"] and second["totalCount"] == 10
