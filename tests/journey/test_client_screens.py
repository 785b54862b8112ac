"""The whole journey of a session, built screen by screen from the documents a client app
sends (tests/journey/screens.py) and nothing else: what each screen shows is asserted, as a
person would read it. The people, their passwords and programs are set up as the demo sets
them up (the accounts service); from sign-in on, only GraphQL. Runs on SQLite and, with
TEST_PASS=postgres, on PostgreSQL."""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from graphql import build_schema, parse, validate

from app.accounts import services as accounts
from app.accounts.models import ProgramRole
from app.api.pagination import to_global_id
from app.group_sessions.models import GroupSession, Registration
from app.main import create_app
from tests.email.conftest import Clock
from tests.journey import screens

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "journey-password"
PARIS = ZoneInfo("Europe/Paris")


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def app(settings, clock):
    """The suite's app on a clock the test moves forward: Future becomes Past by it."""
    application = create_app(settings, clock=clock)
    async with application.router.lifespan_context(application):
        yield application


class ClientApp:
    """What a client's GraphQL layer does: posts a named operation with its variables and
    the signed-in person's token, and reads `data`."""

    def __init__(self, api) -> None:
        self.http = api.http
        self.token: str | None = None

    async def send(self, document: str, **variables: Any) -> dict:
        operation = re.search(r"^(?:query|mutation) (\w+)", document, re.M).group(1)
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        response = await self.http.post(
            "/graphql", headers=headers,
            json={"query": document, "operationName": operation, "variables": variables},
        )
        body = response.json()
        assert response.status_code == 200 and not body.get("errors"), body
        # Every answer says what it cost, so a client sees how close a screen is to the limit.
        cost = body["extensions"]["cost"]
        assert 0 < cost["requested"] <= cost["limit"], cost
        return body["data"]

    async def sign_in(self, email: str) -> dict:
        signed_in = (await self.send(screens.SIGN_IN, email=email, password=PASSWORD))["signIn"]
        assert signed_in["userErrors"] == [] and signed_in["token"]
        self.token = signed_in["token"]
        return signed_in["viewer"]


def instant(day: date, hh_mm: str) -> str:
    """The UTC instant, as the API writes it, of a wall-clock time in Paris."""
    local = datetime.combine(day, time.fromisoformat(hh_mm), tzinfo=PARIS)
    return local.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def titles(nodes: list[dict]) -> list[str]:
    return [node["title"] for node in nodes]


def menu(node: dict) -> dict:
    return {key: node[key] for key in ("viewerCanEdit", "viewerCanReschedule", "viewerCanCancel", "viewerCanLeave")}


HOST_MENU = {"viewerCanEdit": True, "viewerCanReschedule": True, "viewerCanCancel": True, "viewerCanLeave": False}
PARTICIPANT_MENU = {"viewerCanEdit": False, "viewerCanReschedule": False, "viewerCanCancel": False, "viewerCanLeave": True}
NO_MENU = dict.fromkeys(HOST_MENU, False)


def test_every_screen_document_is_valid_against_the_contract():
    schema = build_schema((ROOT / "schema.graphql").read_text())
    for name, document in screens.ALL.items():
        assert validate(schema, parse(document)) == [], name
        assert re.search(rf"^(query|mutation) {name}\b", document, re.M), name


async def people() -> dict[str, str]:
    """A program where Ada mentors, a book club where she is a mentee, and the members the
    journey meets; the ids of the people, as the API writes them."""
    mentoring = await accounts.create_program(name="Mentoring")
    book_club = await accounts.create_program(name="Book club")
    ids = {}
    for key, name, zone, memberships in [
        ("ada", "Ada Lovelace", "Europe/Paris", [(mentoring, ProgramRole.MENTOR), (book_club, ProgramRole.MENTEE)]),
        ("alan", "Alan Turing", "Europe/London", [(mentoring, ProgramRole.MENTEE)]),
        ("eloise", "Éloïse Martin", "Europe/Paris", [(mentoring, ProgramRole.MENTEE)]),
        ("linus", "Linus Torvalds", "America/New_York", [(mentoring, ProgramRole.MENTEE)]),
        ("otto", "Otto Lilienthal", "Europe/Berlin", [(book_club, ProgramRole.MENTEE)]),
    ]:
        user = await accounts.create_user(email=f"{key}@example.org", name=name, password=PASSWORD, time_zone=zone)
        for program, role in memberships:
            await accounts.add_member(program_id=program.id, email=user.email, role=role)
        ids[key] = to_global_id("User", user.id)
    ids["mentoring"] = to_global_id("Program", mentoring.id)
    return ids


