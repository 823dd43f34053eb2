"""oIoU, mIoU and Prec@X for referring segmentation."""
import json
import os
import tempfile
from typing import Dict, List, Optional, Sequence

import numpy as np
from mmengine.evaluator import BaseMetric
from mmengine.logging import print_log
from prettytable import PrettyTable

from mmseg.registry import METRICS


def iou_scores(inters: np.ndarray, unions: np.ndarray) -> np.ndarray:
    """Per-sample IoU; a sample whose prediction and target are both empty
    scores 1."""
    return np.where(unions > 0, inters / np.maximum(unions, 1), 1.0)


@METRICS.register_module()
class RefSegMetric(BaseMetric):
    """Referring-segmentation metrics at the original image resolution.

    - ``oIoU``: overall IoU, sum of intersections / sum of unions (LAVT's
      "oIoU").
    - ``mIoU``: mean of per-sentence IoUs (CRIS/ETRIS's "IoU").
    - ``Prec@t``: percentage of sentences with IoU >= t (or > t).

    Pixels labelled ``ignore_index`` are excluded. Evaluation is exact under
    distributed testing: mmengine collects every sample once.

    Args:
        threshold (float, optional): Threshold on the sigmoid probability
            (``prob > threshold`` is foreground). None uses the model's
            prediction (``decode_head.threshold``). CRIS/ETRIS use 0.35.
            Defaults to None.
        prec_thresholds (Sequence[float]): IoU thresholds of Prec@t.
            Defaults to (0.5, 0.6, 0.7, 0.8, 0.9).
        prec_inclusive (bool): Prec@t counts IoU >= t (True) or IoU > t.
            Defaults to True.
        ignore_index (int): Label excluded from scoring. Defaults to 255.
        output_file (str, optional): Write per-sentence results (ref id,
            sentence, image, IoU) as JSON lines here. Defaults to None.
    """
    default_prefix = None

    def __init__(self,
                 threshold: Optional[float] = None,
                 prec_thresholds: Sequence[float] = (0.5, 0.6, 0.7, 0.8,
                                                     0.9),
                 prec_inclusive: bool = True,
                 ignore_index: int = 255,
                 output_file: Optional[str] = None,
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        self.threshold = threshold
        self.prec_thresholds = tuple(prec_thresholds)
        self.prec_inclusive = prec_inclusive
        self.ignore_index = ignore_index
        self.output_file = output_file

    def process(self, data_batch: dict, data_samples: Sequence[dict]) -> None:
        for sample in data_samples:
            if self.threshold is None:
                pred = sample['pred_sem_seg']['data'][0] > 0
            else:
                prob = sample['seg_logits']['data'][0]
                pred = prob > self.threshold
            gt = sample['gt_sem_seg']['data'][0].to(pred.device)
            if pred.shape != gt.shape:
                raise ValueError(
                    f'Prediction {tuple(pred.shape)} and mask '
                    f'{tuple(gt.shape)} differ for {sample.get("img_path")}:'
                    ' load masks after Resize in the test pipeline.')
            valid = gt != self.ignore_index
            target = (gt == 1) & valid
            pred = pred & valid
            self.results.append(
                dict(
                    inter=int((pred & target).sum()),
                    union=int((pred | target).sum()),
                    ref_id=sample.get('ref_id'),
                    sent_id=sample.get('sent_id'),
                    text=sample.get('text'),
                    img_path=sample.get('img_path')))

    def compute_metrics(self, results: List[dict]) -> Dict[str, float]:
        inters = np.array([r['inter'] for r in results], np.float64)
        unions = np.array([r['union'] for r in results], np.float64)
        ious = iou_scores(inters, unions)
        metrics = dict(
            oIoU=100 * inters.sum() / max(unions.sum(), 1),
            mIoU=100 * ious.mean())
        for t in self.prec_thresholds:
            hit = ious >= t if self.prec_inclusive else ious > t
            metrics[f'Prec@{t:g}'] = 100 * hit.mean()
        metrics = {k: round(float(v), 2) for k, v in metrics.items()}
        table = PrettyTable(field_names=list(metrics))
        table.add_row(list(metrics.values()))
        mask_rule = 'decode_head.threshold' if self.threshold is None \
            else f'sigmoid > {self.threshold:g}'
        prec_rule = '>=' if self.prec_inclusive else '>'
        print_log(
            f'{len(results)} sentences; mask = {mask_rule}; Prec@t counts '
            f'IoU {prec_rule} t\n{table.get_string()}',
            logger='current')
        if self.output_file:
            self.write_samples(results, ious)
        return metrics

    def write_samples(self, results: List[dict], ious: np.ndarray) -> None:
        """Per-sentence results as JSON lines, written atomically."""
        folder = os.path.dirname(os.path.abspath(self.output_file))
        os.makedirs(folder, exist_ok=True)
        with tempfile.NamedTemporaryFile(
                'w', dir=folder, delete=False, suffix='.tmp') as f:
            for r, iou in zip(results, ious):
                row = {k: r[k] for k in ('ref_id', 'sent_id', 'text',
                                         'img_path')}
                row['iou'] = round(float(iou), 4)
                f.write(json.dumps(row) + '\n')
        os.replace(f.name, self.output_file)
