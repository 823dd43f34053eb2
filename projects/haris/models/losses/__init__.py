from .binary_dice_loss import BinaryDiceLoss
from .binary_focal_loss import BinaryFocalLoss

__all__ = ['BinaryDiceLoss', 'BinaryFocalLoss']
