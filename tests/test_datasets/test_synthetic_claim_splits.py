"""Synthetic splits built for the feedback claim: every attribute word
matches a distractor; two-noun expressions are unambiguous. Checked
against the scene objects by parsers written here."""
import hashlib
import json
import os.path as osp
import re

import cv2
import numpy as np
import pytest

from mmseg.registry import DATASETS
from projects.haris.datasets.synthetic_scenes import (generate_claim_scenes,
                                                      render_mask)

COLOURS = ('red', 'green', 'blue', 'yellow')
SIZES = ('small', 'large')
SHAPES = ('circle', 'square', 'triangle')
ATTRIBUTE = {**{c: 'colour' for c in COLOURS}, **{s: 'size' for s in SIZES},
             **{s: 'shape' for s in SHAPES}}
TWO_NOUN = re.compile(r'^the (circle|square|triangle) (left of|right of|'
                      r'above|below) the (red|green|blue|yellow) '
                      r'(circle|square|triangle)$')


def dataset(root, **kwargs):
    return DATASETS.build(dict(
        type='SyntheticReferringDataset', data_root=str(root), split='val',
        num_samples=6, image_size=64, pipeline=[], **kwargs))


def test_every_attribute_word_matches_a_distractor():
    scenes = generate_claim_scenes(300, 5, 'distractor_attributes', 64)
    lengths = set()
    for scene in scenes:
        objects, target = scene['objects'], scene['target']
        assert len(scene['sentences']) == 1
        words = scene['sentences'][0].split()
        assert words[0] == 'the' and words[-1] in SHAPES
        attrs = [w for w in words[1:]]
        assert all(w in ATTRIBUTE for w in attrs), words
        lengths.add(len(attrs))
        has = [[o[ATTRIBUTE[w]] == w for w in attrs] for o in objects]
        # only the referent has every word
        assert [i for i, h in enumerate(has) if all(h)] == [target]
        # each word also describes another object
        for j, w in enumerate(attrs):
            assert any(h[j] for i, h in enumerate(has) if i != target), w
    assert lengths == {2, 3}


def referents_of_two_noun(objects, sentence):
    """The objects of the head's shape on the relation's side of the one
    context object, by more than half the largest radius; None if the
    context phrase does not name exactly one object or if another object
    of the head's shape is less than that margin on the other side."""
    head, relation, colour, shape = TWO_NOUN.match(sentence).groups()
    context = [o for o in objects
               if o['colour'] == colour and o['shape'] == shape]
    if len(context) != 1:
        return None
    ctx = context[0]
    margin = max(o['r'] for o in objects) / 2
    key = 'y' if relation in ('above', 'below') else 'x'
    sign = 1 if relation in ('right of', 'below') else -1
    picked = []
    for i, o in enumerate(objects):
        if o['shape'] != head:
            continue
        offset = sign * (o[key] - ctx[key])
        if offset > margin:
            picked.append(i)
        elif offset >= -margin:
            return None  # too close to tell
    return picked


def test_two_noun_expressions_are_unambiguous():
    scenes = generate_claim_scenes(300, 5, 'two_noun', 64)
    relations = set()
    for scene in scenes:
        objects, target = scene['objects'], scene['target']
        head = objects[target]['shape']
        # the head noun alone names several objects
        assert sum(o['shape'] == head for o in objects) >= 2
        for sentence in scene['sentences']:
            assert TWO_NOUN.match(sentence), sentence
            assert referents_of_two_noun(objects, sentence) == [target]
            relations.add(TWO_NOUN.match(sentence).group(2))
            ctx = objects[scene['context']]
            assert sentence.endswith(f'{ctx["colour"]} {ctx["shape"]}')
            assert ctx['shape'] != head
    assert relations == {'left of', 'right of', 'above', 'below'}


