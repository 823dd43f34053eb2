"""Nearest-neighbour resizing of masks as PIL does it (LAVT's evaluation
resizes its ground truth with PIL's ``Image.NEAREST``)."""
from typing import Tuple

import numpy as np
import torch
from torch import Tensor


def nearest_index(in_size: int, out_size: int) -> np.ndarray:
    """Source index of each output pixel along one axis: PIL's nearest
    neighbour samples at pixel centres, (i + 0.5) * in / out, summing the
    step as it goes (which decides the ties)."""
    scale = in_size / out_size
    steps = np.full(out_size, scale)
    steps[0] = scale / 2
    return np.minimum(np.add.accumulate(steps).astype(np.int64), in_size - 1)


def resize_nearest(mask: Tensor, size: Tuple[int, int]) -> Tensor:
    """(H, W) mask or label map resized to ``size`` (h, w) by nearest
    neighbour, pixel for pixel as PIL's ``resize(..., Image.NEAREST)``."""
    h, w = mask.shape[-2:]
    if (h, w) == tuple(size):
        return mask
    rows = torch.from_numpy(nearest_index(h, size[0])).to(mask.device)
    cols = torch.from_numpy(nearest_index(w, size[1])).to(mask.device)
    return mask.index_select(-2, rows).index_select(-1, cols)
