"""scripts/release refuses what it must before running any test, and restores tags from the list."""

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from harness.history import GIT_ENV, commit_all, git, releases, write_git_config
from harness.matrix import TEMPLATE_ROOT

pytestmark = pytest.mark.xdist_group("release")


@pytest.fixture
def clone(tmp_path: Path) -> Path:
    """This repository without its tags, as a CI checkout or a fork may be."""
    write_git_config()
    path = tmp_path / "template"
    git(tmp_path, "clone", "--quiet", "--no-tags", str(TEMPLATE_ROOT), path.name)
    for tag in git(path, "tag", "--list").split():
        git(path, "tag", "--delete", tag)
    # The working tree's own script and lists, in case they are not committed yet.
    for name in ["scripts/release", "releases.toml", "CHANGELOG.md"]:
        shutil.copy2(TEMPLATE_ROOT / name, path / name)
    commit_all(path, "The working tree's release files")
    return path


def release(clone: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(clone / "scripts" / "release"), *args],
        cwd=clone,
        env={**os.environ, **GIT_ENV},
        capture_output=True,
        text=True,
        check=False,
    )


def newest() -> str:
    return list(releases())[-1]


def test_restore_tags_tags_every_listed_release_on_its_commit(clone: Path) -> None:
    result = release(clone, "--restore-tags")

    assert result.returncode == 0, result.stderr
    for version, commit in releases().items():
        assert git(clone, "rev-parse", f"v{version}^{{commit}}").strip() == commit


def test_restore_tags_refuses_a_tag_that_points_elsewhere(clone: Path) -> None:
    git(clone, "tag", f"v{newest()}", "HEAD")

    result = release(clone, "--restore-tags")

    assert result.returncode == 1
    assert "releases.toml says" in result.stderr


def test_a_version_not_newer_than_the_last_release_is_refused(clone: Path) -> None:
    result = release(clone, newest())

    assert result.returncode == 1
    assert "is not newer than the last release" in result.stderr


def test_a_version_without_a_changelog_entry_is_refused_before_any_test_runs(
    clone: Path,
) -> None:
    result = release(clone, "99.0.0")

    assert result.returncode == 1
    assert "CHANGELOG.md has no `## [99.0.0] - YYYY-MM-DD` entry" in result.stderr
    assert "scripts/test" not in result.stdout
    assert git(clone, "tag", "--list", "v99.0.0") == ""


def test_a_dirty_working_tree_is_refused(clone: Path) -> None:
    (clone / "CHANGELOG.md").write_text("## [99.0.0] - 2026-12-01\n\nSomething.\n")

    result = release(clone, "99.0.0")

    assert result.returncode == 1
    assert "uncommitted changes" in result.stderr


def test_a_malformed_version_is_refused(clone: Path) -> None:
    result = release(clone, "v1.2")

    assert result.returncode == 1
    assert "is not MAJOR.MINOR.PATCH" in result.stderr
