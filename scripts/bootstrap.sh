#!/usr/bin/env bash
# Create .venv and install the project into it; quick when nothing changed.
# Usage: scripts/bootstrap.sh [dev]   ("dev" adds the test and lint tools)
set -euo pipefail
cd "$(dirname "$0")/.."

extras=${1:-}
python=${PYTHON:-python3}
if ! "$python" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then
    echo "error: Python 3.11 is needed (found $("$python" --version 2>&1)); set PYTHON=..." >&2
    exit 1
fi
[ -x .venv/bin/python ] || "$python" -m venv .venv

stamp=".venv/.installed-$(cat pyproject.toml | sha256sum | cut -c1-16)${extras:+-$extras}"
if [ ! -f "$stamp" ]; then
    echo "Installing into .venv (first time: a few minutes)..." >&2
    # torch is pinned to the CPU build in pyproject.toml; an unpinned torch pulls CUDA (GBs).
    if ! { .venv/bin/python -m pip install --upgrade pip &&
           .venv/bin/python -m pip install -e ".${extras:+[$extras]}"; } > .venv/install.log 2>&1
    then
        tail -n 30 .venv/install.log >&2
        echo "error: installation failed; the whole log is in .venv/install.log" >&2
        exit 1
    fi
    touch "$stamp"
fi
