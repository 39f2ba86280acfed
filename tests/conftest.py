"""Harness fixtures: the database servers, and each case rendered and installed once."""

import json
import os
import resource
import shutil
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from harness.history import NOW, Step
from harness.matrix import Case, copy_template, first_of_each, valid_cases
from harness.mysql import MySQLServer, NoMySQLServerError
from harness.postgres import NoServerError, PostgresServer
from harness.project import (
    RESULTS_DIR,
    CommandError,
    Project,
    clean_environment,
    cpu_seconds,
    render,
    workspace,
)
from harness.support import MissingPythonError, newest_python


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
def newest() -> Path:
    """The newest supported Python (scripts/newest-python), failing with how to install it."""
    try:
        return newest_python()
    except MissingPythonError as error:
        pytest.fail(str(error), pytrace=False)


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
        help="one case per driver, the update to a stand-in next release per driver, and the"
        " template-wide tests: the inner loop",
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--quick"):
        kept = [item for item in items if in_quick_run(item)]
        config.hook.pytest_deselected(items=[item for item in items if item not in kept])
        items[:] = kept
    # Longest first: xdist hands out the groups in this order (after those with the most tests,
    # see --no-loadscope-reorder in pyproject.toml), so no long group starts last and leaves
    # the other workers idle at the end. The sort is stable: a group's tests keep their order.
    items.sort(key=lambda item: -expected_minutes(item))


def parameter(item: pytest.Item, name: str) -> object:
    return (
        item.callspec.params.get(name)
        if isinstance(item, pytest.Function) and hasattr(item, "callspec")
        else None
    )


def in_quick_run(item: pytest.Item) -> bool:
    """One case per driver with every check, the update from the working tree to a stand-in next
    release per driver, and every other test but those that install and test a project of their
    own (own_project) or are marked whole_run: the releases' updates and their suites, the update
    scenarios' suites and the benchmark's tests are left to the whole run."""
    if item.get_closest_marker("whole_run") is not None:
        return False
    case, step = parameter(item, "case"), parameter(item, "step")
    if isinstance(case, Case) and case.refusal is None:
        return case.id in {case.id for case in first_of_each(valid_cases(), "db_driver")}
    if isinstance(step, Step):  # the update to a stand-in next release: no suite, so quick
        return step.version == NOW
    return item.get_closest_marker("own_project") is None


def expected_minutes(item: pytest.Item) -> float:
    """Roughly what the test's xdist group takes on a quiet 2-core machine (the timing table)."""
    case, step = parameter(item, "case"), parameter(item, "step")
    if isinstance(case, Case):  # rendered, installed, every check, the project's suite; or refused
        return 3 if case.refusal is None else 0
    if isinstance(step, Step):
        return 2 if step.version != NOW else 1  # an update; from a release, then the suite
    if item.get_closest_marker("own_project") is not None:
        return 2  # the lowest dependencies' suite, say
    if item.get_closest_marker("xdist_group") is not None:
        return 1  # a scenario of its own (an update, a release)
    return 0


SESSION_START = time.monotonic()


def pytest_sessionstart(session: pytest.Session) -> None:
    if not hasattr(session.config, "workerinput"):
        shutil.rmtree(RESULTS_DIR, ignore_errors=True)


def pytest_sessionfinish(session: pytest.Session) -> None:
    """Each process's CPU seconds, its commands' included, for the busy cores in the summary."""
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if worker is not None:
        (RESULTS_DIR / "cpu").mkdir(parents=True, exist_ok=True)
        (RESULTS_DIR / "cpu" / f"{worker}.json").write_text(json.dumps(cpu_seconds()))


COLUMNS = ["render", "sync", "ruff", "format", "mypy", "alembic", "pytest", "fuzz"]
COLUMNS += ["serve", "ship", "image"]  # served over HTTP, ship files' validators, the image
COLUMNS += ["bench"]  # the benchmark, a short run (one case per driver and pooler)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Where the time went: per case and stage, summed over the case's tests, longest first.

    Wall seconds, then CPU seconds (the harness's and its commands'): on a shared machine the
    wall clock also counts time other processes held the cores, CPU time does not.
    """
    files = sorted(RESULTS_DIR.glob("*.json")) if RESULTS_DIR.is_dir() else []
    saved = {file.stem: json.loads(file.read_text()) for file in files}
    if not saved:
        return
    for kind in ("wall", "cpu"):
        rows = {name: timings[kind] for name, timings in saved.items()}
        write_timing_table(terminalreporter, kind, rows)
    # Busy cores: well under the machine's count means the run waits (sleeps, the network, a
    # long group at the end) and more xdist workers (-n) would shorten it; near it, only less
    # work would. Read it on a machine nothing else runs on.
    wall = time.monotonic() - SESSION_START
    workers = [float(file.read_text()) for file in (RESULTS_DIR / "cpu").glob("*.json")]
    # With workers, this process's own time (not its children's: the workers, counted above).
    own = resource.getrusage(resource.RUSAGE_SELF)
    cpu = sum(workers) + own.ru_utime + own.ru_stime if workers else cpu_seconds()
    terminalreporter.write_line(
        f"whole run: {wall:.0f} s wall, {cpu:.0f} s CPU, {cpu / wall:.2f} of"
        f" {os.cpu_count()} cores busy on average"
    )


def write_timing_table(
    terminalreporter: pytest.TerminalReporter, kind: str, rows: dict[str, dict[str, float]]
) -> None:
    others = sorted({phase for timings in rows.values() for phase in timings} - set(COLUMNS))
    columns = [  # a phase a new check times is shown too, until it gets its own place above
        name for name in [*COLUMNS, *others] if any(name in timings for timings in rows.values())
    ]
    ordered = sorted(rows.items(), key=lambda row: -sum(row[1].values()))
    ordered.append(
        (
            "all cases",
            {name: sum(timings.get(name, 0.0) for timings in rows.values()) for name in columns},
        )
    )
    write = terminalreporter.write_line
    terminalreporter.section(f"{kind} seconds per case and stage, longest first")
    width = max(len(name) for name, _ in ordered) + 2
    write(f"{'case':<{width}}" + "".join(f"{name:>8}" for name in columns) + f"{'total':>8}")
    for name, timings in ordered:
        cells = "".join(f"{timings.get(column, 0.0):>8.1f}" for column in columns)
        write(f"{name:<{width}}{cells}{sum(timings.values()):>8.1f}")
