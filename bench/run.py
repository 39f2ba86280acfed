"""Benchmark generated services against raw-driver ceilings and print a table per scenario.

    uv run python -m bench [--driver asyncpg --driver psycopg] [--workers 1] [--pgbouncer]
                           [--seconds 8 --rounds 3 --connections 32 --warmup 1]
                           [--only SCENARIO]
                           [--data QUESTION=ANSWER] [--project PATH] [--profile FOLDER]

For each driver it renders the template from this working tree (default answers, plus --data),
installs the project, builds a database (PostgreSQL: TEMPLATE_POSTGRES_URL's server; MySQL:
TEMPLATE_MYSQL_URL's; SQLite: a file in the project), migrates it with the project's Alembic and
seeds 500 authors and 5000 books.
It then starts the service and its ceilings with the image's uvicorn command and the project's
virtual environment, refuses to measure unless every ceiling answers the service's JSON, and
drives them with wrk in alternating rounds: get one book, create an author, list 50 books.

The ceiling is fixed: Starlette + an asyncpg pool (bench/ceiling/), the same statements, the same
JSON. A psycopg service also gets a ceiling on psycopg's own pool; an SQLite service is measured
against an aiosqlite ceiling only (an asyncpg ceiling would read another database), and a MySQL
service against Starlette on its own driver's pool (aiomysql or asyncmy). Ratios are to the first
ceiling. With --pgbouncer the projects are rendered for PgBouncer and every server
reaches PostgreSQL through a real PgBouncer in transaction mode, started here; the same answers
rendered without PgBouncer run beside them as "service direct", and the table says how much of
its direct throughput the service keeps behind PgBouncer. Only ratios from one run mean something
on a shared machine; beside req/s, each server's CPU time per request (its processes' CPU over
the requests it answered) gives a ratio that other load on the machine disturbs less. Exits 1 if
any request failed. Needs wrk.
"""

import argparse
import json
import math
import shutil
import sqlite3
import statistics
import sys
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import psycopg
import yaml

from harness.matrix import Case, answers_of, choice_questions, copy_template, pretend
from harness.mysql import MySQLServer
from harness.pgbouncer import start_pgbouncer
from harness.postgres import PostgresServer
from harness.project import (
    Project,
    clean_environment,
    database_name,
    describe,
    hand_over,
    render,
    workspace,
)

from . import wrk
from .servers import Server, disagreements, profile

CEILING_PACKAGE = Path(__file__).resolve().parent / "ceiling"
# What each ceiling driver needs beside the project's own dependencies.
CEILING_REQUIREMENTS = {
    "asyncpg": "asyncpg",
    "psycopg": "psycopg-pool",
    "aiosqlite": "aiosqlite",
    "aiomysql": "aiomysql",
    "asyncmy": "asyncmy",
}
VERSIONS_OF = ["fastapi", "starlette", "sqlalchemy", "uvicorn", "uvloop", "httptools"]
DIRECT = "service direct"  # beside a PgBouncer project: the same answers without PgBouncer
SQLITE_POOL = 5  # SQLAlchemy's pool size for an aiosqlite file database
MYSQL_ROWS_PER_INSERT = 1000  # the seed goes through the client's command line, which has a limit


@dataclass
class Subject:
    """One rendered service with its ceilings, ready to be started."""

    label: str
    project: Project
    servers: list[Server]
    versions: str


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--driver",
        action="append",
        choices=choice_questions()["db_driver"],
        help="a db_driver to render and measure (repeatable; default asyncpg)",
    )
    parser.add_argument(
        "--data", action="append", default=[], metavar="QUESTION=ANSWER", help="a Copier answer"
    )
    parser.add_argument(
        "--project", type=Path, help="measure this rendered and installed project instead"
    )
    parser.add_argument("--workers", type=int, default=1, help="uvicorn workers of every server")
    parser.add_argument(
        "--pgbouncer", action="store_true", help="render for PgBouncer and run behind a real one"
    )
    parser.add_argument("--seconds", type=int, default=8, help="length of each wrk round")
    parser.add_argument("--connections", type=int, default=32, help="wrk's open connections")
    parser.add_argument("--rounds", type=int, default=3, help="rounds per scenario and server")
    parser.add_argument(
        "--warmup",
        type=int,
        default=1,
        help="seconds of wrk against each server before a scenario's rounds (0: none)",
    )
    parser.add_argument("--only", choices=list(wrk.SCRIPTS), action="append", help="a scenario")
    parser.add_argument(
        "--profile",
        type=Path,
        metavar="FOLDER",
        help="record each service's first round of each scenario with py-spy into this folder",
    )
    args = parser.parse_args()
    if args.project and (args.data or args.driver or args.pgbouncer):
        parser.error("--project was rendered with its own answers: no --data/--driver/--pgbouncer")
    return args


