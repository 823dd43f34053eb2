import numpy as np
import pytest

from projects.haris.datasets.transforms import (PickExpression,
                                                RandomFlipReferring,
                                                TokenizeExpression)
from projects.haris.datasets.transforms.flip import swap_left_right


def test_swap_left_right():
    assert swap_left_right('Left dog, right of the leftmost cat') == \
        'Right dog, left of the rightmost cat'
    assert swap_left_right('bright lefty') == 'bright lefty'


def test_flip_swaps_words_and_pixels():
    img = np.zeros((4, 6, 3), np.uint8)
    img[:, 0] = 255
    mask = np.zeros((4, 6), np.uint8)
    mask[:, 0] = 1
    flip = RandomFlipReferring(prob=1.0, direction='horizontal')
    out = flip(dict(img=img, gt_seg_map=mask, seg_fields=['gt_seg_map'],
                    text='the cup on the left', img_shape=(4, 6)))
    assert out['text'] == 'the cup on the right'
    assert out['gt_seg_map'][:, -1].all() and not out['gt_seg_map'][:,
                                                                   0].any()


def test_pick_expression_draws_every_sentence():
    np.random.seed(0)
    pick = PickExpression()
    seen = {pick(dict(sentences=['a', 'b', 'c']))['text']
            for _ in range(50)}
    assert seen == {'a', 'b', 'c'}
    with pytest.raises(ValueError, match='no sentence'):
        pick(dict(sentences=[], ref_id=3))


def test_tokenize_matches_clip_ids_and_mask():
    tok = TokenizeExpression(context_length=8)
    out = tok(dict(text='a red circle'))
    ids, mask = out['token_ids'], out['token_mask']
    assert ids[0] == 49406 and ids[mask.sum() - 1] == 49407
    assert mask.tolist() == [True] * 5 + [False] * 3
    assert ids.dtype == np.int64


def test_tokenize_truncates_with_warning_and_rejects_empty():
    tok = TokenizeExpression(context_length=6)
    with pytest.warns(UserWarning, match='truncated to 6'):
        out = tok(dict(text='one two three four five six seven'))
    assert out['token_mask'].all() and out['token_ids'][-1] == 49407
    with pytest.raises(ValueError, match='Empty expression'):
        tok(dict(text='   ', img_path='x.jpg'))
