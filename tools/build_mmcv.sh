#!/usr/bin/env bash
# Compile full mmcv (with its C++ ops) against the torch of a virtual
# environment, once, and keep the wheel in a cache folder of its own for
# that torch build.
#
# Usage: tools/build_mmcv.sh VENV_PYTHON MMCV_VERSION
# Prints the folder that holds the wheel:
#   $HARIS_WHEEL_CACHE/torch-<torch.__version__>[-cuda]
# (e.g. ~/.cache/haris/wheels/torch-2.1.2+cu121). A wheel compiled against
# one torch cannot be loaded by another, so every torch build gets its own
# folder and `pip install --find-links <folder>` never picks the wrong one.
# mmcv compiles its CUDA ops when torch sees a GPU or FORCE_CUDA=1 (needs
# nvcc); such wheels go to the folder with the -cuda suffix, CPU-only ones to
# the folder without. Progress goes to stderr. MAX_JOBS sets the compile's
# parallelism.
set -euo pipefail

if [ $# -ne 2 ]; then
  echo "usage: $0 VENV_PYTHON MMCV_VERSION (e.g. .venv/bin/python 2.1.0)" >&2
  exit 2
fi
python=$1
version=$2
cache=${HARIS_WHEEL_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/haris/wheels}
pip="$python -m pip --disable-pip-version-check"
torch=$("$python" -c 'import torch; print(torch.__version__)')
cuda=$("$python" -c 'import os, torch
print("-cuda" if torch.cuda.is_available() or os.getenv("FORCE_CUDA") == "1"
      else "")')
dir=$cache/torch-$torch$cuda

have_wheel() { ls "$1"/mmcv-"$version"-*.whl >/dev/null 2>&1; }

# Wheels cached before the per-torch folders lay directly in the cache; the
# set-up only ever built them against torch 2.14.1, so they move there.
if ! have_wheel "$dir" && have_wheel "$cache" &&
  [ "${torch%%+*}" = 2.14.1 ] && [ -z "$cuda" ]; then
  mkdir -p "$dir"
  mv "$cache"/mmcv-"$version"-*.whl "$dir"/
  echo "[mmcv] moved the cached torch $torch wheel into $dir" >&2
fi

if ! have_wheel "$dir"; then
  echo "[mmcv] compiling mmcv $version${cuda:+ with CUDA ops} for torch" \
    "$torch into $dir" \
    "(15-25 minutes on 2 cores)" >&2
  build=$(mktemp -d)
  trap 'rm -rf "$build"' EXIT
  # mmcv's build script predates setuptools 70.
  $pip install -q wheel ninja 'setuptools<70' >&2
  $pip download -q --no-deps --no-build-isolation --no-binary :all: \
    "mmcv==$version" -d "$build" >&2
  tar xzf "$build/mmcv-$version.tar.gz" -C "$build"
  # torch >= 2.10 headers need C++20; mmcv asks for C++14/17, which older
  # torch headers accept as they are.
  if "$python" -c 'import sys, torch
v = tuple(int(x) for x in torch.__version__.split("+")[0].split(".")[:2])
sys.exit(0 if v >= (2, 10) else 1)'; then
    sed -i 's/-std=c++1[47]/-std=c++20/g' "$build/mmcv-$version/setup.py"
  fi
  mkdir -p "$dir"
  (cd "$build/mmcv-$version" &&
    MMCV_WITH_OPS=1 MAX_JOBS=${MAX_JOBS:-$(nproc)} \
      $pip wheel -q --no-build-isolation --no-deps . -w "$build/out" >&2)
  # Appear in the cache only when complete.
  mv "$build"/out/mmcv-"$version"-*.whl "$dir"/
  $pip install -q 'setuptools>=77' >&2
fi
echo "$dir"
