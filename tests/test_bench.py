"""The benchmark (bench/) runs against a case of each driver: every ceiling answers the service's
JSON and no request fails.

A short run (the numbers mean nothing here); `python -m bench` with its defaults is the long one.
"""

import subprocess
import sys

import pytest

from harness.matrix import TEMPLATE_ROOT, each_case, first_of_each, valid_cases
from harness.project import Project

# The benchmark's code paths differ by driver and by PgBouncer, not by test strategy.
pytestmark = each_case(first_of_each(valid_cases(), "db_driver", "connection_pooler"))


def test_the_benchmark_measures_a_service_whose_ceilings_answer_alike(
    project: Project, request: pytest.FixtureRequest
) -> None:
    # Each fails with a sentence if there is no server.
    if project.answers["is_postgres"]:
        request.getfixturevalue("postgres")
    elif project.answers["is_mysql"]:
        request.getfixturevalue("mysql")
    short = ["--seconds", "1", "--rounds", "1", "--connections", "4", "--workers", "1"]

    with project.timed("bench"):
        result = subprocess.run(
            [sys.executable, "-m", "bench", "--project", str(project.path), *short],
            cwd=TEMPLATE_ROOT,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )

    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    ceilings = ["asyncpg ceiling"] if project.answers["is_postgres"] else []
    if project.answers["db_driver"] != "asyncpg":
        ceilings.append(f"{project.answers['db_driver']} ceiling")
    for scenario in ("get one", "create", "list 50"):
        section = result.stdout.split(f"\n{scenario}\n", 1)[1].split("\n\n", 1)[0]
        rows = [line.split() for line in section.splitlines()[1:]]
        servers = [" ".join(row[1:-8]) for row in rows]
        assert servers == [*ceilings, "service"], result.stdout
        assert [row[-5] for row in rows] == ["0"] * len(rows), result.stdout  # errors per row
        assert all(float(row[-2]) > 0 for row in rows), result.stdout  # CPU ms per request
