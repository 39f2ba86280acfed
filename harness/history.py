"""Updates along the template's real history: a project generated at a release, edited the way
teams edit theirs (the files in harness/team_edits/), then `copier update`d to the working tree.

The releases come from releases.toml, so a clone without tags works too: the harness clones this
repository, tags the listed commits in the clone, and commits the working tree (uncommitted
changes included, as everywhere in the harness) on top as the version to update to.
"""

import importlib.util
import os
import re
import shutil
import sqlite3
import subprocess
import tempfile
import tomllib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import copier
import plumbum

from .matrix import TEMPLATE_PARTS, TEMPLATE_ROOT, Case, copy_template
from .project import Project, hand_over, run_token

RELEASES_FILE = TEMPLATE_ROOT / "releases.toml"
TEAM_EDITS = Path(__file__).resolve().parent / "team_edits"
PROJECT_NAME = "Catalogue"
PACKAGE = "catalogue"
DRIVERS = ("asyncpg", "psycopg", "aiosqlite")

# git runs with this configuration instead of the machine's: a fixed identity, and, since the
# harness (root) runs git in projects it handed over to the unprivileged account, safe.directory.
# (A global file, not GIT_CONFIG_COUNT: `git clone` drops those variables for the cloned side.)
GIT_CONFIG = Path(tempfile.gettempdir()) / f"template-harness-{run_token()}.gitconfig"
GIT_CONFIG_TEXT = """\
[user]
\tname = Template Harness
\temail = harness@example.invalid
[safe]
\tdirectory = *
[init]
\tdefaultBranch = main
"""
GIT_ENV = {"GIT_CONFIG_GLOBAL": str(GIT_CONFIG), "GIT_CONFIG_NOSYSTEM": "1"}

# What the team does to its project, as the tests replay it.
ROUTER_MODULE = f"src/{PACKAGE}/shelves.py"
ROUTER_IMPORT = "from .shelves import router as shelves_router\n"
ROUTER_INCLUDE = "    app.include_router(shelves_router)\n"
TEAM_TEST = "tests/test_shelves.py"
TEAM_REVISION = "migrations/versions/2026_11_29_1200-c0ffee5e1f00_add_author_nickname.py"
TEAM_REVISION_ID = "c0ffee5e1f00"
NICKNAME_COLUMN = "    nickname: Mapped[str | None] = mapped_column(String(100))\n"
SETTING_DEFAULT = ("    echo: bool = False\n", "    echo: bool = True\n")
TEAM_DEPENDENCY = "anyio>=4.6"
DELETED_SAMPLE_TEST = "tests/test_books.py"
# Branches of the history clone: the working tree, and a stand-in next release on top of it.
NOW, NEXT = "now", "next"
CONFLICT_MARKER = re.compile(rb"^(<<<<<<<|>>>>>>>)( |$)", re.MULTILINE)


def releases() -> dict[str, str]:
    """Every release, oldest first: version -> commit."""
    listed = tomllib.loads(RELEASES_FILE.read_text())["releases"]
    return dict(sorted(listed.items(), key=lambda item: tuple(map(int, item[0].split(".")))))


