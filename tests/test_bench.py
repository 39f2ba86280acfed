"""Every generated project's own benchmark runs: both servers answer alike and no request fails.

A short run (the numbers mean nothing here); `python -m bench.run` is the long one.
"""

import pytest

from harness.matrix import each_case, valid_cases
from harness.project import Project, describe

pytestmark = each_case(valid_cases())


def test_the_shipped_benchmark_runs_with_both_servers_agreeing(
    project: Project, request: pytest.FixtureRequest
) -> None:
    server = request.getfixturevalue("postgres") if project.answers["is_postgres"] else None
    # The benchmark builds its database itself, next to this one.
    url = project.database_url("bench", server, recreate=False)
    short = ["--seconds", "1", "--rounds", "1", "--connections", "4", "--workers", "1"]

    result = project.run(
        "uv", "run", "python", "-m", "bench", "--database-url", url, *short, phase="bench"
    )

    assert result.returncode == 0, describe(result)
    rows = result.stdout[result.stdout.index("scenario") :].splitlines()[1:]
    assert [(row[:10].strip(), row[10:19].strip()) for row in rows] == [
        (scenario, target)
        for scenario in ("get one", "create", "list 50")
        for target in ("ceiling", "service")
    ], result.stdout
    assert [row.split()[-3] for row in rows] == ["0"] * 6, result.stdout  # errors per row
