"""Sigmoid focal loss on one-channel mask logits."""
import torch.nn as nn
from torch import Tensor
from torchvision.ops import sigmoid_focal_loss

from mmseg.registry import MODELS


@MODELS.register_module()
class BinaryFocalLoss(nn.Module):
    """Sigmoid focal loss (Lin et al.) averaged over labelled pixels.

    Args:
        alpha (float): Weight of the positive class. Defaults to 0.25.
        gamma (float): Focusing exponent. Defaults to 2.
        loss_weight (float): Multiplier. Defaults to 1.
        loss_name (str): Key in the loss dict. Defaults to 'loss_focal'.
    """

    def __init__(self,
                 alpha: float = 0.25,
                 gamma: float = 2.0,
                 loss_weight: float = 1.0,
                 loss_name: str = 'loss_focal') -> None:
        super().__init__()
        self.alpha = alpha
        self.gamma = gamma
        self.loss_weight = loss_weight
        self._loss_name = loss_name

    def forward(self,
                logits: Tensor,
                label: Tensor,
                ignore_index: int = 255,
                **kwargs) -> Tensor:
        """logits (B, 1, H, W), label (B, H, W) in {0, 1, ignore_index}."""
        logits = logits[:, 0]
        valid = label != ignore_index
        target = (label == 1).to(logits.dtype)
        loss = sigmoid_focal_loss(
            logits, target, self.alpha, self.gamma, reduction='none')
        return self.loss_weight * (loss * valid).sum() / valid.sum().clamp(
            min=1)

    @property
    def loss_name(self) -> str:
        return self._loss_name
