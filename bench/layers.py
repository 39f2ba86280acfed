"""Where GET /books/{id}'s CPU goes, layer by layer, from the fixed ceiling up to the service.

    uv run python -m bench.layers [--driver asyncpg|psycopg] [--data QUESTION=ANSWER]
                                  [--project PATH] [--rounds 12] [--requests 300]
                                  [--seconds 5] [--http-rounds 3] [--connections 32]
                                  [--warmup 1] [--split-sqlalchemy] [--served]

Renders (or takes) a PostgreSQL project without PgBouncer, builds and seeds the benchmark's
database (bench.run), and answers a book with its author through each layer of the stack, every
one an ASGI app in the project's virtual environment (bench/inprocess/layers.py): Starlette with a
constant body; (a) the ceiling, Starlette + an asyncpg pool's fetchrow (bench/ceiling/), and for
psycopg also (a') psycopg's own pool; (b) Starlette + SQLAlchemy Core on an AUTOCOMMIT
connection; (c) the ORM's AsyncSession.get with joinedload; (d) a FastAPI route with a session
dependency and the project's pydantic response model; (e) the generated service's create_app().
It refuses to measure unless every layer answers the service's JSON.

Each layer's cost is CPU time per request, the figure a shared machine keeps steady: the apps are
called in-process (no HTTP), REQUESTS requests a round, the layers alternating, medians of ROUNDS;
the database's backends are timed alongside. "±" is half the interquartile range of a layer's
rounds: a step smaller than its layers' spreads is noise. The HTTP server is the difference
between the CPU uvicorn (the image's command) spends per request that wrk completes against the
constant app and what the same app costs in-process. The table gives each layer's cost, the step
from the layer before (what that layer adds), and the share of the ceiling's throughput a
CPU-bound worker could keep with that layer: (HTTP + ceiling) / (HTTP + layer).
--split-sqlalchemy puts three parts of SQLAlchemy Core's step between the ceiling and (b)
(bench/inprocess/core_parts.py). --served also measures the ceiling and the service under uvicorn
and wrk, as `python -m bench` serves them: their CPU per request beside what HTTP + in-process
predicts (a gap there is what concurrency adds: pool waits, more connections). Needs wrk.
"""

import argparse
import json
import shutil
import statistics
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from harness.project import Project, hand_over

from . import wrk
from .inprocess.cpu import cpu_seconds
from .run import (
    CEILING_REQUIREMENTS,
    bench_database,
    bench_workspace,
    prepare,
    run_checked,
    versions,
)
from .servers import Server

CODE = Path(__file__).resolve().parent
# Each layer, and what it adds to the one before it in the table.
LABELS = {
    "constant": ("Starlette, a constant body", "routing and a response"),
    "asyncpg": ("(a) ceiling: Starlette + asyncpg", "asyncpg pool fetchrow, row to JSON"),
    "psycopg": ("(a') Starlette + psycopg pool", "psycopg in asyncpg's place"),
    "pool": ("(b1) SQLAlchemy pool, driver's call", "SQLAlchemy's pool and AsyncConnection"),
    "driver_sql": ("(b2) + exec_driver_sql", "execute: cursor adaption, result rows"),
    "prebuilt": ("(b3) + a select built once", "compiled cache, typed result"),
    "core": ("(b) Starlette + SQLAlchemy Core", "SQLAlchemy Core: engine, pool, result"),
    "orm": ("(c) Starlette + ORM session.get", "the ORM: session, identity map, loading"),
    "fastapi": ("(d) FastAPI + ORM + pydantic", "FastAPI: dependencies, validation, pydantic"),
    "service": ("(e) the service, create_app()", "the service: middleware, metrics, ids"),
}
# With SQLAlchemy's step split (--split-sqlalchemy), the parts before "core" say the rest.
SPLIT = ["pool", "driver_sql", "prebuilt"]
CORE_AFTER_SPLIT = "the select built per request"


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.layers", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--driver", choices=["asyncpg", "psycopg"], help="default asyncpg")
    parser.add_argument("--data", action="append", default=[], metavar="QUESTION=ANSWER")
    parser.add_argument("--project", type=Path, help="a rendered and installed project")
    parser.add_argument("--rounds", type=int, default=12, help="in-process rounds per layer")
    parser.add_argument("--requests", type=int, default=300, help="per layer and round")
    parser.add_argument("--seconds", type=int, default=5, help="length of each wrk round")
    parser.add_argument("--http-rounds", type=int, default=3, help="wrk rounds for the server")
    parser.add_argument("--connections", type=int, default=32, help="wrk's open connections")
    parser.add_argument(
        "--warmup", type=int, default=1, help="seconds of wrk before a server's rounds (0: none)"
    )
    parser.add_argument(
        "--served",
        action="store_true",
        help="also the ceiling's and the service's CPU per request under uvicorn and wrk",
    )
    parser.add_argument(
        "--split-sqlalchemy",
        action="store_true",
        help="split SQLAlchemy Core's step: its pool, its execute, a select built once",
    )
    args = parser.parse_args()
    if args.project and (args.data or args.driver):
        parser.error("--project was rendered with its own answers: no --data/--driver")
    args.pgbouncer = False  # bench.run.prepare asks; the layers are measured without PgBouncer
    return args


