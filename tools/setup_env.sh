#!/usr/bin/env bash
# Create (or reuse) the project's virtual environment in .venv.
#
# Installs the pinned versions of requirements.txt and the package itself
# (editable). Full mmcv (with compiled ops, which mmsegmentation imports) has
# no wheel for Python 3.11 on PyPI, so it is compiled once from its source
# release and kept as a wheel in HARIS_WHEEL_CACHE (default
# ~/.cache/haris/wheels); later set-ups install that wheel in seconds.
# A second run with unchanged requirements does nothing.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
venv=$root/.venv
cache=${HARIS_WHEEL_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/haris/wheels}
python=${PYTHON:-python3.11}
pip="$venv/bin/python -m pip --disable-pip-version-check"
stamp=$venv/.haris-installed
want=$(cat "$root/requirements.txt" "$root/setup.py" | sha256sum | cut -c1-16)

if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  exit 0
fi

pin() { grep -E "^$1==" "$root/requirements.txt"; }

if [ ! -x "$venv/bin/python" ]; then
  echo "[setup] creating $venv"
  "$python" -m venv "$venv"
fi
echo "[setup] installing torch ($(pin torch), $(pin torchvision))"
$pip install -q "$(pin torch)" "$(pin torchvision)" wheel ninja

mmcv_version=$(pin mmcv | cut -d= -f3)
if ! ls "$cache"/mmcv-"$mmcv_version"-*.whl >/dev/null 2>&1; then
  echo "[setup] compiling mmcv $mmcv_version once into $cache" \
    "(about 15-20 minutes on 2 cores)"
  mkdir -p "$cache"
  build=$(mktemp -d)
  trap 'rm -rf "$build"' EXIT
  # mmcv's build script predates setuptools 70.
  $pip install -q 'setuptools<70'
  $pip download -q --no-deps --no-build-isolation --no-binary :all: \
    "mmcv==$mmcv_version" -d "$build"
  tar xzf "$build/mmcv-$mmcv_version.tar.gz" -C "$build"
  # torch >= 2.10 headers need C++20; mmcv 2.1.0 asks for C++14/17.
  sed -i 's/-std=c++1[47]/-std=c++20/g' "$build/mmcv-$mmcv_version/setup.py"
  (cd "$build/mmcv-$mmcv_version" &&
    MMCV_WITH_OPS=1 MAX_JOBS=${MAX_JOBS:-$(nproc)} \
      $pip wheel -q --no-build-isolation --no-deps . -w "$cache")
  $pip install -q 'setuptools>=77'
fi

echo "[setup] installing pinned requirements"
$pip install -q --find-links "$cache" -r "$root/requirements.txt"
$pip install -q --no-deps --no-build-isolation -e "$root"
$venv/bin/python -c 'import mmcv.ops, mmseg.models, mmpretrain.models, peft'
echo "$want" > "$stamp"
echo "[setup] ready: $venv"
