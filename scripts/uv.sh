# Sourced by the scripts here: puts a uv on PATH, installing one into .tools/ if there is none.
# Needs only Python 3.11+ with pip; `--target` keeps it out of the system's site-packages.
if ! command -v uv >/dev/null 2>&1; then
    tools="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/.tools/uv"
    if [ ! -x "$tools/bin/uv" ]; then
        echo "uv not found; installing it into $tools" >&2
        python3 -m pip install --quiet --disable-pip-version-check --target "$tools" uv
    fi
    export PATH="$tools/bin:$PATH"
fi
