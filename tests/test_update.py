"""`copier update`: a project generated from an older template version receives the template's
changes and keeps its own.

A copy of this repository's template (working tree included, as everywhere in the harness) becomes
a git repository tagged v1.0.0. A project is generated from it, committed, and edited the way a
team edits its service. The template then changes (a fix in a file the team also edited, a new
file, a renamed question with its migration) and is tagged v1.1.0; `copier update` brings the
project there. Byte-for-byte checks compare the result with a fresh v1.1.0 render plus the team's
edits, so a lost edit, a lost template change or a stray conflict all fail.
"""

import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import copier
import plumbum
import pytest
import yaml

from harness.matrix import Case, copy_template
from harness.postgres import PostgresServer
from harness.project import (
    Project,
    assert_ok,
    clean_environment,
    database_name,
    hand_over,
    run_token,
    workspace,
)

# One xdist group (under --dist loadgroup): every test here runs on one worker, in file order,
# against projects built once.
pytestmark = pytest.mark.xdist_group("update")

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

# git runs with this configuration instead of the machine's: a fixed identity, and, since the
# harness (root) runs git in projects it handed over to the unprivileged account, safe.directory.
# (A global file, not GIT_CONFIG_COUNT: `git clone` drops those variables for the cloned side.)
GIT_CONFIG = Path(tempfile.gettempdir()) / f"template-harness-{run_token()}.gitconfig"
GIT_CONFIG_TEXT = """\
[user]
\tname = Template Harness
\temail = harness@example.invalid
[safe]
\tdirectory = *
[init]
\tdefaultBranch = main
"""
GIT_ENV = {"GIT_CONFIG_GLOBAL": str(GIT_CONFIG), "GIT_CONFIG_NOSYSTEM": "1"}

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


def git(cwd: Path, *args: str) -> str:
    result = subprocess.run(
        ["git", *args],
        cwd=cwd,
        env={**os.environ, **GIT_ENV},
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, f"git {' '.join(args)} in {cwd}:\n{result.stderr}"
    return result.stdout


def commit_all(cwd: Path, message: str) -> None:
    git(cwd, "add", "--all")
    git(cwd, "commit", "--quiet", "--message", message)


@contextmanager
def copier_git_environment() -> Iterator[None]:
    """Copier runs git, and its tasks, through plumbum, which copied os.environ at import."""
    with plumbum.local.env(**GIT_ENV):
        yield


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


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory, postgres: PostgresServer) -> Scenario:
    GIT_CONFIG.write_text(GIT_CONFIG_TEXT)
    template = copy_template(tmp_path_factory.mktemp("template-history"))
    git(template, "init", "--quiet")
    commit_all(template, "The template as it is")
    git(template, "tag", "v1.0.0")

    base = workspace(tmp_path_factory.getbasetemp())
    folder = base / "update"
    shutil.rmtree(folder, ignore_errors=True)
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


