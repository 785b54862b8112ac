"""The benchmark's raw baseline (tests/perf/baseline.py) returns byte for byte what the GraphQL
endpoint returns for the two read queries, so the benchmark compares equal work."""

from __future__ import annotations

import json

import asyncpg
import httpx

from app.api.pagination import to_global_id
from tests.conftest import PUBLIC_WEB_URL
from tests.perf.baseline import create_baseline_app
from tests.perf.seed import seed
from tests.scale.pages import DASHBOARD_FUTURE, PUBLIC_SESSION_PAGE


async def test_baseline_answers_byte_for_byte_like_graphql(app, api, database_url):
    conn = await asyncpg.connect(database_url)
    try:
        data = await seed(conn, members=80, sessions=40, registrations=800, fresh_sessions=2)
        session = await conn.fetchrow("SELECT id, host_id FROM group_session WHERE id = $1", data.public_session_id)
        # A guest on the public session, which only its host sees.
        await conn.execute(
            "INSERT INTO guest (session_id, user_id, invited_at) VALUES ($1, $2, now())", session["id"], 50
        )
        host_email = await conn.fetchval('SELECT email FROM "user" WHERE id = $1', session["host_id"])
    finally:
        await conn.close()
    host_number = int(host_email.removeprefix("member").split("@")[0])  # member<n>@...

    baseline = create_baseline_app(database_url, PUBLIC_WEB_URL)
    cases = [
        ("PublicSessionPage", PUBLIC_SESSION_PAGE, {"id": to_global_id("GroupSession", data.public_session_id)}, n)
        for n in (data.public_viewer, host_number, 77)  # attending member, host, member not attending
    ] + [
        ("DashboardFuture", DASHBOARD_FUTURE, {"first": first}, data.dashboard_viewer) for first in (20, 5)
    ]
    async with baseline.router.lifespan_context(baseline):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=baseline), base_url="http://b") as raw:
            for name, document, variables, member in cases:
                body = {"query": document, "variables": variables, "operationName": name}
                headers = {"Authorization": f"Bearer {data.tokens[member - 1]}"}
                expected = await api.http.post("/graphql", json=body, headers=headers)
                got = await raw.post("/graphql", json=body, headers=headers)
                assert expected.status_code == got.status_code == 200
                assert "errors" not in expected.json(), expected.json()
                assert got.content == expected.content, (name, member)

    page = json.loads(got.content)["data"]["dashboard"]["sessions"]
    assert len(page["edges"]) == 5 and page["pageInfo"]["hasNextPage"] is True
