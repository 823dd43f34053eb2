"""Loaders against files written here in the real formats, with masks
computed independently of pycocotools."""
import json
import pickle

import cv2
import numpy as np
import pytest

from mmseg.registry import DATASETS

H, W = 40, 60
PIPELINE = [dict(type='LoadImageFromFile'), dict(type='LoadReferringMask')]


def uncompressed_rle(mask):
    """COCO's uncompressed RLE (column-major runs, starting with 0s)."""
    flat = mask.flatten(order='F')
    counts, current, run = [], 0, 0
    for v in flat:
        if v != current:
            counts.append(run)
            current, run = v, 0
        run += 1
    counts.append(run)
    return dict(size=[H, W], counts=counts)


def rect_polygon(x0, y0, x1, y1):
    return [x0, y0, x1, y0, x1, y1, x0, y1]


def check_polygon_mask(mask, rects):
    """Interiors are set, far outside is not, area close to the rects'."""
    expected = np.zeros((H, W), np.uint8)
    for x0, y0, x1, y1 in rects:
        expected[y0 + 1:y1, x0 + 1:x1] = 1
        assert mask[y0 + 1:y1, x0 + 1:x1].all()
    grown = cv2.dilate(expected, np.ones((5, 5), np.uint8))
    assert not mask[grown == 0].any()


@pytest.fixture
def coco_root(tmp_path):
    (tmp_path / 'coco' / 'train2014').mkdir(parents=True)
    (tmp_path / 'refcoco').mkdir()
    for i in (1, 2):
        cv2.imwrite(str(tmp_path / 'coco' / 'train2014' / f'img{i}.jpg'),
                    np.full((H, W, 3), 100 * i, np.uint8))
    crowd = np.zeros((H, W), np.uint8)
    crowd[5:15, 30:50] = 1
    instances = dict(
        images=[dict(id=1, file_name='img1.jpg', height=H, width=W),
                dict(id=2, file_name='img2.jpg', height=H, width=W)],
        annotations=[
            dict(id=10, image_id=1, iscrowd=0, segmentation=[
                rect_polygon(2, 3, 12, 20), rect_polygon(30, 25, 40, 35)]),
            dict(id=11, image_id=2, iscrowd=1,
                 segmentation=uncompressed_rle(crowd)),
        ])
    refs = [
        dict(ref_id=0, image_id=1, ann_id=10, split='train',
             sentences=[dict(sent='left box', raw='Left box!'),
                        dict(sent='two boxes', raw='two boxes')]),
        dict(ref_id=1, image_id=2, ann_id=11, split='testA',
             sentences=[dict(sent='crowd', raw='Crowd')]),
        dict(ref_id=2, image_id=1, ann_id=10, split='testA',
             sentences=[dict(sent='a', raw='a'), dict(sent='b', raw='b'),
                        dict(sent='c', raw='c')]),
    ]
    with open(tmp_path / 'refcoco' / 'refs(unc).p', 'wb') as f:
        pickle.dump(refs, f)
    with open(tmp_path / 'refcoco' / 'instances.json', 'w') as f:
        json.dump(instances, f)
    return tmp_path, crowd


def refcoco(root, split, **kwargs):
    return DATASETS.build(dict(
        type='RefCocoDataset', data_root=str(root),
        ann_file='refcoco/refs(unc).p',
        instances_file='refcoco/instances.json',
        data_prefix=dict(img_path='coco/train2014'), split=split,
        pipeline=PIPELINE, **kwargs))


def test_refcoco_polygons_rle_and_sentences(coco_root):
    root, crowd = coco_root
    train = refcoco(root, 'train')
    assert len(train) == 1 and train[0]['sentences'] == ['left box',
                                                         'two boxes']
    check_polygon_mask(train[0]['gt_seg_map'],
                       [(2, 3, 12, 20), (30, 25, 40, 35)])
    test = refcoco(root, 'testA', test_mode=True)
    assert len(test) == 4  # every sentence of every ref
    assert np.array_equal(test[0]['gt_seg_map'], crowd)
    assert [test[i]['sent_index'] for i in range(4)] == [0, 0, 1, 2]
    raw = refcoco(root, 'train', sentence_key='raw')
    assert raw[0]['sentences'][0] == 'Left box!'


