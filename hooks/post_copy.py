"""Post-copy task: put a freshly generated project under git, so `copier update` works from day one.

Copier runs this (see `_tasks` in copier.yml) in the new project's folder, after `copier copy` only.
It never fails the copy: it steps aside, with a note, when git is missing, when the folder already
lies inside a git work tree (a monorepo, say: no repository is nested in another), or when the
first commit cannot be made (no git identity configured, a signing key that is not available).
"""

import shutil
import subprocess
import sys
from pathlib import Path

ANSWERS_FILE = Path(".copier-answers.yml")


def git(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", *args], capture_output=True, text=True, check=False)


def note(message: str) -> None:
    print(f"post-copy: {message}", file=sys.stderr)


def template_commit() -> str:
    """The template version the project was generated from, as recorded in the answers file."""
    if ANSWERS_FILE.is_file():
        for line in ANSWERS_FILE.read_text().splitlines():
            if line.startswith("_commit:"):
                return line.partition(":")[2].strip()
    return ""


def lock() -> None:
    """Write uv.lock into the first commit, so the generated CI's `uv sync --locked` passes on the
    first push. Without uv (or without the network) the first `uv run` writes it instead."""
    if not Path("pyproject.toml").is_file():
        return
    if shutil.which("uv") is None:
        note("uv is not on PATH, so uv.lock is not in the first commit; `uv lock` writes it.")
        return
    locked = subprocess.run(["uv", "lock", "--quiet"], capture_output=True, text=True, check=False)
    if locked.returncode != 0:
        note(f"`uv lock` failed, so uv.lock is not in the first commit: {locked.stderr.strip()}")


def main() -> int:
    if shutil.which("git") is None:
        note("git is not installed, so the project is not a repository yet. `copier update` needs")
        note("one: run `git init && git add --all && git commit -m 'Generate from the template'`.")
        return 0
    if git("rev-parse", "--is-inside-work-tree").stdout.strip() == "true":
        return 0
    initialised = git("init", "--quiet")
    if initialised.returncode != 0:
        note(f"`git init` failed, so the project is not a repository: {initialised.stderr.strip()}")
        return 0
    lock()
    git("add", "--all")
    version = template_commit()
    message = f"Generate from the template ({version})" if version else "Generate from the template"
    committed = git("commit", "--quiet", "--message", message)
    if committed.returncode != 0:
        note(f"the first commit failed ({committed.stderr.strip()}). The files are staged;")
        note(f"commit them (`git commit -m {message!r}`) before running `copier update`.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
