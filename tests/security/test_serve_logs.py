"""`python -m app serve` in production writes one JSON object per log line, with one
line per GraphQL operation carrying the request id."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.processes import free_port

ROOT = Path(__file__).resolve().parents[2]




def test_production_server_logs_json(database_url, tmp_path):
    port = free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("APP_", "PUBLIC_", "DATABASE_", "REDIS_", "SMTP_"))},
        "APP_ENV": "production",
        "PUBLIC_WEB_URL": "https://sessions.example.org",
        "DATABASE_URL": database_url,
        "OUTBOX_WORKER_IN_SERVE": "false",
    }
    log = (tmp_path / "server.log").open("w+")
    server = subprocess.Popen(
        [sys.executable, "-m", "app", "serve", "--port", str(port)], cwd=ROOT, env=env, stderr=log, stdout=log
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
                break
            except httpx.TransportError:
                assert server.poll() is None, (tmp_path / "server.log").read_text()
                assert time.monotonic() < deadline, "server did not start"
                time.sleep(0.1)
        response = httpx.post(
            f"http://127.0.0.1:{port}/graphql",
            json={"query": "query Who { viewer { name } }", "operationName": "Who"},
            headers={"X-Request-Id": "e2e-1"},
            timeout=10,
        )
        assert response.json() == {"data": {"viewer": None}}
    finally:
        server.terminate()
        server.wait(timeout=20)
    lines = [line for line in (tmp_path / "server.log").read_text().splitlines() if line.strip()]
    entries = [json.loads(line) for line in lines]  # every line is JSON
    [request] = [e for e in entries if e["logger"] == "app.requests"]
    assert request["request_id"] == "e2e-1"
    assert request["operation_name"] == "Who" and request["operation_type"] == "query"
    assert request["outcome"] == "ok" and request["error_count"] == 0
    assert isinstance(request["duration_ms"], float)
    assert any(e["logger"] == "uvicorn.access" for e in entries)  # uvicorn's lines are JSON too
