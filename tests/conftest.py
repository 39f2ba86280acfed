"""Harness fixtures: the database servers, and each case rendered and installed once."""

import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from harness.matrix import Case, copy_template, first_of_each, valid_cases
from harness.mysql import MySQLServer, NoMySQLServerError
from harness.postgres import NoServerError, PostgresServer
from harness.project import (
    RESULTS_DIR,
    CommandError,
    Project,
    clean_environment,
    render,
    workspace,
)


@pytest.fixture(scope="session")
def postgres() -> PostgresServer:
    try:
        return PostgresServer().check()
    except NoServerError as error:
        pytest.fail(str(error), pytrace=False)


@pytest.fixture(scope="session")
def mysql() -> MySQLServer:
    try:
        return MySQLServer().check()
    except NoMySQLServerError as error:
        pytest.fail(str(error), pytrace=False)


def server_of(
    project: Project, request: pytest.FixtureRequest
) -> PostgresServer | MySQLServer | None:
    """The database server a case's project needs (None for SQLite), failing if it is missing."""
    if project.answers["is_postgres"]:
        server: PostgresServer = request.getfixturevalue("postgres")
        return server
    if project.answers["is_mysql"]:
        mysql_server: MySQLServer = request.getfixturevalue("mysql")
        return mysql_server
    return None


@pytest.fixture(scope="session")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return copy_template(tmp_path_factory.mktemp("template"))


@pytest.fixture(scope="session")
def rendered(
    template: Path,
    tmp_path_factory: pytest.TempPathFactory,
    request: pytest.FixtureRequest,
    testrun_uid: str,
) -> Callable[[Case], Project]:
    """Render and install a case the first time a test asks for it; later tests reuse it."""
    projects: dict[str, Project | str] = {}

    def get(case: Case) -> Project:
        if case.id not in projects:
            claim(case, testrun_uid)
            projects[case.id] = build(case)
        project = projects[case.id]
        if isinstance(project, str):
            pytest.fail(project, pytrace=False)
        return project

    def build(case: Case) -> Project | str:
        base = workspace(tmp_path_factory.getbasetemp())
        project = render(case, template, base / "projects" / case.id, clean_environment(base))
        server = server_of(project, request)
        if server is not None:
            url = project.database_url("tests", server, recreate=False)
            project.env["TEST_DATABASE_URL"] = url
        try:
            project.install()
        except CommandError as error:
            return str(error)
        return project

    return get


def claim(case: Case, testrun_uid: str) -> None:
    """Fail if another xdist worker of this run already rendered this case.

    Two workers would each render the case into the same folder and share its databases. Under
    `--dist loadgroup` the case's xdist_group mark (each_case) keeps its tests on one worker; this
    says so loudly if that grouping ever stops working (pytest-xdist 3.8 with pytest 9.2 does).
    """
    claims = RESULTS_DIR / "claims" / testrun_uid
    claims.mkdir(parents=True, exist_ok=True)
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    try:
        with (claims / case.id).open("x") as file:
            file.write(worker)
    except FileExistsError:
        owner = (claims / case.id).read_text()
        pytest.fail(
            f"{case.id} was already rendered by {owner}, and {worker} got tests of it too: a"
            " case's tests must run on one worker (`--dist loadgroup`, pyproject.toml's addopts,"
            " with the xdist_group marks of each_case; pytest 9.2 breaks them, see the pin).",
            pytrace=False,
        )


@pytest.fixture
def project(case: Case, rendered: Callable[[Case], Project]) -> Project:
    return rendered(case)


@pytest.fixture
def fresh_database(project: Project, request: pytest.FixtureRequest) -> Callable[[str], str]:
    """A new, empty database of the project for one purpose: its URL (the server only if needed)."""

    def create(purpose: str) -> str:
        return project.database_url(purpose, server_of(project, request))

    return create


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--quick",
        action="store_true",
        help="check one case per driver (and every template-wide test): the inner loop",
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not config.getoption("--quick"):
        return
    quick = {case.id for case in first_of_each(valid_cases(), "db_driver")}
    kept, dropped = [], []
    for item in items:
        case = item.callspec.params.get("case") if hasattr(item, "callspec") else None
        skip = isinstance(case, Case) and case.refusal is None and case.id not in quick
        (dropped if skip else kept).append(item)
    config.hook.pytest_deselected(items=dropped)
    items[:] = kept


def pytest_sessionstart(session: pytest.Session) -> None:
    if not hasattr(session.config, "workerinput"):
        shutil.rmtree(RESULTS_DIR, ignore_errors=True)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """A table of where each case's time went (seconds), summed over its tests."""
    files = sorted(RESULTS_DIR.glob("*.json")) if RESULTS_DIR.is_dir() else []
    if not files:
        return
    columns = ["render", "sync", "ruff", "format", "mypy", "alembic", "pytest", "fuzz"]
    columns += ["serve", "ship", "image"]  # served over HTTP, ship files' validators, the image
    columns += ["bench"]  # the benchmark, a short run (one case per driver and pooler)
    rows = {file.stem: json.loads(file.read_text()) for file in files}
    others = sorted({phase for timings in rows.values() for phase in timings} - set(columns))
    columns += others  # a phase a new check times, until it gets its own place above
    rows["all cases"] = {
        name: sum(timings.get(name, 0.0) for timings in rows.values()) for name in columns
    }
    write = terminalreporter.write_line
    terminalreporter.section("time per case and stage (s)")
    width = max(len(name) for name in rows) + 2
    write(f"{'case':<{width}}" + "".join(f"{name:>8}" for name in columns) + f"{'total':>8}")
    for name, timings in rows.items():
        cells = "".join(f"{timings.get(column, 0.0):>8.1f}" for column in columns)
        write(f"{name:<{width}}{cells}{sum(timings.values()):>8.1f}")