def bench_workspace() -> Path:
    """Where the benchmarks render projects (in bench/ beneath it), reachable by their account."""
    base = workspace(Path(tempfile.gettempdir()) / "template-bench")
    (base / "bench").mkdir(parents=True, exist_ok=True)
    return base


def prepare(
    args: argparse.Namespace, driver: str | None, base: Path, *, pgbouncer: bool | None = None
) -> Project:
    """Render and install one driver's project, or take --project; answers computed by Copier.

    Rendered for PgBouncer if `pgbouncer` says so, or (when it is None) if --pgbouncer does.
    """
    template = copy_template(Path(tempfile.mkdtemp(prefix="bench-template-")))
    try:
        if args.project:
            recorded = yaml.safe_load((args.project / ".copier-answers.yml").read_text())
            answers = {k: v for k, v in recorded.items() if not k.startswith("_")}
            # Named after its folder: the harness names a case's folder after the case.
            case = Case((("project", args.project.resolve().name),), None)
            env = clean_environment(base)
            project = Project(case, args.project.resolve(), env, timings_dir=None)
            project.answers = answers_of(pretend(template, answers))
            return project
        answers = dict(item.split("=", 1) for item in args.data)
        answers["db_driver"] = driver or "asyncpg"
        if args.pgbouncer if pgbouncer is None else pgbouncer:
            answers["connection_pooler"] = "pgbouncer"
        case = Case(tuple(answers.items()), None)
        destination = base / "bench" / case.id
        env = clean_environment(base)
        project = render(case, template, destination, env, timings_dir=None)
        project.install("--quiet", "--no-dev")
        return project
    finally:
        shutil.rmtree(template, ignore_errors=True)


def ceiling_drivers(answers: dict[str, Any]) -> list[str]:
    # SQLite and MySQL: the asyncpg ceiling would read another database.
    if not answers["is_postgres"]:
        return [answers["db_driver"]]
    return list(dict.fromkeys(["asyncpg", answers["db_driver"]]))


def run_checked(project: Project, *args: str, env: dict[str, str] | None = None) -> str:
    result = project.run(*args, phase="bench", env=env)
    if result.returncode != 0:
        raise SystemExit(describe(result))
    return result.stdout


def versions(project: Project, drivers: list[str]) -> str:
    names = [*VERSIONS_OF, *drivers, *(CEILING_REQUIREMENTS[d] for d in drivers)]
    script = (
        "import importlib.metadata as m, json, sys\n"
        f"names = {sorted(set(names))!r}\n"
        "found = {}\n"
        "for n in names:\n"
        "    try: found[n] = m.version(n)\n"
        "    except m.PackageNotFoundError: pass\n"
        "found['python'] = sys.version.split()[0]\n"
        "print(json.dumps(found))\n"
    )
    found = json.loads(run_checked(project, ".venv/bin/python", "-c", script).splitlines()[-1])
    return ", ".join(f"{name} {version}" for name, version in found.items())


DatabaseServer = PostgresServer | MySQLServer


def seed_mysql(server: MySQLServer, database: str, table: str, rows: list[tuple[Any, ...]]) -> None:
    """Rows in multi-row INSERTs through the server's client (every value here is plain text)."""
    columns = {"authors": "name", "books": "title, isbn, author_id"}[table]
    for start in range(0, len(rows), MYSQL_ROWS_PER_INSERT):
        chunk = rows[start : start + MYSQL_ROWS_PER_INSERT]
        values = ", ".join("(" + ", ".join(repr(value) for value in row) + ")" for row in chunk)
        server.execute(f"INSERT INTO `{database}`.{table} ({columns}) VALUES {values}")


