"""oIoU, mIoU and Prec@X for referring segmentation."""
import json
import os
import tempfile
from typing import Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
from mmengine.evaluator import BaseMetric
from mmengine.logging import print_log
from prettytable import PrettyTable

from mmseg.registry import METRICS
from ..models.segmentors.referring_postprocess import mask_with_answer
from .nearest_resize import resize_nearest


# what a sentence's row of ``output_file`` says besides its IoUs
ROW_KEYS = ('ref_id', 'sent_id', 'sent_index', 'sample_idx', 'text',
            'img_path')


def iou_scores(inters: np.ndarray, unions: np.ndarray) -> np.ndarray:
    """Per-sample IoU; a sample whose prediction and target are both empty
    scores 1."""
    return np.where(unions > 0, inters / np.maximum(unions, 1), 1.0)


@METRICS.register_module()
class RefSegMetric(BaseMetric):
    """Referring-segmentation metrics, at the original image resolution or
    at a fixed size.

    - ``oIoU``: overall IoU, sum of intersections / sum of unions (LAVT's
      "oIoU").
    - ``mIoU``: mean of per-sentence IoUs (CRIS/ETRIS's "IoU").
    - ``Prec@t``: percentage of sentences with IoU >= t (or > t).

    The field binarises the sigmoid at different thresholds (CRIS/ETRIS at
    0.35, LAVT's two-class argmax at 0.5), so several thresholds can be
    scored in one pass: the first gives the plain keys, every further
    threshold ``x`` the same keys suffixed ``@x`` (``oIoU@0.35``,
    ``mIoU@0.35``, ``Prec@0.5@0.35``). Only intersection and union counts
    are kept per sentence, never masks or probabilities (and the sentence,
    its ids and image only when ``output_file`` asks for its row).

    A prediction of a model with the no-target output that answers "no
    target" (``pred_no_target``) has no mask at any threshold: the
    probabilities it keeps in ``seg_logits`` are not thresholded (the
    plain keys score ``pred_sem_seg`` as given, which that model emptied).

    ``eval_size`` scores at a fixed size instead: prediction and ground
    truth are resized by nearest neighbour (PIL's, as LAVT resizes its
    ground truth) before counting, so every sentence weighs the same number
    of pixels in oIoU. LAVT and ReLA report numbers at 480x480; CRIS, ETRIS
    and DETRIS at the original resolution (the default).

    Pixels labelled ``ignore_index`` are excluded. Evaluation is exact under
    distributed testing: mmengine collects every sample once.

    Args:
        thresholds (Sequence[float | None]): Thresholds on the sigmoid
            probability (``prob > x`` is foreground). None uses the model's
            own prediction (``pred_sem_seg``, i.e. ``decode_head.threshold``)
            and is allowed first only; a number reads the probabilities that
            mmseg stores in ``seg_logits`` for one-channel heads.
            Defaults to (None, ).
        threshold (float, optional): Shorthand for
            ``thresholds=(threshold, )``; give one of the two.
            Defaults to None.
        prec_thresholds (Sequence[float]): IoU thresholds of Prec@t.
            Defaults to (0.5, 0.6, 0.7, 0.8, 0.9).
        prec_inclusive (bool): Prec@t counts IoU >= t (True) or IoU > t.
            Defaults to True.
        ignore_index (int): Label excluded from scoring. Defaults to 255.
        output_file (str, optional): Write per-sentence results (ref id,
            sentence id and position in the ref, sentence, image, IoU at
            every threshold) as JSON lines here, in the dataset's order.
            Defaults to None.
        eval_size (int | tuple[int, int], optional): Score at this (h, w)
            (an int is square, e.g. 480 for LAVT's and ReLA's protocol).
            None scores at the original resolution. Defaults to None.
    """
    default_prefix = None

    def __init__(self,
                 thresholds: Sequence[Optional[float]] = (None, ),
                 threshold: Optional[float] = None,
                 prec_thresholds: Sequence[float] = (0.5, 0.6, 0.7, 0.8,
                                                     0.9),
                 prec_inclusive: bool = True,
                 ignore_index: int = 255,
                 output_file: Optional[str] = None,
                 eval_size: Union[int, Sequence[int], None] = None,
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        if threshold is not None:
            if tuple(thresholds) != (None, ):
                raise ValueError(
                    f'RefSegMetric got threshold={threshold} and thresholds='
                    f'{tuple(thresholds)}; give only thresholds, e.g. '
                    f'thresholds=({threshold}, 0.35).')
            thresholds = (threshold, )
        thresholds = tuple(thresholds)
        if not thresholds or None in thresholds[1:]:
            raise ValueError(
                f'RefSegMetric thresholds={thresholds}: give at least one, '
                'and None (the model\'s prediction) only first, e.g. '
                '(None, 0.35).')
        if len(set(thresholds)) != len(thresholds):
            raise ValueError(
                f'RefSegMetric thresholds={thresholds} repeat a value.')
        self.thresholds = thresholds
        self.prec_thresholds = tuple(prec_thresholds)
        self.prec_inclusive = prec_inclusive
        self.ignore_index = ignore_index
        self.output_file = output_file
        self.eval_size = self.check_eval_size(eval_size)

    @staticmethod
    def check_eval_size(
            eval_size: Union[int, Sequence[int], None]
    ) -> Optional[Tuple[int, int]]:
        """``eval_size`` as (h, w), or None."""
        if eval_size is None:
            return None
        size = (eval_size, eval_size) if isinstance(eval_size, int) \
            else eval_size
        if isinstance(size, str) or not isinstance(size, Sequence) or \
                len(size) != 2 or not all(
                    isinstance(n, int) and n > 0 for n in size):
            raise ValueError(
                f'eval_size={eval_size!r}: give a positive int (e.g. 480 '
                'for 480x480, as LAVT and ReLA score) or (h, w), or None '
                'for the original resolution.')
        return tuple(size)

    @property
    def threshold(self) -> Optional[float]:
        """The threshold of the plain (unsuffixed) keys."""
        return self.thresholds[0]

    def suffix(self, index: int) -> str:
        """Key suffix of the ``index``-th threshold ('' for the first)."""
        return '' if index == 0 else f'@{self.thresholds[index]:g}'

    def predictions(self, sample: dict) -> list:
        """One boolean (H, W) mask per threshold: ``pred_sem_seg`` for
        None, else the probabilities above the threshold, with the
        model's no-target answer (which holds at every threshold)."""
        preds = []
        for thr in self.thresholds:
            if thr is None:
                preds.append(sample['pred_sem_seg']['data'][0] > 0)
                continue
            if 'seg_logits' not in sample:
                raise KeyError(
                    f'RefSegMetric(thresholds={self.thresholds}) needs the '
                    'sigmoid probabilities in data_sample.seg_logits (mmseg '
                    'stores them for a one-channel decode head); this '
                    f'sample of {sample.get("img_path")} has none. Use '
                    'thresholds=(None, ) to score the model\'s prediction.')
            preds.append(
                mask_with_answer(sample['seg_logits']['data'][0] > thr,
                                 sample.get('pred_no_target')))
        return preds

    def process(self, data_batch: dict, data_samples: Sequence[dict]) -> None:
        for sample in data_samples:
            self.results.append(self.measure(sample))

    def measure(self, sample: dict) -> dict:
        """The record kept for one sentence: intersection and union at
        every threshold and the target's area (at ``eval_size`` if set),
        whether the prediction at each threshold and the target are empty
        (at the original resolution, as the model gave them); with
        ``output_file`` also the sentence, its ids and image
        (``ROW_KEYS``) for its row. Never masks or probabilities."""
        preds = self.predictions(sample)
        gt = sample['gt_sem_seg']['data'][0].to(preds[0].device)
        if preds[0].shape != gt.shape:
            raise ValueError(
                f'Prediction {tuple(preds[0].shape)} and mask '
                f'{tuple(gt.shape)} differ for {sample.get("img_path")}:'
                ' load masks after Resize in the test pipeline.')
        valid = gt != self.ignore_index
        target = (gt == 1) & valid
        pred_empty = [not bool((pred & valid).any()) for pred in preds]
        target_empty = not bool(target.any())
        if self.eval_size is not None:
            preds = [resize_nearest(p, self.eval_size) for p in preds]
            gt = resize_nearest(gt, self.eval_size)
            valid = gt != self.ignore_index
            target = (gt == 1) & valid
        inters, unions = [], []
        for pred in preds:
            pred = pred & valid
            inters.append(int((pred & target).sum()))
            unions.append(int((pred | target).sum()))
        record = dict(
            inter=inters,
            union=unions,
            target=int(target.sum()),
            pred_empty=pred_empty,
            target_empty=target_empty)
        if self.output_file:
            # only the per-sentence rows need them
            record.update({key: sample.get(key) for key in ROW_KEYS})
        return record

    def compute_metrics(self, results: List[dict]) -> Dict[str, float]:
        # (num_sentences, num_thresholds)
        shape = (len(results), len(self.thresholds))
        inters = np.array([r['inter'] for r in results],
                          np.float64).reshape(shape)
        unions = np.array([r['union'] for r in results],
                          np.float64).reshape(shape)
        ious = iou_scores(inters, unions)
        metrics = {}
        table = PrettyTable(field_names=['mask'] + self.key_names())
        for i, thr in enumerate(self.thresholds):
            row = dict(
                oIoU=100 * inters[:, i].sum() / max(unions[:, i].sum(), 1),
                mIoU=100 * ious[:, i].mean())
            for t in self.prec_thresholds:
                hit = ious[:, i] >= t if self.prec_inclusive \
                    else ious[:, i] > t
                row[f'Prec@{t:g}'] = 100 * hit.mean()
            row = {k: round(float(v), 2) for k, v in row.items()}
            rule = 'decode_head.threshold' if thr is None \
                else f'sigmoid > {thr:g}'
            keys = 'plain keys' if i == 0 else f'keys {self.suffix(i)}'
            table.add_row([f'{rule} ({keys})'] + list(row.values()))
            metrics.update({k + self.suffix(i): v for k, v in row.items()})
        prec_rule = '>=' if self.prec_inclusive else '>'
        print_log(
            f'{len(results)} sentences, {self.resolution()}; Prec@t counts '
            f'IoU {prec_rule} t\n'
            f'{table.get_string()}',
            logger='current')
        if self.output_file:
            self.write_samples(results, ious)
        return metrics

    def resolution(self) -> str:
        """Where the masks are scored, for the log."""
        if self.eval_size is None:
            return 'scored at the original resolution'
        h, w = self.eval_size
        return f'scored at {h}x{w} (nearest neighbour)'

    def key_names(self) -> List[str]:
        """Metric names of one threshold, without suffix."""
        return ['oIoU', 'mIoU'] + [f'Prec@{t:g}' for t in self.prec_thresholds]

    def sample_row(self, result: dict, ious: np.ndarray) -> dict:
        """One sentence's line of ``output_file``."""
        row = {k: result[k] for k in ('ref_id', 'sent_id', 'sent_index',
                                      'text', 'img_path')}
        for i in range(len(self.thresholds)):
            row['iou' + self.suffix(i)] = round(float(ious[i]), 4)
        return row

    def write_samples(self, results: List[dict], ious: np.ndarray) -> None:
        """Per-sentence results (``ious``: (num_sentences,
        num_thresholds)) as JSON lines, written atomically, in the
        dataset's order (``sample_idx``) whatever the number of processes
        that collected them."""
        order = range(len(results))
        if all(r.get('sample_idx') is not None for r in results):
            order = sorted(order, key=lambda i: results[i]['sample_idx'])
        folder = os.path.dirname(os.path.abspath(self.output_file))
        os.makedirs(folder, exist_ok=True)
        with tempfile.NamedTemporaryFile(
                'w', dir=folder, delete=False, suffix='.tmp') as f:
            for i in order:
                row = self.sample_row(results[i], ious[i])
                f.write(json.dumps(row) + '\n')
        os.replace(f.name, self.output_file)
