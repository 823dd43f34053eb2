"""HLA with and without the feedback round (and without VWA) on the
relational synthetic split (distractors share the target's colour and shape;
only spatial words pick it), several seeds each.

Usage: python benchmarks/feedback_ablation.py [--iters 500] [--seeds 0 1 2]
           [--name feedback_ablation]
Each run trains HARIS as the paper does, on a pretrained CLIP kept frozen
with LoRA adapters: the small CLIP that benchmarks/peft_evidence.py
pretrains (made here first if missing). tools/train.py runs two
single-threaded jobs at a time; the final validation metrics are written to
benchmarks/results/NAME.json.
"""
import argparse
import os.path as osp
import statistics

from common import ROOT, write_result
from peft_evidence import CONFIG, WORK, pretrain
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
                if len(miou) > 1 else 0.0,
                seconds_mean=round(
                    statistics.mean(r['seconds'] for r in runs), 1))


def ablation_jobs(iters, seeds, clip_dir, folder='ablation',
                  split='relational_only', variants=None):
    """One tools/train.py job per (variant, seed; ``variants`` defaults to
    VARIANTS) on the synthetic split of mode ``split`` (a
    SyntheticReferringDataset switch, the relational split by default), on
    the pretrained CLIP in ``clip_dir``."""
    data = osp.join(ROOT, 'data', 'synthetic')
    jobs = []
    for name, options in (variants or VARIANTS).items():
        for seed in seeds:
            opts = options + schedule_options(iters) + [
                f'randomness.seed={seed}',
                f'model.backbone.pretrained={clip_dir}']
            for loader in ('train', 'val'):
                opts += [f'{loader}_dataloader.dataset.{split}=True',
                         f'{loader}_dataloader.dataset.data_root={data}']
            jobs.append(dict(
                name=name, seed=seed, config=CONFIG, options=opts,
                work_dir=osp.join(ROOT, 'work_dirs', folder,
                                  f'{name.replace(" ", "_")}_seed{seed}')))
    return jobs


def write_ablation(jobs, finals, iters, name='feedback_ablation'):
    results = {}
    for job, val in zip(jobs, finals):
        results.setdefault(job['name'], []).append(
            dict(seed=job['seed'], mIoU=val['mIoU'], oIoU=val['oIoU'],
                 seconds=val['seconds']))
    write_result(name, dict(
        iters=iters, split='relational_only', config=CONFIG,
        variants={k: summary(v) for k, v in results.items()}))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--iters', type=int, default=500)
    parser.add_argument('--seeds', type=int, nargs='+', default=[0, 1, 2])
    parser.add_argument('--name', default='feedback_ablation',
                        help='result file and work_dirs folder name')
    args = parser.parse_args()
    clip_dir = osp.join(WORK, 'tiny_clip')
    if not osp.isfile(osp.join(clip_dir, 'config.json')):
        pretrain(clip_dir, 600, 480)
    jobs = ablation_jobs(args.iters, args.seeds, clip_dir, args.name)
    write_ablation(jobs, run_trainings(jobs), args.iters, args.name)


if __name__ == '__main__':
    main()
