"""The benchmark's raw baseline (tests/perf/baseline.py) returns byte for byte what the GraphQL
endpoint returns for the two read queries, so the benchmark compares equal work."""

from __future__ import annotations

import json
import re

import asyncpg
import httpx

from app.api.pagination import to_global_id
from tests.conftest import PUBLIC_WEB_URL
from tests.perf.baseline import create_baseline_app
from tests.perf.seed import seed
from tests.scale.pages import DASHBOARD_FUTURE, PUBLIC_SESSION_PAGE

COST = re.compile(rb',"extensions":\{"cost":\{"requested":\d+,"limit":\d+\}\}(?=\}$)')


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
                # The endpoint adds its cost (extensions.cost, last in the body); the
                # baseline computes none: the rest must be the same bytes.
                assert got.content == COST.sub(b"", expected.content), (name, member)

    page = json.loads(got.content)["data"]["dashboard"]["sessions"]
    assert len(page["edges"]) == 5 and page["pageInfo"]["hasNextPage"] is True


async def test_baseline_join_writes_what_the_app_join_writes(app, api, database_url, settings):
    """The join baseline answers the JOIN document in the same shape and leaves the same
    rows (seat, registration, both emails as outbox rows) as the app's join does."""
    from tests.documents import JOIN

    conn = await asyncpg.connect(database_url)
    try:
        data = await seed(conn, members=80, sessions=10, registrations=200, fresh_sessions=2)
        first, second = data.fresh_session_ids
        member_id = await conn.fetchval('SELECT id FROM "user" WHERE email = $1', "member7@bench.example.org")
        titles = dict(await conn.fetch("SELECT id, title FROM group_session WHERE id = ANY($1::int[])", [first, second]))
        hosts = dict(await conn.fetch(
            'SELECT s.id, u.email FROM group_session s JOIN "user" u ON u.id = s.host_id WHERE s.id = ANY($1::int[])',
            [first, second],
        ))
        await conn.execute("DELETE FROM outbox_email")
    finally:
        await conn.close()

    async def outcome(session_id: int) -> tuple[list, tuple]:
        conn = await asyncpg.connect(database_url)
        try:
            rows = await conn.fetch(
                "SELECT kind, recipient, subject, status, attempts, coalesce_key, length(message) > 1000 AS whole,"
                " round(extract(epoch FROM coalesce_until - next_attempt_at)) AS window, coalesced FROM outbox_email"
                " WHERE coalesce_key = $1 OR (coalesce_key IS NULL AND subject LIKE $2) ORDER BY kind",
                f"host-notice:{session_id}:{member_id}", f"%{titles[session_id]}%",
            )
            seat = await conn.fetchrow(
                "SELECT s.participant_count, r.is_host, r.user_id FROM group_session s"
                " JOIN registration r ON r.session_id = s.id AND NOT r.is_host WHERE s.id = $1",
                session_id,
            )
            return [dict(r) for r in rows], tuple(seat)
        finally:
            await conn.close()

    member = 7  # a mentee: joins both fresh sessions, once through each server
    headers = {"Authorization": f"Bearer {data.tokens[member - 1]}"}
    body = {"query": JOIN, "operationName": "Join"}
    expected = await api.http.post(
        "/graphql", json={**body, "variables": {"id": to_global_id("GroupSession", first)}}, headers=headers
    )
    baseline = create_baseline_app(database_url, PUBLIC_WEB_URL, settings)
    async with baseline.router.lifespan_context(baseline):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=baseline), base_url="http://b") as raw:
            got = await raw.post(
                "/graphql", json={**body, "variables": {"id": to_global_id("GroupSession", second)}}, headers=headers
            )
    want, have = expected.json()["data"]["joinGroupSession"], got.json()["data"]["joinGroupSession"]
    assert want["userErrors"] == [] and have["userErrors"] == []
    for payload in (want, have):  # the ids differ (two sessions, two registrations); the rest must not
        payload["registration"]["id"] = payload["registration"]["session"]["id"] = payload["groupSession"]["id"] = "*"
    assert have == want
    assert list(json.loads(got.content)["data"]["joinGroupSession"]["groupSession"]) == list(
        json.loads(expected.content)["data"]["joinGroupSession"]["groupSession"]
    )
    app_rows, app_seat = await outcome(first)
    raw_rows, raw_seat = await outcome(second)
    assert len(app_rows) == 2 and app_seat == raw_seat
    for rows, session_id in ((app_rows, first), (raw_rows, second)):
        for row in rows:
            row["subject"] = row["subject"].replace(titles[session_id], "*")
            row["recipient"] = row["recipient"].replace(hosts[session_id], "the host")
            row["coalesce_key"] = row["coalesce_key"] and row["coalesce_key"].replace(f":{session_id}:", ":*:")
    for raw_row, app_row in zip(raw_rows, app_rows):
        assert raw_row == app_row, {k: (raw_row[k], app_row[k]) for k in raw_row if raw_row[k] != app_row[k]}