def seed(project: Project, server: DatabaseServer | None, database: str) -> None:
    """500 authors and 5000 books, ids from 1 (the database is new)."""
    authors = [(f"author {n}",) for n in range(1, wrk.AUTHORS + 1)]
    books = [(f"book {n}", f"{n:013d}", 1 + n % wrk.AUTHORS) for n in range(1, wrk.BOOKS + 1)]
    if isinstance(server, MySQLServer):
        seed_mysql(server, database, "authors", authors)
        seed_mysql(server, database, "books", books)
        return
    if server is None:
        with sqlite3.connect(database) as connection:
            connection.executemany("INSERT INTO authors (name) VALUES (?)", authors)
            connection.executemany(
                "INSERT INTO books (title, isbn, author_id) VALUES (?, ?, ?)", books
            )
        return
    with (
        psycopg.connect(server.url("postgresql", database)) as connection,
        connection.cursor() as cursor,
    ):
        cursor.executemany("INSERT INTO authors (name) VALUES (%s)", authors)
        cursor.executemany("INSERT INTO books (title, isbn, author_id) VALUES (%s, %s, %s)", books)


@dataclass
class BenchDatabase:
    url: str  # in the project's URL scheme, straight to the server
    server: DatabaseServer | None  # None for SQLite
    name: str  # the database's name, or the SQLite file's path


@contextmanager
def bench_database(project: Project) -> Iterator[BenchDatabase]:
    """A new database for the project, migrated by its Alembic and seeded; dropped at the end."""
    server: DatabaseServer | None = None
    if project.answers["is_postgres"]:
        server = PostgresServer().check()
    elif project.answers["is_mysql"]:
        server = MySQLServer().check()
    url = project.database_url("bench", server)
    name = database_name(project.case, "bench") if server else url.split(":///", 1)[1]
    if server is None:
        Path(name).unlink(missing_ok=True)
    try:
        migrate = [".venv/bin/python", "-m", "alembic", "upgrade", "head"]
        run_checked(project, *migrate, env={"DATABASE__URL": url})
        seed(project, server, name)
        yield BenchDatabase(url, server, name)
    finally:
        if server is not None:
            server.drop(name)
        else:
            Path(name).unlink(missing_ok=True)


@contextmanager
def subject(
    args: argparse.Namespace, project: Project, base: Path, direct: Project | None = None
) -> Iterator[Subject]:
    """The project's database built and seeded, PgBouncer started if it is rendered for one, and
    its servers (ceilings first, then the service) described; everything removed at the end.

    `direct`, the same answers rendered without PgBouncer, runs beside a PgBouncer project as
    "service direct" on the same database: what the service keeps behind PgBouncer."""
    answers = project.answers
    check_connection_budget(args, answers, direct)
    drivers = ceiling_drivers(answers)
    missing = [CEILING_REQUIREMENTS[d] for d in drivers]
    missing = [name for name in missing if name != answers["db_driver"]]
    if missing:
        run_checked(project, "uv", "pip", "install", "--quiet", "--python", ".venv", *missing)
    ceiling_root = Path(tempfile.mkdtemp(prefix="ceiling-", dir=base / "bench"))
    shutil.copytree(CEILING_PACKAGE, ceiling_root / "ceiling")
    hand_over(ceiling_root)
    with ExitStack() as stack:
        stack.callback(shutil.rmtree, ceiling_root, ignore_errors=True)
        built = stack.enter_context(bench_database(project))
        server, database, direct_url = built.server, built.name, built.url
        service_url, port = direct_url, None
        if answers.get("connection_pooler") == "pgbouncer" and server is not None:
            folder = ceiling_root / "pgbouncer"
            bouncer, port = start_pgbouncer(folder, server, answers["pgbouncer_pool_size"])
            stack.callback(bouncer.wait, timeout=30)
            stack.callback(bouncer.terminate)
            service_url = project.database_url("bench", server, recreate=False, port=port)
        workers = {"WEB_CONCURRENCY": str(args.workers)}
        servers = []
        for driver in drivers:
            if server is None:
                options = {"dsn": database, "min_size": SQLITE_POOL, "max_size": SQLITE_POOL}
            else:
                scheme = "mysql" if answers["is_mysql"] else "postgresql"
                options = {"dsn": server.url(scheme, database, port=port), "min_size": 1}
                options["max_size"] = pool_sizes(answers)
            options["unprepared"] = port is not None
            env = {
                **workers,
                "PYTHONPATH": str(ceiling_root),
                "CEILING_DRIVER": driver,
                "CEILING_OPTIONS": json.dumps(options),
            }
            servers.append(Server(f"{driver} ceiling", project, "ceiling.app:create_app", env=env))
        service_env = {**workers, "DATABASE__URL": service_url}
        app = f"{project.package}.main:create_app"
        if direct is not None:
            direct_env = {**workers, "DATABASE__URL": direct_url}
            servers.append(Server(DIRECT, direct, app, env=direct_env))
        servers.append(Server("service", project, app, env=service_env))
        yield Subject(project.case.id, project, servers, versions(project, drivers))


