"""GraphQL over HTTP: media type negotiation, 4xx for request errors under
application/graphql-response+json, JSON bodies for every request error."""

from __future__ import annotations

import pytest

from app.web.negotiation import GRAPHQL_RESPONSE_JSON, JSON, response_media_type
from tests.responses import without_cost

GQL = {"Accept": GRAPHQL_RESPONSE_JSON}


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        (None, JSON),
        ("", JSON),
        ("*/*", JSON),
        ("application/*", JSON),
        ("application/json", JSON),
        (GRAPHQL_RESPONSE_JSON, GRAPHQL_RESPONSE_JSON),
        (f"{GRAPHQL_RESPONSE_JSON}, application/json;q=0.9", GRAPHQL_RESPONSE_JSON),
        (f"application/json, {GRAPHQL_RESPONSE_JSON};q=0.5", JSON),
        (f"{GRAPHQL_RESPONSE_JSON};q=0", JSON),
        ("Application/GraphQL-Response+JSON ; charset=utf-8", GRAPHQL_RESPONSE_JSON),
        ("text/html", JSON),  # nothing acceptable: the spec allows answering application/json
        (f"{GRAPHQL_RESPONSE_JSON};q=nonsense", JSON),
    ],
)
def test_response_media_type(accept, expected):
    assert response_media_type(accept) == expected


async def post(api, body, headers=None):
    return await api.http.post("/graphql", json=body, headers=headers or {})


async def test_success_in_each_media_type(api):
    legacy = await post(api, {"query": "{ __typename }"})
    assert legacy.status_code == 200
    assert legacy.headers["content-type"] == "application/json; charset=utf-8"
    modern = await post(api, {"query": "{ __typename }"}, GQL)
    assert modern.status_code == 200
    assert modern.headers["content-type"] == f"{GRAPHQL_RESPONSE_JSON}; charset=utf-8"
    assert without_cost(legacy.json()) == without_cost(modern.json()) == {"data": {"__typename": "Query"}}


@pytest.mark.parametrize(
    "body",
    [
        {"query": "{"},  # parse error
        {"query": "{ noSuchField }"},  # validation error
        {"query": "query ($id: ID!) { node(id: $id) { id } }", "variables": {"id": None}},  # coercion
    ],
    ids=["parse", "validation", "coercion"],
)
async def test_request_errors_are_400_without_data_when_accepted(api, body):
    modern = await post(api, body, GQL)
    assert modern.status_code == 400
    assert modern.headers["content-type"].startswith(GRAPHQL_RESPONSE_JSON)
    assert "data" not in modern.json()
    assert modern.json()["errors"][0]["message"]

    # The legacy type keeps its promise of 200 (and Strawberry's `"data": null`).
    legacy = await post(api, body, {"Accept": "application/json"})
    assert legacy.status_code == 200
    assert legacy.json()["data"] is None
    assert legacy.json()["errors"] == modern.json()["errors"]


async def test_execution_errors_stay_200_with_data(api):
    """An error while executing (here: not signed in) is a result, not a request error."""
    response = await post(api, {"query": "{ dashboard { __typename } }"}, GQL)
    assert response.status_code == 200
    body = response.json()
    assert "data" in body
    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert body["errors"][0]["path"] == ["dashboard"]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b'{ "not a JSON', "Unable to parse request body as JSON"),
        (b"", "Unable to parse request body as JSON"),
        (b'{"notquery": "{ __typename }"}', "No GraphQL query found in the request"),
        (b'{"query": 5}', "The GraphQL operation's `query` must be a string or null, if provided."),
        (b'{"query": "{ __typename }", "variables": "x"}', "must be an object"),
        (b'{"query": "{ __typename }", "operationName": ["x"]}', "`operationName` must be a string"),
        (b'{"query": "query A { __typename }", "operationName": "B"}', 'Unknown operation named "B".'),
    ],
)
@pytest.mark.parametrize("accept", ["application/json", GRAPHQL_RESPONSE_JSON])
async def test_bad_requests_get_400_and_a_json_error(api, content, message, accept):
    response = await api.http.post(
        "/graphql", content=content, headers={"Content-Type": "application/json", "Accept": accept}
    )
    assert response.status_code == 400
    assert response.headers["content-type"].startswith(accept)
    error = response.json()["errors"][0]
    assert message in error["message"]
    assert error["extensions"]["code"] == "BAD_REQUEST"
    assert "data" not in response.json()


@pytest.mark.parametrize("method", ["GET", "POST"])
async def test_subscriptions_over_plain_http_are_refused(api, world, method):
    """Subscriptions are WebSocket only; over HTTP they get a clear 400, not an
    "Unexpected error" from running the subscription field as a query."""
    query = {"query": "subscription { registrationEvents { __typename } }"}
    headers = {"Accept": "application/json", "Authorization": f"Bearer {world.host.token}"}
    if method == "GET":
        response = await api.http.get("/graphql", params=query, headers=headers)
    else:
        response = await api.http.post("/graphql", json=query, headers=headers)
    assert response.status_code == 400
    error = response.json()["errors"][0]
    assert "WebSocket" in error["message"]
    assert error["extensions"]["code"] == "BAD_REQUEST"


async def test_queries_over_get_with_variables(api):
    response = await api.http.get(
        "/graphql",
        params={"query": "query ($n: String!) { __type(name: $n) { name } }", "variables": '{"n": "Query"}'},
        headers=GQL,
    )
    assert response.status_code == 200
    assert without_cost(response.json()) == {"data": {"__type": {"name": "Query"}}}