def test_refcoco_errors_name_the_problem(coco_root, tmp_path):
    root, _ = coco_root
    with pytest.raises(ValueError, match=r"'val' is not in .*testA"):
        refcoco(root, 'val')
    with pytest.raises(FileNotFoundError, match='dataset_prepare'):
        refcoco(tmp_path / 'nowhere', 'train')


def test_phrasecut_union_of_instances(tmp_path):
    (tmp_path / 'images').mkdir()
    cv2.imwrite(str(tmp_path / 'images' / '7.jpg'),
                np.zeros((H, W, 3), np.uint8))
    tasks = [dict(task_id='7__1', image_id=7, phrase='two cars', Polygons=[
        [[[2, 3], [12, 3], [12, 20], [2, 20]]],
        [[[30, 25], [40, 25], [40, 35], [30, 35]]]])]
    (tmp_path / 'refer_test.json').write_text(json.dumps(tasks))
    ds = DATASETS.build(dict(
        type='PhraseCutDataset', data_root=str(tmp_path),
        ann_file='refer_test.json', data_prefix=dict(img_path='images'),
        test_mode=True, pipeline=PIPELINE))
    sample = ds[0]
    assert sample['sentences'] == ['two cars']
    check_polygon_mask(sample['gt_seg_map'],
                       [(2, 3, 12, 20), (30, 25, 40, 35)])


def test_generic_png_polygon_rle_lines(tmp_path):
    cv2.imwrite(str(tmp_path / 'a.jpg'), np.zeros((H, W, 3), np.uint8))
    png = np.zeros((H, W), np.uint8)
    png[10:20, 10:20] = 255
    cv2.imwrite(str(tmp_path / 'a_mask.png'), png)
    rle_mask = np.zeros((H, W), np.uint8)
    rle_mask[0:5, 0:60] = 1
    lines = [
        dict(image='a.jpg', expression='white square', mask='a_mask.png'),
        dict(image='a.jpg', sentences=['box'],
             mask=dict(polygons=[rect_polygon(2, 3, 12, 20)])),
        dict(image='a.jpg', sentences=['top band'],
             mask=dict(rle=uncompressed_rle(rle_mask))),
    ]
    (tmp_path / 'refs.jsonl').write_text(
        '\n'.join(json.dumps(x) for x in lines))
    ds = DATASETS.build(dict(type='GenericReferringDataset',
                             data_root=str(tmp_path), ann_file='refs.jsonl',
                             pipeline=PIPELINE))
    assert np.array_equal(ds[0]['gt_seg_map'], (png > 0).astype(np.uint8))
    check_polygon_mask(ds[1]['gt_seg_map'], [(2, 3, 12, 20)])
    assert np.array_equal(ds[2]['gt_seg_map'], rle_mask)
    (tmp_path / 'bad.jsonl').write_text('{"image": "a.jpg"}\n')
    with pytest.raises(ValueError, match=r'bad.jsonl:1'):
        DATASETS.build(dict(type='GenericReferringDataset',
                            data_root=str(tmp_path), ann_file='bad.jsonl'))


def test_check_data_reports_counts_and_missing(coco_root):
    import subprocess
    import sys
    root, _ = coco_root
    proc = subprocess.run(
        [sys.executable, 'tools/check_data.py', '--data-root', str(root)],
        capture_output=True, text=True)
    assert proc.returncode == 1  # fixture counts differ from the papers'
    assert 'train: 1 refs, 2 sentences  <-- published: 42404' in proc.stdout
    assert 'images: 2/2 found' in proc.stdout
    assert f'missing {root}/refcoco+/refs(unc).p' in proc.stdout