def pool_sizes(answers: dict[str, Any]) -> int:
    """The connections one worker of the service may hold: to the server, or in front of
    PgBouncer (its client-side pool is PgBouncer's size). Each ceiling's worker takes as many."""
    if answers["pooled"]:
        return int(answers["pool_size"]) + int(answers["max_overflow"])
    return int(answers["pgbouncer_pool_size"])


def check_connection_budget(
    args: argparse.Namespace, answers: dict[str, Any], direct: "Project | None"
) -> None:
    """Refuse a run whose servers' pools, all open at once (they are, after the first rounds),
    need more connections than the database server has free: the service would answer 503s and
    the ceilings fail requests, and the table would compare errors."""
    server: DatabaseServer
    if answers["is_postgres"]:
        server = PostgresServer().check()
    elif answers["is_mysql"]:
        server = MySQLServer().check()
    else:
        return  # SQLite: a file, no connection limit
    if answers["pooled"]:  # the ceilings take the service's pool size
        names = [f"{driver} ceiling" for driver in ceiling_drivers(answers)] + ["service"]
        budget = {name: args.workers * pool_sizes(answers) for name in names}
    else:  # behind PgBouncer only its pool reaches the server, whatever its clients hold
        budget = {"PgBouncer": int(answers["pgbouncer_pool_size"])}
    if direct is not None:
        budget[DIRECT] = args.workers * pool_sizes(direct.answers)
    needed, free = sum(budget.values()), server.free_connections()
    if needed <= free:
        return
    parts = " + ".join(f"{count} ({name})" for name, count in budget.items())
    raise SystemExit(
        f"These servers may hold {needed} connections to the database at once, {parts}, and it"
        f" has {free} free. Run fewer of them (--workers {args.workers}, one --driver at a time),"
        " or render smaller pools: --data tune_pool=true --data pool_size=N --data"
        " max_overflow=M (the ceilings take the same size)."
    )


Results = dict[tuple[str, str, str], list[wrk.Result]]


def measure(
    args: argparse.Namespace, item: Subject, scripts: dict[str, Path], results: Results
) -> None:
    with ExitStack() as stack:
        for server in item.servers:
            stack.enter_context(server)
        service = item.servers[-1]
        for ceiling in item.servers[:-1]:
            differences = disagreements(ceiling, service)
            if differences:
                report = "\n".join(differences)
                raise SystemExit(f"{ceiling.name} and the service answer differently:\n{report}")
        for name, script in scripts.items():
            if args.warmup:  # imports, pools, statement caches
                for server in item.servers:
                    wrk.run(server.url, script, seconds=args.warmup, connections=args.connections)
            for round_number in range(args.rounds):
                shift = round_number % len(item.servers)
                order = item.servers[shift:] + item.servers[:shift]
                for server in order:
                    recording = args.profile and server is service and round_number == 0
                    output = args.profile / f"{item.label}-{script.stem}" if recording else None
                    cpu_before = server.cpu_seconds()
                    with profile(server, output):
                        result = wrk.run(
                            server.url, script, seconds=args.seconds, connections=args.connections
                        )
                    cpu = (server.cpu_seconds() - cpu_before) * 1e3 / max(result.requests, 1)
                    result = replace(result, cpu_ms=cpu)
                    results.setdefault((item.label, name, server.name), []).append(result)
                    print(
                        f"  {item.label} {name:<8} {server.name:<17} round {round_number + 1}:"
                        f" {result.requests_per_second:8.0f} req/s, p99 {result.p99_ms:7.1f} ms,"
                        f" CPU {cpu:6.3f} ms/request  {result.error_kinds}",
                        flush=True,
                    )


