"""Every limit refuses with a clear error and a code before anything executes."""

from __future__ import annotations

import pytest
from graphql import get_introspection_query, parse

from app.api.cost import operation_cost
from app.api.schema import build_schema
from app.group_sessions.models import GroupSession, Registration
from tests.conftest import create_session, in_days
from tests.documents import CREATE, JOIN


def codes(body: dict) -> list[str]:
    return [e.get("extensions", {}).get("code") for e in body.get("errors") or []]


async def counts() -> tuple[int, int]:
    return await GroupSession.all().count(), await Registration.all().count()


# --- document size and tokens ---------------------------------------------------------------


async def test_a_document_over_the_byte_limit_is_refused_before_it_runs(api, world):
    session = await create_session(api, world)
    before = await counts()
    query = JOIN + "#" + "x" * 15_000  # a valid mutation padded with a comment
    body = await api.execute(query, {"id": session["id"]}, token=world.mentees[0].token)
    assert codes(body) == ["DOCUMENT_TOO_LARGE"]
    assert "at most 15,000" in body["errors"][0]["message"]
    assert body.get("data") is None
    assert await counts() == before


async def test_multibyte_characters_count_as_their_utf8_bytes(api, world):
    # 4,000 emoji are 4,000 code points but 16,000 bytes
    body = await api.execute('{ viewer { name } } # ' + "\U0001f600" * 4000, token=world.host.token)
    assert codes(body) == ["DOCUMENT_TOO_LARGE"]


async def test_a_document_over_the_token_limit_is_refused(api, world):
    query = "{ viewer { " + "name " * 2100 + "} }"  # about 10 KB, under the byte limit
    assert len(query.encode()) < 15_000
    body = await api.execute(query, token=world.host.token)
    assert codes(body) == ["TOO_MANY_TOKENS"]
    assert body.get("data") is None


async def test_syntax_errors_are_coded(api, world):
    body = await api.execute("{ viewer { name ", token=world.host.token)
    assert codes(body) == ["GRAPHQL_PARSE_FAILED"]


# --- depth and aliases ----------------------------------------------------------------------


# Depth is counted from 0: viewer(0) upcomingGroupSessions(1) edges(2) node(3) host(4) ...
HOP = "upcomingGroupSessions(first: 1) { edges { node { host { %s } } } }"
DEPTH_10 = "{ viewer { " + HOP % (HOP % "upcomingGroupSessions(first: 1) { totalCount }") + " } }"
DEPTH_11 = "{ viewer { " + HOP % (HOP % "upcomingGroupSessions(first: 1) { edges { cursor } }") + " } }"


async def test_depth_limit(api, world):
    ok = await api.execute(DEPTH_10, token=world.host.token)
    assert not ok.get("errors"), ok
    body = await api.execute(DEPTH_11, token=world.host.token)
    assert codes(body) == ["QUERY_TOO_DEEP"]
    assert "depth of 10" in body["errors"][0]["message"]


async def test_alias_limit(api, world):
    fifteen = "{ " + " ".join(f"a{i}: viewer {{ name }}" for i in range(15)) + " }"
    sixteen = "{ " + " ".join(f"a{i}: viewer {{ name }}" for i in range(16)) + " }"
    data = await api.data(fifteen, token=world.host.token)
    assert data["a14"] == {"name": "Hannah"}
    body = await api.execute(sixteen, token=world.host.token)
    assert codes(body) == ["TOO_MANY_ALIASES"]


async def test_graphiql_introspection_passes_the_limits_in_development(api):
    body = await api.execute(get_introspection_query(descriptions=True))
    assert not body.get("errors"), body["errors"][:2]
    assert body["data"]["__schema"]["queryType"]["name"] == "Query"


# --- cost -----------------------------------------------------------------------------------


def cost(query: str, variables: dict | None = None, max_page_size: int = 100) -> int:
    schema = build_schema()._schema
    return operation_cost(schema, parse(query), None, variables, max_page_size=max_page_size)


def test_cost_weights():
    assert cost("{ viewer { name timeZone } }") == 5 + 1 + 1
    assert cost("{ viewer { __typename name } }") == 5 + 1
    # dashboard 5 + sessions 5 + totalCount 1 + 3 edges x (edge 5 + node 5 + title 1)
    assert cost("{ dashboard { sessions(first: 3) { totalCount edges { node { title } } } } }") == 5 + 5 + 1 + 3 * 11
    # first left out: the argument's default (20); first: null means the page cap
    assert cost("{ dashboard { sessions { edges { cursor } } } }") == 5 + 5 + 20 * 6
    assert cost("{ dashboard { sessions(first: null) { edges { cursor } } } }") == 5 + 5 + 100 * 6
    # variables count as sent; an operation default applies when one is not sent
    q = "query($n: Int = 7) { dashboard { sessions(first: $n) { edges { cursor } } } }"
    assert cost(q, {"n": 2}) == 5 + 5 + 2 * 6
    assert cost(q, {}) == 5 + 5 + 7 * 6
    # nodes counts one item per ID; a plain list of objects counts 10 items
    assert cost('{ nodes(ids: ["a", "b", "c"]) { id } }') == 3 * (5 + 1)
    assert cost('{ groupSession(id: "x") { guests { name } } }') == 5 + 10 * (5 + 1)
    # fragments are expanded
    assert cost("query { viewer { ...F } } fragment F on User { name email }") == 5 + 2


