"""Answers Copier must refuse, each with a sentence that says what to do instead."""

import re
from pathlib import Path

import copier
import pytest
import yaml

from harness.matrix import Case, answers_of, each_case, invalid_cases, pretend

TIMES = "\N{MULTIPLICATION SIGN}"  # as the budget's arithmetic is written


def copy(template: Path, destination: Path, **data: str) -> None:
    copier.run_copy(
        str(template), str(destination), data=data, defaults=True, quiet=True, unsafe=True
    )


@each_case(invalid_cases())
def test_invalid_combination_is_refused(case: Case, template: Path, tmp_path: Path) -> None:
    with pytest.raises(
        ValueError, match=r"Validation error for question '\w+': [A-Z].+\."
    ) as error:
        copy(template, tmp_path / "service", **case.data)

    assert str(error.value) == case.refusal
    assert not (tmp_path / "service").exists()


@pytest.mark.parametrize(
    ("answers", "message"),
    [
        pytest.param({"project_name": "   "}, "Give the service a name", id="blank-name"),
        pytest.param({"project_name": "!!!"}, "at least one letter or digit", id="no-letters"),
        pytest.param(
            {"project_name": 'The "Best" API'},
            "Leave double quotes and backslashes out of the name",
            id="quoted-name",
        ),
        pytest.param(
            {"package_name": "Billing-API"},
            '"Billing-API" is not a valid package name',
            id="package-with-dash",
        ),
        pytest.param({"package_name": "2fa"}, "start with a lowercase letter", id="package-digit"),
        pytest.param({"package_name": "json"}, "standard-library module", id="package-stdlib"),
        pytest.param({"package_name": "import"}, "Python keyword", id="package-keyword"),
        pytest.param({"package_name": "x" * 41}, "40 characters or fewer", id="package-long"),
        pytest.param({"description": ""}, "Describe the service", id="blank-description"),
        pytest.param(
            {"description": "word " * 20},
            "80 characters or fewer (it is 100)",
            id="long-description",
        ),
        pytest.param({"db_driver": "mysql"}, "'mysql' is not in", id="unknown-driver"),
        pytest.param({"pool_size": "0"}, "at least one connection", id="pool-size-zero"),
        pytest.param({"pool_size": "-3"}, "at least one connection", id="pool-size-negative"),
        pytest.param({"max_overflow": "-1"}, "overflow cannot be negative", id="overflow-negative"),
        pytest.param({"pool_timeout": "0"}, "above 0, e.g. 30", id="timeout-zero"),
        pytest.param({"pool_timeout": "-5"}, "above 0, e.g. 30", id="timeout-negative"),
        pytest.param({"pool_timeout": "3600"}, "300 seconds or less", id="timeout-huge"),
        pytest.param({"pool_recycle": "0"}, "replace a connection at every", id="recycle-zero"),
        pytest.param({"pool_recycle": "-2"}, "or -1 to keep connections", id="recycle-below-1"),
        pytest.param({"workers": "0"}, "at least one worker process", id="workers-zero"),
        pytest.param({"instances": "0"}, "At least one instance", id="instances-zero"),
        pytest.param({"reserved_connections": "-1"}, "reserve cannot be", id="reserve-negative"),
        pytest.param({"max_connections": "0"}, "at least 1", id="max-connections-zero"),
        pytest.param(
            {"reserved_connections": "100"},
            "The reserve of 100 connections leaves nothing of max_connections = 100",
            id="reserve-fills-the-server",
        ),
        pytest.param(
            {"connection_pooler": "pgbouncer", "pgbouncer_pool_size": "0"},
            "at least one server connection",
            id="pgbouncer-pool-zero",
        ),
        pytest.param(
            {"db_driver": "aiosqlite", "connection_pooler": "pgbouncer"},
            "a SQLite project has none",
            id="pgbouncer-for-sqlite",
        ),
    ],
)
def test_bad_answer_is_refused_with_a_clear_message(
    answers: dict[str, str], message: str, template: Path, tmp_path: Path
) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        copy(template, tmp_path / "service", **answers)


def test_package_name_defaults_to_the_project_name_in_snake_case(
    template: Path, tmp_path: Path
) -> None:
    copy(template, tmp_path, project_name="Billing API (v2)")

    answers = yaml.safe_load((tmp_path / ".copier-answers.yml").read_text())
    assert answers["package_name"] == "billing_api_v2"
    assert (tmp_path / "src" / "billing_api_v2" / "main.py").is_file()
    assert 'name = "billing-api-v2"' in (tmp_path / "pyproject.toml").read_text()


