"""A rendered project and the commands the harness runs inside it, each one timed."""

import json
import os
import subprocess
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import copier

from .matrix import Case

# Environment variables of the harness's own pytest run that must not leak into a generated
# project's pytest (an inherited PYTEST_XDIST_WORKER would rename its test database, say).
LEAKY_PREFIXES = ("PYTEST_", "VIRTUAL_ENV", "PYTHONPATH", "UV_PROJECT_ENVIRONMENT")
RESULTS_DIR = Path(__file__).resolve().parents[1] / ".harness"


def clean_environment(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(LEAKY_PREFIXES)}
    # Never try to download an interpreter: this fails fast where a machine has no Python 3.11+.
    env["UV_PYTHON_DOWNLOADS"] = "never"
    env.update(extra)
    return env


@dataclass
class Project:
    case: Case
    path: Path
    env: dict[str, str]
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def package(self) -> str:
        answers = (self.path / ".copier-answers.yml").read_text()
        return next(
            line.split(":", 1)[1].strip()
            for line in answers.splitlines()
            if line.startswith("package_name:")
        )

    @contextmanager
    def timed(self, phase: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.timings[phase] = self.timings.get(phase, 0.0) + time.perf_counter() - start
            self.save_timings()

    def save_timings(self) -> None:
        RESULTS_DIR.mkdir(exist_ok=True)
        (RESULTS_DIR / f"{self.case.id}.json").write_text(json.dumps(self.timings))

    def run(
        self, *args: str, phase: str, env: dict[str, str] | None = None, timeout: float = 600
    ) -> subprocess.CompletedProcess[str]:
        """Run a command in the project; the result carries its combined output."""
        with self.timed(phase):
            return subprocess.run(
                args,
                cwd=self.path,
                env={**self.env, **(env or {})},
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                timeout=timeout,
                check=False,
            )

    def files(self) -> Sequence[Path]:
        skipped = {".venv", "uv.lock", ".mypy_cache", ".pytest_cache", ".ruff_cache", "__pycache__"}
        return [
            path
            for path in sorted(self.path.rglob("*"))
            if path.is_file() and not skipped.intersection(path.relative_to(self.path).parts)
        ]


def render(case: Case, template: Path, destination: Path, env: dict[str, str]) -> Project:
    project = Project(case, destination, env)
    with project.timed("render"):
        copier.run_copy(str(template), str(destination), data=case.data, defaults=True, quiet=True)
    return project


def describe(result: subprocess.CompletedProcess[str]) -> str:
    command = " ".join(str(arg) for arg in result.args)
    return f"`{command}` exited {result.returncode}:\n{result.stdout}"
