"""Tracing is optional: without OTEL_EXPORTER_OTLP_ENDPOINT nothing of OpenTelemetry is
imported; with it (and the `otel` extra installed), a request is a trace with a span for
its GraphQL operation."""

from __future__ import annotations

import subprocess
import sys

import httpx
import pytest

from tests.responses import without_cost
from tests.servers import ROOT

NOTHING_IMPORTED = """
import sys
from app.main import create_app
from app.settings import Settings
import app.__main__, app.check, app.web.serving
create_app(Settings(database_url="sqlite://:memory:"))
loaded = sorted(name for name in sys.modules if name.split(".")[0] == "opentelemetry")
assert loaded == [], loaded
print("no opentelemetry")
"""


def test_without_the_endpoint_nothing_of_opentelemetry_is_imported():
    environment = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)}  # no OTEL_* variable
    result = subprocess.run(
        [sys.executable, "-c", NOTHING_IMPORTED], cwd=ROOT, env=environment, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0 and "no opentelemetry" in result.stdout, result.stderr


async def test_with_the_endpoint_a_request_is_a_trace_with_its_operation(settings, world):
    pytest.importorskip("opentelemetry.sdk", reason="the otel extra is not installed")
    from opentelemetry import trace
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from app import tracing
    from app.main import create_app

    exporter = InMemorySpanExporter()
    traced = settings.with_(otel_exporter_otlp_endpoint="http://127.0.0.1:4318")
    tracing.configure(traced, exporter=exporter)  # once per process: create_app keeps it
    app = create_app(traced)
    assert app.http_endpoint is None and app.websocket_endpoint is None  # the whole stack sees it all
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as http:
            response = await http.post(
                "/graphql", json={"query": "query Traced { viewer { name } }"},
                headers={"Authorization": f"Bearer {world.mentor.token}"},
            )
            assert without_cost(response.json()) == {"data": {"viewer": {"name": world.mentor.user.name}}}
    trace.get_tracer_provider().force_flush()
    spans = exporter.get_finished_spans()
    operation = next(span for span in spans if span.name == "graphql Traced")
    request = next(span for span in spans if span.parent is None)
    assert operation.context.trace_id == request.context.trace_id
    assert operation.attributes["graphql.operation.type"] == "query"
    if settings.uses_postgres:  # the SQL of the request, in its trace (asyncpg instrumentation)
        sql = [span for span in spans if span.attributes.get("db.system") == "postgresql"]
        assert sql and all(span.context.trace_id == request.context.trace_id for span in sql)
