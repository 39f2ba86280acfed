"""Benchmark a generated service against its raw-driver ceiling: renders, installs, runs its bench.

    uv run python -m bench.run [--data db_driver=psycopg ...] [-- --seconds 8 --rounds 3 ...]

Renders the template from this working tree (default answers unless --data says otherwise),
installs the project with uv and runs the benchmark every generated project ships
(`python -m bench`, see the project's README) against the local PostgreSQL (TEMPLATE_POSTGRES_URL)
or, for SQLite, a file in the project. Arguments after `--` go to the project's benchmark:
--seconds, --connections, --rounds, --workers, --only SCENARIO, --profile FOLDER. Needs wrk.
"""

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

from harness.matrix import Case, copy_template
from harness.postgres import PostgresServer
from harness.project import as_project_user, clean_environment, render, workspace


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--data", action="append", default=[], metavar="QUESTION=ANSWER", help="a Copier answer"
    )
    parser.add_argument("bench_args", nargs=argparse.REMAINDER, help="after --: the bench's own")
    args = parser.parse_args()
    answers = tuple(tuple(item.split("=", 1)) for item in args.data)
    bench_args = [arg for arg in args.bench_args if arg != "--"]
    with tempfile.TemporaryDirectory() as folder:
        template = copy_template(Path(folder, "template"))
        base = workspace(Path(folder))
        destination = base / "bench" / "service"
        project = render(Case(answers, None), template, destination, clean_environment(base))
        project.install("--quiet")
        server = PostgresServer().check() if project.answers["is_postgres"] else None
        # The benchmark builds its own database next to this one (see the project's README).
        env = {
            **project.env,
            "DATABASE__URL": project.database_url("service", server, recreate=False),
        }
        command = ["uv", "run", "--quiet", "python", "-m", "bench", *bench_args]
        return subprocess.run(
            as_project_user(command), cwd=project.path, env=env, check=False
        ).returncode


if __name__ == "__main__":
    sys.exit(main())
