"""Bodies and query strings that are JSON but not a GraphQL request, against a real
uvicorn: each is a 400 with a GraphQL error body in the negotiated media type, carries the
security headers, and leaves no traceback or error in the server's log."""

from __future__ import annotations

import json
import logging

import httpx
import pytest

from app.web.negotiation import GRAPHQL_RESPONSE_JSON
from app.web.request_body import MAX_JSON_DEPTH, nested_deeper_than
from tests.web.test_security_headers import COMMON
from tests.responses import without_cost


def nested(depth: int, open_: str = "[", close: str = "]", inner: str = "") -> str:
    return open_ * depth + inner + close * depth


DEEP = MAX_JSON_DEPTH + 1
BODIES = {
    "null": "null",
    "number": "1",
    "string": '"x"',
    "true": "true",
    "array of a number": "[1]",
    "array of null": "[null]",
    "array of arrays": "[[1], [2]]",
    "array of an empty array": "[[]]",
    "empty batch": "[]",
    "batch with one non-object": '[{"query": "{ __typename }"}, 2]',
    "batch item with a number query": '[{"query": 1}]',
    "batch item with array variables": '[{"query": "{ __typename }", "variables": [1]}]',
    "batch item with string extensions": '[{"query": "{ __typename }", "extensions": "x"}]',
    "batch item with object operationName": '[{"query": "{ __typename }", "operationName": {}}]',
    "nested arrays": nested(DEEP),
    "arrays nested past the decoder": nested(5_000),
    "objects nested past the decoder": nested(5_000, '{"a":', "}", "1"),
    "deep variables": '{"query": "{ __typename }", "variables": {"v": ' + nested(DEEP) + "}}",
    "deep extensions": '{"query": "{ __typename }", "extensions": ' + nested(DEEP, '{"a":', "}", "1") + "}",
    "NaN": "NaN",
    "Infinity in variables": '{"query": "query($f: Float) { __typename }", "variables": {"f": Infinity}}',
    "a number of 5,000 digits": '{"query": "{ __typename }", "variables": {"n": ' + "7" * 5_000 + "}}",
}


@pytest.fixture
def server_log(caplog):
    """Every record the app and uvicorn log (uvicorn's loggers do not propagate to the root)."""
    uvicorn_logger = logging.getLogger("uvicorn")
    uvicorn_logger.addHandler(caplog.handler)
    caplog.set_level(logging.DEBUG)
    yield caplog
    uvicorn_logger.removeHandler(caplog.handler)


def assert_clean(log) -> None:
    problems = [r for r in log.records if r.levelno >= logging.ERROR or r.exc_info]
    assert not problems, [(r.name, r.getMessage()) for r in problems]


def assert_bad_request(response: httpx.Response, accept: str) -> dict:
    assert response.status_code == 400, response.text[:300]
    assert response.headers["content-type"] == f"{accept}; charset=utf-8"
    for name, value in COMMON.items():
        assert response.headers.get(name) == value, name
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert set(body) == {"errors"}, body
    (error,) = body["errors"]
    assert error["extensions"] == {"code": "BAD_REQUEST"}
    assert error["message"] and "Traceback" not in error["message"]
    return error


@pytest.fixture
async def base_url(app, serve) -> str:
    return await serve(app)


@pytest.mark.parametrize("accept", ["application/json", GRAPHQL_RESPONSE_JSON])
async def test_bodies_that_are_not_a_request_are_400(base_url, server_log, accept):
    async with httpx.AsyncClient(base_url=base_url, timeout=10) as http:
        for name, body in BODIES.items():
            response = await http.post(
                "/graphql", content=body.encode(), headers={"Content-Type": "application/json", "Accept": accept}
            )
            error = assert_bad_request(response, accept)
            assert error["message"], name
        # a valid request on the same server still works
        ok = await http.post("/graphql", json={"query": "{ __typename }"}, headers={"Accept": accept})
    assert ok.status_code == 200
    assert without_cost(ok.json()) == {"data": {"__typename": "Query"}}
    assert_clean(server_log)


