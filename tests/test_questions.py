"""Answers Copier must refuse, each with a sentence that says what to do instead."""

import re
from pathlib import Path

import copier
import pytest
import yaml

from .matrix import Case, invalid_cases


def copy(template: Path, destination: Path, **data: str) -> None:
    copier.run_copy(
        str(template), str(destination), data=data, defaults=True, quiet=True, unsafe=True
    )


@pytest.mark.parametrize("case", [pytest.param(case, id=case.id) for case in invalid_cases()])
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
