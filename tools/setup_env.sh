#!/usr/bin/env bash
# Create (or reuse) the project's virtual environment in .venv.
#
# Installs the pinned CPU lock of requirements.txt and the package itself
# (editable, its version ranges in requirements/). Full mmcv (with compiled
# ops, which mmsegmentation imports) has no wheel for Python 3.11 on PyPI, so
# tools/build_mmcv.sh compiles it once from its source release and keeps it
# as a wheel in HARIS_WHEEL_CACHE (default ~/.cache/haris/wheels), in a
# folder of its own for this torch build; later set-ups install that wheel
# in seconds. A second run with unchanged requirements does nothing.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
venv=$root/.venv
python=${PYTHON:-python3.11}
pip="$venv/bin/python -m pip --disable-pip-version-check"
stamp=$venv/.haris-installed
# Everything the installation reads: the lock, the ranges setup.py reads,
# setup.py and the mmcv build.
want=$(cat "$root/requirements.txt" "$root"/requirements/*.txt \
  "$root/setup.py" "$root/tools/build_mmcv.sh" | sha256sum | cut -c1-16)

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
wheels=$(bash "$root/tools/build_mmcv.sh" "$venv/bin/python" "$mmcv_version")

echo "[setup] installing pinned requirements"
$pip install -q --find-links "$wheels" -r "$root/requirements.txt"
$pip install -q --no-deps --no-build-isolation -e "$root"
# The lock must lie inside the package's version ranges.
$pip check
$venv/bin/python -c 'import mmcv.ops, mmseg.models, mmpretrain.models, peft'
echo "$want" > "$stamp"
echo "[setup] ready: $venv"
