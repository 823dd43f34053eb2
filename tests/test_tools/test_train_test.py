"""End to end through the real entry points on the synthetic dataset."""
import glob
import json
import os
import os.path as osp
import subprocess
import sys

import pytest
import torch

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIG = osp.join(ROOT, 'configs', 'haris_synthetic.py')


def small_options(data_root, iters=6):
    opts = [
        f'train_dataloader.dataset.data_root={data_root}',
        'train_dataloader.dataset.num_samples=24',
        'train_dataloader.batch_size=4',
        f'train_cfg.max_iters={iters}',
        f'train_cfg.val_interval={iters}',
        'default_hooks.checkpoint.interval=3',
        'default_hooks.logger.interval=3',
    ]
    for split in ('val', 'test'):
        opts += [
            f'{split}_dataloader.dataset.data_root={data_root}',
            f'{split}_dataloader.dataset.num_samples=5',
            f'{split}_dataloader.batch_size=4',
        ]
    for split in ('train', 'val', 'test'):
        opts += [f'{split}_dataloader.num_workers=0',
                 f'{split}_dataloader.persistent_workers=False']
    return opts


def run(args, cwd=ROOT):
    env = dict(os.environ, OMP_NUM_THREADS='1')
    proc = subprocess.run(args, cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc.stdout + proc.stderr


def latest_metrics(work_dir):
    files = sorted(glob.glob(osp.join(work_dir, '*', '*.json')),
                   key=osp.getmtime)
    return json.load(open(files[-1]))


@pytest.fixture(scope='module')
def trained(tmp_path_factory):
    """Train 6 iterations, checkpoints at 3 and 6."""
    tmp = tmp_path_factory.mktemp('e2e')
    work = str(tmp / 'work')
    run([sys.executable, 'tools/train.py', CONFIG, '--work-dir', work,
         '--cfg-options'] + small_options(str(tmp / 'data')))
    return tmp, work


def test_train_then_test_on_saved_checkpoint(trained):
    tmp, work = trained
    ckpt = osp.join(work, 'iter_6.pth')
    assert open(osp.join(work, 'last_checkpoint')).read().strip() == ckpt
    out = run([sys.executable, 'tools/test.py', CONFIG, ckpt, '--work-dir',
               work, '--show-dir', 'overlays', '--out', str(tmp / 'pred'),
               '--cfg-options'] + small_options(str(tmp / 'data')) +
              ['default_hooks.visualization.interval=1'])
    metrics = latest_metrics(work)
    for key in ('oIoU', 'mIoU', 'Prec@0.5', 'Prec@0.9'):
        assert 0 <= metrics[key] <= 100
    assert 'Prec@t counts IoU >= t' in out
    rows = open(tmp / 'pred' / 'results.jsonl').read().splitlines()
    assert len(rows) >= 5  # every sentence of the 5 test refs
    ious = [json.loads(r)['iou'] for r in rows]
    assert metrics['mIoU'] == pytest.approx(100 * sum(ious) / len(ious),
                                            abs=0.02)
    assert glob.glob(osp.join(work, 'overlays', 'vis_data', 'vis_image',
                              '*.png'))


def test_checkpoint_loads_weights_only_and_resume_continues(trained):
    tmp, work = trained
    ckpt = torch.load(osp.join(work, 'iter_3.pth'), weights_only=True)
    assert ckpt['meta']['iter'] == 3 and 'message_hub' in ckpt
    out = run([sys.executable, 'tools/train.py', CONFIG, '--work-dir', work,
               '--resume', '--cfg-options'] +
              small_options(str(tmp / 'data'), iters=9))
    assert 'resumed epoch: 0, iter: 6' in out
    assert osp.isfile(osp.join(work, 'iter_9.pth'))


def test_dist_train_and_test_with_two_processes(trained):
    tmp, work = trained
    dist_work = str(tmp / 'dist')
    env_python = osp.dirname(sys.executable)
    os.environ['PATH'] = env_python + os.pathsep + os.environ['PATH']
    run(['bash', 'tools/dist_train.sh', CONFIG, '2', '--work-dir', dist_work,
         '--cfg-options'] + small_options(str(tmp / 'data')))
    assert osp.isfile(osp.join(dist_work, 'iter_6.pth'))
    # evaluation in 2 processes equals 1 process exactly, with a sample
    # count (sentences of 5 refs) that 2 processes do not divide evenly
    ckpt = osp.join(work, 'iter_6.pth')
    opts = small_options(str(tmp / 'data')) + ['test_dataloader.batch_size=3']
    run([sys.executable, 'tools/test.py', CONFIG, ckpt, '--work-dir',
         str(tmp / 'single'), '--cfg-options'] + opts)
    run(['bash', 'tools/dist_test.sh', CONFIG, ckpt, '2', '--work-dir',
         str(tmp / 'double'), '--cfg-options'] + opts)
    single = latest_metrics(str(tmp / 'single'))
    double = latest_metrics(str(tmp / 'double'))
    for key in ('oIoU', 'mIoU', 'Prec@0.5', 'Prec@0.7'):
        assert single[key] == double[key], key
