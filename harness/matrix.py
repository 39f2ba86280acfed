"""The answer matrix, derived from copier.yml: every combination of the choice questions.

Nothing here lists answers by hand, so a new choice in copier.yml is rendered and checked without
touching the tests. Copier itself decides which combinations are valid: a combination its
validators refuse is collected, with the refusal, as an invalid case. Copier also decides which
questions count: an answer to a question it skips (`when:` false, say connection_pooler for
SQLite), or to one after the question it refused, is left out of the case, so such combinations
collapse into one.
"""

import contextlib
import fcntl
import hashlib
import itertools
import json
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import copier
import pytest
import yaml

TEMPLATE_ROOT = Path(__file__).resolve().parents[1]
TEMPLATE_PARTS = ("copier.yml", "template", "hooks")
# A question's validator refuses with the first wording, a choice's own validator with the second.
REFUSED_QUESTION = re.compile(r"(?:Validation error for question|Invalid choice for) '(\w+)'")


@dataclass(frozen=True)
class Case:
    answers: tuple[tuple[str, str], ...]
    refusal: str | None
    # A value-coverage case is named, not spelled out: its answers include names and numbers.
    label: str | None = None

    @property
    def id(self) -> str:
        return self.label or "-".join(value for _, value in self.answers)

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


def choice_value(choice: Any) -> str:
    """A choice's value, also when it has its own validator ({value: ..., validator: ...})."""
    return choice["value"] if isinstance(choice, dict) else choice


