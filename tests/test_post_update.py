"""hooks/post_update.py on its own: the heads it joins, the ones it leaves, what it reports."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

HOOK = Path(__file__).resolve().parents[1] / "hooks" / "post_update.py"
PYPROJECT = """\
[tool.alembic]
script_location = "%(here)s/migrations"
file_template = "%%(year)d_%%(month).2d_%%(day).2d_%%(hour).2d%%(minute).2d-%%(rev)s_%%(slug)s"
"""
# The generated project's ruff rules: the merge revision lands in its migrations/.
PROJECT_RUFF = ["--isolated", "--line-length", "100"]
PROJECT_RULES = "E,W,F,I,B,UP,SIM,C4,RUF,ASYNC,FAST,PT,N,RET"

pytestmark = pytest.mark.xdist_group("post_update")


def revision_file(revision: str, parent: str | None) -> str:
    down = repr(parent) if parent else "None"
    return (
        f'"""Revision {revision}."""\n\n'
        "from collections.abc import Sequence\n\n"
        f"revision: str = {revision!r}\n"
        f"down_revision: str | Sequence[str] | None = {down}\n"
    )


def git(project: Path, *args: str) -> str:
    config = project.parent / "gitconfig"
    config.write_text("[user]\n\tname = Tester\n\temail = tester@example.invalid\n")
    env = {**os.environ, "GIT_CONFIG_GLOBAL": str(config), "GIT_CONFIG_NOSYSTEM": "1"}
    done = subprocess.run(
        ["git", *args], cwd=project, env=env, capture_output=True, text=True, check=True
    )
    return done.stdout


def run_hook(project: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(HOOK)], cwd=project, capture_output=True, text=True, check=False
    )


def add_revision(project: Path, name: str, revision: str, parent: str | None) -> None:
    (project / "migrations" / "versions" / name).write_text(revision_file(revision, parent))


def versions(project: Path) -> list[str]:
    return sorted(path.name for path in (project / "migrations" / "versions").glob("*.py"))


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A committed project whose team built a revision on the template's initial one."""
    path = tmp_path / "catalogue"
    (path / "migrations" / "versions").mkdir(parents=True)
    (path / "pyproject.toml").write_text(PYPROJECT)
    add_revision(path, "2026_11_22_1200-aaaaaaaaaaaa_initial.py", "aaaaaaaaaaaa", None)
    add_revision(path, "2026_11_25_0900-bbbbbbbbbbbb_add_bio.py", "bbbbbbbbbbbb", "aaaaaaaaaaaa")
    git(path, "init", "--quiet")
    git(path, "add", "--all")
    git(path, "commit", "--quiet", "--message", "Generated, plus our revision")
    return path


def test_an_update_that_adds_a_template_revision_beside_the_teams_gets_one_merge_revision(
    project: Path,
) -> None:
    add_revision(project, "2026_11_22_1300-cccccccccccc_audit.py", "cccccccccccc", "aaaaaaaaaaaa")

    result = run_hook(project)

    assert result.returncode == 0, result.stderr
    merge = project / "migrations" / "versions" / versions(project)[-1]
    source = merge.read_text()
    assert "join_template_and_project_revisions" in merge.name
    assert "bbbbbbbbbbbb" in source
    assert "cccccccccccc" in source
    assert "an empty revision joining them" in result.stderr


def test_the_merge_revision_sorts_after_a_head_dated_in_the_future(project: Path) -> None:
    later = "2999_01_01_0000-cccccccccccc_audit.py"
    add_revision(project, later, "cccccccccccc", "aaaaaaaaaaaa")

    run_hook(project)

    assert versions(project)[-2:][0] == later
    assert versions(project)[-1].startswith("2999_01_01_0001-")


def test_the_merge_revision_passes_the_projects_ruff_rules_and_format(project: Path) -> None:
    add_revision(project, "2026_11_22_1300-cccccccccccc_audit.py", "cccccccccccc", "aaaaaaaaaaaa")
    run_hook(project)
    merge = project / "migrations" / "versions" / versions(project)[-1]

    checked = subprocess.run(
        ["ruff", "check", *PROJECT_RUFF, "--select", PROJECT_RULES, str(merge)],
        capture_output=True,
        text=True,
        check=False,
    )
    formatted = subprocess.run(
        ["ruff", "format", *PROJECT_RUFF, "--check", "--diff", str(merge)],
        capture_output=True,
        text=True,
        check=False,
    )

    assert checked.returncode == 0, checked.stdout
    assert formatted.returncode == 0, formatted.stdout


def test_a_project_left_with_one_head_gets_no_merge_revision(project: Path) -> None:
    add_revision(project, "2026_11_26_1300-cccccccccccc_audit.py", "cccccccccccc", "bbbbbbbbbbbb")

    result = run_hook(project)

    assert result.returncode == 0, result.stderr
    assert len(versions(project)) == 3
    assert "one head (cccccccccccc)" in result.stderr


def test_heads_the_team_had_before_the_update_are_reported_not_merged(project: Path) -> None:
    add_revision(project, "2026_11_26_0900-dddddddddddd_branch.py", "dddddddddddd", "aaaaaaaaaaaa")
    git(project, "add", "--all")
    git(project, "commit", "--quiet", "--message", "A second line of our own")

    result = run_hook(project)

    assert len(versions(project)) == 3
    assert "`uv run alembic merge heads`" in result.stderr


def test_files_left_with_conflict_markers_are_listed_with_what_to_do(project: Path) -> None:
    (project / "pyproject.toml").write_text(
        PYPROJECT + "<<<<<<< before updating\na = 1\n=======\na = 2\n>>>>>>> after updating\n"
    )
    (project / "README.md.rej").write_text("@@ -1 +1 @@\n")

    result = run_hook(project)

    assert "2 file(s) hold both your lines and the template's" in result.stderr
    assert "  pyproject.toml\n" in result.stderr
    assert "  README.md.rej\n" in result.stderr
    assert "uv cannot read it while markers are in it" in result.stderr


def test_a_clean_update_says_so(project: Path) -> None:
    result = run_hook(project)

    assert "No conflicts" in result.stderr


def test_a_project_inside_a_larger_repository_is_read_from_its_own_folder(tmp_path: Path) -> None:
    monorepo = tmp_path / "monorepo"
    path = monorepo / "services" / "catalogue"
    (path / "migrations" / "versions").mkdir(parents=True)
    (path / "pyproject.toml").write_text(PYPROJECT)
    add_revision(path, "2026_11_22_1200-aaaaaaaaaaaa_initial.py", "aaaaaaaaaaaa", None)
    add_revision(path, "2026_11_25_0900-bbbbbbbbbbbb_add_bio.py", "bbbbbbbbbbbb", "aaaaaaaaaaaa")
    add_revision(path, "2026_11_26_0900-dddddddddddd_branch.py", "dddddddddddd", "aaaaaaaaaaaa")
    git(monorepo, "init", "--quiet")
    git(monorepo, "add", "--all")
    git(monorepo, "commit", "--quiet", "--message", "Generated, plus two lines of our own")
    (path / "README.md").write_text("<<<<<<< before updating\nours\n=======\ntheirs\n")

    result = run_hook(path)

    assert len(versions(path)) == 3, "the heads the team had before were merged"
    assert "  README.md\n" in result.stderr
