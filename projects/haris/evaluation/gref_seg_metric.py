"""gIoU, cIoU, N-acc and T-acc for generalized referring segmentation
(gRefCOCO, as ReLA's evaluator computes them)."""
import logging
from typing import Dict, List, Optional, Sequence, Union

import numpy as np
from mmengine.logging import print_log
from prettytable import PrettyTable

from mmseg.registry import METRICS
from ..models.segmentors.referring_postprocess import no_target_answer
from .ref_seg_metric import RefSegMetric


@METRICS.register_module()
class GRefSegMetric(RefSegMetric):
    """Generalized referring-segmentation metrics: an expression may name
    no object (its target mask is empty) or several (the union of their
    masks).

    The prediction is scored as given: its mask and its no-target answer,
    whichever mask the model chose to give with that answer (ours empties
    it; ReLA's model does not). Per sentence, with I and U the intersection
    and union of the predicted and target masks (``ignore_index`` pixels
    excluded), as ReLA's evaluator:

    - no-target sentence, answered "no target" (true positive): IoU 1,
      adds nothing to the sums of I and U;
    - no-target sentence, answered with a target (false negative): IoU 0,
      U (the predicted area) is added to the sum of U;
    - sentence with a target, answered "no target" (false positive): I is
      0 and U is kept (a mask given with the answer stays in the union);
      IoU 0;
    - sentence with a target, answered with a target (true negative):
      IoU = I / U, 0 if U is 0.

    Keys (percentages, two decimals):

    - ``gIoU``: mean per-sentence IoU over all sentences;
    - ``cIoU``: sum of I / sum of U;
    - ``N-acc``: TP / (TP + FN) over the no-target sentences;
    - ``T-acc``: TN / (TN + FP) over the sentences with a target;
    - ``Pr@t``: sentences with a target whose IoU >= t (or > t);
    - ``gIoU_single`` / ``gIoU_multi``: mean IoU over the sentences naming
      exactly one / at least two objects, when samples carry
      ``num_targets``.

    A key whose set of sentences is empty is left out (e.g. ``N-acc`` on
    a split without no-target sentences) and the logged table shows
    ``n/a`` for it, rather than reporting a made-up 0 or 100.

    The ground truth says no-target through the sample's ``no_target``
    flag, or, when the sample has none, through a mask without foreground
    pixels. The prediction says no-target through ``pred_no_target`` (set
    by a model with a no-target head), or, for a model without the head,
    through an empty predicted mask (the rule of
    ``referring_postprocess.no_target_answer``, which the segmentor
    applies too). A sentence with a target whose ground-truth mask is
    empty (e.g. every pixel ignored) scores IoU 0 when its union is empty,
    as in ReLA; the number of such sentences is logged as a warning.

    As in :class:`RefSegMetric`, several binarisation thresholds can be
    scored in one pass (further thresholds give the keys suffixed ``@x``;
    the head's answer holds at each, with no mask when it is "no target";
    without the head the mask at each threshold is the answer),
    ``eval_size`` scores at a fixed size (ReLA's 480x480; which sentences
    are empty is read at the original resolution), and ``output_file``
    writes one JSON line per sentence, here with ``gt_no_target``,
    ``pred_no_target``, ``num_targets`` and ``no_target_score`` added.

    Args:
        thresholds (Sequence[float | None]): As in :class:`RefSegMetric`.
            Defaults to (None, ).
        threshold (float, optional): As in :class:`RefSegMetric`.
        prec_thresholds (Sequence[float]): IoU thresholds of ``Pr@t``.
            Defaults to (0.7, 0.8, 0.9), gRefCOCO's.
        prec_inclusive (bool): ``Pr@t`` counts IoU >= t (True, as ReLA)
            or IoU > t. Defaults to True.
        ignore_index (int): Label excluded from scoring. Defaults to 255.
        output_file (str, optional): Per-sentence JSON lines. Defaults to
            None.
        eval_size (int | tuple[int, int], optional): As in
            :class:`RefSegMetric`; 480 for ReLA's protocol. Defaults to
            None (the original resolution).
    """

    def __init__(self,
                 thresholds: Sequence[Optional[float]] = (None, ),
                 threshold: Optional[float] = None,
                 prec_thresholds: Sequence[float] = (0.7, 0.8, 0.9),
                 prec_inclusive: bool = True,
                 ignore_index: int = 255,
                 output_file: Optional[str] = None,
                 eval_size: Union[int, Sequence[int], None] = None,
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None) -> None:
        super().__init__(
            thresholds=thresholds,
            threshold=threshold,
            prec_thresholds=prec_thresholds,
            prec_inclusive=prec_inclusive,
            ignore_index=ignore_index,
            output_file=output_file,
            eval_size=eval_size,
            collect_device=collect_device,
            prefix=prefix)

    def measure(self, sample: dict) -> dict:
        record = super().measure(sample)
        gt_flag = sample.get('no_target')
        record['gt_no_target'] = (record['target_empty'] if gt_flag is None
                                  else bool(gt_flag))
        head = sample.get('pred_no_target')
        if head is None:  # no no-target head: the mask is the answer
            record['pred_no_target'] = [
                no_target_answer(empty) for empty in record['pred_empty']
            ]
        else:  # the head's answer holds at every threshold
            record['pred_no_target'] = [bool(head)] * len(self.thresholds)
        num = sample.get('num_targets')
        record['num_targets'] = None if num is None else int(num)
        score = sample.get('no_target_score')
        record['no_target_score'] = None if score is None else float(score)
        return record

    def key_names(self) -> List[str]:
        return ['gIoU', 'cIoU', 'N-acc', 'T-acc'] + [
            f'Pr@{t:g}' for t in self.prec_thresholds
        ] + ['gIoU_single', 'gIoU_multi']

    def sentence_scores(self, results: List[dict], index: int):
        """Per-sentence (IoU, I, U) arrays at the ``index``-th threshold,
        with ReLA's no-target rules applied to the prediction as given."""
        ious, inters, unions = [], [], []
        for r in results:
            inter, union = r['inter'][index], r['union'][index]
            pred_nt = r['pred_no_target'][index]
            if r['gt_no_target']:
                iou = 1.0 if pred_nt else 0.0
                inter = 0
                union = 0 if pred_nt else union
            else:
                if pred_nt:  # the mask given stays in U
                    inter = 0
                iou = inter / union if union > 0 else 0.0
            ious.append(iou)
            inters.append(inter)
            unions.append(union)
        return (np.array(ious, np.float64), np.array(inters, np.float64),
                np.array(unions, np.float64))

    def compute_metrics(self, results: List[dict]) -> Dict[str, float]:
        gt_nt = np.array([r['gt_no_target'] for r in results], bool)
        num_targets = np.array(
            [-1 if r['num_targets'] is None else r['num_targets']
             for r in results], np.int64)
        single, multi = num_targets == 1, num_targets >= 2
        metrics, all_ious = {}, []
        table = PrettyTable(field_names=['mask'] + self.key_names())
        for i, thr in enumerate(self.thresholds):
            ious, inters, unions = self.sentence_scores(results, i)
            all_ious.append(ious)
            pred_nt = np.array([r['pred_no_target'][i] for r in results],
                               bool)
            row = dict(gIoU=ious.mean() if len(ious) else None)
            row['cIoU'] = inters.sum() / unions.sum() \
                if unions.sum() > 0 else None
            row['N-acc'] = pred_nt[gt_nt].mean() if gt_nt.any() else None
            row['T-acc'] = (~pred_nt[~gt_nt]).mean() \
                if (~gt_nt).any() else None
            for t in self.prec_thresholds:
                hit = ious >= t if self.prec_inclusive else ious > t
                row[f'Pr@{t:g}'] = hit[~gt_nt].mean() \
                    if (~gt_nt).any() else None
            row['gIoU_single'] = ious[single].mean() if single.any() \
                else None
            row['gIoU_multi'] = ious[multi].mean() if multi.any() else None
            row = {
                k: None if v is None else round(100 * float(v), 2)
                for k, v in row.items()
            }
            rule = 'decode_head.threshold' if thr is None \
                else f'sigmoid > {thr:g}'
            keys = 'plain keys' if i == 0 else f'keys {self.suffix(i)}'
            table.add_row([f'{rule} ({keys})'] +
                          ['n/a' if v is None else v for v in row.values()])
            metrics.update({
                k + self.suffix(i): v
                for k, v in row.items() if v is not None
            })
        prec_rule = '>=' if self.prec_inclusive else '>'
        print_log(
            f'{len(results)} sentences ({self.resolution()}): '
            f'{int(gt_nt.sum())} no-target, '
            f'{int(single.sum())} single-target, {int(multi.sum())} '
            f'multi-target, {int((num_targets < 0).sum())} without '
            f'num_targets; Pr@t counts IoU {prec_rule} t over sentences '
            'with a target; n/a: no sentence of that kind\n'
            f'{table.get_string()}',
            logger='current')
        empty = sum(1 for r in results
                    if not r['gt_no_target'] and r['target'] == 0)
        if empty:
            print_log(
                f'{empty} sentences with a target have an empty '
                'ground-truth mask (all pixels ignored, or the no_target '
                'flag is missing); they score IoU 0 when nothing is '
                'predicted.',
                logger='current',
                level=logging.WARNING)
        if self.output_file:
            self.write_samples(results, np.stack(all_ious, axis=1))
        return metrics

    def sample_row(self, result: dict, ious: np.ndarray) -> dict:
        row = super().sample_row(result, ious)
        row['gt_no_target'] = result['gt_no_target']
        row['pred_no_target'] = result['pred_no_target'][0]
        row['num_targets'] = result['num_targets']
        row['no_target_score'] = result['no_target_score']
        return row
