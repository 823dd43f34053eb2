"""PhraseCut masks rasterised as PhraseCut's evaluator rasterises them.

The toolkit's evaluator truncates every coordinate with ``int()``, fills
each polygon with Pillow (on every row, from the left to the right crossing
of the outline, each rounded to the nearest pixel, both ends included),
skips polygons with fewer than 2 points and takes the union. The expected
masks below are written out by hand from that rule.
"""
import json

import cv2
import numpy as np
import pytest
from pycocotools import mask as mask_utils

from mmseg.registry import DATASETS, TRANSFORMS
from projects.haris.datasets.mask_decoding import decode_mask
from projects.haris.datasets.phrasecut_mask import phrasecut_polygons_to_mask

H, W = 10, 12


def rows_mask(rows, height=H, width=W):
    """Mask from {row: (first column, last column)}, both included."""
    mask = np.zeros((height, width), np.uint8)
    for y, (x0, x1) in rows.items():
        mask[y, x0:x1 + 1] = 1
    return mask


def rect_mask(x0, y0, x1, y1, height=H, width=W):
    """Columns x0..x1 and rows y0..y1, both ends included, clipped."""
    mask = np.zeros((height, width), np.uint8)
    mask[max(y0, 0):y1 + 1, max(x0, 0):x1 + 1] = 1
    return mask


def rect(x0, y0, x1, y1):
    return [[x0, y0], [x1, y0], [x1, y1], [x0, y1]]


def test_rectangle_includes_its_boundary():
    mask = phrasecut_polygons_to_mask([rect(2, 1, 6, 4)], H, W)
    assert mask.dtype == np.uint8 and mask.shape == (H, W)
    assert mask.sum() == 5 * 4  # columns 2..6, rows 1..4
    assert np.array_equal(mask, rect_mask(2, 1, 6, 4))


def test_fractional_corners_are_truncated():
    # int(2.7) = 2, int(7.9) = 7, int(3.2) = 3, int(6.99) = 6.
    mask = phrasecut_polygons_to_mask([rect(2.7, 3.2, 7.9, 6.99)], H, W)
    assert np.array_equal(mask, rect_mask(2, 3, 7, 6))
    # Truncation is towards zero (int(-0.5) = 0, not floor's -1): the
    # corners become (0, 0), (4, 0), (0, 4), a right triangle whose
    # hypotenuse x + y = 4 passes through pixel centres.
    tri = [[-0.5, 0.7], [4.9, 0.2], [-0.9, 4.3]]
    expected = rows_mask({y: (0, 4 - y) for y in range(5)})
    assert np.array_equal(phrasecut_polygons_to_mask([tri], H, W), expected)


def test_flat_and_point_lists_are_the_same_polygon():
    flat = [2.7, 3.2, 7.9, 3.2, 7.9, 6.99, 2.7, 6.99]
    assert np.array_equal(
        phrasecut_polygons_to_mask([flat], H, W), rect_mask(2, 3, 7, 6))
    with pytest.raises(ValueError, match='flat list of 7 numbers'):
        phrasecut_polygons_to_mask([flat[:7]], H, W)


def test_triangles():
    # Diagonal sides: row y covers 5 - (y - 1) .. 5 + (y - 1).
    diamond_top = [[5, 1], [9, 5], [1, 5]]
    expected = rows_mask({y: (6 - y, 4 + y) for y in range(1, 6)})
    assert expected.sum() == 1 + 3 + 5 + 7 + 9
    assert np.array_equal(
        phrasecut_polygons_to_mask([diamond_top], H, W), expected)
    # Hypotenuse x = 7 - 7y/3 crosses row 1 at 4.67 (-> 5), row 2 at 2.33
    # (-> 2), row 3 at 0. Pixel (5, 1) is in although its centre is just
    # outside the triangle: the crossing is rounded, not floored.
    slanted = [[0, 0], [7, 0], [0, 3]]
    expected = rows_mask({0: (0, 7), 1: (0, 5), 2: (0, 2), 3: (0, 0)})
    assert np.array_equal(
        phrasecut_polygons_to_mask([slanted], H, W), expected)


