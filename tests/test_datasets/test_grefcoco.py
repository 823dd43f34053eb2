"""GRefCocoDataset against gRefCOCO-format files written here."""
import json
import pickle

import cv2
import numpy as np
import pytest
from pycocotools import mask as mask_utils

from mmseg.registry import DATASETS

from tests.test_datasets.test_real_formats import H, PIPELINE, W, \
    uncompressed_rle


def box(y0, y1, x0, x1):
    mask = np.zeros((H, W), np.uint8)
    mask[y0:y1, x0:x1] = 1
    return mask


POLYGON = [2, 3, 12, 3, 12, 20, 2, 20]
RLE_MASK = box(25, 35, 30, 50)
CROWD_MASK = box(0, 10, 40, 60)
OTHER_MASK = box(5, 30, 5, 15)


def polygon_mask():
    """The polygon as ReLA's loader rasterises it (pycocotools)."""
    return mask_utils.decode(mask_utils.frPyObjects([POLYGON], H, W))[..., 0]


def sentences(*texts):
    return [dict(sent=t, raw=t.upper(), tokens=t.split()) for t in texts]


REFS = [
    dict(ref_id=0, image_id=1, ann_id=[10], category_id=[1], split='train',
         sentences=sentences('left box')),
    dict(ref_id=1, image_id=1, ann_id=[10, 11], category_id=[1, 1],
         split='train', sentences=sentences('both boxes', 'two boxes')),
    dict(ref_id=2, image_id=1, ann_id=[11, 12], category_id=[1, 2],
         split='val', sentences=sentences('box and crowd')),
    dict(ref_id=3, image_id=2, ann_id=[-1], category_id=[-1], split='val',
         sentences=sentences('the zebra', 'a purple car')),
    dict(ref_id=4, image_id=2, ann_id=[-1], category_id=[-1],
         split='testA', no_target=True, sentences=sentences('nothing')),
    dict(ref_id=5, image_id=2, ann_id=[20], category_id=[1],
         split='testA', no_target=False, sentences=sentences('tall box')),
]


def write_root(root, refs, name='grefs(unc).json'):
    (root / 'coco' / 'train2014').mkdir(parents=True, exist_ok=True)
    (root / 'grefcoco').mkdir(exist_ok=True)
    for i in (1, 2):
        cv2.imwrite(str(root / 'coco' / 'train2014' / f'img{i}.jpg'),
                    np.full((H, W, 3), 100 * i, np.uint8))
    instances = dict(
        images=[dict(id=1, file_name='img1.jpg', height=H, width=W),
                dict(id=2, file_name='img2.jpg', height=H, width=W)],
        annotations=[
            dict(id=10, image_id=1, category_id=1, iscrowd=0,
                 segmentation=[POLYGON]),
            dict(id=11, image_id=1, category_id=1, iscrowd=0,
                 segmentation=uncompressed_rle(RLE_MASK)),
            dict(id=12, image_id=1, category_id=2, iscrowd=1,
                 segmentation=uncompressed_rle(CROWD_MASK)),
            dict(id=20, image_id=2, category_id=1, iscrowd=0,
                 segmentation=uncompressed_rle(OTHER_MASK)),
        ],
        categories=[dict(id=1, name='box'), dict(id=2, name='crowd')])
    (root / 'grefcoco' / 'instances.json').write_text(json.dumps(instances))
    if name.endswith('.p'):
        with open(root / 'grefcoco' / name, 'wb') as f:
            pickle.dump(refs, f)
    else:
        (root / 'grefcoco' / name).write_text(json.dumps(refs))
    return root


def grefcoco(root, split, name='grefs(unc).json', **kwargs):
    kwargs.setdefault('pipeline', PIPELINE)
    return DATASETS.build(dict(
        type='GRefCocoDataset', data_root=str(root),
        ann_file=f'grefcoco/{name}', instances_file='grefcoco/instances.json',
        data_prefix=dict(img_path='coco/train2014'), split=split, **kwargs))


@pytest.fixture
def root(tmp_path):
    return write_root(tmp_path, REFS)


def test_union_masks_flags_and_counts(root):
    train = grefcoco(root, 'train')
    assert len(train) == 2  # one sample per ref in training
    single, multi = train[0], train[1]
    assert np.array_equal(single['gt_seg_map'], polygon_mask())
    assert polygon_mask()[4:20, 3:12].all()  # the box, not an empty mask
    assert np.array_equal(multi['gt_seg_map'], polygon_mask() | RLE_MASK)
    assert multi['sentences'] == ['both boxes', 'two boxes']
    assert (single['no_target'], single['num_targets']) == (False, 1)
    assert (multi['no_target'], multi['num_targets']) == (False, 2)


