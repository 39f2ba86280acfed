"""CPU time per request of each layer of GET /books/{book_id}, its ASGI app called directly.

    python -m inprocess.layer_cost answers LAYER [LAYER ...]
    python -m inprocess.layer_cost measure ROUNDS REQUESTS LAYER [LAYER ...]

LAYERs are names in LAYERS below, configured from the environment as inprocess.layers says.
`answers` prints each layer's status and JSON for a few seeded books (bench.layers compares them
with the service's before measuring anything). `measure` sends each layer REQUESTS requests per
round, one at a time, the layers' order turning each round, and prints the median milliseconds
per request of CPU time: this process's (the layer's own code, down to the driver), with half its
rounds' interquartile range, and that of the database's backends (what PostgreSQL spends
answering). All as JSON, on the last line.
"""

import asyncio
import gc
import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from contextlib import AsyncExitStack
from typing import Any

import asyncpg

from . import core_parts, layers
from .cost import AUTHORS, WARM_UP, answer, call
from .cpu import cpu_seconds

# Books whose answers must agree: the first, the last, and some between (the seed has 5000).
CHECKED = [1, 2, 250, 500, 4999, 5000]
# In the order each adds to the one before; a ceiling's name is its driver's. The core_parts ones
# stand between the ceiling and "core" when SQLAlchemy's step is split.
LAYERS: dict[str, Callable[[], Any]] = {
    "constant": layers.constant_app,
    "asyncpg": lambda: layers.ceiling_app("asyncpg"),
    "psycopg": lambda: layers.ceiling_app("psycopg"),
    "pool": core_parts.pool_app,
    "driver_sql": core_parts.driver_sql_app,
    "prebuilt": core_parts.prebuilt_app,
    "core": layers.core_app,
    "orm": layers.orm_app,
    "fastapi": layers.fastapi_app,
    "service": layers.service_app,
}
BACKENDS = "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> $1"


async def started(stack: AsyncExitStack, names: list[str]) -> dict[str, Any]:
    """Each layer's app, its lifespan entered (engines and pools open) until the stack closes."""
    apps = {}
    for name in names:
        app = LAYERS[name]()
        await stack.enter_async_context(app.router.lifespan_context(app))
        apps[name] = app
    return apps


async def answers(names: list[str]) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    async with AsyncExitStack() as stack:
        for name, app in (await started(stack, names)).items():
            for book_id in CHECKED:
                status, body = await answer(app, f"/books/{book_id}")
                found.setdefault(name, {})[f"/books/{book_id}"] = [status, body.decode()]
    return found


async def round_of(app: Any, requests: int) -> float:
    """CPU seconds of this process for `requests` requests, each for one of the seeded books."""
    started_at = time.process_time()
    for n in range(requests):
        await call(app, f"/books/{1 + (n * 7) % AUTHORS}")
    return time.process_time() - started_at


def spread(values: list[float]) -> float:
    """Half the interquartile range: how far a typical round lies from the median."""
    if len(values) < 2:
        return 0.0
    first, _, third = statistics.quantiles(values, n=4)
    return (third - first) / 2


async def measure(names: list[str], rounds: int, requests: int) -> dict[str, dict[str, float]]:
    own: dict[str, list[float]] = {name: [] for name in names}
    database: dict[str, list[float]] = {name: [] for name in names}
    # A connection of its own to find the backends serving the layers' pools (not itself).
    monitor = await asyncpg.connect(os.environ["LAYERS_DSN"])
    try:
        async with AsyncExitStack() as stack:
            apps = await started(stack, names)
            for app in apps.values():
                # Imports, pools, statement caches; a brief run (the harness's) needs no more.
                for n in range(min(WARM_UP, requests)):
                    await answer(app, f"/books/{1 + n % AUTHORS}")
            for round_number in range(rounds):
                shift = round_number % len(names)
                for name in names[shift:] + names[:shift]:
                    rows = await monitor.fetch(BACKENDS, monitor.get_server_pid())
                    pids = [row[0] for row in rows]
                    # Each round starts without the garbage the last one left for the collector.
                    gc.collect()
                    before = cpu_seconds(pids)
                    own[name].append(await round_of(apps[name], requests) / requests * 1e3)
                    database[name].append((cpu_seconds(pids) - before) / requests * 1e3)
    finally:
        await monitor.close()
    return {
        "app": {name: statistics.median(values) for name, values in own.items()},
        "spread": {name: spread(values) for name, values in own.items()},
        "database": {name: statistics.median(values) for name, values in database.items()},
    }


def main() -> None:
    mode, *rest = sys.argv[1:]
    try:
        import uvloop  # the loop uvicorn picks when it is installed (uvicorn[standard])

        run: Any = uvloop.run
    except ImportError:
        run = asyncio.run
    if mode == "answers":
        print(json.dumps(run(answers(rest))))
    else:
        rounds, requests, *names = rest
        print(json.dumps(run(measure(names, int(rounds), int(requests)))))


if __name__ == "__main__":
    main()
