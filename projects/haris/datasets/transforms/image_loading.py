"""Load a sample's image upright, as the inferencer and the demos do."""
from typing import Optional

import numpy as np
from mmcv.transforms import LoadImageFromFile
from mmengine import fileio

from mmseg.registry import TRANSFORMS
from ..image_decoding import decode_image


@TRANSFORMS.register_module()
class LoadReferringImage(LoadImageFromFile):
    """``LoadImageFromFile`` with the image policy of every HARIS entry
    point (:func:`read_image`): the EXIF orientation is applied, and grey,
    RGBA, palette and 16-bit files become (H, W, 3) uint8 BGR. Masks are
    then read in the frame of the upright image (its ``ori_shape``).

    Args:
        to_float32 (bool): Give float32 pixels. Defaults to False.
        ignore_empty (bool): Drop the sample (return None) when its image
            cannot be read. Defaults to False.
        backend_args (dict, optional): mmengine file backend arguments.
            Defaults to None.
    """

    def __init__(self,
                 to_float32: bool = False,
                 ignore_empty: bool = False,
                 backend_args: Optional[dict] = None) -> None:
        super().__init__(
            to_float32=to_float32,
            ignore_empty=ignore_empty,
            backend_args=backend_args)

    def transform(self, results: dict) -> Optional[dict]:
        filename = results['img_path']
        try:
            data = fileio.get(filename, backend_args=self.backend_args)
            img = decode_image(data, f'Image {filename}')
        except (OSError, ValueError):
            if self.ignore_empty:
                return None
            raise
        if self.to_float32:
            img = img.astype(np.float32)
        results['img'] = img
        results['img_shape'] = img.shape[:2]
        results['ori_shape'] = img.shape[:2]
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(to_float32={self.to_float32}, '
                f'ignore_empty={self.ignore_empty}, '
                f'backend_args={self.backend_args})')
