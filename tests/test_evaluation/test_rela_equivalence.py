"""GRefSegMetric equals ReLA's gRefCOCO evaluator on any (mask, no-target
answer) pair, and both metrics score at a fixed size as LAVT and ReLA do.

The references below are written from the published evaluation code, not
from ours:

- ReLA (``gres_model/evaluation/refer_evaluation.py``): per sentence,
  I and U of the predicted and ground-truth masks as given. A no-target
  sentence answered "no target" counts IoU 1 and adds nothing to ΣI, ΣU;
  answered with a mask it counts IoU 0 and adds U to ΣU. A sentence with a
  target answered "no target" has I set to 0 and keeps U (the predicted
  mask stays in the union); otherwise IoU = I / U (0 when U is 0).
  Pr@t counts IoU >= t over the sentences with a target.
- LAVT (``transforms.Resize``): the ground truth is resized to 480x480
  with PIL's nearest neighbour; I and U are summed over sentences.
"""
import numpy as np
import pytest
import torch
from PIL import Image

from projects.haris.evaluation import GRefSegMetric, RefSegMetric


def rela_evaluate(preds, gts, pred_nts, gt_nts):
    """ReLA's numbers (percentages) from boolean masks and answers."""
    acc_i = acc_u = acc_iou = 0.
    tp = tn = fp = fn = 0
    hits = {0.7: 0, 0.8: 0, 0.9: 0}
    with_target = 0
    for pred, gt, pred_nt, gt_nt in zip(preds, gts, pred_nts, gt_nts):
        inter = int(np.logical_and(pred, gt).sum())
        union = int(np.logical_or(pred, gt).sum())
        if gt_nt:
            if pred_nt:
                tp += 1
                acc_iou += 1
            else:
                fn += 1
                acc_u += union
            continue
        if pred_nt:
            fp += 1
            inter = 0
        else:
            tn += 1
        iou = 0. if union == 0 else inter / union
        acc_iou += iou
        acc_i += inter
        acc_u += union
        with_target += 1
        for t in hits:
            hits[t] += iou >= t
    res = {'gIoU': 100 * acc_iou / len(preds), 'cIoU': 100 * acc_i / acc_u}
    if tp + fn:  # ReLA prints 0 for both without no-target sentences;
        # GRefSegMetric leaves them out
        res['N-acc'] = 100 * tp / (tp + fn)
        res['T-acc'] = 100 * tn / (tn + fp)
    res.update({f'Pr@{t:g}': 100 * n / with_target for t, n in hits.items()})
    return res


def pil_nearest(mask, size):
    """LAVT's resize of a label map: PIL nearest neighbour to (h, w)."""
    img = Image.fromarray(np.asarray(mask, np.uint8), mode='L')
    return np.array(img.resize((size[1], size[0]), Image.NEAREST))


def random_pairs(seed, num=60):
    """Sentences with and without a target, predictions of every kind:
    among them targets answered "no target" with a non-empty mask."""
    rng = np.random.default_rng(seed)
    preds, gts, pred_nts, gt_nts = [], [], [], []
    for i in range(num):
        h, w = rng.integers(5, 40, 2)
        gt_nt = rng.random() < 0.3
        gt = np.zeros((h, w), bool) if gt_nt else rng.random((h, w)) < 0.4
        kind = rng.integers(4)
        if kind == 0:
            pred = np.zeros((h, w), bool)
        elif kind == 1:
            pred = gt ^ (rng.random((h, w)) < 0.1)  # close to the target
        else:
            pred = rng.random((h, w)) < rng.uniform(0.05, 0.6)
        preds.append(pred)
        gts.append(gt)
        pred_nts.append(bool(rng.random() < 0.35))
        gt_nts.append(bool(gt_nt))
    # the case in question, made sure of: a target answered "no target"
    # while the mask covers pixels
    assert any(p.any() and a and not g
               for p, a, g in zip(preds, pred_nts, gt_nts))
    return preds, gts, pred_nts, gt_nts


def samples_of(preds, gts, pred_nts, gt_nts):
    return [
        dict(pred_sem_seg=dict(data=torch.from_numpy(p)[None].long()),
             gt_sem_seg=dict(data=torch.from_numpy(g)[None].long()),
             pred_no_target=a, no_target=b)
        for p, g, a, b in zip(preds, gts, pred_nts, gt_nts)
    ]


