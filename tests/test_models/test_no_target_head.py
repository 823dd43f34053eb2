"""The decode head's no-target output (generalized referring
segmentation)."""
import numpy as np
import torch
from mmengine.structures import PixelData

from mmseg.registry import MODELS
from mmseg.structures import SegDataSample
from tests.tiny_models import tiny_model_cfg


def build(no_target):
    cfg = tiny_model_cfg()
    if no_target:
        cfg['decode_head']['no_target'] = True
    torch.manual_seed(0)
    return MODELS.build(cfg)


def batch(empty=(False, False), flags=(None, None)):
    inputs, samples = [], []
    gen = torch.Generator().manual_seed(1)
    for is_empty, flag in zip(empty, flags):
        inputs.append(torch.randint(0, 255, (3, 48, 64), generator=gen)
                      .float())
        meta = dict(ori_shape=(48, 64), img_shape=(48, 64), text='a',
                    token_ids=np.array([49406, 320, 49407, 0]),
                    token_mask=np.array([1, 1, 1, 0], bool))
        if flag is not None:
            meta['no_target'] = flag
        s = SegDataSample(metainfo=meta)
        mask = torch.zeros(1, 48, 64, dtype=torch.long)
        if not is_empty:
            mask[:, 10:30, 20:40] = 1
        s.gt_sem_seg = PixelData(data=mask)
        samples.append(s)
    return dict(inputs=inputs, data_samples=samples)


def test_option_off_keeps_single_object_haris():
    off, on = build(False), build(True)
    assert not any('no_target' in k for k in off.state_dict())
    extra = set(on.state_dict()) - set(off.state_dict())
    assert extra and all(k.startswith('decode_head.no_target_cls.')
                         for k in extra)
    # the same weights give the same masks: the output only adds to them
    on.load_state_dict(off.state_dict(), strict=False)
    off.eval(), on.eval()
    with torch.no_grad():  # predict fills the samples it is given
        a = off.predict(**off.data_preprocessor(batch(), False))
        b = on.predict(**on.data_preprocessor(batch(), False))
    for x, y in zip(a, b):
        assert torch.equal(x.seg_logits.data, y.seg_logits.data)
        assert 'pred_no_target' not in x and 'no_target_score' not in x
        assert 'pred_no_target' in y
    assert set(off(**off.data_preprocessor(batch(), True), mode='loss')) == {
        'decode.loss_focal', 'decode.loss_dice', 'decode.acc_seg'}


def test_loss_reads_the_flag_or_an_empty_mask():
    model = build(True)
    head = model.decode_head
    with torch.no_grad():
        head.no_target_cls[-1].weight.zero_()
        head.no_target_cls[-1].bias.fill_(2.0)  # P(no target) = 0.88
    data = model.data_preprocessor(
        batch(empty=(True, False), flags=(None, None)), True)
    loss = model(**data, mode='loss')['decode.loss_no_target']
    # labels (1, 0) from the masks: mean BCE of logit 2
    expected = (np.log1p(np.exp(-2.0)) + np.log1p(np.exp(2.0))) / 2
    assert abs(loss.item() - expected) < 1e-5
    # the flag wins over the mask
    data = model.data_preprocessor(
        batch(empty=(False, False), flags=(True, True)), True)
    loss = model(**data, mode='loss')['decode.loss_no_target']
    assert abs(loss.item() - np.log1p(np.exp(-2.0))) < 1e-5
    loss.backward()
    assert head.no_target_cls[-1].bias.grad.abs().item() > 0
    # a weight alone updates the default loss
    cfg = tiny_model_cfg()
    cfg['decode_head'].update(no_target=True,
                              loss_no_target=dict(loss_weight=5.0))
    heavy = MODELS.build(cfg).decode_head.loss_no_target
    assert (heavy.loss_weight, heavy.use_sigmoid, heavy.loss_name) == (
        5.0, True, 'loss_no_target')


def test_no_target_answer_empties_the_mask_and_keeps_probabilities():
    model = build(True).eval()
    head = model.decode_head
    # mask threshold 0: every pixel foreground unless emptied; 1.1: the
    # mask is empty, which is a no-target answer whatever the score
    for bias, mask_threshold, expect in ((6.0, 0.0, True),
                                         (-6.0, 0.0, False),
                                         (-6.0, 1.1, True)):
        with torch.no_grad():
            head.no_target_cls[-1].weight.zero_()
            head.no_target_cls[-1].bias.fill_(bias)
            head.threshold = mask_threshold
            out = model.predict(**model.data_preprocessor(batch(), False))
        for sample in out:
            assert sample.pred_no_target is expect
            score = 1 / (1 + np.exp(-bias))
            assert abs(sample.no_target_score - score) < 1e-6
            assert bool(sample.pred_sem_seg.data.any()) is not expect
            assert sample.seg_logits.data.min() > 0  # probabilities kept
