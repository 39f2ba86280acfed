"""Every valid answer combination, rendered once and put through the checks a user would run."""

import re
import signal
import subprocess
from collections.abc import Callable

import httpx

from harness.matrix import Case, choice_questions, each_case, parallel_cases, valid_cases
from harness.ports import free_port, wait_for_port
from harness.project import Project, assert_ok

pytestmark = each_case(valid_cases())

JINJA_LEFTOVER = re.compile(r"\{\{|\}\}|\{%|%\}|\{#|#\}")
# GitHub Actions expressions look like Jinja; in a workflow they are meant to be there.
GITHUB_EXPRESSION = re.compile(r"\$\{\{[^{}]*\}\}")
# Words that give a driver away; a rendered project may contain only its own driver's.
DRIVER_WORDS = {
    "asyncpg": re.compile(r"asyncpg", re.IGNORECASE),
    "psycopg": re.compile(r"psycopg", re.IGNORECASE),
    "aiomysql": re.compile(r"aiomysql", re.IGNORECASE),
    "asyncmy": re.compile(r"asyncmy", re.IGNORECASE),
    "aiosqlite": re.compile(r"sqlite", re.IGNORECASE),
}
POSTGRES_WORDS = re.compile(r"postgres|\bpg_", re.IGNORECASE)
MYSQL_WORDS = re.compile(r"mysql|mariadb|innodb", re.IGNORECASE)
# What only a project behind PgBouncer needs.
PGBOUNCER_WORDS = re.compile(
    r"pgbouncer|prepare_threshold|statement_cache_size|prepared_statement", re.IGNORECASE
)
# What only a project with its own pool has: pool settings, /metrics, the 503 on pool timeouts.
# Every project has /metrics (requests by route); only one with a pool (its own, or in front of
# PgBouncer) has pool gauges.
POOL_WORDS = re.compile(r"max_overflow|pool_timeout|db_pool_", re.IGNORECASE)

# Words that give a test-database strategy away, each with the strategies whose projects may use it.
STRATEGY_WORDS = {
    re.compile(r"pytest[-_]postgresql|postgresql_proc|pytest[-_]mysql|mysql_proc"): {"throwaway"},
    re.compile(r"\bTRUNCATE\b", re.IGNORECASE): {"fresh"},
    re.compile(r"testrun_uid"): {"fresh"},
    re.compile(r"join_transaction_mode|create_savepoint"): {
        "rollback",
        "throwaway",
        "sqlite_memory",
    },
    re.compile(r"TEST_DATABASE_URL"): {"rollback", "fresh"},
}


def test_no_jinja_is_left_over(project: Project) -> None:
    leftovers = [
        f"{path.relative_to(project.path)}: {match.group()}"
        for path, text in project.text_files()
        for match in [JINJA_LEFTOVER.search(GITHUB_EXPRESSION.sub("", text))]
        if match and path.suffix != ".mako"
    ]
    assert leftovers == []


def mentions(project: Project, pattern: re.Pattern[str], under: str = "") -> list[str]:
    return [
        f"{path.relative_to(project.path)}: {match.group()}"
        for path, text in project.text_files()
        if path.is_relative_to(project.path / under)
        for match in [pattern.search(text)]
        if match
    ]


def test_no_other_driver_is_mentioned(case: Case, project: Project) -> None:
    others = [
        DRIVER_WORDS[name] for name in choice_questions()["db_driver"] if name != case["db_driver"]
    ]
    if not project.answers["is_postgres"]:
        others.append(POSTGRES_WORDS)
    if not project.answers["is_mysql"]:
        others.append(MYSQL_WORDS)
    assert [found for pattern in others for found in mentions(project, pattern)] == []


def test_only_a_pgbouncer_project_mentions_pgbouncer(case: Case, project: Project) -> None:
    if case.data.get("connection_pooler") == "pgbouncer":
        assert mentions(project, PGBOUNCER_WORDS, "src") != []
    else:
        assert mentions(project, PGBOUNCER_WORDS) == []


