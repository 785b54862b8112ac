"""GroupSession.phase by the server's clock, and the action flags: every mutation, in every
phase, as every kind of viewer, succeeds exactly when its flag says it may."""

from __future__ import annotations

from datetime import timedelta

import pytest

from app.api.pagination import pk_of
from app.group_sessions.models import GroupSession, Registration, SessionStatus
from app.main import create_app
from tests.conftest import create_session, join
from tests.email.conftest import Clock

HOUR = 3600
PHASES = ("UPCOMING", "LIVE", "ENDED", "CANCELLED")
ROLES = ("host", "participant", "guest", "member")
ACTIONS = ("edit", "reschedule", "cancel", "leave")
FLAG_OF = {
    "edit": "viewerCanEdit",
    "reschedule": "viewerCanReschedule",
    "cancel": "viewerCanCancel",
    "leave": "viewerCanLeave",
}

# What each kind of viewer may do in each phase (the rules, written out once more).
ALLOWED = {
    ("host", "UPCOMING"): {"edit", "reschedule", "cancel"},
    ("host", "LIVE"): {"edit", "cancel"},
    ("participant", "UPCOMING"): {"leave"},
}

FLAGS = """
query Flags($id: ID!) {
  groupSession(id: $id) {
    phase status viewerIsHost viewerIsAttending
    viewerCanEdit viewerCanReschedule viewerCanCancel viewerCanLeave
  }
}
"""

EDIT = """
mutation Edit($input: UpdateGroupSessionInput!) {
  updateGroupSession(input: $input) { groupSession { id } userErrors { field code message } }
}
"""

CANCEL = """
mutation Cancel($id: ID!) {
  cancelGroupSession(input: {id: $id, reason: "Flag check"}) { groupSession { id } userErrors { field code message } }
}
"""

LEAVE = """
mutation Leave($id: ID!) {
  leaveGroupSession(input: {id: $id}) { groupSession { id } userErrors { field code message } }
}
"""


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def app(settings, clock):
    """The suite's app on a clock the test moves forward: phases change by it."""
    application = create_app(settings, clock=clock)
    async with application.router.lifespan_context(application):
        yield application


def viewer_for(world, role: str):
    return {"host": world.host, "participant": world.mentees[0], "guest": world.mentees[1], "member": world.mentees[2]}[
        role
    ]


async def new_session(api, world, clock: Clock) -> dict:
    """Starts in an hour, for an hour; mentees[0] registered, mentees[1] invited."""
    session = await create_session(
        api,
        world,
        startsAt=(clock() + timedelta(hours=1)).isoformat(),
        durationMinutes=60,
        guestIds=[world.mentees[1].gid],
    )
    assert (await join(api, world.mentees[0], session["id"]))["userErrors"] == []
    return session


async def drive_to(phase: str, api, world, clock: Clock, sessions: list[dict]) -> None:
    if phase == "LIVE":
        clock.advance(1.5 * HOUR)
    elif phase == "ENDED":
        clock.advance(2 * HOUR + 60)
    elif phase == "CANCELLED":
        for session in sessions:
            cancelled = await api.data(CANCEL, {"id": session["id"]}, token=world.host.token)
            assert cancelled["cancelGroupSession"]["userErrors"] == []


async def perform(action: str, api, world, clock: Clock, member, session_id: str) -> list[dict]:
    """Try `action` as `member`; the userErrors it answered."""
    if action == "edit":
        data = await api.data(EDIT, {"input": {"id": session_id, "title": "Edited title"}}, token=member.token)
        return data["updateGroupSession"]["userErrors"]
    if action == "reschedule":
        new_start = (clock() + timedelta(days=2)).replace(microsecond=0).isoformat()
        data = await api.data(EDIT, {"input": {"id": session_id, "startsAt": new_start}}, token=member.token)
        return data["updateGroupSession"]["userErrors"]
    if action == "cancel":
        return (await api.data(CANCEL, {"id": session_id}, token=member.token))["cancelGroupSession"]["userErrors"]
    return (await api.data(LEAVE, {"id": session_id}, token=member.token))["leaveGroupSession"]["userErrors"]


async def snapshot(pk: int) -> tuple:
    row = await GroupSession.get(id=pk)
    registrations = await Registration.filter(session_id=pk).order_by("id").values_list("user_id", flat=True)
    return (
        row.title, row.starts_at, row.ends_at, row.status, row.cancelled_at, row.sequence,
        row.participant_count, tuple(registrations),
    )


