"""The room: where a session takes place, shown to the host and confirmed participants
from joinOpensAt (start minus JOIN_WINDOW) until the end, and to nobody else."""

from datetime import datetime, timedelta, timezone

import pytest

from app.group_sessions.models import GroupSession
from app.settings import Duration
from tests.conftest import create_session, in_days, join
from tests.documents import CANCEL, CREATE, UPDATE

ROOM = """
query($id: ID!) { node(id: $id) { ... on GroupSession {
  joinOpensAt viewerCanEnter hasCustomMeetingUrl room { url instructions opensAt closesAt } } } }
"""


@pytest.fixture
def settings(settings):
    # An hour's window, so a session starting in half an hour is open to enter now.
    return settings.with_(join_window=Duration(hours=1), meeting_base_url="https://meet.example.org/rooms")


def soon(minutes: int = 30) -> str:
    return (datetime.now(timezone.utc) + timedelta(minutes=minutes)).isoformat()


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


async def room_as(api, member, session_id):
    return (await api.data(ROOM, {"id": session_id}, token=member.token))["node"]


async def test_host_and_participants_see_a_generated_room_inside_the_window(api, world):
    session = await create_session(api, world, startsAt=soon())
    await join(api, world.mentees[0], session["id"])

    host_view = await room_as(api, world.host, session["id"])
    participant_view = await room_as(api, world.mentees[0], session["id"])
    assert host_view == participant_view
    room = host_view["room"]
    assert host_view["viewerCanEnter"] is True and host_view["hasCustomMeetingUrl"] is False
    assert room["url"].startswith("https://meet.example.org/rooms/")
    name = room["url"].rsplit("/", 1)[1]
    assert len(name) >= 32  # 24 random bytes, URL-safe: 192 bits
    row = await GroupSession.get()
    assert name == row.room_name
    assert room["instructions"] is None
    assert utc(room["opensAt"]) == row.starts_at - timedelta(hours=1) == utc(host_view["joinOpensAt"])
    assert utc(room["closesAt"]) == row.ends_at

    # A member who did not register sees when it opens, but not the room.
    bystander = await room_as(api, world.mentees[1], session["id"])
    assert bystander == {**host_view, "viewerCanEnter": False, "room": None}


async def test_rooms_are_unguessable_and_stable(api, world):
    first = await create_session(api, world, startsAt=soon())
    second = await create_session(api, world, startsAt=soon(40))
    url1 = (await room_as(api, world.host, first["id"]))["room"]["url"]
    url2 = (await room_as(api, world.host, second["id"]))["room"]["url"]
    assert url1 != url2
    # An edit does not move the room.
    await api.data(UPDATE, {"input": {"id": first["id"], "title": "Renamed"}}, token=world.host.token)
    assert (await room_as(api, world.host, first["id"]))["room"]["url"] == url1


async def test_nobody_sees_the_room_before_the_window(api, world):
    session = await create_session(api, world, startsAt=in_days(3, hour=17))
    await join(api, world.mentees[0], session["id"])
    for member in (world.host, world.mentees[0], world.mentees[1]):
        view = await room_as(api, member, session["id"])
        assert view["room"] is None and view["viewerCanEnter"] is False
        assert utc(view["joinOpensAt"]) == utc(in_days(3, hour=17)) - timedelta(hours=1)


async def test_a_cancelled_session_has_no_room(api, world):
    session = await create_session(api, world, startsAt=soon())
    await join(api, world.mentees[0], session["id"])
    await api.data(CANCEL, {"id": session["id"]}, token=world.host.token)
    for member in (world.host, world.mentees[0]):
        view = await room_as(api, member, session["id"])
        assert view["room"] is None and view["viewerCanEnter"] is False


async def test_the_hosts_own_link_and_instructions(api, world):
    session = await create_session(
        api, world, startsAt=soon(),
        meetingUrl="  https://zoom.example.com/j/123?pwd=abc  ", joinInstructions="Passcode: 4242\nCameras on.",
    )
    view = await room_as(api, world.host, session["id"])
    assert view["hasCustomMeetingUrl"] is True
    assert view["room"]["url"] == "https://zoom.example.com/j/123?pwd=abc"
    assert view["room"]["instructions"] == "Passcode: 4242\nCameras on."

    # An empty link goes back to the generated room; empty instructions remove them.
    result = await api.data(
        UPDATE, {"input": {"id": session["id"], "meetingUrl": "", "joinInstructions": ""}}, token=world.host.token
    )
    assert result["updateGroupSession"]["userErrors"] == []
    view = await room_as(api, world.host, session["id"])
    row = await GroupSession.get()
    assert view["hasCustomMeetingUrl"] is False and row.meeting_url is None and row.join_instructions is None
    assert view["room"] == {**view["room"], "url": f"https://meet.example.org/rooms/{row.room_name}", "instructions": None}


@pytest.mark.parametrize(
    "url, code",
    [
        ("http://meet.example.org/room", "INVALID"),
        ("javascript:alert(1)", "INVALID"),
        ("https://", "INVALID"),
        ("https://localhost/room", "INVALID"),
        ("https://user:secret@meet.example.org/room", "INVALID"),
        ("https://meet.example.org/a room", "INVALID"),
        ("https://meet.example.org/room\r\nBcc: x@example.org", "INVALID"),
        ("https://meet.example.org:99999/room", "INVALID"),
        ("https://meet.example.org/" + "a" * 2000, "TOO_LONG"),
    ],
)
async def test_a_bad_meeting_link_is_refused_and_nothing_is_created(api, world, url, code):
    payload = {
        "programId": world.program_gid, "title": "T", "objective": "O", "startsAt": soon(), "durationMinutes": 30,
        "meetingUrl": url,
    }
    result = (await api.data(CREATE, {"input": payload}, token=world.host.token))["createGroupSession"]
    assert result["groupSession"] is None
    assert [(e["field"], e["code"]) for e in result["userErrors"]] == [(["input", "meetingUrl"], code)]
    assert result["userErrors"][0]["message"].startswith("Meeting link must")
    assert await GroupSession.all().count() == 0


async def test_too_long_instructions_are_refused_on_edit_and_nothing_changes(api, world):
    session = await create_session(api, world, startsAt=soon(), joinInstructions="Be on time.")
    result = await api.data(
        UPDATE, {"input": {"id": session["id"], "joinInstructions": "x" * 2001}}, token=world.host.token
    )
    errors = result["updateGroupSession"]["userErrors"]
    assert [(e["field"], e["code"]) for e in errors] == [(["input", "joinInstructions"], "TOO_LONG")]
    assert (await GroupSession.get()).join_instructions == "Be on time."
