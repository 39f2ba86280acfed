"""Every valid combination's ship files: valid against their published schemas, and consistent.

The compose file and the workflow are checked against their schemas (check-jsonschema's vendored
copies, so this works offline), the Dockerfile with hadolint, the pre-commit config with
pre-commit. The commands the workflow, the hooks and the image run are compared with the ones
the rendered README gives, and the image's build steps are replayed without Docker.
"""

import fnmatch
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import httpx
import pytest
import uv
import yaml
from pre_commit import clientlib

from .conftest import POSTGRES_SCHEMES, iter_text
from .matrix import Case, valid_cases
from .project import Project, as_project_user, hand_over
from .test_combinations import assert_ok, database_url, free_port, wait_until_listening

pytestmark = pytest.mark.parametrize(
    "case",
    [
        pytest.param(case, id=case.id, marks=pytest.mark.xdist_group(case.id))
        for case in valid_cases()
    ],
)

# The validators only read files, so they run as the harness itself, from its environment.
TOOLS = Path(sys.executable).parent
WORKFLOW = ".github/workflows/ci.yml"
UV_IMAGE = re.compile(r"ghcr\.io/astral-sh/uv:(?P<tag>\S+)")


def is_postgres(case: Case) -> bool:
    return case["db_driver"] in POSTGRES_SCHEMES


def validate(project: Project, *args: str) -> subprocess.CompletedProcess[str]:
    with project.timed("ship"):
        return subprocess.run(
            args, cwd=project.path, capture_output=True, text=True, timeout=120, check=False
        )


def load_yaml(project: Project, name: str) -> Any:
    return yaml.safe_load((project.path / name).read_text())


def words(command: str) -> list[str]:
    """A command's words, with a leading `uv run` dropped: in the image the venv is on PATH."""
    split = shlex.split(command)
    return split[2:] if split[:2] == ["uv", "run"] else split


def split_commands(text: str) -> list[str]:
    """Shell lines to single commands: comments dropped, `&&` chains split."""
    commands = []
    for line in text.splitlines():
        line = re.sub(r"(^|\s)#.*$", "", line)
        commands.extend(" ".join(part.split()) for part in line.split("&&") if part.strip())
    return commands


def readme_commands(project: Project) -> list[str]:
    readme = (project.path / "README.md").read_text()
    blocks = re.findall(r"^```sh\n(.*?)^```", readme, re.MULTILINE | re.DOTALL)
    return [command for block in blocks for command in split_commands(block)]


def readme_check_commands(project: Project) -> list[str]:
    """The commands of the README's Checks section: the ones CI promises to run."""
    readme = (project.path / "README.md").read_text()
    section = readme.split("## Checks", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"^```sh\n(.*?)^```", section, re.MULTILINE | re.DOTALL)
    return [command for block in blocks for command in split_commands(block)]


def workflow_commands(project: Project) -> list[str]:
    jobs = load_yaml(project, WORKFLOW)["jobs"]
    return [
        command
        for job in jobs.values()
        for step in job["steps"]
        if "run" in step
        for command in split_commands(step["run"])
    ]


def starts_like_a_readme_command(command: str, readme: list[str]) -> bool:
    return any(words(command)[: len(words(r))] == words(r) for r in readme)


@dataclass
class Instruction:
    keyword: str
    arguments: str
    stage: int


def dockerfile(project: Project) -> list[Instruction]:
    """The Dockerfile's instructions, continuation lines joined, each with its stage number."""
    text = re.sub(r"\\\n", " ", (project.path / "Dockerfile").read_text())
    instructions, stage = [], -1
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        keyword, _, arguments = line.strip().partition(" ")
        if keyword.upper() == "FROM":
            stage += 1
        instructions.append(Instruction(keyword.upper(), arguments.strip(), stage))
    return instructions


def run_commands(instruction: Instruction) -> list[str]:
    """A RUN instruction's commands, without its --mount options."""
    shell = re.sub(r"--mount=\S+", "", instruction.arguments)
    return split_commands(shell)


def environment(instructions: list[Instruction], stage: int) -> dict[str, str]:
    env = {}
    for instruction in instructions:
        if instruction.keyword == "ENV" and instruction.stage == stage:
            for pair in shlex.split(instruction.arguments):
                name, _, value = pair.partition("=")
                env[name] = value
    return env


def last_stage(instructions: list[Instruction]) -> int:
    return instructions[-1].stage


def image_command(instructions: list[Instruction]) -> list[str]:
    (cmd,) = [i for i in instructions if i.keyword == "CMD"]
    argv: list[str] = json.loads(cmd.arguments)
    return argv


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
    if is_postgres(case):
        expected["db"] = "service_healthy"
        assert services["migrate"]["depends_on"] == {"db": {"condition": "service_healthy"}}
        assert services["db"]["healthcheck"]["test"][0] == "CMD-SHELL"
    assert waits_for == expected
    assert services["app"]["image"] == services["migrate"]["image"]


def test_compose_has_no_database_server_for_sqlite(case: Case, project: Project) -> None:
    services = set(load_yaml(project, "compose.yaml")["services"])
    assert services == ({"db", "migrate", "app"} if is_postgres(case) else {"migrate", "app"})


def test_workflow_tests_against_a_postgres_service_only_when_postgres(
    case: Case, project: Project
) -> None:
    (job,) = load_yaml(project, WORKFLOW)["jobs"].values()
    if not is_postgres(case):
        assert "services" not in job
        assert "env" not in job
        return
    postgres = job["services"]["postgres"]
    assert postgres["image"].startswith("postgres:")
    assert "--health-cmd" in postgres["options"]
    assert {"DATABASE__URL", "TEST_DATABASE_URL"} <= set(job["env"])
    scheme = POSTGRES_SCHEMES[case["db_driver"]]
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


