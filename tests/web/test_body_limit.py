"""The request size cap (settings.max_body_bytes): a clear 413 JSON error, never a 500,
and nothing of the oversized request runs."""

from __future__ import annotations

import json

import httpx
import pytest

from app.accounts import services as accounts
from app.accounts.models import ProgramRole
from app.api.pagination import to_global_id
from app.group_sessions.models import GroupSession
from tests.conftest import in_days, make_member
from tests.documents import CREATE
from tests.responses import without_cost

LIMIT = 2_000


def query_sized(size: int) -> bytes:
    """A JSON body of exactly `size` bytes (a query padded with a comment)."""
    bare = json.dumps({"query": "{ __typename }\n#"})
    return json.dumps({"query": "{ __typename }\n#" + "x" * (size - len(bare))}).encode()


async def test_body_over_the_limit_is_413(make_app, client_for):
    client = client_for(await make_app(max_body_bytes=LIMIT))
    response = await client.post(
        "/graphql", content=query_sized(LIMIT + 1), headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 413
    assert response.headers["content-type"].startswith("application/json")
    error = response.json()["errors"][0]
    assert error["extensions"]["code"] == "PAYLOAD_TOO_LARGE"
    assert str(LIMIT) in error["message"]


async def test_body_at_the_limit_is_served(make_app, client_for):
    client = client_for(await make_app(max_body_bytes=LIMIT))
    response = await client.post("/graphql", content=query_sized(LIMIT), headers={"Content-Type": "application/json"})
    assert response.status_code == 200
    assert without_cost(response.json()) == {"data": {"__typename": "Query"}}


async def test_413_follows_the_negotiated_media_type(make_app, client_for):
    client = client_for(await make_app(max_body_bytes=LIMIT))
    response = await client.post(
        "/graphql",
        content=query_sized(LIMIT * 2),
        headers={"Content-Type": "application/json", "Accept": "application/graphql-response+json"},
    )
    assert response.status_code == 413
    assert response.headers["content-type"].startswith("application/graphql-response+json")


async def create_session_request():
    """create(padding): a createGroupSession request body and headers by a fresh host,
    padded with `padding` bytes of JSON."""
    program = await accounts.create_program(name="Mentoring")
    host = await make_member(program, "hannah", ProgramRole.MENTOR)
    return lambda padding: create_session_body(program, host, padding)


def create_session_body(program, host, padding: int) -> tuple[bytes, dict]:
    variables = {
        "input": {
            "programId": to_global_id("Program", program.id),
            "title": "Too big to run",
            "objective": "Sent in an oversized request.",
            "startsAt": in_days(3, hour=17),
            "durationMinutes": 60,
        }
    }
    body = json.dumps({"query": CREATE, "variables": variables, "extensions": {"padding": "x" * padding}})
    return body.encode(), {"Content-Type": "application/json", "Authorization": f"Bearer {host.token}"}


@pytest.mark.parametrize("transfer", ["content-length", "chunked"])
async def test_oversized_mutation_over_a_real_server_is_413_and_never_runs(make_app, serve, transfer):
    """Over uvicorn, the client reads the 413 (the server drains a moderately oversized
    body rather than resetting the connection), and the mutation in the body never runs."""
    app = await make_app(max_body_bytes=LIMIT)
    base = await serve(app)
    create = await create_session_request()
    body, headers = create(LIMIT * 3)

    async def chunks():
        for start in range(0, len(body), 500):
            yield body[start : start + 500]

    async with httpx.AsyncClient(base_url=base, timeout=10) as client:
        response = await client.post("/graphql", content=chunks() if transfer == "chunked" else body, headers=headers)
    assert response.status_code == 413
    assert response.json()["errors"][0]["extensions"]["code"] == "PAYLOAD_TOO_LARGE"
    assert await GroupSession.all().count() == 0

    # The same request, small enough, does create the session.
    body, headers = create(0)
    async with httpx.AsyncClient(base_url=base, timeout=10) as client:
        response = await client.post("/graphql", content=body, headers=headers)
    assert response.json()["data"]["createGroupSession"]["userErrors"] == []
    assert await GroupSession.all().count() == 1


async def test_query_string_over_the_limit_is_414(make_app, client_for):
    client = client_for(await make_app(max_body_bytes=LIMIT))
    response = await client.get("/graphql", params={"query": "{ __typename }" + " " * LIMIT})
    assert response.status_code == 414
    assert response.json()["errors"][0]["extensions"]["code"] == "URI_TOO_LONG"


def test_request_headers_get_is_starlettes():
    """RequestHeaders.get answers what Starlette's Headers.get answers."""
    from starlette.datastructures import Headers

    from app.web.body_limit import RequestHeaders

    raw = [(b"accept", b"a"), (b"x-twice", b"1"), (b"x-twice", b"2"), (b"x-latin", "é".encode("latin-1"))]
    for name in ("accept", "Accept", "X-Twice", "x-latin", "origin"):
        for default in (None, "d"):
            assert RequestHeaders(raw=raw).get(name, default) == Headers(raw=raw).get(name, default)
    assert RequestHeaders(raw=raw).get("origin") is None
