"""Data preprocessor that batches letterboxed images of any aspect ratio."""
from typing import Any, Dict, Optional

from mmseg.models.data_preprocessor import SegDataPreProcessor
from mmseg.registry import MODELS
from mmseg.utils import stack_batch


@MODELS.register_module()
class ReferringDataPreProcessor(SegDataPreProcessor):
    """``SegDataPreProcessor`` that batches test images of different shapes.

    Keep-ratio resizing (letterboxing) gives images of different shapes;
    mmseg's preprocessor refuses to batch them at test time. Here training
    is mmseg's own, and at test time each image goes through mmseg's
    conversion and normalisation on its own, is then padded at the
    bottom/right (to ``test_cfg['size']`` or ``test_cfg['size_divisor']``,
    by default to ``size`` / ``size_divisor`` as in training) and its
    ``img_padding_size`` and ``pad_shape`` are recorded in its metainfo, so
    that mmseg's post-processing crops the padding and resizes the
    prediction to the original image. Ground-truth masks (loaded at the
    original size for evaluation) are left untouched.

    Args:
        test_cfg (dict, optional): Padding at test time, with key ``size``
            or ``size_divisor``. Defaults to None (pad as in training).
        **kwargs: ``SegDataPreProcessor`` arguments (``mean``, ``std``,
            ``size``, ``size_divisor``, ``pad_val``, ``bgr_to_rgb``, ...).
    """

    def __init__(self, test_cfg: Optional[dict] = None, **kwargs) -> None:
        # mmseg's test path pads only images of one shape; padding is done
        # here, after its per-image normalisation.
        super().__init__(test_cfg=None, **kwargs)
        test_cfg = test_cfg or dict(
            size=self.size, size_divisor=self.size_divisor)
        self.test_size = test_cfg.get('size')
        self.test_size_divisor = test_cfg.get('size_divisor')
        if (self.test_size is None) == (self.test_size_divisor is None):
            raise ValueError(
                'ReferringDataPreProcessor pads test images of different '
                'shapes to one batch: give exactly one of size and '
                f'size_divisor (in test_cfg or as arguments), got test_cfg '
                f'{test_cfg}.')

    def forward(self, data: dict, training: bool = False) -> Dict[str, Any]:
        if training:
            return super().forward(data, training)
        data = self.cast_data(data)
        # mmseg's channel conversion and normalisation, one image at a time
        inputs = [
            super(ReferringDataPreProcessor, self).forward(
                dict(inputs=[img]), training=False)['inputs'][0]
            for img in data['inputs']
        ]
        inputs, pad_infos = stack_batch(
            inputs=inputs,
            size=self.test_size,
            size_divisor=self.test_size_divisor,
            pad_val=self.pad_val,
            seg_pad_val=self.seg_pad_val)
        samples = data.get('data_samples')
        if samples is not None:
            # img_padding_size and pad_shape, read by postprocess_result
            for sample, pad_info in zip(samples, pad_infos):
                sample.set_metainfo(pad_info)
        return dict(inputs=inputs, data_samples=samples)
