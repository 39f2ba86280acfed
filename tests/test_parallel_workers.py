"""Strategies that promise parallel runs: the generated suite also passes on two xdist workers."""

from harness.matrix import cases, choice_questions, each_case, first_of_each
from harness.project import Project, assert_ok

# Strategies whose generated suite is also run with `pytest -n 2`.
PARALLEL_STRATEGIES = {"fresh"}
# Not the API fuzz tests on two workers: what this run proves is that the workers keep to their own
# databases, and every other test writes, reads back and empties tables too (the fresh strategy
# truncates after each), so a shared database would fail them; the fuzz tests, a third of the
# suite's CPU, run on one worker for the same case in test_combinations.
FUZZ_TESTS_SKIPPED = "--ignore=tests/test_api_fuzz.py"


# What decides how workers keep apart is the strategy's conftest, which differs by database (the
# MySQL cases answer neither question below), by PgBouncer and by the replicas' fixtures, not by
# the driver: one case of each, not every case (each run costs a whole suite on two workers).
# Chosen among the product's cases, whose answers name every question asked: a value-coverage
# case leaves reads_from to its default, so it would count as a kind of its own and repeat one
# (cover-psycopg-many-processes repeated asyncpg-fresh-none-primary: 36 s of a whole run).
PARALLEL_CASES = first_of_each(
    [
        case
        for case in cases()
        if case.refusal is None and case["test_db_strategy"] in PARALLEL_STRATEGIES
    ],
    "connection_pooler",
    "reads_from",
)


@each_case(PARALLEL_CASES)
def test_generated_test_suite_passes_on_two_workers(project: Project) -> None:
    pytest = ["uv", "run", "pytest", "-p", "no:cacheprovider", FUZZ_TESTS_SKIPPED]
    result = project.run(*pytest, "-n", "2", phase="pytest")
    assert_ok(result)
    assert "2 workers" in result.stdout, result.stdout


def test_parallel_strategies_are_choices_in_copier_yml() -> None:
    offered = set(choice_questions()["test_db_strategy"])
    assert PARALLEL_STRATEGIES - offered == set()
