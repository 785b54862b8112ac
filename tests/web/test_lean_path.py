"""The lean path (app.api.lean): a JSON POST of a known-good document skips Strawberry's
view and extension machinery, and answers exactly what the generic path answers.

Each request below is sent twice to the same app, once with the lean path switched off and
once with it on: status, headers, body and the request log line must be the same, and the
lean path must have taken the common cases and none of the refusals."""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from types import SimpleNamespace

import pytest

from app import metrics
from app.api import lean
from app.api.lean import lean_executor
from app.group_sessions.models import GroupSession
from app.web.graphql_view import GraphQLView
from app.web.negotiation import GRAPHQL_RESPONSE_JSON
from tests.conftest import in_days
from tests.documents import CREATE

COSTLY = """
query($n: Int, $m: Int) { viewer { upcomingGroupSessions(first: $n) { edges { node {
    title participants(first: $m) { edges { node { participant { name } } } } } } } } }
"""
VIEWER = "query Me { viewer { id name email } }"
NODE = "query ($id: ID!) { node(id: $id) { id } }"


def sha256(document: str) -> str:
    return hashlib.sha256(document.encode()).hexdigest()


def the_view(app) -> GraphQLView:
    for route in app.routes:
        if getattr(route, "path", None) == "/graphql" and isinstance(getattr(route, "endpoint", None), GraphQLView):
            return route.endpoint
    raise AssertionError("no GraphQL view")


@pytest.fixture
def executor(app):
    found = lean_executor(the_view(app).schema)
    assert found is not None, "the app's schema takes the lean path"
    return found


def counted() -> dict[tuple, float]:
    """The operation and error counters' samples (app.metrics), by name and labels."""
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for metric in (metrics.OPERATIONS, metrics.GRAPHQL_ERRORS)
        for family in metric.collect()
        for sample in family.samples
        if sample.name.endswith("_total")
    }


def counted_since(before: dict[tuple, float]) -> dict[tuple, float]:
    return {key: value - before.get(key, 0) for key, value in counted().items() if value != before.get(key, 0)}


def log_lines(caplog) -> list[tuple]:
    return [
        (r.operation_type, r.operation_name, r.outcome, tuple(r.error_codes), r.error_count, r.request_id)
        for r in caplog.records
        if r.name == "app.requests"
    ]


async def both_ways(api, executor, caplog, send) -> tuple[object, int]:
    """`send()` answered by the generic path, then with the lean path on: the lean answer
    after checking it is the generic one (status, headers, body, log line, operation and
    error counters), and how many operations the lean path took."""
    answers = []
    for enabled in (False, True):
        executor.enabled = enabled
        caplog.clear()
        before, counters = lean.STATS["lean"], counted()
        response = await send()
        answers.append(
            (response.status_code, sorted(response.headers.items()), response.content, log_lines(caplog),
             counted_since(counters))
        )
        taken = lean.STATS["lean"] - before
    generic, lean_answer = answers
    assert lean_answer == generic
    return response, taken


def post(api, body, *, token=None, headers=None, content=None):
    headers = {"X-Request-Id": "req-1", **(headers or {})}
    if token:
        headers["Authorization"] = f"Bearer {token}"

    async def send():
        if content is not None:
            return await api.http.post("/graphql", content=content, headers=headers)
        return await api.http.post("/graphql", json=body, headers=headers)

    return send


async def test_the_common_case_takes_the_lean_path(api, world, executor, caplog):
    caplog.set_level(logging.INFO, logger="app.requests")
    for accept in (None, GRAPHQL_RESPONSE_JSON):
        headers = {"Accept": accept} if accept else {}
        response, taken = await both_ways(api, executor, caplog, post(api, {"query": "{ __typename }"}, headers=headers))
        assert taken == 1
        assert response.json()["data"] == {"__typename": "Query"}
        assert response.json()["extensions"]["cost"]["requested"] >= 0

    response, taken = await both_ways(
        api, executor, caplog, post(api, {"query": VIEWER, "operationName": "Me"}, token=world.host.token)
    )
    assert taken == 1
    assert response.json()["data"]["viewer"]["name"]
    assert log_lines(caplog) == [("query", "Me", "ok", (), 0, "req-1")]
    before = counted()
    await post(api, {"query": VIEWER, "operationName": "Me"}, token=world.host.token)()
    [(name, labels)] = counted_since(before)
    assert name == "gs_graphql_operations_total" and dict(labels)["outcome"] == "ok"