async def test_a_costly_query_is_refused_and_a_cheaper_page_is_not(api, world):
    query = """
    query($n: Int, $m: Int) { viewer { upcomingGroupSessions(first: $n) { edges { node {
        title participants(first: $m) { edges { node { participant { name } } } } } } } } }
    """
    body = await api.execute(query, {"n": 100, "m": 100}, token=world.host.token)
    assert codes(body) == ["QUERY_TOO_COMPLEX"]
    error = body["errors"][0]
    assert error["extensions"]["cost"] > error["extensions"]["maxCost"] == 50_000
    assert "first" in error["message"]
    ok = await api.execute(query, {"n": 10, "m": 20}, token=world.host.token)
    assert not ok.get("errors"), ok


async def test_a_costly_mutation_changes_nothing(api, world):
    before = await counts()
    costly_create = CREATE.replace(
        "host { id name }",
        "host { id name upcomingGroupSessions(first: 100) { edges { node { participants(first: 100) "
        "{ edges { node { participant { name } } } } } } } }",
    )
    payload = {
        "programId": world.program_gid, "title": "Costly", "objective": "o",
        "startsAt": in_days(2), "durationMinutes": 60,
    }
    body = await api.execute(costly_create, {"input": payload}, token=world.host.token)
    assert codes(body) == ["QUERY_TOO_COMPLEX"]
    assert await counts() == before


# --- batching -------------------------------------------------------------------------------


async def test_batches_of_up_to_ten_operations(api, world):
    headers = {"Authorization": f"Bearer {world.host.token}"}
    batch = [{"query": "{ viewer { name } }"}] * 10
    response = await api.http.post("/graphql", json=batch, headers=headers)
    assert response.status_code == 200
    assert [r["data"]["viewer"]["name"] for r in response.json()] == ["Hannah"] * 10
    response = await api.http.post("/graphql", json=batch + batch[:1], headers=headers)
    assert response.status_code == 400
    assert "Too many operations" in response.text


@pytest.fixture
def no_batching_settings(settings):
    return settings.with_(max_batch_operations=0)


async def test_batching_can_be_switched_off(no_batching_settings):
    import httpx

    from app.main import create_app

    app = create_app(no_batching_settings)
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as http:
            response = await http.post("/graphql", json=[{"query": "{ viewer { name } }"}])
    assert response.status_code == 400
    assert "Batching is not enabled" in response.text


async def test_an_unsent_variable_leaves_first_at_its_default_in_the_cost(api, world):
    """`first: $first` with $first not sent means first's default (20), not the worst case."""
    query = """query($first: Int) { dashboard { sessions(first: $first) { edges { node {
        participants { edges { node { participant { name } } } } } } } } }"""
    body = await api.execute(query, {}, token=world.host.token)
    assert "errors" not in body, body
    schema = build_schema()._schema
    unsent = operation_cost(schema, parse(query), None, {}, max_page_size=100)
    as_twenty = operation_cost(schema, parse(query), None, {"first": 20}, max_page_size=100)
    as_null = operation_cost(schema, parse(query), None, {"first": None}, max_page_size=100)
    assert unsent == as_twenty < as_null


def test_a_document_costed_again_answers_as_costed_afresh():
    """Costs are kept per document and the values of its sizing variables (`first`, `last`,
    `ids`): every other variable may change freely without a new costing, and any change to
    a sizing one (value, type, presence, page cap, operation) is costed afresh."""
    from app.api import cost as cost_module

    schema = build_schema()._schema
    document = parse(
        """query Page($id: ID!, $n: Int = 7, $ids: [ID!]!) {
             groupSession(id: $id) { participants(first: $n) { edges { cursor } } }
             nodes(ids: $ids) { id } }
           query Other { viewer { name } }"""
    )
    cases = [
        ({"id": "a", "ids": ["x"]}, 100, "Page"),
        ({"id": "b", "ids": ["x"]}, 100, "Page"),  # another session: the same cost
        ({"id": "a", "n": 3, "ids": ["x"]}, 100, "Page"),
        ({"id": "a", "n": None, "ids": ["x"]}, 100, "Page"),
        ({"id": "a", "n": None, "ids": ["x"]}, 50, "Page"),
        ({"id": "a", "n": True, "ids": ["x"]}, 100, "Page"),
        ({"id": "a", "n": 3, "ids": ["x", "y", "z"]}, 100, "Page"),
        ({"id": "a", "n": {"not": "a size"}, "ids": []}, 100, "Page"),  # unhashable: costed afresh
        ({}, 100, "Other"),
        (None, 100, "Page"),
    ]
    for variables, page_cap, name in cases * 2:  # the second time round, from the cache
        expected = cost_module.compute_operation_cost(schema, document, name, variables, max_page_size=page_cap)
        assert operation_cost(schema, document, name, variables, max_page_size=page_cap) == expected, variables
    costs = cost_module._COSTS[(id(schema), id(document))][3]
    # one entry per distinct sizing (the two session IDs share one; the unhashable one is not kept)
    assert len(costs) == 8
    # and the sizings do cost differently (the comparison above is not between equals)
    assert len(set(costs.values())) >= 6
