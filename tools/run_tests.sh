#!/usr/bin/env bash
# Set up .venv if needed, then run the test suite (CPU, offline, tiny).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
bash tools/setup_env.sh
exec .venv/bin/python -m pytest -q "$@"
