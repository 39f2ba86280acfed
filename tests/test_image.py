"""Every valid combination's container image, its build replayed without Docker (none here)."""

import os
import re
import shlex
import shutil
import signal
import subprocess
from collections.abc import Callable
from pathlib import PurePosixPath

import httpx

from harness.matrix import each_case, valid_cases
from harness.ports import free_port, wait_for_port
from harness.project import Project, as_project_user, assert_ok, hand_over
from harness.shipfiles import (
    build_context,
    dockerfile,
    environment,
    image_command,
    in_dir,
    last_stage,
    load_yaml,
    localised,
    run_commands,
)

pytestmark = each_case(valid_cases())


def test_image_build_steps_install_migrate_and_serve(
    project: Project, fresh_database: Callable[[str], str]
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
    # The Dockerfile compiles bytecode and copies files out of its cache mount. The replay gets
    # that bytecode the harness's way (compile_dependencies, below), with uv linking its cached
    # files as in every venv of the run so that they share it: uv compiling copies takes 10 s of
    # CPU per case. Neither changes what is installed.
    build_env["UV_COMPILE_BYTECODE"] = "0"
    build_env["UV_LINK_MODE"] = "hardlink"
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
    project.compile_dependencies(app / ".venv", phase="image", env=build_env)

    kept = {
        PurePosixPath(instruction.arguments.split()[-1]).relative_to("/app").parts[0]
        for instruction in instructions
        if instruction.keyword == "COPY" and instruction.stage == runtime
    }
    for entry in app.iterdir():
        if entry.name not in kept:
            shutil.rmtree(entry) if entry.is_dir() else entry.unlink()

    env = {
        **localised(environment(instructions, runtime), app, project.env["PATH"]),
        "DATABASE__URL": fresh_database("image"),
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
            wait_for_port(port, server, "the image's service", timeout=30)
            response = httpx.get(f"http://127.0.0.1:{port}/authors", timeout=10)
            assert response.status_code == 200, response.text
            assert response.json() == {"items": [], "next": None}
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
