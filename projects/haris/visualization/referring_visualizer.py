"""Segmentation visualiser that also writes the expression."""
import os.path as osp
from typing import Optional

import cv2
import numpy as np

from mmengine.structures import PixelData

from mmseg.registry import VISUALIZERS
from mmseg.structures import SegDataSample
from mmseg.visualization import SegLocalVisualizer


def add_caption(image: np.ndarray, text: Optional[str]) -> np.ndarray:
    """Return ``image`` (H, W, 3) with ``text`` on a white band above,
    wrapped to the image's width."""
    if not text:
        return image
    font, width = cv2.FONT_HERSHEY_SIMPLEX, image.shape[1]
    scale = min(0.6, max(0.3, width / 700))
    lines, line = [], ''
    for word in text.split():
        trial = f'{line} {word}'.strip()
        if line and cv2.getTextSize(trial, font, scale, 1)[0][0] > width - 8:
            lines.append(line)
            trial = word
        line = trial
    lines.append(line)
    (_, th), base = cv2.getTextSize('Ag', font, scale, 1)
    step = th + base + 4
    band = np.full((step * len(lines) + 4, width, 3), 255, np.uint8)
    for i, content in enumerate(lines):
        cv2.putText(band, content, (4, step * i + th + 4), font, scale,
                    (0, 0, 0), 1, cv2.LINE_AA)
    return np.concatenate([band, image], axis=0)


def draw_mask(image: np.ndarray,
              mask: np.ndarray,
              color=(0, 255, 255),
              alpha: float = 0.6) -> np.ndarray:
    """RGB ``image`` with boolean ``mask`` tinted (cyan) and outlined
    (black), visible on any object colour."""
    out = image.copy()
    out[mask] = ((1 - alpha) * out[mask] + alpha * np.array(color)).astype(
        np.uint8)
    contours, _ = cv2.findContours(
        mask.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    thickness = max(1, round(max(image.shape[:2]) / 300))
    cv2.drawContours(out, contours, -1, (0, 0, 0), thickness)
    return out


@VISUALIZERS.register_module()
class ReferringVisualizer(SegLocalVisualizer):
    """``SegLocalVisualizer`` (ground truth | prediction) with the
    referent tinted, the expression written above (with "no target" where
    the ground truth or the prediction says so), and a file name unique per
    sentence."""

    def add_datasample(self,
                       name: str,
                       image: np.ndarray,
                       data_sample: Optional[SegDataSample] = None,
                       **kwargs) -> None:
        self._caption = None
        if data_sample is not None:
            meta = data_sample.metainfo
            self._caption = meta.get('text')
            notes = []
            if meta.get('no_target'):
                notes.append('ground truth: no target')
            if data_sample.get('pred_no_target'):
                notes.append('prediction: no target')
            if notes and self._caption:
                self._caption += f'  [{"; ".join(notes)}]'
            if meta.get('ref_id') is not None:
                stem = osp.splitext(name)[0]
                index = meta.get('sent_index', 0)
                name = f'{stem}_ref{meta["ref_id"]}_{index}'
        super().add_datasample(name, image, data_sample, **kwargs)

    def _draw_sem_seg(self, image: np.ndarray, sem_seg: PixelData, *args,
                      **kwargs) -> np.ndarray:
        """Tint the referent (label 1) and outline it; the rest of the
        image is left as it is."""
        drawn = draw_mask(image, sem_seg.data[0].cpu().numpy() == 1)
        self.set_image(drawn)
        return drawn

    def add_image(self, name: str, image: np.ndarray, step: int = 0) -> None:
        super().add_image(name, add_caption(image, self._caption), step)
