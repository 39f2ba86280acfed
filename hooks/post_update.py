"""After `copier update`: join Alembic heads the update split, then say what needs a person.

Copier runs this (an unversioned `_migrations` entry in copier.yml, so after every update, once the
project's own changes have been merged back) in the project's folder, with Copier's Python: only
the standard library, no Alembic. Revision files are read as Python source, never imported.

Why a merge revision: a template release may add a revision on top of one the team has already
built on. The project then has two heads, and `alembic upgrade head`, `alembic check` and
autogenerate all refuse to run. An empty revision whose parents are both heads puts the history
back on one line without touching either side, and a database migrated at the old release upgrades
in place (Alembic applies the template's new revision, then the merge). Heads the team had before
the update are the team's own business: they are reported, never merged.

It never fails the update: whatever it cannot do, it says.
"""

import ast
import configparser
import datetime
import re
import subprocess
import sys
import tomllib
import uuid
from dataclasses import dataclass
from pathlib import Path

DEFAULT_FILE_TEMPLATE = "%(rev)s_%(slug)s"
DATED_NAME = re.compile(r"^(\d{4})_(\d{2})_(\d{2})_(\d{2})(\d{2})")
MERGE_MESSAGE = "Join the template's revisions and the project's"
MERGE_SLUG = "join_template_and_project_revisions"
CONFLICT_MARKER = "<<<<<<< before updating"


@dataclass(frozen=True)
class Revision:
    revision: str
    parents: tuple[str, ...]
    filename: str


def note(message: str = "") -> None:
    print(message, file=sys.stderr)