def test_only_a_project_with_a_pool_has_pool_settings_and_metrics(
    case: Case, project: Project
) -> None:
    client_pool = project.answers["client_pool"]
    assert (mentions(project, POOL_WORDS) != []) == client_pool, mentions(project, POOL_WORDS)


def test_no_other_strategy_is_mentioned(case: Case, project: Project) -> None:
    unknown = set().union(*STRATEGY_WORDS.values()) - set(choice_questions()["test_db_strategy"])
    assert unknown == set(), "STRATEGY_WORDS names strategies copier.yml does not offer"
    others = [
        pattern
        for pattern, strategies in STRATEGY_WORDS.items()
        if case["test_db_strategy"] not in strategies
    ]
    assert [found for pattern in others for found in mentions(project, pattern)] == []


def test_ruff_check_passes(project: Project) -> None:
    assert_ok(project.run("uv", "run", "ruff", "check", ".", phase="ruff"))


def test_output_is_already_formatted(project: Project) -> None:
    assert_ok(project.run("uv", "run", "ruff", "format", "--check", "--diff", ".", phase="format"))


def test_mypy_strict_passes(project: Project) -> None:
    # mypy --strict spends most of a cold run on the dependencies (pydantic, SQLAlchemy,
    # FastAPI); a cache shared with the cases checked before reuses that work.
    env = {"MYPY_CACHE_DIR": str(project.shared_cache("mypy"))}
    assert_ok(project.run("uv", "run", "mypy", "--strict", phase="mypy", env=env))


def test_migrations_match_the_models(
    project: Project, fresh_database: Callable[[str], str]
) -> None:
    env = {"DATABASE__URL": fresh_database("alembic")}

    assert_ok(project.run("uv", "run", "alembic", "upgrade", "head", phase="alembic", env=env))
    assert_ok(project.run("uv", "run", "alembic", "check", phase="alembic", env=env))
    assert_ok(project.run("uv", "run", "alembic", "downgrade", "base", phase="alembic", env=env))


def test_generated_test_suite_passes(case: Case, project: Project) -> None:
    # A case of parallel_cases() runs on two xdist workers, the others on one (see there).
    two_workers = case in parallel_cases()
    result = project.run_suite("uv", "run", "pytest", *(["-n", "2"] if two_workers else []))
    assert_ok(result)
    if two_workers:
        assert "2 workers" in result.stdout, result.stdout


def test_service_serves_crud_over_http(
    project: Project, fresh_database: Callable[[str], str]
) -> None:
    env = {"DATABASE__URL": fresh_database("serve")}
    assert_ok(project.run("uv", "run", "alembic", "upgrade", "head", phase="serve", env=env))
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with project.timed("serve"):
        server = subprocess.Popen(
            [
                ".venv/bin/uvicorn",
                "--factory",
                f"{project.package}.main:create_app",
                "--port",
                str(port),
            ],
            cwd=project.path,
            env={**project.env, **env},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        try:
            wait_for_port(port, server, "the service", timeout=30)
            with httpx.Client(base_url=base, timeout=10) as client:
                assert client.get("/health/ready").json()["status"] == "ok"
                created = client.post("/authors", json={"name": "Served"})
                assert created.status_code == 201, created.text
                author_id = created.json()["id"]
                book = {"title": "Live", "isbn": "9780000000055", "author_id": author_id}
                assert client.post("/books", json=book).status_code == 201
                fetched = client.get(f"/authors/{author_id}").json()
                assert [b["title"] for b in fetched["books"]] == ["Live"]
                assert fetched["more_books"] is None
                page = client.get("/authors", params={"limit": 1}).json()
                assert [a["id"] for a in page["items"]] == [author_id]
                assert client.get(page["next"]).json() == {"items": [], "next": None}
                renamed = client.patch(f"/authors/{author_id}", json={"name": "Renamed"})
                assert renamed.json()["name"] == "Renamed"
                assert client.delete(f"/authors/{author_id}").status_code == 204
                assert client.get(f"/authors/{author_id}").status_code == 404
        finally:
            server.send_signal(signal.SIGINT)
            output, _ = server.communicate(timeout=30)
    assert server.returncode == 0, output
    assert "Application shutdown complete" in output, output
