"""Every connection pages both ways: first/after forwards, last/before backwards, exact
hasNextPage and hasPreviousPage in both directions, and `nodes` beside `edges`."""

from __future__ import annotations

import pytest

from tests.api.test_lists import past_session
from tests.conftest import create_session, in_days, join

PAGE = "totalCount pageInfo { hasNextPage hasPreviousPage startCursor endCursor } edges { cursor node { %s } } nodes { %s }"
ARGS = "first: $first, after: $after, last: $last, before: $before"
VARS = "$first: Int, $after: String, $last: Int, $before: String"

DASHBOARD = f"""query({VARS}, $timeframe: Timeframe!) {{ dashboard {{ sessions(timeframe: $timeframe, {ARGS}) {{
  {PAGE % ("title", "title")} }} }} }}"""
PROGRAM = f"""query($id: ID!, {VARS}, $timeframe: Timeframe) {{ program(id: $id) {{
  groupSessions(timeframe: $timeframe, {ARGS}) {{ {PAGE % ("title", "title")} }} }} }}"""
PROFILE = f"""query($id: ID!, {VARS}) {{ profile(userId: $id) {{
  upcomingGroupSessions({ARGS}) {{ {PAGE % ("title", "title")} }} }} }}"""
PARTICIPANTS = f"""query($id: ID!, {VARS}) {{ groupSession(id: $id) {{
  participants({ARGS}) {{ {PAGE % ("participant { name }", "participant { name }")} }} }} }}"""


def label(node: dict) -> str:
    return node["title"] if "title" in node else node["participant"]["name"]


async def walk(fetch, size: int, *, backward: bool) -> tuple[list[str], list[dict]]:
    """Every item, page by page of `size`, forwards (first/after) or backwards (last/before),
    checking on each page that `nodes` equals the edges' nodes. Returns the items in list
    order and the pageInfo of every page."""
    items: list[list[str]] = []
    infos: list[dict] = []
    cursor = None
    for _ in range(50):
        variables = {"last": size, "before": cursor} if backward else {"first": size, "after": cursor}
        page = await fetch(variables)
        assert [label(n) for n in page["nodes"]] == [label(e["node"]) for e in page["edges"]]
        labels = [label(e["node"]) for e in page["edges"]]
        infos.append(page["pageInfo"])
        items = [labels, *items] if backward else [*items, labels]
        more = page["pageInfo"]["hasPreviousPage"] if backward else page["pageInfo"]["hasNextPage"]
        if not more:
            break
        cursor = page["pageInfo"]["startCursor"] if backward else page["pageInfo"]["endCursor"]
    flat = [label for chunk in items for label in chunk]
    return flat, infos


def assert_exact_flags(infos: list[dict], *, backward: bool) -> None:
    """The first page read has nothing on its near side and more on the far side, the last
    page read the opposite, and pages between have both."""
    near, far = ("hasNextPage", "hasPreviousPage") if backward else ("hasPreviousPage", "hasNextPage")
    for i, info in enumerate(infos):
        assert info[near] is (i > 0), (i, info)
        assert info[far] is (i < len(infos) - 1), (i, info)


@pytest.fixture
async def five_future(api, world):
    titles = []
    for i in range(5):
        await create_session(api, world, title=f"S{i}", startsAt=in_days(1 + i))
        titles.append(f"S{i}")
    return titles


async def test_dashboard_future_pages_forwards_and_backwards_with_exact_flags(api, world, five_future):
    async def fetch(variables):
        data = await api.data(DASHBOARD, {"timeframe": "FUTURE", **variables}, token=world.host.token)
        return data["dashboard"]["sessions"]

    for size, pages in ((2, 3), (5, 1), (1, 5)):
        forwards, infos = await walk(fetch, size, backward=False)
        assert forwards == five_future and len(infos) == pages
        assert_exact_flags(infos, backward=False)
        backwards, infos = await walk(fetch, size, backward=True)
        assert backwards == five_future and len(infos) == pages
        assert_exact_flags(infos, backward=True)


async def test_dashboard_past_pages_backwards_in_its_own_order(api, world):
    for days_ago in (1, 2, 3, 4):
        await past_session(world, f"P{days_ago}", days_ago)

    async def fetch(variables):
        data = await api.data(DASHBOARD, {"timeframe": "PAST", **variables}, token=world.host.token)
        return data["dashboard"]["sessions"]

    # The past is listed most recent first; reading backwards gives the same order.
    forwards, _ = await walk(fetch, 3, backward=False)
    backwards, infos = await walk(fetch, 3, backward=True)
    assert forwards == backwards == ["P1", "P2", "P3", "P4"]
    assert len(infos) == 2
    assert_exact_flags(infos, backward=True)
    last_two = await fetch({"last": 2})
    assert [e["node"]["title"] for e in last_two["edges"]] == ["P3", "P4"]


