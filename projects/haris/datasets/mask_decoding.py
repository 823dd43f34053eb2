"""Decode a referring mask annotation into a binary (H, W) array."""
from typing import Optional

import numpy as np
from mmcv import imread
from pycocotools import mask as mask_utils

from .phrasecut_mask import phrasecut_polygons_to_mask

POLYGON_RASTERIZERS = ('coco', 'phrasecut')


def decode_mask(ann: dict,
                height: int,
                width: int,
                polygon_rasterizer: Optional[str] = None) -> np.ndarray:
    """Binary uint8 mask (H, W) from one annotation dict.

    Supported ``ann['type']``:

    - ``'coco'``: ``segmentation`` as COCO polygons (list of flat
      [x0, y0, x1, y1, ...] lists, union of the parts) or RLE (compressed or
      uncompressed). ``ann['rasterizer']`` (default ``'coco'``) chooses how
      polygons become pixels: ``'coco'`` with pycocotools, ``'phrasecut'``
      as PhraseCut's evaluator does (see
      :func:`phrasecut_polygons_to_mask`).
    - ``'png'``: ``path`` of a mask image; non-zero pixels are the referent.
    - ``'union'``: ``parts``, a list of annotations of the kinds above; the
      mask is their union, all zeros when the list is empty (an expression
      that names nothing).

    Args:
        ann (dict): The annotation.
        height (int): Image height.
        width (int): Image width.
        polygon_rasterizer (str, optional): Overrides
            ``ann['rasterizer']`` for polygons. Defaults to None.
    """
    kind = ann.get('type')
    rasterizer = polygon_rasterizer or ann.get('rasterizer', 'coco')
    if rasterizer not in POLYGON_RASTERIZERS:
        raise ValueError(
            f'Unknown polygon rasterizer {rasterizer!r} (mask '
            f'{ann.get("source", "")!r}); expected one of '
            f'{POLYGON_RASTERIZERS}.')
    if (kind == 'coco' and rasterizer == 'phrasecut'
            and isinstance(ann['segmentation'], list)):
        mask = phrasecut_polygons_to_mask(ann['segmentation'], height,
                                          width, ann.get('source', ''))
    elif kind == 'coco':
        seg = ann['segmentation']
        if isinstance(seg, list):
            polys = [p for p in seg if len(p) >= 6]
            if not polys:
                raise ValueError(
                    f'Polygon mask {ann.get("source", "")} has no part with '
                    'at least 3 points; fix or drop this annotation.')
            rles = mask_utils.frPyObjects(polys, height, width)
            rle = mask_utils.merge(rles)
        elif isinstance(seg, dict) and isinstance(seg.get('counts'), list):
            rle = mask_utils.frPyObjects(seg, height, width)
        else:
            rle = seg
        mask = mask_utils.decode(rle)
    elif kind == 'union':
        mask = np.zeros((height, width), np.uint8)
        for part in ann['parts']:
            mask |= decode_mask(part, height, width, polygon_rasterizer)
    elif kind == 'png':
        mask = imread(ann['path'], flag='unchanged')
        if mask is None:
            raise FileNotFoundError(f'Mask image {ann["path"]} is missing '
                                    'or unreadable.')
        if mask.ndim == 3:
            mask = mask.max(axis=2)
    else:
        raise ValueError(f'Unknown mask annotation type {kind!r}; expected '
                         "'coco', 'png' or 'union'.")
    if mask.shape[:2] != (height, width):
        turned = mask.shape[:2] == (width, height)
        raise ValueError(
            f'Mask {ann.get("path", ann.get("source", ""))} is '
            f'{mask.shape[1]}x{mask.shape[0]} but its image is '
            f'{width}x{height}; masks must match their image size.' +
            (' Images are loaded upright (their EXIF orientation applied, '
             'as viewers show them): draw the mask on the upright image.'
             if turned else ''))
    return (mask > 0).astype(np.uint8)
