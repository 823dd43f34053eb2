"""What a referring segmentor does around its network at prediction, as
plain functions: the PyTorch segmentor and the ONNX Runtime runner call
them, and the metrics read a prediction's mask at another threshold with
the same no-target rule."""
from typing import List, Optional, Tuple

import numpy as np
import torch
from torch import Tensor

from mmseg.utils import OptSampleList, SampleList


def text_inputs(batch_img_metas: List[dict],
                device: torch.device) -> Tuple[Tensor, Tensor]:
    """Stack the (B, L) token ids and token mask of the metainfo (set by
    ``TokenizeExpression``)."""
    if not batch_img_metas or 'token_ids' not in batch_img_metas[0]:
        raise KeyError(
            'Samples carry no tokenised expression: add '
            'TokenizeExpression to the pipeline and pack the sample '
            'with PackReferringInputs.')
    ids = torch.as_tensor(
        np.stack([m['token_ids'] for m in batch_img_metas]), device=device)
    mask = torch.as_tensor(
        np.stack([m['token_mask'] for m in batch_img_metas]), device=device)
    return ids, mask


def check_whole_mode(test_cfg: dict) -> None:
    """Whole-image inference only (sliding windows would cut the
    referent)."""
    if test_cfg.get('mode', 'whole') != 'whole':
        raise ValueError("A referring segmentor supports test_cfg mode "
                         "'whole' only.")


def no_target_answer(mask_empty: bool,
                     score: Optional[float] = None,
                     threshold: float = 0.5,
                     empty_mask_is_no_target: bool = True) -> bool:
    """The rule by which a prediction says its sentence names nothing.

    Args:
        mask_empty (bool): The predicted mask has no foreground pixel.
        score (float, optional): The no-target probability of a model with
            the no-target output; None for a model without it, whose empty
            mask is its answer.
        threshold (float): A score above it answers "no target".
        empty_mask_is_no_target (bool): With the output, an empty mask
            also answers "no target" (the head's
            ``empty_mask_is_no_target``).
    """
    if score is None:
        return mask_empty
    return score > threshold or (empty_mask_is_no_target and mask_empty)


def mask_with_answer(mask, no_target: Optional[bool]):
    """The mask (a tensor or an array) that goes with the answer: empty for
    "no target", whatever the probabilities (at any threshold)."""
    if not no_target:
        return mask
    return torch.zeros_like(mask) if isinstance(mask, Tensor) \
        else np.zeros_like(mask)


def postprocess_referring(segmentor,
                          logits: Tensor,
                          data_samples: OptSampleList = None,
                          no_target: Optional[Tensor] = None) -> SampleList:
    """mmseg's post-processing of a referring segmentor's logits plus the
    no-target answer.

    ``segmentor.postprocess_result`` removes the padding, undoes flips,
    resizes to the original image and thresholds the sigmoid at
    ``decode_head.threshold``. With no-target probabilities, each sample
    then gets ``no_target_score`` and ``pred_no_target`` (see
    :func:`no_target_answer`, with the decode head's
    ``no_target_threshold`` and ``empty_mask_is_no_target``); a no-target
    answer empties ``pred_sem_seg`` and keeps the probabilities in
    ``seg_logits``.

    Args:
        segmentor (BaseSegmentor): Gives ``postprocess_result`` and
            ``decode_head`` (its thresholds).
        logits (Tensor): (B, 1, H, W) mask logits at the padded input size.
        data_samples (list[SegDataSample], optional): The batch's samples.
        no_target (Tensor, optional): (B, ) no-target probabilities; None
            for a model without the no-target output.
    """
    results = segmentor.postprocess_result(logits, data_samples)
    if no_target is None:
        return results
    head = segmentor.decode_head
    for sample, score in zip(results, no_target.tolist()):
        mask = sample.pred_sem_seg.data
        answer = no_target_answer(
            not bool(mask.any()), score, head.no_target_threshold,
            head.empty_mask_is_no_target)
        sample.set_field(score, 'no_target_score')
        sample.set_field(answer, 'pred_no_target')
        sample.pred_sem_seg.data = mask_with_answer(mask, answer)
    return results
