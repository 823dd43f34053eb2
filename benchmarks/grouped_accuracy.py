"""Does batching an image's refs together cost accuracy?

The demo model (configs/haris_synthetic.py) trained on synthetic scenes
with up to 3 refs each (``refs_per_image=3``: 1,500 scenes, about 4,000
refs, 2.7 per image, as RefCOCO's 2.5), with

- grouped: ``ImageGroupedSampler`` + ``ImageGroupedBatchSampler`` (an
  image's refs in one batch, the image encoded once), the RefCOCO configs'
  setting;
- per ref: mmengine's ``InfiniteSampler`` (refs shuffled one by one).

Same seeds for both; each run validates on the one-ref val split at the
end. Reports each arm's mIoU / oIoU and the paired difference (grouped
minus per ref) with its 95% Student-t interval.
Usage: python benchmarks/grouped_accuracy.py [--iters 1000]
       [--seeds 0 1 2] [--parallel 2]
"""
import argparse
import os.path as osp

from common import ROOT, write_result
from feedback_ablation import interval
from training_runs import run_trainings, schedule_options

CONFIG = 'configs/haris_synthetic.py'
ARMS = {
    'grouped': [
        'train_dataloader.sampler.type=ImageGroupedSampler',
        'train_dataloader.batch_sampler.type=ImageGroupedBatchSampler'
    ],
    'per ref': [],
}


def jobs(iters, seeds, scenes, folder):
    data = osp.join(ROOT, 'data', 'synthetic')
    out = []
    for name, options in ARMS.items():
        for seed in seeds:
            out.append(dict(
                name=name, seed=seed, config=CONFIG,
                options=options + schedule_options(iters) + [
                    f'randomness.seed={seed}',
                    'train_dataloader.dataset.refs_per_image=3',
                    f'train_dataloader.dataset.num_samples={scenes}',
                    f'train_dataloader.dataset.data_root={data}',
                    f'val_dataloader.dataset.data_root={data}'
                ],
                work_dir=osp.join(ROOT, 'work_dirs', folder,
                                  f'{name.replace(" ", "_")}_seed{seed}')))
    return out


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--iters', type=int, default=1000)
    parser.add_argument('--seeds', type=int, nargs='+', default=[0, 1, 2])
    parser.add_argument('--scenes', type=int, default=1500)
    parser.add_argument('--parallel', type=int, default=2)
    parser.add_argument('--name', default='grouped_accuracy')
    args = parser.parse_args()
    todo = jobs(args.iters, args.seeds, args.scenes, args.name)
    finals = run_trainings(todo, args.parallel)
    arms = {}
    for job, val in zip(todo, finals):
        arms.setdefault(job['name'], []).append(dict(
            seed=job['seed'], mIoU=val['mIoU'], oIoU=val['oIoU'],
            cpu_seconds=val.get('cpu_seconds')))
    summary = {name: dict(runs=runs,
                          mIoU=interval([r['mIoU'] for r in runs]),
                          oIoU=interval([r['oIoU'] for r in runs]))
               for name, runs in arms.items()}
    base = {r['seed']: r for r in arms['per ref']}
    for key in ('mIoU', 'oIoU'):
        summary[f'grouped_minus_per_ref_{key}'] = interval(
            [r[key] - base[r['seed']][key] for r in arms['grouped']])
    write_result(args.name, dict(
        config=CONFIG, iters=args.iters, train_scenes=args.scenes,
        refs_per_image_max=3, **summary))


if __name__ == '__main__':
    main()