def choice_questions() -> dict[str, list[str]]:
    """Each asked question with choices, mapped to its choice values, in copier.yml's order."""
    return {
        name: [choice_value(choice) for choice in body["choices"].values()]
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


# Copier's verdicts on the matrix, kept between processes (each xdist worker collects the tests,
# and every run does) under a digest of all they depend on: the template (copier.yml, template/,
# hooks/), this module (VALUE_COVERAGE and the rules above) and the harness's locked
# dependencies, Copier and Jinja among them. Asking Copier again costs each process some 17 CPU
# seconds (~80 pretend renders) before its first test.
VERDICTS = Path(tempfile.gettempdir()) / "template-harness-matrix"


def digest_of_inputs() -> str:
    digest = hashlib.sha256()
    files = [Path(__file__), TEMPLATE_ROOT / "uv.lock"]
    for part in TEMPLATE_PARTS:
        source = TEMPLATE_ROOT / part
        inside = [path for path in source.rglob("*") if "__pycache__" not in path.parts]
        files += sorted(path for path in inside if path.is_file()) or [source]
    for path in files:
        digest.update(f"{path.relative_to(TEMPLATE_ROOT)}\0".encode())
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def remembered(name: str, ask_copier: Callable[[], tuple[Case, ...]]) -> tuple[Case, ...]:
    """The cases `ask_copier` finds, read from VERDICTS if a process asked Copier already.

    One process asks at a time (a lock), so the others wait for its answer instead of competing
    with it for the cores; anything unreadable or unwritable there just means asking Copier.
    """
    kept = VERDICTS / f"{name}-{digest_of_inputs()}.json"
    try:
        VERDICTS.mkdir(exist_ok=True)
        lock = kept.with_suffix(".lock").open("a")
    except OSError:
        return ask_copier()
    with lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        with contextlib.suppress(OSError, ValueError, TypeError):
            return tuple(
                Case(tuple(map(tuple, answers)), refusal, label)
                for answers, refusal, label in json.loads(kept.read_text())
            )
        found = ask_copier()
        with contextlib.suppress(OSError):
            written = kept.with_suffix(f".{os.getpid()}")
            written.write_text(json.dumps([[c.answers, c.refusal, c.label] for c in found]))
            written.replace(kept)
        return found


@cache
def cases() -> tuple[Case, ...]:
    return remembered("cases", ask_copier_for_cases)


def ask_copier_for_cases() -> tuple[Case, ...]:
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


# Beyond the full product of the choices that change the rendered files: each remaining value of
# every other bool and choice question, and the number answers at their boundaries, spread over a
# few cases that each combine several non-default answers (the full product of those would be
# thousands of renders). Every check runs on them as on the product's cases.
# tests/test_questions.py checks that each such value is covered and that Copier accepts each case.
VALUE_COVERAGE = {
    # The smallest pools there are, never pinged, never recycled; a long name, which the project's
    # own ruff and formatter see in titles and docstrings.
    "cover-asyncpg-smallest-pool": {
        "project_name": "Inventory Reservation Service",
        "db_driver": "asyncpg",
        "test_db_strategy": "rollback",
        "connection_pooler": "none",
        "tune_pool": "true",
        "max_connections": "1",
        "reserved_connections": "0",
        "workers": "1",
        "instances": "1",
        "pool_size": "1",
        "max_overflow": "0",
        "pool_timeout": "300",
        "pool_recycle": "-1",
        "pool_pre_ping": "false",
    },
    # Many processes sharing a server: pools of 6 + 0, derived from the capacity; a non-ASCII name.
    "cover-psycopg-many-processes": {
        "project_name": "Café Réservations",
        "description": "Réservations de tables, en un mot : " + "x" * 44,
        "db_driver": "psycopg",
        "test_db_strategy": "fresh",
        "connection_pooler": "none",
        "tune_pool": "true",
        "max_connections": "200",
        "reserved_connections": "20",
        "workers": "3",
        "instances": "10",
        "pool_timeout": "12.5",
        "pool_recycle": "1",
    },
    # PgBouncer with a single server connection, the whole server given to it; a stdlib-like name.
    "cover-asyncpg-pgbouncer-one-connection": {
        "project_name": "Test",
        "db_driver": "asyncpg",
        "test_db_strategy": "throwaway",
        "connection_pooler": "pgbouncer",
        "tune_pool": "true",
        "max_connections": "1",
        "reserved_connections": "0",
        "pgbouncer_pool_size": "1",
    },
    # SQLite with the longest names the questions accept.
    "cover-aiosqlite-longest-names": {
        "project_name": "Email " + "Ä" * 44,
        "package_name": "e" * 30,
        "db_driver": "aiosqlite",
        "test_db_strategy": "sqlite_memory",
    },
}


@cache
def value_coverage_cases() -> tuple[Case, ...]:
    return remembered("value-coverage", ask_copier_for_value_coverage)


def ask_copier_for_value_coverage() -> tuple[Case, ...]:
    with tempfile.TemporaryDirectory() as folder:
        template = copy_template(Path(folder))
        return tuple(
            Case(tuple(answers.items()), outcome(template, answers)[0], label)
            for label, answers in VALUE_COVERAGE.items()
        )


def valid_cases() -> list[Case]:
    return [case for case in (*cases(), *value_coverage_cases()) if case.refusal is None]


def invalid_cases() -> list[Case]:
    return [case for case in cases() if case.refusal is not None]


def first_of_each(cases: Iterable[Case], *questions: str) -> list[Case]:
    """The first case for each combination of answers to `questions` (an unasked one: "")."""
    chosen: dict[tuple[str, ...], Case] = {}
    for case in cases:
        chosen.setdefault(tuple(case.data.get(question, "") for question in questions), case)
    return list(chosen.values())


def each_case(cases: Iterable[Case]) -> pytest.MarkDecorator:
    """Parametrize a test over these cases, each test of a case in the case's xdist group.

    Under `--dist loadgroup` one worker runs all of a case's tests, so it renders and installs the
    case once (tests/conftest.py checks that this holds).
    """
    return pytest.mark.parametrize(
        "case",
        [pytest.param(case, id=case.id, marks=pytest.mark.xdist_group(case.id)) for case in cases],
    )


# Strategies that promise parallel runs (the generated README: `pytest -n auto` works).
PARALLEL_STRATEGIES = {"fresh"}


def parallel_cases() -> list[Case]:
    """The cases whose own suite runs on two xdist workers (tests/test_combinations.py).

    How workers keep apart is up to the strategy's conftest, which differs by database (the MySQL
    cases answer neither question below), by PgBouncer and by the replicas' fixtures, not by the
    driver: one case of each kind, and another driver's case of the same kind proves the
    one-process run (tests/test_parallel_workers.py checks that there is one). So no suite runs
    twice for this; a separate two-worker run cost a whole suite per kind (about 35 CPU-s each).
    Chosen among the product's cases, whose answers name every question asked: a value-coverage
    case leaves reads_from to its default, so it would count as a kind of its own.
    """
    return first_of_each(
        [
            case
            for case in cases()
            if case.refusal is None and case["test_db_strategy"] in PARALLEL_STRATEGIES
        ],
        "connection_pooler",
        "reads_from",
    )
