"""End to end through the real entry points on the synthetic dataset."""
import glob
import json
import os
import os.path as osp
import subprocess
import sys

import pytest
import torch

from projects.haris.utils import load_local_checkpoint
from tests.e2e_utils import ROOT, latest_metrics, small_options
from tests.e2e_utils import run as run_tool

CONFIG = osp.join(ROOT, 'configs', 'haris_synthetic.py')


def run(args):
    proc = run_tool(args)
    return proc.stdout + proc.stderr


def first_run_val(work_dir):
    """The validation metrics logged by the first training run there."""
    scalars = sorted(glob.glob(osp.join(work_dir, '*', 'vis_data',
                                        'scalars.json')))[0]
    rows = [json.loads(line) for line in open(scalars)]
    return [r for r in rows if 'mIoU' in r][-1]


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
    ckpt = load_local_checkpoint(osp.join(work, 'iter_3.pth'))
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


def test_nan_loss_stops_with_iteration_and_keeps_last_good(trained):
    tmp, work = trained
    nan_work = str(tmp / 'nan')
    opts = small_options(str(tmp / 'data'), iters=6)
    run([sys.executable, 'tools/train.py', CONFIG, '--work-dir', nan_work,
         '--cfg-options'] + small_options(str(tmp / 'data'), iters=3))
    good = load_local_checkpoint(osp.join(nan_work, 'iter_3.pth'))
    env = dict(os.environ, OMP_NUM_THREADS='1')
    proc = subprocess.run(
        [sys.executable, 'tools/train.py', CONFIG, '--work-dir', nan_work,
         '--resume', '--cfg-options'] + opts +
        ['model.decode_head.loss_decode.1.loss_weight=nan'],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode != 0
    assert 'Loss is nan at iteration 4' in proc.stderr
    assert 'iter_3.pth' in proc.stderr
    assert not osp.exists(osp.join(nan_work, 'iter_6.pth'))
    again = load_local_checkpoint(osp.join(nan_work, 'iter_3.pth'))
    for k, v in good['state_dict'].items():
        assert torch.equal(v, again['state_dict'][k])


def test_same_seed_same_metrics(trained):
    tmp, work = trained
    first = first_run_val(work)  # the val at iteration 6 of `trained`
    again = str(tmp / 'again')
    run([sys.executable, 'tools/train.py', CONFIG, '--work-dir', again,
         '--cfg-options'] + small_options(str(tmp / 'data')))
    second = first_run_val(again)
    for key in ('oIoU', 'mIoU', 'Prec@0.5'):
        assert first[key] == second[key]
