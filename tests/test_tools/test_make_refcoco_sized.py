"""tools/dataset_converters/make_refcoco_sized.py: RefCOCO's split sizes
at full scale (planned, not written), and a small written copy that
RefCocoDataset loads with every sentence and a mask for each."""
import importlib.util
import json
import os.path as osp
import pickle

import cv2
import numpy as np
import pytest

from mmseg.registry import DATASETS

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
# RefCOCO, UNC partition (Yu et al. 2016; the refer toolkit's files):
# images, refs, sentences
PUBLISHED = dict(
    train=(16994, 42404, 120624),
    val=(1500, 3811, 10834),
    testA=(750, 1975, 5657),
    testB=(750, 1810, 5095),
)
SCALE = 0.002
PIPELINE = [dict(type='LoadReferringImage'), dict(type='LoadReferringMask')]


def load_tool():
    spec = importlib.util.spec_from_file_location(
        'make_refcoco_sized',
        osp.join(ROOT, 'tools', 'dataset_converters',
                 'make_refcoco_sized.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


tool = load_tool()


def test_full_scale_plan_has_refcoco_split_sizes():
    plan = tool.plan_index(scale=1.0, seed=0)
    assert list(plan) == list(PUBLISHED)
    for split, (images, refs, sentences) in PUBLISHED.items():
        per_image = plan[split]['refs_per_image']
        per_ref = plan[split]['sentences_per_ref']
        assert len(per_image) == images and sum(per_image) == refs
        assert len(per_ref) == refs and sum(per_ref) == sentences
        assert min(per_image) >= 1 and min(per_ref) >= 1
    # 19,994 images, 50,000 refs (one object each), 142,210 sentences
    assert tool.summary(plan)['total'] == dict(
        images=19994, refs=50000, sentences=142210, annotations=50000)
    # train: 2.84 sentences per ref, so every ref has 2 or 3
    assert set(plan['train']['sentences_per_ref']) == {2, 3}


def test_refs_per_image_follow_the_stated_distribution():
    counts = np.array(tool.refs_per_image_counts(16994, 42404, seed=3))
    assert counts.sum() == 42404 and counts.min() == 1
    # 1 + Binomial(R - N, 1 / N): P(1 ref) = (1 - 1/N)^(R - N) = 0.224,
    # P(2 refs) = 0.335; a fixed or uniform count would miss these
    n, extra = 16994, 42404 - 16994
    p1 = (1 - 1 / n)**extra
    p2 = extra / n * (1 - 1 / n)**(extra - 1)
    assert abs((counts == 1).mean() - p1) < 0.015
    assert abs((counts == 2).mean() - p2) < 0.015
    assert counts.tolist() == tool.refs_per_image_counts(16994, 42404, 3)
    assert counts.tolist() != tool.refs_per_image_counts(16994, 42404, 4)
    with pytest.raises(ValueError, match='num_refs >= num_images'):
        tool.refs_per_image_counts(10, 9, 0)


def shoelace(points):
    x, y = np.array(points[0::2]), np.array(points[1::2])
    return abs(np.dot(x, np.roll(y, 1)) - np.dot(y, np.roll(x, 1))) / 2


def refcoco(root, split, test_mode):
    return DATASETS.build(dict(
        type='RefCocoDataset', data_root=str(root),
        ann_file='refcoco/refs(unc).p',
        instances_file='refcoco/instances.json',
        data_prefix=dict(img_path='coco/train2014'), split=split,
        test_mode=test_mode, pipeline=PIPELINE))


@pytest.fixture(scope='module')
def small_copy(tmp_path_factory):
    root = tmp_path_factory.mktemp('refcoco_sized')
    counts = tool.write_index(str(root), scale=SCALE, seed=0)
    return root, counts


def test_small_copy_loads_every_split_and_sentence(small_copy):
    root, counts = small_copy
    instances = json.load(open(root / 'refcoco' / 'instances.json'))
    images = {img['id']: img for img in instances['images']}
    anns = {ann['id']: ann for ann in instances['annotations']}
    refs = pickle.load(open(root / 'refcoco' / 'refs(unc).p', 'rb'))
    assert len(anns) == len(refs)
    for split, published in PUBLISHED.items():
        images_n, refs_n, sentences_n = (round(n * SCALE) for n in published)
        assert counts[split] == dict(
            images=images_n, refs=refs_n, sentences=sentences_n)
        assert len({r['image_id'] for r in refs
                    if r['split'] == split}) == images_n
        train_mode = refcoco(root, split, test_mode=False)
        assert len(train_mode) == refs_n
        test_mode = refcoco(root, split, test_mode=True)
        assert len(test_mode) == sentences_n  # one sample per sentence
        for i in range(len(test_mode)):
            sample = test_mode[i]
            ann = anns[refs[sample['ref_id']]['ann_id']]
            image = images[ann['image_id']]
            assert sample['ori_shape'] == (image['height'], image['width'])
            # the polygons lie inside the image: the mask has at least the
            # largest part's area (pycocotools drops part of the boundary)
            area = sample['gt_seg_map'].sum()
            largest = max(map(shoelace, ann['segmentation']))
            assert area > 0.9 * largest - 20 and area > 0
            if len(ann['segmentation']) == 1:
                assert area < 1.1 * largest + 20
            assert sample['sentences'] == [
                refs[sample['ref_id']]['sentences'][sample['sent_index']]
                ['sent']]


def test_small_copy_is_refer_format_and_deterministic(small_copy, tmp_path):
    root, _ = small_copy
    refs = pickle.load(open(root / 'refcoco' / 'refs(unc).p', 'rb'))
    by_image = {}
    for ref in refs:
        by_image.setdefault(ref['image_id'], set()).add(ref['split'])
        assert ref['sent_ids'] == [s['sent_id'] for s in ref['sentences']]
        assert set(ref['sentences'][0]) == {'sent', 'raw', 'tokens',
                                            'sent_id'}
    assert all(len(splits) == 1 for splits in by_image.values())
    sent_ids = [i for ref in refs for i in ref['sent_ids']]
    assert len(set(sent_ids)) == len(sent_ids)
    instances = json.load(open(root / 'refcoco' / 'instances.json'))
    for image in instances['images'][:5]:
        img = cv2.imread(str(root / 'coco' / 'train2014' /
                             image['file_name']))
        assert img.shape[:2] == (image['height'], image['width'])
    for ann in instances['annotations']:
        image = next(i for i in instances['images']
                     if i['id'] == ann['image_id'])
        for part in ann['segmentation']:
            assert 0 <= min(part[0::2]) and max(part[0::2]) <= image['width']
            assert 0 <= min(part[1::2]) and max(part[1::2]) <= image['height']
    again = tmp_path / 'again'
    tool.write_index(str(again), scale=SCALE, seed=0)
    for name in ('refs(unc).p', 'instances.json'):
        assert (again / 'refcoco' / name).read_bytes() == (
            root / 'refcoco' / name).read_bytes()
    other = tmp_path / 'other'
    tool.write_index(str(other), scale=SCALE, seed=1)
    assert (other / 'refcoco' / 'refs(unc).p').read_bytes() != (
        root / 'refcoco' / 'refs(unc).p').read_bytes()
