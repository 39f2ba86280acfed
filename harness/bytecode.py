"""Bytecode for a venv's dependencies, compiled once per dependency file instead of once per venv.

A case starts its venv's Python some twenty times (alembic, the suite's servers, uvicorn), and
each start would compile every dependency module it imports: cached bytecode spares that, about
a third of a case's CPU. Compiling every venv's site-packages at install (`UV_COMPILE_BYTECODE`)
costs some 5-8 CPU seconds per venv, 80 venvs a run. But uv installs each file of a venv as a
hard link to the one in its cache, so the venvs of a run share their dependencies' files: this
compiles each such file once, keeps its .pyc in a store, and hard-links that .pyc into every
later venv holding the same file. A venv's remaining files (uv's own, or when uv copies instead
of linking) are compiled in place, as uv would.

Why a shared .pyc is sound: it goes only next to the very file it was compiled from (the store
is keyed by device, inode, nanosecond mtime and size, and for the interpreter's magic number),
so Python's own check of a .pyc against its source (mtime and size) passes exactly as for a
.pyc compiled in that venv; the source path a .pyc records is replaced by the importing one at
load (importlib's _fix_co_filename), so tracebacks name the venv's file. Store entries appear
only by linking a finished .pyc (py_compile writes to a temporary file and renames it), and
nothing rewrites a .pyc in place, so xdist workers can fill one store at once: a worker that
loses the race to add an entry keeps its own .pyc. A project's own sources, which an update or an
edit rewrites in place, live outside site-packages (an editable install) and are never compiled
here; its commands run with PYTHONDONTWRITEBYTECODE. (A non-editable install, the image's, puts
a copy of them in site-packages: a file uv wrote, rewritten by no one.)

pytest compiles some dependencies again, its own way: every module of a distribution that is a
pytest plugin (schemathesis, hypothesis, anyio, xdist, pytest-asyncio: some 550 files) has its
asserts rewritten when a pytest process imports it, and that rewritten code is cached beside it
only where bytecode may be written. Under PYTHONDONTWRITEBYTECODE every pytest process of a run
(a suite, each of its xdist workers) rewrote them again: 2.5-3 CPU seconds each. pytest checks
such a cached file against its source's hash (pytest 9) or its mtime and size (pytest 8; a file
linked from uv's cache has the same), never its path, so this rewrites each distinct plugin file
once into the store and writes each venv's cached file from there, in the format of the venv's
pytest, with the venv's own path in the code (what tracebacks show). Where pytest is absent (an
image's install), or its internals have moved, nothing is written and pytest rewrites as before.

Run by the venv's own interpreter (`python -I -c <this file> STORE`), so the bytecode is for it:
standard library only (and the venv's own pytest, where it has one).
"""

import ast
import contextlib
import importlib.metadata
import importlib.util
import inspect
import marshal
import os
import py_compile
import sys
import sysconfig
import tempfile
import types
from pathlib import Path


def compiled(source: str, target: str) -> bool:
    """Compile as uv and pip do (a timestamp-checked .pyc); False for a file Python rejects."""
    try:
        py_compile.compile(
            source,
            cfile=target,
            doraise=True,
            invalidation_mode=py_compile.PycInvalidationMode.TIMESTAMP,
        )
    except py_compile.PyCompileError:
        return False  # a test fixture or Python 2 file some packages ship: never imported
    return True


def current(pyc: str, source: os.stat_result) -> bool:
    """Whether a timestamp .pyc is for this interpreter and matches its source, as Python checks
    (the mtime in whole seconds and the size, each modulo 2**32)."""
    with open(pyc, "rb") as file:
        header = file.read(16)
    magic, flags, mtime, size = header[:4], header[4:8], header[8:12], header[12:16]
    return (
        magic == importlib.util.MAGIC_NUMBER
        and int.from_bytes(flags, "little") == 0
        and int.from_bytes(mtime, "little") == int(source.st_mtime) & 0xFFFFFFFF
        and int.from_bytes(size, "little") == source.st_size & 0xFFFFFFFF
    )


