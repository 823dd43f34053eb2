"""Letterbox in, crop-back out: values at the original pixels.

Two non-square images go through the real test pipeline (keep-ratio
``Resize`` to 64x64), ``ReferringDataPreProcessor`` (padding to 64x64 at the
bottom/right) and ``ReferringSegmentor`` with a stub head whose logits are
a known step function of position. Expected masks are derived below from
the geometry alone.

Geometry (tiny model: input 64x64, patch 8 -> 8x8 grid; the stub head
predicts at 2x the grid, 16x16, i.e. one head cell per 4x4 input pixels):

- tall image 96x60 (HxW): scale min(64/96, 64/60) = 2/3 -> 64x40, padded
  right by 24 columns.
- wide image 30x48: scale min(64/48, 64/30) = 4/3 -> 40x64, padded at the
  bottom by 24 rows.

The head's logits are +1 at cells with index < BOUNDARY along one axis and
-1 elsewhere. A bilinear resize of a +-1 step is antisymmetric about the
step, so every resize on the way back (head -> padded input, cropped
input -> original image) keeps the sign change exactly at the step's
position: input pixel 4 * BOUNDARY = 20, i.e. original pixel
20 * ori / img. A pixel is predicted 1 iff its centre lies before that
edge.
"""
import numpy as np
import pytest
import torch
from mmcv.transforms import Compose

from mmseg.registry import MODELS
from mmseg.structures import SegDataSample
from projects.haris.models.decode_heads import QueryDecodeHead
from tests.tiny_models import tiny_model_cfg

BOUNDARY = 5  # head cells
STRIDE = 4  # input pixels per head cell (64 / 16)
SIZE = 64  # padded input side
# ori (H, W) -> letterboxed (H, W), by hand (see module docstring)
TALL, TALL_IMG = (96, 60), (64, 40)
WIDE, WIDE_IMG = (30, 48), (40, 64)


@MODELS.register_module(force=True)
class StepLogitsHead(QueryDecodeHead):
    """Test-only head: logits +1 where the row (``axis='y'``) or column
    (``axis='x'``) index is below ``boundary``, -1 elsewhere, at twice the
    resolution of the first fused map. ``edit``, if set, maps the (B, 1, H,
    W) logits to new ones (to change chosen cells)."""

    def __init__(self, axis: str, boundary: int, **kwargs) -> None:
        super().__init__(**kwargs)
        self.axis = axis
        self.boundary = boundary
        self.edit = None

    def forward(self, inputs):
        b, _, h, w = inputs[0].shape
        rows, cols = torch.meshgrid(
            torch.arange(2 * h), torch.arange(2 * w), indexing='ij')
        coord = cols if self.axis == 'x' else rows
        logits = torch.where(coord < self.boundary, 1.0, -1.0)
        logits = logits.expand(b, 1, -1, -1).clone()  # (B, 1, 2h, 2w)
        return logits if self.edit is None else self.edit(logits)


def build_model(axis):
    cfg = tiny_model_cfg()
    cfg['decode_head'] = dict(
        type='StepLogitsHead',
        axis=axis,
        boundary=BOUNDARY,
        in_channels=32,
        channels=32,
        num_upsample=1,
        num_layers=1,
        num_heads=4,
        norm_cfg=dict(type='GN', num_groups=8),
        loss_decode=[
            dict(type='BinaryFocalLoss', loss_weight=20.0),
            dict(type='BinaryDiceLoss')
        ])
    return MODELS.build(cfg)


def pipeline():
    return Compose([
        dict(type='LoadImageFromNDArray'),
        dict(type='Resize', scale=(SIZE, SIZE), keep_ratio=True),
        dict(type='TokenizeExpression', context_length=8),
        dict(type='PackReferringInputs'),
    ])


def letterboxed_batch(with_masks=False):
    """Tall and wide images through the test pipeline; with ``with_masks``
    each carries a random 0/1 mask of its original size."""
    gen = np.random.default_rng(0)
    inputs, samples = [], []
    for shape in (TALL, WIDE):
        results = dict(
            img=gen.integers(0, 255, (*shape, 3), dtype=np.uint8),
            text='the thing on the left')
        if with_masks:
            results['gt_seg_map'] = gen.integers(0, 2, shape, np.uint8)
            results['seg_fields'] = ['gt_seg_map']
        packed = pipeline()(results)
        inputs.append(packed['inputs'])
        samples.append(packed['data_samples'])
    return dict(inputs=inputs, data_samples=samples)


def expected_mask(ori_shape, img_shape, axis):
    """1 where the pixel centre lies before the edge at input pixel
    STRIDE * BOUNDARY, scaled to the original image."""
    h, w = ori_shape
    edge = STRIDE * BOUNDARY  # 20 input pixels
    if axis == 'x':
        centres = np.arange(w) + 0.5
        row = centres < edge * w / img_shape[1]
        return np.broadcast_to(row[None], (h, w)).astype(np.float32)
    centres = np.arange(h) + 0.5
    col = centres < edge * h / img_shape[0]
    return np.broadcast_to(col[:, None], (h, w)).astype(np.float32)


