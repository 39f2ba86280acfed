"""Answers Copier must refuse, each with a sentence that says what to do instead."""

import re
import sys
from pathlib import Path

import copier
import pytest
import yaml

from harness.matrix import (
    TEMPLATE_ROOT,
    Case,
    answers_of,
    each_case,
    invalid_cases,
    pretend,
    questions,
    valid_cases,
    value_coverage_cases,
)


def copy(template: Path, destination: Path, **data: str) -> None:
    copier.run_copy(
        str(template), str(destination), data=data, defaults=True, quiet=True, unsafe=True
    )


# What each cross-question rule says, in the words the person saw on screen (the choice's label
# names the database, so the reason only has to say which one it needs).
CHOICE_REFUSALS = {
    "test_db_strategy": {"sqlite_memory": "SQLite projects only", "*": "needs PostgreSQL or MySQL"},
    "connection_pooler": {"pgbouncer": "needs PostgreSQL"},
    "reads_from": {"replicas": "not behind PgBouncer"},
}


def expected_choice_refusal(case: Case) -> str:
    for question, reasons in CHOICE_REFUSALS.items():
        if question in case.data and case.refusal and f"for '{question}'" in case.refusal:
            value = case[question]
            return f"Invalid choice for '{question}': {reasons.get(value, reasons.get('*'))}"
    raise AssertionError(f"no rule names the refusal of {case.id}: {case.refusal}")


@each_case(invalid_cases())
def test_invalid_combination_is_refused(case: Case, template: Path, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="Invalid choice") as error:
        copy(template, tmp_path / "service", **case.data)

    assert str(error.value) == expected_choice_refusal(case)
    assert not (tmp_path / "service").exists()


@pytest.mark.parametrize(
    ("answers", "message"),
    [
        pytest.param({"project_name": "   "}, "Give the service a name", id="blank-name"),
        pytest.param({"project_name": "!!!"}, "Use at least one letter or digit", id="no-letters"),
        pytest.param({"project_name": "x" * 51}, "Use at most 50 characters", id="long-name"),
        pytest.param(
            {"project_name": 'The "Best" API'}, "No double quotes or backslashes", id="quoted-name"
        ),
        pytest.param(
            {"package_name": "Billing-API"}, "Use a-z, 0-9 and _; start with a-z", id="dash"
        ),
        pytest.param({"package_name": "2fa"}, "start with a-z", id="package-digit"),
        pytest.param(
            {"package_name": "json"}, "Shadows a standard-library module", id="package-stdlib"
        ),
        pytest.param(
            {"package_name": "test"}, "Shadows a standard-library module", id="package-test"
        ),
        pytest.param(
            {"package_name": "tomllib"}, "Shadows a standard-library module", id="stdlib-3.11"
        ),
        pytest.param(
            {"package_name": "annotationlib"},
            "Shadows a standard-library module",
            id="stdlib-of-a-newer-python",
        ),
        pytest.param(
            {"package_name": "asyncore"},
            "Shadows a standard-library module",
            id="stdlib-of-3.11-only",
        ),
        pytest.param({"package_name": "import"}, "That is a Python keyword", id="keyword"),
        pytest.param(
            {"package_name": "migrations"}, "Shadows a folder of the project", id="own-folder"
        ),
        pytest.param({"package_name": "tests"}, "Shadows a folder of the project", id="tests"),
        pytest.param(
            {"package_name": "sqlalchemy"}, "Shadows a library the service uses", id="library"
        ),
        pytest.param({"package_name": "x" * 31}, "Use at most 30 characters", id="package-long"),
        pytest.param({"description": ""}, "Describe the service in a sentence", id="blank"),
        pytest.param(
            {"description": "word " * 20}, "At most 80 characters (it is 100)", id="long-text"
        ),
        pytest.param({"db_driver": "mysql"}, "'mysql' is not in", id="unknown-driver"),
        pytest.param({"max_connections": "0"}, "Answer 1 or more", id="max-connections-zero"),
        pytest.param({"reserved_connections": "-1"}, "Answer 0 or more", id="reserve-negative"),
        pytest.param(
            {"reserved_connections": "100"}, "At most 99 (of 100)", id="reserve-fills-the-server"
        ),
        pytest.param({"workers": "0"}, "Answer 1 or more", id="workers-zero"),
        pytest.param({"workers": "91"}, "At most 90: one connection each", id="workers-too-many"),
        pytest.param({"instances": "0"}, "Answer 1 or more", id="instances-zero"),
        pytest.param(
            {"workers": "4", "instances": "23"},
            "At most 22 (90 connections free)",
            id="processes-too-many",
        ),
        pytest.param({"pool_size": "0"}, "Answer 1 or more", id="pool-size-zero"),
        pytest.param({"pool_size": "-3"}, "Answer 1 or more", id="pool-size-negative"),
        pytest.param({"max_overflow": "-1"}, "Answer 0 or more", id="overflow-negative"),
        pytest.param({"pool_timeout": "0"}, "Answer above 0, e.g. 30", id="timeout-zero"),
        pytest.param({"pool_timeout": "-5"}, "Answer above 0, e.g. 30", id="timeout-negative"),
        pytest.param({"pool_timeout": "3600"}, "At most 300 seconds", id="timeout-huge"),
        pytest.param({"pool_recycle": "0"}, "Answer above 0, or -1 for never", id="recycle-zero"),
        pytest.param(
            {"pool_recycle": "-2"}, "Answer above 0, or -1 for never", id="recycle-below-1"
        ),
        pytest.param(
            {"connection_pooler": "pgbouncer", "pgbouncer_pool_size": "0"},
            "Answer 1 or more",
            id="pgbouncer-pool-zero",
        ),
        pytest.param(
            {"db_driver": "aiosqlite", "connection_pooler": "pgbouncer"},
            "Invalid choice for 'connection_pooler': needs PostgreSQL",
            id="pgbouncer-for-sqlite",
        ),
    ],
)
def test_bad_answer_is_refused_with_a_clear_message(
    answers: dict[str, str], message: str, template: Path, tmp_path: Path
) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        copy(template, tmp_path / "service", **answers)


