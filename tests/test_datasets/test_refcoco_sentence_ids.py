"""RefCocoDataset: the refer toolkit's sentence ids reach the per-sentence
output, and a ref whose annotation or image is missing from the instances
file is named in the error."""
import json
import pickle

import cv2
import numpy as np
import pytest
from mmengine.structures import PixelData

from mmseg.registry import DATASETS, METRICS

from tests.test_datasets.test_real_formats import H, W, rect_polygon

PIPELINE = [dict(type='LoadImageFromFile'), dict(type='LoadReferringMask'),
            dict(type='PickExpression'), dict(type='PackReferringInputs')]


def sentences(*pairs):
    """Sentences as the refer toolkit stores them: text and its id."""
    return [dict(sent=text, raw=text, tokens=text.split(), sent_id=sid)
            for sid, text in pairs]


def write_root(root, refs):
    (root / 'coco' / 'train2014').mkdir(parents=True)
    (root / 'refcoco').mkdir()
    for i in (1, 2):
        cv2.imwrite(str(root / 'coco' / 'train2014' / f'img{i}.jpg'),
                    np.full((H, W, 3), 100 * i, np.uint8))
    instances = dict(
        images=[dict(id=i, file_name=f'img{i}.jpg', height=H, width=W)
                for i in (1, 2)],
        annotations=[
            dict(id=10, image_id=1, iscrowd=0,
                 segmentation=[rect_polygon(2, 3, 12, 20)]),
            dict(id=20, image_id=2, iscrowd=0,
                 segmentation=[rect_polygon(30, 5, 50, 30)]),
        ])
    (root / 'refcoco' / 'instances.json').write_text(json.dumps(instances))
    with open(root / 'refcoco' / 'refs(unc).p', 'wb') as f:
        pickle.dump(refs, f)
    return root


# the toolkit numbers sentences across the whole file, not within a ref
REFS = [
    dict(ref_id=5, image_id=1, ann_id=10, split='val', sent_ids=[501, 502],
         sentences=sentences((501, 'left box'), (502, 'small box'))),
    dict(ref_id=7, image_id=2, ann_id=20, split='val', sent_ids=[700],
         sentences=sentences((700, 'right box'))),
    dict(ref_id=8, image_id=1, ann_id=10, split='val', sent_ids=[801, 80],
         sentences=sentences((801, 'the box'), (80, 'a box'))),
]


def refcoco(root, split='val', **kwargs):
    return DATASETS.build(dict(
        type='RefCocoDataset', data_root=str(root),
        ann_file='refcoco/refs(unc).p',
        instances_file='refcoco/instances.json',
        data_prefix=dict(img_path='coco/train2014'), split=split,
        pipeline=PIPELINE, test_mode=True, **kwargs))


def scored_rows(dataset, order, out_file):
    """``--out`` rows of RefSegMetric fed the dataset's samples in
    ``order`` (as collected from several processes), each predicted
    perfectly."""
    metric = METRICS.build(dict(type='RefSegMetric', output_file=out_file))
    for i in order:
        sample = dataset[i]['data_samples']
        sample.pred_sem_seg = PixelData(data=sample.gt_sem_seg.data.clone())
        metric.process({}, [sample.to_dict()])
    metric.compute_metrics(metric.results)
    return [json.loads(line) for line in open(out_file)]


def test_out_rows_carry_the_toolkits_sentence_ids(tmp_path):
    dataset = refcoco(write_root(tmp_path, REFS))
    # test mode: refs of image 1 first (5, 8), then image 2's (7)
    expected = [(5, 501, 0, 'left box'), (5, 502, 1, 'small box'),
                (8, 801, 0, 'the box'), (8, 80, 1, 'a box'),
                (7, 700, 0, 'right box')]
    samples = [dataset[i]['data_samples'] for i in range(len(dataset))]
    assert [(s.ref_id, s.sent_id, s.sent_index, s.text)
            for s in samples] == expected
    rows = scored_rows(dataset, range(5), str(tmp_path / 'rows.jsonl'))
    assert [(r['ref_id'], r['sent_id'], r['sent_index'], r['text'])
            for r in rows] == expected
    assert all(r['iou'] == 1.0 for r in rows)


def test_out_rows_in_dataset_order_whatever_the_collection_order(tmp_path):
    dataset = refcoco(write_root(tmp_path, REFS))
    in_order = scored_rows(dataset, range(5), str(tmp_path / 'a.jsonl'))
    # two processes with contiguous blocks [0, 1, 2] and [3, 4], as
    # mmengine's collect_results interleaves them
    collected = scored_rows(dataset, [0, 3, 1, 4, 2],
                            str(tmp_path / 'b.jsonl'))
    assert collected == in_order
    assert [r['sent_id'] for r in in_order] == [501, 502, 801, 80, 700]


def test_missing_annotation_names_the_ref_and_files(tmp_path):
    refs = REFS + [dict(ref_id=9, image_id=2, ann_id=99, split='val',
                        sentences=sentences((900, 'gone')))]
    root = write_root(tmp_path, refs)
    with pytest.raises(KeyError, match=r'ref 9 of \S*refcoco/refs\(unc\)\.p'
                       r'.* annotation 99 .*refcoco/instances\.json'):
        refcoco(root)


def test_missing_image_names_the_ref_and_files(tmp_path):
    refs = REFS + [dict(ref_id=9, image_id=3, ann_id=20, split='val',
                        sentences=sentences((900, 'elsewhere')))]
    root = write_root(tmp_path, refs)
    with pytest.raises(KeyError, match=r'ref 9 of \S*refcoco/refs\(unc\)\.p'
                       r'.* image 3 .*refcoco/instances\.json'):
        refcoco(root)


def test_missing_image_in_grefcoco_is_named_too(tmp_path):
    root = write_root(tmp_path, [])
    grefs = [dict(ref_id=4, image_id=3, ann_id=[20], split='val',
                  sentences=sentences((40, 'elsewhere')))]
    (root / 'refcoco' / 'grefs(unc).json').write_text(json.dumps(grefs))
    with pytest.raises(KeyError, match=r'ref 4 of \S*grefs\(unc\)\.json'
                       r'.* image 3 .*instances\.json'):
        DATASETS.build(dict(
            type='GRefCocoDataset', data_root=str(root),
            ann_file='refcoco/grefs(unc).json',
            instances_file='refcoco/instances.json',
            data_prefix=dict(img_path='coco/train2014'), split='val',
            pipeline=PIPELINE))
