"""Each user's private calendar feed: the link, the calendar it serves (checked with the
icalendar package and with vobject, an independent parser), caching, revocation, limits."""

import hashlib
from datetime import datetime, timedelta, timezone

import pytest
import vobject
from icalendar import Calendar

from app.accounts.models import CalendarFeed
from app.group_sessions.models import GroupSession
from app.settings import Duration
from tests.conftest import PUBLIC_WEB_URL, create_session, in_days, join
from tests.documents import CANCEL

FEED_URL = "query { viewer { calendarFeedUrl emailReminders } }"
RESET = "mutation { resetCalendarFeedUrl { calendarFeedUrl userErrors { code } } }"
OTHERS = "query($id: ID!) { profile(userId: $id) { calendarFeedUrl emailReminders } }"
REMINDERS = "mutation($on: Boolean) { updateViewer(input: {emailReminders: $on}) { viewer { emailReminders } userErrors { code } } }"


@pytest.fixture
def settings(settings):
    return settings.with_(join_window=Duration(hours=1), calendar_feed_requests_per_minute=5)


def soon(minutes: int = 30) -> str:
    return (datetime.now(timezone.utc) + timedelta(minutes=minutes)).isoformat()


async def feed_url(api, member) -> str:
    return (await api.data(FEED_URL, token=member.token))["viewer"]["calendarFeedUrl"]


async def fetch(api, url, **headers):
    assert url.startswith(PUBLIC_WEB_URL)
    return await api.http.get(url[len(PUBLIC_WEB_URL):], headers=headers)


def events(body: bytes) -> dict[str, dict]:
    """UID -> the event's properties, as icalendar reads them."""
    return {str(e["uid"]): e for e in Calendar.from_ical(body).walk("VEVENT")}


async def test_the_feed_lists_what_the_user_hosts_and_attends_and_nothing_else(api, world):
    hosted = await create_session(api, world, title="Hosted")
    attended = await create_session(api, world, as_=world.mentor, title="Attended")
    await join(api, world.host, attended["id"])
    await create_session(api, world, as_=world.mentor, title="Not mine")
    cancelled = await create_session(api, world, title="Called off")
    await api.data(CANCEL, {"id": cancelled["id"]}, token=world.host.token)

    url = await feed_url(api, world.host)
    assert url == await feed_url(api, world.host)  # the same link every time it is asked
    response = await fetch(api, url)
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/calendar; charset=utf-8"
    assert response.headers["cache-control"] == "private, max-age=300"

    rows = {r.title: r for r in await GroupSession.all()}
    found = events(response.content)
    assert set(found) == {f"group-session-{rows[t].id}@localhost" for t in ("Hosted", "Attended", "Called off")}
    by_title = {str(e["summary"]): e for e in found.values()}
    assert str(by_title["Called off"]["status"]) == "CANCELLED"
    assert str(by_title["Hosted"]["status"]) == "CONFIRMED"
    assert by_title["Hosted"].decoded("dtstart") == rows["Hosted"].starts_at
    assert int(by_title["Called off"]["sequence"]) == rows["Called off"].sequence
    # Nobody's email, the user's own included: no ORGANIZER, no ATTENDEE.
    assert b"@example.org" not in response.content
    assert b"ORGANIZER" not in response.content and b"ATTENDEE" not in response.content

    # An independent parser reads the same events.
    parsed = vobject.readOne(response.content.decode())
    assert sorted(e.uid.value for e in parsed.vevent_list) == sorted(found)
    assert {e.summary.value for e in parsed.vevent_list} == {"Hosted", "Attended", "Called off"}
    assert hosted["id"] and attended["id"]


async def test_the_room_link_is_in_the_feed_only_inside_the_window(api, world):
    now_on = await create_session(api, world, title="Soon", startsAt=soon())
    later = await create_session(api, world, title="Later", startsAt=in_days(3, hour=17))
    await join(api, world.mentees[0], now_on["id"])
    await join(api, world.mentees[0], later["id"])
    rows = {r.title: r for r in await GroupSession.all()}

    body = (await fetch(api, await feed_url(api, world.mentees[0]))).content
    by_title = {str(e["summary"]): e for e in events(body).values()}
    room = f"https://meet.jit.si/{rows['Soon'].room_name}"
    assert str(by_title["Soon"]["location"]) == room and str(by_title["Soon"]["url"]) == room
    assert "location" not in by_title["Later"]
    assert rows["Later"].room_name.encode() not in body
    assert str(by_title["Later"]["url"]).startswith(f"{PUBLIC_WEB_URL}/group-sessions/")