def test_crowd_skipped_and_no_target_empty(root):
    val = grefcoco(root, 'val')
    with_crowd, none = val[0], val[1]
    # the crowd annotation is referred (num_targets) but not in the mask
    assert np.array_equal(with_crowd['gt_seg_map'], RLE_MASK)
    assert with_crowd['num_targets'] == 2 and not with_crowd['no_target']
    assert none['gt_seg_map'].shape == (H, W)
    assert not none['gt_seg_map'].any()
    assert (none['no_target'], none['num_targets']) == (True, 0)
    testa = grefcoco(root, 'testA')
    assert (testa[0]['no_target'], testa[0]['num_targets']) == (True, 0)
    assert not testa[0]['gt_seg_map'].any()
    assert np.array_equal(testa[1]['gt_seg_map'], OTHER_MASK)
    assert (testa[1]['no_target'], testa[1]['num_targets']) == (False, 1)


def test_one_packed_sample_per_sentence_in_test_mode(root):
    pipeline = PIPELINE + [dict(type='PickExpression'),
                           dict(type='PackReferringInputs')]
    val = grefcoco(root, 'val', test_mode=True, pipeline=pipeline)
    assert len(val) == 3
    samples = [val[i]['data_samples'] for i in range(3)]
    assert [(s.ref_id, s.sent_index, s.text) for s in samples] == [
        (2, 0, 'box and crowd'), (3, 0, 'the zebra'), (3, 1, 'a purple car')]
    assert [(s.no_target, s.num_targets) for s in samples] == [
        (False, 2), (True, 0), (True, 0)]
    assert not samples[2].gt_sem_seg.data.any()
    raw = grefcoco(root, 'val', test_mode=True, sentence_key='raw')
    assert raw[1]['sentences'] == ['THE ZEBRA']


def test_pickled_refs(tmp_path):
    root = write_root(tmp_path, REFS, name='grefs(unc).p')
    val = grefcoco(root, 'val', name='grefs(unc).p')
    assert len(val) == 2 and val[1]['no_target']
    assert np.array_equal(val[0]['gt_seg_map'], RLE_MASK)


def test_count_line_is_logged(root, capsys):
    from mmengine.logging import MMLogger
    MMLogger.get_instance('grefcoco_counts', log_level='INFO')
    grefcoco(root, 'val', test_mode=True)
    grefcoco(root, 'train')
    out = capsys.readouterr().out
    assert ('GRefCocoDataset(grefcoco, unc, val) sentences: 2 no-target, '
            '0 single-target, 1 multi-target') in out
    assert ('GRefCocoDataset(grefcoco, unc, train) sentences: 0 no-target, '
            '1 single-target, 2 multi-target') in out


def test_flag_contradicting_ann_id_names_the_ref(tmp_path):
    refs = REFS + [dict(ref_id=7, image_id=2, ann_id=[20], split='val',
                        no_target=True, sentences=sentences('x'))]
    root = write_root(tmp_path, refs)
    with pytest.raises(ValueError,
                       match=r'ref 7 of .*grefs\(unc\)\.json says '
                       r'no_target=True but its ann_id is \[20\]'):
        grefcoco(root, 'val')
    # the same ref in another split is not read
    assert len(grefcoco(root, 'train')) == 2


@pytest.mark.parametrize('ann_id,error,match', [
    ([-1, 10], ValueError, r'ref 8 .* ann_id \[-1, 10\]: give \[-1\] alone'),
    ([], ValueError, r'ref 8 .* ann_id \[\]'),
    ([10, 99], KeyError, r'ref 8 .* annotations \[99\]'),
])
def test_bad_ann_ids_are_explained(tmp_path, ann_id, error, match):
    refs = [dict(ref_id=8, image_id=1, ann_id=ann_id, split='val',
                 sentences=sentences('x'))]
    with pytest.raises(error, match=match):
        grefcoco(write_root(tmp_path, refs), 'val')


def test_missing_split_and_files(root, tmp_path):
    with pytest.raises(ValueError, match=r"'testB' is not in .*testA"):
        grefcoco(root, 'testB')
    with pytest.raises(FileNotFoundError, match='dataset_prepare'):
        grefcoco(tmp_path / 'nowhere', 'val')


def test_union_annotation_decoding():
    from projects.haris.datasets.mask_decoding import decode_mask
    parts = [dict(type='coco', segmentation=uncompressed_rle(m))
             for m in (RLE_MASK, CROWD_MASK)]
    union = decode_mask(dict(type='union', parts=parts), H, W)
    assert np.array_equal(union, RLE_MASK | CROWD_MASK)
    empty = decode_mask(dict(type='union', parts=[]), H, W)
    assert empty.dtype == np.uint8 and not empty.any()
    assert empty.shape == (H, W)


def test_check_data_reports_grefcoco(root):
    import subprocess
    import sys
    proc = subprocess.run(
        [sys.executable, 'tools/check_data.py', '--data-root', str(root)],
        capture_output=True, text=True)
    assert proc.returncode == 1  # the other benchmarks are missing
    report = proc.stdout[proc.stdout.index('grefcoco'):]
    # val: ref 2 (multi, 1 sentence) and ref 3 (no target, 2 sentences)
    assert ('val: 2 refs, 3 sentences, sentences of no-target/multi-target '
            'refs: 2/1') in report
    assert 'images: 2/2 found' in report
