"""End to end through the real entry points on the synthetic dataset."""
import glob
import json
import os
import os.path as osp
import subprocess
import sys

import cv2
import numpy as np
import pytest
import torch
from mmengine.config import Config

from projects.haris.apis import RefSegInferencer
from projects.haris.utils import load_local_checkpoint
from tests.e2e_utils import (ROOT, assert_nontrivial, latest_metrics,
                             small_options, split_sentences,
                             spread_threshold)
from tests.e2e_utils import run as run_tool

CONFIG = osp.join(ROOT, 'configs', 'haris_synthetic.py')


def run(args):
    proc = run_tool(args)
    return proc.stdout + proc.stderr


def independent_counts(data_root, ckpt, rows, threshold):
    """Intersection and union of each row's (image, text), from
    ``RefSegInferencer`` masks and the PNG masks, and the masks."""
    masks = {(osp.basename(img), text): mask
             for img, text, mask in split_sentences(data_root)}
    inferencer = RefSegInferencer(
        with_threshold(threshold), ckpt, device='cpu', merge_adapters=False)
    images = [r['img_path'] for r in rows]
    preds = inferencer(images, [r['text'] for r in rows])
    inters, unions = [], []
    for row, pred in zip(rows, preds):
        key = (osp.basename(row['img_path']), row['text'])
        gt = cv2.imread(masks[key], cv2.IMREAD_UNCHANGED) > 0
        inters.append((pred['mask'] & gt).sum())
        unions.append((pred['mask'] | gt).sum())
    return (np.array(inters, float), np.array(unions, float),
            [p['mask'] for p in preds])


def with_threshold(threshold):
    cfg = Config.fromfile(CONFIG)
    cfg.model.decode_head.threshold = threshold
    return cfg


def eval_options(data_root, threshold):
    return small_options(str(data_root)) + [
        f'model.decode_head.threshold={threshold!r}']


def weights(path):
    return load_local_checkpoint(path)['state_dict']


def assert_same_weights(a, b):
    a, b = weights(a), weights(b)
    assert a.keys() == b.keys()
    for key, value in a.items():
        assert torch.equal(value, b[key]), key


@pytest.fixture(scope='module')
def trained(tmp_path_factory):
    """Train 6 iterations, checkpoints at 3 and 6."""
    tmp = tmp_path_factory.mktemp('e2e')
    work = str(tmp / 'work')
    run([sys.executable, 'tools/train.py', CONFIG, '--work-dir', work,
         '--cfg-options'] + small_options(str(tmp / 'data')))
    return tmp, work


@pytest.fixture(scope='module')
def threshold(trained):
    """A mask threshold at which the 6-iteration model's test masks are
    neither empty nor full (at its own 0.5 all are empty): the checks below
    then compare real masks."""
    tmp, work = trained
    pairs = split_sentences(tmp / 'data', config=CONFIG)
    inferencer = RefSegInferencer(CONFIG, osp.join(work, 'iter_6.pth'),
                                  device='cpu', merge_adapters=False)
    preds = inferencer([p[0] for p in pairs], [p[1] for p in pairs])
    return spread_threshold([p['prob'] for p in preds])


@pytest.fixture(scope='module')
def uninterrupted(trained):
    """A second run with the same seed, 9 iterations without a stop."""
    tmp, _ = trained
    again = str(tmp / 'again')
    run([sys.executable, 'tools/train.py', CONFIG, '--work-dir', again,
         '--cfg-options'] + small_options(str(tmp / 'data'), iters=9))
    return again


def test_train_then_test_on_saved_checkpoint(trained, threshold):
    tmp, work = trained
    ckpt = osp.join(work, 'iter_6.pth')
    assert open(osp.join(work, 'last_checkpoint')).read().strip() == ckpt
    out = run([sys.executable, 'tools/test.py', CONFIG, ckpt, '--work-dir',
               work, '--show-dir', 'overlays', '--out', str(tmp / 'pred'),
               '--cfg-options'] + eval_options(tmp / 'data', threshold) +
              ['default_hooks.visualization.interval=1'])
    metrics = latest_metrics(work)
    assert 'Prec@t counts IoU >= t' in out
    rows = [
        json.loads(r)
        for r in (tmp / 'pred' / 'results.jsonl').read_text().splitlines()
    ]
    # every sentence of the 5 test refs
    assert len(rows) == len(split_sentences(tmp / 'data'))
    # The same numbers again outside the test loop and the metric: the
    # inferencer's mask against the dataset's PNG mask, counted in numpy.
    inters, unions, masks = independent_counts(tmp / 'data', ckpt, rows,
                                               threshold)
    # both empty counts 1, as RefSegMetric (and the field) define it
    ious = np.where(unions > 0, inters / np.maximum(unions, 1), 1.0)
    assert_nontrivial(masks, metrics['mIoU'])
    for row, iou in zip(rows, ious):
        assert row['iou'] == pytest.approx(iou, abs=1e-4), row
    assert metrics['oIoU'] == pytest.approx(
        100 * inters.sum() / unions.sum(), abs=0.006)
    assert metrics['mIoU'] == pytest.approx(100 * ious.mean(), abs=0.006)
    for t in (0.5, 0.9):
        assert metrics[f'Prec@{t}'] == pytest.approx(
            100 * (ious >= t).mean(), abs=0.006)
    assert glob.glob(osp.join(work, 'overlays', 'vis_data', 'vis_image',
                              '*.png'))


def test_checkpoint_loads_weights_only_and_resume_continues(trained,
                                                           uninterrupted):
    """Resumed at 6 (after a validation there), 9 iterations give the
    weights of the uninterrupted 9-iteration run, exactly."""
    tmp, work = trained
    ckpt = load_local_checkpoint(osp.join(work, 'iter_3.pth'))
    assert ckpt['meta']['iter'] == 3 and 'message_hub' in ckpt
    out = run([sys.executable, 'tools/train.py', CONFIG, '--work-dir', work,
               '--resume', '--cfg-options'] +
              small_options(str(tmp / 'data'), iters=9))
    assert 'resumed epoch: 0, iter: 6' in out
    assert_same_weights(osp.join(work, 'iter_9.pth'),
                        osp.join(uninterrupted, 'iter_9.pth'))


def test_dist_train_and_test_with_two_processes(trained, threshold):
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
    opts = eval_options(tmp / 'data', threshold) + [
        'test_dataloader.batch_size=3']
    run([sys.executable, 'tools/test.py', CONFIG, ckpt, '--work-dir',
         str(tmp / 'single'), '--out', str(tmp / 'single'),
         '--cfg-options'] + opts)
    run(['bash', 'tools/dist_test.sh', CONFIG, ckpt, '2', '--work-dir',
         str(tmp / 'double'), '--out', str(tmp / 'double'),
         '--cfg-options'] + opts)
    single = latest_metrics(str(tmp / 'single'))
    double = latest_metrics(str(tmp / 'double'))
    assert 0 < single['mIoU'] < 100
    for key in ('oIoU', 'mIoU', 'Prec@0.5', 'Prec@0.7'):
        assert single[key] == double[key], key
    # every sentence once, with the same IoU
    rows = [sorted((tmp / name / 'results.jsonl').read_text().splitlines())
            for name in ('single', 'double')]
    assert len(rows[0]) == len(split_sentences(tmp / 'data'))
    assert rows[0] == rows[1]


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


def test_same_seed_same_weights(trained, uninterrupted):
    _, work = trained
    assert_same_weights(osp.join(work, 'iter_6.pth'),
                        osp.join(uninterrupted, 'iter_6.pth'))
