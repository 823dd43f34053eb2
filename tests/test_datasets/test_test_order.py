"""Test-mode samples come grouped by image (so that a batch encodes few
images), training order is the file's."""
import json
import pickle

import cv2
import numpy as np

from mmseg.registry import DATASETS
from projects.haris.datasets.referring_dataset import group_by_image


def test_group_by_image_is_stable():
    refs = [dict(img_path='b', ref_id=0), dict(img_path='a', ref_id=1),
            dict(ref_id=2), dict(img_path='b', ref_id=3),
            dict(img_path='a', ref_id=4), dict(img_path=None, ref_id=5)]
    assert [r['ref_id'] for r in group_by_image(refs)] == [0, 3, 1, 4, 2, 5]


def test_refcoco_test_samples_grouped_by_image(tmp_path):
    (tmp_path / 'coco').mkdir()
    (tmp_path / 'refcoco').mkdir()
    polygon = [[2, 2, 10, 2, 10, 10, 2, 10]]
    for i in (1, 2):
        cv2.imwrite(str(tmp_path / 'coco' / f'{i}.jpg'),
                    np.zeros((16, 16, 3), np.uint8))
    instances = dict(
        images=[dict(id=i, file_name=f'{i}.jpg', height=16, width=16)
                for i in (1, 2)],
        annotations=[dict(id=10 + i, image_id=i, segmentation=polygon)
                     for i in (1, 2)])
    # the refs of the two images alternate in the file
    refs = [dict(ref_id=r, image_id=img, ann_id=10 + img, split=split,
                 sentences=[dict(sent=f'r{r} s{s}') for s in range(n)])
            for r, img, n in ((0, 1, 2), (1, 2, 1), (2, 1, 3), (3, 2, 1))
            for split in ('val', 'train')]
    with open(tmp_path / 'refcoco' / 'refs(unc).p', 'wb') as f:
        pickle.dump(refs, f)
    (tmp_path / 'refcoco' / 'instances.json').write_text(
        json.dumps(instances))

    def build(split, **kwargs):
        return DATASETS.build(dict(
            type='RefCocoDataset', data_root=str(tmp_path),
            ann_file='refcoco/refs(unc).p',
            instances_file='refcoco/instances.json',
            data_prefix=dict(img_path='coco'), split=split, pipeline=[],
            **kwargs))

    val = build('val', test_mode=True)
    sentences = [val.get_data_info(i)['sentences'][0]
                 for i in range(len(val))]
    assert sentences == ['r0 s0', 'r0 s1', 'r2 s0', 'r2 s1', 'r2 s2',
                         'r1 s0', 'r3 s0']
    assert [val.get_data_info(i)['img_path'][-5:]
            for i in range(len(val))] == ['1.jpg'] * 5 + ['2.jpg'] * 2
    train = build('train')  # one sample per ref, in file order
    assert [train.get_data_info(i)['ref_id']
            for i in range(len(train))] == [0, 1, 2, 3]
    expanded = build('train', expand_sentences=True)
    assert [expanded.get_data_info(i)['sentences'][0]
            for i in range(len(expanded))][:3] == ['r0 s0', 'r0 s1', 'r1 s0']
