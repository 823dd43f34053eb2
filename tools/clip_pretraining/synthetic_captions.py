"""Synthetic image-caption pairs for contrastive CLIP pretraining: one
coloured shape per image, captioned with its size, colour, shape and
quadrant ("a large red circle at the top left").

Training data of ``tools/pretrain_clip.py``, which pretrains the small CLIP
that ``configs/haris_tiny-clip-pretrained-lora_1xb16-3k_synthetic-96x96.py``
starts from. Not part of the installed ``projects.haris`` package.
"""
import itertools
from typing import List, Tuple

import numpy as np

from projects.haris.datasets.synthetic_scenes import (COLOURS, SHAPES, SIZES,
                                                      render_image)

QUADRANTS = ('top left', 'top right', 'bottom left', 'bottom right')


def all_captions() -> List[str]:
    """Every caption the generator can write (96), in a fixed order."""
    return [
        f'a {size} {colour} {shape} at the {quadrant}'
        for size, colour, shape, quadrant in itertools.product(
            SIZES, COLOURS, SHAPES, QUADRANTS)
    ]


def render_caption(index: int, rng: np.random.Generator,
                   size: int = 96) -> np.ndarray:
    """A (size, size, 3) uint8 BGR image showing caption ``index`` of
    :func:`all_captions`, the shape placed at random in its quadrant."""
    size_name, colour, shape, quadrant = list(
        itertools.product(SIZES, COLOURS, SHAPES, QUADRANTS))[index]
    r = max(2, int(SIZES[size_name] * size))
    half = size // 2
    x0 = half if quadrant.endswith('right') else 0
    y0 = half if quadrant.startswith('bottom') else 0
    # the centre stays inside the quadrant and the shape inside the image
    x = int(rng.integers(max(x0, r + 1), min(x0 + half, size - r - 1)))
    y = int(rng.integers(max(y0, r + 1), min(y0 + half, size - r - 1)))
    obj = dict(shape=shape, colour=colour, r=r, x=x, y=y)
    return render_image(
        dict(size=size, objects=[obj], noise_seed=int(rng.integers(2**31))))


def caption_batch(rng: np.random.Generator, batch_size: int,
                  size: int = 96) -> Tuple[List[np.ndarray], List[int]]:
    """``batch_size`` images with distinct captions (so a contrastive batch
    has no false negatives); returns the images and caption indices."""
    num = len(all_captions())
    if not 1 <= batch_size <= num:
        raise ValueError(f'batch_size must be in [1, {num}] (the number of '
                         f'distinct captions), got {batch_size}.')
    labels = [int(i) for i in rng.permutation(num)[:batch_size]]
    return [render_caption(i, rng, size) for i in labels], labels


def held_out_captions(num: int, seed: int = 1000,
                      size: int = 96) -> Tuple[List[np.ndarray], List[int]]:
    """``num`` images cycling through every caption, from a stream no
    training seed below 1000 reaches; deterministic in ``seed``."""
    rng = np.random.default_rng([seed, 7])
    labels = [i % len(all_captions()) for i in range(num)]
    return [render_caption(i, rng, size) for i in labels], labels
