"""Dashboard > Sessions (Future / Past), the profile's upcoming sessions, a program's sessions."""

from datetime import timedelta

import pytest

from app.clock import utcnow
from app.api.pagination import to_global_id
from app.group_sessions.models import GroupSession, Registration
from tests.conftest import create_session, in_days, join
from tests.documents import CANCEL

DASHBOARD = """
query($timeframe: Timeframe!, $role: SessionRole, $includeCancelled: Boolean, $first: Int, $after: String) {
  dashboard {
    sessions(timeframe: $timeframe, role: $role, includeCancelled: $includeCancelled, first: $first, after: $after) {
      totalCount
      pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
      edges { cursor node { id title startsAt participantCount url viewerCanEdit viewerIsHost status
                            participants { edges { node { participant { name } } } } } }
    }
  }
}
"""


async def dashboard(api, member, **variables):
    variables.setdefault("timeframe", "FUTURE")
    return (await api.data(DASHBOARD, variables, token=member.token))["dashboard"]["sessions"]


def titles(connection):
    return [e["node"]["title"] for e in connection["edges"]]


async def past_session(world, title, days_ago, host=None, participants=()):
    """Sessions in the past cannot be created through the API; write them directly."""
    host = host or world.host
    start = utcnow() - timedelta(days=days_ago)
    row = await GroupSession.create(
        program=world.program, host=host.user, title=title, objective="o", starts_at=start,
        ends_at=start + timedelta(hours=1), duration_minutes=60, participant_count=1 + len(participants),
    )
    await Registration.create(session=row, user=host.user, is_host=True)
    for member in participants:
        await Registration.create(session=row, user=member.user)
    return row


async def test_future_lists_what_the_viewer_hosts_or_attends_soonest_first(api, world):
    late = await create_session(api, world, title="Late", startsAt=in_days(9))
    await create_session(api, world, title="Soon", startsAt=in_days(1))
    other = await create_session(api, world, title="Mario's", startsAt=in_days(4), as_=world.mentor)
    await create_session(api, world, title="Not attended", startsAt=in_days(2), as_=world.mentor)
    await join(api, world.host, other["id"])
    await past_session(world, "Long ago", 10)

    sessions = await dashboard(api, world.host)
    assert titles(sessions) == ["Soon", "Mario's", "Late"]
    assert sessions["totalCount"] == 3
    first = sessions["edges"][0]["node"]
    assert first["viewerIsHost"] and first["viewerCanEdit"]
    assert first["url"].startswith("https://sessions.example.org/group-sessions/")
    assert [e["node"]["participant"]["name"] for e in first["participants"]["edges"]] == ["Hannah"]
    assert not sessions["edges"][1]["node"]["viewerCanEdit"]

    mentee = await dashboard(api, world.mentees[0])
    assert titles(mentee) == [] and mentee["totalCount"] == 0
    await join(api, world.mentees[0], late["id"])
    assert titles(await dashboard(api, world.mentees[0])) == ["Late"]


async def test_past_lists_ended_sessions_most_recent_first(api, world):
    await past_session(world, "Three days ago", 3, participants=[world.mentees[0]])
    await past_session(world, "A week ago", 7)
    await past_session(world, "Yesterday", 1)
    await create_session(api, world, title="Future")

    sessions = await dashboard(api, world.host, timeframe="PAST")
    assert titles(sessions) == ["Yesterday", "Three days ago", "A week ago"]
    assert titles(await dashboard(api, world.mentees[0], timeframe="PAST")) == ["Three days ago"]
    assert not sessions["edges"][0]["node"]["viewerCanEdit"]


async def test_role_filter(api, world):
    await create_session(api, world, title="Hosted")
    mario = await create_session(api, world, title="Attended", as_=world.mentor)
    await join(api, world.host, mario["id"])
    assert titles(await dashboard(api, world.host, role="HOST")) == ["Hosted"]
    assert titles(await dashboard(api, world.host, role="PARTICIPANT")) == ["Attended"]


async def test_cancelled_sessions_leave_lists_unless_asked_for(api, world):
    kept = await create_session(api, world, title="Kept", startsAt=in_days(2))
    gone = await create_session(api, world, title="Gone", startsAt=in_days(1))
    await join(api, world.mentees[0], gone["id"])
    await api.data(CANCEL, {"id": gone["id"]}, token=world.host.token)
    assert titles(await dashboard(api, world.host)) == ["Kept"]
    assert titles(await dashboard(api, world.mentees[0])) == []
    with_cancelled = await dashboard(api, world.host, includeCancelled=True)
    assert titles(with_cancelled) == ["Gone", "Kept"]
    assert [e["node"]["status"] for e in with_cancelled["edges"]] == ["CANCELLED", "SCHEDULED"]
    assert kept["id"] != gone["id"]


async def test_pages_follow_each_other_with_cursors(api, world):
    for day in range(1, 8):
        await create_session(api, world, title=f"Day {day}", startsAt=in_days(day))
    seen, after, pages = [], None, 0
    while True:
        page = await dashboard(api, world.host, first=3, after=after)
        pages += 1
        seen += titles(page)
        assert page["totalCount"] == 7
        assert page["pageInfo"]["hasPreviousPage"] == (after is not None)
        assert page["pageInfo"]["endCursor"] == page["edges"][-1]["cursor"]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert seen == [f"Day {d}" for d in range(1, 8)] and pages == 3


