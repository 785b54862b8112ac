"""Optional tracing with OpenTelemetry (`pip install '.[otel]'`, OTEL_EXPORTER_OTLP_ENDPOINT).

With the endpoint set, every HTTP request and WebSocket is a trace (OpenTelemetry's ASGI
middleware), with a span per GraphQL operation (`OperationSpan`) and one per SQL statement
(the asyncpg instrumentation: PostgreSQL; SQLite statements are not traced), exported over
OTLP/HTTP in batches. Without it this module is never imported, and neither is anything
of OpenTelemetry (tests/operations/test_tracing.py checks that).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware
from opentelemetry.instrumentation.asyncpg import AsyncPGInstrumentor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from starlette.middleware import Middleware
from strawberry.extensions import SchemaExtension

from app.settings import Settings

logger = logging.getLogger(__name__)
_configured = False


def configure(settings: Settings, *, exporter: Any = None) -> None:
    """Install the process's tracer provider (once) exporting to the settings' endpoint
    (or to `exporter`, for tests), and instrument asyncpg."""
    global _configured
    if _configured:
        return
    provider = TracerProvider(resource=Resource.create({"service.name": "group-sessions"}))
    endpoint = (settings.otel_exporter_otlp_endpoint or "").rstrip("/")
    provider.add_span_processor(BatchSpanProcessor(exporter or OTLPSpanExporter(endpoint=f"{endpoint}/v1/traces")))
    trace.set_tracer_provider(provider)
    AsyncPGInstrumentor().instrument()
    _configured = True
    logger.info("tracing: exporting to %s", endpoint)


def middleware() -> Middleware:
    """The ASGI middleware that makes each request (and WebSocket) a trace."""
    return Middleware(OpenTelemetryMiddleware, exclude_spans=["receive", "send"])


class OperationSpan(SchemaExtension):
    """A span around each GraphQL operation, named after it; no arguments or variables
    are recorded (they may hold passwords and tokens)."""

    def on_operation(self) -> Iterator[None]:
        context = self.execution_context
        tracer = trace.get_tracer("app.graphql")
        with tracer.start_as_current_span("graphql") as span:
            yield
            # Named once the document is parsed (the name may come from the document).
            name = context.operation_name if isinstance(context.operation_name, str) else None
            span.update_name(f"graphql {(name or 'anonymous')[:100]}")
            span.set_attribute("graphql.operation.name", (name or "")[:100])
            try:
                span.set_attribute("graphql.operation.type", context.operation_type.value)
            except Exception:  # noqa: BLE001 - a document that did not parse has no type
                pass
            errors = getattr(context.result, "errors", None) or context.pre_execution_errors or ()
            if errors:
                span.set_status(trace.Status(trace.StatusCode.ERROR))
