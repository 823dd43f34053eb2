"""Data preprocessor that batches letterboxed images of any aspect ratio."""
from typing import Any, Dict

from mmseg.models.data_preprocessor import SegDataPreProcessor
from mmseg.utils import stack_batch
from mmseg.registry import MODELS


@MODELS.register_module()
class ReferringDataPreProcessor(SegDataPreProcessor):
    """``SegDataPreProcessor`` that pads every batch to ``size`` at test
    time as well as in training.

    Keep-ratio resizing gives images of different shapes; mmseg's
    preprocessor refuses to batch them at test time. Here each image is
    padded at the bottom/right to ``size`` and its ``padding_size`` is
    recorded, so that post-processing crops the padding and resizes the
    prediction to the original image. Ground-truth masks (loaded at the
    original size for evaluation) are left untouched.
    """

    def forward(self, data: dict, training: bool = False) -> Dict[str, Any]:
        if training:
            return super().forward(data, training)
        data = self.cast_data(data)
        inputs = data['inputs']
        if self.channel_conversion and inputs[0].size(0) == 3:
            inputs = [x[[2, 1, 0], ...] for x in inputs]
        inputs = [x.float() for x in inputs]
        if self._enable_normalize:
            inputs = [(x - self.mean) / self.std for x in inputs]
        inputs, pad_infos = stack_batch(
            inputs=inputs,
            size=self.size,
            size_divisor=self.size_divisor,
            pad_val=self.pad_val,
            seg_pad_val=self.seg_pad_val)
        samples = data.get('data_samples')
        if samples is not None:
            for sample, pad_info in zip(samples, pad_infos):
                sample.set_metainfo(pad_info)
        return dict(inputs=inputs, data_samples=samples)