def git(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", *args], capture_output=True, text=True, check=False)


def alembic_options() -> dict[str, str]:
    """`script_location` and `file_template`, from alembic.ini or pyproject.toml [tool.alembic]."""
    ini = Path("alembic.ini")
    if ini.is_file():
        parser = configparser.ConfigParser(interpolation=None)
        parser.read(ini)
        if parser.has_section("alembic"):
            # alembic.ini doubles % for its own interpolation; undo that as Alembic does.
            return {k: v.replace("%%", "%") for k, v in parser.items("alembic")}
    pyproject = Path("pyproject.toml")
    if pyproject.is_file():
        try:
            table = tomllib.loads(pyproject.read_text()).get("tool", {}).get("alembic", {})
        except tomllib.TOMLDecodeError:
            return {}
        return {k: v.replace("%%", "%") for k, v in table.items() if isinstance(v, str)}
    return {}


def versions_folder(options: dict[str, str]) -> Path:
    location = options.get("script_location", "migrations").replace("%(here)s", ".")
    return Path(location) / "versions"


def parse_revision(source: str, filename: str) -> Revision | None:
    """The revision id and its parents, read from the module's top-level assignments."""
    try:
        module = ast.parse(source)
    except SyntaxError:
        return None
    values: dict[str, object] = {}
    for statement in module.body:
        if isinstance(statement, ast.AnnAssign) and isinstance(statement.target, ast.Name):
            name, value = statement.target.id, statement.value
        elif (
            isinstance(statement, ast.Assign)
            and len(statement.targets) == 1
            and isinstance(statement.targets[0], ast.Name)
        ):
            name, value = statement.targets[0].id, statement.value
        else:
            continue
        if name in {"revision", "down_revision"} and value is not None:
            try:
                values[name] = ast.literal_eval(value)
            except ValueError:
                return None
    revision = values.get("revision")
    if not isinstance(revision, str):
        return None
    down = values.get("down_revision")
    if down is None:
        parents: tuple[str, ...] = ()
    elif isinstance(down, str):
        parents = (down,)
    elif isinstance(down, tuple | list):
        parents = tuple(str(parent) for parent in down)
    else:
        return None
    return Revision(revision, parents, filename)


def heads(revisions: list[Revision]) -> list[Revision]:
    """Revisions no other revision names as a parent, in file-name order."""
    parents = {parent for revision in revisions for parent in revision.parents}
    return sorted(
        (revision for revision in revisions if revision.revision not in parents),
        key=lambda revision: revision.filename,
    )


def revisions_on_disk(folder: Path) -> list[Revision]:
    found = []
    for path in sorted(folder.glob("*.py")):
        revision = parse_revision(path.read_text(errors="replace"), path.name)
        if revision is not None:
            found.append(revision)
    return found


def revisions_before_update(folder: Path) -> list[Revision] | None:
    """The revisions of the last commit, i.e. before this update; None outside git."""
    listed = git("ls-tree", "--name-only", "HEAD", f"{folder.as_posix()}/")
    if listed.returncode != 0:
        return None
    found = []
    for name in listed.stdout.splitlines():
        if not name.endswith(".py"):
            continue
        shown = git("show", f"HEAD:./{name}")
        revision = parse_revision(shown.stdout, Path(name).name)
        if shown.returncode == 0 and revision is not None:
            found.append(revision)
    return found


def merge_time(joined: list[Revision]) -> datetime.datetime:
    """Now, or a minute after the latest dated head: the merge's file must sort after both sides."""
    now = datetime.datetime.now(tz=datetime.UTC).replace(second=0, microsecond=0, tzinfo=None)
    latest = now
    for revision in joined:
        dated = DATED_NAME.match(revision.filename)
        if dated:
            stamp = datetime.datetime(*(int(part) for part in dated.groups()))
            latest = max(latest, stamp + datetime.timedelta(minutes=1))
    return latest


def merge_filename(options: dict[str, str], revision: str, when: datetime.datetime) -> str:
    fields = {
        "rev": revision,
        "slug": MERGE_SLUG,
        "epoch": int(when.replace(tzinfo=datetime.UTC).timestamp()),
        "year": when.year,
        "month": when.month,
        "day": when.day,
        "hour": when.hour,
        "minute": when.minute,
        "second": when.second,
    }
    return (options.get("file_template", DEFAULT_FILE_TEMPLATE) % fields) + ".py"


def merge_source(revision: str, parents: list[str], when: datetime.datetime) -> str:
    """A revision file as the project's own script.py.mako would write it, minus unused imports."""
    listed = ", ".join(f'"{parent}"' for parent in parents)
    assignment = f"down_revision: str | Sequence[str] | None = ({listed})"
    if len(assignment) > 100:
        lines = "".join(f'    "{parent}",\n' for parent in parents)
        assignment = f"down_revision: str | Sequence[str] | None = (\n{lines})"
    return (
        f'"""{MERGE_MESSAGE}.\n'
        "\n"
        "Written by the template's update task (hooks/post_update.py): the update added a\n"
        "template revision beside the project's own, and this joins the two lines of history.\n"
        "\n"
        f"Revision ID: {revision}\n"
        f"Revises: {', '.join(parents)}\n"
        f"Create Date: {when:%Y-%m-%d %H:%M:%S}\n"
        '"""\n'
        "\n"
        "from collections.abc import Sequence\n"
        "\n"
        f'revision: str = "{revision}"\n'
        f"{assignment}\n"
        "branch_labels: str | Sequence[str] | None = None\n"
        "depends_on: str | Sequence[str] | None = None\n"
        "\n"
        "\n"
        "def upgrade() -> None:\n"
        "    pass\n"
        "\n"
        "\n"
        "def downgrade() -> None:\n"
        "    pass\n"
    )


def join_heads(folder: Path, options: dict[str, str]) -> list[str]:
    """Write a merge revision if the update split the history; return the report's lines."""
    if not folder.is_dir():
        return []
    now_heads = heads(revisions_on_disk(folder))
    if len(now_heads) <= 1:
        return [f"Alembic: one head ({now_heads[0].revision}), nothing to do." if now_heads else ""]
    before = revisions_before_update(folder)
    if before is not None and len(heads(before)) > 1:
        listed = ", ".join(head.revision for head in now_heads)
        return [
            f"Alembic: {len(now_heads)} heads ({listed}); the project had several before this",
            "update, so they are left as they are. Join them with `uv run alembic merge heads`.",
        ]
    revision = uuid.uuid4().hex[-12:]
    when = merge_time(now_heads)
    path = folder / merge_filename(options, revision, when)
    parents = [head.revision for head in now_heads]
    path.write_text(merge_source(revision, parents, when))
    return [
        f"Alembic: the update added a template revision beside your own ({', '.join(parents)}).",
        f"  Wrote {path.as_posix()}, an empty revision joining them, so there is one head again.",
        "  A database at either side upgrades in place: `uv run alembic upgrade head`.",
        "  Commit it with the update.",
    ]


def conflicted_files() -> list[str]:
    """Files git lists as unmerged, with any other file holding Copier's markers or a .rej file."""
    # Paths relative to the project, which may be a folder inside a larger repository.
    found = set(git("diff", "--relative", "--name-only", "--diff-filter=U").stdout.splitlines())
    marked = git("grep", "--untracked", "-l", "-F", "-e", CONFLICT_MARKER, "--", ".")
    found.update(marked.stdout.splitlines())
    for rejected in Path().rglob("*.rej"):
        if not {".git", ".venv"}.intersection(rejected.parts):
            found.add(rejected.as_posix())
    return sorted(name for name in found if name)


def main() -> int:
    options = alembic_options()
    report = [line for line in join_heads(versions_folder(options), options) if line]
    conflicts = conflicted_files()
    note()
    note("Update report")
    note("-------------")
    if conflicts:
        note(f"{len(conflicts)} file(s) hold both your lines and the template's, between markers:")
        for name in conflicts:
            note(f"  {name}")
        note("  Edit each: keep what you want, delete the <<<<<<< ======= >>>>>>> lines, then")
        note("  `git add` it. (A .rej file lists hunks to apply by hand, then delete it.)")
        if "pyproject.toml" in conflicts:
            note("  pyproject.toml first: uv cannot read it while markers are in it.")
    else:
        note("No conflicts: every change of yours merged with the template's.")
    for line in report:
        note(line)
    note("Then: `uv sync`, `uv run alembic upgrade head`, run the checks and tests, and commit.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
