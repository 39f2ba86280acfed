"""A rendered project and the commands the harness runs inside it, each one timed."""

import fcntl
import hashlib
import json
import os
import pwd
import resource
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import copier
import uv

from .matrix import Case, answers_of
from .mysql import MySQLServer
from .postgres import PostgresServer

# Environment variables of the harness's own pytest run that must not leak into a generated
# project's pytest (an inherited PYTEST_XDIST_WORKER would rename its test database, say).
LEAKY_PREFIXES = ("PYTEST_", "VIRTUAL_ENV", "PYTHONPATH", "UV_PROJECT_ENVIRONMENT")
RESULTS_DIR = Path(__file__).resolve().parents[1] / ".harness"
# initdb, pg_ctl and PgBouncer refuse to run as root, and a user's project never runs as root
# either: as root, the harness runs every command of a generated project as this account instead.
UNPRIVILEGED_USER = "postgres"
# That account cannot enter /root, where a root-installed Python lives; Debian's can be read by all.
UNPRIVILEGED_PYTHON = "/usr/bin/python3.11"
# The generated suite's fuzz tests (schemathesis), timed apart from the rest of the suite.
FUZZ_TESTS = "tests.test_api_fuzz"
# pytest's option that leaves them out, for the suite runs whose callers say why.
FUZZ_TESTS_SKIPPED = "--ignore=tests/test_api_fuzz.py"
# Run by each venv's own Python after install (Project.compile_dependencies).
BYTECODE = Path(__file__).with_name("bytecode.py")


# How many generated suites (phase "pytest", wherever one is run) may run at once across this
# run's xdist workers. One holds up to ~21 connections to the shared PostgreSQL at its peak (its
# pool under the concurrency test, a two-worker uvicorn's pools), the fresh strategy's `-n 2` run
# twice that: two at once stay under the server's max_connections of 100 (CI's too), however many
# workers there are (pyproject.toml's -n; with more than two, the others render, install and
# type-check meanwhile).
SUITE_SLOTS = 2


class CommandError(RuntimeError):
    """A command the harness needed (an install, say) failed; the message carries its output."""


def cpu_seconds() -> float:
    """CPU time used so far by this process and by every child process it has waited for."""
    own, children = (
        resource.getrusage(resource.RUSAGE_SELF),
        resource.getrusage(resource.RUSAGE_CHILDREN),
    )
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


