"""Generalized referring segmentation on the synthetic generalized split:
the demo model with and without the no-target output, after the same CPU
budget.

Usage: python benchmarks/generalized.py [--iters 3000] [--seed 0]
           [--variants no_target_head without_head] [--options K=V ...]
           [--name generalized] [--reuse]
Both variants of configs/haris_synthetic_generalized.py train side by side,
one thread each (so a run's wall time is its CPU time), validating only at
the end; tools/test.py then scores each last checkpoint on the test split
with GRefSegMetric. Without the head a sentence counts as answered "no
target" when its predicted mask is empty. ``--options`` adds config
overrides to every run (e.g. a loss weight); results go to
benchmarks/results/NAME.json and the runs to work_dirs/NAME/.
"""
import argparse
import json
import os.path as osp

from common import ROOT, write_result
from mmengine.config import Config

from training_runs import (final_val, run, run_trainings,
                           schedule_options, test_result)

CONFIG = 'configs/haris_synthetic_generalized.py'
VARIANTS = {'no_target_head': True, 'without_head': False}
METRICS = ('gIoU', 'cIoU', 'N-acc', 'T-acc', 'Pr@0.7', 'Pr@0.8', 'Pr@0.9',
           'gIoU_single', 'gIoU_multi')


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--iters', type=int, default=None,
                        help='training iterations (default: the config\'s)')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--variants', nargs='+', choices=list(VARIANTS),
                        default=list(VARIANTS))
    parser.add_argument('--options', nargs='*', default=[],
                        help='config overrides for every run')
    parser.add_argument('--name', default='generalized',
                        help='result file and work_dirs folder name')
    parser.add_argument('--reuse', action='store_true',
                        help='keep runs whose work dir has a test result')
    args = parser.parse_args()
    iters = args.iters or Config.fromfile(osp.join(
        ROOT, CONFIG)).train_cfg.max_iters
    jobs = []
    for name in args.variants:
        head = VARIANTS[name]
        work_dir = osp.join(ROOT, 'work_dirs', args.name,
                            f'{name}_{iters}it_seed{args.seed}')
        jobs.append(dict(
            name=name, config=CONFIG, work_dir=work_dir, val_key='gIoU',
            switch=f'model.decode_head.no_target={head}',
            options=[f'model.decode_head.no_target={head}',
                     f'randomness.seed={args.seed}'] +
            schedule_options(iters) + args.options))
    todo = [j for j in jobs if not (args.reuse and test_result(j['work_dir']))]
    trained = dict(zip([j['name'] for j in todo], run_trainings(todo)))
    results = {}
    for job in jobs:
        if job['name'] in trained:
            run(['tools/test.py', CONFIG,
                 osp.join(job['work_dir'], f'iter_{iters}.pth'),
                 '--work-dir', osp.join(job['work_dir'], 'test'),
                 '--cfg-options', job['switch']] + args.options,
                osp.join(job['work_dir'], 'test_output.txt'), threads=None)
        metrics = test_result(job['work_dir'])
        times = osp.join(job['work_dir'], 'run_times.json')
        if job['name'] in trained:  # kept for --reuse
            with open(times, 'w') as f:
                json.dump({k: trained[job['name']][k]
                           for k in ('seconds', 'cpu_seconds')}, f)
        run_times = json.load(open(times)) if osp.isfile(times) else {}
        val = final_val(job['work_dir'], 'gIoU')
        results[job['name']] = dict(
            {k: round(metrics[k], 2) for k in METRICS if k in metrics},
            val={k: val[k] for k in METRICS if k in val},
            train_wall_seconds=run_times.get('seconds'),
            train_cpu_seconds=run_times.get('cpu_seconds'))
        print(job['name'], results[job['name']], flush=True)
    write_result(args.name, dict(
        config=CONFIG, split='test', iters=iters, seed=args.seed,
        options=args.options,
        note='two single-threaded training runs side by side on a 2-core '
        'machine; train_cpu_seconds is the run\'s own CPU time, '
        'train_wall_seconds grows with other load on the machine',
        variants=results))


if __name__ == '__main__':
    main()