def test_union_of_overlapping_polygons():
    mask = phrasecut_polygons_to_mask(
        [rect(1, 1, 5, 4), rect(4, 3, 9, 8)], H, W)
    expected = rect_mask(1, 1, 5, 4) | rect_mask(4, 3, 9, 8)
    assert mask.sum() == 5 * 4 + 6 * 6 - 2 * 2  # overlap (4..5, 3..4)
    assert np.array_equal(mask, expected)


def test_degenerate_polygons_do_not_raise():
    def draw(*polygons):
        return phrasecut_polygons_to_mask(list(polygons), H, W)

    empty = np.zeros((H, W), np.uint8)
    # Fewer than 2 points: skipped, as the toolkit does.
    assert np.array_equal(draw([[3, 3]]), empty)
    assert np.array_equal(draw([]), empty)
    assert np.array_equal(phrasecut_polygons_to_mask([], H, W), empty)
    # Two points and collinear points: the segment.
    vertical = np.zeros((H, W), np.uint8)
    vertical[2:7, 2] = 1
    assert np.array_equal(draw([[2, 2], [2, 6]]), vertical)
    assert np.array_equal(draw([[2, 2], [2, 4], [2, 6]]), vertical)
    # A diagonal segment: its pixels, at most one more per row, inside its
    # bounding box (Pillow 9.3 adds a pixel beside some where 12 does not;
    # the toolkit follows the installed Pillow as this function does)
    box = np.zeros((H, W), bool)
    box[1:8, 1:8] = True
    for polygon in ([[1, 1], [7, 7]], [[1, 1], [4, 4], [7, 7]]):
        mask = draw(polygon)
        assert all(mask[i, i] == 1 for i in range(1, 8))
        assert not mask[~box].any()
        assert mask.sum(axis=1).max() <= 2
    # Outside the image: clipped; entirely outside: nothing.
    assert np.array_equal(draw(rect(-3, -2, 4, 3)), rect_mask(0, 0, 4, 3))
    assert np.array_equal(draw(rect(9, 7, 30, 20)), rect_mask(9, 7, 11, 9))
    assert np.array_equal(draw(rect(20, 20, 30, 30)), empty)
    # A degenerate polygon beside a real one leaves the real one intact.
    assert np.array_equal(draw([[3, 3]], rect(2, 1, 6, 4)),
                          rect_mask(2, 1, 6, 4))


def test_coco_rasteriser_is_smaller_on_small_regions():
    """The reason for the PhraseCut rasteriser: pycocotools leaves out the
    right and bottom boundary. On a square with corners (10, 10) and
    (14, 14), PhraseCut's evaluator has 5 x 5 = 25 pixels; pycocotools'
    mask is a strict subset of it with IoU below 0.9 (16 pixels, 0.64)."""
    size = 30
    square = [10, 10, 14, 10, 14, 14, 10, 14]
    phrasecut = phrasecut_polygons_to_mask([square], size, size)
    assert np.array_equal(phrasecut, rect_mask(10, 10, 14, 14, size, size))
    coco = mask_utils.decode(
        mask_utils.merge(mask_utils.frPyObjects([square], size, size)))
    assert not (coco & (1 - phrasecut)).any()
    iou = (coco & phrasecut).sum() / (coco | phrasecut).sum()
    assert coco.sum() < phrasecut.sum() and iou < 0.9


def test_decode_mask_rasterizer_choice():
    square = [2, 1, 6, 1, 6, 4, 2, 4]
    ann = dict(type='coco', segmentation=[square])
    coco = mask_utils.decode(
        mask_utils.merge(mask_utils.frPyObjects([square], H, W)))
    # No 'rasterizer' key (RefCOCO, generic data): pycocotools as before.
    assert np.array_equal(decode_mask(ann, H, W), coco)
    ann_pc = dict(ann, rasterizer='phrasecut')
    assert np.array_equal(decode_mask(ann_pc, H, W), rect_mask(2, 1, 6, 4))
    # The argument overrides the annotation.
    assert np.array_equal(decode_mask(ann_pc, H, W, 'coco'), coco)
    assert np.array_equal(
        decode_mask(ann, H, W, 'phrasecut'), rect_mask(2, 1, 6, 4))
    # RLE is unaffected by the rasteriser.
    rle = mask_utils.encode(np.asfortranarray(coco))
    assert np.array_equal(
        decode_mask(dict(type='coco', segmentation=rle), H, W, 'phrasecut'),
        coco)
    with pytest.raises(ValueError, match="'pil'.*expected one of"):
        decode_mask(dict(ann, rasterizer='pil'), H, W)


