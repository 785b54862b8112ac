"""`python -m app serve` in production writes one JSON object per log line, with one
line per GraphQL operation carrying the request id."""

from __future__ import annotations

import json

import httpx

from tests.servers import app_process
from tests.responses import without_cost


async def test_production_server_logs_json(settings, tmp_path):
    production = settings.with_(app_env="production")  # its PUBLIC_WEB_URL is https already
    async with app_process("serve", production, tmp_path / "server.log") as server:
        async with httpx.AsyncClient(base_url=server.url, timeout=10) as http:
            response = await http.post(
                "/graphql",
                json={"query": "query Who { viewer { name } }", "operationName": "Who"},
                headers={"X-Request-Id": "e2e-1"},
            )
        assert without_cost(response.json()) == {"data": {"viewer": None}}
    lines = [line for line in (tmp_path / "server.log").read_text().splitlines() if line.strip()]
    entries = [json.loads(line) for line in lines]  # every line is JSON
    [request] = [e for e in entries if e["logger"] == "app.requests"]
    assert request["request_id"] == "e2e-1"
    assert request["operation_name"] == "Who" and request["operation_type"] == "query"
    assert request["outcome"] == "ok" and request["error_count"] == 0
    assert isinstance(request["duration_ms"], float)
    assert any(e["logger"] == "uvicorn.access" for e in entries)  # uvicorn's lines are JSON too
