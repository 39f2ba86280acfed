"""Benchmark the generated service against a raw asyncpg ceiling; prints a table of ratios.

    uv run python bench/run.py [--duration 8] [--connections 32] [--rounds 3]

Renders the template (asyncpg, defaults) from this working tree, installs it, migrates a fresh
database on the local PostgreSQL, seeds it, then starts the generated service and bench/ceiling.py
under the same uvicorn settings (one worker each, uvloop + httptools, no access log) and drives
both with wrk in alternating rounds: the machine is shared and noisy, so only ratios measured in
the same run mean anything. Needs wrk (`apt-get install wrk`) and PostgreSQL
(TEMPLATE_POSTGRES_URL); `--profile DIR` also records the service with py-spy.
"""

import argparse
import os
import random
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import copier
import psycopg
from psycopg import sql

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.matrix import copy_template  # noqa: E402

POSTGRES_URL = os.environ.get(
    "TEMPLATE_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
AUTHORS, BOOKS = 500, 5000
PIDS: dict[int, int] = {}

GET_SCRIPT = f"""
request = function()
  return wrk.format("GET", "/books/" .. math.random(1, {BOOKS}))
end
"""
POST_SCRIPT = """
counter = 0
local threads = 0
function setup(thread)
  -- Unique per wrk run and thread: every name is new, so no request hits the unique constraint.
  threads = threads + 1
  thread:set("prefix", os.time() .. "-" .. threads)
end
request = function()
  counter = counter + 1
  local body = '{"name": "bench ' .. prefix .. ' ' .. counter .. '"}'
  return wrk.format("POST", "/authors", {["Content-Type"] = "application/json"}, body)
end
"""
LIST_SCRIPT = f"""
request = function()
  return wrk.format("GET", "/books?limit=50&offset=" .. math.random(0, {BOOKS - 50}))
end
"""
SCENARIOS = {"get one": GET_SCRIPT, "create": POST_SCRIPT, "list 50": LIST_SCRIPT}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(port: int, process: subprocess.Popen[bytes]) -> None:
    for _ in range(300):
        if process.poll() is not None:
            raise SystemExit(f"server on port {port} exited with {process.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"server on port {port} did not start")


@contextmanager
def serve(project: Path, app: str, env: dict[str, str], app_dir: Path) -> Iterator[int]:
    port = free_port()
    command = [
        str(project / ".venv/bin/uvicorn"),
        "--factory",
        app,
        "--app-dir",
        str(app_dir),
        "--port",
        str(port),
        "--no-access-log",
        "--log-level",
        "warning",
    ]
    process = subprocess.Popen(command, cwd=project, env={**os.environ, **env})
    try:
        wait_for(port, process)
        PIDS[port] = process.pid
        yield port
    finally:
        process.terminate()
        process.wait(timeout=30)


def parse_duration(text: str) -> float:
    value, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text).groups()  # type: ignore[union-attr]
    return float(value) * {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 6e4}[unit]


def wrk(port: int, script: Path, duration: int, connections: int) -> dict[str, float]:
    output = subprocess.run(
        [
            "wrk",
            "-t2",
            f"-c{connections}",
            f"-d{duration}s",
            "--latency",
            "-s",
            str(script),
            f"http://127.0.0.1:{port}",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]
    p50 = parse_duration(re.search(r"\s50%\s+(\S+)", output).group(1))  # type: ignore[union-attr]
    p99 = parse_duration(re.search(r"\s99%\s+(\S+)", output).group(1))  # type: ignore[union-attr]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    socket_errors = re.search(r"Socket errors: (.*)", output)
    return {
        "rps": rps,
        "p50": p50,
        "p99": p99,
        "errors": float(errors.group(1)) if errors else 0.0,
        "socket_errors": 1.0 if socket_errors else 0.0,
    }


def prepare(workdir: Path, database: str) -> tuple[Path, str, dict[str, str]]:
    (workdir / "template").mkdir()
    template = copy_template(workdir / "template")
    project = workdir / "service"
    copier.run_copy(str(template), str(project), defaults=True, quiet=True, unsafe=True)
    subprocess.run(["uv", "sync", "-q"], cwd=project, check=True)
    with psycopg.connect(POSTGRES_URL, autocommit=True) as admin:
        name = sql.Identifier(database)
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} (FORCE)").format(name))
        admin.execute(sql.SQL("CREATE DATABASE {}").format(name))
    info = psycopg.conninfo.conninfo_to_dict(POSTGRES_URL)
    user, host = info.get("user", "postgres"), info.get("host", "127.0.0.1")
    plain = f"postgresql://{user}@{host}:{info.get('port', 5432)}/{database}"
    service_env = {"DATABASE__URL": plain.replace("postgresql://", "postgresql+asyncpg://")}
    subprocess.run(
        ["uv", "run", "-q", "alembic", "upgrade", "head"],
        cwd=project,
        env={**os.environ, **service_env},
        check=True,
    )
    with psycopg.connect(plain) as connection:
        connection.execute(
            "INSERT INTO authors (name) SELECT 'author ' || n FROM generate_series(1, %s) n",
            (AUTHORS,),
        )
        connection.execute(
            "INSERT INTO books (title, isbn, author_id) SELECT 'book ' || n,"
            " lpad(n::text, 13, '0'), 1 + n %% %s FROM generate_series(1, %s) n",
            (AUTHORS, BOOKS),
        )
    package = next(p.name for p in (project / "src").iterdir() if p.is_dir())
    return project, package, {**service_env, "DATABASE_URL": plain}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=8, help="seconds per wrk round")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=3, help="A/B rounds per scenario")
    parser.add_argument(
        "--profile", type=Path, help="record the service under load with py-spy into this folder"
    )
    parser.add_argument("--only", choices=list(SCENARIOS), action="append", help="scenarios to run")
    parser.add_argument(
        "--service-env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="extra environment for the service only (e.g. DATABASE__POOL_PRE_PING=false)",
    )
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is missing: apt-get install wrk")

    database = f"bench_{os.getpid()}"
    with tempfile.TemporaryDirectory() as folder:
        workdir = Path(folder)
        project, package, env = prepare(workdir, database)
        scripts = {}
        for name, body in SCENARIOS.items():
            scripts[name] = workdir / f"{name.replace(' ', '_')}.lua"
            scripts[name].write_text(body)
        results: dict[tuple[str, str], list[dict[str, float]]] = {}
        targets = {
            "ceiling": ("ceiling:create_app", ROOT / "bench"),
            "service": (f"{package}.main:create_app", project / "src"),
        }
        service_env = {**env, **dict(item.split("=", 1) for item in args.service_env)}
        with (
            serve(project, targets["ceiling"][0], env, targets["ceiling"][1]) as ceiling_port,
            serve(
                project, targets["service"][0], service_env, targets["service"][1]
            ) as service_port,
        ):
            ports = {"ceiling": ceiling_port, "service": service_port}
            # Warm up both (imports, prepared statements, pools) before anything is measured.
            for port in ports.values():
                for script in scripts.values():
                    wrk(port, script, 1, args.connections)
            for scenario, script in scripts.items():
                if args.only and scenario not in args.only:
                    continue
                for round_number in range(args.rounds):
                    order = (
                        ["ceiling", "service"] if round_number % 2 == 0 else ["service", "ceiling"]
                    )
                    for target in order:
                        spy = None
                        if args.profile and target == "service" and round_number == 0:
                            args.profile.mkdir(parents=True, exist_ok=True)
                            out = args.profile / f"{scenario.replace(' ', '_')}.txt"
                            spy: subprocess.Popen[bytes] | None = subprocess.Popen(
                                [
                                    "py-spy",
                                    "record",
                                    "-p",
                                    str(PIDS[ports[target]]),
                                    "-d",
                                    str(args.duration),
                                    "-f",
                                    "raw",
                                    "-o",
                                    str(out),
                                    "--nonblocking",
                                ],
                                stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL,
                            )
                        result = wrk(ports[target], script, args.duration, args.connections)
                        if spy is not None:
                            spy.wait(timeout=60)
                        results.setdefault((scenario, target), []).append(result)
                        print(
                            f"  {scenario:<8} {target:<8} round {round_number + 1}: "
                            f"{result['rps']:8.0f} req/s  p99 {result['p99']:7.1f} ms",
                            flush=True,
                        )
        with psycopg.connect(POSTGRES_URL, autocommit=True) as admin:
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} (FORCE)").format(sql.Identifier(database))
            )

    print()
    print(f"{args.connections} connections, {args.duration} s x {args.rounds} rounds, medians")
    print(
        f"{'scenario':<10}{'target':<9}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'errors':>8}"
        f"{'rps ratio':>11}{'p99 ratio':>11}"
    )
    for scenario in SCENARIOS:
        if (scenario, "ceiling") not in results:
            continue
        ceiling = {
            k: statistics.median(r[k] for r in results[(scenario, "ceiling")])
            for k in ("rps", "p50", "p99", "errors")
        }
        for target in ("ceiling", "service"):
            row = {
                k: statistics.median(r[k] for r in results[(scenario, target)])
                for k in ("rps", "p50", "p99", "errors")
            }
            print(
                f"{scenario:<10}{target:<9}{row['rps']:>9.0f}{row['p50']:>9.1f}{row['p99']:>9.1f}"
                f"{row['errors']:>8.0f}{row['rps'] / ceiling['rps']:>11.2f}"
                f"{row['p99'] / ceiling['p99']:>11.2f}"
            )


if __name__ == "__main__":
    random.seed()
    main()
