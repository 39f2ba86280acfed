"""Load check (a benchmark, not a test): does a rendered service stay within its connection budget?

Renders a project (or takes one already rendered), migrates a fresh database, starts the service
with W uvicorn workers (behind a PgBouncer in transaction mode for connection_pooler=pgbouncer),
drives concurrent HTTP load at it for a few seconds over loopback, and samples pg_stat_activity
meanwhile. It reports the most server connections seen against the budget the answers promise,
and every request that failed other than with a deliberate 503. Exits 1 if either is wrong.

    uv run python -m bench.pool_budget --pooler none --workers 2
    uv run python -m bench.pool_budget --pooler pgbouncer --driver psycopg --workers 4
"""

import argparse
import asyncio
import collections
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import psycopg
import yaml
from psycopg import sql

from tests.conftest import POSTGRES_SCHEMES, POSTGRES_URL, PostgresServer
from tests.matrix import Case, copy_template
from tests.project import (
    UNPRIVILEGED_USER,
    Project,
    clean_environment,
    describe,
    hand_over,
    running_as_root,
    workspace,
)
from tests.project import render as render_case

MAX_CONCURRENCY = 500
MAX_SECONDS = 60


def unprivileged() -> dict[str, Any]:
    """Popen arguments that run a process as the unprivileged account when we are root.

    PgBouncer refuses root; Popen's own user switch (not runuser) lets signals reach the process.
    """
    if not running_as_root():
        return {}
    account = pwd.getpwnam(UNPRIVILEGED_USER)
    return {"user": account.pw_uid, "group": account.pw_gid, "extra_groups": []}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def home() -> dict[str, str]:
    """The unprivileged account's HOME (drivers look for ~/.postgresql), when we are root."""
    return {"HOME": pwd.getpwnam(UNPRIVILEGED_USER).pw_dir} if running_as_root() else {}


