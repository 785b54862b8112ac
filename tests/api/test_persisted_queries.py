"""Automatic Persisted Queries over the real endpoint, as Apollo's and urql's links speak it."""

from __future__ import annotations

import hashlib
import json

from app.api.persisted_queries import DocumentStore
from tests.responses import without_cost

VIEWER = "query Viewer { viewer { id name } }"


def _apq(document: str) -> dict:
    return {"persistedQuery": {"version": 1, "sha256Hash": hashlib.sha256(document.encode()).hexdigest()}}


async def test_unknown_hash_then_register_then_hash_only(api, world):
    headers = {"Authorization": f"Bearer {world.mentor.token}"}
    # 1. Hash only, never seen: the error shape Apollo's link falls back on.
    response = await api.http.post("/graphql", json={"extensions": _apq(VIEWER)}, headers=headers)
    assert response.status_code == 200
    body = response.json()
    assert body["errors"][0]["message"] == "PersistedQueryNotFound"
    assert body["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_FOUND"
    # 2. Document and hash: executed and remembered.
    response = await api.http.post("/graphql", json={"query": VIEWER, "extensions": _apq(VIEWER)}, headers=headers)
    assert without_cost(response.json()) == {"data": {"viewer": {"id": world.mentor.gid, "name": "Mario"}}}
    # 3. Hash only, over POST and over GET (Apollo's useGETForHashedQueries): same answer.
    response = await api.http.post("/graphql", json={"extensions": _apq(VIEWER)}, headers=headers)
    assert without_cost(response.json()) == {"data": {"viewer": {"id": world.mentor.gid, "name": "Mario"}}}
    response = await api.http.get(
        "/graphql", params={"extensions": json.dumps(_apq(VIEWER))}, headers={**headers, "Accept": "application/json"}
    )
    assert response.status_code == 200
    assert without_cost(response.json()) == {"data": {"viewer": {"id": world.mentor.gid, "name": "Mario"}}}


async def test_a_hash_that_does_not_match_the_document_is_refused_and_not_stored(api, world):
    headers = {"Authorization": f"Bearer {world.mentor.token}"}
    other = "query { viewer { name } }"
    response = await api.http.post("/graphql", json={"query": other, "extensions": _apq(VIEWER)}, headers=headers)
    body = response.json()
    assert body["errors"][0]["message"] == "provided sha does not match query"
    assert body.get("data") is None
    # The hash still names nothing: the wrong document was not stored under it.
    response = await api.http.post("/graphql", json={"extensions": _apq(VIEWER)}, headers=headers)
    assert response.json()["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_FOUND"


async def test_invalid_documents_are_not_stored(api, world):
    headers = {"Authorization": f"Bearer {world.mentor.token}"}
    bad = "query { noSuchField }"
    response = await api.http.post("/graphql", json={"query": bad, "extensions": _apq(bad)}, headers=headers)
    assert response.json()["errors"][0]["message"].startswith("Cannot query field")
    response = await api.http.post("/graphql", json={"extensions": _apq(bad)}, headers=headers)
    assert response.json()["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_FOUND"


async def test_malformed_persisted_query_extension_is_a_clear_error(api, world):
    headers = {"Authorization": f"Bearer {world.mentor.token}"}
    for persisted in ({"version": 2, "sha256Hash": "0" * 64}, {"version": 1, "sha256Hash": "short"}, "nope"):
        response = await api.http.post("/graphql", json={"extensions": {"persistedQuery": persisted}}, headers=headers)
        assert response.status_code == 200
        assert response.json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_apq_switched_off_answers_not_supported(settings):
    import httpx

    from app.main import create_app

    application = create_app(settings.with_(persisted_queries_max=0))
    async with application.router.lifespan_context(application):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=application), base_url="http://t") as http:
            response = await http.post("/graphql", json={"extensions": _apq(VIEWER)})
    assert response.json()["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_SUPPORTED"


def test_the_store_forgets_the_least_recently_used_document():
    store = DocumentStore(2)
    store.put("a", "A")
    store.put("b", "B")
    assert store.get("a") == "A"  # a is now the most recent
    store.put("c", "C")
    assert (store.get("a"), store.get("b"), store.get("c")) == ("A", None, "C")


def test_persisted_queries_max_setting():
    import pytest

    from app.settings import ConfigError, Settings

    assert Settings.from_env({}).persisted_queries_max == 1000
    assert Settings.from_env({"PERSISTED_QUERIES_MAX": "0"}).persisted_queries_max == 0
    with pytest.raises(ConfigError, match="PERSISTED_QUERIES_MAX"):
        Settings.from_env({"PERSISTED_QUERIES_MAX": "-1"})