def test_pipeline_letterboxes_as_derived():
    data = letterboxed_batch()
    assert [x.shape[1:] for x in data['inputs']] == [TALL_IMG, WIDE_IMG]
    data = build_model('x').data_preprocessor(data, False)
    assert data['inputs'].shape == (2, 3, SIZE, SIZE)
    tall, wide = (s.metainfo for s in data['data_samples'])
    # (left, right, top, bottom)
    assert tall['img_padding_size'] == (0, SIZE - 40, 0, 0)
    assert wide['img_padding_size'] == (0, 0, 0, SIZE - 40)
    assert tuple(tall['pad_shape']) == tuple(wide['pad_shape']) == (64, 64)
    # pad value is 0 after normalisation
    assert data['inputs'][0, :, :, 40:].abs().max() == 0
    assert data['inputs'][1, :, 40:].abs().max() == 0


@pytest.mark.parametrize('axis', ['x', 'y'])
def test_prediction_at_original_pixels(axis):
    model = build_model(axis).eval()
    data = model.data_preprocessor(letterboxed_batch(), False)
    with torch.no_grad():
        assert model(**data, mode='tensor').shape == (2, 1, 16, 16)
        out = model(**data, mode='predict')
    # the edge lands at original pixel 30 (tall) and 15 (wide)
    for sample, ori, img in zip(out, (TALL, WIDE), (TALL_IMG, WIDE_IMG)):
        pred = sample.pred_sem_seg.data[0].numpy()
        assert pred.shape == ori
        np.testing.assert_array_equal(pred, expected_mask(ori, img, axis))
    for sample, edge in zip(out, (30, 15)):
        pred = sample.pred_sem_seg.data[0]
        line = pred[0] if axis == 'x' else pred[:, 0]
        assert line[:edge].all() and not line[edge:].any()


def test_padded_ground_truth_is_ignored():
    model = build_model('x')
    data = letterboxed_batch(with_masks=True)
    masks = [s.gt_sem_seg.data.clone() for s in data['data_samples']]
    assert [tuple(m.shape[1:]) for m in masks] == [TALL_IMG, WIDE_IMG]
    data = model.data_preprocessor(data, True)
    tall, wide = (s.gt_sem_seg.data for s in data['data_samples'])
    expected_tall = torch.full((1, SIZE, SIZE), 255, dtype=masks[0].dtype)
    expected_tall[:, :, :40] = masks[0]
    expected_wide = torch.full((1, SIZE, SIZE), 255, dtype=masks[1].dtype)
    expected_wide[:, :40, :] = masks[1]
    assert torch.equal(tall, expected_tall)
    assert torch.equal(wide, expected_wide)


def padded_cells(first_cell):
    """Edit: random logits in head cells from ``first_cell`` on, along x
    in the tall image (padded right) and along y in the wide one (padded
    at the bottom)."""
    gen = torch.Generator().manual_seed(1)

    def edit(logits):
        noise = 5 * torch.randn(logits.shape, generator=gen)
        logits = logits.clone()
        logits[0, :, :, first_cell:] = noise[0, :, :, first_cell:]
        logits[1, :, first_cell:, :] = noise[1, :, first_cell:, :]
        return logits

    return edit


def test_logits_in_padding_do_not_change_losses():
    # A head cell c reaches the input pixels 4c - 2 ... 4c + 5 through the
    # bilinear resize to 64x64; cells c >= 11 reach only pixels >= 42, all
    # in the padding (image ends at 40). Cell 10 reaches pixels 38 and 39.
    model = build_model('x')
    head = model.decode_head

    def losses(edit):
        head.edit = edit
        data = model.data_preprocessor(letterboxed_batch(True), True)
        out = model(**data, mode='loss')
        return out['decode.loss_focal'], out['decode.loss_dice']

    focal, dice = losses(None)
    focal_pad, dice_pad = losses(padded_cells(11))
    assert torch.equal(focal, focal_pad) and torch.equal(dice, dice_pad)
    # the same edit reaching two image columns/rows does change both
    focal_img, dice_img = losses(padded_cells(10))
    assert not torch.isclose(focal, focal_img)
    assert not torch.isclose(dice, dice_img)


def test_test_cfg_sets_test_padding():
    pre = MODELS.build(
        dict(type='ReferringDataPreProcessor', size=(64, 64),
             test_cfg=dict(size_divisor=32)))
    images = [torch.zeros(3, 40, 50), torch.zeros(3, 20, 70)]
    samples = [SegDataSample(), SegDataSample()]
    out = pre(dict(inputs=images, data_samples=samples), False)
    samples = out['data_samples']
    # the largest image (40, 70) rounded up to multiples of 32
    assert out['inputs'].shape == (2, 3, 64, 96)
    assert samples[0].img_padding_size == (0, 96 - 50, 0, 64 - 40)
    assert samples[1].img_padding_size == (0, 96 - 70, 0, 64 - 20)
    with pytest.raises(ValueError, match='exactly one of size'):
        MODELS.build(dict(type='ReferringDataPreProcessor'))
