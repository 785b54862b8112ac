"""Every query and mutation that runs reports its cost: extensions.cost = {requested, limit}
(Shopify's shape), the same figure the limit is checked against."""

from __future__ import annotations

from app.api.cost import OBJECT_COST, SCALAR_COST, operation_cost
from app.api.schema import build_schema
from graphql import parse

from tests.documents import SIGN_IN

PAGE = "query($n: Int) { dashboard { sessions(first: $n) { totalCount edges { node { title } } } } }"


def expected(query: str, variables: dict | None = None) -> int:
    schema = build_schema()._schema
    return operation_cost(schema, parse(query), None, variables, max_page_size=100)


async def test_a_query_carries_its_cost_and_the_limit(api, world, settings):
    body = await api.execute(PAGE, {"n": 10}, token=world.host.token)
    assert "errors" not in body
    cost = body["extensions"]["cost"]
    # dashboard (object) + sessions (object) + totalCount + 10 edges x (edge + node + title)
    assert cost == {
        "requested": OBJECT_COST + OBJECT_COST + SCALAR_COST + 10 * (OBJECT_COST + OBJECT_COST + SCALAR_COST),
        "limit": settings.max_query_cost,
    }
    assert cost["requested"] == expected(PAGE, {"n": 10})


async def test_the_cost_follows_the_page_size_asked_for(api, world):
    small = (await api.execute(PAGE, {"n": 2}, token=world.host.token))["extensions"]["cost"]["requested"]
    large = (await api.execute(PAGE, {"n": 50}, token=world.host.token))["extensions"]["cost"]["requested"]
    assert large - small == 48 * (OBJECT_COST + OBJECT_COST + SCALAR_COST)
    backwards = "query { dashboard { sessions(last: 2) { edges { node { title } } } } }"
    forwards = "query { dashboard { sessions(first: 2) { edges { node { title } } } } }"
    assert (await api.execute(backwards, token=world.host.token))["extensions"]["cost"] == (
        await api.execute(forwards, token=world.host.token)
    )["extensions"]["cost"]


async def test_a_mutation_carries_its_cost_too(api, world):
    body = await api.execute(SIGN_IN, {"email": "nobody@example.org", "password": "x"})
    assert body["data"]["signIn"]["userErrors"]
    assert body["extensions"]["cost"]["requested"] == expected(SIGN_IN)


async def test_a_refused_query_says_its_cost_in_the_error_not_in_extensions(api, world, app):
    query = "query { dashboard { a: sessions(first: 100) { edges { node { participants(first: 100) { edges { node { id } } } } } } } }"
    body = await api.execute(query, token=world.host.token)
    [error] = body["errors"]
    assert error["extensions"]["code"] == "QUERY_TOO_COMPLEX" and error["extensions"]["cost"] > 50_000
    assert "cost" not in (body.get("extensions") or {})


async def test_an_invalid_document_carries_no_cost(api, world):
    body = await api.execute("{ nope }", token=world.host.token)
    assert body["errors"] and "extensions" not in body
