"""HTTP requests to /graphql skip Starlette's stack (app.main.App hands them to the view
behind app.web.stack.DirectStack) and get exactly what the stack answers.

Each request below is sent twice to the same app as raw ASGI messages, once through the
direct path and once through the full stack (App without its `http_endpoint`): the
messages sent back (status, every header in order, body), the exception that reaches the
server and the pool sampling after the request must be the same."""

from __future__ import annotations

import functools

import pytest
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.middleware.cors import CORSMiddleware

from app import metrics
from app.web.cors import CORS
from app.web.graphql_view import GraphQLView
from app.web.stack import DirectStack

APP = "https://app.example.org"
EVIL = "https://evil.example"
JSON = [(b"content-type", b"application/json")]
TYPENAME = b'{"query": "{ __typename }"}'


def the_view(app) -> GraphQLView:
    return next(route.endpoint for route in app.routes if isinstance(getattr(route, "endpoint", None), GraphQLView))


async def asgi(app, method: str, *, headers=(), chunks=(b"",), path="/graphql", query=b""):
    """The messages `app` sends for one request, and the exception that left it (or None)."""
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method, "scheme": "http",
        "path": path, "raw_path": path.encode(), "root_path": "", "query_string": query,
        "headers": [(b"host", b"testserver"), *headers], "client": ("127.0.0.1", 5000), "server": ("testserver", 80),
    }  # fmt: skip
    parts = list(chunks)
    sent: list[dict] = []

    async def receive() -> dict:
        if parts:
            body = parts.pop(0)
            return {"type": "http.request", "body": body, "more_body": bool(parts)}
        return {"type": "http.disconnect"}

    async def send(message: dict) -> None:
        sent.append({**message, "headers": list(message.get("headers", ()))} if "headers" in message else message)

    try:
        await app(scope, receive, send)
    except Exception as exc:  # noqa: BLE001 - what reaches the server is part of the answer
        return sent, (type(exc), str(exc))
    return sent, None


async def both_ways(app, method: str, **request) -> tuple[list[dict], object]:
    """The request answered by the full stack, then by the direct path: the direct answer,
    after checking it is the full stack's, pool sampling included."""
    direct = app.http_endpoint
    assert isinstance(direct, DirectStack)
    answers = []
    for endpoint in (None, direct):
        app.http_endpoint = endpoint
        sampled: list[bool] = []
        original = metrics.sample_pool_after_request
        direct.security.after_request = functools.partial(sampled.append, True)
        app.middleware_stack = None  # rebuilt with the counting `after_request`
        app.user_middleware[-3].kwargs["after_request"] = direct.security.after_request
        try:
            answers.append((*await asgi(app, method, **request), sampled))
        finally:
            app.user_middleware[-3].kwargs["after_request"] = original
            direct.security.after_request = original
            app.middleware_stack = None
            app.http_endpoint = direct
    assert answers[1] == answers[0]
    assert answers[0][2] == [True], "the pool is sampled once per request"
    return answers[1][0], answers[1][1]


def head_of(sent: list[dict]) -> tuple[int, Headers]:
    return sent[0]["status"], Headers(raw=sent[0]["headers"])


@pytest.fixture
async def cors_app(make_app):
    return await make_app(cors_origins=(APP,))


async def test_an_answer_gets_the_same_headers(app):
    sent, error = await both_ways(app, "POST", headers=JSON, chunks=[TYPENAME])
    status, headers = head_of(sent)
    assert (status, error) == (200, None)
    assert headers["strict-transport-security"] and headers["vary"] == "Origin"
    assert b'"__typename"' in sent[1]["body"]


@pytest.mark.parametrize("origin", [APP, EVIL])
async def test_cors_for_allowed_and_refused_origins(cors_app, origin):
    sent, _ = await both_ways(cors_app, "POST", headers=[*JSON, (b"origin", origin.encode())], chunks=[TYPENAME])
    status, headers = head_of(sent)
    assert status == 200
    assert headers.get("access-control-allow-origin") == (APP if origin == APP else None)


async def test_wildcard_origin(make_app):
    app = await make_app(cors_origins=("*",))
    sent, _ = await both_ways(app, "POST", headers=[*JSON, (b"origin", EVIL.encode())], chunks=[TYPENAME])
    assert head_of(sent)[1]["access-control-allow-origin"] == "*"


@pytest.mark.parametrize("origin", [APP, EVIL])
async def test_preflight(cors_app, origin):
    sent, _ = await both_ways(
        cors_app, "OPTIONS", headers=[(b"origin", origin.encode()), (b"access-control-request-method", b"POST")]
    )
    assert head_of(sent)[0] == (200 if origin == APP else 400)


@pytest.mark.parametrize(
    ("chunks", "status"),
    [
        ([b'{"query": "{ nope }"}'], 200),  # a validation error, legacy media type
        ([b"{"], 400),  # not JSON
        ([b"[]"], 400),  # not an operation
    ],
)
async def test_request_errors(cors_app, chunks, status):
    sent, _ = await both_ways(cors_app, "POST", headers=[*JSON, (b"origin", APP.encode())], chunks=chunks)
    assert head_of(sent)[0] == status


async def test_a_validation_error_under_the_graphql_response_type_is_a_400(app):
    accept = [*JSON, (b"accept", b"application/graphql-response+json")]
    sent, _ = await both_ways(app, "POST", headers=accept, chunks=[b'{"query": "{ nope }"}'])
    assert head_of(sent)[0] == 400


