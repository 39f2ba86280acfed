"""Prometheus metrics at /metrics: requests by route and status, for all workers together.

With several uvicorn workers, PROMETHEUS_MULTIPROC_DIR names an empty folder they share (the image
sets it): each worker writes its figures there and a scrape, whichever worker answers it, sums them.
Without it, /metrics shows the one process that answers.
"""

import os
import re
from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Gauge,
    generate_latest,
    multiprocess,
)
from prometheus_client.registry import Collector
from prometheus_fastapi_instrumentator import Instrumentator
from prometheus_fastapi_instrumentator import metrics as request_metrics
from prometheus_fastapi_instrumentator.metrics import Info

MULTIPROCESS_DIR = "PROMETHEUS_MULTIPROC_DIR"
# From a fast key lookup to a request that waits on the database's statement timeout.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
LIVE_GAUGE_FILE = re.compile(r"gauge_live\w*_(\d+)\.db")
# prometheus_client's multiprocess module has no type annotations; these are its two calls here.
collect_all_workers = multiprocess.MultiProcessCollector
mark_process_dead = multiprocess.mark_process_dead


def multiprocess_dir() -> Path | None:
    folder = os.environ.get(MULTIPROCESS_DIR)
    return Path(folder) if folder else None


class ProcessGauges:
    """A collector's gauges written to the shared folder, one series per worker (label `pid`).

    A worker's objects (its connection pool) can only be read inside it: each worker records them
    after every request it serves and before every scrape it answers.
    """

    def __init__(self, collector: Collector) -> None:
        self.collector = collector
        self.gauges: dict[str, Gauge] = {}

    def record(self) -> None:
        for family in self.collector.collect():
            if not family.samples:
                continue  # its label names are not known yet
            if family.name not in self.gauges:
                labels = sorted(family.samples[0].labels)
                # liveall: one series per pid, removed when that worker stops (forget_worker).
                self.gauges[family.name] = Gauge(
                    family.name,
                    family.documentation,
                    labels,
                    registry=None,
                    multiprocess_mode="liveall",
                )
            gauge = self.gauges[family.name]
            for sample in family.samples:
                (gauge.labels(**sample.labels) if sample.labels else gauge).set(sample.value)


def instrument_requests(app: FastAPI) -> None:
    """Count and time every request by route template, method and status; serve /metrics."""
    registry = CollectorRegistry()
    process_gauges: list[ProcessGauges] = []
    app.state.metrics_registry = registry
    app.state.process_gauges = process_gauges
    if (folder := multiprocess_dir()) is not None:
        folder.mkdir(parents=True, exist_ok=True)
        forget_stopped_workers(folder)

    def record_process_gauges(_info: Info | None = None) -> None:
        for gauges in process_gauges:
            gauges.record()

    instrumentator = Instrumentator(
        should_group_status_codes=False, excluded_handlers=["^/metrics$"], registry=registry
    )
    instrumentator.add(
        request_metrics.requests(registry=registry),
        request_metrics.latency(buckets=LATENCY_BUCKETS, registry=registry),
        record_process_gauges,
    )
    instrumentator.instrument(app)

    async def metrics() -> Response:
        scraped = registry
        if multiprocess_dir() is not None:
            record_process_gauges()
            scraped = CollectorRegistry()
            collect_all_workers(scraped)  # type: ignore[no-untyped-call]
        return Response(generate_latest(scraped), media_type=CONTENT_TYPE_LATEST)

    app.add_api_route("/metrics", metrics, name="metrics", include_in_schema=False)


def add_process_collector(app: FastAPI, collector: Collector) -> None:
    """Serve a collector's gauges at /metrics: per worker with several, else read at each scrape."""
    if multiprocess_dir() is not None:
        app.state.process_gauges.append(ProcessGauges(collector))
    else:
        app.state.metrics_registry.register(collector)


def forget_worker() -> None:
    """Drop this worker's gauges from the sums; its counts stay, so totals never go back."""
    if (folder := multiprocess_dir()) is not None:
        mark_process_dead(os.getpid(), str(folder))  # type: ignore[no-untyped-call]


def forget_stopped_workers(folder: Path) -> None:
    """The gauges of a worker that died without forget_worker (killed, crashed)."""
    for path in folder.glob("gauge_live*.db"):
        match = LIVE_GAUGE_FILE.fullmatch(path.name)
        if match is not None and not is_running(int(match[1])):
            mark_process_dead(int(match[1]), str(folder))  # type: ignore[no-untyped-call]


def is_running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, but another user's
        return True
    return True
