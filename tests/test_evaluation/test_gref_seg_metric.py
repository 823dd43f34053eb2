"""GRefSegMetric against values computed by hand from ReLA's definitions."""
import json
import socket

import pytest
import torch.distributed as dist
import torch.multiprocessing as mp

from projects.haris.evaluation import GRefSegMetric
from tests.test_evaluation.test_ref_seg_metric import sample


Z = [[0, 0, 0], [0, 0, 0]]


def head_samples():
    """A model with a no-target head; one sentence per branch."""
    return [
        # TP: no target, predicted no target -> IoU 1, adds 0 / 0
        sample(Z, Z, no_target=True, num_targets=0, pred_no_target=True,
               no_target_score=0.9, ref_id=1),
        # FN: no target, 2 pixels predicted -> IoU 0, U += 2
        sample([[1, 1, 0], [0, 0, 0]], Z, no_target=True, num_targets=0,
               pred_no_target=False, no_target_score=0.2, ref_id=2),
        # FP: target of 3 pixels, predicted no target -> I 0, U 3, IoU 0
        sample(Z, [[1, 1, 1], [0, 0, 0]], no_target=False, num_targets=1,
               pred_no_target=True, no_target_score=0.7, ref_id=3),
        # TN: target 4, prediction 3, overlap 2 -> I 2, U 5, IoU 0.4
        sample([[1, 1, 0], [0, 0, 1]], [[1, 1, 1], [1, 0, 0]],
               no_target=False, num_targets=1, pred_no_target=False,
               no_target_score=0.1, ref_id=4),
        # TN: two objects, exact -> I 2, U 2, IoU 1
        sample([[1, 0, 0], [0, 0, 1]], [[1, 0, 0], [0, 0, 1]],
               no_target=False, num_targets=2, pred_no_target=False,
               no_target_score=0.1, ref_id=5),
        # TN: three objects, 4 of 5 pixels -> I 4, U 5, IoU 0.8
        sample([[1, 1, 1], [1, 0, 0]], [[1, 1, 1], [1, 1, 0]],
               no_target=False, num_targets=3, pred_no_target=False,
               no_target_score=0.3, ref_id=6),
    ]


def test_every_branch_with_a_no_target_head(tmp_path):
    metric = GRefSegMetric(output_file=str(tmp_path / 'r.jsonl'))
    metric.process({}, head_samples())
    res = metric.compute_metrics(metric.results)
    assert res['gIoU'] == pytest.approx(100 * (1 + 0 + 0 + 0.4 + 1 + 0.8)
                                        / 6, abs=0.005)
    assert res['cIoU'] == pytest.approx(100 * (2 + 2 + 4) /
                                        (2 + 3 + 5 + 2 + 5), abs=0.005)
    assert res['N-acc'] == 50.0  # TP 1, FN 1
    assert res['T-acc'] == 75.0  # TN 3, FP 1
    # over the 4 sentences with a target: IoUs 0, 0.4, 1, 0.8
    assert res['Pr@0.7'] == 50.0
    assert res['Pr@0.8'] == 50.0  # 0.8 counts (>=)
    assert res['Pr@0.9'] == 25.0
    assert res['gIoU_single'] == 20.0  # (0 + 0.4) / 2
    assert res['gIoU_multi'] == 90.0  # (1 + 0.8) / 2
    assert len(res) == 9
    rows = [json.loads(line) for line in open(tmp_path / 'r.jsonl')]
    assert [r['iou'] for r in rows] == [1.0, 0.0, 0.0, 0.4, 1.0, 0.8]
    assert [r['gt_no_target'] for r in rows] == [True, True] + [False] * 4
    assert [r['pred_no_target'] for r in rows] == [True, False, True,
                                                    False, False, False]
    assert [r['num_targets'] for r in rows] == [0, 0, 1, 1, 2, 3]
    assert rows[0]['no_target_score'] == 0.9 and rows[3]['ref_id'] == 4


def test_strict_precision():
    metric = GRefSegMetric(prec_inclusive=False)
    metric.process({}, head_samples())
    res = metric.compute_metrics(metric.results)
    assert res['Pr@0.8'] == 25.0  # 0.8 is not > 0.8


def test_model_without_head_empty_mask_is_no_target():
    """Neither pred_no_target nor the no_target flag: empty masks decide."""
    metric = GRefSegMetric()
    metric.process({}, [
        sample([[0, 0]], [[0, 0]]),  # TP: IoU 1
        sample([[0, 1]], [[0, 0]]),  # FN: IoU 0, U += 1
        sample([[0, 0]], [[1, 1]]),  # FP: I 0, U 2
        sample([[1, 0]], [[1, 1]]),  # TN: I 1, U 2
    ])
    res = metric.compute_metrics(metric.results)
    assert res == {
        'gIoU': 37.5, 'cIoU': 20.0, 'N-acc': 50.0, 'T-acc': 50.0,
        'Pr@0.7': 0.0, 'Pr@0.8': 0.0, 'Pr@0.9': 0.0}


