"""A segmentor whose mask is the image's bright pixels, whatever its
weights: a test image's bright object is then where the mask must be, so
a mask in the wrong frame, or of a wrongly converted image, shows.

Import it (or name it in ``custom_imports``) to register it."""
import torch.nn.functional as F

from mmseg.registry import MODELS
from projects.haris.models.segmentors import ReferringSegmentor

# the mask logit: 12 * (mean of the normalised R, G, B - 1), > 0 for
# pixels brighter than about 190 of 255 with tests/tiny_models.py's
# normalisation; padding (0 after normalisation) is dark
WEIGHT, BIAS = 4., -12.


def bright_config(model: dict) -> dict:
    """``model`` (a ReferringSegmentor config) as a BrightPixelSegmentor."""
    return dict(model, type='BrightPixelSegmentor')


@MODELS.register_module(force=True)
class BrightPixelSegmentor(ReferringSegmentor):
    """``ReferringSegmentor`` that runs its network (so attention maps
    are recorded as usual) and replaces the mask logits by
    ``WEIGHT * (R + G + B) + BIAS`` of the normalised input."""

    def decode(self, inputs, batch_img_metas):
        logits, no_target = super().decode(inputs, batch_img_metas)
        bright = WEIGHT * inputs.sum(dim=1, keepdim=True) + BIAS
        return F.interpolate(bright, size=logits.shape[-2:]), no_target


def bright_pixels(bgr):
    """Where ``BrightPixelSegmentor`` predicts the mask, computed on the
    pixels: ``bgr`` (H, W, 3) uint8 with tests/tiny_models.py's
    normalisation."""
    import numpy as np
    mean = np.array([122.771, 116.746, 104.094])  # RGB
    std = np.array([68.501, 66.632, 70.323])
    norm = (bgr[..., ::-1].astype(np.float64) - mean) / std
    return WEIGHT * norm.sum(axis=2) + BIAS > 0
