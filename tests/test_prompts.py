"""`copier copy` answered at a keyboard: real prompts in a pseudo-terminal, on an 80-column screen.

The other tests pass answers with --data, which skips what a person meets: the prompt lines, the
choices Copier shows disabled, a refusal printed under the prompt, the defaults computed from
earlier answers. Here pexpect types into Copier's prompts and pyte keeps the screen as a terminal
would draw it, so an assertion about a line is about what the person reads. Every render is then
compared with a --data render of the answers it recorded: the prompts must give the same project.
"""

import fcntl
import os
import struct
import sys
import termios
import time
from collections.abc import Iterator
from pathlib import Path

import copier
import pexpect
import pyte
import pytest
import yaml

COLUMNS = 80
ROWS = 200  # tall enough that no prompt of a run scrolls off the screen
MIC = "\N{MICROPHONE}"  # Copier's mark before each question
ENTER, DOWN, UP, ERASE_LINE = "\r", "\x1b[B", "\x1b[A", "\x15"
COPIER = Path(sys.executable).parent / "copier"

# The prompt lines of a run that accepts every default, as the person reads them.
NAMING_PROMPTS = [
    "Service name (a title, e.g. Billing API)",
    "Python package name (imported as, under src/)",
    "One sentence saying what the service does",
    "Database and driver",
    """How the tests get a database (details: the generated README's "Tests")""",
]
POSTGRES_PROMPTS = [
    *NAMING_PROMPTS,
    "Between the service and PostgreSQL",
    "Where reads go (replicas need the service's own pools)",
    "Size the connection pool now? (no = defaults fit 100 connections)",
]
MYSQL_PROMPTS = [
    *NAMING_PROMPTS,
    "Size the connection pool now? (no = defaults fit 151 connections)",
]


