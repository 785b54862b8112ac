"""README's "Try it" walk works as written: its GraphQL documents, run in order on the demo
data that `./scripts/serve` loads, give the results the README describes."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from graphql import build_schema, parse, validate

from app.accounts import services as accounts

ROOT = Path(__file__).resolve().parents[1]


def readme_documents() -> list[str]:
    return re.findall(r"```graphql\n(.*?)```", (ROOT / "README.md").read_text(), re.S)


def readme_inline(start: str) -> str:
    """The inline `query { ... }` of README's prose that starts with `start`."""
    return re.search(rf"`({re.escape(start)}.*?)`", (ROOT / "README.md").read_text()).group(1)


@pytest.mark.timeout(300)  # the demo process alone is bounded at 120 s
async def test_the_readme_journey_works_on_the_demo_data(api, database_url):
    demo = subprocess.run([sys.executable, "-m", "app", "demo"], cwd=ROOT, capture_output=True, text=True,
                          env={**os.environ, "DATABASE_URL": database_url}, timeout=120)
    assert demo.returncode == 0, demo.stderr
    sign_in, create, sessions, watch, invitation, page_and_join, edit_and_cancel = readme_documents()

    async def run(document: str, operation: str, token: str, variables: dict | None = None) -> dict:
        response = await api.http.post("/graphql", headers={"Authorization": f"Bearer {token}"},
                                       json={"query": document, "operationName": operation, "variables": variables or {}})
        body = response.json()
        assert response.status_code == 200 and not body.get("errors"), body
        return body["data"]

    # 1. Ada signs in; her programs, for the create form.
    signed_in = (await api.data(sign_in))["signIn"]
    ada = signed_in["token"]
    assert signed_in["viewer"]["email"] == "ada@example.org"
    [membership] = signed_in["viewer"]["memberships"]
    assert membership["viewerCanHost"] and membership["program"]["id"] in create  # the id step 2 uses

    # 2. The guest picker finds Alan, whose id the create form sends; the session is created
    # at the wall-clock time typed, and the retry with the same key is the same session.
    found = (await api.data(readme_inline("query { program"), token=ada))["program"]["members"]["nodes"]
    assert [n["name"] for n in found] == ["Alan Turing"] and f'guestIds: ["{found[0]["id"]}"]' in create
    created = (await api.data(create, token=ada))["createGroupSession"]
    assert created["userErrors"] == []
    session = created["groupSession"]
    assert (session["startsAt"], session["startsAtLocal"], session["timeZone"], session["phase"]) == (
        "2030-12-01T17:00:00Z", "2030-12-01T17:00", "Europe/London", "UPCOMING")
    assert (session["participantCount"], session["spotsLeft"]) == (1, 2)
    assert (await api.data(create, token=ada))["createGroupSession"]["groupSession"]["id"] == session["id"]
    variables = {"id": session["id"]}

    # 3. Sessions > Future and Past.
    lists = (await api.data(sessions, token=ada))["dashboard"]
    mine = next(node for node in lists["future"]["nodes"] if node["id"] == session["id"])
    assert mine["viewerCanEdit"] and mine["viewerCanReschedule"] and mine["viewerCanCancel"]
    assert mine["participantCount"] == 1 and mine["startsAtLocal"] == "2030-12-01T17:00"
    assert [(n["title"], n["phase"]) for n in lists["past"]["nodes"]] == [
        ("Notes on the notes: a retrospective", "ENDED")]

    # 4. The subscription itself runs over a WebSocket (tests/live); here, that it fits the schema.
    assert validate(build_schema((ROOT / "schema.graphql").read_text()), parse(watch)) == []

    # 5. Alan sees the invitation and accepts it.
    alan = (await api.data(sign_in.replace("ada@example.org", "alan@example.org")))["signIn"]["token"]
    invited = (await run(invitation, "Invitations", alan))["dashboard"]["sessions"]["nodes"]
    assert {"id": session["id"], "title": "Reading other people's code", "host": {"name": "Ada Lovelace"},
            "viewerInvitation": {"status": "PENDING"}} in invited
    accepted = (await run(invitation, "Accept", alan, variables))["respondToInvitation"]
    assert accepted["userErrors"] == [] and accepted["invitation"]["status"] == "ACCEPTED"
    assert accepted["registrationEdge"]["node"]["participant"]["name"] == "Alan Turing"
    assert (accepted["groupSession"]["participantCount"], accepted["groupSession"]["spotsLeft"]) == (2, 1)
    assert accepted["groupSession"]["viewerIsAttending"] and accepted["groupSession"]["viewerCanLeave"]

    # 6. Katherine reads the public page and takes the last seat; Ada's profile.
    katherine = (await api.data(sign_in.replace("ada@example.org", "katherine@example.org")))["signIn"]["token"]
    page = (await run(page_and_join, "Page", katherine, variables))["groupSession"]
    assert page["viewerCanJoin"] and page["viewerCannotJoinReasons"] == [] and page["host"]["name"] == "Ada Lovelace"
    assert [e["node"]["participant"]["name"] for e in page["participants"]["edges"]] == ["Ada Lovelace", "Alan Turing"]
    joined = (await run(page_and_join, "Join", katherine, variables))["joinGroupSession"]
    assert joined["userErrors"] == [] and joined["registrationEdge"]["node"]["participant"]["name"] == "Katherine Johnson"
    assert (joined["groupSession"]["participantCount"], joined["groupSession"]["spotsLeft"], joined["groupSession"]["isFull"]) == (
        3, 0, True)
    profile = (await api.data(readme_inline("query { profile"), token=katherine))["profile"]
    assert profile["name"] == "Ada Lovelace"
    assert {"title": "Reading other people's code", "startsAtLocal": "2030-12-01T17:00"} in profile[
        "upcomingGroupSessions"]["nodes"]

    # 7. Ada moves the start by its wall-clock time, then cancels.
    edited = (await run(edit_and_cancel, "Edit", ada, variables))["updateGroupSession"]
    assert edited["userErrors"] == []
    assert (edited["groupSession"]["startsAt"], edited["groupSession"]["startsAtLocal"]) == (
        "2030-12-01T18:00:00Z", "2030-12-01T18:00")
    assert (edited["groupSession"]["maxParticipants"], edited["groupSession"]["spotsLeft"]) == (10, 7)
    cancelled = (await run(edit_and_cancel, "Cancel", ada, variables))["cancelGroupSession"]
    assert cancelled["userErrors"] == []
    assert (cancelled["groupSession"]["status"], cancelled["groupSession"]["phase"]) == ("CANCELLED", "CANCELLED")
    assert not cancelled["groupSession"]["viewerCanEdit"] and not cancelled["groupSession"]["viewerCanCancel"]


async def test_the_readme_curl_lines_sign_in_and_read(api, app):
    """The JSON bodies of README's curl lines: the first signs in, the second reads with its token."""
    await accounts.create_user(email="alan@example.org", name="Alan Turing", password="demo-password")
    shell = re.search(r"```sh\nTOKEN=\$\(curl(.*?)```", (ROOT / "README.md").read_text(), re.S).group(1)
    sign_in, read = (json.loads(body) for body in re.findall(r"-d '(.*?)'", shell))
    signed_in = (await api.http.post("/graphql", json=sign_in)).json()
    token = signed_in["data"]["signIn"]["token"]
    assert token
    answer = (await api.http.post("/graphql", json=read, headers={"Authorization": f"Bearer {token}"})).json()
    assert "errors" not in answer, answer
    assert answer["data"] == {"viewer": {"name": "Alan Turing"}, "dashboard": {"sessions": {"nodes": []}}}