def layers_of(project: Project, *, split: bool) -> list[str]:
    answers = project.answers
    # Behind PgBouncer the service's engine is set up for PgBouncer, the layers' are not.
    if not answers["is_postgres"] or answers.get("connection_pooler") == "pgbouncer":
        raise SystemExit(
            f"{project.case.id}: the layers are measured against the asyncpg ceiling, so on "
            "PostgreSQL without PgBouncer (db_driver asyncpg or psycopg)"
        )
    ceilings = list(dict.fromkeys(["asyncpg", answers["db_driver"]]))
    return ["constant", *ceilings, *(SPLIT if split else []), "core", "orm", "fastapi", "service"]


def install_ceilings(project: Project, ceilings: list[str]) -> str:
    """The ceilings' drivers beside the project's own; the versions of what the layers run."""
    # The project has its own driver; psycopg's ceiling also needs psycopg-pool.
    missing = [CEILING_REQUIREMENTS[d] for d in ceilings]
    missing = [name for name in missing if name != project.answers["db_driver"]]
    if missing:
        run_checked(project, "uv", "pip", "install", "--quiet", "--python", ".venv", *missing)
    # The response model is a layer of its own here: pydantic's version too.
    pydantic = "import pydantic; print(pydantic.VERSION)"
    found = run_checked(project, ".venv/bin/python", "-c", pydantic).split()[-1]
    return f"{versions(project, ceilings)}, pydantic {found}"


def disagreements(answers: dict[str, dict[str, Any]]) -> list[str]:
    """How each layer's answers differ from the service's (nothing if alike): status and JSON."""
    service = answers["service"]
    differences = []
    for layer, replies in answers.items():
        for path, (status, body) in replies.items():
            expected_status, expected_body = service[path]
            if status != expected_status or json.loads(body) != json.loads(expected_body):
                differences.append(f"{layer} GET {path}: {status} {body} <> {expected_body}")
    return differences


@contextmanager
def layer_code(base: Path) -> Iterator[Path]:
    """bench/inprocess and bench/ceiling where the project's account can import them."""
    folder = Path(tempfile.mkdtemp(prefix="layers-", dir=base / "bench"))
    try:
        for package in ("inprocess", "ceiling"):
            shutil.copytree(CODE / package, folder / package)
        hand_over(folder)
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def served_cost(
    args: argparse.Namespace, project: Project, name: str, app: str, env: dict[str, str]
) -> float:
    """uvicorn's CPU milliseconds per request that wrk completes against `app` (its process and
    any workers), the median of --http-rounds; it must answer book 1 as the service does."""
    costs = []
    with (
        tempfile.TemporaryDirectory() as folder,
        Server(name, project, app, env={**env, "WEB_CONCURRENCY": "1"}) as server,
    ):
        reply = httpx.get(f"{server.url}/books/1")
        if reply.status_code != 200 or reply.json() != json.loads(env["LAYERS_BOOK"]):
            raise SystemExit(f"{name} under uvicorn answered {reply.status_code} {reply.text}")
        script = Path(folder, "get_one.lua")
        script.write_text(wrk.SCRIPTS["get one"])
        if args.warmup:
            wrk.run(server.url, script, seconds=args.warmup, connections=args.connections)
        assert server.process is not None
        for _ in range(args.http_rounds):
            before = cpu_seconds([server.process.pid], with_children=True)
            result = wrk.run(server.url, script, seconds=args.seconds, connections=args.connections)
            spent = cpu_seconds([server.process.pid], with_children=True) - before
            if result.errors:
                raise SystemExit(f"{name} under uvicorn failed requests: {result.error_kinds}")
            costs.append(spent / result.requests * 1e3)
    return statistics.median(costs)