async def test_a_persisted_hash_takes_the_lean_path_once_known(api, world, executor, caplog):
    caplog.set_level(logging.INFO, logger="app.requests")
    persisted = {"persistedQuery": {"version": 1, "sha256Hash": sha256(VIEWER)}}
    # Unknown hash: PERSISTED_QUERY_NOT_FOUND, from the generic path both times.
    response, taken = await both_ways(api, executor, caplog, post(api, {"extensions": persisted}, token=world.host.token))
    assert taken == 0
    assert response.json()["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_FOUND"
    # Document and hash: the generic path stores it (the lean path leaves storing to it).
    executor.enabled = True
    before = lean.STATS["lean"]
    stored = await post(api, {"query": VIEWER, "extensions": persisted}, token=world.host.token)()
    assert stored.status_code == 200 and lean.STATS["lean"] == before
    # From then on, the hash alone and the document with its hash are lean.
    for body in ({"extensions": persisted}, {"query": VIEWER, "extensions": persisted}):
        response, taken = await both_ways(api, executor, caplog, post(api, body, token=world.host.token))
        assert taken == 1
        assert response.json()["data"]["viewer"]["name"]


async def test_a_mutation_runs_on_the_lean_path(api, world, executor):
    variables = {
        "input": {
            "programId": world.program_gid, "title": "Lean", "objective": "o",
            "startsAt": in_days(3, hour=17), "durationMinutes": 60,
        }
    }
    executor.enabled = True
    before = lean.STATS["lean"]
    response = await post(api, {"query": CREATE, "variables": variables}, token=world.host.token)()
    assert response.status_code == 200, response.text
    assert not response.json().get("errors")
    assert lean.STATS["lean"] == before + 1
    assert await GroupSession.filter(title="Lean").count() == 1


@pytest.mark.parametrize(
    ("case", "status", "code"),
    [
        ("anonymous viewer", 200, None),
        ("variables that do not coerce", 200, "BAD_USER_INPUT"),
        ("variables that do not coerce, graphql-response+json", 400, "BAD_USER_INPUT"),
        ("validation error", 200, "GRAPHQL_VALIDATION_FAILED"),
        ("validation error, graphql-response+json", 400, "GRAPHQL_VALIDATION_FAILED"),
        ("syntax error", 200, "GRAPHQL_PARSE_FAILED"),
        ("cost over the limit", 200, "QUERY_TOO_COMPLEX"),
        ("two signIns", 200, "TOO_MANY_SIGN_INS"),
        ("subscription over POST", 400, "BAD_REQUEST"),
        ("unknown operation name", 400, "BAD_REQUEST"),
        ("query not a string", 400, "BAD_REQUEST"),
        ("a batch", 200, None),
        ("not JSON", 400, "BAD_REQUEST"),
        ("hash that does not match", 200, "BAD_USER_INPUT"),
    ],
)
async def test_what_the_lean_path_does_not_take_is_answered_as_before(api, world, executor, caplog, case, status, code):
    caplog.set_level(logging.INFO, logger="app.requests")
    token = world.host.token
    gql = {"Accept": GRAPHQL_RESPONSE_JSON}
    sends = {
        "anonymous viewer": post(api, {"query": VIEWER}),
        "variables that do not coerce": post(api, {"query": NODE, "variables": {"id": None}}),
        "variables that do not coerce, graphql-response+json": post(
            api, {"query": NODE, "variables": {"id": None}}, headers=gql
        ),
        "validation error": post(api, {"query": "{ noSuchField }"}),
        "validation error, graphql-response+json": post(api, {"query": "{ noSuchField }"}, headers=gql),
        "syntax error": post(api, {"query": "{"}),
        "cost over the limit": post(api, {"query": COSTLY, "variables": {"n": 100, "m": 100}}, token=token),
        "two signIns": post(api, {"query": 'mutation { a: signIn(input: {email: "a@b.c", password: "x"}) { token } '
                                           'b: signIn(input: {email: "a@b.c", password: "x"}) { token } }'}),
        "subscription over POST": post(api, {"query": "subscription { registrationEvents { __typename } }"}),
        "unknown operation name": post(api, {"query": VIEWER, "operationName": "Other"}, token=token),
        "query not a string": post(api, {"query": 1}),
        "a batch": post(api, [{"query": "{ __typename }"}]),
        "not JSON": post(api, None, content=b"{", headers={"Content-Type": "application/json"}),
        "hash that does not match": post(
            api, {"query": VIEWER, "extensions": {"persistedQuery": {"version": 1, "sha256Hash": "0" * 64}}}, token=token
        ),
    }
    response, taken = await both_ways(api, executor, caplog, sends[case])
    assert response.status_code == status
    if code is not None:
        assert response.json()["errors"][0]["extensions"]["code"] == code
    # The document is fine in these: the lean path runs them (graphql-core refuses the
    # variables, the viewer is null); every other case is refused before anything runs.
    lean_cases = {"anonymous viewer", "variables that do not coerce", "variables that do not coerce, graphql-response+json"}
    assert taken == (1 if case in lean_cases else 0)


@pytest.mark.parametrize(
    ("case", "status", "code"),
    [
        ("form post without a preflight header", 400, "CSRF_PREFLIGHT_REQUIRED"),
        ("text/plain without a preflight header", 400, "CSRF_PREFLIGHT_REQUIRED"),
        ("body over the cap", 413, "PAYLOAD_TOO_LARGE"),
        ("document over the limit", 200, "DOCUMENT_TOO_LARGE"),
        ("mutation over GET", 405, "METHOD_NOT_ALLOWED"),
    ],
)
async def test_refusals_before_and_around_the_view_hold(api, world, executor, caplog, settings, case, status, code):
    caplog.set_level(logging.INFO, logger="app.requests")
    body = json.dumps({"query": "{ __typename }"}).encode()
    padding = " " * settings.max_document_bytes
    sends = {
        "form post without a preflight header": post(
            api, None, content=body, headers={"Content-Type": "application/x-www-form-urlencoded"}
        ),
        "text/plain without a preflight header": post(api, None, content=body, headers={"Content-Type": "text/plain"}),
        "body over the cap": post(api, {"query": "{ __typename }", "variables": {"x": "y" * settings.max_body_bytes}}),
        "document over the limit": post(api, {"query": "{ __typename }" + padding}),
    }

    async def mutation_over_get():
        return await api.http.get(
            "/graphql", params={"query": "mutation { signOut { signedOut } }"}, headers={"X-Request-Id": "req-1"}
        )

    sends["mutation over GET"] = mutation_over_get
    response, taken = await both_ways(api, executor, caplog, sends[case])
    assert taken == 0
    assert response.status_code == status
    assert response.json()["errors"][0]["extensions"]["code"] == code
    if status == 405:
        assert response.headers["allow"] == "POST"


# --- what happens during execution: masking, the error log, the timeout ---------------------


@pytest.fixture
def buggy_view(settings):
    """The real view serving a schema with a buggy and a slow field (the security tests'),
    built from the real extension list, so the lean path serves it."""
    from tests.security import test_errors_and_timeout as buggy  # noqa: PLC0415

    settings = settings.with_(request_timeout_seconds=0.3)
    view = GraphQLView(settings=settings, effects=buggy.Effects(), broker=buggy.InMemoryBroker(queue_size=4))
    view.schema = buggy.AppSchema(
        query=buggy.BuggyQuery, mutation=buggy.BuggyMutation,
        extensions=buggy.schema_extensions(settings), config=buggy.schema_config(settings),
    )
    return view


@pytest.mark.parametrize(
    "query", ["query Q { fine broken }", "{ slow }", "mutation { slowWrite }"], ids=["bug", "slow query", "slow mutation"]
)
async def test_masking_error_logs_and_the_timeout_are_the_same_on_the_lean_path(buggy_view, caplog, query):
    import httpx  # noqa: PLC0415

    caplog.set_level(logging.INFO)
    executor = lean_executor(buggy_view.schema)
    assert executor is not None
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=buggy_view), base_url="http://t") as http:
        answers = []
        for enabled in (False, True):
            executor.enabled = enabled
            caplog.clear()
            before = lean.STATS["lean"]
            response = await asyncio.wait_for(
                http.post("/graphql", json={"query": query}, headers={"X-Request-Id": "req-42"}), timeout=10
            )
            errors_logged = [
                (r.request_id, r.getMessage(), r.exc_info[0] if r.exc_info else None)
                for r in caplog.records if r.name == "app.errors"
            ]
            answers.append((response.status_code, response.content, errors_logged, log_lines(caplog)))
        assert lean.STATS["lean"] == before + 1
    generic, lean_answer = answers
    assert lean_answer == generic
    [error] = response.json()["errors"]
    if query.startswith("query Q"):
        assert error == {
            "message": "Unexpected error.", "locations": error["locations"], "path": ["broken"],
            "extensions": {"code": "INTERNAL_SERVER_ERROR", "requestId": "req-42"},
        }
        assert len(generic[2]) == 1 and generic[2][0][0] == "req-42"  # the bug, logged in full once
    else:
        assert error["extensions"]["code"] == "TIMEOUT"
        assert "0.3 seconds" in error["message"]