@contextmanager
def suite_slot() -> Iterator[None]:
    """Wait for one of the SUITE_SLOTS, held until the block ends (or its process dies)."""
    folder = caches().parent / "suite-slots"
    folder.mkdir(parents=True, exist_ok=True)
    while True:
        for slot in range(SUITE_SLOTS):
            with (folder / str(slot)).open("a") as file:
                try:
                    fcntl.flock(file, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    continue
                try:
                    yield
                finally:
                    fcntl.flock(file, fcntl.LOCK_UN)
                return
        time.sleep(0.2)


def running_as_root() -> bool:
    return os.geteuid() == 0


def run_token() -> str:
    """Short and stable per checkout, so that two checkouts never share a database or folder."""
    return hashlib.sha256(str(RESULTS_DIR).encode()).hexdigest()[:6]


def caches() -> Path:
    """Where the caches the harness shares between projects live (Project.shared_cache)."""
    return Path(tempfile.gettempdir()) / f"template-harness-{run_token()}" / "caches"


def bytecode_store() -> Path:
    """Where harness/bytecode.py keeps the .pyc files of the run's dependencies (and the next
    run's: like the mypy cache, it outlives the run), writable by the account that runs projects.
    One for all xdist workers: harness/bytecode.py says why they can share it."""
    folder = caches() / "bytecode"
    folder.mkdir(parents=True, exist_ok=True)
    if running_as_root():  # every time: another worker may have made it a moment ago, as root
        account = pwd.getpwnam(UNPRIVILEGED_USER)
        for made in (folder, folder.parent):
            os.chown(made, account.pw_uid, account.pw_gid)
    return folder


def workspace(fallback: Path) -> Path:
    """Where projects are rendered: somewhere the unprivileged account can reach, when root.

    Also puts a copy of uv where that account can run it, since the one in this environment may
    live under /root.
    """
    if not running_as_root():
        return fallback
    base = Path(f"/tmp/template-harness-{run_token()}")
    (base / "bin").mkdir(parents=True, exist_ok=True)
    base.chmod(0o755)
    (base / "bin").chmod(0o755)
    private_copy = base / "bin" / f"uv.{os.getpid()}"
    shutil.copy2(uv.find_uv_bin(), private_copy)
    private_copy.chmod(0o755)
    private_copy.replace(base / "bin" / "uv")
    return base


def hand_over(path: Path) -> None:
    """Give a rendered project to the unprivileged account (when root)."""
    if not running_as_root():
        return
    account = pwd.getpwnam(UNPRIVILEGED_USER)
    for entry in [path, *path.rglob("*")]:
        os.chown(entry, account.pw_uid, account.pw_gid)


def clean_environment(workspace: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(LEAKY_PREFIXES)}
    # Never try to download an interpreter: this fails fast where a machine has no Python 3.11+.
    env["UV_PYTHON_DOWNLOADS"] = "never"
    # The dependencies' bytecode is written once per file for the whole run, at install
    # (Project.sync, harness/bytecode.py); the project's own sources are never cached as
    # bytecode, so an edit (copier update rewriting a file within the same second, say) is
    # always the one run.
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    if running_as_root():
        env["PATH"] = f"{workspace / 'bin'}:/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin"
        env["UV_PYTHON"] = UNPRIVILEGED_PYTHON
        env.pop("UV_CACHE_DIR", None)
    else:
        env["PATH"] = f"{Path(uv.find_uv_bin()).parent}:{env.get('PATH', '')}"
    env.update(extra)
    return env


def unprivileged() -> dict[str, Any]:
    """Popen arguments that run a process as the unprivileged account when we are root.

    For long-running servers: Popen's own user switch (not runuser) lets signals reach them.
    """
    if not running_as_root():
        return {}
    account = pwd.getpwnam(UNPRIVILEGED_USER)
    return {"user": account.pw_uid, "group": account.pw_gid, "extra_groups": []}


def home() -> dict[str, str]:
    """The unprivileged account's HOME (drivers look for ~/.postgresql), when we are root."""
    return {"HOME": pwd.getpwnam(UNPRIVILEGED_USER).pw_dir} if running_as_root() else {}


def as_project_user(args: Sequence[str]) -> list[str]:
    runuser = shutil.which("runuser") or "/usr/sbin/runuser"
    prefix = [runuser, "-u", UNPRIVILEGED_USER, "--"] if running_as_root() else []
    return [*prefix, *args]


# PostgreSQL cuts names at 63 bytes, and PgBouncer then finds no such database; the fresh
# strategy's projects append "_<worker>_<run>" (up to 16 more) to the name they are given.
LONGEST_DATABASE_NAME = 63 - 16


def database_name(case: Case, purpose: str) -> str:
    """A database of one case for one purpose, never shared with another checkout's run: the
    case's id in it, or as much of it as fits beside a digest of the whole."""
    name = f"tpl_{run_token()}_{case.id}_{purpose}".replace("-", "_")
    if len(name) <= LONGEST_DATABASE_NAME:
        return name
    digest = hashlib.sha256(case.id.encode()).hexdigest()[:8]
    fixed = len(f"tpl_{run_token()}__{digest}_{purpose}")
    shortened = case.id[: LONGEST_DATABASE_NAME - fixed].rstrip("-")
    return f"tpl_{run_token()}_{shortened}_{digest}_{purpose}".replace("-", "_")


@dataclass
class Project:
    case: Case
    path: Path
    env: dict[str, str]
    # Every answer Copier held after rendering, computed ones included (see matrix.answers_of);
    # empty for a project rendered by other means.
    answers: dict[str, Any] = field(default_factory=dict)
    # Seconds per phase: wall clock, and CPU (this process's and its finished children's), since
    # on a shared machine the wall clock also counts the time other processes held the cores.
    timings: dict[str, float] = field(default_factory=dict)
    cpu_timings: dict[str, float] = field(default_factory=dict)
    # Where the harness's timing table reads them; None keeps them in memory (the benchmarks).
    timings_dir: Path | None = RESULTS_DIR

    @property
    def package(self) -> str:
        return str(self.answers["package_name"])

    def database_url(
        self,
        purpose: str,
        server: PostgresServer | MySQLServer | None,
        *,
        recreate: bool = True,
        port: int | None = None,
    ) -> str:
        """A database of this project for one purpose, in the URL scheme copier.yml computed.

        PostgreSQL or MySQL: a database named after the case and purpose, dropped and created empty
        unless `recreate` is false (when the project's own code creates it); `port` for a PgBouncer
        in front of the server. SQLite: a file in the project.
        """
        scheme = self.answers["database_url_scheme"]
        if not (self.answers["is_postgres"] or self.answers["is_mysql"]):
            return f"{scheme}:///{self.path / f'{purpose}.db'}"
        if server is None:
            raise ValueError(f"{self.case.id} is a server case: its databases need the server")
        name = database_name(self.case, purpose)
        if recreate:
            server.recreate(name)
        return server.url(scheme, name, port=port)

    @contextmanager
    def timed(self, phase: str) -> Iterator[None]:
        start, cpu_start = time.perf_counter(), cpu_seconds()
        try:
            yield
        finally:
            self.timings[phase] = self.timings.get(phase, 0.0) + time.perf_counter() - start
            cpu = cpu_seconds() - cpu_start
            self.cpu_timings[phase] = self.cpu_timings.get(phase, 0.0) + cpu
            self.save_timings()

    def move_time(self, source: str, target: str, wall: float) -> None:
        """Count `wall` seconds of phase `source` as phase `target` instead (a part of one command,
        such as the fuzz tests of the project's suite), with the same share of its CPU time."""
        wall = min(wall, self.timings.get(source, 0.0))
        share = wall / self.timings[source] if wall > 0 else 0.0
        cpu = share * self.cpu_timings.get(source, 0.0)
        for timings, seconds in ((self.timings, wall), (self.cpu_timings, cpu)):
            timings[source] = timings.get(source, 0.0) - seconds
            timings[target] = timings.get(target, 0.0) + seconds
        self.save_timings()

    def save_timings(self) -> None:
        if self.timings_dir is None:
            return
        self.timings_dir.mkdir(exist_ok=True)
        saved = {"wall": self.timings, "cpu": self.cpu_timings}
        (self.timings_dir / f"{self.case.id}.json").write_text(json.dumps(saved))

    def run(
        self, *args: str, phase: str, env: dict[str, str] | None = None, timeout: float = 600
    ) -> subprocess.CompletedProcess[str]:
        """Run a command in the project; the result carries its combined output."""
        with self.slot_if_heavy(phase), self.timed(phase):
            return subprocess.run(
                as_project_user(args),
                cwd=self.path,
                env={**self.env, **(env or {})},
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                timeout=timeout,
                check=False,
            )

    @contextmanager
    def slot_if_heavy(self, phase: str) -> Iterator[None]:
        """A suite slot for a generated suite's run (the wait for it is not timed)."""
        if phase != "pytest":
            yield
            return
        with suite_slot():
            yield

    def run_suite(self, *pytest: str) -> subprocess.CompletedProcess[str]:
        """Run the project's own suite with `pytest` (a command), timed as "pytest", and its
        fuzz tests' share as "fuzz" (from the JUnit report, kept in .venv, which no check reads)."""
        report = self.path / ".venv" / "harness-durations.xml"
        report.unlink(missing_ok=True)
        args = [*pytest, "-p", "no:cacheprovider", f"--junit-xml={report}"]
        result = self.run(*args, phase="pytest")
        if report.is_file():
            self.move_time("pytest", "fuzz", seconds_in(report, FUZZ_TESTS))
        return result

    def shared_cache(self, tool: str) -> Path:
        """A cache folder for `tool` shared by every case this process checks, one at a time.

        Outside any one project (the cases, the history's updates), so it outlives the run: the
        next run starts warm. One per xdist worker, so no two processes write it at once.
        Sharing it across cases is safe for a tool that validates entries by content: mypy
        re-reads a cached module whose path or mtime changed and rechecks it unless its hash is
        the same, so another case's venv (uv links the same files from its cache) is reused and
        the case's own modules are checked again.
        """
        worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
        folder = caches() / tool / worker
        if not folder.is_dir():
            folder.mkdir(parents=True)
            for made in (folder, folder.parent, folder.parent.parent):
                hand_over(made)
        return folder

    def install(self, *options: str) -> None:
        """`uv sync` the project (see sync); raises CommandError if that fails."""
        result = self.sync(*options)
        if result.returncode != 0:
            raise CommandError(f"{self.case.id} did not install: {describe(result)}")

    def sync(
        self, *options: str, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        """`uv sync` the project, then give its dependencies bytecode (harness/bytecode.py):
        uv's result. Raises CommandError if uv installed but the bytecode could not be written."""
        result = self.run("uv", "sync", *options, phase="sync", env=env)
        if result.returncode == 0:
            self.compile_dependencies(env=env)
        return result

    def compile_dependencies(
        self, venv: Path | None = None, *, phase: str = "sync", env: dict[str, str] | None = None
    ) -> None:
        """Bytecode for every file in a venv's site-packages (the project's .venv unless told),
        shared with the run's other venvs: what `UV_COMPILE_BYTECODE` gives, for a fraction of
        its CPU (harness/bytecode.py). Raises CommandError if it cannot be written."""
        python = str((venv or self.path / ".venv") / "bin" / "python")
        script = BYTECODE.read_text()
        result = self.run(python, "-I", "-c", script, str(bytecode_store()), phase=phase, env=env)
        if result.returncode != 0:
            raise CommandError(f"{self.case.id}: no bytecode for its venv: {describe(result)}")

    def text_files(self) -> Iterator[tuple[Path, str]]:
        for path in self.files():
            try:
                yield path, path.read_text()
            except UnicodeDecodeError:
                continue

    def files(self) -> Sequence[Path]:
        skipped = {".venv", "uv.lock", ".mypy_cache", ".pytest_cache", ".ruff_cache", "__pycache__"}
        skipped.add(".git")  # the post-copy task makes every rendered project a repository
        return [
            path
            for path in sorted(self.path.rglob("*"))
            if path.is_file() and not skipped.intersection(path.relative_to(self.path).parts)
        ]


def render(
    case: Case,
    template: Path,
    destination: Path,
    env: dict[str, str],
    *,
    timings_dir: Path | None = RESULTS_DIR,
) -> Project:
    """Render a case into `destination` (emptied first), owned by the account that runs it."""
    shutil.rmtree(destination, ignore_errors=True)
    destination.parent.mkdir(parents=True, exist_ok=True)
    project = Project(case, destination, env, timings_dir=timings_dir)
    with project.timed("render"):
        # unsafe: the template's post-copy task (git init) runs, as it does for a user with --trust.
        worker = copier.run_copy(
            str(template), str(destination), data=case.data, defaults=True, quiet=True, unsafe=True
        )
        hand_over(destination)
    project.answers = answers_of(worker)
    return project


def seconds_in(report: Path, module: str) -> float:
    """The seconds a JUnit XML report gives the tests of one module."""
    cases = ElementTree.parse(report).getroot().iter("testcase")
    return sum(float(case.get("time", 0)) for case in cases if case.get("classname") == module)


def describe(result: subprocess.CompletedProcess[str]) -> str:
    command = " ".join(str(arg) for arg in result.args)
    return f"`{command}` exited {result.returncode}:\n{result.stdout}"


def assert_ok(result: subprocess.CompletedProcess[str]) -> None:
    assert result.returncode == 0, describe(result)