class Terminal:
    """One `copier copy` in a pseudo-terminal of 80 columns, and the screen it draws."""

    def __init__(self, template: Path, destination: Path) -> None:
        self.destination = destination
        self.screen = pyte.Screen(COLUMNS, ROWS)
        self.stream = pyte.Stream(self.screen)
        # Without a terminal to answer its cursor-position requests, prompt_toolkit would wait
        # for one and then print a warning into the screen.
        env = {**os.environ, "PROMPT_TOOLKIT_NO_CPR": "1", "TERM": "xterm"}
        self.child = pexpect.spawn(
            str(COPIER),
            ["copy", "--trust", "--skip-tasks", str(template), str(destination)],
            dimensions=(ROWS, COLUMNS),
            encoding="utf-8",
            env=env,
            timeout=60,
        )
        self.drawn = 0  # how many times output arrived
        self.ran_before_key = -1
        # Where the kernel does not say what Copier waits for (no /proc: not Linux), a silence
        # long enough to be sure stands in for it.
        self.kernel_says = Path("/proc/self/schedstat").is_file()

    def lines(self) -> list[str]:
        return [line.rstrip() for line in self.screen.display]

    def questions(self) -> list[str]:
        """The prompt lines shown so far, answered or not, without Copier's mark."""
        return [line.split(MIC, 1)[1].strip() for line in self.lines() if MIC in line]

    def read(self, seconds: float) -> bool:
        """Draw what Copier prints within `seconds`; False once it has exited."""
        try:
            output = self.child.read_nonblocking(1 << 16, timeout=seconds)
        except pexpect.TIMEOUT:
            return True
        except pexpect.EOF:
            return False
        self.stream.feed(output)
        self.drawn += 1
        return True

    def press(self, key: str) -> None:
        self.ran_before_key = self.run_time()
        self.child.send(key)

    def settle(self) -> bool:
        """Wait until Copier has drawn everything and waits for a key; False once it exited.

        Waiting for a silence long enough to be sure cost a second a key (a whole run of these
        tests took minutes, most of it asleep). The kernel says when Copier waits instead: it has
        run since the last key was sent, sleeps in its event loop's epoll_wait (a program it
        runs, git say, is waited for in poll or wait4), has read every key typed, and nothing it
        drew is still on its way; twice in a row, 50 ms apart.
        """
        deadline = time.monotonic() + 60
        quiet = 0
        while quiet < 2:
            drawn = self.drawn
            if not self.read(0.05 if self.kernel_says else 0.5):
                return False
            waits = self.waits_for_a_key() if self.kernel_says else True
            quiet = quiet + 1 if self.drawn == drawn and waits else 0
            assert time.monotonic() < deadline, "Copier never settled:\n" + self.screenful()
        return True

    def waits_for_a_key(self) -> bool:
        proc = Path(f"/proc/{self.child.pid}")
        try:
            if self.run_time() <= self.ran_before_key:
                return False  # not yet woken by the key (the kernel passes it on in the background)
            for task in (proc / "task").iterdir():
                state = (task / "stat").read_text().rsplit(")", 1)[1].split()[0]
                waits_in = (task / "wchan").read_text()
                if state == "S" and waits_in in {"", "0"}:  # hidden from us: fall back
                    self.kernel_says = False
                    return True
                if state != "S" or "epoll" not in waits_in:
                    return False
            # Keys typed but not yet read wait in the terminal's input queue, Copier's stdin.
            terminal = os.open(proc / "fd" / "0", os.O_RDONLY | os.O_NOCTTY | os.O_NONBLOCK)
            try:
                unread = fcntl.ioctl(terminal, termios.FIONREAD, struct.pack("i", 0))
            finally:
                os.close(terminal)
        except (FileNotFoundError, ProcessLookupError):
            return False  # it has just exited: the next read says so
        return struct.unpack("i", unread)[0] == 0

    def run_time(self) -> int:
        """Nanoseconds Copier has spent on a core."""
        try:
            return int(Path(f"/proc/{self.child.pid}/schedstat").read_text().split()[0])
        except FileNotFoundError:
            return 0

    def waiting(self) -> bool:
        """Whether the last question on screen waits for its answer.

        Copier prints a question's prompt line, then its answer (or a select's choices) below it;
        while it waits, the cursor is on that line or a select still shows its instruction.
        """
        lines = self.lines()
        rows = [row for row, line in enumerate(lines) if MIC in line]
        if not rows:
            return False
        last = rows[-1]
        return "(Use arrow keys)" in lines[last + 1] or self.screen.cursor.y <= last + 1

    def answer(self, prompt: str, *keys: str) -> None:
        """Wait for the prompt that starts with these words, then type the keys."""
        deadline = time.monotonic() + 60
        while not (self.questions() and self.questions()[-1].startswith(prompt)):
            assert self.read(0.5), f"Copier ended before asking {prompt!r}:\n" + self.screenful()
            assert time.monotonic() < deadline, f"never asked {prompt!r}:\n" + self.screenful()
        self.settle()
        for key in keys:
            self.press(key)
            self.settle()

    def accept_the_rest(self) -> int:
        """Press Enter at every remaining prompt; how many prompts there were in all."""
        deadline = time.monotonic() + 120
        while self.settle():
            if self.waiting():
                self.press(ENTER)
            assert time.monotonic() < deadline, "Copier never finished:\n" + self.screenful()
        self.finish()
        return len(self.questions())

    def finish(self) -> None:
        while self.read(1):
            pass
        self.child.close()
        assert self.child.exitstatus == 0, "Copier failed:\n" + self.screenful()

    def answer_to(self, prompt: str) -> str:
        """The answer Copier shows under a prompt line once it is answered."""
        lines = self.lines()
        row = next(row for row, line in enumerate(lines) if line.endswith(f"{MIC} {prompt}"))
        return lines[row + 1].strip()

    def shows(self, text: str) -> bool:
        return any(text in line for line in self.lines())

    def screenful(self) -> str:
        return "\n".join(line for line in self.lines() if line)


@pytest.fixture
def terminal(template: Path, tmp_path: Path) -> Iterator[Terminal]:
    session = Terminal(template, tmp_path / "typed")
    yield session
    if session.child.isalive():
        session.child.terminate(force=True)


def recorded_answers(project: Path) -> dict[str, object]:
    answers = yaml.safe_load((project / ".copier-answers.yml").read_text())
    return {name: value for name, value in answers.items() if not name.startswith("_")}


def assert_same_as_the_data_render(template: Path, project: Path, tmp_path: Path) -> None:
    """The typed answers give the project that --data with the recorded answers gives."""
    expected = tmp_path / "from-data"
    copier.run_copy(
        str(template),
        str(expected),
        data=recorded_answers(project),
        defaults=True,
        quiet=True,
        unsafe=True,
        skip_tasks=True,
    )
    assert tree(project) == tree(expected)