@pytest.mark.parametrize(
    ("project_name", "package_name", "distribution"),
    [
        pytest.param("Billing API (v2)", "billing_api_v2", "billing-api-v2", id="punctuation"),
        pytest.param("Test", "test_service", "test", id="stdlib-name"),
        pytest.param("Email", "email_service", "email", id="another-stdlib-name"),
        pytest.param("Tests", "tests_service", "tests", id="the-project-s-own-folder"),
        pytest.param("Import", "import_service", "import", id="keyword"),
        pytest.param("2FA", "service_2fa", "2fa", id="leading-digit"),
        pytest.param("Café Réservations", "cafe_reservations", "cafe-reservations", id="accents"),
        pytest.param(
            "Inventory Reservation Service for Warehouses",
            "inventory_reservation_service",
            "inventory-reservation-service-for-warehouses",
            id="long",
        ),
    ],
)
def test_the_derived_package_name_is_always_valid(
    project_name: str, package_name: str, distribution: str, template: Path, tmp_path: Path
) -> None:
    copy(template, tmp_path, project_name=project_name)

    answers = yaml.safe_load((tmp_path / ".copier-answers.yml").read_text())
    assert answers["package_name"] == package_name
    assert (tmp_path / "src" / package_name / "main.py").is_file()
    assert f'name = "{distribution}"' in (tmp_path / "pyproject.toml").read_text()


def test_every_refusal_fits_the_line_copier_shows_at_80_columns() -> None:
    """Copier prints a refusal after "Validation error for question 'NAME': " on one line."""
    spec = yaml.safe_load((TEMPLATE_ROOT / "copier.yml").read_text())
    for name, body in spec.items():
        if name.startswith("_") or not isinstance(body, dict) or "validator" not in body:
            continue
        prefix = f"Validation error for question '{name}': "
        for line in body["validator"].splitlines():
            if "{%" in line or not line.strip():
                continue
            # Numbers are at most four digits at a prompt a person types into.
            shown = re.sub(r"\{\{[^}]*\}\}", "9999", line.strip())
            assert len(prefix + shown) <= 80, f"{name}: {shown!r} is cut at 80 columns"