@pytest.mark.parametrize('mode', ['distractor_attributes', 'two_noun'])
def test_files_are_deterministic_and_record_the_scene(tmp_path, mode):
    ds = DATASETS.build(dict(
        type='SyntheticReferringDataset', data_root=str(tmp_path / 'a'),
        split='val', num_samples=6, image_size=64, test_mode=True,
        pipeline=[dict(type='LoadImageFromFile'),
                  dict(type='LoadReferringMask')], **{mode: True}))
    again = dataset(tmp_path / 'b', **{mode: True})
    suffix = dict(distractor_attributes='_distractor-attrs',
                  two_noun='_two-noun')[mode]
    assert osp.basename(ds.data_root) == f'val_n6_s0_64px{suffix}'
    files = ['refs.jsonl'] + [f'images/{i:06d}{m}.png' for i in range(6)
                              for m in ('', '_mask')]
    for name in files:
        assert hashlib.md5(open(osp.join(ds.data_root, name), 'rb')
                           .read()).digest() == hashlib.md5(
            open(osp.join(again.data_root, name), 'rb').read()).digest()
    scenes = generate_claim_scenes(6, 1, mode, 64)  # seed 0 * 10 + val
    assert ds.scenes() == scenes
    with open(ds.ann_file) as f:
        lines = [json.loads(line) for line in f]
    samples = iter(ds[i] for i in range(len(ds)))
    for line, scene in zip(lines, scenes):
        assert line['objects'] == scene['objects']
        assert line['target'] == scene['target']
        assert line.get('context') == scene.get('context')
        assert line['sentences'] == scene['sentences']
        obj = scene['objects'][scene['target']]
        for _ in scene['sentences']:
            mask = next(samples)['gt_seg_map']
            np.testing.assert_array_equal(mask,
                                          render_mask(scene,
                                                      scene['target']))
            # the referent's pixels: around its centre, inside its box
            ys, xs = np.nonzero(mask)
            assert mask[obj['y'], obj['x']] == 1
            assert xs.min() >= obj['x'] - obj['r'] - 1
            assert xs.max() <= obj['x'] + obj['r'] + 1
            assert ys.min() >= obj['y'] - obj['r'] - 1
            assert ys.max() <= obj['y'] + obj['r'] + 1
    image = cv2.imread(osp.join(ds.data_root, lines[0]['image']))
    obj = scenes[0]['objects'][scenes[0]['target']]
    colour = {'red': (40, 40, 220), 'green': (60, 170, 40),
              'blue': (220, 80, 40), 'yellow': (30, 200, 230)}
    np.testing.assert_array_equal(image[obj['y'], obj['x']],
                                  colour[obj['colour']])


# md5 of the JSON lines and the decoded image and mask pixels of each
# earlier mode (val, 6 scenes, 64 px), measured before the claim modes
# were added: they must not change. The package rasterises the shapes
# itself (not with OpenCV, whose drawing changed between versions), so
# they hold on every supported stack.
EARLIER_MODES = {
    'default': ({}, 'b0a5a713709ef3a21f506ef2b15fa2a8'),
    'relational': (dict(relational_only=True),
                   '985fcc39ea61c39144f610ba92f1d5cb'),
    'generalized': (dict(generalized=True),
                    '153e855f121e6b735f9e13fffc6abdf7'),
}


@pytest.mark.parametrize('mode', list(EARLIER_MODES))
def test_earlier_modes_are_unchanged(tmp_path, mode):
    kwargs, expected = EARLIER_MODES[mode]
    ds = dataset(tmp_path, **kwargs)
    digest = hashlib.md5(open(ds.ann_file, 'rb').read())
    for i in range(6):
        for name in (f'{i:06d}.png', f'{i:06d}_mask.png'):
            digest.update(cv2.imread(osp.join(ds.data_root, 'images', name),
                                     cv2.IMREAD_UNCHANGED).tobytes())
    assert digest.hexdigest() == expected
    with open(ds.ann_file) as f:
        assert 'objects' not in json.loads(f.readline())


@pytest.mark.parametrize('modes', [
    ('relational_only', 'distractor_attributes'),
    ('generalized', 'two_noun'),
    ('distractor_attributes', 'two_noun'),
])
def test_modes_are_exclusive(tmp_path, modes):
    with pytest.raises(ValueError,
                       match=f'{modes[0]}=True and {modes[1]}=True cannot '
                       'be combined'):
        dataset(tmp_path, **{m: True for m in modes})


def test_unknown_mode_and_too_small_images():
    with pytest.raises(ValueError, match='Unknown scene mode'):
        generate_claim_scenes(1, 0, 'three_nouns')
    with pytest.raises(ValueError, match='do not fit in 16x16 images'):
        generate_claim_scenes(1, 0, 'distractor_attributes', size=16)
