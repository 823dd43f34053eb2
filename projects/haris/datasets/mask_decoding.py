"""Decode a referring mask annotation into a binary (H, W) array."""
import numpy as np
from mmcv import imread
from pycocotools import mask as mask_utils



def decode_mask(ann: dict, height: int, width: int) -> np.ndarray:
    """Binary uint8 mask (H, W) from one annotation dict.

    Supported ``ann['type']``:

    - ``'coco'``: ``segmentation`` as COCO polygons (list of flat
      [x0, y0, x1, y1, ...] lists, union of the parts) or RLE (compressed or
      uncompressed).
    - ``'png'``: ``path`` of a mask image; non-zero pixels are the referent.
    """
    kind = ann.get('type')
    if kind == 'coco':
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
    elif kind == 'png':
        mask = imread(ann['path'], flag='unchanged')
        if mask is None:
            raise FileNotFoundError(f'Mask image {ann["path"]} is missing '
                                    'or unreadable.')
        if mask.ndim == 3:
            mask = mask.max(axis=2)
    else:
        raise ValueError(f'Unknown mask annotation type {kind!r}; expected '
                         "'coco' or 'png'.")
    if mask.shape[:2] != (height, width):
        raise ValueError(
            f'Mask {ann.get("path", ann.get("source", ""))} is '
            f'{mask.shape[1]}x{mask.shape[0]} but its image is '
            f'{width}x{height}; masks must match their image size.')
    return (mask > 0).astype(np.uint8)
