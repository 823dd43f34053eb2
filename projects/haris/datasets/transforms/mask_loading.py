"""Load the referring mask of a sample."""
from mmcv.transforms import BaseTransform

from mmseg.registry import TRANSFORMS
from ..mask_decoding import decode_mask


@TRANSFORMS.register_module()
class LoadReferringMask(BaseTransform):
    """Decode ``results['mask_ann']`` (COCO polygons/RLE or a PNG) into
    ``gt_seg_map`` with values {0, 1} at the original image size.

    Put it after ``Resize`` in test pipelines, so that metrics compare
    predictions with the mask at the original resolution.
    """

    def transform(self, results: dict) -> dict:
        h, w = results['ori_shape']
        results['gt_seg_map'] = decode_mask(results['mask_ann'], h, w)
        results.setdefault('seg_fields', []).append('gt_seg_map')
        return results