def test_load_referring_mask_option():
    square = [2, 1, 6, 1, 6, 4, 2, 4]
    results = dict(
        ori_shape=(H, W),
        mask_ann=dict(type='coco', segmentation=[square],
                      rasterizer='phrasecut'))
    keep = TRANSFORMS.build(dict(type='LoadReferringMask'))
    assert np.array_equal(
        keep(dict(results))['gt_seg_map'], rect_mask(2, 1, 6, 4))
    coco = TRANSFORMS.build(
        dict(type='LoadReferringMask', polygon_rasterizer='coco'))
    assert coco(dict(results))['gt_seg_map'].sum() < 5 * 4
    with pytest.raises(ValueError, match='polygon_rasterizer'):
        TRANSFORMS.build(dict(type='LoadReferringMask',
                              polygon_rasterizer='pillow'))


@pytest.fixture
def phrasecut_root(tmp_path):
    (tmp_path / 'images').mkdir()
    cv2.imwrite(str(tmp_path / 'images' / '7.jpg'),
                np.zeros((H, W, 3), np.uint8))
    tasks = [
        # Two overlapping instances, one with two polygons.
        dict(task_id='7__1', image_id=7, phrase='two cars', Polygons=[
            [rect(1, 1, 5, 4)],
            [rect(4, 3, 9, 8), rect(10.6, 0, 11.2, 1)]]),
        # Only degenerate polygons: a point and a vertical segment.
        dict(task_id='7__2', image_id=7, phrase='a pole', Polygons=[
            [[[3, 3]], [[2, 2], [2, 6]]]]),
    ]
    (tmp_path / 'refer_test.json').write_text(json.dumps(tasks))
    return tmp_path


def phrasecut(root, **kwargs):
    return DATASETS.build(dict(
        type='PhraseCutDataset', data_root=str(root),
        ann_file='refer_test.json', data_prefix=dict(img_path='images'),
        test_mode=True,
        pipeline=[dict(type='LoadImageFromFile'),
                  dict(type='LoadReferringMask')], **kwargs))


def test_phrasecut_dataset_masks(phrasecut_root):
    ds = phrasecut(phrasecut_root)
    cars = ds[0]
    assert cars['sentences'] == ['two cars']
    expected = (rect_mask(1, 1, 5, 4) | rect_mask(4, 3, 9, 8)
                | rect_mask(10, 0, 11, 1))
    assert np.array_equal(cars['gt_seg_map'], expected)
    pole = np.zeros((H, W), np.uint8)
    pole[2:7, 2] = 1
    assert np.array_equal(ds[1]['gt_seg_map'], pole)


def test_phrasecut_dataset_coco_option(phrasecut_root):
    ds = phrasecut(phrasecut_root, rasterizer='coco')
    coco = mask_utils.decode(mask_utils.merge(mask_utils.frPyObjects(
        [sum(rect(1, 1, 5, 4), []), sum(rect(4, 3, 9, 8), []),
         sum(rect(10.6, 0, 11.2, 1), [])], H, W)))
    assert np.array_equal(ds[0]['gt_seg_map'], coco)
    # pycocotools needs 3 points: the degenerate task is an error there.
    with pytest.raises(ValueError, match='task 7__2 has no part'):
        ds[1]
    with pytest.raises(ValueError, match="rasterizer='pil'"):
        phrasecut(phrasecut_root, rasterizer='pil')


def test_phrasecut_config_uses_phrasecut_rasterizer():
    from mmengine import Config
    cfg = Config.fromfile('configs/_base_/datasets/phrasecut.py')
    assert cfg.test_dataloader.dataset.rasterizer == 'phrasecut'
