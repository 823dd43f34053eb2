"""Synthetic scenes with several refs per image."""
import collections
import os.path as osp

import cv2
import numpy as np
import pytest

from mmseg.registry import DATASETS
from projects.haris.datasets.synthetic_multi_ref import \
    generate_multi_ref_scenes
from tests.test_datasets.test_synthetic import refers_only_to_target


def test_each_ref_is_named_unambiguously():
    scenes = generate_multi_ref_scenes(40, seed=3, size=96, max_refs=3)
    counts = [len(s['refs']) for s in scenes]
    assert max(counts) == 3 and min(counts) >= 1
    assert 1.5 < np.mean(counts) <= 3
    for scene in scenes:
        targets = [r['target'] for r in scene['refs']]
        assert len(set(targets)) == len(targets)
        for ref in scene['refs']:
            assert ref['sentences']
            for sentence in ref['sentences']:
                assert refers_only_to_target(scene['objects'], sentence) == [
                    ref['target']], sentence


def test_refs_of_a_scene_share_its_image_file(tmp_path):
    ds = DATASETS.build(dict(
        type='SyntheticReferringDataset', data_root=str(tmp_path),
        split='val', num_samples=5, image_size=64, refs_per_image=3,
        pipeline=[]))
    assert osp.basename(ds.data_root).endswith('_refs3')
    infos = [ds.get_data_info(i) for i in range(len(ds))]
    per_image = collections.defaultdict(list)
    for info in infos:
        per_image[info['img_path']].append(info)
    assert len(per_image) == 5 and len(infos) > 5
    for path, refs in per_image.items():
        image = cv2.imread(path)
        masks = [cv2.imread(r['mask_ann']['path'], cv2.IMREAD_GRAYSCALE) > 0
                 for r in refs]
        for k, mask in enumerate(masks):
            assert 0 < mask.sum() < mask.size
            # the mask covers a drawn shape, not the grey background
            assert (image[mask].astype(int) - 235).__abs__().mean() > 40
            for other in masks[k + 1:]:
                assert not (mask & other).any()  # different shapes
    # the refs of an image are adjacent, as the grouped sampler expects
    order = [info['img_path'] for info in infos]
    assert order == sorted(order, key=order.index)


def test_refs_per_image_is_checked(tmp_path):
    with pytest.raises(ValueError, match='refs_per_image must be a whole'):
        DATASETS.build(dict(type='SyntheticReferringDataset',
                            data_root=str(tmp_path), refs_per_image=0))
    with pytest.raises(ValueError, match='refs_per_image > 1 cannot'):
        DATASETS.build(dict(type='SyntheticReferringDataset',
                            data_root=str(tmp_path), generalized=True,
                            refs_per_image=2))