def ratio(numerator: float, denominator: float) -> float:
    # A round too short for the clock's ticks reads no CPU at all.
    return numerator / denominator if denominator else math.nan


def table(results: Results, subjects: list[Subject], args: argparse.Namespace) -> str:
    lines = [
        "",
        f"{args.connections} connections, {args.workers} worker(s) per server, "
        f"{args.rounds} x {args.seconds} s rounds, medians; ratios to the first ceiling",
        "CPU ms: the server's processes' CPU time per request; CPU ratio: the first ceiling's CPU"
        " per request over this server's, the throughput ratio where CPU is what runs out (the"
        " steadier figure on a shared machine)",
    ]
    lines += [f"{item.label}: {item.versions}" for item in subjects]
    # As wide as the longest case id and a gap, so the columns never run together.
    width = max([28, *(len(label) + 2 for (label, _, _) in results)])
    for name in wrk.SCRIPTS:
        rows = [(label, target) for (label, n, target) in results if n == name]
        if not rows:
            continue
        lines += ["", f"{name}"]
        lines.append(
            f"{'service':<{width}}{'server':<18}{'req/s':>8}{'p50 ms':>9}{'p99 ms':>9}"
            f"{'errors':>8}{'ratio':>8}{'p99 ratio':>11}{'CPU ms':>9}{'CPU ratio':>11}"
        )
        reference: dict[str, tuple[float, float, float]] = {}
        measured: dict[tuple[str, str], tuple[float, float]] = {}
        for label, target in rows:
            runs = results[(label, name, target)]
            rps = statistics.median(r.requests_per_second for r in runs)
            p50 = statistics.median(r.p50_ms for r in runs)
            p99 = statistics.median(r.p99_ms for r in runs)
            cpu = statistics.median(r.cpu_ms for r in runs)
            errors = sum(r.errors for r in runs)
            base_rps, base_p99, base_cpu = reference.setdefault(label, (rps, p99, cpu))
            measured[(label, target)] = (rps, cpu)
            lines.append(
                f"{label:<{width}}{target:<18}{rps:>8.0f}{p50:>9.1f}{p99:>9.1f}{errors:>8}"
                f"{rps / base_rps:>8.2f}{p99 / base_p99:>11.2f}"
                f"{cpu:>9.3f}{ratio(base_cpu, cpu):>11.2f}"
            )
        for label, target in rows:
            if target == DIRECT:
                (rps, cpu), (direct_rps, direct_cpu) = (
                    measured[(label, "service")],
                    measured[(label, DIRECT)],
                )
                lines.append(
                    f"{label}: the service behind PgBouncer keeps {rps / direct_rps:.2f} of its"
                    f" direct throughput ({ratio(direct_cpu, cpu):.2f} by CPU per request)"
                )
    return "\n".join(lines)


def main() -> int:
    args = arguments()
    wrk.find_wrk()
    base = bench_workspace()
    scenarios = args.only or list(wrk.SCRIPTS)
    results: Results = {}
    subjects: list[Subject] = []
    with tempfile.TemporaryDirectory() as folder:
        scripts = {name: Path(folder, f"{name.replace(' ', '_')}.lua") for name in scenarios}
        for name, path in scripts.items():
            path.write_text(wrk.SCRIPTS[name])
        for driver in [None] if args.project else args.driver or ["asyncpg"]:
            project = prepare(args, driver, base)
            direct = prepare(args, driver, base, pgbouncer=False) if args.pgbouncer else None
            with subject(args, project, base, direct) as item:
                subjects.append(item)
                print(f"{item.label}: {item.versions}", flush=True)
                measure(args, item, scripts, results)
    print(table(results, subjects, args))
    return 1 if any(r.errors for runs in results.values() for r in runs) else 0


if __name__ == "__main__":
    sys.exit(main())
