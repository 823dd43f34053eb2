"""Generalized synthetic scenes: expressions naming no shape or several,
checked against the scene objects by a parser written here."""
import json
import os

import numpy as np
import pytest

from mmseg.registry import DATASETS
from projects.haris.datasets.synthetic_scenes import (
    generate_generalized_scenes, generate_scenes, render_mask)

COLOURS = ('red', 'green', 'blue', 'yellow')
SIZES = ('small', 'large')
SHAPES = {'circle': 'circle', 'circles': 'circle', 'square': 'square',
          'squares': 'square', 'triangle': 'triangle',
          'triangles': 'triangle'}
COUNTS = {'two': 2, 'three': 3, 'four': 4}
SIDES = (('left', 'x', min), ('right', 'x', max), ('top', 'y', min),
         ('bottom', 'y', max))


def referents(objects, sentence):
    """The objects a sentence names, read from its words alone; a count
    word must equal the number of matches, else nothing is named."""
    words = sentence.split()
    group = [
        i for i, o in enumerate(objects)
        if all(o['colour'] == w for w in words if w in COLOURS)
        and all(o['size'] == w for w in words if w in SIZES)
        and all(o['shape'] == SHAPES[w] for w in words if w in SHAPES)
    ]
    count = [COUNTS[w] for w in words if w in COUNTS]
    if count and count[0] != len(group):
        return []
    for word, key, pick in SIDES:
        if word in words and group:
            return [pick(group, key=lambda i: objects[i][key])]
    return group


def union_of(scene, indices):
    mask = np.zeros((scene['size'], scene['size']), np.uint8)
    for i in indices:
        mask |= render_mask(scene, i)
    return mask


def test_sentences_name_exactly_their_targets():
    scenes = generate_generalized_scenes(300, seed=4, size=64)
    kinds = {s['kind'] for s in scenes}
    assert kinds == {'no_target', 'single', 'multi'}
    for scene in scenes:
        assert scene['sentences']
        targets = sorted(scene['targets'])
        assert len(targets) == {'no_target': 0, 'single': 1}.get(
            scene['kind'], len(targets))
        if scene['kind'] == 'multi':
            assert len(targets) >= 2
        for sentence in scene['sentences']:
            # a no-target sentence matches no object at all
            assert sorted(referents(scene['objects'], sentence)) == \
                targets, (sentence, scene['objects'])
            if scene['kind'] == 'multi':
                assert sentence.startswith('all the ') or any(
                    w in sentence.split() for w in COUNTS), sentence


def test_no_target_sentences_use_the_vocabulary():
    scenes = [s for s in generate_generalized_scenes(
        200, seed=1, no_target_ratio=1.0, multi_target_ratio=0.0)]
    assert {s['kind'] for s in scenes} == {'no_target'}
    sentences = [x for s in scenes for x in s['sentences']]
    assert any(x.startswith('all the ') for x in sentences)
    assert any(' on the ' in x or ' at the ' in x for x in sentences)
    assert any(x.split()[-1] in SHAPES and x.startswith('the ')
               for x in sentences)
    for scene in scenes:
        for sentence in scene['sentences']:
            words = set(sentence.split())
            # an attribute word that no object has, or a combination
            assert words & (set(COLOURS) | set(SIZES) | set(SHAPES))


@pytest.mark.parametrize('no_target,multi', [(0.1, 0.25), (0.3, 0.5)])
def test_kind_rates(no_target, multi):
    scenes = generate_generalized_scenes(
        400, seed=7, size=64, no_target_ratio=no_target,
        multi_target_ratio=multi)
    kinds = [s['kind'] for s in scenes]
    # binomial standard deviations at n=400 are at most 0.025
    assert kinds.count('no_target') / 400 == pytest.approx(no_target,
                                                           abs=0.06)
    assert kinds.count('multi') / 400 == pytest.approx(multi, abs=0.07)


def test_deterministic_in_seed():
    a = generate_generalized_scenes(20, seed=3)
    assert a == generate_generalized_scenes(20, seed=3)
    assert a != generate_generalized_scenes(20, seed=4)
    # scene i depends only on (seed, i)
    assert generate_generalized_scenes(25, seed=3)[:20] == a


def test_bad_rates_are_explained():
    with pytest.raises(ValueError, match='exceed 1'):
        generate_generalized_scenes(1, seed=0, no_target_ratio=0.6,
                                    multi_target_ratio=0.5)
    with pytest.raises(ValueError, match=r'within \[0, 1\]'):
        generate_generalized_scenes(1, seed=0, no_target_ratio=-0.1)
    with pytest.raises(ValueError, match='cannot be combined'):
        DATASETS.build(dict(type='SyntheticReferringDataset',
                            generalized=True, relational_only=True))


PIPELINE = [dict(type='LoadImageFromFile'), dict(type='LoadReferringMask'),
            dict(type='PickExpression'), dict(type='PackReferringInputs')]


