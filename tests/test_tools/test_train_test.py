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

from projects.haris.apis import RefSegInferencer
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


def split_sentences(data_root):
    """(image path, sentence, mask path) of the synthetic test split."""
    refs = glob.glob(osp.join(data_root, 'test_n5_*', 'refs.jsonl'))
    assert len(refs) == 1, refs
    folder = osp.dirname(refs[0])
    out = []
    with open(refs[0]) as f:
        lines = f.read().splitlines()
    for line in lines:
        ref = json.loads(line)
        for text in ref['sentences']:
            out.append((osp.join(folder, ref['image']), text,
                        osp.join(folder, ref['mask'])))
    return out


def independent_counts(data_root, ckpt, rows):
    """Intersection and union of each row's (image, text), from
    ``RefSegInferencer`` masks and the PNG masks."""
    masks = {(osp.basename(img), text): mask
             for img, text, mask in split_sentences(data_root)}
    inferencer = RefSegInferencer(
        CONFIG, ckpt, device='cpu', merge_adapters=False)
    images = [r['img_path'] for r in rows]
    preds = inferencer(images, [r['text'] for r in rows])
    inters, unions = [], []
    for row, pred in zip(rows, preds):
        key = (osp.basename(row['img_path']), row['text'])
        gt = cv2.imread(masks[key], cv2.IMREAD_UNCHANGED) > 0
        inters.append((pred['mask'] & gt).sum())
        unions.append((pred['mask'] | gt).sum())
    return np.array(inters, float), np.array(unions, float)


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
    assert 'Prec@t counts IoU >= t' in out
    rows = [
        json.loads(r)
        for r in (tmp / 'pred' / 'results.jsonl').read_text().splitlines()
    ]
    # every sentence of the 5 test refs
    assert len(rows) == len(split_sentences(tmp / 'data'))
    # The same numbers again outside the test loop and the metric: the
    # inferencer's mask against the dataset's PNG mask, counted in numpy.
    inters, unions = independent_counts(tmp / 'data', ckpt, rows)
    # both empty counts 1, as RefSegMetric (and the field) define it
    ious = np.where(unions > 0, inters / np.maximum(unions, 1), 1.0)
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
