"""HLA with and without the feedback round (and without VWA) on the
relational synthetic split (distractors share the target's colour and shape;
only spatial words pick it), several seeds each.

Usage: python benchmarks/feedback_ablation.py [--iters 500] [--seeds 0 1 2]
Each run trains the demo model with tools/train.py (two single-threaded
runs at a time) and reads its final validation metrics.
"""
import argparse
import os.path as osp
import statistics

from common import ROOT, write_result
from training_runs import run_trainings, schedule_options

VARIANTS = {
    'HLA (feedback + VWA)': [],
    'no feedback': ['model.neck.feedback=False'],
    'no feedback, no VWA': ['model.neck.feedback=False',
                            'model.neck.vwa=False'],
}


def summary(runs):
    miou = [r['mIoU'] for r in runs]
    return dict(runs=runs, mIoU_mean=round(statistics.mean(miou), 2),
                mIoU_std=round(statistics.stdev(miou), 2)
                if len(miou) > 1 else 0.0)


def ablation_jobs(iters, seeds):
    """One tools/train.py job per (variant, seed) on the relational split."""
    data = osp.join(ROOT, 'data', 'synthetic')
    jobs = []
    for name, options in VARIANTS.items():
        for seed in seeds:
            opts = options + schedule_options(iters) + [
                f'randomness.seed={seed}']
            for split in ('train', 'val'):
                opts += [f'{split}_dataloader.dataset.relational_only=True',
                         f'{split}_dataloader.dataset.data_root={data}']
            jobs.append(dict(
                name=name, seed=seed, config='configs/haris_synthetic.py',
                options=opts,
                work_dir=osp.join(ROOT, 'work_dirs', 'ablation',
                                  f'{name.replace(" ", "_")}_seed{seed}')))
    return jobs


def write_ablation(jobs, finals, iters):
    results = {}
    for job, val in zip(jobs, finals):
        results.setdefault(job['name'], []).append(
            dict(seed=job['seed'], mIoU=val['mIoU'], oIoU=val['oIoU']))
    write_result('feedback_ablation', dict(
        iters=iters, split='relational_only',
        variants={k: summary(v) for k, v in results.items()}))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--iters', type=int, default=500)
    parser.add_argument('--seeds', type=int, nargs='+', default=[0, 1, 2])
    args = parser.parse_args()
    jobs = ablation_jobs(args.iters, args.seeds)
    write_ablation(jobs, run_trainings(jobs), args.iters)


if __name__ == '__main__':
    main()
