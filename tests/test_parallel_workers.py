"""Strategies that promise parallel runs: the generated suite also passes on two xdist workers."""

from harness.matrix import choice_questions, each_case, valid_cases
from harness.project import Project, assert_ok

# Strategies whose generated suite is also run with `pytest -n 2`.
PARALLEL_STRATEGIES = {"fresh"}


@each_case(case for case in valid_cases() if case["test_db_strategy"] in PARALLEL_STRATEGIES)
def test_generated_test_suite_passes_on_two_workers(project: Project) -> None:
    result = project.run("uv", "run", "pytest", "-p", "no:cacheprovider", "-n", "2", phase="tests")
    assert_ok(result)
    assert "2 workers" in result.stdout, result.stdout


def test_parallel_strategies_are_choices_in_copier_yml() -> None:
    offered = set(choice_questions()["test_db_strategy"])
    assert PARALLEL_STRATEGIES - offered == set()
