"""Pixel decoder stage order: conv then x2 upsample (the default) against
x2 upsample then conv, on the embedded demo and in FLOPs.

Usage: python benchmarks/pixel_decoder_order.py [--seeds 0] [--iters 3000]
           [--threads N] [--reuse]
Each (order, seed) trains configs/haris_synthetic.py with tools/train.py
(one run after another; validation only at the end), for the demo's 3k
iterations or, with ``--iters``, the same schedule shortened (warm-up a
fifth of the run, at most 200 iterations); then tools/test.py scores the
last checkpoint on the test split. ``--threads`` sets OMP_NUM_THREADS of
the runs (default: torch's own choice). GFLOPs of the decode head and of
the whole model are counted for the demo model (96 px) and for the
paper-scale model (416 px). Results go to
benchmarks/results/pixel_decoder_order.json. ``--reuse`` keeps runs whose
work dir already holds a test result.
"""
import argparse
import json
import os
import os.path as osp
import statistics

from common import ROOT, paper_model, torch, write_result
from mmengine.config import Config
from mmengine.registry import init_default_scope

from mmseg.registry import MODELS
from tools.analysis.flop_count import flops_table
from training_runs import run, schedule_options, test_result

CONFIG = 'configs/haris_synthetic.py'
ORDERS = {'conv_first': False, 'upsample_first': True}
METRICS = ('mIoU', 'oIoU', 'Prec@0.9')
DEMO_LENGTH = 16  # context_length of configs/_base_/datasets/synthetic.py


def train_and_test(order, seed, iters, threads, reuse):
    """Train one demo model with the given order and seed for ``iters``
    iterations, test its last checkpoint; metrics with the training wall
    time."""
    work_dir = osp.join(ROOT, 'work_dirs', 'pixel_decoder_order',
                        f'{order}_{iters}it_seed{seed}')
    switch = f'model.decode_head.upsample_first={ORDERS[order]}'
    summary = osp.join(work_dir, 'run.json')
    if reuse and osp.isfile(summary) and test_result(work_dir):
        return json.load(open(summary))
    os.makedirs(work_dir, exist_ok=True)
    seconds = run([
        'tools/train.py', CONFIG, '--work-dir', work_dir, '--cfg-options',
        switch, f'randomness.seed={seed}'
    ] + schedule_options(iters), osp.join(work_dir, 'train_output.txt'),
                  threads)
    checkpoint = osp.join(work_dir, f'iter_{iters}.pth')
    run([
        'tools/test.py', CONFIG, checkpoint, '--work-dir',
        osp.join(work_dir, 'test'), '--cfg-options', switch
    ], osp.join(work_dir, 'test_output.txt'), threads)
    metrics = test_result(work_dir)
    result = dict(seed=seed, train_seconds=seconds,
                  **{k: round(metrics[k], 2) for k in METRICS})
    with open(summary, 'w') as f:
        json.dump(result, f, indent=2)
    print(order, result, flush=True)
    return result


def demo_model(upsample_first):
    init_default_scope('mmseg')
    cfg = Config.fromfile(osp.join(ROOT, CONFIG))
    cfg.model.decode_head.upsample_first = upsample_first
    return MODELS.build(cfg.model).eval()


def gflops(model, size, length, tokens):
    table = flops_table(model, size, length, tokens)
    return dict(decode_head=round(table['decode_head'], 5),
                total=round(table['total'], 5),
                decode_head_share=round(
                    table['decode_head'] / table['total'], 4))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--seeds', type=int, nargs='+', default=[0])
    parser.add_argument('--iters', type=int, default=None,
                        help='training iterations (default: the config\'s)')
    parser.add_argument('--threads', type=int, default=None,
                        help='OMP_NUM_THREADS of the runs')
    parser.add_argument('--reuse', action='store_true',
                        help='keep runs whose work dir has a test result')
    args = parser.parse_args()
    iters = args.iters or Config.fromfile(osp.join(
        ROOT, CONFIG)).train_cfg.max_iters
    paper = paper_model(416).eval()
    results = {}
    for order, upsample_first in ORDERS.items():
        paper.decode_head.pixel_decoder.upsample_first = upsample_first
        results[order] = dict(
            upsample_first=upsample_first,
            gflops_demo_96=gflops(
                demo_model(upsample_first), 96, DEMO_LENGTH, 6),
            gflops_paper_416=gflops(paper, 416, 22, 12))
    for seed in args.seeds:
        for order in ORDERS:
            results[order].setdefault('runs', []).append(
                train_and_test(order, seed, iters, args.threads, args.reuse))
    for row in results.values():
        for key in METRICS + ('train_seconds', ):
            values = [r[key] for r in row['runs']]
            row[f'{key}_mean'] = round(statistics.mean(values), 2)
    write_result('pixel_decoder_order', dict(
        config=CONFIG, split='test', iters=iters, seeds=args.seeds,
        run_threads=args.threads or torch.get_num_threads(),
        note='one tools/train.py run at a time on a shared 2-core machine; '
        'validation only after the last iteration', orders=results))


if __name__ == '__main__':
    main()
