"""Load the referring mask of a sample."""
from typing import Optional

from mmcv.transforms import BaseTransform

from mmseg.registry import TRANSFORMS
from ..mask_decoding import POLYGON_RASTERIZERS, decode_mask


@TRANSFORMS.register_module()
class LoadReferringMask(BaseTransform):
    """Decode ``results['mask_ann']`` (COCO polygons/RLE or a PNG) into
    ``gt_seg_map`` with values {0, 1} at the original image size.

    Put it after ``Resize`` in test pipelines, so that metrics compare
    predictions with the mask at the original resolution.

    Args:
        polygon_rasterizer (str, optional): How polygons become pixels for
            every sample: ``'coco'`` (pycocotools) or ``'phrasecut'``
            (PhraseCut's evaluator, see ``phrasecut_polygons_to_mask``).
            None keeps each annotation's own choice (its ``rasterizer``
            key, set by the dataset; ``'coco'`` when absent). Defaults to
            None.
    """

    def __init__(self, polygon_rasterizer: Optional[str] = None) -> None:
        if polygon_rasterizer not in (None, ) + POLYGON_RASTERIZERS:
            raise ValueError(
                f'polygon_rasterizer={polygon_rasterizer!r}; expected None '
                f'or one of {POLYGON_RASTERIZERS}.')
        self.polygon_rasterizer = polygon_rasterizer

    def transform(self, results: dict) -> dict:
        h, w = results['ori_shape']
        results['gt_seg_map'] = decode_mask(results['mask_ann'], h, w,
                                            self.polygon_rasterizer)
        results.setdefault('seg_fields', []).append('gt_seg_map')
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}('
                f'polygon_rasterizer={self.polygon_rasterizer!r})')
