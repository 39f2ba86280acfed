"""The answer matrix, derived from copier.yml: every combination of the choice questions.

Nothing here lists answers by hand, so a new choice in copier.yml is rendered and checked without
touching the tests. Copier itself decides which combinations are valid: a combination its
validators refuse is collected, with the refusal, as an invalid case. Copier also decides which
questions count: an answer to a question it skips (`when:` false, say connection_pooler for
SQLite), or to one after the question it refused, is left out of the case, so such combinations
collapse into one.
"""

import itertools
import re
import shutil
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import copier
import pytest
import yaml

TEMPLATE_ROOT = Path(__file__).resolve().parents[1]
TEMPLATE_PARTS = ("copier.yml", "template", "hooks")
REFUSED_QUESTION = re.compile(r"Validation error for question '(\w+)'")


@dataclass(frozen=True)
class Case:
    answers: tuple[tuple[str, str], ...]
    refusal: str | None

    @property
    def id(self) -> str:
        return "-".join(value for _, value in self.answers)

    @property
    def data(self) -> dict[str, str]:
        return dict(self.answers)

    def __getitem__(self, question: str) -> str:
        return self.data[question]


def copy_template(destination: Path) -> Path:
    """Copy the working tree's template (uncommitted changes included) to a plain folder.

    Rendering from a folder that is not a git repository makes Copier use the files as they are,
    instead of cloning the last commit.
    """
    destination.mkdir(parents=True, exist_ok=True)
    for part in TEMPLATE_PARTS:
        source = TEMPLATE_ROOT / part
        if source.is_dir():
            shutil.copytree(source, destination / part)
        else:
            shutil.copy2(source, destination / part)
    return destination


def questions() -> dict[str, Any]:
    spec = yaml.safe_load((TEMPLATE_ROOT / "copier.yml").read_text())
    return {name: body for name, body in spec.items() if not name.startswith("_")}


def choice_questions() -> dict[str, list[str]]:
    """Each asked question with choices, mapped to its choice values, in copier.yml's order."""
    return {
        name: list(body["choices"].values())
        if isinstance(body["choices"], dict)
        else list(body["choices"])
        for name, body in questions().items()
        if isinstance(body, dict) and "choices" in body and body.get("when") is not False
    }


def answers_of(worker: Any) -> dict[str, Any]:
    """Every answer the Worker that `copier.run_copy` returns holds after rendering, the computed
    (`when: false`) ones included.

    The answers file leaves computed answers out, so this is the one place to read them: the
    harness never re-derives what copier.yml computes (URL scheme, is_postgres, budgets).
    """
    combined = worker.answers.combined
    return {name: combined[name] for name in worker.template.questions_data if name in combined}


def pretend(template: Path, data: dict[str, Any]) -> Any:
    """Copier's Worker for `data`, answers and all, without writing a file; raises ValueError if
    Copier refuses the answers."""
    with tempfile.TemporaryDirectory() as destination:
        # unsafe: Copier refuses a template with tasks without it, even when nothing is written.
        return copier.run_copy(
            str(template),
            destination,
            data=data,
            defaults=True,
            pretend=True,
            quiet=True,
            unsafe=True,
        )


def outcome(template: Path, data: dict[str, str]) -> tuple[str | None, set[str]]:
    """Copier's validator message for these answers (None if it accepts them), and the questions
    whose answers do not matter: those it skipped, or those after the one it refused."""
    try:
        worker = pretend(template, data)
    except ValueError as error:
        refused = REFUSED_QUESTION.match(str(error))
        names = list(data)
        later = names[names.index(refused[1]) + 1 :] if refused and refused[1] in data else []
        return str(error), set(later)
    return None, set(worker.answers.hidden)


@cache
def cases() -> tuple[Case, ...]:
    choices = choice_questions()
    with tempfile.TemporaryDirectory() as folder:
        template = copy_template(Path(folder))
        found: dict[tuple[tuple[str, str], ...], Case] = {}
        for values in itertools.product(*choices.values()):
            answers = tuple(zip(choices, values, strict=True))
            refusal, skipped = outcome(template, dict(answers))
            asked = tuple((name, value) for name, value in answers if name not in skipped)
            found.setdefault(asked, Case(asked, refusal))
    return tuple(found.values())


def valid_cases() -> list[Case]:
    return [case for case in cases() if case.refusal is None]


def invalid_cases() -> list[Case]:
    return [case for case in cases() if case.refusal is not None]


def each_case(cases: Iterable[Case]) -> pytest.MarkDecorator:
    """Parametrize a test over these cases, each test of a case in the case's xdist group.

    Under `--dist loadgroup` one worker runs all of a case's tests, so it renders and installs the
    case once (tests/conftest.py checks that this holds).
    """
    return pytest.mark.parametrize(
        "case",
        [pytest.param(case, id=case.id, marks=pytest.mark.xdist_group(case.id)) for case in cases],
    )
