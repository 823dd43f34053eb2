"""Dice loss on one-channel mask logits."""
import torch.nn as nn
from torch import Tensor

from mmseg.registry import MODELS


@MODELS.register_module()
class BinaryDiceLoss(nn.Module):
    """1 - Dice of the sigmoid mask and the target, per sample over its
    labelled pixels, averaged over the batch.

    Args:
        smooth (float): Added to numerator and denominator. Defaults to 1.
        loss_weight (float): Multiplier. Defaults to 1.
        loss_name (str): Key in the loss dict. Defaults to 'loss_dice'.
    """

    def __init__(self,
                 smooth: float = 1.0,
                 loss_weight: float = 1.0,
                 loss_name: str = 'loss_dice') -> None:
        super().__init__()
        self.smooth = smooth
        self.loss_weight = loss_weight
        self._loss_name = loss_name

    def forward(self,
                logits: Tensor,
                label: Tensor,
                ignore_index: int = 255,
                **kwargs) -> Tensor:
        """logits (B, 1, H, W), label (B, H, W) in {0, 1, ignore_index}."""
        valid = (label != ignore_index).flatten(1).to(logits.dtype)
        prob = logits[:, 0].sigmoid().flatten(1) * valid  # (B, HW)
        target = (label == 1).flatten(1).to(logits.dtype) * valid
        inter = (prob * target).sum(1)
        dice = (2 * inter + self.smooth) / (
            prob.sum(1) + target.sum(1) + self.smooth)
        return self.loss_weight * (1 - dice).mean()

    @property
    def loss_name(self) -> str:
        return self._loss_name
