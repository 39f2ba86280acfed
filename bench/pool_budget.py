"""Load check (a benchmark, not a test): does a rendered service stay within its connection budget?

Renders a project (or takes one already rendered), migrates a fresh database, starts the service
with W uvicorn workers (behind a PgBouncer in transaction mode for connection_pooler=pgbouncer),
drives concurrent HTTP load at it for a few seconds over loopback, and samples pg_stat_activity
meanwhile. It reports the most server connections seen against the budget the answers promise,
and every request that failed other than with a deliberate 503. Exits 1 if either is wrong.

    uv run python -m bench.pool_budget --pooler none --workers 2
    uv run python -m bench.pool_budget --pooler pgbouncer --driver psycopg --workers 4
    uv run python -m bench.pool_budget --data pool_size=5 --env DATABASE__POOL_TIMEOUT=1

The budget is copier.yml's computed `server_connections` for one instance of W workers.
"""

import argparse
import asyncio
import collections
import os
import pwd
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import yaml

from harness.matrix import Case, answers_of, choice_questions, copy_template, pretend
from harness.ports import free_port, wait_for_port
from harness.postgres import PostgresServer
from harness.project import (
    UNPRIVILEGED_USER,
    Project,
    clean_environment,
    database_name,
    describe,
    hand_over,
    render,
    running_as_root,
    workspace,
)

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


def home() -> dict[str, str]:
    """The unprivileged account's HOME (drivers look for ~/.postgresql), when we are root."""
    return {"HOME": pwd.getpwnam(UNPRIVILEGED_USER).pw_dir} if running_as_root() else {}


def prepare_project(args: argparse.Namespace, base: Path) -> Project:
    """Render the answers (or take a rendered project) as one instance of `args.workers` workers,
    with every answer Copier computes for it, the connection budget among them."""
    answers = {**dict(item.split("=", 1) for item in args.data), "db_driver": args.driver}
    answers |= {"connection_pooler": args.pooler, "workers": str(args.workers), "instances": "1"}
    template = copy_template(Path(tempfile.mkdtemp(prefix="bench-template-")))
    recorded = {}
    if args.project:
        recorded = yaml.safe_load((args.project / ".copier-answers.yml").read_text())
    # The answers file leaves computed answers out: Copier computes them again.
    computed = answers_of(pretend(template, {**recorded, **answers}))
    if not computed["is_postgres"]:
        sys.exit(f"{args.driver} opens no server connections to count; pick a PostgreSQL driver")
    case = Case(tuple(answers.items()), None)
    env = clean_environment(base)
    if args.project:
        return Project(case, args.project.resolve(), env, answers=computed)
    project = render(case, template, base / "bench" / f"{args.driver}-{args.pooler}", env)
    project.install("--no-dev")
    return project


def describe_budget(answers: dict[str, Any]) -> str:
    if answers["pooled"]:
        sizes = f"pool_size={answers['pool_size']}, max_overflow={answers['max_overflow']}"
        return f"{answers['workers']} workers with {sizes}"
    return f"PgBouncer with default_pool_size={answers['pgbouncer_pool_size']}"


def start_pgbouncer(
    project: Project, server: PostgresServer, pool_size: int
) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    folder = project.path / ".bench-pgbouncer"
    folder.mkdir(exist_ok=True)
    (folder / "pgbouncer.ini").write_text(
        "[databases]\n"
        f"* = host={server.host} port={server.port} user={server.user}\n"
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
    wait_for_port(port, process, "PgBouncer", log=folder / "pgbouncer.log")
    return process, port


class Sampler(threading.Thread):
    """Counts the database's server connections (client backends) every few milliseconds."""

    def __init__(self, server: PostgresServer, database: str) -> None:
        super().__init__(daemon=True)
        self.server, self.database = server, database
        self.samples: list[int] = []
        self.done = threading.Event()

    def run(self) -> None:
        with self.server.connect() as connection:
            while not self.done.is_set():
                self.samples.append(self.server.connections_to(self.database, via=connection))
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
    parser.add_argument("--driver", choices=choice_questions()["db_driver"], default="asyncpg")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--concurrency", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--project", type=Path, help="an already rendered project to use")
    parser.add_argument(
        "--data", action="append", default=[], metavar="QUESTION=ANSWER", help="a Copier answer"
    )
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

    if args.project and args.data:
        parser.error("--data answers a render; a --project was rendered with its own answers")
    extra = dict(item.split("=", 1) for item in args.env)
    sized = sorted(
        name for name in extra if name in {"DATABASE__POOL_SIZE", "DATABASE__MAX_OVERFLOW"}
    )
    if sized:
        parser.error(f"set {', '.join(sized)} with --data (pool_size=N): the budget follows it")
    server = PostgresServer().check()
    base = workspace(Path(tempfile.gettempdir()) / "bench")
    project = prepare_project(args, base)
    limit = project.answers["server_connections"]
    what = describe_budget(project.answers)
    database = database_name(project.case, "budget")
    direct_url = project.database_url("budget", server)
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
            bouncer, bouncer_port = start_pgbouncer(
                project, server, project.answers["pgbouncer_pool_size"]
            )
            processes.append(bouncer)
            service_url = project.database_url("budget", server, recreate=False, port=bouncer_port)
        port = free_port()
        command = [".venv/bin/uvicorn", "--factory", f"{project.package}.main:create_app"]
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
        wait_for_port(port, service, "The service", log=service_log)
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
        server.drop(database)

    requests = sum(count for key, count in outcomes.items() if key.isdigit())
    failures = {key: count for key, count in outcomes.items() if key not in {"200", "201", "503"}}
    peak = max(sampler.samples, default=0)
    print(f"service      {args.driver}, connection_pooler={args.pooler}, {args.workers} workers")
    print(f"load         {args.concurrency} concurrent clients for {elapsed:.1f} s over loopback")
    print(f"requests     {requests} ({requests / elapsed:.0f}/s): {dict(sorted(outcomes.items()))}")
    print(f"connections  at most {peak} server connections in {len(sampler.samples)} samples")
    verdict = "within" if peak <= limit else "EXCEEDED"
    print(f"budget       copier.yml's server_connections = {limit} ({what}): {verdict}")
    print(f"failures     {failures or 'none (503s are deliberate)'}")
    if failures:
        log = (project.path / ".bench-service.log").read_text().splitlines()
        errors = collections.Counter(line for line in log if re.match(r"^\w+(\.\w+)*Error", line))
        for line, count in errors.most_common(5):
            print(f"  {count} x {line[:200]}")
    return 0 if peak <= limit and not failures else 1


if __name__ == "__main__":
    sys.exit(main())