def tree(root: Path) -> dict[str, bytes]:
    return {
        str(path.relative_to(root)): path.read_bytes()
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


@pytest.mark.parametrize(
    ("driver_keys", "prompts", "driver"),
    [
        pytest.param([ENTER], POSTGRES_PROMPTS, "asyncpg", id="asyncpg"),
        pytest.param([DOWN, ENTER], POSTGRES_PROMPTS, "psycopg", id="psycopg"),
        pytest.param([DOWN, DOWN, ENTER], MYSQL_PROMPTS, "aiomysql", id="aiomysql"),
        pytest.param([DOWN, DOWN, DOWN, ENTER], MYSQL_PROMPTS, "asyncmy", id="asyncmy"),
        pytest.param([DOWN, DOWN, DOWN, DOWN, ENTER], NAMING_PROMPTS, "aiosqlite", id="aiosqlite"),
    ],
)
def test_enter_at_every_prompt_asks_few_short_questions_and_renders_the_project(
    driver_keys: list[str],
    prompts: list[str],
    driver: str,
    terminal: Terminal,
    template: Path,
    tmp_path: Path,
) -> None:
    for prompt in NAMING_PROMPTS[:3]:
        terminal.answer(prompt, ENTER)
    terminal.answer("Database and driver", *driver_keys)
    asked = terminal.accept_the_rest()

    assert terminal.questions() == prompts
    for prompt, answer in zip(prompts, shown_answers(driver), strict=False):
        assert terminal.answer_to(prompt) == answer
    assert asked == len(prompts) <= 8
    assert recorded_answers(terminal.destination)["db_driver"] == driver
    assert_same_as_the_data_render(template, terminal.destination, tmp_path)


def shown_answers(driver: str) -> list[str]:
    """What Copier prints after each prompt line once a default is accepted."""
    labels = {
        "asyncpg": "PostgreSQL, asyncpg",
        "psycopg": "PostgreSQL, psycopg 3",
        "aiomysql": "MySQL/MariaDB, aiomysql",
        "asyncmy": "MySQL/MariaDB, asyncmy",
        "aiosqlite": "SQLite, aiosqlite",
    }
    strategy = "SQLite in memory" if driver == "aiosqlite" else "Roll back each test (fastest)"
    postgres_only = ["Nothing, each worker keeps its own pool", "The primary, like writes"]
    pooler = [] if driver in {"aiomysql", "asyncmy"} else postgres_only
    return [
        "My Service",
        "my_service",
        "An async FastAPI service on SQLAlchemy 2.",
        labels[driver],
        strategy,
        *pooler,
        "No",
    ]


def test_a_sqlite_project_is_never_offered_a_server_test_database(
    terminal: Terminal, template: Path, tmp_path: Path
) -> None:
    for prompt in NAMING_PROMPTS[:3]:
        terminal.answer(prompt, ENTER)
    terminal.answer("Database and driver", DOWN, DOWN, DOWN, DOWN, ENTER)
    terminal.answer("How the tests get a database")

    for label in [
        "Roll back each test (fastest)",
        "Fresh database per run, real commits",
        "Throwaway database server per run",
    ]:
        assert terminal.shows(f"- {label} (needs PostgreSQL or MySQL)"), terminal.screenful()
    # The arrow keys skip disabled choices: whatever the person presses, SQLite is chosen.
    for key in [UP, UP, DOWN, UP, ENTER]:
        terminal.press(key)
        terminal.settle()
    terminal.finish()

    assert recorded_answers(terminal.destination)["test_db_strategy"] == "sqlite_memory"
    assert_same_as_the_data_render(template, terminal.destination, tmp_path)


def test_a_project_behind_pgbouncer_is_never_offered_read_replicas(
    terminal: Terminal, template: Path, tmp_path: Path
) -> None:
    for prompt in NAMING_PROMPTS[:3]:
        terminal.answer(prompt, ENTER)
    terminal.answer("Database and driver", ENTER)
    terminal.answer("How the tests get a database", ENTER)
    terminal.answer("Between the service and PostgreSQL", DOWN, ENTER)
    terminal.answer("Where reads go")

    label = "- Streaming replicas, read-your-writes (not behind PgBouncer)"
    assert terminal.shows(label), terminal.screenful()
    # The arrow keys skip the disabled choice: the primary is chosen whatever is pressed.
    terminal.answer("Where reads go", DOWN, UP, DOWN, ENTER)
    terminal.accept_the_rest()

    assert recorded_answers(terminal.destination)["reads_from"] == "primary"
    assert_same_as_the_data_render(template, terminal.destination, tmp_path)


@pytest.mark.parametrize(
    "driver_keys",
    [[ENTER], [DOWN, ENTER], [DOWN, DOWN, ENTER], [DOWN, DOWN, DOWN, ENTER]],
    ids=["asyncpg", "psycopg", "aiomysql", "asyncmy"],
)
def test_a_server_project_is_never_offered_sqlite_in_memory(
    driver_keys: list[str], terminal: Terminal, template: Path, tmp_path: Path
) -> None:
    for prompt in NAMING_PROMPTS[:3]:
        terminal.answer(prompt, ENTER)
    terminal.answer("Database and driver", *driver_keys)
    terminal.answer("How the tests get a database")

    assert terminal.shows("- SQLite in memory (SQLite projects only)"), terminal.screenful()
    # Three steps down reach the last enabled strategy; a fourth would be SQLite, were it enabled.
    terminal.answer("How the tests get a database", DOWN, DOWN, DOWN, DOWN, ENTER)
    terminal.accept_the_rest()

    assert recorded_answers(terminal.destination)["test_db_strategy"] != "sqlite_memory"
    assert_same_as_the_data_render(template, terminal.destination, tmp_path)


def test_an_over_budget_pool_is_refused_at_its_prompt_and_the_correction_accepted(
    terminal: Terminal, template: Path, tmp_path: Path
) -> None:
    for prompt in POSTGRES_PROMPTS[:-1]:
        terminal.answer(prompt, ENTER)
    # A yes/no prompt takes its answer at the key, without Enter.
    terminal.answer("Size the connection pool now?", "y")
    terminal.answer("The database's max_connections", ENTER)
    terminal.answer("Connections to keep free", ENTER)
    terminal.answer("Worker processes per instance", ERASE_LINE, "4", ENTER)
    terminal.answer("Instances of the service", ERASE_LINE, "4", ENTER)
    # 100 connections, 10 kept free, 16 processes: 5 each, which the prompt itself says.
    terminal.answer("Pool size per worker process (5 connections per worker fit)")
    terminal.answer("Pool size per worker process", ERASE_LINE, "15", ENTER)

    refusal = "Validation error for question 'pool_size': At most 5 per worker fit"
    assert refusal in terminal.lines(), terminal.screenful()
    terminal.answer("Pool size per worker process", ERASE_LINE, "4", ENTER)
    terminal.answer("Extra connections a worker may open", ERASE_LINE, "3", ENTER)
    assert (
        "Validation error for question 'max_overflow': At most 1: 5 per worker" in terminal.lines()
    ), terminal.screenful()
    terminal.answer("Extra connections a worker may open", ERASE_LINE, "1", ENTER)
    terminal.accept_the_rest()

    answers = recorded_answers(terminal.destination)
    assert (answers["workers"], answers["instances"]) == (4, 4)
    assert (answers["pool_size"], answers["max_overflow"]) == (4, 1)
    assert_same_as_the_data_render(template, terminal.destination, tmp_path)


@pytest.mark.parametrize(
    ("name", "package"),
    [
        pytest.param("Test", "test_service", id="stdlib-name"),
        pytest.param("Email", "email_service", id="another-stdlib-name"),
        pytest.param("Café Réservations", "cafe_reservations", id="non-ascii"),
        pytest.param(
            "Inventory Reservation Service for Warehouses",
            "inventory_reservation_service",
            id="long",
        ),
    ],
)
def test_any_service_name_gets_a_valid_package_name_by_default(
    name: str, package: str, terminal: Terminal, template: Path, tmp_path: Path
) -> None:
    terminal.answer(NAMING_PROMPTS[0], ERASE_LINE, name, ENTER)
    terminal.answer(NAMING_PROMPTS[1])

    assert terminal.lines()[terminal.screen.cursor.y].strip() == package
    terminal.answer(NAMING_PROMPTS[1], ENTER)
    terminal.accept_the_rest()

    assert recorded_answers(terminal.destination)["package_name"] == package
    assert (terminal.destination / "src" / package / "main.py").is_file()
    assert_same_as_the_data_render(template, terminal.destination, tmp_path)


@pytest.mark.parametrize(
    ("typed", "refusal"),
    [
        pytest.param("email", "Shadows a standard-library module", id="stdlib"),
        pytest.param("tomllib", "Shadows a standard-library module", id="stdlib-3.11"),
        pytest.param("test", "Shadows a standard-library module", id="test"),
        pytest.param("tests", "Shadows a folder of the project", id="own-folder"),
        pytest.param("class", "That is a Python keyword", id="keyword"),
        pytest.param("Billing-API", "Use a-z, 0-9 and _; start with a-z", id="not-an-identifier"),
    ],
)
def test_a_package_name_that_would_shadow_something_is_refused_at_its_prompt(
    typed: str, refusal: str, terminal: Terminal, template: Path, tmp_path: Path
) -> None:
    terminal.answer(NAMING_PROMPTS[0], ENTER)
    terminal.answer(NAMING_PROMPTS[1], ERASE_LINE, typed, ENTER)

    assert f"Validation error for question 'package_name': {refusal}" in terminal.lines()
    terminal.answer(NAMING_PROMPTS[1], ERASE_LINE, "billing", ENTER)
    terminal.accept_the_rest()

    assert recorded_answers(terminal.destination)["package_name"] == "billing"
    assert_same_as_the_data_render(template, terminal.destination, tmp_path)
