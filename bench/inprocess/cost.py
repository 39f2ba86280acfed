"""CPU time per request of a service's app, called as ASGI directly: no HTTP server, no client.

    python -m inprocess.cost PACKAGE ROUNDS REQUESTS PATH [PATH ...]

PATHs may hold N, replaced by 1..500 in turn (ids of seeded authors and books). Rounds alternate
the paths' order; the medians are printed as JSON. CPU time (not wall time) leaves out the
database's own work and, mostly, what other processes on the machine do, so it is the steadiest
figure a loaded machine gives; it also leaves out uvicorn's HTTP parsing, which costs the ceiling
the same.
"""

import asyncio
import importlib
import json
import statistics
import sys
import time
from typing import Any

AUTHORS = 500  # every id up to here is an author and a book in the seeded database
WARM_UP = 200


def scope(target: str) -> dict[str, Any]:
    path, _, query = target.partition("?")
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query.encode(),
        "root_path": "",
        "headers": [(b"host", b"localhost")],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
        "state": {},
    }


async def answer(app: Any, target: str) -> tuple[int, bytes]:
    """GET `target` from the ASGI app: its status and body."""
    status: list[int] = []
    body: list[bytes] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            status.append(message["status"])
        elif message["type"] == "http.response.body":
            body.append(message.get("body", b""))

    await app(scope(target), receive, send)
    return status[0], b"".join(body)


async def call(app: Any, target: str) -> None:
    status, _ = await answer(app, target)
    if status != 200:
        raise SystemExit(f"GET {target} answered {status}")


async def measure(package: str, rounds: int, requests: int, paths: list[str]) -> dict[str, float]:
    app = importlib.import_module(f"{package}.main").create_app()
    times: dict[str, list[float]] = {path: [] for path in paths}
    async with app.router.lifespan_context(app):
        for path in paths:
            for n in range(WARM_UP):
                await call(app, path.replace("N", str(1 + n)))
        for round_number in range(rounds):
            shift = round_number % len(paths)
            for path in paths[shift:] + paths[:shift]:
                started = time.process_time()
                for n in range(requests):
                    await call(app, path.replace("N", str(1 + (n * 7) % AUTHORS)))
                times[path].append((time.process_time() - started) / requests * 1e3)
    return {path: statistics.median(values) for path, values in times.items()}


def main() -> None:
    package, rounds, requests, *paths = sys.argv[1:]
    try:
        import uvloop  # the loop uvicorn picks when it is installed (uvicorn[standard])

        run: Any = uvloop.run
    except ImportError:
        run = asyncio.run
    print(json.dumps(run(measure(package, int(rounds), int(requests), paths))))


if __name__ == "__main__":
    main()