def env_example(project: Project) -> tuple[set[str], set[str]]:
    """The names .env.example sets, and the ones it mentions commented out."""
    text = (project.path / ".env.example").read_text()
    assigned = set(re.findall(r"^([A-Z][A-Z0-9_]*)=", text, re.MULTILINE))
    commented = set(re.findall(r"^#\s*([A-Z][A-Z0-9_]*)=", text, re.MULTILINE))
    return assigned, commented


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
    others = "\n".join(text for path, text in iter_text(project) if path.name not in documents)
    assert sorted(name for name in commented if name not in others) == []


# ---- the image's build, replayed without Docker --------------------------------------------


def dockerignored(relative: PurePosixPath, patterns: list[str]) -> bool:
    """Whether .dockerignore leaves a path out of the build context (the patterns used here)."""
    candidates = [PurePosixPath(*relative.parts[: n + 1]) for n in range(len(relative.parts))]
    for pattern in patterns:
        pattern = pattern.rstrip("/")
        anywhere = pattern.startswith("**/")
        pattern = pattern.removeprefix("**/")
        for candidate in candidates:
            tails = [candidate.name] if anywhere else []
            if any(fnmatch.fnmatchcase(str(c), pattern) for c in [candidate, *tails]):
                return True
    return False


def build_context(project: Project) -> Iterator[Path]:
    lines = (project.path / ".dockerignore").read_text().splitlines()
    patterns = [line.strip() for line in lines if line.strip() and not line.startswith("#")]
    for path in sorted(project.path.rglob("*")):
        relative = PurePosixPath(path.relative_to(project.path).as_posix())
        if path.is_file() and not dockerignored(relative, patterns):
            yield path


def in_dir(directory: Path, command: str) -> list[str]:
    return ["sh", "-c", f"cd {shlex.quote(str(directory))} && {command}"]


def localised(env: dict[str, str], app: Path, path: str) -> dict[str, str]:
    """The image's ENV, with /app moved to where the replay builds it."""
    return {
        name: value.replace("/app", str(app)).replace("$PATH", path) for name, value in env.items()
    }


def test_image_build_steps_install_migrate_and_serve(
    case: Case, project: Project, request: pytest.FixtureRequest
) -> None:
    """Replays the Dockerfile's uv commands and runtime stage in one folder standing in for /app.

    The same path in both stages, as in the image: the build stage's venv works unchanged in the
    runtime stage. Proves that the locked install works from pyproject.toml and uv.lock alone,
    that .dockerignore keeps what the build needs, that the runtime stage's files are enough to
    migrate and serve, and that the service starts WEB_CONCURRENCY workers.
    """
    instructions = dockerfile(project)
    runtime = last_stage(instructions)
    app = project.path.parent / f"{project.path.name}-image"
    shutil.rmtree(app, ignore_errors=True)
    app.mkdir()
    build_env = localised(environment(instructions, 0), app, project.env["PATH"])
    # Compiling bytecode makes the image start faster and the replay 10 s slower; nothing else.
    build_env.pop("UV_COMPILE_BYTECODE", None)
    copied_context = False
    for instruction in instructions:
        if instruction.stage != 0:
            continue
        if instruction.keyword == "COPY" and instruction.arguments == ". /app":
            for path in build_context(project):
                target = app / path.relative_to(project.path)
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(path, target)
            copied_context = True
        if instruction.keyword == "RUN":
            for source in re.findall(r"type=bind,source=([^,\s]+)", instruction.arguments):
                shutil.copy2(project.path / source, app / source)
            hand_over(app)
            # Only uv's steps: anything else would act on this machine, not in an image.
            for command in [c for c in run_commands(instruction) if c.startswith("uv ")]:
                result = project.run(*in_dir(app, command), phase="image", env=build_env)
                assert_ok(result)
            for source in re.findall(r"type=bind,source=([^,\s]+)", instruction.arguments):
                if not copied_context:
                    (app / source).unlink()
    assert copied_context, "the build stage never copies the source"

    kept = {
        PurePosixPath(instruction.arguments.split()[-1]).relative_to("/app").parts[0]
        for instruction in instructions
        if instruction.keyword == "COPY" and instruction.stage == runtime
    }
    for entry in app.iterdir():
        if entry.name not in kept:
            shutil.rmtree(entry) if entry.is_dir() else entry.unlink()

    postgres = request.getfixturevalue("postgres") if is_postgres(case) else None
    env = {
        **localised(environment(instructions, runtime), app, project.env["PATH"]),
        "DATABASE__URL": database_url(case, project, postgres, "image"),
    }
    migrate = load_yaml(project, "compose.yaml")["services"]["migrate"]["command"]
    assert_ok(project.run(*in_dir(app, shlex.join(migrate)), phase="image", env=env))

    argv = image_command(instructions)
    port = free_port()
    argv[argv.index("--port") + 1] = str(port)
    argv[argv.index("--host") + 1] = "127.0.0.1"
    with project.timed("image"):
        server = subprocess.Popen(
            as_project_user(in_dir(app, "exec " + shlex.join(argv))),
            env={**project.env, **env},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            # runuser does not pass SIGINT on: signal the whole group, uvicorn's parent included.
            start_new_session=True,
        )
        try:
            wait_until_listening(server, port)
            response = httpx.get(f"http://127.0.0.1:{port}/authors", timeout=10)
            assert response.status_code == 200, response.text
        finally:
            os.killpg(server.pid, signal.SIGINT)
            try:
                output, _ = server.communicate(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(server.pid, signal.SIGKILL)
                raise
    workers = int(env["WEB_CONCURRENCY"])
    assert output.count("Started server process") == workers, output
    shutil.rmtree(app, ignore_errors=True)
