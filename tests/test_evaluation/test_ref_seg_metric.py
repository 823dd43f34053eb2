import json

import pytest
import torch

from projects.haris.evaluation import RefSegMetric


def sample(pred, gt, prob=None, **meta):
    pred, gt = torch.tensor(pred)[None], torch.tensor(gt)[None]
    out = dict(pred_sem_seg=dict(data=pred), gt_sem_seg=dict(data=gt), **meta)
    if prob is not None:
        out['seg_logits'] = dict(data=torch.tensor(prob)[None])
    return out


def test_oiou_miou_prec_on_toy_masks(tmp_path):
    metric = RefSegMetric(output_file=str(tmp_path / 'r.jsonl'))
    metric.process({}, [
        # I=1, U=2 -> 0.5
        sample([[1, 1], [0, 0]], [[1, 0], [0, 0]], ref_id=1, text='a'),
        # I=3, U=3 -> 1.0
        sample([[1, 1], [1, 0]], [[1, 1], [1, 0]], ref_id=2, text='b'),
        # empty prediction, non-empty target: I=0, U=2 -> 0
        sample([[0, 0], [0, 0]], [[0, 1], [0, 1]], ref_id=3, text='c'),
        # both empty -> IoU 1, adds nothing to oIoU
        sample([[0, 0], [0, 0]], [[0, 0], [0, 0]], ref_id=4, text='d'),
        # ignored pixel (255) excluded: I=1, U=1 -> 1.0
        sample([[1, 1], [0, 0]], [[1, 255], [0, 0]], ref_id=5, text='e'),
    ])
    res = metric.compute_metrics(metric.results)
    assert res['oIoU'] == pytest.approx(100 * 5 / 8)
    assert res['mIoU'] == pytest.approx(100 * (0.5 + 1 + 0 + 1 + 1) / 5)
    assert res['Prec@0.5'] == pytest.approx(80.0)  # 0.5 counts (>=)
    assert res['Prec@0.9'] == pytest.approx(60.0)
    rows = [json.loads(line) for line in open(tmp_path / 'r.jsonl')]
    assert [r['iou'] for r in rows] == [0.5, 1.0, 0.0, 1.0, 1.0]
    assert rows[2]['text'] == 'c'


def test_strict_prec_and_own_threshold():
    metric = RefSegMetric(prec_inclusive=False, threshold=0.35,
                          prec_thresholds=(0.5, ))
    metric.process({}, [
        sample([[0, 0]], [[1, 1]], prob=[[0.4, 0.3]]),  # thr 0.35 -> I=1
    ])
    res = metric.compute_metrics(metric.results)
    assert res['mIoU'] == pytest.approx(50.0)
    assert res['Prec@0.5'] == 0.0  # 0.5 is not > 0.5


def test_shape_mismatch_is_explained():
    metric = RefSegMetric()
    with pytest.raises(ValueError, match='after Resize'):
        metric.process({}, [sample([[1, 1]], [[1], [1]], img_path='x')])
