import numpy as np
import pytest

from projects.haris.datasets.synthetic_scenes import COLOURS
from tools.clip_pretraining.synthetic_captions import (all_captions,
                                                       caption_batch,
                                                       held_out_captions,
                                                       render_caption)


def test_captions_are_distinct():
    captions = all_captions()
    assert len(captions) == len(set(captions)) == 96
    assert 'a large red circle at the top left' in captions


@pytest.mark.parametrize('index', range(0, 96, 7))
def test_image_shows_its_caption(index):
    caption = all_captions()[index]
    img = render_caption(index, np.random.default_rng(index), 96)
    colour = next(c for c in COLOURS if f' {c} ' in caption)
    bgr = np.array(COLOURS[colour][::-1])
    ys, xs = np.nonzero(np.abs(img.astype(int) - bgr).sum(-1) < 40)
    assert len(xs) > 20
    assert (xs.mean() < 48) == caption.endswith('left')
    assert (ys.mean() < 48) == ('top' in caption)
    small = ' small ' in caption
    assert (xs.max() - xs.min() < 23) == small  # width 2r: 16 or 30


def test_batches_have_distinct_captions_and_bad_size_fails():
    images, labels = caption_batch(np.random.default_rng(0), 64)
    assert len(images) == 64 and len(set(labels)) == 64
    with pytest.raises(ValueError, match='batch_size must be in'):
        caption_batch(np.random.default_rng(0), 97)


def test_held_out_is_deterministic_and_covers_all_captions():
    a, labels = held_out_captions(192)
    b, _ = held_out_captions(192)
    assert len(a) == len(b) == 192
    assert all((x == y).all() for x, y in zip(a, b))
    assert sorted(set(labels)) == list(range(96))
    train, _ = caption_batch(np.random.default_rng(1000), 96)
    assert not any((x == y).all() for x in train for y in a)