def test_ignored_pixels_are_not_counted():
    metric = GRefSegMetric()
    # ignored pixel predicted: I 1, U 1 (not 2)
    metric.process({}, [sample([[1, 1]], [[1, 255]], no_target=False)])
    # no target; the only predicted pixel is ignored -> empty, so TP
    metric.process({}, [sample([[0, 1]], [[0, 255]], no_target=True)])
    res = metric.compute_metrics(metric.results)
    assert res['gIoU'] == 100.0 and res['cIoU'] == 100.0
    assert res['N-acc'] == 100.0


def test_split_without_no_target_sentences_omits_n_acc(capsys):
    from mmengine.logging import MMLogger
    MMLogger.get_instance('gref_print', log_level='INFO')
    metric = GRefSegMetric()
    metric.process({}, [
        sample([[1, 0]], [[1, 1]], no_target=False, num_targets=1,
               pred_no_target=False),
    ])
    res = metric.compute_metrics(metric.results)
    assert 'N-acc' not in res and 'gIoU_multi' not in res
    assert res['gIoU'] == 50.0 and res['T-acc'] == 100.0
    assert res['gIoU_single'] == 50.0
    out = capsys.readouterr().out
    assert 'n/a' in out and '0 no-target, 1 single-target' in out


def test_only_no_target_sentences():
    metric = GRefSegMetric()
    metric.process({}, [sample([[0, 0]], [[0, 0]], no_target=True,
                               num_targets=0, pred_no_target=True)])
    res = metric.compute_metrics(metric.results)
    # no union at all: cIoU, T-acc and Pr@ have nothing to count
    assert res == {'gIoU': 100.0, 'N-acc': 100.0}


def test_target_with_empty_mask_scores_zero(capsys):
    """A target sentence whose mask is empty (all ignored) cannot divide
    by its empty union; it scores 0 as in ReLA, with a warning."""
    from mmengine.logging import MMLogger
    MMLogger.get_instance('gref_empty', log_level='INFO')
    metric = GRefSegMetric()
    metric.process({}, [
        sample([[0, 0]], [[255, 255]], no_target=False,
               pred_no_target=False),
        sample([[1, 0]], [[1, 0]], no_target=False, pred_no_target=False),
    ])
    res = metric.compute_metrics(metric.results)
    assert res['gIoU'] == 50.0 and res['cIoU'] == 100.0
    assert res['T-acc'] == 100.0
    assert '1 sentences with a target have an empty' in \
        capsys.readouterr().out


def test_head_answer_holds_at_every_threshold():
    metric = GRefSegMetric(thresholds=(None, 0.35))
    metric.process({}, [
        # head says no target; probabilities above 0.35 are not a mask
        sample(Z, [[1, 1, 0], [0, 0, 0]], prob=[[0.4, 0.1, 0.4],
                                                [0, 0, 0]],
               no_target=False, pred_no_target=True),
        # no head: 0.5 gives an empty mask (TP), 0.35 one pixel (FN)
        sample([[0, 0, 0], [0, 0, 0]], Z, prob=[[0.4, 0, 0], [0, 0, 0]],
               no_target=True),
    ])
    assert metric.results[0]['inter'] == [0, 0]
    assert metric.results[0]['union'] == [2, 2]
    res = metric.compute_metrics(metric.results)
    assert res['gIoU'] == 50.0 and res['gIoU@0.35'] == 0.0
    assert res['N-acc'] == 100.0 and res['N-acc@0.35'] == 0.0
    assert res['T-acc'] == 0.0 and res['T-acc@0.35'] == 0.0
    assert res['cIoU'] == 0.0 and res['cIoU@0.35'] == 0.0  # 0 / (2 + 1)


def free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def distributed_worker(rank, world_size, port, out_dir):
    dist.init_process_group('gloo', init_method=f'tcp://127.0.0.1:{port}',
                            rank=rank, world_size=world_size)
    try:
        samples = head_samples()
        metric = GRefSegMetric()
        metric.process({}, samples[rank::world_size])
        res = metric.evaluate(len(samples))
        with open(f'{out_dir}/rank{rank}.json', 'w') as f:
            json.dump(res, f)
    finally:
        dist.destroy_process_group()


def test_two_processes_equal_one(tmp_path):
    metric = GRefSegMetric()
    metric.process({}, head_samples())
    single = metric.evaluate(len(head_samples()))
    # fork: the workers start in a second instead of re-importing torch
    mp.start_processes(distributed_worker,
                       args=(2, free_port(), str(tmp_path)), nprocs=2,
                       start_method='fork')
    for rank in (0, 1):
        assert json.load(open(tmp_path / f'rank{rank}.json')) == single
