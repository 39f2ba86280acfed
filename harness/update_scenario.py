"""The `copier update` scenario of tests/test_update.py: a template history, a project, its edits.

A copy of this repository's template (working tree included, as everywhere in the harness) becomes
a git repository tagged v1.0.0. A project is generated from it, committed, and edited the way a
team edits its service. The template then changes (a fix in a file the team also edited, a new
file, a renamed question with its migration) and is tagged v1.1.0; `copier update` brings the
project there. A second checkout also rewrote a line the template fixes, to see a conflict.
"""

import os
import re
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import copier
import yaml

from .history import GIT_ENV, commit_all, copier_git_environment, git, write_git_config
from .matrix import Case, copy_template
from .postgres import PostgresServer
from .project import Project, clean_environment, database_name, hand_over

# Rows of the harness's timing table (and parts of database names) for the two projects here.
SCENARIO = Case(answers=(("scenario", "update"),), refusal=None)
SWITCHED = Case(answers=(("scenario", "update-psycopg"),), refusal=None)
ANSWERS = {
    "project_name": "Catalogue",
    "package_name": "catalogue",
    "description": "Books and their authors, for the catalogue team.",
    "db_driver": "asyncpg",
}
PACKAGE = ANSWERS["package_name"]

# --- the template's change between v1.0.0 and v1.1.0 -------------------------------------------

TEMPLATE_DOCSTRING = (
    '"""Service configuration: the environment and a `.env` file, read at startup."""'
)
TEMPLATE_README_ADDITION = (
    "\n## Updating\n\nThis service was generated from a template: `copier update --trust` brings in"
    " its fixes.\n"
)
TEMPLATE_NEW_FILE = ".editorconfig"
TEMPLATE_NEW_FILE_TEXT = "root = true\n\n[*]\nend_of_line = lf\ninsert_final_newline = true\n"
# The version also starts rendering a .env, which the project already has (_skip_if_exists).
TEMPLATE_ENV = "DATABASE__ECHO=false\n"
# The renamed question, and the migration that carries the project's answer across.
RENAMED_FROM, RENAMED_TO = "description", "summary"
RENAME_MIGRATION = {
    "version": "1.1.0",
    "when": "{{ _stage == 'before' }}",
    "command": [
        "{{ _copier_python }}",
        "{{ _copier_conf.src_path }}/hooks/migrate.py",
        "rename-answer",
        RENAMED_FROM,
        RENAMED_TO,
    ],
}


def replace_once(text: str, old: str, new: str) -> str:
    assert text.count(old) == 1, f"expected {old!r} once; the template changed under this test"
    return text.replace(old, new)


def replace_first_line(text: str, line: str) -> str:
    first, _, rest = text.partition("\n")
    assert first.startswith('"""'), f"expected a module docstring, found {first!r}"
    return f"{line}\n{rest}"


def change_template(template: Path) -> None:
    settings = template / "template" / "src" / "{{ package_name }}" / "settings.py.jinja"
    settings.write_text(replace_first_line(settings.read_text(), TEMPLATE_DOCSTRING))
    readme = template / "template" / "README.md.jinja"
    readme.write_text(readme.read_text() + TEMPLATE_README_ADDITION)
    (template / "template" / TEMPLATE_NEW_FILE).write_text(TEMPLATE_NEW_FILE_TEXT)
    (template / "template" / ".env").write_text(TEMPLATE_ENV)
    rename_question(template)


def rename_question(template: Path) -> None:
    config = template / "copier.yml"
    text = re.sub(rf"\b{RENAMED_FROM}\b", RENAMED_TO, config.read_text())
    spec = yaml.safe_load(text)
    spec["_migrations"] = [*(spec.get("_migrations") or []), RENAME_MIGRATION]
    config.write_text(yaml.safe_dump(spec, sort_keys=False, allow_unicode=True, width=1000))
    jinja_use = re.compile(rf"(\{{\{{-?\s*){RENAMED_FROM}\b")
    for path in (template / "template").rglob("*.jinja"):
        path.write_text(jinja_use.sub(rf"\g<1>{RENAMED_TO}", path.read_text()))


