"""Every valid combination's ship files: valid against their published schemas, and consistent.

The compose file and the workflow are checked against their schemas (check-jsonschema's vendored
copies, so this works offline), the Dockerfile with hadolint, the pre-commit config with
pre-commit. The commands the workflow, the hooks and the image run are compared with the ones
the rendered README gives.
"""

import json
import re
import shlex
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import uv
from pre_commit import clientlib

from harness.matrix import Case, each_case, valid_cases
from harness.project import Project, assert_ok
from harness.shipfiles import (
    WORKFLOW,
    dockerfile,
    env_example,
    image_command,
    load_yaml,
    readme_check_commands,
    readme_commands,
    run_commands,
    starts_like_a_readme_command,
    words,
    workflow_commands,
)

pytestmark = each_case(valid_cases())

# The validators only read files, so they run as the harness itself, from its environment.
TOOLS = Path(sys.executable).parent
UV_IMAGE = re.compile(r"ghcr\.io/astral-sh/uv:(?P<tag>\S+)")


def validate(project: Project, *args: str) -> subprocess.CompletedProcess[str]:
    with project.timed("ship"):
        return subprocess.run(
            args, cwd=project.path, capture_output=True, text=True, timeout=120, check=False
        )


# ---- schemas and linters -------------------------------------------------------------------


def test_compose_file_matches_the_compose_spec(project: Project) -> None:
    schema = ("--builtin-schema", "vendor.compose-spec")
    assert_ok(validate(project, str(TOOLS / "check-jsonschema"), *schema, "compose.yaml"))


def test_workflow_matches_the_github_workflow_schema(project: Project) -> None:
    schema = ("--builtin-schema", "vendor.github-workflows")
    assert_ok(validate(project, str(TOOLS / "check-jsonschema"), *schema, WORKFLOW))


def test_dockerfile_passes_hadolint(project: Project) -> None:
    assert_ok(validate(project, str(TOOLS / "hadolint"), "--no-color", "Dockerfile"))


def test_pre_commit_config_is_valid(project: Project) -> None:
    pre_commit = TOOLS / "pre-commit"
    assert_ok(validate(project, str(pre_commit), "validate-config", ".pre-commit-config.yaml"))
    # pre-commit ignores unknown keys in a hook; a misspelt one would silently do nothing.
    known = {item.key for item in clientlib.MANIFEST_HOOK_DICT.items if hasattr(item, "key")}
    config = load_yaml(project, ".pre-commit-config.yaml")
    unknown = [
        f"{hook['id']}: {key}"
        for repo in config["repos"]
        for hook in repo["hooks"]
        for key in hook
        if key not in known
    ]
    assert unknown == []


# ---- what the files say --------------------------------------------------------------------


def test_compose_runs_migrations_to_completion_before_the_service(
    case: Case, project: Project
) -> None:
    services = load_yaml(project, "compose.yaml")["services"]
    assert words(shlex.join(services["migrate"]["command"])) == ["alembic", "upgrade", "head"]
    waits_for = {name: body["condition"] for name, body in services["app"]["depends_on"].items()}
    expected = {"migrate": "service_completed_successfully"}
    if case.data.get("connection_pooler") == "pgbouncer":
        expected["pgbouncer"] = "service_started"
    if has_server(project):
        expected["db"] = "service_healthy"
        assert services["migrate"]["depends_on"] == {"db": {"condition": "service_healthy"}}
        assert services["db"]["healthcheck"]["test"][0] in {"CMD", "CMD-SHELL"}
    assert waits_for == expected
    assert services["app"]["image"] == services["migrate"]["image"]


def has_server(project: Project) -> bool:
    return bool(project.answers["is_postgres"] or project.answers.get("is_mysql"))


# What each server's official image is called, and the variables that set its first account and
# database (a MySQL project runs MariaDB, the server its tests are proven on).
SERVER_IMAGES = {
    "is_postgres": ("postgres", "POSTGRES_USER", "POSTGRES_PASSWORD", "POSTGRES_DB"),
    "is_mysql": ("mariadb", "MARIADB_USER", "MARIADB_PASSWORD", "MARIADB_DATABASE"),
}


def server_image(project: Project) -> tuple[str, str, str, str]:
    (found,) = [image for flag, image in SERVER_IMAGES.items() if project.answers.get(flag)]
    return found


def test_compose_has_no_database_server_for_sqlite(case: Case, project: Project) -> None:
    services = set(load_yaml(project, "compose.yaml")["services"])
    expected = {"db", "migrate", "app"} if has_server(project) else {"migrate", "app"}
    if case.data.get("connection_pooler") == "pgbouncer":
        expected.add("pgbouncer")
    assert services == expected


def test_compose_service_signs_in_with_the_account_and_database_its_db_creates(
    project: Project,
) -> None:
    compose = load_yaml(project, "compose.yaml")
    url = urlsplit(compose["x-service"]["environment"]["DATABASE__URL"])
    assert url.scheme == project.answers["database_url_scheme"]
    if not has_server(project):
        assert url.path.startswith("//app/data/")  # the file lives in the data volume
        return
    image, user, password, database = server_image(project)
    db = compose["services"]["db"]
    assert db["image"].split(":")[0] == image
    assert (url.hostname, url.username, url.password, url.path.lstrip("/")) == (
        "db",
        db["environment"][user],
        db["environment"][password],
        db["environment"][database],
    )


