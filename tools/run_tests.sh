#!/usr/bin/env bash
# Set up .venv if needed, then run the test suite (CPU, offline, tiny).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
bash tools/setup_env.sh
# -rs: every skip is listed with its reason (in CI, with CI=true, a skip
# not explained in tests/allowed_skips.py fails the run)
exec .venv/bin/python -m pytest -q -rs "$@"
