"""`copier update`: a project generated from an older template version receives the template's
changes and keeps its own.

The scenario (harness/update_scenario.py) updates a project with a team's edits from v1.0.0 to
v1.1.0 of a temporary template history. Byte-for-byte checks compare the result with a fresh
v1.1.0 render plus the team's edits, so a lost edit, a lost template change or a stray conflict
all fail. Updates along the template's real releases are tests/test_history.py.
"""

import shutil

import pytest
import yaml

from harness.postgres import PostgresServer
from harness.project import FUZZ_TESTS_SKIPPED, Project, assert_ok, database_name, workspace
from harness.update_scenario import (
    ANSWERS,
    PACKAGE,
    RENAMED_FROM,
    RENAMED_TO,
    SWITCHED,
    TEMPLATE_DOCSTRING,
    TEMPLATE_ENV,
    TEMPLATE_NEW_FILE,
    TEMPLATE_NEW_FILE_TEXT,
    TEMPLATE_README_ADDITION,
    USER_DELETED,
    USER_DOCSTRING,
    USER_ENV,
    Scenario,
    build_scenario,
    check_update,
    commit_all,
    conflict_leftovers,
    git,
    render_fresh,
    snapshot,
    update,
)

# One xdist group (under --dist loadgroup): every test here runs on one worker, in file order,
# against projects built once.
pytestmark = pytest.mark.xdist_group("update")


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory, postgres: PostgresServer) -> Scenario:
    base = workspace(tmp_path_factory.getbasetemp())
    shutil.rmtree(base / "update", ignore_errors=True)
    return build_scenario(tmp_path_factory.mktemp("template-history"), base, postgres)


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
    assert_ok(scenario.project.sync())


def test_the_updated_project_passes_ruff(scenario: Scenario) -> None:
    assert_ok(scenario.project.run("uv", "run", "ruff", "check", ".", phase="ruff"))
    assert_ok(scenario.project.run("uv", "run", "ruff", "format", "--check", ".", phase="format"))


def test_the_updated_project_passes_mypy_strict(scenario: Scenario) -> None:
    # The cases' shared cache: the dependencies are theirs, only the package differs (cold, mypy
    # took 17 CPU-s here, the cases' warm runs 2-6).
    env = {"MYPY_CACHE_DIR": str(scenario.project.shared_cache("mypy"))}
    assert_ok(scenario.project.run("uv", "run", "mypy", phase="mypy", env=env))


# The suites below skip the API fuzz tests (FUZZ_TESTS_SKIPPED), for the reason the history's
# updates leave them out (tests/test_history.py): they check the rendered API against its own
# document, which every case's suite does, while an update's own risks are what the other tests
# check. The suites are left to the whole run (whole_run): --quick keeps the byte-for-byte checks.


@pytest.mark.whole_run
def test_the_updated_project_passes_its_tests_including_the_teams_own(scenario: Scenario) -> None:
    result = scenario.project.run("uv", "run", "pytest", "-v", FUZZ_TESTS_SKIPPED, phase="pytest")

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


@pytest.mark.whole_run
def test_the_project_switched_to_psycopg_passes_its_tests(switched: Project) -> None:
    assert_ok(switched.sync())  # as `uv run` would, plus the bytecode the suite's Pythons share
    result = switched.run("uv", "run", "pytest", "-v", FUZZ_TESTS_SKIPPED, phase="pytest")

    assert_ok(result)
    assert "tests/test_ping.py::test_ping_answers_ok PASSED" in result.stdout
