#!/usr/bin/env bash
# Check one software stack end to end in a scratch virtual environment:
# the package import, the test suite, a few demo training iterations with
# tools/train.py and tools/test.py on their checkpoint.
#
# By default the stack is the lowest one the requirement ranges admit:
# torch 2.1.2 + torchvision 0.16.2 (the OpenMMLab prebuilt-mmcv stack) and
# the lower bound of every range in requirements/{runtime,optional,tests}.txt
# (`name>=X` installs `name==X`). mmcv is compiled once against that torch
# (tools/build_mmcv.sh, cached per torch build). Not part of CI: 31 minutes
# on 2 cores with nothing cached, 8 with the cached mmcv wheel (measured;
# see docs/get_started.md).
#
# Usage: tools/check_stack.sh [--torch VER] [--torchvision VER] [VENV_DIR]
#   VENV_DIR  scratch environment, created if missing (default
#             $HARIS_STACK_DIR/torch-VER, HARIS_STACK_DIR defaulting to
#             ~/.cache/haris/stacks); demo outputs go to VENV_DIR/work.
# Environment: ITERS demo iterations (default 20), PYTHON (python3.11),
#   HARIS_WHEEL_CACHE, MAX_JOBS (see tools/build_mmcv.sh).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
torch=2.1.2
torchvision=0.16.2
venv=
while [ $# -gt 0 ]; do
  case $1 in
    --torch) torch=$2; shift 2 ;;
    --torchvision) torchvision=$2; shift 2 ;;
    -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
    -*) echo "unknown option $1; see $0 --help" >&2; exit 2 ;;
    *) venv=$1; shift ;;
  esac
done
stacks=${HARIS_STACK_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/haris/stacks}
venv=$(realpath -m "${venv:-$stacks/torch-$torch}")
case $venv/ in
  "$root"/*)
    echo "VENV_DIR $venv lies inside the repository; pick a folder outside" \
      "it (default $stacks/torch-$torch)" >&2
    exit 2 ;;
esac
iters=${ITERS:-20}
python=${PYTHON:-python3.11}
py=$venv/bin/python
pip="$py -m pip --disable-pip-version-check"
work=$venv/work
t0=$(date +%s)
stage() { echo "[stack] $(( $(date +%s) - t0 )) s: $*"; }

if [ ! -x "$py" ]; then
  stage "creating $venv"
  mkdir -p "$(dirname "$venv")"
  "$python" -m venv "$venv"
fi
stage "installing torch $torch, torchvision $torchvision"
$pip install -q "torch==$torch" "torchvision==$torchvision"

mmcv=$(grep -E '^mmcv' "$root/requirements/runtime.txt" |
  sed -E 's/.*>=([^,]+).*/\1/')
stage "mmcv $mmcv for torch $torch"
wheels=$(bash "$root/tools/build_mmcv.sh" "$py" "$mmcv")

# The lowest stack: every lower bound pinned; torch pinned to this stack's.
pins=$venv/lowest-pins.txt
{
  echo "torch==$torch"
  echo "torchvision==$torchvision"
  cat "$root"/requirements/{runtime,optional,tests}.txt |
    grep -E '^[A-Za-z0-9_.-]+>=' | grep -vE '^torch(vision)?>=' |
    sed -E 's/^([A-Za-z0-9_.-]+)>=([^,;[:space:]]+).*/\1==\2/'
} > "$pins"
stage "installing the package with its extras at the lower bounds:" \
  "$(grep -v '^torch' "$pins" | tr '\n' ' ')"
$pip install -q --find-links "$wheels" -c "$pins" -r "$pins" \
  -e "$root[mmpretrain,tests]"
$pip freeze --exclude-editable > "$venv/freeze.txt"

status=0
stage 'import projects.haris (outside the checkout)'
(cd "$venv" && "$py" -c 'import projects.haris, torch, mmcv, mmengine
import mmseg, transformers, peft
print("imported projects.haris with torch", torch.__version__, "mmcv",
      mmcv.__version__, "mmengine", mmengine.__version__, "mmseg",
      mmseg.__version__, "transformers", transformers.__version__, "peft",
      peft.__version__)') || status=1

stage 'test suite'
cores=$(nproc)
workers=$(( cores < 4 ? cores : 4 ))
(cd "$root" && OMP_NUM_THREADS=1 "$py" -m pytest -q -p no:cacheprovider \
  -rfE -n "$workers" --dist loadfile tests) || status=1

stage "demo: $iters iterations of configs/haris_synthetic.py"
rm -rf "$work"
demo_opts=(
  "train_cfg.max_iters=$iters" "train_cfg.val_interval=$iters"
  "default_hooks.checkpoint.interval=$iters" 'default_hooks.logger.interval=5'
  "train_dataloader.dataset.data_root=$work/data"
  "val_dataloader.dataset.data_root=$work/data"
  "test_dataloader.dataset.data_root=$work/data")
if (cd "$root" && OMP_NUM_THREADS=1 "$py" tools/train.py \
  configs/haris_synthetic.py --work-dir "$work" \
  --cfg-options "${demo_opts[@]}"); then
  stage 'tools/test.py on the last checkpoint'
  (cd "$root" && OMP_NUM_THREADS=1 "$py" tools/test.py \
    configs/haris_synthetic.py "$(cat "$work/last_checkpoint")" \
    --work-dir "$work" --cfg-options "${demo_opts[@]}") || status=1
else
  status=1
fi
stage "done (exit $status); versions in $venv/freeze.txt"
exit $status
