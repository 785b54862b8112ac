"""Security headers on every response, refusals included; the GraphiQL page's own CSP."""

from __future__ import annotations

import pytest

from app.web.headers import API_CONTENT_SECURITY_POLICY

COMMON = {
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
}


def directives(policy: str) -> dict[str, list[str]]:
    parsed = {}
    for part in policy.split(";"):
        name, *values = part.split()
        parsed[name] = values
    return parsed


REQUESTS = [
    ("POST", "/graphql", {"json": {"query": "{ __typename }"}}),  # an answer
    ("POST", "/graphql", {"json": {"query": "{"}}),  # a GraphQL error
    ("POST", "/graphql", {"content": b"{", "headers": {"Content-Type": "application/json"}}),  # a 400
    ("POST", "/graphql", {"content": b"x", "headers": {"Content-Type": "text/plain"}}),  # the CSRF refusal
    ("POST", "/graphql", {"content": b"x" * 200_000, "headers": {"Content-Type": "application/json"}}),  # 413
    ("PUT", "/graphql", {}),  # 405
    ("GET", "/nowhere", {}),  # 404
    ("GET", "/healthz", {}),
    ("OPTIONS", "/graphql", {"headers": {"Origin": "https://x.example", "Access-Control-Request-Method": "POST"}}),
]


@pytest.mark.parametrize(("method", "path", "options"), REQUESTS)
async def test_every_response_carries_the_security_headers(api, method, path, options):
    response = await api.http.request(method, path, **options)
    for name, value in COMMON.items():
        assert response.headers.get(name) == value, (name, response.status_code)
    policy = directives(response.headers["content-security-policy"])
    assert policy["default-src"] == ["'none'"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert response.headers["cache-control"] == "no-store"


async def test_api_answers_allow_no_active_content(api):
    response = await api.http.post("/graphql", json={"query": "{ __typename }"})
    assert response.headers["content-security-policy"] == API_CONTENT_SECURITY_POLICY


async def test_hsts_only_when_the_public_url_is_https(make_app, client_for):
    secure = client_for(await make_app(public_web_url="https://sessions.example.org"))
    assert "max-age=" in (await secure.get("/healthz")).headers["strict-transport-security"]
    plain = client_for(await make_app(public_web_url="http://127.0.0.1:8000"))
    assert "strict-transport-security" not in (await plain.get("/healthz")).headers


async def test_graphiql_page_allows_scripts_from_its_own_origin_only(api):
    response = await api.http.get("/graphql", headers={"Accept": "text/html"})
    assert response.status_code == 200
    for name, value in COMMON.items():
        assert response.headers[name] == value
    policy = directives(response.headers["content-security-policy"])
    assert policy["script-src"] == ["'self'"]
    assert policy["worker-src"] == ["'self'"]
    assert policy["connect-src"] == ["'self'"]
    assert policy["default-src"] == ["'none'"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert "'unsafe-eval'" not in response.headers["content-security-policy"]
