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
    assert set(res) == {'oIoU', 'mIoU', 'Prec@0.5'}


def two_threshold_samples():
    """Model prediction = prob > 0.5, as mmseg's postprocess_result."""
    return [
        # 0.5: I=1, U=2 -> 0.5       0.35: I=2, U=2 -> 1
        sample([[1, 0], [0, 0]], [[1, 1], [0, 0]],
               prob=[[0.6, 0.4], [0.3, 0.1]], ref_id=1),
        # 0.5: I=1, U=1 -> 1         0.35: I=1, U=3 -> 1/3
        sample([[0, 1], [0, 0]], [[0, 1], [0, 0]],
               prob=[[0.2, 0.9], [0.4, 0.36]], ref_id=2),
        # (0, 1) ignored; 0.34 is background at both thresholds
        # 0.5: I=0, U=2 -> 0         0.35: I=1, U=2 -> 0.5
        sample([[0, 1], [0, 0]], [[1, 255], [1, 0]],
               prob=[[0.34, 0.99], [0.4, 0.1]], ref_id=3),
    ]


@pytest.mark.parametrize('first', [None, 0.5])
def test_two_thresholds_in_one_pass(first, tmp_path):
    metric = RefSegMetric(thresholds=(first, 0.35),
                          output_file=str(tmp_path / 'r.jsonl'))
    metric.process({}, two_threshold_samples())
    # only counts are kept per sentence, never masks or probabilities
    assert metric.results[0]['inter'] == [1, 2]
    assert metric.results[0]['union'] == [2, 2]
    res = metric.compute_metrics(metric.results)
    # plain keys: the model's threshold (0.5)
    assert res['oIoU'] == pytest.approx(100 * 2 / 5)
    assert res['mIoU'] == pytest.approx(100 * (0.5 + 1 + 0) / 3, abs=0.01)
    assert res['Prec@0.5'] == pytest.approx(100 * 2 / 3, abs=0.01)
    assert res['Prec@0.9'] == pytest.approx(100 * 1 / 3, abs=0.01)
    # suffixed keys: sigmoid > 0.35, the CRIS/ETRIS protocol
    assert res['oIoU@0.35'] == pytest.approx(100 * 4 / 7, abs=0.01)
    assert res['mIoU@0.35'] == pytest.approx(
        100 * (1 + 1 / 3 + 0.5) / 3, abs=0.01)
    assert res['Prec@0.5@0.35'] == pytest.approx(100 * 2 / 3, abs=0.01)
    assert res['Prec@0.9@0.35'] == pytest.approx(100 * 1 / 3, abs=0.01)
    assert len(res) == 2 * 7
    rows = [json.loads(line) for line in open(tmp_path / 'r.jsonl')]
    assert [(r['iou'], r['iou@0.35']) for r in rows] == [
        (0.5, 1.0), (1.0, 0.3333), (0.0, 0.5)]


def test_threshold_is_strict_and_printed(capsys):
    from mmengine.logging import MMLogger
    MMLogger.get_instance('metric_print', log_level='INFO')
    metric = RefSegMetric(thresholds=(0.5, 0.25), prec_inclusive=False)
    # exactly 0.5 is background (prob > 0.5), as in mmseg
    metric.process({}, [sample([[0, 0]], [[1, 1]], prob=[[0.5, 0.75]])])
    res = metric.compute_metrics(metric.results)
    assert res['mIoU'] == 50.0 and res['mIoU@0.25'] == 100.0
    out = capsys.readouterr().out
    assert 'Prec@t counts IoU > t' in out
    assert 'sigmoid > 0.5 (plain keys)' in out
    assert 'sigmoid > 0.25 (keys @0.25)' in out


def test_bad_thresholds_are_explained():
    with pytest.raises(ValueError, match='only first'):
        RefSegMetric(thresholds=(0.35, None))
    with pytest.raises(ValueError, match='give only thresholds'):
        RefSegMetric(threshold=0.5, thresholds=(None, 0.35))
    with pytest.raises(ValueError, match='repeat'):
        RefSegMetric(thresholds=(0.5, 0.5))
    metric = RefSegMetric(thresholds=(None, 0.35))
    with pytest.raises(KeyError, match='seg_logits'):
        metric.process({}, [sample([[1]], [[1]], img_path='x.jpg')])


def test_shape_mismatch_is_explained():
    metric = RefSegMetric()
    with pytest.raises(ValueError, match='after Resize'):
        metric.process({}, [sample([[1, 1]], [[1], [1]], img_path='x')])


def test_no_target_answer_holds_at_every_threshold():
    """A model with a no-target head: its answer empties the mask at every
    threshold, not only the decode head's (the probabilities it keeps
    are not a mask)."""
    metric = RefSegMetric(thresholds=(None, 0.35))
    metric.process({}, [
        # answered "no target" (mask emptied); 0.4 > 0.35 at two pixels
        sample([[0, 0, 0], [0, 0, 0]], [[1, 1, 0], [0, 0, 0]],
               prob=[[0.4, 0.1, 0.4], [0, 0, 0]], pred_no_target=True),
        # answered with a mask: 0.5 -> I 1, U 2; 0.35 -> I 2, U 2
        sample([[1, 0, 0], [0, 0, 0]], [[1, 1, 0], [0, 0, 0]],
               prob=[[0.6, 0.4, 0.1], [0, 0, 0]], pred_no_target=False),
    ])
    assert metric.results[0]['inter'] == [0, 0]
    assert metric.results[0]['union'] == [2, 2]
    res = metric.compute_metrics(metric.results)
    assert res['oIoU'] == 25.0 and res['mIoU'] == 25.0  # (0 + 1) / (2 + 2)
    assert res['oIoU@0.35'] == 50.0 and res['mIoU@0.35'] == 50.0