async def test_unchanged_feeds_answer_304(api, world):
    await create_session(api, world)
    url = await feed_url(api, world.host)
    first = await fetch(api, url)
    etag = first.headers["etag"]
    again = await fetch(api, url, **{"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b""
    await create_session(api, world, title="Another")
    changed = await fetch(api, url, **{"If-None-Match": etag})
    assert changed.status_code == 200 and changed.headers["etag"] != etag


async def test_reset_revokes_the_old_link_at_once(api, world):
    await create_session(api, world)
    old = await feed_url(api, world.host)
    assert (await fetch(api, old)).status_code == 200
    result = (await api.data(RESET, token=world.host.token))["resetCalendarFeedUrl"]
    new = result["calendarFeedUrl"]
    assert result["userErrors"] == [] and new != old
    assert (await fetch(api, old)).status_code == 404
    assert (await fetch(api, new)).status_code == 200
    assert await feed_url(api, world.host) == new


async def test_the_database_keeps_only_a_hash_of_the_token(api, world):
    url = await feed_url(api, world.host)
    token = url.rsplit("/", 1)[1].removesuffix(".ics")
    row = await CalendarFeed.get(user_id=world.host.user.id)
    assert row.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert token not in (row.nonce, row.token_hash)


async def test_the_link_is_the_viewers_alone(api, world):
    assert (await api.data(OTHERS, {"id": world.host.gid}, token=world.mentees[0].token))["profile"] == {
        "calendarFeedUrl": None, "emailReminders": None,
    }
    reset = await api.execute(RESET)
    assert reset["data"] is None and reset["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


@pytest.mark.parametrize("path", ["/calendar/nope.ics", "/calendar/" + "A" * 43 + ".ics", "/calendar/" + "A" * 43])
async def test_unknown_and_malformed_links_are_404(api, world, path):
    response = await api.http.get(path)
    assert response.status_code == 404


async def test_fetches_are_rate_limited_per_feed(api, world):
    url = await feed_url(api, world.host)
    statuses = [(await fetch(api, url)).status_code for _ in range(6)]
    assert statuses == [200] * 5 + [429]
    limited = await fetch(api, url)
    assert int(limited.headers["retry-after"]) >= 1
    # Another user's feed is counted apart.
    assert (await fetch(api, await feed_url(api, world.mentor))).status_code == 200


async def test_a_user_can_turn_reminders_off_and_on(api, world):
    assert (await api.data(FEED_URL, token=world.host.token))["viewer"]["emailReminders"] is True
    off = (await api.data(REMINDERS, {"on": False}, token=world.host.token))["updateViewer"]
    assert off == {"viewer": {"emailReminders": False}, "userErrors": []}
    await world.host.user.refresh_from_db()
    assert world.host.user.email_reminders is False
    on = (await api.data(REMINDERS, {"on": True}, token=world.host.token))["updateViewer"]
    assert on["viewer"]["emailReminders"] is True


async def test_two_fields_asking_at_once_get_the_same_link(api, world):
    # viewer and profile resolve concurrently: the first ask makes the link, once.
    query = "query($id: ID!) { viewer { calendarFeedUrl } profile(userId: $id) { calendarFeedUrl } }"
    data = await api.data(query, {"id": world.host.gid}, token=world.host.token)
    assert data["viewer"]["calendarFeedUrl"] == data["profile"]["calendarFeedUrl"] == await feed_url(api, world.host)
    assert await CalendarFeed.filter(user_id=world.host.user.id).count() == 1


async def test_the_reminders_choice_shows_on_the_viewers_own_row_in_any_list(api, world):
    query = "query($id: ID!) { program(id: $id) { members(first: 50) { nodes { id emailReminders } } } }"
    nodes = (await api.data(query, {"id": world.program_gid}, token=world.host.token))["program"]["members"]["nodes"]
    choices = {node["id"]: node["emailReminders"] for node in nodes}
    assert choices.pop(world.host.gid) is True
    assert set(choices.values()) == {None}


async def test_links_asked_for_at_once_are_one_link_that_works(api, world):
    """Two calendarFeedUrl fields in one response (the viewer's and their own profile's) on
    the first ask, and another request at the same moment: one link, and it works."""
    import asyncio

    document = "query($id: ID!) { viewer { calendarFeedUrl } profile(userId: $id) { calendarFeedUrl } }"
    member = world.mentees[0]
    answers = await asyncio.gather(*(api.data(document, {"id": member.gid}, token=member.token) for _ in range(3)))
    links = {a["viewer"]["calendarFeedUrl"] for a in answers} | {a["profile"]["calendarFeedUrl"] for a in answers}
    assert len(links) == 1
    assert (await fetch(api, links.pop())).status_code == 200
