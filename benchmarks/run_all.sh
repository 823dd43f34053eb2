#!/usr/bin/env bash
# Run every CPU benchmark; results land in benchmarks/results/*.json|png.
# The learning curve trains the demo config (about 11 minutes on 2 cores).
# The feedback ablation (benchmarks/feedback_ablation.py, about 42 minutes
# for 9 runs) is run on its own.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash tools/setup_env.sh
py=.venv/bin/python
$py benchmarks/parameters.py
$py benchmarks/data_pipeline.py
$py benchmarks/inference_overhead.py
$py benchmarks/train_step.py
$py benchmarks/amp_bf16.py
work=work_dirs/benchmark_learning_curve
rm -rf "$work"
$py tools/train.py configs/haris_synthetic.py --work-dir "$work"
$py benchmarks/learning_curve.py "$work" --name learning_curve
