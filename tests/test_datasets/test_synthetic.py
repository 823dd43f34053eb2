import numpy as np

from mmseg.registry import DATASETS
from projects.haris.datasets.synthetic_scenes import (describe,
                                                      generate_scenes)


def refers_only_to_target(objects, sentence):
    """Independent check: attribute words must match exactly one object,
    or a spatial word must pick the extreme among the matches."""
    words = sentence.split()
    attrs = [w for w in words if w in ('small', 'large', 'red', 'green',
                                       'blue', 'yellow', 'circle', 'square',
                                       'triangle')]
    group = [i for i, o in enumerate(objects)
             if all(a in (o['size'], o['colour'], o['shape'])
                    for a in attrs)]
    for word, key, pick in (('left', 'x', min), ('right', 'x', max),
                            ('top', 'y', min), ('bottom', 'y', max)):
        if word in words:
            return [pick(group, key=lambda i: objects[i][key])]
    return group


def test_expressions_pick_exactly_the_target():
    for scene in generate_scenes(60, seed=3):
        assert scene['sentences']
        for sentence in scene['sentences']:
            assert refers_only_to_target(scene['objects'], sentence) == [
                scene['target']], sentence


def test_relational_only_needs_spatial_words():
    for scene in generate_scenes(30, seed=1, relational_only=True):
        assert scene['sentences']
        for s in scene['sentences']:
            assert any(w in s for w in ('left', 'right', 'top', 'bottom'))


def test_describe_rejects_ambiguous():
    objs = [dict(shape='circle', colour='red', size='small', x=10, y=10,
                 r=5),
            dict(shape='circle', colour='red', size='small', x=12, y=60,
                 r=5)]
    # the two red small circles differ only in height (50 px apart; 2 px
    # across is within the margin, so no 'left'/'right'): every sentence
    # needs 'top', one per attribute set
    assert describe(objs, 0) == [
        'the circle at the top', 'the red circle at the top',
        'the small circle at the top', 'the small red circle at the top']
    assert describe(objs, 1) == [
        'the circle at the bottom', 'the red circle at the bottom',
        'the small circle at the bottom',
        'the small red circle at the bottom']


def test_deterministic_files_and_exact_masks(tmp_path):
    cfg = dict(type='SyntheticReferringDataset', data_root=str(tmp_path),
               split='val', num_samples=5, image_size=64,
               pipeline=[dict(type='LoadImageFromFile'),
                         dict(type='LoadReferringMask')])
    ds = DATASETS.build(cfg)
    first = [ds[i] for i in range(len(ds))]
    again = DATASETS.build(dict(cfg, data_root=str(tmp_path / 'b')))
    for a, b in zip(first, (again[i] for i in range(len(again)))):
        assert np.array_equal(a['img'], b['img'])
        assert np.array_equal(a['gt_seg_map'], b['gt_seg_map'])
    scenes = generate_scenes(5, seed=1, size=64)  # seed * 10 + val(1)
    for sample, scene in zip(first, scenes):
        obj = scene['objects'][scene['target']]
        mask = sample['gt_seg_map']
        assert set(np.unique(mask)) == {0, 1}
        ys, xs = np.nonzero(mask)
        assert abs(xs.mean() - obj['x']) <= 2 and abs(ys.mean() -
                                                     obj['y']) <= 3
    assert len(ds) == 5  # one sample per ref
    evaluation = DATASETS.build(dict(cfg, test_mode=True))
    assert len(evaluation) == sum(len(s['sentences']) for s in scenes)
    train = DATASETS.build(dict(cfg, split='train'))
    assert train[0]['img_path'] != first[0]['img_path']
