"""The Pythons the template supports: the oldest is the harness's own (3.11, every case runs on
it); the newest is installed by scripts/newest-python, which names its version and folder."""

import re
import subprocess
from pathlib import Path

from .matrix import TEMPLATE_ROOT

INSTALLER = TEMPLATE_ROOT / "scripts" / "newest-python"
OLDEST = "3.11"


class MissingPythonError(RuntimeError):
    """The newest supported Python is not installed; the message says how to install it."""


def newest_version() -> str:
    """The version scripts/newest-python installs (MAJOR.MINOR.PATCH)."""
    found = re.search(r"^VERSION=(\d+\.\d+\.\d+)$", INSTALLER.read_text(), re.MULTILINE)
    assert found is not None, f"{INSTALLER} names no VERSION=X.Y.Z"
    return found[1]


def newest_minor() -> str:
    return newest_version().rpartition(".")[0]


def newest_python() -> Path:
    """The newest supported interpreter, checked to run; raises MissingPythonError if absent."""
    version = newest_version()
    python = Path(f"/opt/python-{version}/bin/python{newest_minor()}")
    how = f"install it with `{INSTALLER.relative_to(TEMPLATE_ROOT)}` (as root; .ci/run does)"
    if not python.is_file():
        raise MissingPythonError(f"Python {version} is not installed at {python}: {how}.")
    ran = subprocess.run(
        [
            str(python),
            "-c",
            "import platform, ssl, sqlite3, ctypes, venv; print(platform.python_version())",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if ran.returncode != 0 or ran.stdout.strip() != version:
        raise MissingPythonError(
            f"{python} does not run as Python {version} with ssl, sqlite3, ctypes and venv "
            f"({ran.stdout.strip()}{ran.stderr.strip()[-300:]}): {how} again."
        )
    return python