def test_every_prompt_and_choice_label_fits_80_columns() -> None:
    for name, body in questions().items():
        if not isinstance(body, dict) or body.get("when") is False:
            continue
        for line in str(body.get("help", "")).splitlines():
            # The microphone Copier puts before the prompt takes three columns.
            assert len(line) + 3 <= 80, f"{name}'s prompt {line!r} is cut at 80 columns"
        for label, choice in dict(body.get("choices", {})).items():
            reason = choice.get("validator", "") if isinstance(choice, dict) else ""
            reason = re.sub(r"\{%.*?%\}", "", reason)
            row = f"   - {label} ({reason})" if reason else f"   {label}"
            assert len(row) <= 80, f"{name}'s choice {row!r} is cut at 80 columns"


def test_answers_file_records_the_answers_for_copier_update(template: Path, tmp_path: Path) -> None:
    copy(template, tmp_path, db_driver="psycopg")

    answers = yaml.safe_load((tmp_path / ".copier-answers.yml").read_text())
    assert answers["db_driver"] == "psycopg"
    assert answers["_src_path"] == str(template)


@pytest.mark.parametrize(
    ("answers", "question", "message"),
    [
        pytest.param(
            {"workers": "2", "instances": "2", "pool_size": "23"},
            "pool_size",
            "At most 22 per worker fit",
            id="pool-size-over-what-each-worker-may-hold",
        ),
        pytest.param(
            {"workers": "2", "instances": "2", "pool_size": "15", "max_overflow": "8"},
            "max_overflow",
            "At most 7: 22 per worker",
            id="overflow-over-what-each-worker-may-hold",
        ),
        pytest.param(
            {"max_connections": "50", "reserved_connections": "5", "workers": "46"},
            "workers",
            "At most 45: one connection each",
            id="more-workers-than-connections",
        ),
        pytest.param(
            {"connection_pooler": "pgbouncer", "pgbouncer_pool_size": "95"},
            "pgbouncer_pool_size",
            "At most 90 = 100 - 10 kept",
            id="pgbouncer-pool-too-big",
        ),
    ],
)
def test_connection_budget_that_does_not_fit_is_refused_at_the_typed_answer_with_the_numbers(
    answers: dict[str, str], question: str, message: str, template: Path, tmp_path: Path
) -> None:
    with pytest.raises(ValueError, match="Validation error") as error:
        copy(template, tmp_path / "service", **answers)

    assert str(error.value) == f"Validation error for question '{question}': {message}"


@pytest.mark.parametrize(
    ("answers", "pools"),
    [
        pytest.param({}, (2, 2, 15, 5), id="defaults"),
        pytest.param({"workers": "8", "instances": "4"}, (8, 4, 2, 0), id="many-processes"),
        pytest.param({"max_connections": "20"}, (2, 2, 2, 0), id="small-server"),
        pytest.param({"max_connections": "1"}, (1, 1, 1, 0), id="one-connection"),
        pytest.param({"max_connections": "5000"}, (2, 2, 15, 5), id="big-server"),
    ],
)
def test_the_pool_defaults_fit_the_capacity_answered_before_them(
    answers: dict[str, str], pools: tuple[int, int, int, int], template: Path, tmp_path: Path
) -> None:
    copy(template, tmp_path, **answers)

    recorded = yaml.safe_load((tmp_path / ".copier-answers.yml").read_text())
    names = ("workers", "instances", "pool_size", "max_overflow")
    assert tuple(recorded[name] for name in names) == pools
    processes = recorded["workers"] * recorded["instances"]
    budget = processes * (recorded["pool_size"] + recorded["max_overflow"])
    assert budget + recorded["reserved_connections"] <= recorded["max_connections"]


