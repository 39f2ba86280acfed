"""Strategies that promise parallel runs: one case of each kind runs its suite on two workers.

The runs themselves are the cases' own suites (tests/test_combinations.py, harness.matrix.
parallel_cases); these check that the choice of cases still proves both ways of running.
"""

from harness.matrix import (
    PARALLEL_STRATEGIES,
    Case,
    cases,
    choice_questions,
    parallel_cases,
    valid_cases,
)

# Each database family has one conftest per strategy; the drivers of a family share it.
FAMILIES = {"asyncpg": "postgres", "psycopg": "postgres", "aiomysql": "mysql", "asyncmy": "mysql"}


def conftest_kind(case: Case) -> tuple[str, ...]:
    """What decides how a case's suite keeps xdist workers apart: its database's conftest."""
    driver = case.data.get("db_driver", "")
    questions = ("test_db_strategy", "connection_pooler", "reads_from")
    return (FAMILIES.get(driver, driver), *(case.data.get(question, "") for question in questions))


def test_every_kind_of_parallel_conftest_runs_on_two_workers() -> None:
    kinds = {
        conftest_kind(case)
        for case in cases()
        if case.refusal is None and case["test_db_strategy"] in PARALLEL_STRATEGIES
    }
    assert {conftest_kind(case) for case in parallel_cases()} == kinds


def test_every_kind_run_on_two_workers_also_runs_on_one_in_another_case() -> None:
    chosen = parallel_cases()
    on_one = {conftest_kind(case) for case in valid_cases() if case not in chosen}
    assert [case.id for case in chosen if conftest_kind(case) not in on_one] == []


def test_parallel_strategies_are_choices_in_copier_yml() -> None:
    offered = set(choice_questions()["test_db_strategy"])
    assert PARALLEL_STRATEGIES - offered == set()
