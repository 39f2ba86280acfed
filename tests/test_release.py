"""scripts/release refuses what it must before running any test, and restores tags from the list;
a released version's changelog entry stays as it was tagged."""

import os
import re
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


def test_a_ci_run_of_an_earlier_commit_is_refused_when_more_than_the_changelog_changed(
    clone: Path,
) -> None:
    tested = git(clone, "rev-parse", "HEAD").strip()
    changelog = clone / "CHANGELOG.md"
    changelog.write_text("## [99.0.0] - 2026-12-01\n\nSomething.\n\n" + changelog.read_text())
    (clone / "README.md").write_text((clone / "README.md").read_text() + "\nA late change.\n")
    commit_all(clone, "Date 99.0.0, and change the README")

    result = release(clone, "99.0.0", "--ci-run", "run 7", "--ci-commit", tested)

    assert result.returncode == 1
    assert "more than CHANGELOG.md changed (README.md)" in result.stderr
    assert "scripts/test" not in result.stdout
    assert git(clone, "tag", "--list", "v99.0.0") == ""


def test_a_ci_run_of_the_commit_before_the_dated_changelog_counts_and_the_quick_tests_run(
    clone: Path,
) -> None:
    # A scripts/test that fails at once stands in for the quick tests: reaching it proves the CI
    # run was accepted, and its failure must still stop the tag.
    (clone / "scripts" / "test").write_text("#!/bin/sh\necho quick tests: failed\nexit 1\n")
    commit_all(clone, "Tests that fail")
    tested = git(clone, "rev-parse", "HEAD").strip()
    changelog = clone / "CHANGELOG.md"
    changelog.write_text("## [99.0.0] - 2026-12-01\n\nSomething.\n\n" + changelog.read_text())
    commit_all(clone, "Date 99.0.0")

    result = release(clone, "99.0.0", "--ci-run", "run 7", "--ci-commit", tested)

    assert result.returncode == 1
    assert "release: scripts/test tests/test_questions.py" in result.stdout
    assert "(the whole suite)" not in result.stdout
    assert "the tests failed: no tag" in result.stderr
    assert git(clone, "tag", "--list", "v99.0.0") == ""


def test_ci_commit_without_a_ci_run_is_refused(clone: Path) -> None:
    result = release(clone, "99.0.0", "--ci-commit", "HEAD")

    assert result.returncode == 2
    assert "give --ci-run too" in result.stderr


def changelog_entry(text: str, version: str) -> str | None:
    """The text under `## [version] - date` up to the next version heading; None if absent."""
    heading = re.search(rf"^## \[{re.escape(version)}\] - [0-9-]+$", text, re.MULTILINE)
    if heading is None:
        return None
    rest = text[heading.start() :]
    following = re.search(r"^## \[", rest[3:], re.MULTILINE)
    return rest[: following.start() + 3] if following else rest


def test_a_released_versions_changelog_entry_is_the_one_it_was_tagged_with() -> None:
    """Lines added under a released heading belong under Unreleased.

    A branch started before a release adds its lines to the section that was Unreleased then;
    merged after the release, git puts them quietly into the released entry.
    """
    current = (TEMPLATE_ROOT / "CHANGELOG.md").read_text()
    compared = []
    for version, commit in releases().items():
        tagged = subprocess.run(
            ["git", "show", f"{commit}:CHANGELOG.md"],
            cwd=TEMPLATE_ROOT,
            capture_output=True,
            text=True,
            check=False,
        )
        entry = changelog_entry(tagged.stdout, version) if tagged.returncode == 0 else None
        if entry is None:  # the changelog was written after the first releases
            continue
        assert changelog_entry(current, version) == entry, (
            f"CHANGELOG.md's entry for {version} differs from the one tagged on {commit[:12]}: "
            "move what was added to it under ## [Unreleased]."
        )
        compared.append(version)
    assert newest() in compared, f"{newest()}'s commit has no dated entry for it in CHANGELOG.md"