def test_untuned_pool_values_are_recorded_so_an_update_keeps_them(
    template: Path, tmp_path: Path
) -> None:
    """Asked or not, the pool sizes are in the answers file: Copier recomputes what it does not
    record on every update, and a changed default would then resize a project's pools silently."""
    copy(template, tmp_path, db_driver="psycopg")

    recorded = yaml.safe_load((tmp_path / ".copier-answers.yml").read_text())
    assert recorded["tune_pool"] is False
    expected = {"max_connections": 100, "reserved_connections": 10, "pool_size": 15}
    assert {name: recorded[name] for name in expected} == expected
    assert {"pool_timeout", "pool_recycle", "pool_pre_ping", "workers"} <= recorded.keys()


def test_pool_answers_are_neither_asked_nor_recorded_for_sqlite(
    template: Path, tmp_path: Path
) -> None:
    copy(template, tmp_path, db_driver="aiosqlite", test_db_strategy="sqlite_memory")

    answers = yaml.safe_load((tmp_path / ".copier-answers.yml").read_text())
    assert {"connection_pooler", "pool_size", "max_connections"}.isdisjoint(answers)


@pytest.mark.parametrize(
    "answers",
    [
        pytest.param({"pool_size": "15", "max_overflow": "5"}, id="pools"),
        pytest.param(
            {"instances": "3", "workers": "4", "pool_size": "15", "max_overflow": "0"},
            id="many-pools",
        ),
        pytest.param(
            {"connection_pooler": "pgbouncer", "pgbouncer_pool_size": "35"}, id="pgbouncer"
        ),
    ],
)
def test_computed_server_connections_are_exactly_what_the_budget_lets_through(
    answers: dict[str, str], template: Path
) -> None:
    """The benchmark holds a running service to server_connections; the validators must agree:
    typed pool sizes that need one connection more than max_connections leaves are refused."""
    answers = {**answers, "reserved_connections": "10", "max_connections": "1000"}
    connections = answers_of(pretend(template, answers))["server_connections"]

    pretend(template, {**answers, "max_connections": str(connections + 10)})
    with pytest.raises(ValueError, match="At most"):
        pretend(template, {**answers, "max_connections": str(connections + 9)})


def test_a_sqlite_project_opens_no_server_connections(template: Path) -> None:
    answers = answers_of(pretend(template, {"db_driver": "aiosqlite"}))

    assert answers["server_connections"] == 0


def test_the_refused_stdlib_names_include_every_module_of_the_running_python() -> None:
    """hooks/stdlib_modules.txt is written by scripts/stdlib_names.py; rerun it if this fails."""
    listed = (TEMPLATE_ROOT / "hooks" / "stdlib_modules.txt").read_text().split("\n")
    names = {name for name in listed if name and not name.startswith("#")}
    could_be_a_package = re.compile(r"^[a-z][a-z0-9_]*$")
    running = {name for name in sys.stdlib_module_names if could_be_a_package.match(name)}

    assert running - names == set()
    assert "test" in names


# The edge of what each number question accepts (tests above show one step past it is refused).
NUMBER_BOUNDARIES = {
    "max_connections": "1",
    "reserved_connections": "0",
    "pgbouncer_pool_size": "1",
    "workers": "1",
    "instances": "1",
    "pool_size": "1",
    "max_overflow": "0",
    "pool_timeout": "300",
    "pool_recycle": "-1",
}


def test_every_bool_value_and_number_boundary_is_rendered_by_some_case() -> None:
    rendered = [case.data for case in valid_cases()]
    for name, body in questions().items():
        if not isinstance(body, dict) or body.get("when") is False:
            continue
        if body.get("type") == "bool":
            seen = {str(answers.get(name, body["default"])).lower() for answers in rendered}
            assert seen == {"true", "false"}, f"{name} is never rendered with another answer"
        elif body.get("type") in {"int", "float"}:
            assert name in NUMBER_BOUNDARIES, f"say which answer of {name} is its boundary"
            edge = NUMBER_BOUNDARIES[name]
            assert any(answers.get(name) == edge for answers in rendered), f"{name}={edge}"


def test_copier_accepts_every_value_coverage_case() -> None:
    assert [(case.id, case.refusal) for case in value_coverage_cases() if case.refusal] == []