async def test_a_session_from_the_create_form_to_the_past_list(app, api, clock):
    ids = await people()
    ada, alan, eloise, linus = ClientApp(api), ClientApp(api), ClientApp(api), ClientApp(api)

    # --- Ada signs in; the create form offers the programs she may host in --------------
    viewer = await ada.sign_in("ada@example.org")
    assert viewer == {"id": ids["ada"], "name": "Ada Lovelace", "email": "ada@example.org", "timeZone": "Europe/Paris"}
    form = (await ada.send(screens.CREATE_FORM))["viewer"]
    assert form["timeZone"] == "Europe/Paris"  # the zone picker's default
    assert sorted((m["program"]["name"], m["role"], m["viewerCanHost"]) for m in form["memberships"]) == [
        ("Book club", "MENTEE", False), ("Mentoring", "MENTOR", True)]
    [program] = [m["program"] for m in form["memberships"] if m["viewerCanHost"]]
    assert program == {"id": ids["mentoring"], "name": "Mentoring"}

    # --- the guest picker: the program's members as she types, never anyone else --------
    async def pick(search: str | None, **paging) -> dict:
        return (await ada.send(screens.GUEST_PICKER, programId=program["id"], search=search, **paging))[
            "program"]["members"]

    assert (await pick("ala"))["nodes"] == [{"id": ids["alan"], "name": "Alan Turing"}]
    assert (await pick("élo"))["nodes"] == (await pick("ELO"))["nodes"] == [{"id": ids["eloise"], "name": "Éloïse Martin"}]
    assert (await pick("tor"))["nodes"] == [{"id": ids["linus"], "name": "Linus Torvalds"}]
    assert (await pick("otto"))["nodes"] == []  # a member of the book club only
    first = await pick(None, first=2)
    assert first["totalCount"] == 4 and first["pageInfo"]["hasNextPage"] and not first["pageInfo"]["hasPreviousPage"]
    rest = await pick(None, first=2, after=first["pageInfo"]["endCursor"])
    assert not rest["pageInfo"]["hasNextPage"] and rest["pageInfo"]["hasPreviousPage"]
    assert {n["name"] for n in first["nodes"] + rest["nodes"]} == {
        "Ada Lovelace", "Alan Turing", "Éloïse Martin", "Linus Torvalds"}

    # --- she creates a session as she typed it: a day and a wall-clock time in Paris ------
    day = (clock().astimezone(PARIS) + timedelta(days=3)).date()
    form_input = {
        "programId": program["id"], "title": "Reading other people's code",
        "objective": "Techniques to find your way in a large codebase.",
        "startsAtLocal": f"{day}T17:00", "timeZone": "Europe/Paris", "durationMinutes": 90,
        "maxParticipants": 3, "guestIds": [ids["alan"], ids["eloise"]], "idempotencyKey": "form-4b1c9e",
    }
    created = (await ada.send(screens.CREATE_SESSION, input=form_input))["createGroupSession"]
    assert created["userErrors"] == []
    session = created["groupSession"]
    session_id = session["id"]
    assert created["groupSessionEdge"]["node"] == {"id": session_id} and created["groupSessionEdge"]["cursor"]
    assert {k: session[k] for k in ("title", "startsAt", "endsAt", "startsAtLocal", "timeZone", "phase", "status",
                                    "participantCount", "spotsLeft", "viewerIsHost", "viewerIsAttending")} == {
        "title": "Reading other people's code", "startsAt": instant(day, "17:00"), "endsAt": instant(day, "18:30"),
        "startsAtLocal": f"{day}T17:00", "timeZone": "Europe/Paris", "phase": "UPCOMING", "status": "SCHEDULED",
        "participantCount": 1, "spotsLeft": 2, "viewerIsHost": True, "viewerIsAttending": True}
    assert session["host"] == {"id": ids["ada"], "name": "Ada Lovelace"} and session["program"] == program
    assert menu(session) == HOST_MENU
    assert sorted(g["name"] for g in session["guests"]) == ["Alan Turing", "Éloïse Martin"]

    # The phone lost the answer and sends the form again, with the same key: the same session.
    retried = (await ada.send(screens.CREATE_SESSION, input=form_input))["createGroupSession"]
    assert retried["userErrors"] == [] and retried["groupSession"]["id"] == session_id
    assert retried["groupSessionEdge"]["node"]["id"] == session_id
    assert await GroupSession.all().count() == 1 and await Registration.all().count() == 1

    # A second session, the next morning, which she will cancel.
    spare = (await ada.send(screens.CREATE_SESSION, input={
        "programId": program["id"], "title": "Office hours", "objective": "Bring your questions.",
        "startsAtLocal": f"{day + timedelta(days=1)}T10:00", "timeZone": "Europe/Paris", "durationMinutes": 60,
        "idempotencyKey": "form-77d0aa",
    }))["createGroupSession"]
    assert spare["userErrors"] == []
    spare_id = spare["groupSession"]["id"]

    # --- Sessions > Future and her profile show both, soonest first ------------------------
    future = (await ada.send(screens.SESSIONS, timeframe="FUTURE"))["dashboard"]["sessions"]
    assert future["totalCount"] == 2 and not future["pageInfo"]["hasNextPage"]
    assert [e["node"]["id"] for e in future["edges"]] == [session_id, spare_id]
    assert [(e["node"]["startsAtLocal"], e["node"]["phase"], e["node"]["participantCount"]) for e in future["edges"]] == [
        (f"{day}T17:00", "UPCOMING", 1), (f"{day + timedelta(days=1)}T10:00", "UPCOMING", 1)]
    assert all(menu(e["node"]) == HOST_MENU for e in future["edges"])
    # A phone shows one card at a time and loads the next with the cursor it was given.
    one = (await ada.send(screens.SESSIONS, timeframe="FUTURE", first=1))["dashboard"]["sessions"]
    assert [e["node"]["id"] for e in one["edges"]] == [session_id] and one["pageInfo"]["hasNextPage"]
    more = (await ada.send(screens.SESSIONS, timeframe="FUTURE", first=1, after=one["pageInfo"]["endCursor"]))[
        "dashboard"]["sessions"]
    assert [e["node"]["id"] for e in more["edges"]] == [spare_id]
    assert not more["pageInfo"]["hasNextPage"] and more["pageInfo"]["hasPreviousPage"]
    profile = (await ada.send(screens.PROFILE, userId=ids["ada"]))["profile"]
    assert (profile["name"], profile["email"], profile["timeZone"]) == ("Ada Lovelace", "ada@example.org", "Europe/Paris")
    assert profile["upcomingGroupSessions"]["totalCount"] == 2
    assert titles(profile["upcomingGroupSessions"]["nodes"]) == ["Reading other people's code", "Office hours"]

    # --- Alan signs in: the invitation is waiting for him; he accepts -----------------------
    await alan.sign_in("alan@example.org")
    invited = (await alan.send(screens.INVITATIONS))["dashboard"]["sessions"]
    assert invited["totalCount"] == 1
    [invitation_card] = invited["nodes"]
    assert (invitation_card["id"], invitation_card["title"], invitation_card["host"]["name"]) == (
        session_id, "Reading other people's code", "Ada Lovelace")
    assert invitation_card["viewerIsInvited"] and not invitation_card["viewerIsAttending"]
    assert invitation_card["viewerInvitation"] == {"status": "PENDING", "respondedAt": None}
    page = (await alan.send(screens.SESSION_PAGE, id=session_id))["groupSession"]
    assert page["viewerIsInvited"] and page["viewerInvitation"] == {"status": "PENDING"}
    assert page["viewerCanJoin"] and page["viewerCannotJoinReasons"] == [] and page["viewerRegistration"] is None
    assert page["invitations"] == []  # every guest's answer is the host's to see
    assert menu(page) == NO_MENU

    accepted = (await alan.send(screens.RESPOND_TO_INVITATION, id=session_id, accept=True))["respondToInvitation"]
    assert accepted["userErrors"] == []
    assert accepted["invitation"]["status"] == "ACCEPTED" and accepted["invitation"]["respondedAt"]
    assert accepted["invitation"]["guest"] == {"name": "Alan Turing"}
    edge = accepted["registrationEdge"]
    assert edge["cursor"] and edge["node"]["participant"] == {"name": "Alan Turing"} and edge["node"]["status"] == "CONFIRMED"
    assert {k: accepted["groupSession"][k] for k in ("id", "participantCount", "spotsLeft", "viewerIsAttending")} == {
        "id": session_id, "participantCount": 2, "spotsLeft": 1, "viewerIsAttending": True}
    assert menu(accepted["groupSession"]) == PARTICIPANT_MENU
    # Accepted invitations stay in the tab, marked as such; the session is now in his Future.
    [still_invited] = (await alan.send(screens.INVITATIONS))["dashboard"]["sessions"]["nodes"]
    assert still_invited["viewerInvitation"]["status"] == "ACCEPTED" and still_invited["viewerIsAttending"]
    alans_future = (await alan.send(screens.SESSIONS, timeframe="FUTURE"))["dashboard"]["sessions"]
    assert [e["node"]["id"] for e in alans_future["edges"]] == [session_id]
    assert not alans_future["edges"][0]["node"]["viewerIsHost"] and menu(alans_future["edges"][0]["node"]) == PARTICIPANT_MENU
    page = (await alan.send(screens.SESSION_PAGE, id=session_id))["groupSession"]
    assert page["viewerRegistration"] == {"id": edge["node"]["id"], "status": "CONFIRMED"}
    assert not page["viewerCanJoin"] and page["viewerCannotJoinReasons"] == ["ALREADY_REGISTERED"]
    assert [(e["node"]["participant"]["name"], e["node"]["isHost"]) for e in page["participants"]["edges"]] == [
        ("Ada Lovelace", True), ("Alan Turing", False)]
    # He looks at the host's profile: her sessions, in programs he belongs to.
    hosts_profile = (await alan.send(screens.PROFILE, userId=ids["ada"]))["profile"]
    assert hosts_profile["email"] is None  # an email is its owner's alone
    assert titles(hosts_profile["upcomingGroupSessions"]["nodes"]) == ["Reading other people's code", "Office hours"]

    # --- Éloïse declines: gone from her tab, and the host sees both answers ---------------
    await eloise.sign_in("eloise@example.org")
    [pending] = (await eloise.send(screens.INVITATIONS))["dashboard"]["sessions"]["nodes"]
    assert pending["id"] == session_id and pending["viewerInvitation"]["status"] == "PENDING"
    declined = (await eloise.send(screens.RESPOND_TO_INVITATION, id=session_id, accept=False))["respondToInvitation"]
    assert declined["userErrors"] == [] and declined["invitation"]["status"] == "DECLINED"
    assert declined["registrationEdge"] is None and declined["groupSession"]["participantCount"] == 2
    assert (await eloise.send(screens.INVITATIONS))["dashboard"]["sessions"] == {
        "totalCount": 0, "nodes": [],
        "pageInfo": {"hasNextPage": False, "hasPreviousPage": False, "startCursor": None, "endCursor": None}}
    answers = (await ada.send(screens.SESSION_PAGE, id=session_id))["groupSession"]["invitations"]
    assert sorted((a["guest"]["name"], a["status"], a["respondedAt"] is not None) for a in answers) == [
        ("Alan Turing", "ACCEPTED", True), ("Éloïse Martin", "DECLINED", True)]

    # --- Linus, a member not invited, joins from the public page, then leaves --------------
    await linus.sign_in("linus@example.org")
    page = (await linus.send(screens.SESSION_PAGE, id=session_id))["groupSession"]
    assert (page["title"], page["objective"], page["startsAtLocal"], page["timeZone"]) == (
        "Reading other people's code", "Techniques to find your way in a large codebase.", f"{day}T17:00", "Europe/Paris")
    assert page["url"].endswith(f"/group-sessions/{session_id}")
    assert not page["viewerIsInvited"] and page["viewerInvitation"] is None and page["viewerCanJoin"]
    assert (page["participantCount"], page["spotsLeft"], page["isFull"]) == (2, 1, False)
    joined = (await linus.send(screens.JOIN_SESSION, id=session_id))["joinGroupSession"]
    assert joined["userErrors"] == [] and joined["registrationEdge"]["node"]["participant"] == {"name": "Linus Torvalds"}
    assert {k: joined["groupSession"][k] for k in ("participantCount", "spotsLeft", "viewerIsAttending", "viewerCanJoin")} == {
        "participantCount": 3, "spotsLeft": 0, "viewerIsAttending": True, "viewerCanJoin": False}
    assert menu(joined["groupSession"]) == PARTICIPANT_MENU
    assert (await eloise.send(screens.SESSION_PAGE, id=session_id))["groupSession"]["viewerCannotJoinReasons"] == [
        "SESSION_FULL"]
    left = (await linus.send(screens.LEAVE_SESSION, id=session_id))["leaveGroupSession"]
    assert left["userErrors"] == [] and left["removedRegistrationId"] == joined["registrationEdge"]["node"]["id"]
    assert {k: left["groupSession"][k] for k in ("participantCount", "spotsLeft", "viewerIsAttending", "viewerCanJoin")} == {
        "participantCount": 2, "spotsLeft": 1, "viewerIsAttending": False, "viewerCanJoin": True}
    assert menu(left["groupSession"]) == NO_MENU
    assert (await linus.send(screens.SESSIONS, timeframe="FUTURE"))["dashboard"]["sessions"]["totalCount"] == 0

    # --- Ada opens the edit form and moves the start by a wall-clock time -----------------
    edit_form = (await ada.send(screens.EDIT_FORM, id=session_id))["groupSession"]
    assert (edit_form["startsAtLocal"], edit_form["timeZone"], edit_form["durationMinutes"], edit_form["maxParticipants"]) == (
        f"{day}T17:00", "Europe/Paris", 90, 3)
    assert sorted(g["id"] for g in edit_form["guests"]) == sorted([ids["alan"], ids["eloise"]])
    assert menu(edit_form) == HOST_MENU
    moved = (await ada.send(screens.UPDATE_SESSION, input={
        "id": session_id, "startsAtLocal": f"{day}T18:30", "timeZone": edit_form["timeZone"]}))["updateGroupSession"]
    assert moved["userErrors"] == []
    assert (moved["groupSession"]["startsAt"], moved["groupSession"]["endsAt"], moved["groupSession"]["startsAtLocal"]) == (
        instant(day, "18:30"), instant(day, "20:00"), f"{day}T18:30")
    assert menu(moved["groupSession"]) == HOST_MENU and moved["groupSession"]["participantCount"] == 2
    page = (await alan.send(screens.SESSION_PAGE, id=session_id))["groupSession"]
    assert (page["startsAt"], page["startsAtLocal"]) == (instant(day, "18:30"), f"{day}T18:30")
    assert menu(page) == PARTICIPANT_MENU

    # --- and cancels the spare session from its menu -------------------------------------
    cancelled = (await ada.send(screens.CANCEL_SESSION, id=spare_id, reason="Nobody needs it this week."))[
        "cancelGroupSession"]
    assert cancelled["userErrors"] == []
    assert {k: cancelled["groupSession"][k] for k in ("status", "phase", "cancellationReason")} == {
        "status": "CANCELLED", "phase": "CANCELLED", "cancellationReason": "Nobody needs it this week."}
    assert menu(cancelled["groupSession"]) == NO_MENU
    future = (await ada.send(screens.SESSIONS, timeframe="FUTURE"))["dashboard"]["sessions"]
    assert [e["node"]["id"] for e in future["edges"]] == [session_id] and future["totalCount"] == 1
    with_cancelled = (await ada.send(screens.SESSIONS, timeframe="FUTURE", includeCancelled=True))["dashboard"]["sessions"]
    assert [(e["node"]["id"], e["node"]["phase"]) for e in with_cancelled["edges"]] == [
        (session_id, "UPCOMING"), (spare_id, "CANCELLED")]
    assert titles((await ada.send(screens.PROFILE, userId=ids["ada"]))["profile"]["upcomingGroupSessions"]["nodes"]) == [
        "Reading other people's code"]

    # --- the session takes place; afterwards it is in Past, and nothing is left to do ---------
    ends = datetime.fromisoformat(instant(day, "20:00").replace("Z", "+00:00"))
    clock.advance((ends - clock()).total_seconds() + 3600)
    assert (await ada.send(screens.SESSIONS, timeframe="FUTURE"))["dashboard"]["sessions"]["totalCount"] == 0
    past = (await ada.send(screens.SESSIONS, timeframe="PAST"))["dashboard"]["sessions"]
    assert past["totalCount"] == 1
    [ended] = [e["node"] for e in past["edges"]]
    assert (ended["id"], ended["phase"], ended["status"], ended["participantCount"], ended["startsAtLocal"]) == (
        session_id, "ENDED", "SCHEDULED", 2, f"{day}T18:30")
    assert menu(ended) == NO_MENU
    alans_past = (await alan.send(screens.SESSIONS, timeframe="PAST"))["dashboard"]["sessions"]
    assert [(e["node"]["id"], e["node"]["phase"]) for e in alans_past["edges"]] == [(session_id, "ENDED")]
    assert menu(alans_past["edges"][0]["node"]) == NO_MENU
    assert (await alan.send(screens.INVITATIONS))["dashboard"]["sessions"]["totalCount"] == 0
    profile = (await alan.send(screens.PROFILE, userId=ids["ada"]))["profile"]
    assert profile["upcomingGroupSessions"] == {"totalCount": 0, "nodes": []}
    # The spare session, once its time has passed too, is in Past with the cancelled ones shown.
    spare_ends = datetime.fromisoformat(instant(day + timedelta(days=1), "11:00").replace("Z", "+00:00"))
    clock.advance(max((spare_ends - clock()).total_seconds(), 0) + 3600)
    all_past = (await ada.send(screens.SESSIONS, timeframe="PAST", includeCancelled=True))["dashboard"]["sessions"]
    assert [(e["node"]["id"], e["node"]["phase"]) for e in all_past["edges"]] == [
        (spare_id, "CANCELLED"), (session_id, "ENDED")]  # the latest first