async def test_the_messages_say_what_is_wrong(base_url, server_log):
    expectations = {
        "null": "must be a JSON object holding one operation",
        "[1]": "must be a JSON object holding one operation",
        "[]": "The batch is empty",
        nested(DEEP): f"nested more than {MAX_JSON_DEPTH} levels",
        nested(5_000): f"nested more than {MAX_JSON_DEPTH} levels",
        "NaN": "Unable to parse request body as JSON",
        '[{"query": 1}]': "Operation 0 of the batch: `query` must be a string",
        '[{"query": "{ a }"}, {"query": "{ b }", "variables": 1}]': "Operation 1 of the batch: `variables`",
    }
    async with httpx.AsyncClient(base_url=base_url, timeout=10) as http:
        for body, message in expectations.items():
            response = await http.post("/graphql", content=body.encode(), headers={"Content-Type": "application/json"})
            assert message in assert_bad_request(response, "application/json")["message"]
        not_utf8 = await http.post(
            "/graphql", content=b'{"query": "\xff"}', headers={"Content-Type": "application/json"}
        )
        assert "Unable to parse request body as JSON" in assert_bad_request(not_utf8, "application/json")["message"]
    assert_clean(server_log)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"variables": nested(DEEP)}, f"nested more than {MAX_JSON_DEPTH} levels"),
        ({"variables": nested(5_000)}, f"nested more than {MAX_JSON_DEPTH} levels"),
        ({"variables": '{"n": ' + "7" * 5_000 + "}"}, "Unable to parse the `variables` query parameter as JSON"),
        ({"variables": "[1]"}, "`variables` must be an object"),
        ({"extensions": "null1"}, "Unable to parse the `extensions` query parameter as JSON"),
        ({"extensions": '"x"'}, "`extensions` must be an object"),
    ],
)
@pytest.mark.parametrize("accept", ["application/json", GRAPHQL_RESPONSE_JSON])
async def test_query_strings_that_are_not_a_request_are_400(base_url, server_log, params, message, accept):
    async with httpx.AsyncClient(base_url=base_url, timeout=10) as http:
        response = await http.get("/graphql", params={"query": "{ __typename }", **params}, headers={"Accept": accept})
    assert message in assert_bad_request(response, accept)["message"]
    assert_clean(server_log)


async def test_a_batch_of_objects_still_runs(base_url):
    async with httpx.AsyncClient(base_url=base_url, timeout=10) as http:
        response = await http.post("/graphql", json=[{"query": "{ __typename }"}, {"query": "{ a: __typename }"}])
    assert response.status_code == 200
    assert without_cost(response.json()) == [{"data": {"__typename": "Query"}}, {"data": {"a": "Query"}}]


async def test_variables_nested_up_to_the_limit_are_decoded(base_url):
    """The limit counts the body's own level: variables reaching MAX_JSON_DEPTH pass the
    decoder and reach GraphQL (an HTTP 200 under the legacy media type), which judges them."""
    variables = {"v": json.loads(nested(MAX_JSON_DEPTH - 2, inner="1"))}
    async with httpx.AsyncClient(base_url=base_url, timeout=10) as http:
        response = await http.post("/graphql", json={"query": "query($v: [Int]) { __typename }", "variables": variables})
    assert response.status_code == 200
    assert response.json()["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"  # $v is unused


def test_nesting_is_measured_without_recursion():
    assert not nested_deeper_than(json.loads(nested(3)), 3)
    assert nested_deeper_than(json.loads(nested(4)), 3)
    assert not nested_deeper_than({"a": [1, {"b": 2}]}, 3)
    assert nested_deeper_than({"a": [1, {"b": []}]}, 3)
    assert not nested_deeper_than("scalar", 0)
    deep: list = []
    for _ in range(100_000):  # far past the interpreter's recursion limit
        deep = [deep]
    assert nested_deeper_than(deep, MAX_JSON_DEPTH)
