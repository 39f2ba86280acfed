"""Harness fixtures: a PostgreSQL server, and each case rendered and installed once."""

import json
import os
import re
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from .matrix import Case, copy_template
from .project import (
    RESULTS_DIR,
    Project,
    clean_environment,
    describe,
    render,
    run_token,
    workspace,
)

POSTGRES_URL = os.environ.get(
    "TEMPLATE_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
# The URL scheme each PostgreSQL driver answer uses; a new driver must be added here on purpose.
POSTGRES_SCHEMES = {"asyncpg": "postgresql+asyncpg", "psycopg": "postgresql+psycopg"}


class PostgresServer:
    """The server the PostgreSQL cases test against; creates and drops their databases."""

    def __init__(self, url: str) -> None:
        self.dsn = url
        self.info = psycopg.conninfo.conninfo_to_dict(url)

    def connect(self) -> psycopg.Connection:
        return psycopg.connect(self.dsn, autocommit=True, connect_timeout=5)

    def url(self, scheme: str, database: str) -> str:
        user = self.info.get("user", "postgres")
        password = f":{self.info['password']}" if self.info.get("password") else ""
        host = self.info.get("host", "127.0.0.1")
        port = self.info.get("port", 5432)
        return f"{scheme}://{user}{password}@{host}:{port}/{database}"

    def recreate(self, database: str) -> None:
        with self.connect() as connection:
            name = sql.Identifier(database)
            connection.execute(sql.SQL("DROP DATABASE IF EXISTS {} (FORCE)").format(name))
            connection.execute(sql.SQL("CREATE DATABASE {}").format(name))

    def drop(self, database: str) -> None:
        with self.connect() as connection:
            name = sql.Identifier(database)
            connection.execute(sql.SQL("DROP DATABASE IF EXISTS {} (FORCE)").format(name))

    def connections_to(self, database: str) -> int:
        with self.connect() as connection:
            query = "SELECT count(*) FROM pg_stat_activity WHERE datname = %s"
            row = connection.execute(query, (database,)).fetchone()
            return int(row[0]) if row else 0


@pytest.fixture(scope="session")
def postgres() -> PostgresServer:
    server = PostgresServer(POSTGRES_URL)
    try:
        server.connect().close()
    except psycopg.OperationalError as error:
        pytest.fail(
            f"The PostgreSQL cases need a server and none answered at {POSTGRES_URL} ({error}). "
            "Start one there, or set TEMPLATE_POSTGRES_URL=postgresql://user:password@host:port/"
            "postgres for a user that may create databases.",
            pytrace=False,
        )
    return server


def database_name(case: Case, purpose: str) -> str:
    return f"tpl_{run_token()}_{case.id}_{purpose}".replace("-", "_")


@pytest.fixture(scope="session")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return copy_template(tmp_path_factory.mktemp("template"))


@pytest.fixture(scope="session")
def rendered(
    template: Path, tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Callable[[Case], Project]:
    """Render and install a case the first time a test asks for it; later tests reuse it."""
    projects: dict[str, Project | str] = {}

    def get(case: Case) -> Project:
        if case.id not in projects:
            projects[case.id] = build(case)
        project = projects[case.id]
        if isinstance(project, str):
            pytest.fail(project, pytrace=False)
        return project

    def build(case: Case) -> Project | str:
        extra = {}
        if case["db_driver"] in POSTGRES_SCHEMES:
            server: PostgresServer = request.getfixturevalue("postgres")
            scheme = POSTGRES_SCHEMES[case["db_driver"]]
            extra["TEST_DATABASE_URL"] = server.url(scheme, database_name(case, "tests"))
        base = workspace(tmp_path_factory.getbasetemp())
        destination = base / "projects" / case.id
        shutil.rmtree(destination, ignore_errors=True)
        destination.parent.mkdir(parents=True, exist_ok=True)
        project = render(case, template, destination, clean_environment(base, **extra))
        result = project.run("uv", "sync", phase="install")
        if result.returncode != 0:
            return f"{case.id} did not install: {describe(result)}"
        return project

    return get


@pytest.fixture
def project(case: Case, rendered: Callable[[Case], Project]) -> Project:
    return rendered(case)


def pytest_xdist_make_scheduler(config: pytest.Config, log: object) -> object:
    """Send all tests of a case to one worker, so that each case is rendered and installed once."""
    from xdist.scheduler import LoadScopeScheduling

    class CaseScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            # The scope of test_mypy_strict_passes[asyncpg-rollback] is "asyncpg-rollback".
            match = re.search(r"\[([^\]]+)\]$", nodeid)
            return match.group(1) if match else nodeid

    return CaseScheduling(config, log)


def pytest_sessionstart(session: pytest.Session) -> None:
    if not hasattr(session.config, "workerinput"):
        shutil.rmtree(RESULTS_DIR, ignore_errors=True)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """A table of where each case's time went (seconds), summed over its tests."""
    files = sorted(RESULTS_DIR.glob("*.json")) if RESULTS_DIR.is_dir() else []
    if not files:
        return
    columns = ["render", "install", "ruff", "format", "mypy", "alembic", "tests", "serve"]
    columns += ["ship", "image"]  # the ship files' validators, the image build replayed
    columns += ["bench"]  # the project's own benchmark, a short run
    write = terminalreporter.write_line
    terminalreporter.section("time per case (s)")
    write(f"{'case':<32}" + "".join(f"{name:>9}" for name in columns) + f"{'total':>9}")
    for file in files:
        timings = json.loads(file.read_text())
        cells = "".join(f"{timings.get(name, 0.0):>9.1f}" for name in columns)
        write(f"{file.stem:<32}{cells}{sum(timings.values()):>9.1f}")


def database_url(
    case: Case, project: Project, postgres: PostgresServer | None, purpose: str
) -> str:
    """A fresh database for one check: a new PostgreSQL database, or a new SQLite file."""
    if case["db_driver"] in POSTGRES_SCHEMES:
        name = database_name(case, purpose)
        assert postgres is not None, "a PostgreSQL case needs the postgres fixture"
        postgres.recreate(name)
        return postgres.url(POSTGRES_SCHEMES[case["db_driver"]], name)
    return f"sqlite+aiosqlite:///{project.path / f'{purpose}.db'}"


def iter_text(project: Project) -> Iterator[tuple[Path, str]]:
    for path in project.files():
        try:
            yield path, path.read_text()
        except UnicodeDecodeError:
            continue