def provide(source: str, store: str) -> None:
    """Give `source` its .pyc: the store's if it has one for this very file, else a new one."""
    target = importlib.util.cache_from_source(source)
    about = os.stat(source)
    if os.path.exists(target):
        if current(target, about):
            return
        os.unlink(target)  # left by an earlier version of the file: Python would ignore it
    if about.st_nlink == 1:  # not linked from uv's cache, so no other venv has this file
        compiled(source, target)
        return
    key = f"{about.st_dev}-{about.st_ino}-{about.st_mtime_ns}-{about.st_size}.pyc"
    kept = os.path.join(store, key)
    os.makedirs(os.path.dirname(target), exist_ok=True)
    try:
        os.link(kept, target)
        return
    except OSError:  # not stored yet (or the store is on another file system: compile here)
        pass
    if compiled(source, target):
        # FileExistsError: another worker stored the same file's .pyc first, and keeps it.
        with contextlib.suppress(OSError):
            os.link(target, kept)


def relocated(code: types.CodeType, filename: str) -> types.CodeType:
    """The code, and every function and class body in it, as compiled from `filename`."""
    constants = tuple(
        relocated(constant, filename) if isinstance(constant, types.CodeType) else constant
        for constant in code.co_consts
    )
    return code.replace(co_filename=filename, co_consts=constants)


def write_atomically(path: str, data: bytes) -> None:
    """Readers see the whole file or none (several xdist workers may write one at once)."""
    handle, temporary = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".harness-")
    with os.fdopen(handle, "wb") as file:
        file.write(data)
    os.chmod(temporary, 0o644)
    os.replace(temporary, path)


def rewrite_plugins_for_pytest(store: str) -> None:
    """Give each pytest plugin module of the venv the rewritten code pytest would cache for it."""
    try:
        from _pytest.assertion import rewrite

        tail, header_and_code, cached_code, rewrite_asserts = (
            rewrite.PYC_TAIL,
            rewrite._write_pyc_fp,
            rewrite._read_pyc,
            rewrite.rewrite_asserts,
        )
        # pytest 9 checks its cached code against the source's hash, pytest 8 (the lowest
        # dependencies' case) against its mtime and size.
        checked_against = list(inspect.signature(header_and_code).parameters)[1]
    except (ImportError, AttributeError, ValueError, IndexError):
        return  # no pytest in this venv, or not one this knows: it rewrites them itself
    if checked_against not in {"source_hash", "source_stat"}:
        return
    store = os.path.join(store, "pytest")
    os.makedirs(store, exist_ok=True)
    plugins = [
        dist
        for dist in importlib.metadata.distributions()
        if any(entry.group == "pytest11" for entry in dist.entry_points)
    ]
    for dist in plugins:
        for file in dist.files or []:
            if file.suffix != ".py":
                continue
            source = Path(dist.locate_file(file))
            target = source.parent / "__pycache__" / (source.stem + tail)
            if cached_code(source, target) is not None:
                continue  # pytest's own check passes
            text = source.read_bytes()
            digest = importlib.util.source_hash(text)
            kept = os.path.join(store, f"{digest.hex()}-{len(text)}{tail}")
            try:
                with open(kept, "rb") as file_in_store:
                    code = marshal.loads(file_in_store.read())
            except (OSError, EOFError, ValueError, TypeError):
                try:
                    tree = ast.parse(text, filename=str(source))
                except SyntaxError:
                    continue  # a file Python rejects is never imported
                rewrite_asserts(tree, text, str(source), None)
                code = compile(tree, str(source), "exec", dont_inherit=True)
                write_atomically(kept, marshal.dumps(code))
            target.parent.mkdir(exist_ok=True)
            check = digest if checked_against == "source_hash" else source.stat()
            with tempfile.SpooledTemporaryFile() as buffer:
                header_and_code(buffer, check, relocated(code, str(source)))
                buffer.seek(0)
                write_atomically(str(target), buffer.read())


def main(store: str) -> None:
    store = os.path.join(store, importlib.util.MAGIC_NUMBER.hex())
    os.makedirs(store, exist_ok=True)
    for folder in sorted({sysconfig.get_path("purelib"), sysconfig.get_path("platlib")}):
        for parent, folders, files in os.walk(folder):
            folders[:] = [name for name in folders if name != "__pycache__"]
            for name in files:
                if name.endswith(".py"):
                    provide(os.path.join(parent, name), store)
    rewrite_plugins_for_pytest(store)


if __name__ == "__main__":
    main(sys.argv[1])
