"""CSRF: a POST a foreign page could send without a CORS preflight never runs a mutation;
mutations never run over GET."""

from __future__ import annotations

import json

import pytest

from app.group_sessions.models import GroupSession
from tests.conftest import in_days
from tests.documents import CREATE
from tests.responses import without_cost


def create_body(world) -> bytes:
    variables = {
        "input": {
            "programId": world.program_gid,
            "title": "Forged session",
            "objective": "Created by a page on another site.",
            "startsAt": in_days(3, hour=17),
            "durationMinutes": 60,
        }
    }
    return json.dumps({"query": CREATE, "variables": variables}).encode()


@pytest.mark.parametrize(
    "content_type",
    [
        "text/plain",
        "text/plain;charset=UTF-8",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=xyz",
        None,  # no Content-Type at all (a Blob without type) is as simple as it gets
    ],
)
async def test_simple_post_without_preflight_header_is_refused_and_changes_nothing(api, world, content_type):
    headers = {"Authorization": f"Bearer {world.host.token}"}
    if content_type:
        headers["Content-Type"] = content_type
    response = await api.http.post("/graphql", content=create_body(world), headers=headers)

    assert response.status_code == 400
    assert response.headers["content-type"].startswith("application/json")
    error = response.json()["errors"][0]
    assert error["extensions"]["code"] == "CSRF_PREFLIGHT_REQUIRED"
    assert "apollo-require-preflight" in error["message"]
    assert await GroupSession.all().count() == 0


@pytest.mark.parametrize("header", ["x-apollo-operation-name", "apollo-require-preflight", "graphql-require-preflight"])
async def test_a_preflight_header_lifts_the_csrf_refusal(api, world, header):
    # Past the CSRF rule, the body still has to be JSON: Strawberry refuses text/plain itself.
    response = await api.http.post(
        "/graphql",
        content=create_body(world),
        headers={"Authorization": f"Bearer {world.host.token}", "Content-Type": "text/plain", header: "Create"},
    )
    assert response.status_code == 400
    assert response.json()["errors"][0]["extensions"]["code"] == "BAD_REQUEST"
    assert response.json()["errors"][0]["message"] == "Unsupported content type"
    assert await GroupSession.all().count() == 0


async def test_an_empty_preflight_header_does_not_count(api, world):
    response = await api.http.post(
        "/graphql",
        content=create_body(world),
        headers={"Content-Type": "text/plain", "apollo-require-preflight": "  "},
    )
    assert response.json()["errors"][0]["extensions"]["code"] == "CSRF_PREFLIGHT_REQUIRED"


async def test_json_post_runs_the_mutation(api, world):
    response = await api.http.post(
        "/graphql",
        content=create_body(world),
        headers={"Authorization": f"Bearer {world.host.token}", "Content-Type": "application/json"},
    )
    assert response.status_code == 200
    assert response.json()["data"]["createGroupSession"]["userErrors"] == []
    assert await GroupSession.filter(title="Forged session").count() == 1


async def test_mutation_over_get_is_405_and_changes_nothing(api, world):
    variables = json.loads(create_body(world))["variables"]
    response = await api.http.get(
        "/graphql",
        params={"query": CREATE, "variables": json.dumps(variables)},
        headers={"Authorization": f"Bearer {world.host.token}", "Accept": "application/json"},
    )
    assert response.status_code == 405
    assert response.headers["allow"] == "POST"
    assert response.json()["errors"][0]["message"] == "mutations are not allowed when using GET"
    assert await GroupSession.all().count() == 0


async def test_query_over_get_needs_no_preflight_header(api, world):
    response = await api.http.get(
        "/graphql",
        params={"query": "{ viewer { name } }"},
        headers={"Authorization": f"Bearer {world.host.token}", "Accept": "application/json"},
    )
    assert response.status_code == 200
    assert without_cost(response.json()) == {"data": {"viewer": {"name": "Hannah"}}}
