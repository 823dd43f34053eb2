import pytest
import torch
import torch.nn.functional as F
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


def focal_by_hand(logits, label, alpha=0.25, gamma=2.0):
    """Sigmoid focal loss (Lin et al.) averaged over labelled pixels."""
    p = logits.sigmoid()
    t = (label == 1).float()
    ce = -(t * p.log() + (1 - t) * (1 - p).log())
    p_t = p * t + (1 - p) * (1 - t)
    alpha_t = alpha * t + (1 - alpha) * (1 - t)
    valid = (label != 255).float()
    return (alpha_t * (1 - p_t)**gamma * ce * valid).sum() / valid.sum()


def dice_by_hand(logits, label, smooth=1.0):
    """1 - Dice per sample over its labelled pixels, batch mean."""
    valid = (label != 255).float()
    p = logits.sigmoid() * valid
    t = (label == 1).float() * valid
    dice = (2 * (p * t).sum((1, 2)) + smooth) / (
        p.sum((1, 2)) + t.sum((1, 2)) + smooth)
    return (1 - dice).mean()


def test_aux_loss_by_hand():
    """aux0 is the focal and dice loss of the first decoder layer's mask
    (MLP(query_1) . P, resized to the label), times ``aux_weight``; the
    unprefixed losses are the last layer's with weight 1."""
    from projects.haris.models.decode_heads.positional_encoding import \
        sine_position_2d
    torch.manual_seed(0)
    head = MODELS.build(head_cfg(num_layers=3, aux_loss=True, aux_weight=0.3,
                                 dropout_ratio=0.0)).train()
    inputs = neck_output()
    batch = samples(size=32)  # labels at twice the logits' 16x16
    batch[0].gt_sem_seg.data[0, :4, :4] = 255  # an ignored corner
    label = torch.cat([s.gt_sem_seg.data for s in batch])  # (B, 32, 32)
    losses = head.loss(inputs, batch, train_cfg={})
    assert {k for k in losses if k.startswith('aux')} == {
        'aux0_loss_focal', 'aux0_loss_dice', 'aux1_loss_focal',
        'aux1_loss_dice'}
    with torch.no_grad():
        merged = head.pixel_decoder.merge_levels(inputs[:3])
        pixels = head.pixel_decoder(merged)  # (B, C, 16, 16)
        b, c, h, w = merged.shape
        memory = merged.flatten(2).transpose(1, 2)
        pos = sine_position_2d(h, w, c)
        query = head.query.weight[None].expand(b, -1, -1) + \
            head.sentence_proj(inputs[3]['sentence'])[:, None]
        per_layer = []
        for layer in head.layers:
            query = layer(query, memory, pos)
            mask = (head.mask_embed(query)[:, 0, :, None, None] *
                    pixels).sum(1)  # (B, 16, 16)
            per_layer.append(F.interpolate(
                mask[:, None], (32, 32), mode='bilinear',
                align_corners=False)[:, 0])
    first, last = per_layer[0], per_layer[-1]
    assert not torch.allclose(first, last, atol=1e-3)
    torch.testing.assert_close(losses['aux0_loss_focal'].detach(),
                               0.3 * focal_by_hand(first, label))
    torch.testing.assert_close(losses['aux0_loss_dice'].detach(),
                               0.3 * dice_by_hand(first, label))
    torch.testing.assert_close(losses['loss_focal'].detach(),
                               focal_by_hand(last, label))
    torch.testing.assert_close(losses['loss_dice'].detach(),
                               dice_by_hand(last, label))
