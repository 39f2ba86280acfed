"""Benchmark (not a test): what each test-database strategy costs per test, and the matrix's time.

For every valid answer combination in copier.yml: render the project, install it, add N trivial
database tests (one request that reads the database each), run the generated suite with N=0 and
with N, and report (time with N - time with 0) / N as the strategy's per-test overhead. The run's
fixed costs (interpreter start, migrations, starting a throwaway server) cancel out.

    uv run python -m bench.strategies                 # every combination, N=200
    uv run python -m bench.strategies -k fresh -n 100
    uv run python -m bench.strategies --matrix        # also time a whole scripts/test run
"""

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from harness.matrix import TEMPLATE_ROOT, cases, copy_template, valid_cases
from harness.postgres import PostgresServer
from harness.project import Project, clean_environment, describe, render, workspace

BENCH_TESTS = '''"""Trivial database tests added by bench/strategies.py: one read per test."""

import pytest
from fastapi import FastAPI
from httpx import AsyncClient


@pytest.mark.parametrize("n", range({count}))
async def test_trivial_database_read(app: FastAPI, client: AsyncClient, n: int) -> None:
    response = await client.get(app.url_path_for("list_authors"))
    assert response.status_code == 200
'''


def suite_seconds(project: Project, extra_tests: int, repeats: int) -> float:
    """The best of `repeats` runs of the generated suite with `extra_tests` trivial tests added."""
    bench_file = project.path / "tests" / "test_bench_overhead.py"
    if extra_tests:
        bench_file.write_text(BENCH_TESTS.format(count=extra_tests))
        shutil.chown(bench_file, *owner(project.path))
    else:
        bench_file.unlink(missing_ok=True)
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        result = project.run("uv", "run", "pytest", "-q", "-p", "no:cacheprovider", phase="pytest")
        elapsed = time.perf_counter() - start
        if result.returncode != 0:
            sys.exit(f"{project.case.id}: the generated suite failed: {describe(result)}")
        best = min(best, elapsed)
    return best


def owner(path: Path) -> tuple[str, str]:
    return path.owner(), path.group()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", "--tests", type=int, default=200, help="trivial tests to add (200)")
    parser.add_argument("-k", "--only", default="", help="only cases whose id contains this")
    parser.add_argument("--repeats", type=int, default=2, help="runs per measurement; best wins")
    parser.add_argument("--matrix", action="store_true", help="also time a whole scripts/test")
    args = parser.parse_args()

    server = PostgresServer()
    with tempfile.TemporaryDirectory() as scratch:
        template = copy_template(Path(scratch))
        base = workspace(Path(scratch))
        rows = []
        for case in valid_cases():
            if args.only not in case.id:
                continue
            destination = base / "bench" / case.id
            project = render(case, template, destination, clean_environment(base))
            if project.answers["is_postgres"]:
                url = project.database_url("bench", server.check(), recreate=False)
                project.env["TEST_DATABASE_URL"] = url
            project.install("-q")
            without = suite_seconds(project, 0, args.repeats)
            with_extra = suite_seconds(project, args.tests, args.repeats)
            per_test_ms = (with_extra - without) / args.tests * 1000
            rows.append((case.id, without, with_extra, per_test_ms))
            print(f"{case.id}: {without:.1f} s -> {with_extra:.1f} s, {per_test_ms:.1f} ms/test")
            shutil.rmtree(destination, ignore_errors=True)

    print()
    width = max([28, *(len(case_id) + 2 for case_id, *_ in rows)])
    print(
        f"{'case':<{width}}{'suite (s)':>12}{f'+{args.tests} tests (s)':>18}{'per test (ms)':>16}"
    )
    for case_id, without, with_extra, per_test_ms in rows:
        print(f"{case_id:<{width}}{without:>12.1f}{with_extra:>18.1f}{per_test_ms:>16.1f}")

    if args.matrix:
        start = time.perf_counter()
        result = subprocess.run([TEMPLATE_ROOT / "scripts" / "test", "-q"], check=False)
        elapsed = time.perf_counter() - start
        valid, total = len(valid_cases()), len(cases())
        status = "passed" if result.returncode == 0 else f"FAILED ({result.returncode})"
        print(
            f"\nmatrix: {valid} valid and {total - valid} refused combinations; "
            f"scripts/test {status} in {elapsed:.0f} s"
        )


if __name__ == "__main__":
    main()
