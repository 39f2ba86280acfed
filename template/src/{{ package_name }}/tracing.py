"""OpenTelemetry traces of each request and its SQL, on when the standard OTEL_* variables ask.

Off by default. Setting OTEL_EXPORTER_OTLP_ENDPOINT (or ..._TRACES_ENDPOINT) turns it on; the
exporter and the SDK read the rest themselves (OTEL_SERVICE_NAME, OTEL_EXPORTER_OTLP_HEADERS, ...).
"""

import os

from fastapi import FastAPI
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from sqlalchemy.ext.asyncio import AsyncEngine

ENDPOINTS = ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
# The probes and the scrapes would drown the requests that matter.
UNTRACED_URLS = "/health/.*,/metrics"


def configured_tracer_provider() -> TracerProvider | None:
    """A provider exporting over OTLP when the environment names a collector, else None."""
    disabled = os.environ.get("OTEL_SDK_DISABLED", "").lower() == "true"
    if disabled or not any(os.environ.get(name) for name in ENDPOINTS):
        return None
    provider = TracerProvider()
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    return provider


def trace_requests(app: FastAPI, provider: TracerProvider | None) -> None:
    """A server span for every request (none when provider is None)."""
    app.state.tracer_provider = provider
    if provider is not None:
        FastAPIInstrumentor.instrument_app(
            app, tracer_provider=provider, excluded_urls=UNTRACED_URLS
        )


def trace_queries(app: FastAPI, engine: AsyncEngine) -> None:
    """A client span for every statement, under the request's span; called by the lifespan."""
    provider: TracerProvider | None = app.state.tracer_provider
    if provider is not None:
        # skip_dep_check: the instrumentation declares SQLAlchemy < 2.1 while it works with the
        # engine events 2.1 still has; tests/test_tracing.py shows the query spans arrive.
        SQLAlchemyInstrumentor().instrument(
            engine=engine.sync_engine, tracer_provider=provider, skip_dep_check=True
        )


def stop_tracing(app: FastAPI) -> None:
    """Send the spans still buffered; called at shutdown."""
    provider: TracerProvider | None = app.state.tracer_provider
    if provider is not None:
        SQLAlchemyInstrumentor().uninstrument()
        provider.shutdown()
