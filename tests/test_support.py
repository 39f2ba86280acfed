"""The support CHANGELOG.md states, proven: each driver's project on the lowest direct dependencies.

`uv sync --resolution lowest-direct` installs the lower bound of every dependency pyproject.toml
names (FastAPI 0.121, SQLAlchemy 2.0.36, Alembic 1.16, the driver's lowest, ...), so a bound that
is too low fails here instead of in a user's project. Only Python 3.11 exists on the machines
the harness runs on, so the Python range is stated, not yet proven beyond 3.11.
"""

import shutil
from pathlib import Path

import copier
import pytest

from harness.matrix import TEMPLATE_ROOT, Case
from harness.postgres import PostgresServer
from harness.project import (
    Project,
    clean_environment,
    database_name,
    describe,
    hand_over,
    workspace,
)

DRIVERS = ("asyncpg", "psycopg", "aiosqlite")


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
        server: PostgresServer = request.getfixturevalue("postgres")
        url = server.url(f"postgresql+{driver}", database_name(case, "tests"))
        extra["TEST_DATABASE_URL"] = url
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

    installed = project.run("uv", "sync", "--resolution", "lowest-direct", phase="sync")
    assert installed.returncode == 0, describe(installed)
    result = project.run_suite(".venv/bin/pytest")

    assert result.returncode == 0, describe(result)


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
    assert 'requires-python = ">=3.11"' in pyproject
    assert "Python 3.11 or newer" in changelog
