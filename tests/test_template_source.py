"""Template Python files stay readable: few conditionals, none in an import or a docstring.

A file that needs more branches than this is two files with conditional names (the conftests show
how), so that each rendered module reads as if written for its answers. These checks read the
template's sources as text; nothing is rendered.
"""

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

TEMPLATE = Path(__file__).resolve().parents[1] / "template"
MOST_CONDITIONALS = 6

TAG = re.compile(r"\{%.*?%\}")
CONDITIONAL_TAG = re.compile(r"\{%-?\s*(?:if|elif)\b")
# A Jinja tag of any kind, or an expression that chooses between values ({{ a if b else c }}).
BRANCHING = re.compile(r"\{%|\{\{[^}]*\bif\b")
IMPORT = re.compile(r"\s*(?:import\s|from\s+\S+\s+import\b)")
TRIPLE_QUOTED = re.compile(r"[rRbBuUfF]{0,2}(\"\"\"|''')(?P<body>.*?)\1", re.DOTALL)


def rendered_name(path: Path) -> str:
    """The file name a project gets: its tags dropped (they decide whether it exists), no .jinja."""
    return TAG.sub("", path.name).removesuffix(".jinja")


def python_sources() -> list[Path]:
    return sorted(
        path
        for path in TEMPLATE.rglob("*")
        if path.is_file() and rendered_name(path).endswith(".py")
    )


def each_source() -> pytest.MarkDecorator:
    paths = python_sources()
    ids = [str(path.relative_to(TEMPLATE)) for path in paths]
    return pytest.mark.parametrize("path", paths, ids=ids)


def conditionals(text: str) -> int:
    return len(CONDITIONAL_TAG.findall(text))


def import_statements(text: str) -> Iterator[tuple[int, str]]:
    """Each import statement's first line number and its text, continuation lines included."""
    lines = text.splitlines()
    number = 0
    while number < len(lines):
        if not IMPORT.match(lines[number]):
            number += 1
            continue
        first, statement = number, lines[number]
        depth = statement.count("(") - statement.count(")")
        while (depth > 0 or statement.endswith("\\")) and number + 1 < len(lines):
            number += 1
            statement += "\n" + lines[number]
            depth += lines[number].count("(") - lines[number].count(")")
        yield first + 1, statement
        number += 1


def docstrings(text: str) -> Iterator[tuple[int, str]]:
    """Each triple-quoted string that starts its line, with its line number: a docstring's shape.

    Every triple-quoted string is matched, so that one opened at the end of a line (`x = f'''`)
    cannot be taken for a docstring's end. A non-docstring that starts a line is held to the same
    rule.
    """
    for match in TRIPLE_QUOTED.finditer(text):
        line_start = text.rfind("\n", 0, match.start()) + 1
        if not text[line_start : match.start()].strip():
            yield text.count("\n", 0, match.start()) + 1, match["body"]


def branching_imports(text: str) -> list[int]:
    return [number for number, statement in import_statements(text) if BRANCHING.search(statement)]


def branching_docstrings(text: str) -> list[int]:
    return [number for number, body in docstrings(text) if BRANCHING.search(body)]


@each_source()
def test_a_template_python_file_has_at_most_six_conditionals(path: Path) -> None:
    count = conditionals(path.read_text())
    assert count <= MOST_CONDITIONALS, (
        f"{path.relative_to(TEMPLATE)} has {count} {{% if %}}/{{% elif %}} tags, more than "
        f"{MOST_CONDITIONALS}: split what varies into conditionally named files"
    )


@each_source()
def test_no_import_statement_holds_a_jinja_tag_or_choice(path: Path) -> None:
    lines = branching_imports(path.read_text())
    assert not lines, (
        f"{path.relative_to(TEMPLATE)}: the import on line(s) {lines} branches inside the "
        "statement; make the whole line conditional, or move the code that needs it"
    )


@each_source()
def test_no_docstring_holds_a_jinja_tag_or_choice(path: Path) -> None:
    lines = branching_docstrings(path.read_text())
    assert not lines, (
        f"{path.relative_to(TEMPLATE)}: the docstring starting on line(s) {lines} branches; "
        "word it for every variant, or move it next to the variant's own code"
    )


def test_the_checks_see_the_python_files_of_every_variant() -> None:
    names = {rendered_name(path) for path in python_sources()}
    assert {"main.py", "engine.py", "conftest.py", "env.py"} <= names
    assert not any(name.endswith(".jinja") for name in names)


def test_the_checks_catch_a_branch_in_an_import_and_in_a_docstring() -> None:
    source = (
        '"""Rendered for {% if pooled %}a pool{% else %}no pool{% endif %}."""\n'
        "\n"
        "import os\n"
        "from sqlalchemy import (\n"
        "    event,\n"
        "{%- if pooled %}\n"
        "    QueuePool,\n"
        "{%- endif %}\n"
        ")\n"
        "from x import {{ 'a' if pooled else 'b' }}\n"
        "from {{ package_name }}.db import SessionDep\n"
        "{%- if pooled %}\n"
        "from .pool import instrument_pool\n"
        "{%- endif %}\n"
        "\n"
        "\n"
        "def f() -> None:\n"
        '    """Plain, about {{ package_name }}."""\n'
        "\n"
        "\n"
        "def g() -> None:\n"
        '    """First line.\n'
        "\n"
        "    Then {{ 'this' if pooled else 'that' }}.\n"
        '    """\n'
    )
    assert conditionals(source) == 3
    assert branching_imports(source) == [4, 10]
    assert branching_docstrings(source) == [1, 22]
