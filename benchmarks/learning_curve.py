"""Validation mIoU/oIoU of a training run against iterations and wall time,
read from its log, and the test metrics of tools/test.py in the same work
dir if any; writes JSON and a PNG plot.
Usage: python benchmarks/learning_curve.py WORK_DIR [--name learning_curve]
           [--wall-seconds S]
"""
import argparse
import glob
import json
import os.path as osp
import re
from datetime import datetime

from common import RESULTS, write_result

STAMP = r'(\d{4}/\d\d/\d\d \d\d:\d\d:\d\d)'


def parse(log_file):
    start, points, last_iter = None, [], 0
    for line in open(log_file):
        m = re.match(STAMP + r' - mmengine - INFO - Iter\(train\) \[\s*(\d+)',
                     line)
        if m:
            t = datetime.strptime(m.group(1), '%Y/%m/%d %H:%M:%S')
            if start is None:
                start = t
            last_iter = int(m.group(2))
            continue
        m = re.match(STAMP + r'.*Iter\(val\).*oIoU: ([\d.]+)\s+mIoU: '
                     r'([\d.]+)', line)
        if m and start is not None:
            t = datetime.strptime(m.group(1), '%Y/%m/%d %H:%M:%S')
            points.append(dict(iter=last_iter,
                               minutes=round((t - start).total_seconds() / 60
                                             + 0.0, 2),
                               oIoU=float(m.group(2)),
                               mIoU=float(m.group(3))))
    return points


def test_metrics(work_dir):
    """Metrics of the newest tools/test.py run in ``work_dir`` (mmengine
    writes them to <timestamp>/<timestamp>.json), or None."""
    found = sorted(glob.glob(osp.join(work_dir, '*', '*.json')))
    for path in reversed(found):
        metrics = json.load(open(path))
        if 'mIoU' in metrics:
            return {k: v for k, v in metrics.items()
                    if k == 'oIoU' or k == 'mIoU' or k.startswith('Prec')}
    return None


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('work_dir')
    parser.add_argument('--name', default='learning_curve')
    parser.add_argument('--wall-seconds', type=float,
                        help='wall time of the whole run, to record')
    args = parser.parse_args()
    logs = sorted(glob.glob(osp.join(args.work_dir, '*', '*.log')))
    train_logs = [f for f in logs if 'Iter(train)' in open(f).read()]
    points = parse(train_logs[-1])
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.5))
    for ax, key in zip(axes, ('iter', 'minutes')):
        for metric in ('mIoU', 'oIoU'):
            ax.plot([p[key] for p in points], [p[metric] for p in points],
                    marker='o', label=metric)
        ax.set_xlabel('iterations' if key == 'iter' else
                      'wall time (minutes, 2 CPU cores)')
        ax.set_ylabel('val %')
        ax.grid(alpha=.3)
        ax.legend()
    fig.tight_layout()
    png = osp.join(RESULTS, f'{args.name}.png')
    fig.savefig(png, dpi=100)
    write_result(args.name, dict(log=osp.basename(train_logs[-1]),
                                 points=points, plot=osp.basename(png),
                                 test=test_metrics(args.work_dir),
                                 wall_seconds=args.wall_seconds))


if __name__ == '__main__':
    main()
