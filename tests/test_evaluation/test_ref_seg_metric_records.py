"""What RefSegMetric and GRefSegMetric keep per sentence: counts only,
unless per-sentence rows are asked for (``output_file``, tools/test.py
--out), which need the sentence, its ids and its image."""
import json

import torch

from projects.haris.evaluation import GRefSegMetric, RefSegMetric

COUNTS = {'inter', 'union', 'target', 'pred_empty', 'target_empty'}
IDS = {'ref_id', 'sent_id', 'sent_index', 'sample_idx', 'text', 'img_path'}
GREF = {'gt_no_target', 'pred_no_target', 'num_targets', 'no_target_score'}


def sample(i):
    pred = torch.tensor([[1, 1], [0, 0]])[None]
    gt = torch.tensor([[1, 0], [0, 0]])[None]
    return dict(
        pred_sem_seg=dict(data=pred), gt_sem_seg=dict(data=gt),
        seg_logits=dict(data=pred.float() * 0.8), ref_id=i, sent_id=10 + i,
        sent_index=0, sample_idx=i, text=f'the left one {i}',
        img_path=f'coco/train2014/{i}.jpg')


def test_without_output_file_only_counts_are_kept():
    for metric, extra in ((RefSegMetric(thresholds=(None, 0.35)), set()),
                          (GRefSegMetric(), GREF)):
        metric.process({}, [sample(0), sample(1)])
        assert set(metric.results[0]) == COUNTS | extra
        assert metric.results[1]['inter'] == [1] * len(metric.thresholds)
        assert metric.results[1]['union'] == [2] * len(metric.thresholds)
        assert metric.compute_metrics(metric.results)


def test_output_file_rows_keep_the_sentence_and_ids(tmp_path):
    out = tmp_path / 'rows.jsonl'
    metric = RefSegMetric(output_file=str(out))
    # collected out of order, as from several processes
    metric.process({}, [sample(1), sample(0)])
    assert set(metric.results[0]) == COUNTS | IDS
    metric.compute_metrics(metric.results)
    rows = [json.loads(line) for line in open(out)]
    assert [(r['ref_id'], r['sent_id'], r['text'], r['img_path'])
            for r in rows] == [
                (0, 10, 'the left one 0', 'coco/train2014/0.jpg'),
                (1, 11, 'the left one 1', 'coco/train2014/1.jpg')]
    assert [r['iou'] for r in rows] == [0.5, 0.5]