def test_answers_file_records_the_answers_for_copier_update(template: Path, tmp_path: Path) -> None:
    copy(template, tmp_path, db_driver="psycopg")

    answers = yaml.safe_load((tmp_path / ".copier-answers.yml").read_text())
    assert answers["db_driver"] == "psycopg"
    assert answers["_src_path"] == str(template)


@pytest.mark.parametrize(
    ("answers", "message"),
    [
        pytest.param(
            {"instances": "4", "workers": "4"},
            f"The pools do not fit: 4 instances {TIMES} 4 workers {TIMES}"
            " (15 pool_size + 5 max_overflow)"
            " + 10 reserved = 330 connections, more than max_connections = 100. To fit, lower the"
            " pools to pool_size=5 and max_overflow=0 (5 per worker), raise max_connections to"
            " 330, or put PgBouncer in front (connection_pooler=pgbouncer).",
            id="pools-too-big",
        ),
        pytest.param(
            {"instances": "3", "workers": "2", "pool_size": "20", "max_overflow": "0"},
            f"The pools do not fit: 3 instances {TIMES} 2 workers {TIMES}"
            " (20 pool_size + 0 max_overflow)"
            " + 10 reserved = 130 connections, more than max_connections = 100. To fit, lower the"
            " pools to pool_size=15 and max_overflow=0 (15 per worker), raise max_connections to"
            " 130, or put PgBouncer in front (connection_pooler=pgbouncer).",
            id="pool-size-too-big",
        ),
        pytest.param(
            {"instances": "20", "workers": "8"},
            f"The pools do not fit: 20 instances {TIMES} 8 workers {TIMES}"
            " (15 pool_size + 5 max_overflow)"
            " + 10 reserved = 3210 connections, more than max_connections = 100. To fit, run at"
            " most 90 worker processes in all, raise max_connections to 3210, or put PgBouncer in"
            " front (connection_pooler=pgbouncer).",
            id="too-many-processes",
        ),
        pytest.param(
            {"connection_pooler": "pgbouncer", "pgbouncer_pool_size": "95"},
            "PgBouncer's pool does not fit: 95 pgbouncer_pool_size + 10 reserved = 105"
            " connections, more than max_connections = 100. To fit, lower pgbouncer_pool_size to"
            " 90 or raise max_connections to 105.",
            id="pgbouncer-pool-too-big",
        ),
    ],
)
def test_connection_budget_that_does_not_fit_is_refused_with_the_arithmetic(
    answers: dict[str, str], message: str, template: Path, tmp_path: Path
) -> None:
    with pytest.raises(ValueError, match="max_connections") as error:
        copy(template, tmp_path / "service", **answers)

    assert str(error.value) == f"Validation error for question 'max_connections': {message}"


def test_suggested_pool_values_fit_the_budget(template: Path, tmp_path: Path) -> None:
    copy(
        template,
        tmp_path,
        instances="4",
        workers="4",
        pool_size="5",
        max_overflow="0",
    )

    settings = (tmp_path / "src" / "my_service" / "settings.py").read_text()
    assert "pool_size: Annotated[int, Field(ge=1)] = 5" in settings
    assert "max_overflow: Annotated[int, Field(ge=0)] = 0" in settings


def test_pool_answers_are_neither_asked_nor_recorded_for_sqlite(
    template: Path, tmp_path: Path
) -> None:
    copy(template, tmp_path, db_driver="aiosqlite", test_db_strategy="sqlite_memory")

    answers = yaml.safe_load((tmp_path / ".copier-answers.yml").read_text())
    assert {"connection_pooler", "pool_size", "max_connections"}.isdisjoint(answers)


@pytest.mark.parametrize(
    "answers",
    [
        pytest.param({}, id="pools"),
        pytest.param({"instances": "3", "workers": "4", "max_overflow": "0"}, id="many-pools"),
        pytest.param(
            {"connection_pooler": "pgbouncer", "pgbouncer_pool_size": "35"}, id="pgbouncer"
        ),
    ],
)
def test_computed_server_connections_are_exactly_what_the_budget_lets_through(
    answers: dict[str, str], template: Path
) -> None:
    """The benchmark holds a running service to server_connections; the validator must agree."""
    answers = {**answers, "reserved_connections": "10", "max_connections": "1000"}
    connections = answers_of(pretend(template, answers))["server_connections"]

    pretend(template, {**answers, "max_connections": str(connections + 10)})
    with pytest.raises(ValueError, match="not fit"):
        pretend(template, {**answers, "max_connections": str(connections + 9)})


def test_a_sqlite_project_opens_no_server_connections(template: Path) -> None:
    answers = answers_of(pretend(template, {"db_driver": "aiosqlite"}))

    assert answers["server_connections"] == 0
