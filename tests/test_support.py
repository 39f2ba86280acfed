"""The support CHANGELOG.md states, proven.

Python: every case of the harness runs on 3.11, the oldest supported; here one case per driver
passes mypy and `alembic check` on the newest supported Python (scripts/newest-python installs
it), and each driver's project passes its suite on it where a person runs it: the README's first
commands, in tests/test_first_minutes.py, find the newest Python first on PATH.

Dependencies: `uv sync --resolution lowest-direct` installs the lower bound of every dependency
pyproject.toml names (FastAPI 0.121, SQLAlchemy 2.1, Alembic 1.16, the driver's lowest, ...), so a
bound that is too low fails here instead of in a user's project.
"""

import shutil
from collections.abc import Callable
from pathlib import Path

import copier
import pytest

from harness import support
from harness.matrix import (
    TEMPLATE_ROOT,
    Case,
    choice_questions,
    each_case,
    first_of_each,
    valid_cases,
)
from harness.mysql import MySQLServer
from harness.postgres import PostgresServer
from harness.project import (
    Project,
    assert_ok,
    clean_environment,
    database_name,
    describe,
    hand_over,
    workspace,
)
from harness.support import OLDEST, MissingPythonError, newest_minor, newest_version

DRIVERS = choice_questions()["db_driver"]
MYSQL_DRIVERS = {"aiomysql", "asyncmy"}


@pytest.mark.own_project
@pytest.mark.parametrize(
    "driver",
    [
        pytest.param(d, id=f"lowest-{d}", marks=pytest.mark.xdist_group(f"lowest-{d}"))
        for d in DRIVERS
    ],
)
def test_the_lowest_allowed_direct_dependencies_pass_the_projects_suite(
    driver: str,
    template: Path,
    tmp_path_factory: pytest.TempPathFactory,
    request: pytest.FixtureRequest,
) -> None:
    case = Case(answers=(("scenario", f"lowest-{driver}"),), refusal=None)
    extra = {}
    if driver != "aiosqlite":
        mysql = driver in MYSQL_DRIVERS
        server: PostgresServer | MySQLServer = request.getfixturevalue(
            "mysql" if mysql else "postgres"
        )
        scheme = f"mysql+{driver}" if mysql else f"postgresql+{driver}"
        extra["TEST_DATABASE_URL"] = server.url(scheme, database_name(case, "tests"))
    base = workspace(tmp_path_factory.getbasetemp())
    destination = base / "lowest" / driver
    shutil.rmtree(destination, ignore_errors=True)
    destination.parent.mkdir(parents=True, exist_ok=True)
    project = Project(case, destination, clean_environment(base, **extra))
    with project.timed("render"):
        copier.run_copy(
            str(template),
            str(destination),
            data={"db_driver": driver},
            defaults=True,
            quiet=True,
            skip_tasks=True,
        )
        hand_over(destination)

    installed = project.sync("--resolution", "lowest-direct")
    assert installed.returncode == 0, describe(installed)
    result = project.run_suite(".venv/bin/pytest")

    assert result.returncode == 0, describe(result)


# One case per driver copier.yml offers (a new driver is covered with no change here), named apart
# from the same answers on 3.11 so that it gets its own folder, venv and databases.
NEWEST_CASES = [
    Case(case.answers, None, f"py{newest_minor().replace('.', '')}-{case.id}")
    for case in first_of_each(valid_cases(), "db_driver")
]


@pytest.fixture
def on_newest(project: Project, newest: Path) -> dict[str, str]:
    """The project's venv rebuilt on the newest Python from the same uv.lock: what to run it with.

    (The project fixture installed it on 3.11 first, as every case; `uv sync` with another
    interpreter replaces the venv, and does nothing once it matches.)
    """
    env = {"UV_PYTHON": str(newest)}
    assert_ok(project.sync("--locked", env=env))
    ran = project.run(".venv/bin/python", "-c", "import sys; print(sys.version)", phase="sync")
    assert ran.stdout.startswith(f"{newest_version()} "), describe(ran)
    return env


# ruff reads its target version from requires-python, not the interpreter: the 3.11 cases cover it.
@each_case(NEWEST_CASES)
def test_mypy_strict_passes_on_the_newest_python(
    project: Project, on_newest: dict[str, str]
) -> None:
    env = {**on_newest, "MYPY_CACHE_DIR": str(project.shared_cache("mypy"))}
    assert_ok(project.run("uv", "run", "mypy", "--strict", phase="mypy", env=env))


@each_case(NEWEST_CASES)
def test_migrations_match_the_models_on_the_newest_python(
    project: Project, on_newest: dict[str, str], fresh_database: Callable[[str], str]
) -> None:
    env = {**on_newest, "DATABASE__URL": fresh_database("alembic")}

    assert_ok(project.run("uv", "run", "alembic", "upgrade", "head", phase="alembic", env=env))
    assert_ok(project.run("uv", "run", "alembic", "check", phase="alembic", env=env))


def test_a_missing_newest_python_fails_saying_how_to_install_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(support, "newest_version", lambda: "3.99.0")

    with pytest.raises(MissingPythonError) as refused:
        support.newest_python()

    assert str(refused.value) == (
        "Python 3.99.0 is not installed at /opt/python-3.99.0/bin/python3.99: install it with "
        "`scripts/newest-python` (as root; .ci/run does)."
    )


def test_the_support_statement_names_the_bounds_pyproject_renders() -> None:
    """CHANGELOG.md's supported ranges are the template's own lower bounds, word for word."""
    changelog = (TEMPLATE_ROOT / "CHANGELOG.md").read_text()
    pyproject = (TEMPLATE_ROOT / "template" / "pyproject.toml.jinja").read_text()
    copier_yml = (TEMPLATE_ROOT / "copier.yml").read_text()
    for bound in ['"alembic>=1.16"', '"fastapi>=0.121"', '"pydantic-settings>=2.6"']:
        assert bound in pyproject
        name, _, version = bound.strip('"').partition(">=")
        assert f"`>={version}`" in changelog, f"CHANGELOG.md does not state {name} {version}"
    for requirement in ["asyncpg>=0.30", "psycopg[binary]>=3.2", "aiosqlite>=0.21"]:
        assert requirement in copier_yml
        version = requirement.partition(">=")[2]
        assert f"`>={version}`" in changelog, f"CHANGELOG.md does not state {requirement}"
    assert f'requires-python = ">={OLDEST}"' in pyproject
    assert f"Python {OLDEST} or newer" in changelog
    assert f"the harness proves {OLDEST} and {newest_minor()}" in changelog