@pytest.mark.parametrize("phase", PHASES)
@pytest.mark.parametrize("role", ROLES)
async def test_each_flag_says_what_its_mutation_does(api, world, clock, phase, role):
    # One session per action, so each mutation meets the session as the flags saw it.
    sessions = {action: await new_session(api, world, clock) for action in ACTIONS}
    await drive_to(phase, api, world, clock, list(sessions.values()))
    member = viewer_for(world, role)
    allowed = ALLOWED.get((role, phase), set())

    for action, session in sessions.items():
        seen = (await api.data(FLAGS, {"id": session["id"]}, token=member.token))["groupSession"]
        assert seen["phase"] == phase
        assert {a for a in ACTIONS if seen[FLAG_OF[a]]} == allowed, seen

        pk = pk_of(session["id"], "GroupSession")
        before = await snapshot(pk)
        errors = await perform(action, api, world, clock, member, session["id"])
        assert (errors == []) is seen[FLAG_OF[action]], (action, errors)
        after = await snapshot(pk)
        if errors:
            assert errors[0]["message"] and errors[0]["code"]
            assert after == before, f"{action} refused but changed the session"
            continue
        title, starts_at, _, status, _, _, count, registered = after
        if action == "edit":
            assert title == "Edited title" and starts_at == before[1]
        elif action == "reschedule":
            assert starts_at > before[1] + timedelta(days=1)
        elif action == "cancel":
            assert status == SessionStatus.CANCELLED
        else:
            assert member.user.id not in registered and count == before[6] - 1


async def test_phase_follows_the_clock_and_cancellation(api, world, clock):
    session = await create_session(
        api, world, startsAt=(clock() + timedelta(hours=1)).isoformat(), durationMinutes=30
    )
    other = await create_session(api, world, startsAt=(clock() + timedelta(hours=1)).isoformat(), durationMinutes=30)

    async def phase_of(s) -> str:
        return (await api.data(FLAGS, {"id": s["id"]}, token=world.mentees[2].token))["groupSession"]["phase"]

    assert await phase_of(session) == "UPCOMING"
    clock.advance(HOUR + 1)
    assert await phase_of(session) == "LIVE"
    cancelled = await api.data(CANCEL, {"id": other["id"]}, token=world.host.token)  # cancelled while live
    assert cancelled["cancelGroupSession"]["userErrors"] == []
    assert await phase_of(other) == "CANCELLED"
    clock.advance(30 * 60)
    assert await phase_of(session) == "ENDED"
    assert await phase_of(other) == "CANCELLED"  # cancelled stays cancelled after its time


async def test_phase_and_flags_in_lists_match_the_session_page(api, world, clock):
    session = await create_session(api, world, startsAt=(clock() + timedelta(hours=1)).isoformat(), durationMinutes=60)
    await join(api, world.mentees[0], session["id"])
    listed = await api.data(
        "{ dashboard { sessions { edges { node { id phase viewerCanLeave viewerCanCancel viewerCanReschedule } } } } }",
        token=world.mentees[0].token,
    )
    assert listed["dashboard"]["sessions"]["edges"] == [
        {"node": {"id": session["id"], "phase": "UPCOMING", "viewerCanLeave": True, "viewerCanCancel": False,
                  "viewerCanReschedule": False}}
    ]


async def test_every_list_splits_future_from_past_by_the_same_clock_as_phase(api, world, clock):
    """A session that `phase` calls ENDED is in every PAST list and in no upcoming one."""
    session = await create_session(api, world, startsAt=(clock() + timedelta(hours=1)).isoformat(), durationMinutes=30)
    lists = """
    query($program: ID!, $host: ID!) {
      dashboard { future: sessions(timeframe: FUTURE) { nodes { id phase } } past: sessions(timeframe: PAST) { nodes { id phase } } }
      program(id: $program) { future: groupSessions(timeframe: FUTURE) { nodes { id } } past: groupSessions(timeframe: PAST) { nodes { id } } }
      profile(userId: $host) { upcomingGroupSessions { nodes { id } } }
    }
    """

    async def ids() -> tuple:
        data = await api.data(lists, {"program": world.program_gid, "host": world.host.gid}, token=world.host.token)
        return (
            [(n["id"], n["phase"]) for n in data["dashboard"]["future"]["nodes"]],
            [(n["id"], n["phase"]) for n in data["dashboard"]["past"]["nodes"]],
            [n["id"] for n in data["program"]["future"]["nodes"]],
            [n["id"] for n in data["program"]["past"]["nodes"]],
            [n["id"] for n in data["profile"]["upcomingGroupSessions"]["nodes"]],
        )

    assert await ids() == ([(session["id"], "UPCOMING")], [], [session["id"]], [], [session["id"]])
    clock.advance(HOUR + 30 * 60 + 1)
    assert await ids() == ([], [(session["id"], "ENDED")], [], [session["id"]], [])