async def test_csrf_refusal(cors_app):
    sent, _ = await both_ways(cors_app, "POST", headers=[(b"content-type", b"text/plain")], chunks=[TYPENAME])
    assert head_of(sent)[0] == 400 and b"CSRF" in sent[1]["body"]


async def test_body_over_the_limit_declared_and_streamed(make_app):
    app = await make_app(max_body_bytes=64)
    big = b'{"query": "{ __typename }", "variables": {"pad": "' + b"x" * 200 + b'"}}'
    declared = [*JSON, (b"content-length", str(len(big)).encode()), (b"origin", EVIL.encode())]
    sent, _ = await both_ways(app, "POST", headers=declared, chunks=[big])
    status, headers = head_of(sent)
    assert status == 413 and headers["connection"] == "close" and headers["vary"] == "Origin"
    sent, _ = await both_ways(app, "POST", headers=JSON, chunks=[big[:50], big[50:]])
    assert head_of(sent)[0] == 413
    sent, _ = await both_ways(app, "GET", query=b"query=" + b"x" * 100)
    assert head_of(sent)[0] == 414


async def test_get_and_head(app):
    sent, _ = await both_ways(app, "GET", query=b"query=%7B__typename%7D")
    assert head_of(sent)[0] == 200
    sent, _ = await both_ways(app, "GET", query=b"query=mutation%7BsignOut%7D")
    assert head_of(sent)[0] == 405
    await both_ways(app, "HEAD", query=b"query=%7B__typename%7D")


async def test_methods_and_paths_the_route_does_not_serve(app):
    sent, _ = await both_ways(app, "PUT", headers=JSON, chunks=[TYPENAME])
    assert head_of(sent)[0] == 405
    sent, _ = await both_ways(app, "POST", headers=JSON, chunks=[TYPENAME], path="/graphql/")
    assert head_of(sent)[0] in {307, 404}


async def test_a_client_that_leaves_before_sending_its_body(app):
    sent, error = await both_ways(app, "POST", headers=JSON, chunks=[])
    assert (sent, error) == ([], None)


async def test_a_failing_view_is_a_plain_500_and_the_exception_reaches_the_server(app, monkeypatch):
    async def fails(request):
        raise LookupError("a bug")

    monkeypatch.setattr(the_view(app), "run_lean", fails)
    sent, error = await both_ways(app, "POST", headers=[*JSON, (b"origin", APP.encode())], chunks=[TYPENAME])
    assert error == (LookupError, "a bug")
    status, headers = head_of(sent)
    assert (status, sent[1]["body"]) == (500, b"Internal Server Error")
    assert "content-security-policy" not in headers  # as the full stack answers: outside every middleware


async def test_an_exception_after_the_answer_started_only_reaches_the_server(app, monkeypatch):
    view = the_view(app)
    serve = view._serve

    async def fails_late(scope, receive, send):
        await serve(scope, receive, send)
        raise LookupError("after the answer")

    monkeypatch.setattr(view, "_serve", fails_late)
    sent, error = await both_ways(app, "POST", headers=JSON, chunks=[TYPENAME])
    assert error == (LookupError, "after the answer") and head_of(sent)[0] == 200 and len(sent) == 2


@pytest.mark.parametrize("status", [404, 204])
async def test_a_starlette_http_exception_is_answered_as_the_exception_middleware_does(app, monkeypatch, status):
    async def refuses(request):
        raise HTTPException(status, headers={"X-Why": "because"})

    monkeypatch.setattr(the_view(app), "run_lean", refuses)
    sent, error = await both_ways(app, "POST", headers=JSON, chunks=[TYPENAME])
    status_sent, headers = head_of(sent)
    assert (status_sent, headers["x-why"], error) == (status, "because", None)


@pytest.mark.parametrize("origins", [(), (APP,), ("*",)])
@pytest.mark.parametrize("origin", [None, APP, EVIL])
@pytest.mark.parametrize("vary", [None, b"Accept", b"Accept-Encoding, Cookie"])
async def test_cors_label_is_starlettes(origins, origin, vary):
    """`CORS.label` adds what Starlette's CORSMiddleware.send adds (it restates that code)."""
    options = {
        "allow_origins": list(origins), "allow_methods": ["GET", "POST"], "allow_headers": ["Authorization"],
        "allow_credentials": "*" not in origins and bool(origins), "expose_headers": ["X-Request-Id"],
    }  # fmt: skip
    request_headers = Headers(raw=[(b"origin", origin.encode())] if origin else [])
    response_headers = [(b"content-type", b"application/json"), (b"content-length", b"2")]
    if vary is not None:
        response_headers.insert(1, (b"vary", vary))
    theirs: list[dict] = []

    async def keep(into: list, message: dict) -> None:
        into.append(message)

    await CORSMiddleware(None, **options).send(
        {"type": "http.response.start", "status": 200, "headers": list(response_headers)},
        lambda message: keep(theirs, message),
        request_headers,
    )
    message = {"type": "http.response.start", "status": 200, "headers": list(response_headers)}
    CORS(None, **options).label(message, origin)
    assert message == theirs[0]


def test_tracing_keeps_the_whole_stack():
    """create_app gives App no endpoints when tracing is on (tests/operations/test_tracing.py
    serves a request that way); DirectStack refuses a stack it does not know."""
    with pytest.raises(TypeError):
        DirectStack(None, [])