# --- the team's edits to its generated project -------------------------------------------------

USER_ENDPOINT = '''

@router.get("/ping", name="ping_authors")
async def ping_authors() -> dict[str, str]:
    """Our own endpoint, added after the service was generated."""
    return {"status": "ok"}
'''
USER_TEST = '''"""Our own endpoints, added after the service was generated."""

from fastapi import FastAPI
from httpx import AsyncClient


async def test_ping_answers_ok(app: FastAPI, client: AsyncClient) -> None:
    response = await client.get(app.url_path_for("ping_authors"))

    assert response.json() == {"status": "ok"}
'''
USER_MIGRATION_NAME = "2026_12_01_0900-5e6f7a8b9c0d_add_author_book_counts_view.py"
USER_MIGRATION = '''"""Add a view counting each author's books.

Revision ID: 5e6f7a8b9c0d
Revises: {head}
Create Date: 2026-12-01 09:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "5e6f7a8b9c0d"
down_revision: str | Sequence[str] | None = "{head}"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute(
        "CREATE VIEW author_book_counts AS "
        "SELECT authors.id AS author_id, count(books.id) AS books "
        "FROM authors LEFT JOIN books ON books.author_id = authors.id GROUP BY authors.id"
    )


def downgrade() -> None:
    op.execute("DROP VIEW author_book_counts")
'''
USER_README_TITLE = "# Catalogue: the catalogue team's API for books and authors"
USER_DEPENDENCY = '    "httpx>=0.28",\n'
# Git-ignored, so the merge never sees it; it names the driver the project was generated with.
# The template starts rendering its own .env in v1.1.0: _skip_if_exists must keep this one.
USER_ENV = "DATABASE__URL=postgresql+asyncpg://catalogue:secret@db.internal:5432/catalogue\n"
# Edits the team makes to the template's own files where the template changes the same line.
USER_DOCSTRING = '"""Our settings: every value can be overridden by an environment variable."""'

# A template file the team deleted: it must not come back.
USER_DELETED = "tests/test_isolation.py"

Edit = Callable[[str], str]


def user_edits(project: Path) -> dict[str, Edit]:
    """Each file the team touches, and how: a function of the file's text (empty if new)."""
    migration = USER_MIGRATION.format(head=alembic_head(project / "migrations" / "versions"))
    return {
        f"src/{PACKAGE}/authors/router.py": lambda text: text + USER_ENDPOINT,
        "tests/test_ping.py": lambda _: USER_TEST,
        f"src/{PACKAGE}/settings.py": lambda text: replace_once(
            text, "    echo: bool = False\n", "    echo: bool = True\n"
        ),
        "pyproject.toml": lambda text: replace_once(
            text, "dependencies = [\n", "dependencies = [\n" + USER_DEPENDENCY
        ),
        "README.md": lambda text: USER_README_TITLE + "\n" + text.partition("\n")[2],
        f"migrations/versions/{USER_MIGRATION_NAME}": lambda _: migration,
        ".env": lambda _: USER_ENV,
    }


def alembic_head(versions: Path) -> str:
    revisions, parents = set(), set()
    for path in versions.glob("*.py"):
        text = path.read_text()
        revisions.update(re.findall(r'^revision(?:: str)? = "(\w+)"', text, re.M))
        parents.update(re.findall(r'^down_revision[^=]*= "(\w+)"', text, re.M))
    heads = revisions - parents
    assert len(heads) == 1, f"expected one Alembic head in the generated project, found {heads}"
    return heads.pop()


def apply_edits(project: Path, edits: dict[str, Edit]) -> None:
    for name, edit in edits.items():
        path = project / name
        path.write_text(edit(path.read_text() if path.exists() else ""))
    assert (project / USER_DELETED).is_file(), f"the template no longer renders {USER_DELETED}"
    (project / USER_DELETED).unlink()


# --- plumbing -----------------------------------------------------------------------------------


def generate(template: Path, destination: Path, ref: str, **data: str) -> None:
    with copier_git_environment():
        copier.run_copy(
            str(template),
            str(destination),
            vcs_ref=ref,
            data=data,
            defaults=True,
            quiet=True,
            unsafe=True,
        )
    hand_over(destination)