def test_workflow_tests_against_its_database_s_service_container_only_when_it_has_a_server(
    case: Case, project: Project
) -> None:
    (job,) = load_yaml(project, WORKFLOW)["jobs"].values()
    if not has_server(project):
        assert "services" not in job
        assert "env" not in job
        return
    image, *_ = server_image(project)
    (container,) = job["services"].values()
    assert container["image"].split(":")[0] == image
    assert "--health-cmd" in container["options"]
    # The service's URL names the database the container creates, on the port it publishes.
    url = urlsplit(job["env"]["DATABASE__URL"])
    _, user, password, database = server_image(project)
    assert url.path.lstrip("/") == container["env"][database]
    assert f"{url.port}:{url.port}" in container["ports"]
    if image == "mariadb":
        # The README's setup: root without a password, which the image allows only when told to.
        assert (url.username, url.password) == ("root", None)
        assert container["env"]["MARIADB_ALLOW_EMPTY_ROOT_PASSWORD"] == "1"
    else:
        assert (url.username, url.password) == (container["env"][user], container["env"][password])
    # The throwaway strategy's tests start their own server; the others use the service container.
    needs_test_url = case["test_db_strategy"] != "throwaway"
    assert "DATABASE__URL" in job["env"]
    assert ("TEST_DATABASE_URL" in job["env"]) == needs_test_url
    scheme = project.answers["database_url_scheme"]
    assert all(url.startswith(f"{scheme}://") for url in job["env"].values())


def test_workflow_runs_only_commands_the_readme_gives(project: Project) -> None:
    readme = readme_commands(project)
    assert [c for c in workflow_commands(project) if c not in readme] == []


def test_workflow_runs_every_check_and_the_tests_the_readme_gives(project: Project) -> None:
    readme_test_command = "uv run pytest"
    assert readme_test_command in readme_commands(project)
    promised = [*readme_check_commands(project), readme_test_command]
    assert [c for c in promised if c not in workflow_commands(project)] == []


def test_pre_commit_hooks_run_readme_check_commands(project: Project) -> None:
    config = load_yaml(project, ".pre-commit-config.yaml")
    entries = [hook["entry"] for repo in config["repos"] for hook in repo["hooks"]]
    assert entries
    assert [e for e in entries if e not in readme_check_commands(project)] == []


def test_image_installs_locked_and_serves_as_the_readme_runs(project: Project) -> None:
    readme = readme_commands(project)
    instructions = dockerfile(project)
    installs = [
        command
        for instruction in instructions
        if instruction.keyword == "RUN"
        for command in run_commands(instruction)
        if command.startswith("uv ")
    ]
    assert installs, "the Dockerfile installs nothing with uv"
    assert all("--locked" in words(command) for command in installs), installs
    shipped = [*installs, shlex.join(image_command(instructions))]
    compose = load_yaml(project, "compose.yaml")["services"]
    shipped.append(shlex.join(compose["migrate"]["command"]))
    assert [c for c in shipped if not starts_like_a_readme_command(c, readme)] == []


def test_image_and_workflow_use_one_python_version(project: Project) -> None:
    (arg,) = [i for i in dockerfile(project) if i.keyword == "ARG" and "PYTHON" in i.arguments]
    (job,) = load_yaml(project, WORKFLOW)["jobs"].values()
    (setup,) = [step for step in job["steps"] if "astral-sh/setup-uv" in step.get("uses", "")]
    assert arg.arguments == f"PYTHON_VERSION={setup['with']['python-version']}"


def test_image_uses_the_uv_release_line_the_harness_locks_with(project: Project) -> None:
    match = UV_IMAGE.search((project.path / "Dockerfile").read_text())
    assert match, "the Dockerfile does not copy uv from its image"
    version = subprocess.run(
        [uv.find_uv_bin(), "--version"], capture_output=True, text=True, check=True
    ).stdout.split()[1]
    assert version.startswith(f"{match['tag']}."), f"harness uv {version}, image uv {match['tag']}"


SETTING_NAMES = """
import json
import os
from pydantic import BaseModel
from {package}.settings import Settings

def names(model, prefix=""):
    for name, field in model.model_fields.items():
        if isinstance(field.annotation, type) and issubclass(field.annotation, BaseModel):
            yield from names(field.annotation, f"{{prefix}}{{name.upper()}}__")
        else:
            yield f"{{prefix}}{{name.upper()}}"

Settings(_env_file=".env.example")  # every value it gives must be valid
print(json.dumps(sorted(names(Settings))))
"""


def test_env_example_sets_exactly_the_services_settings(project: Project) -> None:
    script = SETTING_NAMES.format(package=project.package)
    result = project.run(".venv/bin/python", "-c", script, phase="ship")
    assert_ok(result)
    settings = set(json.loads(result.stdout.strip().splitlines()[-1]))
    assigned, _ = env_example(project)
    assert sorted(settings - assigned) == [], "settings .env.example does not document"
    assert sorted(assigned - settings) == [], ".env.example sets names the service does not read"


def test_env_example_mentions_only_variables_something_reads(project: Project) -> None:
    _, commented = env_example(project)
    documents = {".env.example", "README.md"}
    others = "\n".join(text for path, text in project.text_files() if path.name not in documents)
    assert sorted(name for name in commented if name not in others) == []
