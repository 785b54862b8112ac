"""Bugs are masked for clients and logged in full under the request id; slow
operations stop with TIMEOUT; the request log has one line per operation."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator

import httpx
import pytest
import strawberry

from app.accounts.rate_limit import InMemoryAttemptCounter, SignInLimiter
from app.api.extensions import ExecutionTimeout, factory
from app.api.schema import AppSchema, schema_config, schema_extensions
from app.group_sessions.events import Effects
from app.live.broker import InMemoryBroker
from app.logging_config import JsonFormatter
from app.web.graphql_view import GraphQLView


class DeliberateBug(RuntimeError):
    pass


@strawberry.type
class BuggyQuery:
    @strawberry.field
    def fine(self) -> str:
        return "fine"

    @strawberry.field
    def broken(self) -> str:
        raise DeliberateBug("internal detail: ledger row 4711 in a bad state")

    @strawberry.field
    async def slow(self) -> str:
        await asyncio.sleep(30)
        return "too late"


@strawberry.type
class BuggyMutation:
    @strawberry.mutation
    async def slow_write(self) -> str:
        await asyncio.sleep(30)
        return "too late"


@pytest.fixture
async def buggy_api(settings):
    """The real view (context, request ids) serving a test-only schema with the real extensions."""
    settings = settings.with_(request_timeout_seconds=0.3)
    view = GraphQLView(
        settings=settings,
        effects=Effects(),
        broker=InMemoryBroker(queue_size=4),
        sign_in_limiter=SignInLimiter(InMemoryAttemptCounter(), per_email=1, per_client=1, window_seconds=1),
    )
    view.schema = AppSchema(
        query=BuggyQuery, mutation=BuggyMutation,
        extensions=schema_extensions(settings), config=schema_config(settings),
    )
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=view), base_url="http://t") as http:
        yield http


async def test_an_unexpected_error_is_masked_and_logged_with_the_request_id(buggy_api, caplog):
    caplog.set_level(logging.INFO)
    response = await buggy_api.post(
        "/graphql", json={"query": "query Q { fine broken }"}, headers={"X-Request-Id": "req-42"}
    )
    assert response.status_code == 200
    body = response.json()
    assert body["data"] is None  # broken is non-null, so the error reaches the root
    [error] = body["errors"]
    assert error["message"] == "Unexpected error."
    assert error["extensions"] == {"code": "INTERNAL_SERVER_ERROR", "requestId": "req-42"}
    assert "ledger row 4711" not in response.text
    logged = [r for r in caplog.records if r.name == "app.errors"]
    assert len(logged) == 1
    assert logged[0].request_id == "req-42"
    assert logged[0].exc_info[0] is DeliberateBug  # the full traceback is in the log
    line = json.loads(JsonFormatter().format(logged[0]))
    assert line["request_id"] == "req-42" and "DeliberateBug" in line["exception"]


async def test_an_unsafe_request_id_is_replaced(buggy_api):
    response = await buggy_api.post(
        "/graphql", json={"query": "{ broken }"}, headers={"X-Request-Id": "x\r\nforged log line"}
    )
    request_id = response.json()["errors"][0]["extensions"]["requestId"]
    assert request_id and "forged" not in request_id and len(request_id) == 32


async def test_a_slow_query_stops_with_timeout(buggy_api):
    response = await asyncio.wait_for(buggy_api.post("/graphql", json={"query": "{ slow }"}), timeout=10)
    assert response.status_code == 200
    [error] = response.json()["errors"]
    assert error["extensions"]["code"] == "TIMEOUT"
    assert "0.3 seconds" in error["message"]


async def test_a_slow_mutation_stops_with_timeout(buggy_api):
    response = await asyncio.wait_for(buggy_api.post("/graphql", json={"query": "mutation { slowWrite }"}), timeout=10)
    assert response.json()["errors"][0]["extensions"]["code"] == "TIMEOUT"


async def test_one_log_line_per_operation(buggy_api, caplog):
    caplog.set_level(logging.INFO, logger="app.requests")
    await buggy_api.post("/graphql", json={"query": "query Fine { fine }"}, headers={"X-Request-Id": "a1"})
    await buggy_api.post("/graphql", json={"query": "query Deep { nope }"}, headers={"X-Request-Id": "a2"})
    lines = [json.loads(JsonFormatter().format(r)) for r in caplog.records if r.name == "app.requests"]
    assert [(l["request_id"], l["operation_name"], l["outcome"], l["error_codes"]) for l in lines] == [
        ("a1", "Fine", "ok", []),
        ("a2", "Deep", "error", ["GRAPHQL_VALIDATION_FAILED"]),
    ]
    assert all(isinstance(l["duration_ms"], float) and l["error_count"] == (l["outcome"] == "error") for l in lines)


async def test_a_bad_datetime_literal_is_the_clients_error_not_a_bug(api, world, caplog):
    caplog.set_level(logging.INFO)
    body = await api.execute(
        'mutation { createGroupSession(input: {programId: "x", title: "t", objective: "o", '
        'startsAt: "tomorrow", durationMinutes: 60}) { userErrors { code } } }',
        token=world.host.token,
    )
    # the scalar let the value through as malformed: a userError on the field, as for
    # the value sent in a variable
    assert "errors" not in body, body
    assert body["data"]["createGroupSession"]["userErrors"] == [{"code": "INVALID"}]
    assert not [r for r in caplog.records if r.name == "app.errors"]


async def test_a_hostile_operation_name_cannot_forge_log_lines(buggy_api, caplog):
    caplog.set_level(logging.INFO, logger="app.requests")
    await buggy_api.post("/graphql", json={"query": "query Fine { fine }", "operationName": "x\nFAKE LINE"})
    [record] = [r for r in caplog.records if r.name == "app.requests"]
    assert "\n" not in record.getMessage() and record.operation_name == repr("x\nFAKE LINE")


async def _first_item() -> AsyncIterator[str]:
    yield "first"


@strawberry.type
class SlowStartSubscription:
    @strawberry.subscription
    async def slow_start(self) -> AsyncIterator[str]:
        # Setting up longer than the timeout (a subscription that checks something first).
        await asyncio.sleep(0.3)
        return _first_item()


async def test_a_subscription_is_not_stopped_by_the_execution_timeout():
    # The extension compares Strawberry's operation type: graphql-core's OperationType is
    # another enum, and comparing with it timed subscriptions like queries.
    schema = strawberry.Schema(
        query=BuggyQuery, subscription=SlowStartSubscription,
        extensions=[factory(ExecutionTimeout, seconds=0.1)],
    )
    stream = await schema.subscribe("subscription { slowStart }")
    async with asyncio.timeout(10):
        results = [result async for result in stream]
    assert [(r.data, r.errors) for r in results] == [({"slowStart": "first"}, None)]
    # A query on the same schema is still stopped.
    timed = await asyncio.wait_for(schema.execute("{ slow }"), 10)
    assert timed.errors[0].extensions["code"] == "TIMEOUT"