def update(project: Path, **data: str) -> None:
    with copier_git_environment():
        copier.run_update(
            str(project), data=data, defaults=True, overwrite=True, quiet=True, unsafe=True
        )
    hand_over(project)


def check_update(project: Path) -> int:
    """`copier check-update --quiet`: exits 2 when a newer template version is available."""
    return subprocess.run(
        [sys.executable, "-m", "copier", "check-update", "--quiet", str(project)],
        env={**os.environ, **GIT_ENV},
        capture_output=True,
        check=False,
    ).returncode


def render_fresh(template: Path, destination: Path, ref: str, **data: str) -> dict[str, bytes]:
    """What the template at `ref` renders for these answers, file by file (no task runs)."""
    copier.run_copy(
        str(template),
        str(destination),
        vcs_ref=ref,
        data=data,
        defaults=True,
        quiet=True,
        skip_tasks=True,
    )
    return snapshot(destination)


def snapshot(project: Path) -> dict[str, bytes]:
    skipped = {".git", ".venv", ".mypy_cache", ".pytest_cache", ".ruff_cache", "__pycache__"}
    skipped.add("uv.lock")  # written by `uv sync`, not by the template
    return {
        path.relative_to(project).as_posix(): path.read_bytes()
        for path in sorted(project.rglob("*"))
        if path.is_file() and not skipped.intersection(path.relative_to(project).parts)
    }


def conflict_leftovers(files: dict[str, bytes]) -> list[str]:
    markers = re.compile(rb"^(<<<<<<<|=======|>>>>>>>)( |$)", re.M)
    return [
        name for name, content in files.items() if name.endswith(".rej") or markers.search(content)
    ]


@dataclass
class Scenario:
    template: Path
    project: Project
    conflicted: Path
    edits: dict[str, Edit]
    new_project_status: str
    new_project_log: list[str]
    check_update_before: int

    def expected(self, fresh: dict[str, bytes]) -> dict[str, bytes]:
        """A fresh render of the new version with the team's edits applied on top."""
        expected = dict(fresh)
        for name, edit in self.edits.items():
            expected[name] = edit(fresh.get(name, b"").decode()).encode()
        return expected


def build_scenario(template_folder: Path, base: Path, postgres: PostgresServer) -> Scenario:
    """The template's two versions, the project updated from one to the other, and its twin."""
    write_git_config()
    template = copy_template(template_folder)
    git(template, "init", "--quiet")
    commit_all(template, "The template as it is")
    git(template, "tag", "v1.0.0")

    folder = base / "update"
    folder.mkdir(parents=True)
    path = folder / "catalogue"
    generate(template, path, "v1.0.0", **ANSWERS)
    new_project_status = git(path, "status", "--porcelain", "--untracked-files=all")
    new_project_log = git(path, "log", "--format=%s").splitlines()

    edits = user_edits(path)
    apply_edits(path, edits)
    commit_all(path, "Our own changes")

    # A second checkout of the same project, where the team also rewrote a line the template fixes.
    conflicted = folder / "catalogue-conflicted"
    git(folder, "clone", "--quiet", str(path), str(conflicted))
    settings = conflicted / "src" / PACKAGE / "settings.py"
    settings.write_text(replace_first_line(settings.read_text(), USER_DOCSTRING))
    commit_all(conflicted, "Our own docstring")

    change_template(template)
    git(template, "add", "--force", "template/.env")  # template/.gitignore ignores .env
    commit_all(template, "Fix the settings docstring, add a README section, .editorconfig, .env")
    git(template, "tag", "v1.1.0")

    check_update_before = check_update(path)
    update(path)
    update(conflicted)

    env = clean_environment(
        base,
        TEST_DATABASE_URL=postgres.url("postgresql+asyncpg", database_name(SCENARIO, "tests")),
    )
    return Scenario(
        template,
        Project(SCENARIO, path, env),
        conflicted,
        edits,
        new_project_status,
        new_project_log,
        check_update_before,
    )