@pytest.mark.parametrize('seed', range(5))
def test_equals_rela_on_random_pairs(seed):
    pairs = random_pairs(seed)
    metric = GRefSegMetric()
    metric.process({}, samples_of(*pairs))
    got = metric.compute_metrics(metric.results)
    expected = rela_evaluate(*pairs)
    assert got.keys() >= expected.keys()
    for key, value in expected.items():
        assert got[key] == pytest.approx(value, abs=0.005), key


def test_target_answered_no_target_keeps_its_mask_in_the_union():
    """Two sentences with a target of 4 pixels each: one answered with a
    correct mask, one answered "no target" with 12 wrong pixels."""
    gt = np.zeros((4, 8), bool)
    gt[0, :4] = True
    wrong = np.zeros((4, 8), bool)
    wrong[1:, 4:] = True
    pairs = ([gt, wrong], [gt, gt], [False, True], [False, False])
    metric = GRefSegMetric()
    metric.process({}, samples_of(*pairs))
    res = metric.compute_metrics(metric.results)
    # ΣI = 4; ΣU = 4 + (4 + 12): the wrong mask counts in U
    assert res['cIoU'] == pytest.approx(100 * 4 / 20, abs=0.005)
    assert res['cIoU'] == pytest.approx(rela_evaluate(*pairs)['cIoU'],
                                        abs=0.005)


@pytest.mark.parametrize('eval_size', [480, (40, 56), (13, 7)])
def test_fixed_size_as_lavt(eval_size):
    """RefSegMetric(eval_size=...) against LAVT's protocol: prediction and
    ground truth resized by PIL's nearest neighbour, then oIoU, mIoU."""
    size = (eval_size, eval_size) if isinstance(eval_size, int) \
        else eval_size
    rng = np.random.default_rng(7)
    samples, inter, union, ious = [], 0, 0, []
    for _ in range(8):
        h, w = rng.integers(9, 120, 2)
        gt = (rng.random((h, w)) < 0.3).astype(np.uint8)
        gt[rng.random((h, w)) < 0.05] = 255
        pred = rng.random((h, w)) < 0.3
        samples.append(
            dict(pred_sem_seg=dict(data=torch.from_numpy(pred)[None]),
                 gt_sem_seg=dict(data=torch.from_numpy(gt)[None].long())))
        g, p = pil_nearest(gt, size), pil_nearest(pred, size) > 0
        valid = g != 255
        i = int((p & (g == 1) & valid).sum())
        u = int(((p | (g == 1)) & valid).sum())
        inter, union = inter + i, union + u
        ious.append(i / u if u else 1.)
    metric = RefSegMetric(eval_size=eval_size)
    metric.process({}, samples)
    res = metric.compute_metrics(metric.results)
    assert res['oIoU'] == pytest.approx(100 * inter / union, abs=0.005)
    assert res['mIoU'] == pytest.approx(100 * np.mean(ious), abs=0.005)
    default = RefSegMetric()
    default.process({}, samples)
    assert default.compute_metrics(default.results)['oIoU'] != res['oIoU']


def test_fixed_size_grefcoco_as_rela_at_480():
    pairs = random_pairs(11, num=30)
    metric = GRefSegMetric(eval_size=(480, 480))
    metric.process({}, samples_of(*pairs))
    got = metric.compute_metrics(metric.results)
    preds, gts, pred_nts, gt_nts = pairs
    expected = rela_evaluate([pil_nearest(p, (480, 480)) > 0 for p in preds],
                             [pil_nearest(g, (480, 480)) > 0 for g in gts],
                             pred_nts, gt_nts)
    for key, value in expected.items():
        assert got[key] == pytest.approx(value, abs=0.005), key


def test_fixed_size_keeps_answers_read_at_the_models_resolution():
    """A one-pixel target that nearest-neighbour downsizing loses is still
    a sentence with a target; a model without the no-target output that
    predicts one pixel still answered with a mask."""
    gt = np.zeros((40, 40), np.int64)
    gt[1, 1] = 1
    metric = GRefSegMetric(eval_size=4)
    metric.process({}, [
        dict(pred_sem_seg=dict(data=torch.from_numpy(gt)[None]),
             gt_sem_seg=dict(data=torch.from_numpy(gt)[None]))
    ])
    record = metric.results[0]
    assert record['gt_no_target'] is False
    assert record['pred_no_target'] == [False]
    assert record['target'] == 0  # lost at 4x4


def test_bad_eval_size_is_explained():
    for bad in (0, (480, ), (480, -1), 'big', 48.5):
        with pytest.raises(ValueError, match='eval_size'):
            RefSegMetric(eval_size=bad)
