#!/usr/bin/env bash
# Set up .venv if needed, then run the test suite (CPU, offline, tiny).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
bash tools/setup_env.sh
# -rs: every skip is listed with its reason (in CI, with CI=true, a skip
# not explained in tests/allowed_skips.py fails the run)
# Test files run in parallel processes (pytest-xdist; a file's tests share
# one process and its fixtures), one per core up to 4 (HARIS_TEST_WORKERS
# sets it; 0 runs everything in this process). Most tests wait on
# single-threaded tools or tiny models, so each process gets one thread.
cores=$(nproc)
workers=${HARIS_TEST_WORKERS:-$(( cores < 4 ? cores : 4 ))}
parallel=()
if [ "$workers" -gt 1 ]; then
  export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
  parallel=(-n "$workers" --dist loadfile)
fi
exec .venv/bin/python -m pytest -q -rs "${parallel[@]}" "$@"
