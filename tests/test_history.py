"""Update projects generated at each recent release, with a team's usual edits, to the working tree.

For every driver and each of the last releases in releases.toml: generate the project at that
release, apply the edits in harness/team_edits/ (an own router wired into main.py, a column on a
sample model with its own Alembic revision, a settings default, a dependency added as `uv add`
would, README notes, a deleted sample test), migrate a database and write a row at the old
release, commit, then `copier update` to the working tree. Every update must keep the edits,
conflict only where team and template changed the same lines (history.genuine_conflicts: none
from the seams' release on), end with one Alembic head, and upgrade the old database in place.
Conflicts are then resolved as a person would (the template's side, the team's change redone),
and the project's suite must pass, all of it but the API fuzz tests (FUZZ_TESTS_SKIPPED says why);
the oldest and newest release tested also get ruff, format, mypy and alembic check. Last, a project
generated from the working tree takes a stand-in next release (history.NEXT) with no conflict at
all.
"""

import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from harness.history import (
    DRIVERS,
    NOW,
    TEAM_TEST,
    Step,
    Updated,
    alembic_heads,
    apply_team_edits,
    author_names,
    commit_all,
    conflicted,
    generate,
    genuine_conflicts,
    next_release_arrived,
    releases,
    resolve_as_a_person_would,
    seed_author,
    sqlite_url,
    team_edits_kept,
    template_history,
    update,
)
from harness.postgres import PostgresServer
from harness.project import (
    FUZZ_TESTS_SKIPPED,
    Project,
    assert_ok,
    clean_environment,
    database_name,
    describe,
    hand_over,
    workspace,
)

# The last five releases (TEMPLATE_HISTORY_DEPTH=N for more); the newest and the oldest of them
# also get ruff, format, mypy and alembic check.
TESTED = list(releases())[-int(os.environ.get("TEMPLATE_HISTORY_DEPTH", "5")) :]
FULL = {TESTED[0], TESTED[-1]}
# Then a project generated from the working tree takes a stand-in next release (history.NEXT):
# the seams must keep the team's edits and the template's next changes apart.
STEPS = [Step(version, driver) for version in [*TESTED, NOW] for driver in DRIVERS]
NOW_STEPS = [step for step in STEPS if step.version == NOW]
# The stand-in next release's suite would only repeat the working tree's own (test_combinations).
RELEASE_STEPS = [step for step in STEPS if step.version != NOW]


def each_step(steps: list[Step]) -> pytest.MarkDecorator:
    """One parameter per update; its id is the scope the case scheduler keeps on one worker."""
    return pytest.mark.parametrize(
        "step",
        [
            pytest.param(step, id=step.id, marks=pytest.mark.xdist_group(f"history-{step.id}"))
            for step in steps
        ],
    )