async def test_in_production_introspection_stays_refused_and_typename_is_lean(settings, world, caplog):
    """Production adds DisableIntrospection's rule: the lean path validates with it too."""
    import httpx  # noqa: PLC0415

    from app.main import create_app  # noqa: PLC0415

    caplog.set_level(logging.INFO, logger="app.requests")
    app = create_app(settings.with_(app_env="production"))
    async with app.router.lifespan_context(app):
        executor = lean_executor(the_view(app).schema)
        assert executor is not None
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as http:
            api = SimpleNamespace(http=http)
            refused, taken = await both_ways(
                api, executor, caplog, post(api, {"query": "{ __schema { queryType { name } } }"})
            )
            assert taken == 0
            assert refused.json()["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
            typename, taken = await both_ways(api, executor, caplog, post(api, {"query": "{ __typename }"}))
            assert taken == 1
            assert typename.json()["data"] == {"__typename": "Query"}


async def test_made_up_operation_names_are_not_remembered(api, executor):
    executor.enabled = True
    for index in range(20):
        response = await post(api, {"query": "query A { __typename }", "operationName": f"Made{index}"})()
        assert response.status_code == 400
    await post(api, {"query": "query A { __typename }", "operationName": "A"})()
    [known] = [entry for query, entry in executor._prepared.items() if query == "query A { __typename }"]
    assert list(known.operations) == ["A"]


def test_the_lean_path_mirrors_exactly_the_extensions_it_was_written_for():
    """`LeanExecutor.execute` does by hand what these extensions do for a document that
    parsed and validated cleanly. An extension added to (or taken from) `schema_extensions`
    fails this test: mirror it in app.api.lean, or switch the lean path off for it."""
    from app.api.schema import schema_extensions
    from app.settings import Settings

    def names(settings: Settings) -> list[str]:
        return [type(make()).__name__ for make in schema_extensions(settings)]

    development = [
        "PersistedQueries", "SharedParserCache", "ValidationCache", "RequestLog", "FreshLoaders", "DocumentLimits",
        "ValidationRules", "ValidationErrorCodes", "OneSignInPerRequest", "QueryCostLimit", "ExecutionTimeout",
        "MaskUnexpectedErrors",
    ]
    assert names(Settings()) == development
    assert names(Settings(app_env="production")) == [*development, "DisableIntrospection"]
