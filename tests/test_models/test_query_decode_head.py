import pytest
import torch
from mmengine.structures import PixelData

from mmseg.registry import MODELS
from mmseg.structures import SegDataSample


def head_cfg(**kwargs):
    cfg = dict(
        type='QueryDecodeHead', in_channels=32, channels=32, num_levels=3,
        num_upsample=2, num_layers=2, num_heads=4,
        norm_cfg=dict(type='GN', num_groups=8),
        loss_decode=[dict(type='BinaryFocalLoss'),
                     dict(type='BinaryDiceLoss')])
    cfg.update(kwargs)
    return cfg


def neck_output(b=2):
    maps = tuple(torch.randn(b, 32, 4, 4) for _ in range(3))
    return maps + (dict(sentence=torch.randn(b, 32)), )


def samples(b=2, size=16):
    out = []
    for _ in range(b):
        s = SegDataSample()
        s.gt_sem_seg = PixelData(data=torch.randint(0, 2, (1, size, size)))
        out.append(s)
    return out


def test_logits_at_quarter_resolution():
    head = MODELS.build(head_cfg()).eval()
    logits = head(neck_output())
    assert logits.shape == (2, 1, 16, 16)  # 4x4 grid, two x2 stages


def test_sentence_conditions_the_mask():
    head = MODELS.build(head_cfg()).eval()
    inputs = neck_output()
    other = inputs[:3] + (dict(sentence=torch.randn(2, 32)), )
    assert not torch.allclose(head(inputs), head(other))


def test_loss_and_aux_loss():
    head = MODELS.build(head_cfg(aux_loss=True, aux_weight=0.5)).train()
    losses = head.loss(neck_output(), samples(), train_cfg={})
    assert set(losses) == {'loss_focal', 'loss_dice', 'aux0_loss_focal',
                           'aux0_loss_dice', 'acc_seg'}
    total = sum(v for k, v in losses.items() if 'loss' in k)
    total.backward()
    assert head.query.weight.grad is not None
    plain = MODELS.build(head_cfg()).train()
    assert set(plain.loss(neck_output(), samples(), {})) == {
        'loss_focal', 'loss_dice', 'acc_seg'}


def test_acc_seg_counts_labelled_pixels_only():
    head = MODELS.build(head_cfg()).train()
    logits = torch.full((1, 1, 4, 4), -1.0)
    logits[..., :2] = 1.0  # predicts the left half
    label = torch.zeros(1, 4, 4, dtype=torch.long)
    label[:, :, :2] = 1
    label[0, 0, 0] = 0  # wrong on the left
    label[0, 3, 3] = 1  # wrong on the right
    label[0, 1, 1] = label[0, 2, 2] = 255  # one ignored pixel each side
    sample = SegDataSample()
    sample.gt_sem_seg = PixelData(data=label)
    losses = head.loss_by_feat(logits, [sample])
    # 14 labelled pixels, 2 of them wrong
    assert losses['acc_seg'].item() == pytest.approx(100 * 12 / 14)