def git(cwd: Path, *args: str) -> str:
    result = subprocess.run(
        ["git", *args],
        cwd=cwd,
        env={**os.environ, **GIT_ENV},
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, f"git {' '.join(args)} in {cwd}:\n{result.stderr}"
    return result.stdout


def write_git_config() -> None:
    """Whole or not at all: another xdist worker's git may be reading the file right now."""
    if GIT_CONFIG.is_file() and GIT_CONFIG.read_text() == GIT_CONFIG_TEXT:
        return
    partial = GIT_CONFIG.with_name(f"{GIT_CONFIG.name}.{os.getpid()}")
    partial.write_text(GIT_CONFIG_TEXT)
    partial.replace(GIT_CONFIG)


def commit_all(cwd: Path, message: str) -> None:
    git(cwd, "add", "--all")
    git(cwd, "commit", "--quiet", "--allow-empty", "--message", message)


@contextmanager
def copier_git_environment() -> Iterator[None]:
    """Copier runs git, and its tasks, through plumbum, which copied os.environ at import."""
    write_git_config()
    with plumbum.local.env(**GIT_ENV):
        yield


def template_history(destination: Path) -> Path:
    """A clone of this repository with a tag per release and the working tree as its HEAD."""
    write_git_config()
    git(
        destination.parent,
        "clone",
        "--quiet",
        "--no-checkout",
        str(TEMPLATE_ROOT),
        destination.name,
    )
    git(destination, "checkout", "--quiet", "-B", NOW)
    for version, commit in releases().items():
        present = subprocess.run(
            ["git", "cat-file", "-e", f"{commit}^{{commit}}"], cwd=destination, check=False
        )
        assert present.returncode == 0, (
            f"releases.toml lists {version} at {commit}, which this clone lacks: "
            "fetch the whole history (actions/checkout: fetch-depth: 0)."
        )
        git(destination, "tag", "--force", f"v{version}", commit)
    for part in TEMPLATE_PARTS:
        target = destination / part
        if target.is_dir():
            shutil.rmtree(target)
        else:
            target.unlink(missing_ok=True)
    copy_template(destination)
    commit_all(destination, "The working tree")
    git(destination, "checkout", "--quiet", "-b", NEXT)
    next_release(destination)
    commit_all(destination, "A stand-in next release: fixes to main.py, settings.py, pyproject")
    git(destination, "checkout", "--quiet", NOW)
    return destination


# The next release's changes, each where the template adds things: beside its own lines, at the
# places teams touched before the seams existed.
NEXT_MAIN = ("    app.include_router(health_router)\n", '    app.state.release = "next"\n')
NEXT_SETTING = (
    "    # Seconds a response may take before the service logs it as slow.\n"
    "    slow_response: float = 1.0\n"
)
NEXT_DEPENDENCY = "itsdangerous>=2.2"
NEXT_README = "## Support\n\nAsk the platform team.\n\n"


def next_release(template: Path) -> None:
    package = template / "template" / "src" / "{{ package_name }}"
    main = package / "main.py.jinja"
    main.write_text(replace_once(main.read_text(), NEXT_MAIN[0], NEXT_MAIN[0] + NEXT_MAIN[1]))
    settings = package / "settings.py.jinja"
    settings.write_text(
        replace_once(
            settings.read_text(), "\n\n\nclass Settings(", f"\n{NEXT_SETTING}\n\nclass Settings("
        )
    )
    pyproject = template / "template" / "pyproject.toml.jinja"
    pyproject.write_text(
        replace_once(
            pyproject.read_text(),
            '    "fastapi>=0.121",\n',
            f'    "fastapi>=0.121",\n    "{NEXT_DEPENDENCY}",\n',
        )
    )
    readme = template / "template" / "README.md.jinja"
    readme.write_text(
        replace_once(
            readme.read_text(),
            "## Updating this service\n",
            NEXT_README + "## Updating this service\n",
        )
    )


def next_release_arrived(project: Path) -> list[str]:
    """Which of the stand-in next release's changes the updated project lacks."""
    package = project / "src" / PACKAGE
    missing = []
    if NEXT_MAIN[1] not in (package / "main.py").read_text():
        missing.append("main.py")
    if NEXT_SETTING not in (package / "settings.py").read_text():
        missing.append("settings.py")
    if f'"{NEXT_DEPENDENCY}"' not in (project / "pyproject.toml").read_text():
        missing.append("pyproject.toml")
    if NEXT_README not in (project / "README.md").read_text():
        missing.append("README.md")
    return missing


def load_update_hook() -> ModuleType:
    """hooks/post_update.py, for the way it reads revision files."""
    path = TEMPLATE_ROOT / "hooks" / "post_update.py"
    spec = importlib.util.spec_from_file_location("post_update", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def alembic_heads(project: Path) -> list[str]:
    hook = load_update_hook()
    found = hook.revisions_on_disk(project / "migrations" / "versions")
    return [head.revision for head in hook.heads(found)]


# --- the team's edits ---------------------------------------------------------------------------


def insert_after_last(text: str, pattern: str, line: str) -> str:
    matches = list(re.finditer(pattern, text, re.MULTILINE))
    assert matches, f"found no line matching {pattern!r}; the template changed under this test"
    end = text.index("\n", matches[-1].start()) + 1
    return text[:end] + line + text[end:]


def wire_router(project: Path) -> None:
    """Include the team's router: in extensions.py where the release has it, else in main.py."""
    extensions = project / "src" / PACKAGE / "extensions.py"
    if not extensions.is_file():
        wire_router_in_main(project)
        return
    text = extensions.read_text()
    text = insert_after_last(text, r"^from pydantic import ", "\n" + ROUTER_IMPORT)
    extensions.write_text(text.rstrip("\n") + "\n" + ROUTER_INCLUDE)


def wire_router_in_main(project: Path) -> None:
    """Import the router where isort puts it, include it after the template's last; once."""
    main = project / "src" / PACKAGE / "main.py"
    text = main.read_text()
    if ROUTER_IMPORT not in text:
        earlier = [
            match
            for match in re.finditer(r"^from \.(\w+) import .*$", text, re.MULTILINE)
            if match.group(1) < "shelves"
        ]
        assert earlier, "main.py imports nothing of its own package; the template changed"
        end = earlier[-1].end() + 1
        if earlier[-1].group(0).endswith("("):
            end = text.index("\n)\n", end) + 3
        text = text[:end] + ROUTER_IMPORT + text[end:]
    if ROUTER_INCLUDE not in text:
        text = insert_after_last(text, r"^    app\.include_router\(", ROUTER_INCLUDE)
    main.write_text(text)


def add_dependency(project: Path) -> None:
    """What `uv add` does: keep a sorted list sorted, else append at the end; once."""
    pyproject = project / "pyproject.toml"
    text = pyproject.read_text()
    if f'"{TEAM_DEPENDENCY}"' in text:
        return
    block = re.search(r"^dependencies = \[\n(.*?)^\]", text, re.MULTILINE | re.DOTALL)
    assert block is not None, "pyproject.toml has no dependencies list"
    lines = block.group(1).splitlines(keepends=True)
    names = [re.sub(r'^\s*"([A-Za-z0-9_.-]+).*', r"\1", line).lower() for line in lines]
    new = f'    "{TEAM_DEPENDENCY}",\n'
    position = len(lines)
    if names == sorted(names):
        position = sum(1 for name in names if name < TEAM_DEPENDENCY.lower())
    lines.insert(position, new)
    pyproject.write_text(text[: block.start(1)] + "".join(lines) + text[block.end(1) :])


def tune_setting(project: Path) -> None:
    settings = project / "src" / PACKAGE / "settings.py"
    text = settings.read_text()
    if SETTING_DEFAULT[1] not in text:
        settings.write_text(replace_once(text, *SETTING_DEFAULT))


def append_notes(project: Path) -> None:
    readme = project / "README.md"
    notes = (TEAM_EDITS / "README-notes.md").read_text()
    if notes.strip() not in readme.read_text():
        readme.write_text(readme.read_text().rstrip("\n") + "\n" + notes)


def replace_once(text: str, old: str, new: str) -> str:
    assert text.count(old) == 1, f"expected {old!r} once; the template changed under this test"
    return text.replace(old, new)


def apply_team_edits(project: Path) -> None:
    heads = alembic_heads(project)
    assert len(heads) == 1, f"the release rendered {len(heads)} Alembic heads"
    shutil.copy(TEAM_EDITS / "shelves.py", project / ROUTER_MODULE)
    shutil.copy(TEAM_EDITS / "test_shelves.py", project / TEAM_TEST)
    wire_router(project)
    revision = (TEAM_EDITS / "add_author_nickname.py").read_text()
    (project / TEAM_REVISION).write_text(revision.replace("TEMPLATE_HEAD", heads[0]))
    models = project / "src" / PACKAGE / "authors" / "models.py"
    models.write_text(
        insert_after_last(models.read_text(), r"^    name: Mapped\[str\]", NICKNAME_COLUMN)
    )
    tune_setting(project)
    add_dependency(project)
    append_notes(project)
    (project / DELETED_SAMPLE_TEST).unlink()


# How a person resolves a conflicted file: take the template's side, then redo their own change.
REDO = {
    f"src/{PACKAGE}/main.py": wire_router_in_main,
    f"src/{PACKAGE}/settings.py": tune_setting,
    "pyproject.toml": add_dependency,
    "README.md": append_notes,
}
CONFLICT = re.compile(
    r"^<<<<<<< before updating\n.*?^=======\n(.*?)^>>>>>>> after updating\n",
    re.MULTILINE | re.DOTALL,
)


def genuine_conflicts(step: "Step") -> set[str]:
    """Files where the team's edits and the template's later changes touch the same lines.

    Up to 0.4.0 both appended to main.py's routers and next to the settings default the team
    tunes (0.5.0 added routers and settings there). Every release before the seams (0.7.0 and
    older) ends its README and dependency list where the team appended notes and `uv add`
    appended to the unsorted list, and the seams' release rewrites both ends; that release also
    adds `from .tracing import ...` to main.py just where the team's `from .shelves import ...`
    sorts (a team whose router lives in main.py meets every new import there). From the seams
    on, nothing.
    """
    if step.version == NOW:
        return set()
    version = tuple(int(part) for part in step.version.split("."))
    if version > (0, 7, 0):
        return set()
    files = {"README.md", "pyproject.toml", f"src/{PACKAGE}/main.py"}
    if version < (0, 5, 0):
        files.add(f"src/{PACKAGE}/settings.py")
    return files


def resolve_as_a_person_would(project: Path, files: list[str]) -> None:
    for name in files:
        if name not in REDO:  # not one of the team's edits: left for the conflict test to report
            continue
        path = project / name
        path.write_text(CONFLICT.sub(r"\1", path.read_text()))
        REDO[name](project)
    hand_over(project)


def team_edits_kept(project: Path) -> list[str]:
    """Which of the team's edits the project no longer shows (empty: all kept)."""
    text = {
        name: (project / name).read_text() if (project / name).is_file() else ""
        for name in [
            f"src/{PACKAGE}/main.py",
            f"src/{PACKAGE}/authors/models.py",
            f"src/{PACKAGE}/settings.py",
            "pyproject.toml",
            "README.md",
        ]
    }
    missing = []
    if (project / ROUTER_MODULE).read_text() != (TEAM_EDITS / "shelves.py").read_text():
        missing.append("the router module")
    extensions = project / "src" / PACKAGE / "extensions.py"
    wiring = text[f"src/{PACKAGE}/main.py"]
    if extensions.is_file():
        wiring += extensions.read_text()
    if ROUTER_INCLUDE not in wiring:
        missing.append("the router's wiring")
    if not (project / TEAM_TEST).is_file():
        missing.append("the team's test")
    if not (project / TEAM_REVISION).is_file():
        missing.append("the team's revision")
    if NICKNAME_COLUMN not in text[f"src/{PACKAGE}/authors/models.py"]:
        missing.append("the model's column")
    if SETTING_DEFAULT[1] not in text[f"src/{PACKAGE}/settings.py"]:
        missing.append("the settings default")
    if f'"{TEAM_DEPENDENCY}"' not in text["pyproject.toml"]:
        missing.append("the dependency")
    if (TEAM_EDITS / "README-notes.md").read_text().strip() not in text["README.md"]:
        missing.append("the README notes")
    if (project / DELETED_SAMPLE_TEST).exists():
        missing.append("the deleted sample test")
    return missing


def conflicted(project: Path) -> list[str]:
    """Files holding conflict markers, and .rej files."""
    found = []
    for path in sorted(project.rglob("*")):
        parts = path.relative_to(project).parts
        if not path.is_file() or {".git", ".venv"}.intersection(parts):
            continue
        if path.suffix == ".rej" or CONFLICT_MARKER.search(path.read_bytes()):
            found.append(path.relative_to(project).as_posix())
    return found


# --- one update ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Step:
    """Generate at `version` for `driver`, edit, update to the working tree."""

    version: str
    driver: str

    @property
    def id(self) -> str:
        return f"{self.start}-{self.driver}"

    @property
    def start(self) -> str:
        """Where the project is generated: a release tag, or the working tree (NOW)."""
        return NOW if self.version == NOW else f"v{self.version}"

    @property
    def target(self) -> str:
        """Where it is updated to: the working tree, or from there to the next release."""
        return NEXT if self.version == NOW else NOW

    @property
    def case(self) -> Case:
        return Case(answers=(("scenario", f"history-{self.id}"),), refusal=None)


@dataclass
class Updated:
    step: Step
    project: Project
    database_url: str
    conflicts: list[str]
    old_migration: subprocess.CompletedProcess[str]
    seeded: bool
    # libpq's form of a PostgreSQL database_url, for reading it back; None for SQLite.
    dsn: str | None
    installed: subprocess.CompletedProcess[str]  # `uv sync` after the update
    upgraded: subprocess.CompletedProcess[str]  # then `alembic upgrade head` on the old database


def sqlite_url(project: Path) -> str:
    """Beside the project, so the update never sees the file."""
    return f"sqlite+aiosqlite:///{project.parent / f'{project.name}.db'}"


def seed_author(url: str, dsn: str | None) -> None:
    """One row written at the old release, to find again after the in-place upgrade."""
    if dsn is None:
        path = url.partition(":///")[2]
        with sqlite3.connect(path) as connection:
            connection.execute("INSERT INTO authors (name) VALUES ('Written before the update')")
        return
    import psycopg

    with psycopg.connect(dsn, autocommit=True) as connection:
        connection.execute("INSERT INTO authors (name) VALUES ('Written before the update')")


def author_names(url: str, dsn: str | None) -> list[str]:
    query = "SELECT name FROM authors WHERE nickname IS NULL ORDER BY id"
    if dsn is None:
        with sqlite3.connect(url.partition(":///")[2]) as connection:
            return [row[0] for row in connection.execute(query)]
    import psycopg

    with psycopg.connect(dsn, autocommit=True) as connection:
        return [row[0] for row in connection.execute(query)]


def generate(template: Path, destination: Path, step: Step) -> None:
    with copier_git_environment():
        copier.run_copy(
            str(template),
            str(destination),
            vcs_ref=step.start,
            data={"project_name": PROJECT_NAME, "package_name": PACKAGE, "db_driver": step.driver},
            defaults=True,
            quiet=True,
            unsafe=True,
        )
    if not (destination / ".git").exists():  # releases before 0.2.0 did not run `git init`
        git(destination, "init", "--quiet")
        commit_all(destination, "Generate from the template")
    hand_over(destination)


def update(project: Path, target: str) -> None:
    with copier_git_environment():
        copier.run_update(
            str(project),
            vcs_ref=target,
            defaults=True,
            overwrite=True,
            quiet=True,
            unsafe=True,
        )
    hand_over(project)
