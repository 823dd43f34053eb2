#!/usr/bin/env bash
# The embedded demo, end to end: set up .venv if needed, train HARIS on the
# synthetic referring dataset, evaluate the final checkpoint with
# tools/test.py (oIoU, mIoU, Prec@X) and write prediction overlays.
# Usage: tools/run_demo.sh [WORK_DIR] [extra train.py --cfg-options ...]
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
bash tools/setup_env.sh
work_dir=${1:-work_dirs/haris_synthetic}
shift || true
config=configs/haris_synthetic.py
start=$(date +%s)
.venv/bin/python tools/train.py "$config" --work-dir "$work_dir" "$@"
ckpt=$(cat "$work_dir/last_checkpoint")
.venv/bin/python tools/test.py "$config" "$ckpt" --work-dir "$work_dir" \
  --show-dir overlays --out "$work_dir/predictions"
echo "[demo] finished in $(( $(date +%s) - start )) s"
echo "[demo] metrics: $(ls -t "$work_dir"/*/*.json | head -1)"
echo "[demo] overlays: $work_dir/overlays/vis_data/vis_image/"
