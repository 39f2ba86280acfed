"""Reading a rendered project's ship files: README commands, the workflow, the Dockerfile."""

import fnmatch
import json
import re
import shlex
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import yaml

from .project import Project

WORKFLOW = ".github/workflows/ci.yml"


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


def env_example(project: Project) -> tuple[set[str], set[str]]:
    """The names .env.example sets, and the ones it mentions commented out."""
    text = (project.path / ".env.example").read_text()
    assigned = set(re.findall(r"^([A-Z][A-Z0-9_]*)=", text, re.MULTILINE))
    commented = set(re.findall(r"^#\s*([A-Z][A-Z0-9_]*)=", text, re.MULTILINE))
    return assigned, commented


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
