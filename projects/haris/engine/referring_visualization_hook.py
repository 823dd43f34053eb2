"""Overlays of validation and test predictions, one per sentence."""
import os.path as osp
from typing import Sequence

from mmseg.engine.hooks import SegVisualizationHook
from mmseg.registry import HOOKS
from mmseg.structures import SegDataSample
from ..datasets.image_decoding import read_image


@HOOKS.register_module()
class ReferringVisualizationHook(SegVisualizationHook):
    """mmseg's ``SegVisualizationHook`` for runs that test only.

    mmseg's hook names a drawing by the training iteration
    (``runner.iter``). In a run that only tests (``tools/test.py
    --show-dir``) reading it makes mmengine build the training loop, and
    with it the training dataset: the test fails where only the test data
    is there, and a synthetic config writes its training scenes first. It
    also gives every sentence of one image the same name, so their overlays
    overwrite each other. Here a test drawing is named by the image and the
    sample's index in the test set (``step``), and nothing of training is
    built; validation inside training is drawn as mmseg draws it. Images
    are read upright by their EXIF orientation, as the dataset reads them.
    Arguments as ``SegVisualizationHook``.
    """

    def _after_iter(self,
                    runner,
                    batch_idx: int,
                    data_batch: dict,
                    outputs: Sequence[SegDataSample],
                    mode: str = 'val') -> None:
        if mode != 'test':
            super()._after_iter(runner, batch_idx, data_batch, outputs, mode)
            return
        if self.draw is False or not self.every_n_inner_iters(
                batch_idx, self.interval):
            return
        for k, output in enumerate(outputs):
            # PackReferringInputs sets sample_idx; else the batch position
            step = output.metainfo.get('sample_idx',
                                       batch_idx * len(outputs) + k)
            image = read_image(output.img_path)[..., ::-1]  # RGB
            self._visualizer.add_datasample(
                f'test_{osp.basename(output.img_path)}',
                image,
                data_sample=output,
                show=self.show,
                wait_time=self.wait_time,
                step=step)