@pytest.fixture(scope="session")
def history(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return template_history(tmp_path_factory.mktemp("history") / "template")


@pytest.fixture(scope="session")
def updated(
    history: Path, tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Callable[[Step], Updated]:
    """Build each update the first time a test asks for it; later tests reuse it."""
    built: dict[str, Updated | str] = {}

    def get(step: Step) -> Updated:
        if step.id not in built:
            try:
                built[step.id] = build(step)
            except Exception as error:  # one failed build fails its tests once, not rebuilt each
                built[step.id] = f"{step.id} could not be built: {type(error).__name__}: {error}"
        result = built[step.id]
        if isinstance(result, str):
            pytest.fail(result, pytrace=False)
        return result

    def build(step: Step) -> Updated | str:
        base = workspace(tmp_path_factory.getbasetemp())
        folder = base / "history" / step.id
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        path = folder / "catalogue"
        extra, dsn = {}, None
        if step.driver != "aiosqlite":
            server: PostgresServer = request.getfixturevalue("postgres")
            scheme = f"postgresql+{step.driver}"
            extra["TEST_DATABASE_URL"] = server.url(scheme, database_name(step.case, "tests"))
            old = database_name(step.case, "old")
            server.recreate(old)
            url, dsn = server.url(scheme, old), server.url("postgresql", old)
        else:
            url = sqlite_url(path)
        hand_over(folder)
        project = Project(step.case, path, clean_environment(base, **extra))
        with project.timed("render"):
            generate(history, path, step)
            apply_team_edits(path)
            hand_over(path)
        # The team's database, migrated at the old release, with a row in it; uv.lock committed.
        installed = project.sync()
        if installed.returncode != 0:
            return f"{step.id} did not install at the old release: {describe(installed)}"
        migrate = (".venv/bin/alembic", "upgrade", "head")
        old_migration = project.run(*migrate, env={"DATABASE__URL": url}, phase="alembic")
        seeded = old_migration.returncode == 0
        if seeded:
            seed_author(url, dsn)
        with project.timed("render"):
            commit_all(path, "Our own changes")
            update(path, step.target)
            conflicts = conflicted(path)
            resolve_as_a_person_would(path, conflicts)
        # Installed and migrated once; the tests below read these results or run one tool each.
        installed = project.sync()
        upgraded = installed
        if installed.returncode == 0:
            upgraded = project.run(*migrate, env={"DATABASE__URL": url}, phase="alembic")
        return Updated(
            step, project, url, conflicts, old_migration, seeded, dsn, installed, upgraded
        )

    return get


@each_step(STEPS)
def test_the_teams_edits_survive_the_update(step: Step, updated: Callable[[Step], Updated]) -> None:
    assert team_edits_kept(updated(step).project.path) == []


@each_step(STEPS)
def test_the_update_conflicts_only_where_both_sides_changed_the_same_lines(
    step: Step, updated: Callable[[Step], Updated]
) -> None:
    assert set(updated(step).conflicts) == genuine_conflicts(step)


@each_step(STEPS)
def test_no_conflict_marker_is_left_once_the_teams_files_are_resolved(
    step: Step, updated: Callable[[Step], Updated]
) -> None:
    assert conflicted(updated(step).project.path) == []


@each_step(NOW_STEPS)
def test_the_next_releases_changes_to_main_settings_pyproject_and_readme_arrive(
    step: Step, updated: Callable[[Step], Updated]
) -> None:
    assert next_release_arrived(updated(step).project.path) == []


@each_step(STEPS)
def test_the_updated_project_has_one_alembic_head(
    step: Step, updated: Callable[[Step], Updated]
) -> None:
    assert len(alembic_heads(updated(step).project.path)) == 1


@each_step(STEPS)
def test_a_database_migrated_at_the_old_release_upgrades_in_place(
    step: Step, updated: Callable[[Step], Updated]
) -> None:
    result = updated(step)

    assert_ok(result.old_migration)
    assert_ok(result.installed)
    assert_ok(result.upgraded)
    assert result.seeded
    assert author_names(result.database_url, result.dsn) == ["Written before the update"]


def installed(step: Step, updated: Callable[[Step], Updated]) -> Project:
    result = updated(step)
    assert_ok(result.installed)
    return result.project


# Without the fuzz tests (FUZZ_TESTS_SKIPPED), a trade: they are a third of the suite's CPU, run
# here fifteen times, and what they check (the working tree's API against its own document) is what
# test_combinations' cases check on every run; an update's own risks (a merge that loses a route, a
# column, a setting, a revision) are the other tests' business, and all of those run, the team's
# own test among them.
@each_step(RELEASE_STEPS)
def test_the_updated_project_passes_its_tests_including_the_teams_own(
    step: Step, updated: Callable[[Step], Updated]
) -> None:
    project = installed(step, updated)

    result = project.run_suite(".venv/bin/pytest", FUZZ_TESTS_SKIPPED)

    assert_ok(result)
    assert f"{TEAM_TEST} ." in result.stdout
    assert "test_api_fuzz" not in result.stdout


FULL_STEPS = [step for step in STEPS if step.version in FULL]


@each_step(FULL_STEPS)
def test_the_updated_project_passes_ruff_and_format(
    step: Step, updated: Callable[[Step], Updated]
) -> None:
    project = installed(step, updated)
    assert_ok(project.run(".venv/bin/ruff", "check", ".", phase="ruff"))
    assert_ok(project.run(".venv/bin/ruff", "format", "--check", ".", phase="format"))


@each_step(FULL_STEPS)
def test_the_updated_project_passes_mypy_strict(
    step: Step, updated: Callable[[Step], Updated]
) -> None:
    project = installed(step, updated)
    # The cases' shared cache: the dependencies are theirs, only the package differs.
    env = {"MYPY_CACHE_DIR": str(project.shared_cache("mypy"))}
    assert_ok(project.run(".venv/bin/mypy", phase="mypy", env=env))


@each_step(FULL_STEPS)
def test_the_upgraded_database_matches_the_updated_models(
    step: Step, updated: Callable[[Step], Updated]
) -> None:
    result = updated(step)
    assert_ok(result.upgraded)
    env = {"DATABASE__URL": result.database_url}

    assert_ok(result.project.run(".venv/bin/alembic", "check", env=env, phase="alembic"))
