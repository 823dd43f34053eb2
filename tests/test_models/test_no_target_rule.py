"""The no-target answer of a model with the no-target output: the head
option that makes an empty mask a no-target answer, and the answer's
hold on every threshold a metric scores."""
import pytest
import torch

from mmseg.registry import MODELS
from projects.haris.evaluation import GRefSegMetric, RefSegMetric
from tests.test_models.test_no_target_head import batch
from tests.tiny_models import tiny_model_cfg


def generalized_model(bias, **head):
    """A tiny model with the no-target output whose no-target probability
    is sigmoid(bias) for every sentence."""
    cfg = tiny_model_cfg()
    cfg['decode_head'].update(no_target=True, **head)
    torch.manual_seed(0)
    model = MODELS.build(cfg).eval()
    last = model.decode_head.no_target_cls[-1]
    with torch.no_grad():
        last.weight.zero_()
        last.bias.fill_(bias)
    return model


def predict(model, mask_threshold):
    model.decode_head.threshold = mask_threshold
    with torch.no_grad():
        return model.predict(**model.data_preprocessor(batch(), False))


def test_empty_mask_answers_no_target_by_default():
    assert MODELS.build(tiny_model_cfg()).decode_head \
        .empty_mask_is_no_target is True


@pytest.mark.parametrize('empty_mask_is_no_target', [True, False])
def test_empty_mask_answer_is_a_head_option(empty_mask_is_no_target):
    """The head says "there is a target" (p 0.0025). Threshold 0 gives a
    full mask, 1.1 an empty one: an empty mask is a no-target answer only
    with the option on; off, the answer is the head's alone."""
    model = generalized_model(
        -6.0, empty_mask_is_no_target=empty_mask_is_no_target)
    for mask_threshold, full in ((0.0, True), (1.1, False)):
        for sample in predict(model, mask_threshold):
            assert bool(sample.pred_sem_seg.data.all()) is full
            assert bool(sample.pred_sem_seg.data.any()) is full
            expect = not full and empty_mask_is_no_target
            assert sample.pred_no_target is expect
            assert sample.no_target_score == pytest.approx(0.00247, 1e-2)
    # the head's own "no target" empties the mask either way
    model = generalized_model(
        6.0, empty_mask_is_no_target=empty_mask_is_no_target)
    for sample in predict(model, 0.0):
        assert sample.pred_no_target is True
        assert not sample.pred_sem_seg.data.any()


def test_no_target_answer_holds_at_every_metric_threshold():
    """RefSegMetric and GRefSegMetric on the predictions of a model that
    answers "no target": the probabilities it keeps (every pixel above
    the extra threshold) are no mask at that threshold either."""
    model = generalized_model(6.0)
    out = predict(model, 0.5)
    probs = torch.stack([s.seg_logits.data for s in out])
    low = float(probs.min()) / 2  # every pixel is above it
    samples = []
    for s in out:
        assert s.pred_no_target is True
        samples.append(dict(
            pred_sem_seg=dict(data=s.pred_sem_seg.data),
            seg_logits=dict(data=s.seg_logits.data),
            gt_sem_seg=dict(data=s.gt_sem_seg.data),
            pred_no_target=s.pred_no_target,
            no_target=False))
    key = f'@{low:g}'
    metric = RefSegMetric(thresholds=(None, low))
    metric.process({}, samples)
    res = metric.compute_metrics(metric.results)
    assert res['oIoU'] == 0.0 and res['oIoU' + key] == 0.0
    assert res['mIoU' + key] == 0.0
    metric = GRefSegMetric(thresholds=(None, low))
    metric.process({}, samples)
    res = metric.compute_metrics(metric.results)
    # ΣU is the targets' area at both thresholds: 2 x 20 x 20 pixels
    assert [r['union'] for r in metric.results] == [[400, 400]] * 2
    assert res['T-acc'] == 0.0 and res['T-acc' + key] == 0.0