def test_files_masks_and_flags(tmp_path, capsys):
    from mmengine.logging import MMLogger
    MMLogger.get_instance('synthetic_generalized', log_level='INFO')
    cfg = dict(type='SyntheticReferringDataset', data_root=str(tmp_path),
               split='val', num_samples=30, image_size=64,
               generalized=True, pipeline=PIPELINE[:2])
    ds = DATASETS.build(cfg)
    folder = tmp_path / 'val_n30_s0_64px_gen-nt0.1-mt0.25'
    assert sorted(os.listdir(tmp_path)) == [folder.name]
    scenes = generate_generalized_scenes(30, seed=1, size=64)
    lines = [json.loads(x) for x in open(folder / 'refs.jsonl')]
    kinds = set()
    for i, (line, scene) in enumerate(zip(lines, scenes)):
        kinds.add(scene['kind'])
        assert line['no_target'] is (scene['kind'] == 'no_target')
        assert line['num_targets'] == len(scene['targets'])
        mask = ds[i]['gt_seg_map']
        assert np.array_equal(mask, union_of(scene, scene['targets']))
        if scene['kind'] == 'no_target':
            assert not mask.any()
        else:
            assert mask.sum() == sum(
                render_mask(scene, t).sum() for t in scene['targets'])
    assert kinds == {'no_target', 'single', 'multi'}
    counts = {k: sum(len(s['sentences']) for s in scenes if s['kind'] == k)
              for k in ('no_target', 'single', 'multi')}
    assert (f'{counts["no_target"]} no-target, {counts["single"]} '
            f'single-target, {counts["multi"]} multi-target'
            ) in capsys.readouterr().out
    # identical files from a fresh folder
    again = DATASETS.build(dict(cfg, data_root=str(tmp_path / 'b')))
    for i in range(len(ds)):
        assert np.array_equal(ds[i]['img'], again[i]['img'])
    # one packed sample per sentence in test mode, flags in the metainfo
    test = DATASETS.build(dict(cfg, test_mode=True, pipeline=PIPELINE))
    assert len(test) == sum(len(s['sentences']) for s in scenes)
    packed = [test[i]['data_samples'] for i in range(len(test))]
    by_ref = {s.ref_id: s for s in packed}
    for i, scene in enumerate(scenes):
        assert by_ref[i].no_target is (scene['kind'] == 'no_target')
        assert by_ref[i].num_targets == len(scene['targets'])


def test_single_object_mode_unchanged(tmp_path):
    """Off, the files have no target counts and the same folder name."""
    ds = DATASETS.build(dict(type='SyntheticReferringDataset',
                             data_root=str(tmp_path), split='val',
                             num_samples=4, image_size=64,
                             pipeline=PIPELINE[:2]))
    assert os.listdir(tmp_path) == ['val_n4_s0_64px']
    line = json.loads(open(tmp_path / 'val_n4_s0_64px' /
                           'refs.jsonl').readline())
    assert set(line) == {'image', 'mask', 'sentences', 'ref_id'}
    assert 'no_target' not in ds[0]
    scene = generate_scenes(1, seed=1, size=64)[0]
    assert line['sentences'] == scene['sentences']


def write_generic(tmp_path, *extra):
    import cv2
    cv2.imwrite(str(tmp_path / 'a.png'), np.zeros((4, 6, 3), np.uint8))
    cv2.imwrite(str(tmp_path / 'm.png'), np.zeros((4, 6), np.uint8))
    lines = [dict(image='a.png', mask='m.png', sentences=['x'], **e)
             for e in extra]
    (tmp_path / 'refs.jsonl').write_text(
        '\n'.join(json.dumps(x) for x in lines))
    return dict(type='GenericReferringDataset', data_root=str(tmp_path),
                ann_file='refs.jsonl', pipeline=[])


def test_generic_target_keys(tmp_path):
    ds = DATASETS.build(write_generic(
        tmp_path, {}, dict(no_target=True), dict(no_target=False),
        dict(num_targets=3), dict(num_targets=0),
        dict(no_target=False, num_targets=1)))
    got = [(ds[i].get('no_target'), ds[i].get('num_targets'))
           for i in range(len(ds))]
    assert got == [(None, None), (True, 0), (False, None), (False, 3),
                   (True, 0), (False, 1)]


@pytest.mark.parametrize('extra,match', [
    (dict(no_target=True, num_targets=2), r'refs.jsonl:1: "no_target" is '
     'true but "num_targets" is 2'),
    (dict(no_target='yes'), r'"no_target" is .yes.; use true or false'),
    (dict(num_targets=-1), r'"num_targets" is -1'),
    (dict(num_targets=1.5), r'"num_targets" is 1.5'),
])
def test_generic_bad_target_keys(tmp_path, extra, match):
    with pytest.raises(ValueError, match=match):
        DATASETS.build(write_generic(tmp_path, extra))