@pytest.fixture(scope="module")
def fresh(scenario: Scenario, tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    answers = {**ANSWERS, RENAMED_TO: ANSWERS[RENAMED_FROM]}
    del answers[RENAMED_FROM]
    destination = tmp_path_factory.mktemp("fresh-v1.1.0") / "catalogue"
    return render_fresh(scenario.template, destination, "v1.1.0", **answers)


# --- a new project -------------------------------------------------------------------------------


def test_a_new_project_is_a_git_repository_with_everything_committed(scenario: Scenario) -> None:
    assert scenario.new_project_status == ""
    assert scenario.new_project_log == ["Generate from the template (v1.0.0)"]


# --- the update ----------------------------------------------------------------------------------


def test_check_update_reports_a_new_version_only_until_the_project_is_updated(
    scenario: Scenario,
) -> None:
    assert scenario.check_update_before == 2
    assert check_update(scenario.project.path) == 0


def test_the_update_records_the_new_template_version(scenario: Scenario) -> None:
    answers = yaml.safe_load((scenario.project.path / ".copier-answers.yml").read_text())

    assert answers["_commit"] == "v1.1.0"


def test_the_templates_changes_arrive(scenario: Scenario) -> None:
    project = scenario.project.path

    settings = (project / "src" / PACKAGE / "settings.py").read_text()
    assert settings.splitlines()[0] == TEMPLATE_DOCSTRING
    assert (project / "README.md").read_text().endswith(TEMPLATE_README_ADDITION)
    assert (project / TEMPLATE_NEW_FILE).read_text() == TEMPLATE_NEW_FILE_TEXT


def test_every_user_edit_survives_byte_for_byte(
    scenario: Scenario, fresh: dict[str, bytes]
) -> None:
    updated = snapshot(scenario.project.path)
    expected = scenario.expected(fresh)

    assert {name: updated.get(name) for name in scenario.edits} == {
        name: expected[name] for name in scenario.edits
    }


def test_every_other_file_is_exactly_what_the_new_version_renders(
    scenario: Scenario, fresh: dict[str, bytes]
) -> None:
    updated = snapshot(scenario.project.path)
    untouched = (set(fresh) | set(updated)) - set(scenario.edits) - {USER_DELETED}

    assert {name: updated.get(name) for name in untouched} == {
        name: fresh.get(name) for name in untouched
    }


def test_a_file_the_team_deleted_stays_deleted(scenario: Scenario, fresh: dict[str, bytes]) -> None:
    assert USER_DELETED in fresh
    assert not (scenario.project.path / USER_DELETED).exists()


def test_the_teams_env_file_is_kept_though_the_new_version_renders_one(
    scenario: Scenario, fresh: dict[str, bytes]
) -> None:
    assert fresh[".env"] == TEMPLATE_ENV.encode()
    assert (scenario.project.path / ".env").read_text() == USER_ENV


def test_a_renamed_question_keeps_the_projects_answer(scenario: Scenario) -> None:
    answers = yaml.safe_load((scenario.project.path / ".copier-answers.yml").read_text())
    pyproject = (scenario.project.path / "pyproject.toml").read_text()

    assert RENAMED_FROM not in answers
    assert answers[RENAMED_TO] == ANSWERS["description"]
    assert f'description = "{ANSWERS["description"]}"' in pyproject


def test_nothing_is_left_conflicted_when_nothing_conflicted(scenario: Scenario) -> None:
    files = snapshot(scenario.project.path)

    assert conflict_leftovers(files) == []
    assert git(scenario.project.path, "diff", "--name-only", "--diff-filter=U") == ""


def test_a_line_both_sides_changed_is_marked_inline_and_keeps_both_versions(
    scenario: Scenario,
) -> None:
    settings = (scenario.conflicted / "src" / PACKAGE / "settings.py").read_text()

    assert settings.startswith(
        f"<<<<<<< before updating\n{USER_DOCSTRING}\n=======\n{TEMPLATE_DOCSTRING}\n"
        ">>>>>>> after updating\n"
    )
    assert "    echo: bool = True\n" in settings  # the team's other edit in the file merged


def test_only_the_line_both_sides_changed_is_left_conflicted(scenario: Scenario) -> None:
    files = snapshot(scenario.conflicted)
    unmerged = git(scenario.conflicted, "diff", "--name-only", "--diff-filter=U").split()

    assert conflict_leftovers(files) == [f"src/{PACKAGE}/settings.py"]
    assert unmerged == [f"src/{PACKAGE}/settings.py"]


# --- the updated project passes its own checks ---------------------------------------------------


def test_the_updated_project_installs(scenario: Scenario) -> None:
    assert_ok(scenario.project.run("uv", "sync", phase="sync"))


def test_the_updated_project_passes_ruff(scenario: Scenario) -> None:
    assert_ok(scenario.project.run("uv", "run", "ruff", "check", ".", phase="ruff"))
    assert_ok(scenario.project.run("uv", "run", "ruff", "format", "--check", ".", phase="format"))


def test_the_updated_project_passes_mypy_strict(scenario: Scenario) -> None:
    assert_ok(scenario.project.run("uv", "run", "mypy", phase="mypy"))


def test_the_updated_project_passes_its_tests_including_the_teams_own(scenario: Scenario) -> None:
    result = scenario.project.run("uv", "run", "pytest", "-v", phase="pytest")

    assert_ok(result)
    assert "tests/test_ping.py::test_ping_answers_ok PASSED" in result.stdout


# --- changing an answer on update ----------------------------------------------------------------


@pytest.fixture(scope="module")
def switched(scenario: Scenario, postgres: PostgresServer) -> Project:
    """The updated project, switched to psycopg with `copier update --data db_driver=psycopg`."""
    source = scenario.project.path
    path = source.parent / "catalogue-psycopg"
    if git(source, "status", "--porcelain"):
        commit_all(source, "Update to template v1.1.0")
    git(source.parent, "clone", "--quiet", str(source), str(path))
    shutil.copy2(source / ".env", path / ".env")
    update(path, db_driver="psycopg")
    url = postgres.url("postgresql+psycopg", database_name(SWITCHED, "tests"))
    return Project(SWITCHED, path, {**scenario.project.env, "TEST_DATABASE_URL": url})


@pytest.fixture(scope="module")
def fresh_psycopg(scenario: Scenario, tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    answers = {**ANSWERS, RENAMED_TO: ANSWERS[RENAMED_FROM], "db_driver": "psycopg"}
    del answers[RENAMED_FROM]
    destination = tmp_path_factory.mktemp("fresh-psycopg") / "catalogue"
    return render_fresh(scenario.template, destination, "v1.1.0", **answers)


def test_changing_the_driver_on_update_rerenders_the_templates_files_for_it(
    switched: Project, fresh_psycopg: dict[str, bytes], scenario: Scenario
) -> None:
    updated = snapshot(switched.path)
    untouched = set(fresh_psycopg) - set(scenario.edits) - {USER_DELETED}

    assert {name: updated.get(name) for name in untouched} == {
        name: fresh_psycopg[name] for name in untouched
    }
    assert conflict_leftovers(updated) == []


def test_changing_the_driver_keeps_the_teams_code_and_edits_byte_for_byte(
    switched: Project, fresh_psycopg: dict[str, bytes], scenario: Scenario
) -> None:
    updated = snapshot(switched.path)
    expected = scenario.expected(fresh_psycopg)

    assert {name: updated.get(name) for name in scenario.edits} == {
        name: expected[name] for name in scenario.edits
    }


def test_changing_the_driver_leaves_the_teams_env_file_for_them_to_fix(switched: Project) -> None:
    mentions = [name for name, content in snapshot(switched.path).items() if b"asyncpg" in content]
    load = switched.run(
        "uv",
        "run",
        "python",
        "-c",
        f"from {PACKAGE}.settings import Settings; Settings()",
        phase="sync",
    )

    assert mentions == [".env"]
    assert load.returncode != 0
    assert "this service is built for 'postgresql+psycopg'" in load.stdout


def test_the_project_switched_to_psycopg_passes_its_tests(switched: Project) -> None:
    result = switched.run("uv", "run", "pytest", "-v", phase="pytest")

    assert_ok(result)
    assert "tests/test_ping.py::test_ping_answers_ok PASSED" in result.stdout
