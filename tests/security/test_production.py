"""Production mode: no introspection, no suggestions, no IDE, JSON logs, and a refusal
to start with unsafe defaults."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from app.logging_config import JsonFormatter, ReadableFormatter, logging_config
from app.main import create_app
from app.settings import ConfigError, Settings
from tests.responses import without_cost

ROOT = Path(__file__).resolve().parents[2]

MISTAKES = [
    # (query, variables, a name the answer must not suggest)
    ("{ viewr { name } }", None, "viewer"),
    ("{ viewer { nme } }", None, "name"),
    ("{ dashboard { sessions(frist: 2) { totalCount } } }", None, "first"),
    ("{ dashboard { sessions(timeframe: FUTUR) { totalCount } } }", None, "FUTURE"),
    ("query($t: Timeframe!) { dashboard { sessions(timeframe: $t) { totalCount } } }", {"t": "PAS"}, "PAST"),
    ("query($t: Timefram!) { viewer { name } }", {"t": "PAST"}, "Timeframe"),
    (
        'mutation { cancelGroupSession(input: {id: "x", reasn: "r"}) { userErrors { code } } }',
        None,
        "reason",
    ),
]


@pytest.fixture
async def prod_api(settings):
    app = create_app(settings.with_(app_env="production"))
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as http:
            yield http


async def test_introspection_is_off_in_production_but_typename_works(prod_api, world):
    response = await prod_api.post("/graphql", json={"query": "{ __schema { types { name } } }"})
    body = response.json()
    assert body.get("data") is None
    assert body["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
    assert "introspection" in body["errors"][0]["message"]
    response = await prod_api.post("/graphql", json={"query": '{ __type(name: "User") { name } }'})
    assert "introspection" in response.json()["errors"][0]["message"]
    response = await prod_api.post(
        "/graphql", json={"query": "{ viewer { __typename name } }"},
        headers={"Authorization": f"Bearer {world.host.token}"},
    )
    assert without_cost(response.json()) == {"data": {"viewer": {"__typename": "User", "name": "Hannah"}}}


@pytest.mark.parametrize("query, variables, hidden", MISTAKES)
async def test_no_did_you_mean_in_production(prod_api, api, world, query, variables, hidden):
    headers = {"Authorization": f"Bearer {world.host.token}"}
    development = (await api.execute(query, variables, token=world.host.token))["errors"]
    assert any("Did you mean" in e["message"] for e in development), development  # the test means something
    response = await prod_api.post("/graphql", json={"query": query, "variables": variables}, headers=headers)
    errors = response.json()["errors"]
    assert errors and all(e["extensions"]["code"] for e in errors)
    for error in errors:
        assert "Did you mean" not in error["message"]
        assert f"'{hidden}'" not in error["message"]


async def test_no_graphiql_in_production(prod_api, api):
    html = {"Accept": "text/html"}
    assert "graphiql" in (await api.http.get("/graphql", headers=html)).text.lower()
    response = await prod_api.get("/graphql", headers=html)
    assert "graphiql" not in response.text.lower()


# --- start-up checks ------------------------------------------------------------------------

PROD = {
    "APP_ENV": "production",
    "PUBLIC_WEB_URL": "https://sessions.example.org",
    "DATABASE_URL": "postgres://app@db/app",
    "CALENDAR_FEED_SECRET": "k3y-for-calendar-links-0123456789abcdef",
}


def test_safe_production_settings_are_accepted():
    settings = Settings.from_env(PROD)
    assert settings.is_production and settings.redis_key_prefix == "gs:"


@pytest.mark.parametrize(
    "change, words",
    [
        ({"PUBLIC_WEB_URL": ""}, "PUBLIC_WEB_URL must be set"),
        ({"PUBLIC_WEB_URL": "http://sessions.example.org"}, "must be https"),
        ({"DATABASE_URL": ""}, "DATABASE_URL must be set"),
        ({"CORS_ORIGINS": "*"}, "CORS_ORIGINS may not be *"),
        ({"SMTP_USERNAME": "u", "SMTP_PASSWORD": "p"}, "in clear"),
        ({"REDIS_KEY_PREFIX": "a b"}, "REDIS_KEY_PREFIX"),
        ({"CALENDAR_FEED_SECRET": ""}, "CALENDAR_FEED_SECRET must be set in production"),
        ({"CALENDAR_FEED_SECRET": "short"}, "CALENDAR_FEED_SECRET must be at least 32 characters"),
        ({"MEETING_BASE_URL": "http://meet.example.org"}, "MEETING_BASE_URL must be an https URL"),
    ],
)
def test_unsafe_production_settings_are_refused_in_one_line(change, words):
    with pytest.raises(ConfigError) as refused:
        Settings.from_env({**PROD, **change})
    assert words in str(refused.value) and "\n" not in str(refused.value)


def test_the_same_settings_are_fine_in_development():
    settings = Settings.from_env({"PUBLIC_WEB_URL": "http://localhost:3000", "SMTP_USERNAME": "u", "SMTP_PASSWORD": "p"})
    assert not settings.is_production


def test_several_workers_need_postgres_and_redis():
    Settings().check_workers(1)
    with pytest.raises(ConfigError, match="PostgreSQL"):
        Settings().check_workers(2)
    with pytest.raises(ConfigError, match="REDIS_URL"):
        Settings(database_url="postgres://db/app").check_workers(2)
    Settings(database_url="postgres://db/app", redis_url="redis://r").check_workers(4)


def test_serve_refuses_to_start_with_one_clear_line(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("APP_", "PUBLIC_", "DATABASE_", "REDIS_"))}
    result = subprocess.run(
        [sys.executable, "-m", "app", "serve", "--port", "0"],
        env={**env, "APP_ENV": "production"}, cwd=ROOT, capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "configuration error: PUBLIC_WEB_URL must be set in production (the share links are built from it)"
    ]


# --- logs -----------------------------------------------------------------------------------


def test_logs_are_json_in_production_and_readable_in_development():
    production = logging_config(Settings(app_env="production"))
    development = logging_config(Settings())
    assert production["handlers"]["default"]["formatter"] == "json"
    assert development["handlers"]["default"]["formatter"] == "readable"
    record = logging.makeLogRecord(
        {"name": "app.requests", "levelname": "INFO", "msg": "query Q ok", "request_id": "r1", "duration_ms": 1.5}
    )
    line = JsonFormatter().format(record)
    assert "\n" not in line
    assert json.loads(line) | {"time": None} == {
        "time": None, "level": "INFO", "logger": "app.requests", "message": "query Q ok",
        "request_id": "r1", "duration_ms": 1.5,
    }
    assert "[r1] query Q ok" in ReadableFormatter().format(record)
