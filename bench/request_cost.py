"""CPU per request of a generated service, path by path: where a request's time goes.

    uv run python -m bench.request_cost [--driver asyncpg] [--data Q=A] [--project PATH]
                                        [--rounds 8] [--requests 500] [PATH ...]

Renders (or takes) a project, builds and seeds the benchmark's database (bench.run), then calls
the service's ASGI app in its own virtual environment, without HTTP, and prints the median CPU
milliseconds per request of each path, alternating the paths in rounds. The default paths split
a GET by id into layers: /health/live (FastAPI's routing and response, no database), then
/books/N (a session, the ORM's get with its joined author, pydantic). N becomes seeded ids (1..500).
CPU time leaves out waiting for the database and is steadier than req/s on a shared machine.
"""

import argparse
import json
import shutil
import sys
import tempfile
from pathlib import Path

from harness.project import hand_over

from .run import bench_database, bench_workspace, prepare, run_checked

INPROCESS = Path(__file__).resolve().parent / "inprocess"
PATHS = ["/health/live", "/books/N", "/authors/N", "/books?limit=50&after=N"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--driver", help="a db_driver to render (default asyncpg)")
    parser.add_argument("--data", action="append", default=[], metavar="QUESTION=ANSWER")
    parser.add_argument("--project", type=Path, help="a rendered and installed project")
    parser.add_argument("--pgbouncer", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--requests", type=int, default=500, help="per path and round")
    parser.add_argument("paths", nargs="*", default=PATHS)
    args = parser.parse_args()
    base = bench_workspace()
    project = prepare(args, args.driver, base)
    code = Path(tempfile.mkdtemp(prefix="inprocess-", dir=base / "bench"))
    shutil.copytree(INPROCESS, code / "inprocess")
    hand_over(code)
    try:
        with bench_database(project) as database:
            env = {"DATABASE__URL": database.url, "PYTHONPATH": str(code)}
            command = [".venv/bin/python", "-m", "inprocess.cost", project.package]
            command += [str(args.rounds), str(args.requests), *args.paths]
            output = run_checked(project, *command, env=env)
    finally:
        shutil.rmtree(code, ignore_errors=True)
    medians = json.loads(output.splitlines()[-1])
    print(f"{project.case.id}: CPU ms per request, medians of {args.rounds} rounds")
    for path, milliseconds in medians.items():
        print(f"  {path:<32}{milliseconds:>8.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
