"""The scripts under hooks/ on their own: each safe wherever Copier may run it."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

HOOKS = Path(__file__).resolve().parents[1] / "hooks"
ANSWERS = """\
# Written by Copier; change answers with `copier update --data name=value`, never by hand.
_commit: v1.0.0
_src_path: gh:example/template
db_driver: asyncpg
description: Books and their authors.
project_name: Catalogue
"""


def run_hook(
    script: str, cwd: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(HOOKS / script), *args],
        cwd=cwd,
        env=env if env is not None else git_environment(cwd),
        capture_output=True,
        text=True,
        check=False,
    )


def git_environment(home: Path, **extra: str) -> dict[str, str]:
    """No configuration from this machine: a known identity (unless overridden), no system file."""
    config = home / "gitconfig"
    if not config.exists():
        config.write_text("[user]\n\tname = Tester\n\temail = tester@example.invalid\n")
    return {**os.environ, "GIT_CONFIG_GLOBAL": str(config), "GIT_CONFIG_NOSYSTEM": "1", **extra}


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=cwd, env=git_environment(cwd.parent), capture_output=True, text=True
    ).stdout


@pytest.fixture
def project(tmp_path: Path) -> Path:
    path = tmp_path / "catalogue"
    path.mkdir()
    (path / ".copier-answers.yml").write_text(ANSWERS)
    (path / "README.md").write_text("# Catalogue\n")
    return path


def test_post_copy_commits_the_new_project_as_its_first_commit(project: Path) -> None:
    result = run_hook("post_copy.py", project, env=git_environment(project.parent))

    assert result.returncode == 0, result.stderr
    assert git(project, "log", "--format=%s").splitlines() == [
        "Generate from the template (v1.0.0)"
    ]
    assert git(project, "status", "--porcelain") == ""


def test_post_copy_never_nests_a_repository_inside_another(project: Path) -> None:
    outer = project.parent
    subprocess.run(["git", "init", "--quiet", str(outer)], check=True)

    result = run_hook("post_copy.py", project, env=git_environment(outer))

    assert result.returncode == 0, result.stderr
    assert not (project / ".git").exists()


def test_post_copy_without_git_leaves_a_note_and_lets_the_copy_succeed(
    project: Path, tmp_path: Path
) -> None:
    no_git = tmp_path / "empty-bin"
    no_git.mkdir()

    result = run_hook("post_copy.py", project, env={**os.environ, "PATH": str(no_git)})

    assert result.returncode == 0
    assert "git is not installed" in result.stderr
    assert not (project / ".git").exists()


def test_post_copy_without_a_git_identity_stages_the_files_and_says_how_to_commit(
    project: Path,
) -> None:
    (project.parent / "gitconfig").write_text("[user]\n\tuseConfigOnly = true\n")
    env = {
        name: value
        for name, value in git_environment(project.parent).items()
        if not name.startswith(("GIT_AUTHOR_", "GIT_COMMITTER_"))
    }

    result = run_hook("post_copy.py", project, env=env)

    assert result.returncode == 0
    assert "before running `copier update`" in result.stderr
    assert git(project, "diff", "--cached", "--name-only").split() == [
        ".copier-answers.yml",
        "README.md",
    ]


def test_migrate_renames_an_answer_keeping_its_value(project: Path) -> None:
    result = run_hook("migrate.py", project, "rename-answer", "description", "summary")

    assert result.returncode == 0, result.stderr
    assert (project / ".copier-answers.yml").read_text() == ANSWERS.replace(
        "description:", "summary:"
    )


def test_migrate_renames_a_choice_value_only_for_its_question(project: Path) -> None:
    result = run_hook("migrate.py", project, "rename-value", "db_driver", "asyncpg", "pg_async")

    assert result.returncode == 0, result.stderr
    assert (project / ".copier-answers.yml").read_text() == ANSWERS.replace(
        "db_driver: asyncpg", "db_driver: pg_async"
    )


@pytest.mark.parametrize(
    "step",
    [
        pytest.param(["rename-answer", "description", "summary"], id="rename-answer"),
        pytest.param(["rename-value", "db_driver", "asyncpg", "pg_async"], id="rename-value"),
    ],
)
def test_migrate_run_twice_changes_nothing_the_second_time(project: Path, step: list[str]) -> None:
    run_hook("migrate.py", project, *step)
    once = (project / ".copier-answers.yml").read_text()

    result = run_hook("migrate.py", project, *step)

    assert result.returncode == 0, result.stderr
    assert (project / ".copier-answers.yml").read_text() == once


@pytest.mark.parametrize(
    "step",
    [
        pytest.param(["rename-answer", "owner", "team"], id="answer-never-recorded"),
        pytest.param(["rename-value", "db_driver", "psycopg", "pg3"], id="value-not-chosen"),
        pytest.param(["rename-value", "test_db_strategy", "a", "b"], id="question-never-asked"),
    ],
)
def test_migrate_leaves_a_project_it_does_not_concern_untouched(
    project: Path, step: list[str]
) -> None:
    result = run_hook("migrate.py", project, *step)

    assert result.returncode == 0, result.stderr
    assert (project / ".copier-answers.yml").read_text() == ANSWERS


def test_migrate_keeps_an_answer_already_recorded_under_the_new_name(project: Path) -> None:
    answers = project / ".copier-answers.yml"
    answers.write_text(ANSWERS + "summary: Already migrated.\n")

    run_hook("migrate.py", project, "rename-answer", "description", "summary")

    assert answers.read_text() == ANSWERS + "summary: Already migrated.\n"


def test_migrate_refuses_an_unknown_step_with_its_usage(project: Path) -> None:
    result = run_hook("migrate.py", project, "move-answer", "description")

    assert result.returncode == 2
    assert "rename-answer OLD_QUESTION NEW_QUESTION" in result.stderr
