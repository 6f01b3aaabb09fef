#!/usr/bin/env bash
# Set up the development environment if needed, then run the whole test suite.
set -euo pipefail
cd "$(dirname "$0")"
scripts/bootstrap.sh dev
export HF_HUB_OFFLINE=1
exec .venv/bin/python -m pytest "$@"