def wait_for_port(port: int, process: subprocess.Popen[bytes], what: str, log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            sys.exit(f"{what} exited with {process.returncode}:\n{log.read_text()}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    sys.exit(f"{what} did not listen on port {port} within 60 s:\n{log.read_text()}")


def prepare_project(args: argparse.Namespace, base: Path) -> Project:
    answers = {"db_driver": args.driver, "connection_pooler": args.pooler}
    if args.pooler == "none":
        answers["workers"] = str(args.workers)
    env = clean_environment(base)
    if args.project:
        return Project(Case(tuple(answers.items()), None), args.project.resolve(), env)
    template = copy_template(Path(tempfile.mkdtemp(prefix="bench-template-")))
    destination = base / "bench" / f"{args.driver}-{args.pooler}"
    shutil.rmtree(destination, ignore_errors=True)
    destination.parent.mkdir(parents=True, exist_ok=True)
    project = render_case(Case(tuple(answers.items()), None), template, destination, env)
    result = project.run("uv", "sync", "--no-dev", phase="install")
    if result.returncode != 0:
        sys.exit(describe(result))
    return project


def budget(project: Project, workers: int, overrides: dict[str, str]) -> tuple[int, str]:
    """The most server connections one instance with this many workers may open."""
    answers = yaml.safe_load((project.path / ".copier-answers.yml").read_text())
    if answers.get("connection_pooler") == "pgbouncer":
        size = int(answers["pgbouncer_pool_size"])
        return size, f"PgBouncer's default_pool_size = {size}"
    pool_size = int(overrides.get("DATABASE__POOL_SIZE", answers["pool_size"]))
    max_overflow = int(overrides.get("DATABASE__MAX_OVERFLOW", answers["max_overflow"]))
    limit = workers * (pool_size + max_overflow)
    return limit, (
        f"{workers} workers x ({pool_size} pool_size + {max_overflow} max_overflow) = {limit}"
    )


def start_pgbouncer(
    project: Project, server: PostgresServer, pool_size: int
) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    folder = project.path / ".bench-pgbouncer"
    folder.mkdir(exist_ok=True)
    (folder / "pgbouncer.ini").write_text(
        "[databases]\n"
        f"* = host={server.info.get('host', '127.0.0.1')} port={server.info.get('port', 5432)}"
        f" user={server.info.get('user', 'postgres')}\n"
        "[pgbouncer]\n"
        f"listen_addr = 127.0.0.1\nlisten_port = {port}\nunix_socket_dir =\n"
        "auth_type = any\npool_mode = transaction\n"
        f"default_pool_size = {pool_size}\nmax_client_conn = 2000\n"
    )
    hand_over(folder)
    binary = shutil.which("pgbouncer", path=f"{os.environ.get('PATH', '')}:/usr/sbin")
    if binary is None:
        sys.exit("pgbouncer is not installed: apt-get install pgbouncer")
    log = (folder / "pgbouncer.log").open("w")
    process = subprocess.Popen(
        [binary, str(folder / "pgbouncer.ini")],
        stdout=log,
        stderr=subprocess.STDOUT,
        **unprivileged(),
    )
    wait_for_port(port, process, "PgBouncer", folder / "pgbouncer.log")
    return process, port


class Sampler(threading.Thread):
    """Counts the database's server connections (client backends) every few milliseconds."""

    def __init__(self, server: PostgresServer, database: str) -> None:
        super().__init__(daemon=True)
        self.server, self.database = server, database
        self.samples: list[int] = []
        self.done = threading.Event()

    def run(self) -> None:
        query = (
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE datname = %s AND backend_type = 'client backend'"
        )
        with self.server.connect() as connection:
            while not self.done.is_set():
                row = connection.execute(query, (self.database,)).fetchone()
                self.samples.append(int(row[0]) if row else 0)
                time.sleep(0.02)


async def drive(base_url: str, concurrency: int, seconds: float) -> collections.Counter[str]:
    outcomes: collections.Counter[str] = collections.Counter()
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=base_url, timeout=60, limits=limits) as client:
        created = await client.post("/authors", json={"name": "Bench"})
        created.raise_for_status()
        author = f"/authors/{created.json()['id']}"
        deadline = time.monotonic() + seconds

        async def user(number: int) -> None:
            n = 0
            while time.monotonic() < deadline:
                n += 1
                try:
                    if n % 4 == 0:
                        response = await client.post(
                            "/authors", json={"name": f"bench-{number}-{n}"}
                        )
                    else:
                        response = await client.get(author if n % 2 else "/authors")
                    outcomes[str(response.status_code)] += 1
                except httpx.HTTPError as error:
                    outcomes[f"{type(error).__name__}: {error}"[:200]] += 1

        await asyncio.gather(*(user(number) for number in range(concurrency)))
    return outcomes


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pooler", choices=["none", "pgbouncer"], default="none")
    parser.add_argument("--driver", choices=sorted(POSTGRES_SCHEMES), default="asyncpg")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--concurrency", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--project", type=Path, help="an already rendered project to use")
    parser.add_argument(
        "--env",
        action="append",
        default=[],
        help="extra service setting, e.g. DATABASE__POOL_TIMEOUT=1",
    )
    args = parser.parse_args()
    if not (1 <= args.concurrency <= MAX_CONCURRENCY and 0 < args.seconds <= MAX_SECONDS):
        parser.error(
            f"keep --concurrency within 1..{MAX_CONCURRENCY}, --seconds within 0..{MAX_SECONDS}"
        )

    server = PostgresServer(POSTGRES_URL)
    base = workspace(Path(tempfile.gettempdir()) / "bench")
    project = prepare_project(args, base)
    extra = dict(item.split("=", 1) for item in args.env)
    limit, arithmetic = budget(project, args.workers, extra)
    database = f"bench_{args.driver}_{args.pooler}"
    server.recreate(database)
    direct_url = server.url(POSTGRES_SCHEMES[args.driver], database)
    migrated = project.run(
        "uv",
        "run",
        "--no-dev",
        "alembic",
        "upgrade",
        "head",
        phase="bench",
        env={"DATABASE__URL": direct_url},
    )
    if migrated.returncode != 0:
        sys.exit(describe(migrated))

    processes: list[subprocess.Popen[bytes]] = []
    try:
        service_url = direct_url
        if args.pooler == "pgbouncer":
            bouncer, bouncer_port = start_pgbouncer(project, server, limit)
            processes.append(bouncer)
            service_url = service_url.replace(
                f"@{server.info.get('host', '127.0.0.1')}:{server.info.get('port', 5432)}/",
                f"@127.0.0.1:{bouncer_port}/",
            )
        port = free_port()
        package = yaml.safe_load((project.path / ".copier-answers.yml").read_text())["package_name"]
        command = [".venv/bin/uvicorn", "--factory", f"{package}.main:create_app"]
        command += ["--host", "127.0.0.1", "--port", str(port), "--workers", str(args.workers)]
        service_log = project.path / ".bench-service.log"
        service = subprocess.Popen(
            [*command, "--no-access-log"],
            cwd=project.path,
            env={**project.env, **home(), "DATABASE__URL": service_url, **extra},
            stdout=service_log.open("w"),
            stderr=subprocess.STDOUT,
            **unprivileged(),
        )
        processes.append(service)
        wait_for_port(port, service, "The service", service_log)
        time.sleep(1)  # let every worker finish its startup

        sampler = Sampler(server, database)
        sampler.start()
        started = time.monotonic()
        outcomes = asyncio.run(drive(f"http://127.0.0.1:{port}", args.concurrency, args.seconds))
        elapsed = time.monotonic() - started
        sampler.done.set()
        sampler.join()
    finally:
        for process in reversed(processes):
            process.send_signal(signal.SIGINT if process is processes[-1] else signal.SIGTERM)
            try:
                process.communicate(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
        with psycopg.connect(server.dsn, autocommit=True) as connection:
            connection.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} (FORCE)").format(sql.Identifier(database))
            )

    requests = sum(count for key, count in outcomes.items() if key.isdigit())
    failures = {key: count for key, count in outcomes.items() if key not in {"200", "201", "503"}}
    peak = max(sampler.samples, default=0)
    print(f"service      {args.driver}, connection_pooler={args.pooler}, {args.workers} workers")
    print(f"load         {args.concurrency} concurrent clients for {elapsed:.1f} s over loopback")
    print(f"requests     {requests} ({requests / elapsed:.0f}/s): {dict(sorted(outcomes.items()))}")
    print(f"connections  at most {peak} server connections in {len(sampler.samples)} samples")
    print(f"budget       {arithmetic}: {'within' if peak <= limit else 'EXCEEDED'}")
    print(f"failures     {failures or 'none (503s are deliberate)'}")
    if failures:
        log = (project.path / ".bench-service.log").read_text().splitlines()
        errors = collections.Counter(line for line in log if re.match(r"^\w+(\.\w+)*Error", line))
        for line, count in errors.most_common(5):
            print(f"  {count} x {line[:200]}")
    return 0 if peak <= limit and not failures else 1


if __name__ == "__main__":
    sys.exit(main())
