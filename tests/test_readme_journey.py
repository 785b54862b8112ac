"""README's "Try it" walk works as written: its GraphQL documents, run in order on the demo
data that `./scripts/serve` loads, give the results the README describes."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from graphql import build_schema, parse, validate

ROOT = Path(__file__).resolve().parents[1]


def readme_documents() -> list[str]:
    return re.findall(r"```graphql\n(.*?)```", (ROOT / "README.md").read_text(), re.S)


@pytest.mark.timeout(300)  # the demo process alone is bounded at 120 s
async def test_the_readme_journey_works_on_the_demo_data(api, database_url):
    demo = subprocess.run([sys.executable, "-m", "app", "demo"], cwd=ROOT, capture_output=True, text=True,
                          env={**os.environ, "DATABASE_URL": database_url}, timeout=120)
    assert demo.returncode == 0, demo.stderr
    sign_in, create, dashboard, watch, join, edit_and_cancel = readme_documents()

    signed_in = (await api.data(sign_in))["signIn"]
    ada = signed_in["token"]
    assert signed_in["viewer"]["email"] == "ada@example.org"
    [membership] = signed_in["viewer"]["memberships"]
    assert membership["viewerCanHost"] and membership["program"]["id"] in create  # the id step 2 uses
    picker = re.search(r"`(query \{ program.*?)`", (ROOT / "README.md").read_text()).group(1)
    found = (await api.data(picker, token=ada))["program"]["members"]["nodes"]
    assert [n["name"] for n in found] == ["Alan Turing"]
    alan = (await api.data(sign_in.replace("ada@example.org", "alan@example.org")))["signIn"]["token"]
    assert ada and alan

    created = (await api.data(create, token=ada))["createGroupSession"]
    assert created["userErrors"] == []
    session = created["groupSession"]
    assert (session["participantCount"], session["spotsLeft"]) == (1, 2)
    variables = {"id": session["id"]}

    listed = (await api.data(dashboard, token=ada))["dashboard"]["sessions"]["edges"]
    mine = next(edge["node"] for edge in listed if edge["node"]["id"] == session["id"])
    assert mine["viewerCanEdit"] and [e["node"]["participant"]["name"] for e in mine["participants"]["edges"]] == [
        "Ada Lovelace"
    ]

    # The subscription itself runs over a WebSocket (tests/live); here, that it fits the schema.
    assert validate(build_schema((ROOT / "schema.graphql").read_text()), parse(watch)) == []

    joined = (await api.data(join, variables, token=alan))["joinGroupSession"]
    assert joined["userErrors"] == [] and joined["registration"]["participant"]["name"] == "Alan Turing"
    assert (joined["groupSession"]["participantCount"], joined["groupSession"]["spotsLeft"]) == (2, 1)

    async def run(operation: str) -> dict:
        response = await api.http.post("/graphql", headers={"Authorization": f"Bearer {ada}"},
                                       json={"query": edit_and_cancel, "operationName": operation, "variables": variables})
        body = response.json()
        assert response.status_code == 200 and not body.get("errors"), body
        return body["data"]

    edited = (await run("Edit"))["updateGroupSession"]
    assert edited["userErrors"] == [] and edited["groupSession"]["maxParticipants"] == 10
    cancelled = (await run("Cancel"))["cancelGroupSession"]
    assert cancelled["userErrors"] == [] and cancelled["groupSession"]["status"] == "CANCELLED"
