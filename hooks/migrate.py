"""`copier update` migrations: carry a project's recorded answers across renames in the template.

Copier runs this from `_migrations` in copier.yml, in the project's folder, at the `before` stage:
after it has rendered the project's old template version for the 3-way merge, and before it reads
the answers for the new version. So a renamed question keeps the project's answer instead of
falling back to the new default (or asking again), and a renamed choice value stays valid.

    migrate.py rename-answer OLD_QUESTION NEW_QUESTION
    migrate.py rename-value QUESTION OLD_VALUE NEW_VALUE

Each step is safe on any older project: it edits only the answers file, only the line it names,
and does nothing when there is nothing to do (the project never had the answer, or was already
migrated), so running it twice, or on a project generated after the rename, changes nothing.
"""

import re
import sys
from pathlib import Path

ANSWERS_FILE = Path(".copier-answers.yml")


def key_line(question: str) -> re.Pattern[str]:
    return re.compile(rf"^{re.escape(question)}:(?=\s|$)", re.MULTILINE)


def rename_answer(text: str, old: str, new: str) -> str:
    if key_line(new).search(text):
        return text
    return key_line(old).sub(f"{new}:", text, count=1)


def rename_value(text: str, question: str, old: str, new: str) -> str:
    # Choice values are identifiers, written by to_nice_yaml as plain or single-quoted scalars.
    line = re.compile(rf"^({re.escape(question)}:[ \t]+)(['\"]?){re.escape(old)}\2[ \t]*$", re.M)
    return line.sub(lambda match: f"{match.group(1)}{new}", text, count=1)


def main(argv: list[str]) -> int:
    steps = {"rename-answer": (rename_answer, 2), "rename-value": (rename_value, 3)}
    if not argv or argv[0] not in steps or len(argv) - 1 != steps[argv[0]][1]:
        print(__doc__, file=sys.stderr)
        return 2
    step, _ = steps[argv[0]]
    if not ANSWERS_FILE.is_file():
        print(f"migrate: no {ANSWERS_FILE} here; nothing to migrate", file=sys.stderr)
        return 0
    text = ANSWERS_FILE.read_text()
    migrated = step(text, *argv[1:])
    if migrated != text:
        ANSWERS_FILE.write_text(migrated)
        print(f"migrate: {' '.join(argv)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
