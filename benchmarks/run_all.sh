#!/usr/bin/env bash
# Run every CPU benchmark, then rewrite the result tables of the docs from
# benchmarks/results/*.json (benchmarks/report.py). Stage wall times go to
# benchmarks/results/run_all.json.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
bash tools/setup_env.sh
py=.venv/bin/python
stages=()
stage() {  # stage NAME COMMAND...: run and record the wall time
  local name=$1 start
  shift
  start=$(date +%s)
  echo "[run_all] $name"
  "$@"
  stages+=("$name=$(( $(date +%s) - start ))")
}
begin=$(date +%s)
stage parameters $py benchmarks/parameters.py
stage data_pipeline $py benchmarks/data_pipeline.py
stage inference_overhead $py benchmarks/inference_overhead.py
stage eval_grouping $py benchmarks/eval_grouping.py
stage scaling $py benchmarks/scaling.py
stage train_step $py benchmarks/train_step.py
stage amp_bf16 $py benchmarks/amp_bf16.py
demo=work_dirs/benchmark_demo
rm -rf "$demo"  # this script's own scratch run
demo_start=$(date +%s)
stage demo bash tools/run_demo.sh "$demo"
$py benchmarks/learning_curve.py "$demo" \
  --wall-seconds $(( $(date +%s) - demo_start ))
stage "feedback ablation + PEFT evidence" $py benchmarks/evidence.py
$py benchmarks/report.py --total-seconds $(( $(date +%s) - begin )) \
  --stages "${stages[@]}"