async def test_program_sessions_and_profile_page_both_ways(api, world, five_future):
    async def program(variables):
        data = await api.data(PROGRAM, {"id": world.program_gid, **variables}, token=world.mentees[0].token)
        return data["program"]["groupSessions"]

    async def profile(variables):
        data = await api.data(PROFILE, {"id": world.host.gid, **variables}, token=world.mentees[0].token)
        return data["profile"]["upcomingGroupSessions"]

    for fetch in (program, profile):
        for backward in (False, True):
            items, infos = await walk(fetch, 2, backward=backward)
            assert items == five_future
            assert_exact_flags(infos, backward=backward)


async def test_participants_page_both_ways(api, world):
    session = await create_session(api, world, maxParticipants=10)
    for member in [world.mentor, *world.mentees, world.admin]:
        await join(api, member, session["id"])

    async def fetch(variables):
        data = await api.data(PARTICIPANTS, {"id": session["id"], **variables}, token=world.host.token)
        return data["groupSession"]["participants"]

    everyone = ["Hannah", "Mario", "Mentee0", "Mentee1", "Mentee2", "Adele"]
    for backward in (False, True):
        items, infos = await walk(fetch, 4, backward=backward)
        assert items == everyone and len(infos) == 2
        assert_exact_flags(infos, backward=backward)
    assert (await fetch({"last": 2}))["totalCount"] == 6


async def test_a_window_between_two_cursors(api, world, five_future):
    async def fetch(variables):
        data = await api.data(DASHBOARD, {"timeframe": "FUTURE", **variables}, token=world.host.token)
        return data["dashboard"]["sessions"]

    edges = (await fetch({"first": 5}))["edges"]
    cursors = [e["cursor"] for e in edges]
    between = await fetch({"after": cursors[0], "before": cursors[4], "first": 10})
    assert [e["node"]["title"] for e in between["edges"]] == ["S1", "S2", "S3"]
    assert between["pageInfo"]["hasPreviousPage"] is True
    last_one = await fetch({"after": cursors[0], "before": cursors[4], "last": 1})
    assert [e["node"]["title"] for e in last_one["edges"]] == ["S3"]
    assert last_one["pageInfo"] == {
        "hasNextPage": True,  # S4 exists beyond `before`
        "hasPreviousPage": True,  # S1 and S2 precede it within the window
        "startCursor": cursors[3],
        "endCursor": cursors[3],
    }
    # The cursor of an edge works as `before` as well as `after`.
    before_first = await fetch({"before": cursors[0], "last": 3})
    assert before_first["edges"] == [] and before_first["pageInfo"]["hasNextPage"] is True
    assert before_first["pageInfo"]["hasPreviousPage"] is False


async def test_old_cursors_still_page(api, world, five_future):
    """A cursor a client held before paging went both ways (same encoding) still works."""
    from app.api.pagination import encode_cursor

    data = await api.data(DASHBOARD, {"timeframe": "FUTURE", "first": 5}, token=world.host.token)
    first = data["dashboard"]["sessions"]["edges"][0]
    from app.api.pagination import decode_cursor

    starts_at, pk = decode_cursor(first["cursor"], 2)
    assert first["cursor"] == encode_cursor(starts_at, pk)
    rest = await api.data(DASHBOARD, {"timeframe": "FUTURE", "after": first["cursor"]}, token=world.host.token)
    assert [e["node"]["title"] for e in rest["dashboard"]["sessions"]["edges"]] == ["S1", "S2", "S3", "S4"]


@pytest.mark.parametrize(
    ("variables", "message"),
    [
        ({"first": 2, "last": 2}, "Pass either first or last, not both."),
        ({"last": -1}, "last must be between 0 and 100."),
        ({"last": 101}, "last must be between 0 and 100."),
        ({"first": -1}, "first must be between 0 and 100."),
        ({"last": 2, "before": "not-a-cursor"}, "Invalid cursor"),
    ],
)
async def test_bad_paging_arguments_are_clear_errors(api, world, variables, message):
    body = await api.execute(DASHBOARD, {"timeframe": "FUTURE", **variables}, token=world.host.token)
    [error] = body["errors"]
    assert error["message"].startswith(message)
    assert error["extensions"]["code"] == "BAD_USER_INPUT"


async def test_first_and_last_together_as_literals_are_refused_too(api, world):
    query = "{ dashboard { sessions(first: 1, last: 1) { totalCount } } }"
    body = await api.execute(query, token=world.host.token)
    assert body["errors"][0]["message"] == "Pass either first or last, not both."


async def test_last_alone_overrides_the_default_first(api, world, five_future):
    query = "{ dashboard { sessions(last: 2) { nodes { title } pageInfo { hasPreviousPage hasNextPage } } } }"
    data = await api.data(query, token=world.host.token)
    assert data["dashboard"]["sessions"] == {
        "nodes": [{"title": "S3"}, {"title": "S4"}],
        "pageInfo": {"hasPreviousPage": True, "hasNextPage": False},
    }
