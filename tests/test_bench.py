"""The benchmarks (bench/) run against a case of each driver: every ceiling and every layer
answers the service's JSON and no request fails.

Short runs (the numbers mean nothing here); `python -m bench` and `python -m bench.layers` with
their defaults are the long ones.
"""

import re
import subprocess
import sys

import pytest

from bench.layers import disagreements
from harness.matrix import TEMPLATE_ROOT, each_case, first_of_each, valid_cases
from harness.project import Project

# They test bench/, not the template's output, and take a third of a --quick run's CPU: left to
# the whole run.
pytestmark = pytest.mark.whole_run

# The benchmark's code paths differ by driver and by PgBouncer, not by test strategy.
BENCH_CASES = first_of_each(valid_cases(), "db_driver", "connection_pooler")
# The layers are measured on PostgreSQL without PgBouncer: the cases asked about a pooler and
# answering none.
LAYER_CASES = [case for case in BENCH_CASES if case.data.get("connection_pooler") == "none"]
# Refused alike whatever the driver: one case behind PgBouncer, one not asked about a pooler.
REFUSED_CASES = first_of_each(
    [case for case in BENCH_CASES if case not in LAYER_CASES], "connection_pooler"
)


def run_bench(
    project: Project, request: pytest.FixtureRequest, module: str, *options: str
) -> subprocess.CompletedProcess[str]:
    # Each fails with a sentence if there is no server.
    if project.answers["is_postgres"]:
        request.getfixturevalue("postgres")
    elif project.answers["is_mysql"]:
        request.getfixturevalue("mysql")
    with project.timed("bench"):
        return subprocess.run(
            [sys.executable, "-m", module, "--project", str(project.path), *options],
            cwd=TEMPLATE_ROOT,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )


@each_case(BENCH_CASES)
def test_the_benchmark_measures_a_service_whose_ceilings_answer_alike(
    project: Project, request: pytest.FixtureRequest
) -> None:
    short = ["--seconds", "1", "--rounds", "1", "--connections", "4", "--workers", "1"]
    short += ["--warmup", "0"]  # the rounds run the same requests; warm servers are for figures

    result = run_bench(project, request, "bench", *short)

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


@each_case(LAYER_CASES)
def test_the_layer_benchmark_costs_every_layer_answering_like_the_service(
    project: Project, request: pytest.FixtureRequest
) -> None:
    short = ["--rounds", "1", "--requests", "20", "--seconds", "1", "--http-rounds", "1"]
    short += ["--connections", "4"]

    # Every option: all of the benchmark's code runs and answers.
    result = run_bench(project, request, "bench.layers", *short, "--split-sqlalchemy", "--served")

    assert result.returncode == 0, result.stdout + result.stderr
    # Printed only once every layer has answered the checked books as the service does.
    assert "every layer answers /books/1, " in result.stdout, result.stdout
    rows = result.stdout.split("the step is\n", 1)[1].split("\nversions: ", 1)[0].splitlines()
    # Columns are apart by two spaces or more; a layer's name has single spaces.
    cells = [re.split(r"\s{2,}", row.strip()) for row in rows]
    names = [row[0] for row in cells]
    expected = ["HTTP server", "Starlette, a constant body", "(a) ", "(a') "]
    expected += ["(b1) ", "(b2) ", "(b3) ", "(b) ", "(c) ", "(d) ", "(e) "]
    expected += ["served: (a) ", "served: (e) "]
    if project.answers["db_driver"] == "asyncpg":
        expected.remove("(a') ")  # the project's driver is the ceiling's
    assert len(names) == len(expected), result.stdout
    assert all(name.startswith(prefix) for name, prefix in zip(names, expected, strict=True))
    assert all(float(row[1]) > 0 for row in cells), result.stdout  # CPU ms per request


@each_case(REFUSED_CASES)
def test_the_layer_benchmark_refuses_a_service_it_cannot_compare_with_the_ceiling(
    project: Project, request: pytest.FixtureRequest
) -> None:
    result = run_bench(project, request, "bench.layers")

    assert result.returncode != 0
    assert "on PostgreSQL without PgBouncer" in result.stderr, result.stderr


def test_a_layer_answering_other_data_than_the_service_stops_the_layer_benchmark() -> None:
    book = '{"id": 1, "title": "book 1", "author": {"id": 2, "name": "author 2"}}'
    other = book.replace("author 2", "author 3")
    answers = {
        "service": {"/books/1": [200, book]},
        "asyncpg": {"/books/1": [200, book.replace(": ", ":")]},  # the same JSON, spelled apart
        "core": {"/books/1": [200, other]},
        "orm": {"/books/1": [404, book]},
    }

    found = disagreements(answers)

    assert [line.split(" GET ")[0] for line in found] == ["core", "orm"]


@each_case(LAYER_CASES[:1])
def test_the_benchmark_refuses_pools_the_database_server_cannot_hold(
    project: Project, request: pytest.FixtureRequest
) -> None:
    # Fifty workers per server, each with the default pool: thousands of connections.
    result = run_bench(project, request, "bench", "--workers", "50")

    assert result.returncode != 0
    assert "connections to the database at once" in result.stderr, result.stderr
    assert "--data tune_pool=true" in result.stderr, result.stderr