def served_ends(
    args: argparse.Namespace, project: Project, env: dict[str, str], dsn: str
) -> dict[str, float]:
    """The ceiling and the service under uvicorn, as `python -m bench` serves them."""
    answers = project.answers
    options = {"dsn": dsn, "min_size": 1, "unprepared": False}
    options["max_size"] = answers["pool_size"] + answers["max_overflow"]
    ceiling_env = {**env, "CEILING_DRIVER": "asyncpg", "CEILING_OPTIONS": json.dumps(options)}
    service_app = f"{project.package}.main:create_app"
    return {
        "asyncpg": served_cost(args, project, "ceiling", "ceiling.app:create_app", ceiling_env),
        "service": served_cost(args, project, "service", service_app, env),
    }


def table(
    label: str,
    measured: dict[str, dict[str, float]],
    http: float,
    served: dict[str, float],
    args: argparse.Namespace,
) -> str:
    app, database, spread = measured["app"], measured["database"], measured["spread"]
    server = http - app["constant"]
    http_label = "HTTP server: uvicorn, image CMD"
    width = 2 + max(len(http_label), *(len(LABELS[layer][0]) for layer in app))
    lines = [
        f"GET /books/{{id}}, {label}: CPU ms per request, medians of {args.rounds} in-process"
        f" rounds of {args.requests}; HTTP from {args.http_rounds} wrk rounds of {args.seconds} s,"
        f" {args.connections} connections",
        f"{'layer':<{width}}{'CPU ms':>8}{'±':>7}{'step':>8}{'+HTTP':>8}{'of ceiling':>11}"
        f"{'db ms':>7}  the step is",
        f"{http_label:<{width}}{server:>8.3f}{'':>41}  uvicorn's"
        f" {http:.3f} under wrk less the constant app's own",
    ]
    before = None
    ceiling = server + app["asyncpg"]
    for layer, cost in app.items():
        name, adds = LABELS[layer]
        if layer == "core" and args.split_sqlalchemy:
            adds = CORE_AFTER_SPLIT
        step = "" if before is None else f"{cost - before:+8.3f}"
        share = "" if layer == "constant" else f"{ceiling / (server + cost):11.2f}"
        lines.append(
            f"{name:<{width}}{cost:>8.3f}{spread[layer]:>7.3f}{step:>8}{server + cost:>8.3f}"
            f"{share:>11}{database[layer]:>7.3f}  {adds}"
        )
        before = cost
    for layer, cost in served.items():
        name = f"served: {LABELS[layer][0].split(' ', 1)[0]} under uvicorn"
        share = f"{served['asyncpg'] / cost:11.2f}"
        lines.append(
            f"{name:<{width}}{cost:>8.3f}{'':>15}{cost:>8.3f}{share}{'':>7}"
            f"  measured; HTTP + {layer} in-process {server + app[layer]:.3f}"
        )
    return "\n".join(lines)


def main() -> int:
    args = arguments()
    wrk.find_wrk()
    base = bench_workspace()
    project = prepare(args, args.driver, base)
    layers = layers_of(project, split=args.split_sqlalchemy)
    ceilings = [layer for layer in layers if layer in ("asyncpg", "psycopg")]
    found = install_ceilings(project, ceilings)
    print(f"{project.case.id}: {found}", flush=True)
    with layer_code(base) as code, bench_database(project) as database:
        assert database.server is not None
        env = {
            "PYTHONPATH": str(code),
            "DATABASE__URL": database.url,
            "LAYERS_DSN": database.server.url("postgresql", database.name),
            "LAYERS_PACKAGE": project.package,
        }
        runner = [".venv/bin/python", "-m", "inprocess.layer_cost"]
        data = [layer for layer in layers if layer != "constant"]
        output = run_checked(project, *runner, "answers", *data, env=env)
        answers = json.loads(output.splitlines()[-1])
        differences = disagreements(answers)
        if differences:
            raise SystemExit("Layers answer unlike the service:\n" + "\n".join(differences))
        checked = ", ".join(answers["service"])
        print(f"every layer answers {checked} as the service does", flush=True)
        env["LAYERS_BOOK"] = answers["service"]["/books/1"][1]
        command = [*runner, "measure", str(args.rounds), str(args.requests), *layers]
        measured = json.loads(run_checked(project, *command, env=env).splitlines()[-1])
        http = served_cost(args, project, "constant", "inprocess.layers:constant_app", env)
        served = served_ends(args, project, env, env["LAYERS_DSN"]) if args.served else {}
    print(table(project.case.id, measured, http, served, args))
    print(f"versions: {found}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
