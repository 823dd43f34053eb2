"""HLA with and without the feedback round (and without VWA) on the
relational synthetic split (distractors share the target's colour and shape;
only spatial words pick it), several seeds each.

Usage: python benchmarks/feedback_ablation.py [--iters 1000] [--seeds 0 1 2]
Each run trains the demo model with tools/train.py and reads its final
validation metrics.
"""
import argparse
import glob
import json
import os.path as osp
import statistics
import subprocess
import sys

from common import ROOT, write_result

VARIANTS = {
    'HLA (feedback + VWA)': [],
    'no feedback': ['model.neck.feedback=False'],
    'no feedback, no VWA': ['model.neck.feedback=False',
                            'model.neck.vwa=False'],
}


def final_val(work_dir):
    scalars = sorted(glob.glob(osp.join(work_dir, '*', 'vis_data',
                                        'scalars.json')))[-1]
    rows = [json.loads(line) for line in open(scalars)]
    return [r for r in rows if 'mIoU' in r][-1]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--iters', type=int, default=1000)
    parser.add_argument('--seeds', type=int, nargs='+', default=[0, 1, 2])
    args = parser.parse_args()
    results = {}
    for name, options in VARIANTS.items():
        runs = []
        for seed in args.seeds:
            work = osp.join(ROOT, 'work_dirs', 'ablation',
                            f'{name.replace(" ", "_")}_seed{seed}')
            data = osp.join(ROOT, 'data', 'synthetic')
            opts = options + [
                f'randomness.seed={seed}',
                f'train_cfg.max_iters={args.iters}',
                f'train_cfg.val_interval={args.iters}',
                f'param_scheduler.1.end={args.iters}',
                'default_hooks.checkpoint.interval=100000',
            ]
            for split in ('train', 'val'):
                opts += [f'{split}_dataloader.dataset.relational_only=True',
                         f'{split}_dataloader.dataset.data_root={data}']
            subprocess.run(
                [sys.executable, 'tools/train.py',
                 'configs/haris_synthetic.py', '--work-dir', work,
                 '--cfg-options'] + opts,
                cwd=ROOT, check=True, stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL)
            val = final_val(work)
            runs.append(dict(seed=seed, mIoU=val['mIoU'], oIoU=val['oIoU']))
            print(name, runs[-1], flush=True)
        miou = [r['mIoU'] for r in runs]
        results[name] = dict(
            runs=runs, mIoU_mean=round(statistics.mean(miou), 2),
            mIoU_std=round(statistics.stdev(miou), 2) if len(miou) > 1
            else 0.0)
    write_result('feedback_ablation', dict(iters=args.iters,
                                           split='relational_only',
                                           variants=results))


if __name__ == '__main__':
    main()
