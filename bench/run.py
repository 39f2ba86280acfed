"""Benchmark a generated service against its raw-driver ceiling: renders, installs, runs its bench.

    uv run python bench/run.py [--data db_driver=psycopg ...] [-- --seconds 8 --rounds 3 ...]

Renders the template from this working tree (default answers unless --data says otherwise),
installs the project with uv and runs the benchmark every generated project ships
(`python -m bench`, see the project's README) against the local PostgreSQL (TEMPLATE_POSTGRES_URL)
or, for SQLite, a file in the project. Arguments after `--` go to the project's benchmark:
--seconds, --connections, --rounds, --workers, --only SCENARIO, --profile FOLDER. Needs wrk.
"""

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import copier
import psycopg

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.matrix import copy_template  # noqa: E402

POSTGRES_URL = os.environ.get(
    "TEMPLATE_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
SCHEMES = {"asyncpg": "postgresql+asyncpg", "psycopg": "postgresql+psycopg"}


def database_url(project: Path, driver: str) -> str:
    if driver not in SCHEMES:
        return f"sqlite+aiosqlite:///{project / 'bench.db'}"
    info = psycopg.conninfo.conninfo_to_dict(POSTGRES_URL)
    password = f":{info['password']}" if info.get("password") else ""
    host, port = info.get("host", "127.0.0.1"), info.get("port", 5432)
    return f"{SCHEMES[driver]}://{info.get('user', 'postgres')}{password}@{host}:{port}/service"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--data", action="append", default=[], metavar="QUESTION=ANSWER", help="a Copier answer"
    )
    parser.add_argument("bench_args", nargs=argparse.REMAINDER, help="after --: the bench's own")
    args = parser.parse_args()
    answers = dict(item.split("=", 1) for item in args.data)
    bench_args = [arg for arg in args.bench_args if arg != "--"]
    with tempfile.TemporaryDirectory() as folder:
        (Path(folder) / "template").mkdir()
        template = copy_template(Path(folder, "template"))
        project = Path(folder, "service")
        copier.run_copy(
            str(template), str(project), data=answers, defaults=True, quiet=True, unsafe=True
        )
        subprocess.run(["uv", "sync", "--quiet"], cwd=project, check=True)
        env = {
            **os.environ,
            "DATABASE__URL": database_url(project, answers.get("db_driver", "asyncpg")),
        }
        command = ["uv", "run", "--quiet", "python", "-m", "bench", *bench_args]
        return subprocess.run(command, cwd=project, env=env, check=False).returncode


if __name__ == "__main__":
    sys.exit(main())