async def test_sessions_at_the_same_instant_page_without_loss(api, world):
    start = in_days(2, hour=10)
    for i in range(5):
        await create_session(api, world, title=f"Same {i}", startsAt=start)
    first = await dashboard(api, world.host, first=2)
    rest = await dashboard(api, world.host, first=10, after=first["pageInfo"]["endCursor"])
    assert titles(first) + titles(rest) == [f"Same {i}" for i in range(5)]


async def test_first_zero_gives_an_empty_page_with_a_count(api, world):
    await create_session(api, world)
    page = await dashboard(api, world.host, first=0)
    assert page["edges"] == [] and page["totalCount"] == 1


@pytest.mark.parametrize("first", [101, -1, 100000])
async def test_first_above_the_cap_or_negative_is_refused(api, world, first):
    body = await api.execute(DASHBOARD, {"timeframe": "FUTURE", "first": first}, token=world.host.token)
    assert body["data"] is None
    assert "first must be between 0 and 100" in body["errors"][0]["message"]
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


@pytest.mark.parametrize("after", ["garbage", "WzFd", "", "W251bGwsbnVsbF0"])
async def test_a_bad_cursor_is_refused_clearly(api, world, after):
    body = await api.execute(DASHBOARD, {"timeframe": "FUTURE", "after": after}, token=world.host.token)
    assert body["data"] is None
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert "cursor" in body["errors"][0]["message"]


PROFILE = """
query($id: ID!, $first: Int) {
  profile(userId: $id) {
    name timeZone
    upcomingGroupSessions(first: $first) {
      totalCount edges { node { title viewerIsAttending viewerCanJoin viewerCannotJoinReasons } }
    }
  }
}
"""


async def test_profile_lists_upcoming_hosted_sessions_with_the_viewers_attendance(api, world):
    a = await create_session(api, world, title="A", startsAt=in_days(5))
    await create_session(api, world, title="B", startsAt=in_days(2))
    cancelled = await create_session(api, world, title="Cancelled", startsAt=in_days(3))
    await api.data(CANCEL, {"id": cancelled["id"]}, token=world.host.token)
    await past_session(world, "Past", 2)
    await create_session(api, world, title="Mario's", as_=world.mentor)
    await join(api, world.mentees[0], a["id"])

    profile = (await api.data(PROFILE, {"id": world.host.gid}, token=world.mentees[0].token))["profile"]
    assert profile["name"] == "Hannah" and profile["timeZone"] == "Europe/Paris"
    sessions = profile["upcomingGroupSessions"]
    assert titles(sessions) == ["B", "A"] and sessions["totalCount"] == 2
    assert [e["node"]["viewerIsAttending"] for e in sessions["edges"]] == [False, True]
    assert sessions["edges"][0]["node"]["viewerCanJoin"] is True
    assert sessions["edges"][1]["node"]["viewerCannotJoinReasons"] == ["ALREADY_REGISTERED"]


async def test_profile_of_someone_sharing_no_program_is_null(api, world):
    assert (await api.data(PROFILE, {"id": world.host.gid}, token=world.outsider.token))["profile"] is None
    assert (await api.data(PROFILE, {"id": "garbage"}, token=world.outsider.token))["profile"] is None


async def test_profile_shows_only_sessions_of_programs_the_viewer_shares(api, world):
    from app.accounts import services as accounts
    from app.accounts.models import ProgramRole

    # The host also mentors in the other program, where the outsider is a member.
    await accounts.add_member(program_id=world.other_program.id, email=world.host.user.email, role=ProgramRole.MENTOR)
    await create_session(api, world, title="In Mentoring")
    await create_session(api, world, title="In Elsewhere", programId=to_global_id("Program", world.other_program.id))
    outsider_view = (await api.data(PROFILE, {"id": world.host.gid}, token=world.outsider.token))["profile"]
    assert titles(outsider_view["upcomingGroupSessions"]) == ["In Elsewhere"]
    member_view = (await api.data(PROFILE, {"id": world.host.gid}, token=world.mentees[0].token))["profile"]
    assert titles(member_view["upcomingGroupSessions"]) == ["In Mentoring"]


PROGRAM = """
query($id: ID!, $timeframe: Timeframe!) {
  program(id: $id) { name viewerRole groupSessions(timeframe: $timeframe) { totalCount edges { node { title } } } }
}
"""


async def test_program_lists_its_sessions_for_members_only(api, world):
    await create_session(api, world, title="Second", startsAt=in_days(4))
    await create_session(api, world, title="First", startsAt=in_days(1), as_=world.mentor)
    await past_session(world, "Before", 3)
    program = (await api.data(PROGRAM, {"id": world.program_gid, "timeframe": "FUTURE"},
                              token=world.mentees[0].token))["program"]
    assert program["name"] == "Mentoring" and program["viewerRole"] == "MENTEE"
    assert titles(program["groupSessions"]) == ["First", "Second"]
    past = (await api.data(PROGRAM, {"id": world.program_gid, "timeframe": "PAST"},
                           token=world.host.token))["program"]
    assert titles(past["groupSessions"]) == ["Before"] and past["viewerRole"] == "MENTOR"
    outsider = await api.data(PROGRAM, {"id": world.program_gid, "timeframe": "FUTURE"}, token=world.outsider.token)
    assert outsider["program"] is None
