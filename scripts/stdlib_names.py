"""Write hooks/stdlib_modules.txt: every standard-library module a package name could shadow.

copier.yml refuses these as package names. The list is the union over every Python the generated
project supports (requires-python >= 3.11, up to the newest stdlib-list knows), so a name that is
free on 3.11 but taken on 3.13 is refused too; `test` is added because sys.stdlib_module_names
leaves it out. Run it when stdlib-list learns a new Python: `uv run python scripts/stdlib_names.py`.
"""

import re
import sys
from pathlib import Path

from stdlib_list import short_versions, stdlib_list

OLDEST_SUPPORTED = (3, 11)
TARGET = Path(__file__).resolve().parents[1] / "hooks" / "stdlib_modules.txt"
# Only names a package could take: copier.yml refuses anything else before looking here.
PACKAGE_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


def supported_versions() -> list[str]:
    return [
        version
        for version in short_versions
        if tuple(int(part) for part in version.split(".")) >= OLDEST_SUPPORTED
    ]


def names() -> list[str]:
    found = {"test", *sys.stdlib_module_names}
    for version in supported_versions():
        found.update(module.split(".")[0] for module in stdlib_list(version))
    return sorted(name for name in found if PACKAGE_NAME.match(name))


def main() -> None:
    header = (
        "# Standard-library modules of Python "
        f"{', '.join(supported_versions())} (plus test): written by scripts/stdlib_names.py\n"
    )
    TARGET.write_text(header + "".join(f"{name}\n" for name in names()))


if __name__ == "__main__":
    main()
