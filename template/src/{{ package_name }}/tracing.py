"""OpenTelemetry traces of each request and its SQL, on when the standard OTEL_* variables ask.

Off by default. Setting OTEL_EXPORTER_OTLP_ENDPOINT (or ..._TRACES_ENDPOINT) turns it on; the
exporter and the SDK read the rest themselves (OTEL_SERVICE_NAME, OTEL_EXPORTER_OTLP_HEADERS, ...).
The SDK, the exporter and the instrumentations are imported only once tracing is on: they are a
tenth of what starting the service imports, paid by every worker and migration run otherwise.
"""

import os
from typing import TYPE_CHECKING

from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider

ENDPOINTS = ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
# The probes and the scrapes would drown the requests that matter.
UNTRACED_URLS = "/health/.*,/metrics"


def configured_tracer_provider() -> "TracerProvider | None":
    """A provider exporting over OTLP when the environment names a collector, else None."""
    disabled = os.environ.get("OTEL_SDK_DISABLED", "").lower() == "true"
    if disabled or not any(os.environ.get(name) for name in ENDPOINTS):
        return None
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    provider = TracerProvider()
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    return provider


def trace_requests(app: FastAPI, provider: "TracerProvider | None") -> None:
    """A server span for every request (none when provider is None)."""
    app.state.tracer_provider = provider
    if provider is not None:
        from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

        FastAPIInstrumentor.instrument_app(
            app, tracer_provider=provider, excluded_urls=UNTRACED_URLS
        )


def trace_queries(app: FastAPI, engine: AsyncEngine) -> None:
    """A client span for every statement, under the request's span; called by the lifespan."""
    provider: TracerProvider | None = app.state.tracer_provider
    if provider is not None:
        from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor

        # skip_dep_check: the instrumentation declares SQLAlchemy < 2.1 while it works with the
        # engine events 2.1 still has; tests/test_tracing.py shows the query spans arrive.
        SQLAlchemyInstrumentor().instrument(
            engine=engine.sync_engine, tracer_provider=provider, skip_dep_check=True
        )


def stop_tracing(app: FastAPI) -> None:
    """Send the spans still buffered; called at shutdown."""
    provider: TracerProvider | None = app.state.tracer_provider
    if provider is not None:
        from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor

        SQLAlchemyInstrumentor().uninstrument()
        provider.shutdown()
