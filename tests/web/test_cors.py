"""CORS from settings.cors_origins: none by default, an explicit list with credentials,
`*` without credentials; preflights answered."""

from __future__ import annotations

from tests.responses import without_cost

APP = "https://app.example.org"
EVIL = "https://evil.example"
QUERY = {"query": "{ __typename }"}


def preflight_headers(origin: str, method: str = "POST", headers: str = "authorization, content-type") -> dict:
    return {"Origin": origin, "Access-Control-Request-Method": method, "Access-Control-Request-Headers": headers}


async def test_by_default_no_origin_is_allowed(make_app, client_for):
    client = client_for(await make_app())

    preflight = await client.options("/graphql", headers=preflight_headers(APP))
    assert preflight.status_code == 400
    assert "access-control-allow-origin" not in preflight.headers

    response = await client.post("/graphql", json=QUERY, headers={"Origin": APP})
    assert response.status_code == 200  # the server answers; the browser hides it from the page
    assert "access-control-allow-origin" not in response.headers
    assert "access-control-allow-credentials" not in response.headers


async def test_listed_origin_gets_preflight_and_credentials(make_app, client_for):
    client = client_for(await make_app(cors_origins=(APP,)))

    preflight = await client.options(
        "/graphql", headers=preflight_headers(APP, headers="authorization, content-type, apollo-require-preflight")
    )
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == APP
    assert preflight.headers["access-control-allow-credentials"] == "true"
    assert {m.strip() for m in preflight.headers["access-control-allow-methods"].split(",")} == {"GET", "POST"}
    allowed = {h.strip().lower() for h in preflight.headers["access-control-allow-headers"].split(",")}
    assert {"authorization", "content-type", "apollo-require-preflight"} <= allowed
    assert int(preflight.headers["access-control-max-age"]) > 0
    assert "Origin" in preflight.headers["vary"]

    response = await client.post("/graphql", json=QUERY, headers={"Origin": APP})
    assert without_cost(response.json()) == {"data": {"__typename": "Query"}}
    assert response.headers["access-control-allow-origin"] == APP
    assert response.headers["access-control-allow-credentials"] == "true"
    assert "Origin" in response.headers["vary"]


async def test_unlisted_origin_is_refused(make_app, client_for):
    client = client_for(await make_app(cors_origins=(APP,)))

    preflight = await client.options("/graphql", headers=preflight_headers(EVIL))
    assert preflight.status_code == 400
    assert preflight.headers.get("access-control-allow-origin") != EVIL

    response = await client.post("/graphql", json=QUERY, headers={"Origin": EVIL})
    assert "access-control-allow-origin" not in response.headers


async def test_preflight_for_other_methods_is_refused(make_app, client_for):
    client = client_for(await make_app(cors_origins=(APP,)))
    preflight = await client.options("/graphql", headers=preflight_headers(APP, method="DELETE"))
    assert preflight.status_code == 400


async def test_wildcard_never_comes_with_credentials(make_app, client_for):
    client = client_for(await make_app(cors_origins=("*",)))

    preflight = await client.options("/graphql", headers=preflight_headers(EVIL))
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == "*"
    assert "access-control-allow-credentials" not in preflight.headers

    # Even a request carrying a cookie gets `*`, never its own origin reflected.
    response = await client.post("/graphql", json=QUERY, headers={"Origin": EVIL, "Cookie": "session=1"})
    assert response.headers["access-control-allow-origin"] == "*"
    assert "access-control-allow-credentials" not in response.headers
